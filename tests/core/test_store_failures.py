"""The store survives what goes wrong: a kill mid-save, read-only folders, a full disk, two
instances, files changed after they were saved (checksums)."""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ModelError
from app.core.store import DEFAULT_MODEL, ModelStore
from tests.conftest import ROOT, corrupt, needs_default_model, sha256

_SAVER = r"""
import sys, time
from app.core.store import ModelStore
import app.core.model_files as store_mod
from app.core.training import TrainConfig, train

home, mode = sys.argv[1], sys.argv[2]
result = train(TrainConfig(arch="mlp", epochs=1, batch_size=32, limit=200, seed=2))
store = ModelStore(home=home)
store.save(result.model, result.meta("tests"), name="first", activate=True)
print("FIRST-SAVED", flush=True)
if mode == "hang":
    real = store_mod.atomic_write_json
    def slow(path, obj):
        print("WRITING-META", flush=True)
        time.sleep(60)  # killed here, in the middle of the second save
        real(path, obj)
    store_mod.atomic_write_json = slow
    store.save(result.model, result.meta("tests"), name="second", activate=True)
"""


def test_sigkill_in_the_middle_of_a_save_keeps_the_store_intact(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(home), "hang"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.strip())
        if line.startswith("WRITING-META"):
            break
    assert "WRITING-META" in seen, seen
    # the second model's files are half written in a hidden temp folder: kill now
    leftovers = [p.name for p in (home / "models").iterdir() if p.name.startswith(".tmp-")]
    assert leftovers, "the kill must land mid-save"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    store = ModelStore(home=home)
    assert "first" in store and "second" not in store
    assert store.active_name() == "first"
    assert store.get("first").predictor().predict(__import__("numpy").zeros((28, 28))).shape == (10,)
    # hidden leftovers are not reported as broken models
    assert not [p for p in store.problems if ".tmp" in p or "second" in p]
    # leftovers are cleaned once old enough (never while another instance may be writing)
    assert store.cleanup_temporaries() == []
    assert sorted(store.cleanup_temporaries(older_than=0)) == sorted(leftovers)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_store_gives_a_clear_message(tmp_path: Path, tiny_result) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    os.chmod(home / "models", 0o500)
    try:
        store = ModelStore(home=home)
        with pytest.raises(ModelError, match="Could not save"):
            store.save(tiny_result.model, tiny_result.meta("tests"), name="x")
    finally:
        os.chmod(home / "models", 0o700)


def test_unwritable_store_simulated_gives_a_clear_message(tmp_path: Path, tiny_result,
                                                          monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """As root permissions are not enforced, simulate EACCES/EROFS at the mkdir."""
    import errno

    store = ModelStore(home=tmp_path / "home")
    real_mkdir = Path.mkdir

    def refuse(self, *a, **k):  # type: ignore[no-untyped-def]
        if ".tmp-" in self.name:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(ModelError, match="Read-only file system"):
        store.save(tiny_result.model, tiny_result.meta("tests"), name="x")
    assert "x" not in store


def test_two_instances_share_one_store(tmp_path: Path, tiny_result) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    a, b = ModelStore(home=home), ModelStore(home=home)
    ea = a.save(tiny_result.model, tiny_result.meta("tests"))
    eb = b.save(tiny_result.model, tiny_result.meta("tests"))
    assert ea.name != eb.name  # auto names never collide, even within the same second
    b.set_active(ea.name)
    a.refresh()
    assert a.active_name() == ea.name and eb.name in a
    a.delete(ea.name)
    b.refresh()
    assert ea.name not in b and b.active_name() != ea.name


def _user_entries(home: Path) -> list[str]:
    models = home / "models"
    return sorted(p.name for p in models.iterdir()) if models.is_dir() else []


def _no_leftovers(home: Path) -> bool:
    return not [p for p in _user_entries(home) if p.startswith(".tmp-")]


# --------------------------------------------------------------------------- checksums


def _refuse_content(bad: bytes) -> Callable[..., object]:
    from app.core import inference

    real = inference._interpreter_class()

    def interpreter(*args: object, model_content: bytes | None = None, **kw: object) -> object:
        assert model_content != bad, "the corrupt .tflite reached LiteRT"
        return real(*args, model_content=model_content, **kw)

    return interpreter


@needs_default_model
def test_the_shipped_model_carries_checksums_and_a_corrupt_one_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped default is the last resort, so it must not be able to crash LiteRT either:
    its metadata records its files' SHA-256, and a damaged shipped .tflite is refused."""
    from app.core import inference, paths

    shipped = paths.bundled_store_dir() / DEFAULT_MODEL
    meta = json.loads((shipped / "meta.json").read_text(encoding="utf-8"))
    assert meta["sha256"] == {"keras": sha256(shipped / "model.keras"),
                              "tflite": sha256(shipped / "model.tflite")}
    bundled = tmp_path / "model_store"
    shutil.copytree(shipped, bundled / DEFAULT_MODEL)
    store = ModelStore(home=tmp_path / "home", bundled_dir=bundled)
    assert store.get(DEFAULT_MODEL).predictor().predict(np.zeros((28, 28), np.float32)).shape == (10,)
    bad = corrupt((bundled / DEFAULT_MODEL / "model.tflite").read_bytes())
    (bundled / DEFAULT_MODEL / "model.tflite").write_bytes(bad)
    monkeypatch.setattr(inference, "_interpreter_class", lambda: _refuse_content(bad))
    with pytest.raises(ModelError, match=r"default/model\.tflite: the model file is corrupt"):
        ModelStore(home=tmp_path / "home", bundled_dir=bundled).get(DEFAULT_MODEL).predictor()


def test_saved_models_carry_checksums_and_changed_files_are_refused(saved_tiny_dir: Path,
                                                                    tmp_path: Path) -> None:
    meta = json.loads((saved_tiny_dir / "meta.json").read_text())
    assert meta["sha256"] == {"keras": sha256(saved_tiny_dir / "model.keras"),
                              "tflite": sha256(saved_tiny_dir / "model.tflite")}
    home = tmp_path / "home"
    shutil.copytree(saved_tiny_dir, home / "models" / "tiny")
    entry = ModelStore(home=home).get("tiny")
    assert entry.predictor().predict(np.zeros((28, 28), np.float32)).shape == (10,)
    keras_file = home / "models" / "tiny" / "model.keras"
    data = bytearray(keras_file.read_bytes())
    data[-100] ^= 0xFF
    keras_file.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"tiny/model\.keras: the model file is corrupt"):
        entry.load_keras()


# --------------------------------------------------------------------------- full disk, two savers


@pytest.fixture
def file_size_limit() -> Iterator[Callable[[int], None]]:
    """``limit(n)``: from now on this process cannot write files larger than n bytes (a real
    I/O error from the kernel, EFBIG, in every writer: Keras, TensorFlow, Python)."""
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    yield lambda n: resource.setrlimit(resource.RLIMIT_FSIZE, (n, old[1]))
    resource.setrlimit(resource.RLIMIT_FSIZE, old)
    signal.signal(signal.SIGXFSZ, old_handler)


@pytest.mark.parametrize("stage", ["keras_file", "tensorflow_export"])
def test_file_system_full_while_saving(tiny_result, saved_tiny_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                       file_size_limit, stage: str) -> None:
    home = tmp_path / "home"
    shutil.copytree(saved_tiny_dir, home / "models" / "first")
    store = ModelStore(home=home)
    store.set_active("first")
    first = store.get("first")
    saved = {p.name: p.read_bytes() for p in first.path.iterdir()}
    keras_size = (saved_tiny_dir / "model.keras").stat().st_size
    # below the .keras size: Keras fails; just above it: TensorFlow's SavedModel export fails
    file_size_limit(keras_size // 2 if stage == "keras_file" else keras_size + 1000)
    try:
        with pytest.raises(ModelError, match=r"^Could not save the model to .*: File too large\.$"):
            store.save(tiny_result.model, tiny_result.meta("tests"))
    finally:
        file_size_limit(resource.RLIM_INFINITY)
    assert store.names()[-1] == "first" and store.active_name() == "first"
    assert {p.name: p.read_bytes() for p in first.path.iterdir()} == saved
    assert _user_entries(home) == ["first"]  # no half-written entry, no temporary left


def test_no_space_left_while_writing_metadata_or_settings(  # type: ignore[no-untyped-def]
        tiny_result, saved_tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.core.safeio as store_mod

    home = tmp_path / "home"
    shutil.copytree(saved_tiny_dir, home / "models" / "first")
    store = ModelStore(home=home)
    store.set_active("first")
    settings = (home / "store.json").read_bytes()
    real_mkstemp = store_mod.tempfile.mkstemp

    def full_disk(*a, **k):  # type: ignore[no-untyped-def]
        fd, path = real_mkstemp(*a, **k)
        os.close(fd)
        os.unlink(path)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod.tempfile, "mkstemp", full_disk)
    with pytest.raises(ModelError, match="No space left on device"):
        store.save(tiny_result.model, tiny_result.meta("tests"), name="second")
    with pytest.raises(ModelError, match="No space left on device"):
        store.set_active(DEFAULT_MODEL)
    monkeypatch.undo()
    assert (home / "store.json").read_bytes() == settings  # the old choice is intact
    assert ModelStore(home=home).active_name() == "first"
    assert _user_entries(home) == ["first"]


def test_two_instances_saving_under_the_same_automatic_name(tiny_result, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Both pick ``mlp-<date>-<time>`` in the same second; the second to finish gets ``-2``
    instead of losing its freshly trained model."""
    import app.core.export as export

    home = tmp_path / "home"
    a, b = ModelStore(home=home), ModelStore(home=home)
    real = export.tflite_bytes
    state = {"raced": False}

    def racing(model, quantize=True):  # type: ignore[no-untyped-def]
        if not state["raced"]:  # while B exports, A saves under the name B has chosen
            state["raced"] = True
            taken = [p.name for p in home.joinpath("models").iterdir() if p.name.startswith(".tmp-")]
            name = taken[0][len(".tmp-"):].rsplit("-", 1)[0]
            a.save(tiny_result.model, tiny_result.meta("tests"), name=name)
        return real(model, quantize)

    monkeypatch.setattr(export, "tflite_bytes", racing)
    entry = b.save(tiny_result.model, tiny_result.meta("tests"), activate=True)
    assert state["raced"]
    names = _user_entries(home)
    assert len(names) == 2 and entry.name == f"{names[0]}-2" and entry.name in names
    assert entry.meta["name"] == entry.name
    assert ModelStore(home=home).active_name() == entry.name
    assert _no_leftovers(home)
