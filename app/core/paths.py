"""Where things live: bundled resources (read-only) and the user's data directory.

Resources are found next to the source tree, inside an installed wheel
(``app/_resources``) or inside a PyInstaller bundle (``sys._MEIPASS``). User data is
never written there: it lives in the platform's user data directory, or in
``$DIGITPAD_HOME`` when that is set (tests use a temporary one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_APP_DIR = Path(__file__).resolve().parent.parent


def _candidates(name: str, packaged: str) -> list[Path]:
    out: list[Path] = []
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        out.append(Path(meipass) / name)
    out.append(_APP_DIR.parent / name)  # source checkout / editable install
    out.append(_APP_DIR / packaged)  # installed wheel
    return out


def _first_existing(name: str, packaged: str) -> Path:
    cands = _candidates(name, packaged)
    for cand in cands:
        if cand.is_dir():
            return cand
    return cands[0]


def resources_dir() -> Path:
    """The read-only ``resources/`` directory (MNIST, icons)."""
    return _first_existing("resources", "_resources")


def bundled_store_dir() -> Path:
    """The read-only ``model_store/`` holding the shipped default model."""
    return _first_existing("model_store", "_model_store")


def readme_path() -> Path | None:
    """README.md (the user guide's source) in a bundle or a source checkout; None in an
    installed wheel (there it is the distribution's description)."""
    for cand in _candidates("README.md", "_resources/README.md"):
        if cand.is_file():
            return cand
    return None


def bundled_mnist_path() -> Path:
    return resources_dir() / "mnist.npz"


def user_home() -> Path:
    """The user's DigitPad data directory (created on demand by writers)."""
    env = os.environ.get("DIGITPAD_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("DigitPad", appauthor=False, roaming=True))
