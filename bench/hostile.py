"""Crafted files for the hostile-input bench and tests: .npz archives whose headers announce huge
arrays or whose members inflate far beyond their size, written without ever holding the
inflated data in memory."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np


def npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    """The bytes of a version 1.0 .npy header for an array of ``shape`` and ``dtype``."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


def crafted_npz(path: Path, members: dict[str, tuple[tuple[int, ...], str, int | None]]) -> Path:
    """An .npz whose member ``key`` announces ``(shape, dtype)`` and then holds ``data_bytes``
    zero bytes (None: as many as the shape needs, deflated: 1.5 GB of zeros make ~1.5 MB)."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, (shape, dtype, data_bytes) in members.items():
            header = npy_header(shape, dtype)
            n = int(np.prod(shape)) * np.dtype(dtype).itemsize if data_bytes is None else data_bytes
            with zf.open(f"{key}.npy", "w", force_zip64=n > 1 << 30) as fh:
                fh.write(header)
                while n > 0:
                    fh.write(chunk[: min(n, len(chunk))])
                    n -= len(chunk)
    return path


def inflating_npz(path: Path) -> Path:
    """The issue's file: ~1.5 MB on disk, a float64 x_train of 240 000 images (1.5 GB) inside."""
    return crafted_npz(path, {"x_train": ((240_000, 28, 28), "<f8", None),
                              "y_train": ((240_000,), "|u1", None)})


def lying_header_npz(path: Path) -> Path:
    """A tiny .npz whose x announces 1 000 000 000 images (730 GiB) and holds a few bytes."""
    return crafted_npz(path, {"x": ((1_000_000_000, 28, 28), "|u1", 64), "y": ((3,), "|u1", None),
                              "ids": ((3,), "<i8", None)})
