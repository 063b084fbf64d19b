"""The bundled MNIST missing, truncated or of the wrong shape, and user datasets that do not
fit, in ``digitpad train`` and in the window (Train and Evaluate).

Already covered elsewhere (not repeated here):
* ``load_mnist``/``load_idx`` on truncated, corrupt, wrong-shape, missing-key, object-array
  .npz and on bad IDX files (magic, truncation, gzip, count mismatch):
  tests/core/test_data.py
* ``digitpad train --data /nonexistent/mnist.npz`` and ``evaluate --data`` a bad file:
  tests/cli/test_cli.py::test_train_bad_settings_fail_before_training, test_evaluate_bad_data
"""

from __future__ import annotations

import gzip
import shutil
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.cli import main
from app.core import data, paths
from app.core.store import DEFAULT_MODEL, ModelStore
from tests import ui_helpers
from tests.ui_helpers import draw_digit, needs_default_model

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

pytestmark = needs_default_model

REAL = paths.bundled_mnist_path()


def _missing(d: Path) -> Path:
    return d / "mnist.npz"


def _truncated(d: Path) -> Path:
    p = d / "mnist.npz"
    with open(REAL, "rb") as fh:
        p.write_bytes(fh.read(2_000_000))
    return p


def _wrong_shapes(d: Path) -> Path:
    p = d / "mnist.npz"
    rng = np.random.default_rng(0)
    np.savez(p, x_train=rng.integers(0, 255, (50, 32, 32), dtype=np.uint8),
             y_train=np.zeros(50, np.uint8), x_test=np.zeros((10, 32, 32), np.uint8),
             y_test=np.zeros(10, np.uint8))
    return p


BROKEN: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (_missing, "not found"),
    "truncated": (_truncated, "truncated or corrupt"),
    "wrong_shapes": (_wrong_shapes, "expected (N, 28, 28)"),
}


@pytest.fixture(params=list(BROKEN))
def broken_bundled(request, tmp_path: Path,  # type: ignore[no-untyped-def]
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """The bundled mnist.npz replaced by a broken copy; (its path, words of the message)."""
    maker, words = BROKEN[request.param]
    folder = tmp_path / "resources"
    folder.mkdir()
    path = maker(folder)
    monkeypatch.setattr(paths, "bundled_mnist_path", lambda: path)
    data.clear_cache()
    yield path, words
    data.clear_cache()


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err and 'File "' not in err
    lines = [line for line in err.splitlines() if line.startswith("digitpad: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_cli_train_with_a_broken_bundled_mnist(broken_bundled: tuple[Path, str], digitpad_home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path, words = broken_bundled
    rc = main(["train", "--arch", "mlp", "--epochs", "1", "--limit", "300"])
    out, err = capsys.readouterr()
    assert rc == 1 and "test accuracy" not in out
    line = _one_error_line(err)
    assert str(path) in line and words in line and "bundled" in line.lower()
    assert not (digitpad_home / "models").exists() or not any((digitpad_home / "models").iterdir())


def test_window_train_and_evaluate_with_a_broken_bundled_mnist(  # type: ignore[no-untyped-def]
        broken_bundled: tuple[Path, str], window, qtbot) -> None:
    path, words = broken_bundled
    with qtbot.waitSignal(window.training.finished, timeout=60_000) as blocker:
        qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [None]
    assert window.last_error is not None and window.last_error.startswith("Training failed")
    assert str(path) in window.last_error and words in window.last_error
    assert window.models.current_name() == DEFAULT_MODEL == ModelStore().active_name()
    draw_digit(window.pad, "7")  # the app keeps predicting
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "7", timeout=3000)

    window.last_error = None
    with qtbot.waitSignal(window.models.evaluation_finished, timeout=60_000) as blocker:
        window.evaluate_action.trigger()  # Model > Evaluate
    assert blocker.args == [None]
    assert window.last_error is not None and window.last_error.startswith("Evaluation failed")
    assert words in window.last_error
    assert window.evaluate_action.isEnabled() and window.train_button.isEnabled()


def _idx(path: Path, magic: int, arr: np.ndarray) -> None:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in arr.shape)
    path.write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))


def test_cli_train_with_an_idx_pair_of_mismatched_counts(tmp_path: Path, digitpad_home: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "my mnist"
    d.mkdir()
    _idx(d / "train-images-idx3-ubyte.gz", 2051, np.zeros((60, 28, 28)))
    _idx(d / "train-labels-idx1-ubyte.gz", 2049, np.zeros(59))  # one label short
    _idx(d / "t10k-images-idx3-ubyte.gz", 2051, np.zeros((10, 28, 28)))
    _idx(d / "t10k-labels-idx1-ubyte.gz", 2049, np.zeros(10))
    rc = main(["train", "--arch", "mlp", "--epochs", "1", "--data", str(d)])
    _, err = capsys.readouterr()
    assert rc == 1
    line = _one_error_line(err)
    assert "60 images" in line and "59 labels" in line and "train-images-idx3-ubyte.gz" in line
    # a directory with files missing names them
    shutil.rmtree(d)
    d.mkdir()
    rc = main(["train", "--arch", "mlp", "--epochs", "1", "--data", str(d)])
    _, err = capsys.readouterr()
    assert rc == 1 and "t10k-labels-idx1-ubyte" in _one_error_line(err)
