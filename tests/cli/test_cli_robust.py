"""The CLI against bad settings and an unusable store: a bad seed fails before TensorFlow
loads, a read-only store is found out before training, a training whose result is far
worse than guessing is refused and nothing is saved."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.core.store import ModelStore
from tests.conftest import ROOT


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_a_bad_seed_fails_before_tensorflow_loads(digitpad_home: Path) -> None:
    code = ("import sys; from app.cli import main; rc = main(['train', '--seed', '-1']); "
            "print('TF', 'tensorflow' in sys.modules); sys.exit(rc)")
    env = dict(os.environ, DIGITPAD_HOME=str(digitpad_home), PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1
    assert "digitpad: error: the seed must be a whole number between 0 and 4294967295 (got -1)." in run.stderr
    assert "TF False" in run.stdout and "Traceback" not in run.stderr


@pytest.mark.parametrize("command", [["train", "--arch", "mlp", "--epochs", "1", "--limit", "100"],
                                     ["finetune", "--epochs", "1"]])
def test_a_read_only_store_is_found_before_training(capsys: pytest.CaptureFixture[str], monkeypatch,
                                                    digitpad_home: Path, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from app.core.samples import SampleStore

    samples = SampleStore()
    for d in range(4):
        samples.add(np.zeros((28, 28), np.float32), d)
    real_mkdir = Path.mkdir

    def read_only(self, *a, **k):  # type: ignore[no-untyped-def]  # (root ignores chmod)
        if self.name.startswith(".tmp-"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(self, *a, **k)

    def never(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("trained although nothing could be saved")

    import app.core.finetune  # noqa: F401  (imported now, it binds the real train, not the stub)

    monkeypatch.setattr(Path, "mkdir", read_only)
    monkeypatch.setattr("app.core.training.train", never)
    monkeypatch.setattr("app.core.finetune.fine_tune", never)
    rc, _out, err = _run(capsys, *command)
    assert rc == 1 and "Models cannot be saved in" in err and "Read-only file system" in err


def test_a_one_batch_divergence_is_refused_by_its_result(capsys: pytest.CaptureFixture[str],
                                                        digitpad_home: Path) -> None:
    rc, _out, err = _run(capsys, "train", "--arch", "mlp", "--lr", "1000", "--batch-size", "8192",
                         "--limit", "600", "--epochs", "1")
    assert rc == 1 and "Training diverged" in err and "guessing" in err, err
    assert [e.name for e in ModelStore().entries() if not e.builtin] == []
