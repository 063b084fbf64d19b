"""What controllers and dialogs need from the window, without the window: how to tell the
user something (:class:`Feedback`) and the remembered settings (:class:`Prefs`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from app.core import paths, settings
from app.core.training import TrainConfig


@dataclass(frozen=True)
class Feedback:
    """Messages to the user: an error (title, text), a status-bar line (text, ms), a yes/no
    question, a status line that can undo what it reports."""

    error: Callable[[str, str], None]
    status: Callable[[str, int], None]
    confirm: Callable[[str, str], bool]
    # a status line with an Undo button (text, undo, ms); None: a plain status line
    undoable: Callable[[str, Callable[[], None], int], None] | None = None

    def offer_undo(self, text: str, undo: Callable[[], None], ms: int = 10000) -> None:
        if self.undoable is None:
            self.status(text, ms)
        else:
            self.undoable(text, undo, ms)


class Prefs:
    """The window's remembered settings (an INI file in the user's DigitPad home)."""

    def __init__(self, path: Path | None = None) -> None:
        path = path or paths.user_home() / "settings.ini"
        self.problems: list[str] = []  # settings that were unusable and reset (shown at start)
        damaged = settings.check_settings_file(path)  # (a FIFO would block QSettings)
        if damaged is not None:
            self.problems.append(damaged)
            if os.path.lexists(path):  # it could not be moved aside: never read, not kept
                self._scratch = tempfile.TemporaryDirectory(prefix="digitpad-settings-")
                path = Path(self._scratch.name) / "settings.ini"
        self.settings = QSettings(str(path), QSettings.Format.IniFormat)

    def last_directory(self) -> Path:
        d = self.settings.value("paths/lastDirectory", "")
        if isinstance(d, str) and d and Path(d).is_dir():
            return Path(d)
        return Path.home()

    def remember_directory(self, directory: str | Path) -> None:
        self.settings.setValue("paths/lastDirectory", str(directory))

    def train_config(self) -> TrainConfig:
        """The last training settings chosen; a value of the wrong type or range is reset
        to its default, added to :attr:`problems` and the repaired settings saved at once
        (so it is reported once)."""
        cfg, problems = settings.training_config(self.settings.value("training/config", ""))
        if problems:
            self.problems += problems
            self.set_train_config(cfg)
        return cfg

    def set_train_config(self, c: TrainConfig) -> None:
        self.settings.setValue("training/config", settings.training_json(c))

    def brush(self, default: int) -> int:
        try:
            return int(str(self.settings.value("pad/brush", default)))
        except ValueError:
            return default

    def set_brush(self, size: int) -> None:
        self.settings.setValue("pad/brush", size)

    def geometry(self) -> QByteArray | None:
        g = self.settings.value("window/geometry")
        return g if isinstance(g, QByteArray) and not g.isEmpty() else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self.settings.setValue("window/geometry", geometry)

    def watch_learning(self) -> bool:
        return str(self.settings.value("learning/watch", "true")).lower() != "false"

    def set_watch_learning(self, on: bool) -> None:
        self.settings.setValue("learning/watch", bool(on))

    def number_mode(self) -> bool:
        return str(self.settings.value("pad/numberMode", "false")).lower() == "true"

    def set_number_mode(self, on: bool) -> None:
        self.settings.setValue("pad/numberMode", bool(on))

    def window_state(self) -> QByteArray | None:
        """The docks' places and whether they are open (QMainWindow.saveState)."""
        g = self.settings.value("window/state")
        return g if isinstance(g, QByteArray) and not g.isEmpty() else None

    def set_window_state(self, state: QByteArray) -> None:
        self.settings.setValue("window/state", state)

    def tour_seen(self) -> bool:
        return str(self.settings.value("help/tourSeen", "false")).lower() == "true"

    def set_tour_seen(self) -> None:
        self.settings.setValue("help/tourSeen", True)

    def sync(self) -> None:
        self.settings.sync()
