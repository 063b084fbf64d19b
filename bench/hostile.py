"""Crafted files for the hostile-input bench and tests: .npz archives whose headers announce huge
arrays or whose members inflate far beyond their size, written without ever holding the
inflated data in memory; DigitPad folders each damaged in one way the window meets at start."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable
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


def _settings(config: str) -> Callable[[Path], None]:
    def write(home: Path) -> None:
        from PySide6.QtCore import QSettings

        settings = QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat)
        settings.setValue("training/config", config)
        settings.sync()
    return write


def _file(relative: str, make: Callable[[Path], None]) -> Callable[[Path], None]:
    def write(home: Path) -> None:
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
    return write


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _active_copy(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """The shipped model copied into the home as 'mine', chosen, then damaged."""
    def write(home: Path) -> None:
        from app.core import paths

        mine = home / "models" / "mine"
        shutil.copytree(paths.bundled_store_dir() / "default", mine)
        (home / "store.json").write_text(json.dumps({"active_model": "mine"}))
        damage(mine)
    return write


def _replace_with_fifo(name: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        (folder / name).unlink()
        os.mkfifo(folder / name)
    return damage


# label -> (how the home is damaged, or None for a home whose name is too long; what the
# window's start-up message must say)
DAMAGED_HOMES: dict[str, tuple[Callable[[Path], None] | None, str]] = {
    "samples.npz announcing 730 GiB": (
        _file("samples/samples.npz", lying_header_npz), "730.2 GiB"),
    "training settings [1, 2]": (_settings("[1, 2]"), "training settings reset"),
    'training settings "cnn"': (_settings('"cnn"'), "training settings reset"),
    'training settings {"epochs": 1e999}': (_settings('{"epochs": 1e999}'), "training settings reset"),
    "a 300-character DIGITPAD_HOME": (None, "File name too long"),
    "samples.npz is a FIFO": (_file("samples/samples.npz", _fifo), "named pipe"),
    "samples.npz links to /dev/zero": (_file("samples/samples.npz", _zero), "is a device"),
    "store.json is a FIFO": (_file("store.json", _fifo), "named pipe"),
    "store.json links to /dev/zero": (_file("store.json", _zero), "is a device"),
    "store.json is not JSON": (_file("store.json", lambda p: p.write_text("{not json")), "not valid JSON"),
    "settings.ini is a FIFO": (_file("settings.ini", _fifo), "named pipe"),
    "settings.ini links to /dev/zero": (_file("settings.ini", _zero), "is a device"),
    "the active model's meta.json is malformed": (
        _active_copy(lambda m: (m / "meta.json").write_text('{"arch": ')), "malformed"),
    "the active model's model.tflite is a FIFO": (
        _active_copy(_replace_with_fifo("model.tflite")), "not a file"),
}


def damage_kinds() -> list[str]:
    """The labels of :data:`DAMAGED_HOMES` this system can make (FIFOs and /dev/zero: POSIX)."""
    posix = hasattr(os, "mkfifo") and os.path.exists("/dev/zero")
    return [k for k in DAMAGED_HOMES if posix or not ("FIFO" in k or "/dev/zero" in k)]


def damaged_home(root: Path, label: str) -> Path:
    """A DigitPad home under ``root`` damaged as :data:`DAMAGED_HOMES` ``[label]`` says."""
    make, _said = DAMAGED_HOMES[label]
    root.mkdir(parents=True, exist_ok=True)
    if make is None:
        return root / ("a" * 300)
    home = root / "home"
    home.mkdir()
    make(home)
    return home
