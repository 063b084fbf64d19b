"""The extra training data every DigitPad model learns from, beside MNIST.

``resources/pen_data.npz`` (made by ``tools/make_pen_data.py``) holds pen-like renderings
of MNIST *training* digits (drawn again with a round brush, as the pad draws) and drawings
that are not digits, labelled :data:`NOT_A_DIGIT`. Models have an 11th output for them.
Qt-free and TensorFlow-free.
"""

from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path

import numpy as np

from app.core.errors import DatasetError
from app.core.paths import resources_dir

NOT_A_DIGIT = 10  # the label (and output index) of "not a digit"
CLASSES = 11  # ten digits + not a digit
PEN_DATA = "pen_data.npz"

_file: Path | None = None  # another file than the shipped one (use_pen_data)


def use_pen_data(path: str | os.PathLike[str] | None) -> None:
    """Train from ``path`` instead of the shipped file (``None``: the shipped file again).
    For ``tools/train_default.py``: the shipped model learns from renderings of all 60 000
    training digits, more than the Train button needs or the app ships."""
    global _file
    _file = None if path is None else Path(path)
    load_pen_data.cache_clear()


@functools.lru_cache(maxsize=1)
def load_pen_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x uint8 (N, 28, 28), y int64 (N,), source int64 (N,)) from the shipped file."""
    path = _file or resources_dir() / PEN_DATA
    try:
        with np.load(path, allow_pickle=False) as f:
            x, y, src = f["x"], f["y"].astype(np.int64), f["source"].astype(np.int64)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"The pen-drawn training data ({path}) cannot be read: {exc}") from None
    x.setflags(write=False)
    return x, y, src


def split(held_out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pen data as (x_train, y_train, x_val, y_val). Validation: the renderings of the
    MNIST training images in ``held_out`` (a model's validation split) and, when there is
    one, every tenth non-digit; nothing when ``held_out`` is None or empty."""
    x, y, src = load_pen_data()
    val = np.zeros(len(y), bool)
    if held_out is not None and len(held_out):
        neg = y == NOT_A_DIGIT
        val = (np.isin(src, held_out) & ~neg) | (neg & (np.arange(len(y)) % 10 == 0))
    return x[~val], y[~val], x[val], y[val]
