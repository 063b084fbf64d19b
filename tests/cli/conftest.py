"""The command-line tests' fixtures (a store holding a tiny model, a small .npz) and helpers
(run ``main([...])`` in-process, read its error lines)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]
DIGITS_DIR = ROOT / "tests" / "data" / "digits"
DIGIT_FILES = sorted(DIGITS_DIR.glob("*.png"))
SHIPPED_DEFAULT = ROOT / "model_store" / "default"



# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MLP (1 epoch on 500 images) saved once per session through the store."""
    from app.core.store import ModelStore
    from app.core.training import TrainConfig, train

    home = tmp_path_factory.mktemp("tiny-model-home")
    result = train(TrainConfig(arch="mlp", epochs=1, limit=500))
    meta = result.meta("tests", title="tiny test model")
    entry = ModelStore(home=home).save(result.model, meta, name="tiny")
    return entry.path


@pytest.fixture
def home(digitpad_home: Path, tiny_model_dir: Path) -> Path:
    """This test's DIGITPAD_HOME holding a copy of the tiny model named "tiny"."""
    shutil.copytree(tiny_model_dir, digitpad_home / "models" / "tiny")
    return digitpad_home


@pytest.fixture(scope="session")
def small_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keras-layout .npz with 40 training and 300 test images (fast to evaluate)."""
    from app.core.data import load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x_train=x_train[:40], y_train=y_train[:40], x_test=x_test[:300],
             y_test=y_test[:300])
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("digitpad: error:")]


def assert_no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert 'File "' not in stderr

