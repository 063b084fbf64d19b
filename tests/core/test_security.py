"""Nothing from a user's file is ever executed: no unpickling, Keras in safe mode, and the
file names in model metadata stay inside the model's folder.

Already covered elsewhere (not repeated here):
* an .npz with an object array refused by ``load_mnist``: tests/core/test_data.py::
  test_object_array_is_refused_not_unpickled
* a Lambda layer refused: tests/core/test_store.py::test_lambda_layer_is_refused (here: proven not run)
* ``../`` in metadata refused: tests/core/test_store.py::test_broken_entries_are_reported_and_skipped
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.core.data import load_mnist
from app.core.errors import DatasetError, ModelError
from app.core.store import ModelStore, _confined, load_keras_model
from tests.conftest import ROOT, copy_shipped

APP = ROOT / "app"


# --------------------------------------------------------------------------- pickles


class _Payload:
    """Unpickling this creates the marker directory: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mkdir, (self.marker,))


@pytest.fixture
def evil_npz(tmp_path: Path) -> tuple[Path, Path]:
    """A keras-layout .npz whose y_train is an object array carrying a pickle payload."""
    marker = tmp_path / "PWNED-by-pickle"
    path = tmp_path / "evil.npz"
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    np.savez(path, x_train=np.zeros((10, 28, 28), np.uint8), y_train=payload,
             x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.zeros(10, np.uint8))
    # the payload is live: loading it the unsafe way would run it
    with np.load(path, allow_pickle=True) as npz:
        npz["y_train"]
    assert marker.is_dir()
    marker.rmdir()
    return path, marker


def test_a_pickle_in_an_npz_is_never_run(evil_npz: tuple[Path, Path], digitpad_home: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path, marker = evil_npz
    with pytest.raises(DatasetError, match="refuses to unpickle"):
        load_mnist(path)
    for argv in (["train", "--arch", "mlp", "--epochs", "1", "--data", str(path)],
                 ["evaluate", "--data", str(path)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "refuses to unpickle" in err and "Traceback" not in err
    assert not marker.exists()


def test_a_pickle_renamed_npz_is_never_run(tmp_path: Path) -> None:
    import pickle

    marker = tmp_path / "PWNED"
    path = tmp_path / "mnist.npz"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(DatasetError, match=r"mnist\.npz"):
        load_mnist(path)
    assert not marker.exists()


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _keyword_is(call: ast.Call, name: str, value: object) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value
               for k in call.keywords)


def test_the_app_never_unpickles_and_loads_keras_only_in_safe_mode() -> None:
    """A grep with a parser: every np.load (and read_array) says allow_pickle=False, every Keras
    load_model says safe_mode=True, and nothing unpickles, unmarshals, evals or turns off Keras' safe mode."""
    forbidden_calls = {"pickle.load", "pickle.loads", "pickle.Unpickler", "cPickle.load", "marshal.load",
                       "marshal.loads", "shelve.open", "dill.load", "dill.loads", "joblib.load",
                       "torch.load", "yaml.load", "yaml.unsafe_load", "eval", "exec",
                       "keras.config.enable_unsafe_deserialization", "enable_unsafe_deserialization"}
    problems: list[str] = []
    np_loads = keras_loads = 0
    for path in sorted(APP.rglob("*.py")):
        rel = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("pickle", "marshal", "shelve", "dill"):
                problems.append(f"{rel}:{node.lineno}: from {node.module} import …")
        for call in _calls(tree):
            name = _dotted(call.func)
            where = f"{rel}:{call.lineno}: {name}(…)"
            last = name.split(".")[-1]
            if name in forbidden_calls or last in ("Unpickler", "enable_unsafe_deserialization"):
                problems.append(where)
            if name in ("np.load", "numpy.load") or name.endswith("read_array"):
                np_loads += 1
                if not _keyword_is(call, "allow_pickle", False):
                    problems.append(where + " without allow_pickle=False")
            if name.endswith("load_model") and name.startswith(("keras", "tf.keras", "models")):
                keras_loads += 1
                if not _keyword_is(call, "safe_mode", True):
                    problems.append(where + " without safe_mode=True")
    assert problems == []
    assert np_loads >= 1 and keras_loads >= 1  # the scan does see the real calls


def test_the_only_unpickler_is_the_restricted_one_in_tools() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import convert_mnist
    finally:
        sys.path.remove(str(ROOT / "tools"))
    import io
    import pickle

    data = pickle.dumps(_Payload(Path("/nonexistent/never")))
    with pytest.raises(pickle.UnpicklingError, match="only NumPy arrays"):
        convert_mnist.NumpyOnlyUnpickler(io.BytesIO(data)).load()
    arr = np.arange(6).reshape(2, 3)
    assert np.array_equal(convert_mnist.NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(arr))).load(), arr)


# --------------------------------------------------------------------------- Keras safe mode


@pytest.fixture(scope="module")
def evil_keras(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """.keras files that would run code when loaded unsafely: a Lambda layer, and a config
    naming a function outside Keras (``os.system``) as a layer."""
    from app.core.tf import import_keras

    keras = import_keras()
    d = tmp_path_factory.mktemp("evil-keras")
    marker = d / "PWNED-by-lambda"
    fn = eval(f"lambda t: (__import__('pathlib').Path({str(marker)!r}).touch(), t)[1]")
    inp = keras.Input((28, 28))
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(keras.layers.Lambda(fn)(inp)))
    keras.Model(inp, out).save(d / "lambda.keras")
    marker.unlink()  # building the model ran it once
    keras.models.load_model(d / "lambda.keras", safe_mode=False, compile=False)
    assert marker.exists(), "the Lambda payload must be live (it runs when loaded unsafely)"
    marker.unlink()

    inp = keras.Input((28, 28))
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inp))
    keras.Model(inp, out).save(d / "plain.keras")
    with zipfile.ZipFile(d / "plain.keras") as z:
        files = {n: z.read(n) for n in z.namelist()}
    cfg = json.loads(files["config.json"])
    for layer in cfg["config"]["layers"]:
        if layer["class_name"] == "Flatten":
            layer.update(module="os", class_name="system", registered_name=None,
                         config=f"touch {marker}")
    files["config.json"] = json.dumps(cfg).encode()
    with zipfile.ZipFile(d / "module.keras", "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    return {"lambda": d / "lambda.keras", "module": d / "module.keras", "marker": marker}


@pytest.mark.parametrize("kind", ["lambda", "module"])
def test_keras_files_with_code_are_refused_and_not_run(evil_keras: dict[str, Path], tmp_path: Path,  # type: ignore[no-untyped-def]
                                                       digitpad_home: Path, capsys, kind: str) -> None:
    path, marker = evil_keras[kind], evil_keras["marker"]
    words = "Lambda" if kind == "lambda" else "not standard Keras"
    with pytest.raises(ModelError, match=words):
        load_keras_model(path)
    store = ModelStore()
    before = store.names()
    with pytest.raises(ModelError, match=words):
        store.import_keras(path, activate=True)
    assert main(["models", "import", str(path), "--activate"]) == 1
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    # CLI predict and evaluate with the file as --model
    assert main(["predict", "--model", str(path), str(ROOT / "tests/data/digits/7_small_offcentre.png")]) == 1
    assert words in capsys.readouterr().err
    assert ModelStore().names() == before
    assert not marker.exists()


def test_window_load_model_refuses_a_lambda_and_does_not_run_it(evil_keras: dict[str, Path], qtbot,  # type: ignore[no-untyped-def]
                                                                 digitpad_home: Path) -> None:
    from app.ui import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    before = w.models.current_name()
    w.ask_keras_path = lambda: str(evil_keras["lambda"])  # type: ignore[method-assign]
    with qtbot.waitSignal(w.models.import_finished, timeout=120_000) as blocker:
        w.load_action.trigger()  # Model > Load model…
    assert blocker.args == [None]
    assert w.last_error is not None and "Lambda" in w.last_error
    assert w.models.current_name() == before
    assert not evil_keras["marker"].exists()
    w.close()


# --------------------------------------------------------------------------- paths in metadata


@pytest.mark.parametrize("rel", ["../other/model.tflite", "sub/../../x.tflite", "/etc/passwd",
                                 "\\\\server\\share\\m.tflite", "C:\\models\\m.tflite", "c:m.tflite",
                                 "model.tflite\x00.png", "", ".", 42, None, ["model.tflite"]])
def test_confined_refuses_paths_leaving_the_model_folder(tmp_path: Path, rel: object) -> None:
    base = tmp_path / "models" / "mine"
    base.mkdir(parents=True)
    with pytest.raises(ModelError, match="mine"):
        _confined(base, rel)


def test_confined_resolves_symlinks(tmp_path: Path) -> None:
    base = tmp_path / "models" / "mine"
    (base / "sub").mkdir(parents=True)
    outside = tmp_path / "secret.tflite"
    outside.write_bytes(b"not yours")
    (base / "model.tflite").symlink_to(outside)  # a file link pointing out
    (base / "escape").symlink_to(tmp_path)  # a folder link pointing out
    (base / "sub" / "real.tflite").write_bytes(b"x")
    (base / "inside.tflite").symlink_to(base / "sub" / "real.tflite")  # stays inside: fine
    for rel in ("model.tflite", "escape/secret.tflite"):
        with pytest.raises(ModelError, match="outside the model folder"):
            _confined(base, rel)
    assert _confined(base, "inside.tflite") == (base / "sub" / "real.tflite").resolve()
    assert _confined(base, "sub/real.tflite") == (base / "sub" / "real.tflite").resolve()


def test_a_store_entry_linking_outside_is_skipped(digitpad_home: Path, tmp_path: Path) -> None:
    entry = copy_shipped(digitpad_home, "mine", activate=True)
    outside = tmp_path / "elsewhere.tflite"
    shutil.copy(entry / "model.tflite", outside)
    (entry / "model.tflite").unlink()
    (entry / "model.tflite").symlink_to(outside)
    store = ModelStore()
    assert "mine" not in store and store.active_name() == "default"
    assert any("mine" in p and "outside the model folder" in p for p in store.problems)
