"""Helpers for running inside the PyInstaller bundle (``build.spec``).

Cheap to import: only the standard library. The bundle's entry point
(``packaging/digitpad_launcher.py``) calls :func:`prepare` before anything else.

A *windowed* bundle (``console=False``; on Windows and macOS) starts with ``sys.stdout``
and ``sys.stderr`` set to ``None``: any unguarded ``print``, a Keras progress bar or absl
logging would raise ``AttributeError`` there. :func:`fix_stdio` gives such streams a null
writer, and :func:`install_crash_log` keeps the traceback of an uncaught error in the
user's DigitPad folder, since nobody would see it otherwise.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any

CRASH_LOG = "crash.log"


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def bundle_dir() -> str | None:
    """The bundle's data directory (``sys._MEIPASS``), or None when running from source."""
    return getattr(sys, "_MEIPASS", None) if is_frozen() else None


def fix_stdio() -> list[str]:
    """Give ``None`` standard streams a null writer/reader; return the names replaced."""
    replaced: list[str] = []
    for name, mode in (("stdout", "w"), ("stderr", "w"), ("stdin", "r")):
        if getattr(sys, name) is None:
            stream: Any = open(os.devnull, mode, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)
            replaced.append(name)
    return replaced


def install_crash_log() -> None:
    """Append the traceback of an uncaught exception to ``<user home>/crash.log``."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        try:
            import traceback

            from app.core.paths import user_home

            home = user_home()
            home.mkdir(parents=True, exist_ok=True)
            with open(home / CRASH_LOG, "a", encoding="utf-8") as fh:
                fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                fh.write("".join(traceback.format_exception(kind, exc, tb)))
        except Exception:  # never fail while reporting a failure
            pass
        previous(kind, exc, tb)

    sys.excepthook = hook


def prepare() -> list[str]:
    """Everything the bundle needs before the app is imported. Returns replaced streams."""
    replaced = fix_stdio()
    if replaced:
        # Nobody reads TensorFlow's C++ log lines in a windowed app.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        install_crash_log()
    # Keras prints progress bars only when asked to; never let it draw interactive ones.
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    return replaced
