"""The store survives what goes wrong: a kill mid-save, read-only folders, two instances."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.errors import ModelError
from app.core.store import ModelStore
from tests.conftest import ROOT

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
