"""The model store when its files go wrong, and the window on top of it.

Already covered elsewhere (not repeated here):
* a truncated .keras / a .keras with 5 outputs refused by ``load_keras_model`` and the store:
  tests/core/test_store.py::test_import_keras_checks_shapes_and_truncation; a non-zip .keras through
  Model > Load model…: tests/ui/test_models.py::test_load_model_refuses_a_bad_file
* meta.json missing / malformed / naming a missing file or ``../``: tests/core/test_store.py::
  test_broken_entries_are_reported_and_skipped
* corrupt, truncated and wrong-input .tflite refused by ``Predictor``: tests/core/test_inference.py
* read-only store folder (real chmod as a normal user, simulated EROFS as root) and
  ENOSPC while exporting: tests/core/test_store_failures.py,
  tests/core/test_store.py::test_failed_save_leaves_no_entry
* SIGKILL in the middle of a save:
  tests/core/test_store_failures.py::test_sigkill_in_the_middle_of_a_save_keeps_the_store_intact
* two ModelStores sharing a home or saving under one name, a full disk while saving, the
  checksums of saved and shipped models: tests/core/test_store_failures.py
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.core.store import DEFAULT_MODEL, ModelStore
from tests import ui_helpers
from tests.conftest import ROOT, sha256
from tests.ui_helpers import draw_digit, needs_default_model

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

pytestmark = needs_default_model


def install_crashing_litert(bad: bytes) -> None:
    """LiteRT that aborts the process when handed ``bad``."""
    from app.core import inference

    real = inference._interpreter_class()

    def interpreter(*args: object, model_content: bytes | None = None, **kw: object) -> object:
        if model_content == bad:
            os.abort()
        return real(*args, model_content=model_content, **kw)

    inference._interpreter_class = lambda: interpreter  # type: ignore[assignment]


def _user_entries(home: Path) -> list[str]:
    models = home / "models"
    return sorted(p.name for p in models.iterdir()) if models.is_dir() else []


def _no_leftovers(home: Path) -> bool:
    return not [p for p in _user_entries(home) if p.startswith(".tmp-")]


def _predicts_a_seven(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.pad.clear()
    draw_digit(window.pad, "7")
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "7", timeout=3000)


@pytest.fixture(scope="module")
def wrong_shape_tflites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two valid .tflite files that are not digit models: 32x32 input, and 5 outputs."""
    from app.core.export import export_tflite
    from app.core.tf import import_keras

    keras = import_keras()
    d = tmp_path_factory.mktemp("wrong-shapes")
    out = {}
    for name, shape, n in (("wrong_input", (32, 32), 10), ("wrong_output", (28, 28), 5)):
        inp = keras.Input(shape)
        o = keras.layers.Dense(n, activation="softmax")(keras.layers.Flatten()(inp))
        out[name] = export_tflite(keras.Model(inp, o), d / f"{name}.tflite")
    return out


def _corrupt(entry: Path, kind: str, wrong: dict[str, Path]) -> str:
    """Break ``entry``'s model.tflite; return words the message must contain."""
    tfl = entry / "model.tflite"
    data = bytearray(tfl.read_bytes())
    if kind == "garbage_no_checksum":
        meta = json.loads((entry / "meta.json").read_text())
        meta.pop("sha256")
        (entry / "meta.json").write_text(json.dumps(meta))
        tfl.write_bytes(os.urandom(5000))
        return "not a valid .tflite"
    if kind == "truncated":
        tfl.write_bytes(bytes(data[: len(data) // 3]))
        return "corrupt"
    if kind == "weights_changed":  # a valid flatbuffer with other numbers: only the checksum knows
        data[-20000:-19000] = bytes(1000)
        tfl.write_bytes(bytes(data))
        return "corrupt"
    if kind in wrong:  # a valid model of the wrong shape (saved with its own checksum)
        shutil.copy(wrong[kind], tfl)
        meta = json.loads((entry / "meta.json").read_text())
        meta["sha256"]["tflite"] = sha256(tfl)
        (entry / "meta.json").write_text(json.dumps(meta))
        return "not 28x28" if kind == "wrong_input" else "10 digit scores"
    raise AssertionError(kind)


CORRUPTIONS = ["garbage_no_checksum", "truncated", "weights_changed", "wrong_input", "wrong_output"]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupt_active_tflite_at_start_up_falls_back_to_the_default(  # type: ignore[no-untyped-def]
        qtbot, digitpad_home: Path, shipped_copy, wrong_shape_tflites, kind: str) -> None:
    from app.ui import MainWindow

    entry = shipped_copy("mine", activate=True)
    words = _corrupt(entry, kind, wrong_shape_tflites)
    before = {p.name: p.read_bytes() for p in entry.iterdir()}
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    assert w.models.current_name() == DEFAULT_MODEL
    assert w.last_error is not None and "mine" in w.last_error and words in w.last_error, w.last_error
    assert "Using 'default' instead" in w.last_error
    assert w.message_box is not None and w.message_box.isVisible()
    assert ModelStore().active_name() == DEFAULT_MODEL  # the next start does not fail again
    assert {p.name: p.read_bytes() for p in entry.iterdir()} == before  # nothing deleted or "repaired"
    _predicts_a_seven(w, qtbot)
    w.close()


@pytest.mark.parametrize("previous", ["default", "alpha"])
@pytest.mark.parametrize("kind", ["truncated", "weights_changed", "wrong_output"])
def test_switching_to_a_corrupt_model_keeps_the_previous_one(  # type: ignore[no-untyped-def]
        window, qtbot, shipped_copy, wrong_shape_tflites, previous: str, kind: str) -> None:
    shipped_copy("alpha")
    broken = shipped_copy("broken")
    window.models.store_changed()  # the window's store sees the new entries
    if previous != DEFAULT_MODEL:
        assert window.models.use(previous)
    _corrupt(broken, kind, wrong_shape_tflites)
    dlg = window.models.open_manage_dialog()
    qtbot.waitExposed(dlg)
    dlg.select("broken")
    qtbot.mouseClick(dlg.use_button, Qt.MouseButton.LeftButton)
    assert window.models.current_name() == previous
    assert window.last_error is not None and "broken" in window.last_error
    assert f"Using {previous!r} instead" in window.last_error
    assert ModelStore().active_name() == previous
    assert dlg.active_in_table() == previous
    _predicts_a_seven(window, qtbot)


def test_a_tflite_that_crashes_litert_is_refused_by_its_checksum(tmp_path: Path) -> None:
    """In a fresh process: the mutated file would kill it (SIGSEGV) if LiteRT ever ran it."""
    home = tmp_path / "home"
    code = r"""
import json, sys
from pathlib import Path
from tests.conftest import copy_shipped, corrupt
from tests.ui.test_store_files import install_crashing_litert
home = Path(sys.argv[1])
entry = copy_shipped(home, "mine", activate=True)
bad = corrupt((entry / "model.tflite").read_bytes())
(entry / "model.tflite").write_bytes(bad)
install_crashing_litert(bad)
from app.ui.app import create_application
app = create_application([])
from app.ui import MainWindow
w = MainWindow(); w.show(); app.processEvents()
print(json.dumps({"model": w.models.current_name(), "error": w.last_error}))
w.close()
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DIGITPAD_HOME=str(home))
    run = subprocess.run([sys.executable, "-c", code, str(home)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert res["model"] == DEFAULT_MODEL
    assert "mine/model.tflite" in res["error"] and "corrupt" in res["error"]


BROKEN_META: dict[str, Callable[[Path], object]] = {
    "missing": lambda e: (e / "meta.json").unlink(),
    "malformed": lambda e: (e / "meta.json").write_text("{not json"),
    "not_an_object": lambda e: (e / "meta.json").write_text("[1, 2, 3]"),
    "deeply_nested": lambda e: (e / "meta.json").write_text("[" * 100_000 + "]" * 100_000),
    "not_utf8": lambda e: (e / "meta.json").write_bytes(b"\xff\xfe{\x00"),
    "a_directory": lambda e: _replace_by_a_directory(e / "meta.json"),
    "names_a_missing_file": lambda e: _edit_files(e, {"tflite": "gone.tflite", "keras": "model.keras"}),
    "names_an_absolute_path": lambda e: _edit_files(e, {"tflite": "/etc/passwd", "keras": "model.keras"}),
    "names_a_null_byte": lambda e: _edit_files(e, {"tflite": "model.tflite\x00.png", "keras": "model.keras"}),
    "names_a_number": lambda e: _edit_files(e, {"tflite": 42, "keras": "model.keras"}),
}


def _replace_by_a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _edit_files(entry: Path, files: object) -> None:
    meta = json.loads((entry / "meta.json").read_text())
    meta["files"] = files
    (entry / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("kind", list(BROKEN_META))
def test_broken_metadata_of_the_active_model(qtbot, digitpad_home: Path, shipped_copy,  # type: ignore[no-untyped-def]
                                             capsys: pytest.CaptureFixture[str], kind: str) -> None:
    from app.cli import main
    from app.ui import MainWindow

    shipped_copy("alpha")
    entry = shipped_copy("mine", activate=True)
    BROKEN_META[kind](entry)
    store = ModelStore()
    assert "mine" not in store and "alpha" in store
    assert any(p.startswith("mine:") for p in store.problems), store.problems
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    assert w.models.current_name() == DEFAULT_MODEL
    assert "mine" in w.statusBar().currentMessage()  # "Some models could not be read: mine: …"
    assert (entry / "model.tflite").is_file()  # nothing deleted: repairing meta.json brings it back
    _predicts_a_seven(w, qtbot)
    w.close()
    rc, out, err = main(["models"]), *capsys.readouterr()
    assert rc == 0 and "alpha" in out
    assert any(line.startswith("digitpad: warning: mine:") for line in err.splitlines())
    assert "Traceback" not in err


def test_corrupt_store_settings_file(qtbot, digitpad_home: Path, shipped_copy) -> None:  # type: ignore[no-untyped-def]
    from app.ui import MainWindow

    shipped_copy("alpha", activate=True)
    for text in ("{oops", "[" * 100_000, '"alpha"', '{"active_model": 7}'):
        (digitpad_home / "store.json").write_text(text)
        assert ModelStore().active_name() == DEFAULT_MODEL
        w = MainWindow()
        qtbot.addWidget(w)
        assert w.models.current_name() == DEFAULT_MODEL
        w.close()
    assert ModelStore().names() == [DEFAULT_MODEL, "alpha"]


# --------------------------------------------------------------------------- full disk, read-only


SAVE_FAILURES = {  # (what fails, errno, its text, the message: a read-only store is found before training)
    "read_only": ("mkdir", errno.EROFS, "Read-only file system", "Models cannot be saved in"),
    "disk_full": ("mkstemp", errno.ENOSPC, "No space left on device", "Could not save the model"),
}


@pytest.mark.parametrize("kind", list(SAVE_FAILURES))
def test_window_training_whose_save_fails(window, qtbot, tiny_result, monkeypatch,  # type: ignore[no-untyped-def]
                                          digitpad_home: Path, kind: str) -> None:
    """Training succeeds (the session's tiny result stands in for it) but the store cannot be
    written: a message, the previous model stays, nothing half-saved."""
    import app.core.safeio as store_mod

    where, code, text, message = SAVE_FAILURES[kind]

    def train(*a, **k):  # type: ignore[no-untyped-def]
        if where == "mkdir":  # a read-only store is found before training, not after it
            raise AssertionError("trained although nothing could be saved")
        return tiny_result

    monkeypatch.setattr("app.core.training.train", train)
    if where == "mkdir":
        real_mkdir = Path.mkdir

        def mkdir(self, *a, **k):  # type: ignore[no-untyped-def]
            if self.name.startswith(".tmp-"):
                raise OSError(code, text)
            return real_mkdir(self, *a, **k)

        monkeypatch.setattr(Path, "mkdir", mkdir)
    else:
        monkeypatch.setattr(store_mod.tempfile, "mkstemp",
                            lambda *a, **k: (_ for _ in ()).throw(OSError(code, text)))
    before = window.models.current_name()
    with qtbot.waitSignal(window.training.finished, timeout=120_000) as blocker:
        qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [None]
    assert window.last_error is not None and "Training failed" in window.last_error
    assert message in window.last_error and text in window.last_error
    assert window.models.current_name() == before
    assert f"Still using {before!r}" in window.train_status.text()
    assert _user_entries(digitpad_home) == []
    assert window.train_button.isEnabled()
    _predicts_a_seven(window, qtbot)


def test_train_on_my_drawings_finds_a_read_only_store_before_fine_tuning(  # type: ignore[no-untyped-def]
        window, qtbot, monkeypatch, digitpad_home: Path) -> None:
    from app.core.samples import SampleStore

    samples = SampleStore(digitpad_home)
    for d in range(10):
        samples.add(np.full((28, 28), 20 * d, np.uint8), d)
    real_mkdir = Path.mkdir

    def mkdir(self, *a, **k):  # type: ignore[no-untyped-def]  # (root ignores chmod)
        if self.name.startswith(".tmp-"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(self, *a, **k)

    def never(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("fine-tuned although nothing could be saved")

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr("app.core.finetune.fine_tune", never)
    with qtbot.waitSignal(window.learning.finetune_finished, timeout=120_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_T,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert blocker.args == [None]
    assert window.last_error is not None and "Models cannot be saved in" in window.last_error
    assert "Read-only file system" in window.last_error and "fine-tuned although" not in window.last_error
    assert window.models.current_name() == DEFAULT_MODEL
    assert _user_entries(digitpad_home) == []
    _predicts_a_seven(window, qtbot)


def test_choosing_a_model_when_the_settings_cannot_be_written(window, qtbot, shipped_copy,  # type: ignore[no-untyped-def]
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import app.core.safeio as store_mod

    shipped_copy("alpha")
    window.models.store_changed()
    monkeypatch.setattr(store_mod.tempfile, "mkstemp",
                        lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system")))
    assert not window.models.use("alpha")
    assert window.last_error is not None and "Read-only file system" in window.last_error
    assert window.models.current_name() == DEFAULT_MODEL
    _predicts_a_seven(window, qtbot)


# --------------------------------------------------------------------------- two instances


def test_two_windows_share_a_store_and_one_deletes_the_others_model(qtbot, digitpad_home: Path,  # type: ignore[no-untyped-def]
                                                                    shipped_copy) -> None:
    from app.ui import MainWindow

    shipped_copy("alpha", activate=True)
    a, b = MainWindow(), MainWindow()
    for w in (a, b):
        qtbot.addWidget(w)
        w.confirm = lambda title, text: True  # type: ignore[method-assign]
        w.show()
    assert a.models.current_name() == b.models.current_name() == "alpha"
    # B deletes alpha with its Manage models dialog (real buttons)
    dlg = b.models.open_manage_dialog()
    qtbot.waitExposed(dlg)
    dlg.select("alpha")
    qtbot.mouseClick(dlg.delete_button, Qt.MouseButton.LeftButton)
    assert b.models.current_name() == DEFAULT_MODEL
    dlg.close()
    # A still predicts with what it has in memory; evaluating tells it the files are gone
    _predicts_a_seven(a, qtbot)
    with qtbot.waitSignal(a.models.evaluation_finished, timeout=60_000) as blocker:
        a.models.evaluate()
    assert blocker.args == [None]
    assert a.last_error is not None and "alpha/model.tflite" in a.last_error
    # A refreshes (opening Manage models does): it falls back cleanly, with a message
    dlg = a.models.open_manage_dialog()
    qtbot.waitExposed(dlg)
    assert a.models.current_name() == DEFAULT_MODEL
    assert "'alpha' is no longer in the store" in a.statusBar().currentMessage()
    assert "alpha" not in dlg.names() and dlg.active_in_table() == DEFAULT_MODEL
    _predicts_a_seven(a, qtbot)
    dlg.close()


# --------------------------------------------------------------------------- importing bad .keras files


@pytest.fixture(scope="module")
def bad_keras_files(saved_tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from app.core.tf import import_keras

    keras = import_keras()
    d = tmp_path_factory.mktemp("bad-keras")
    good = (saved_tiny_dir / "model.keras").read_bytes()
    (d / "truncated.keras").write_bytes(good[: len(good) // 2])
    (d / "not a zip.keras").write_bytes(b"PK\x03\x04 and then nothing sensible")
    (d / "empty.keras").write_bytes(b"")
    inp = keras.Input((28, 28))
    keras.Model(inp, keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(inp))).save(
        d / "five outputs.keras")
    inp = keras.Input((32, 32))
    keras.Model(inp, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inp))).save(
        d / "wrong input.keras")
    return {p.stem: p for p in d.iterdir()}


@pytest.mark.parametrize(("name", "words"), [
    ("truncated", "not a Keras model file"), ("not a zip", "not a Keras model file"),
    ("empty", "not a Keras model file"), ("five outputs", "not 10 digit scores"),
    ("wrong input", "not 28x28 images"),
])
def test_importing_a_bad_keras_file(bad_keras_files: dict[str, Path], qtbot, digitpad_home: Path,  # type: ignore[no-untyped-def]
                                    capsys: pytest.CaptureFixture[str], name: str, words: str) -> None:
    from app.cli import main
    from app.ui import MainWindow

    path = bad_keras_files[name]
    assert main(["models", "import", str(path), "--activate"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("digitpad: error:")]
    assert len(lines) == 1 and path.name in lines[0] and words in lines[0] and "Traceback" not in err
    w = MainWindow()
    qtbot.addWidget(w)
    w.ask_keras_path = lambda: str(path)  # type: ignore[method-assign]
    with qtbot.waitSignal(w.models.import_finished, timeout=120_000) as blocker:
        w.load_action.trigger()  # Model > Load model…
    assert blocker.args == [None]
    assert w.last_error is not None and path.name in w.last_error and words in w.last_error
    assert w.models.current_name() == DEFAULT_MODEL == ModelStore().active_name()
    assert _user_entries(digitpad_home) == []
    assert w.train_button.isEnabled()
    w.close()
