"""Saved settings checked by type and range before use (Qt-free).

A settings file is the user's (or another version's, or a hand edit's): every value read
back from it is checked here. A bad value is replaced by its default and reported in a
short sentence, so the window can say so once (and save the repaired settings) instead of
failing at start.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from app.core.errors import DigitPadError
from app.core.models import ARCHITECTURES
from app.core.safeio import read_capped, set_aside
from app.core.training import LIMITS, TrainConfig

TRAINING_KEYS = ("arch", "epochs", "batch_size", "learning_rate", "augment", "limit")
_WHOLE = ("epochs", "batch_size", "limit")


def whole_number(raw: object, lo: int, hi: int) -> int | None:
    """``raw`` (an int, an integral float, or their text) if it is a whole number in
    ``lo..hi``; None otherwise."""
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    if isinstance(raw, float) and (not math.isfinite(raw) or raw != int(raw)):
        return None
    value = int(raw)
    return value if lo <= value <= hi else None


def number(raw: object, lo: float, hi: float) -> float | None:
    """``raw`` as a finite float in ``lo..hi``; None otherwise."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    value = float(raw)
    return value if math.isfinite(value) and lo <= value <= hi else None


MAX_SETTINGS_BYTES = 1 << 20  # the window's settings file holds a few kB


def check_settings_file(path: Path) -> str | None:
    """Before the settings file at ``path`` is read (QSettings would wait on a FIFO forever
    or read a device without end): when it is there but not a readable file of at most
    :data:`MAX_SETTINGS_BYTES`, move it aside and say so; None when it is fine or absent."""
    if not os.path.lexists(path):
        return None
    try:
        read_capped(path, MAX_SETTINGS_BYTES, DigitPadError, path.name)
        return None
    except DigitPadError as exc:
        why = str(exc).rstrip(".")
    try:
        return (f"the window's settings could not be read: {why}; it was moved to "
                f"{set_aside(path).name} and they start afresh")
    except OSError:
        return f"the window's settings could not be read: {why}"


def training_config(raw: object) -> tuple[TrainConfig, list[str]]:
    """The Train button's settings as saved (JSON text of :data:`TRAINING_KEYS`): a
    :class:`TrainConfig` whose every value is valid, and what had to be reset."""
    if raw is None or raw == "":
        return TrainConfig(), []
    data: Any
    try:
        data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except (ValueError, RecursionError):
        return TrainConfig(), ["saved training settings reset to defaults: they were unreadable"]
    if not isinstance(data, dict):
        return TrainConfig(), ["saved training settings reset to defaults: they were not a set of "
                               "values"]
    problems: list[str] = []
    arch = data.get("arch", TrainConfig().arch)
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        problems.append(f"architecture {_show(arch)} is unknown")
        arch = TrainConfig().arch
    values: dict[str, Any] = {}
    for key in _WHOLE:
        raw_value = data.get(key)
        if raw_value is None:
            continue
        lo, hi = LIMITS[key]
        value = whole_number(raw_value, int(lo), int(hi))
        if value is None:
            problems.append(f"{key.replace('_', ' ')} {_show(raw_value)} is not a whole number "
                            f"between {lo:g} and {hi:g}")
        values[key] = value
    lr = data.get("learning_rate")
    if lr is not None:
        values["learning_rate"] = number(lr, *LIMITS["learning_rate"])
        if values["learning_rate"] is None:
            lo, hi = LIMITS["learning_rate"]
            problems.append(f"learning rate {_show(lr)} is not a number between {lo:g} and {hi:g}")
    augment = data.get("augment")
    if augment is not None and not isinstance(augment, bool):
        problems.append(f"augment {_show(augment)} is not true or false")
        augment = None
    cfg = TrainConfig(arch=arch, augment=augment, **values)
    if problems:
        problems = ["saved training settings reset to defaults: " + "; ".join(problems)]
    return cfg, problems


def training_json(cfg: TrainConfig) -> str:
    """The text :func:`training_config` reads back."""
    return json.dumps({k: getattr(cfg, k) for k in TRAINING_KEYS})


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
