"""Number mode: the pad becomes a wide strip, and the number written on it is read live.

:class:`NumberController` owns the mode (its View-menu action, remembered in the prefs) and
its state (the reading, the selected digit, an opened picture's reading). While it is on,
it is the live prediction's source (:class:`app.ui.controllers.live.InputSource`): the
pad's changes, the model in use and the weights in training all reach it through
:class:`LivePrediction`, which shows the selected (or hovered) digit in the probability
bars and the preview, so corrections and Explain work on that digit as on a single one.
Reading is :class:`app.core.number.NumberReader`: the same preprocessing and the same
model as the single-digit pad, digit by digit.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRectF, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence

from app.core.number import NO_DIGITS, DigitReading, Judge, NumberReader, NumberReading
from app.core.samples import StrokeData
from app.ui.controllers.live import LivePrediction, open_picture, pil_to_qimage
from app.ui.feedback import Feedback, Prefs
from app.ui.ink import BUFFER_SIZE
from app.ui.number_view import NumberView

log = logging.getLogger(__name__)


class NumberController(QObject):
    """Reads the strip while number mode is on."""

    reading_changed = Signal()  # after every reading (or clearing of it)
    mode_changed = Signal(bool)  # the window lays the pad out as a strip (True) or a square

    def __init__(self, live: LivePrediction, feedback: Feedback, prefs: Prefs,
                 parent: QObject | None = None) -> None:
        """:attr:`view` shows the number read; the window places it above the strip and
        moves the pad on :attr:`mode_changed`."""
        super().__init__(parent)
        self.live = live
        self.pad = live.view.pad
        self.view = NumberView()
        self.feedback, self.prefs = feedback, prefs
        self.judge: Judge | None = None  # says when a digit is not a digit (shown "?")
        self.active = False
        self.last_update_ms = 0.0  # the last reading: split, preprocess, predict, show
        self._reader: NumberReader | None = None
        self._image: tuple[str, NumberReading, tuple[int, int]] | None = None  # name, reading, size
        self._hover: int | None = None
        self.action = QAction("&Number mode", self)
        self.action.setObjectName("numberModeAction")
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("Ctrl+N"))
        self.action.setStatusTip("Write a whole number on a wide strip; each digit is read on its own")
        self.action.toggled.connect(self.set_active)
        self.view.digitSelected.connect(self._selected)
        self.view.digitHovered.connect(self._hovered)
        self.view.hide()

    def restore(self) -> None:
        """Turn the mode on if it was on when the window last closed."""
        self.action.setChecked(self.prefs.number_mode())

    # -- mode -------------------------------------------------------------
    @Slot(bool)
    def set_active(self, on: bool) -> None:
        """Turn the strip on or off; nothing of the other mode's drawing or reading stays."""
        if self.action.isChecked() != on:
            self.action.setChecked(on)  # (comes back here through toggled)
            return
        if on == self.active:
            return
        self.active = on
        self.prefs.set_number_mode(on)
        self._image, self._hover = None, None
        self.view.set_reading(NumberReading(), NO_DIGITS)
        self.view.select(None)
        self.pad.set_marks([])
        # In the order that never asks the window for more room than either finished layout
        # (the window grows to fit a half-switched one): the strip's lower minimum before the
        # layout for it, the number view out before the layout for the square. (Switching
        # clears the pad; the live prediction updates from that change.)
        if on:
            self.pad.set_strip(True)
            self.mode_changed.emit(True)
            self.view.show()
        else:
            self.view.hide()
            self.mode_changed.emit(False)
            self.pad.set_strip(False)
        self.live.set_source(self if on else None)
        self.live.update()

    def selected_digit(self) -> DigitReading | None:
        """The selected digit (the only one when there is one), or None."""
        digits = self.view.reading().digits
        i = self.view.selected()
        if i is None and len(digits) == 1:
            i = 0
        return digits[i] if i is not None and i < len(digits) else None

    # -- InputSource (the live prediction reads through these while the mode is on) ------
    def update(self) -> None:
        """Read the strip (or the opened picture) now and show the number."""
        t0 = time.perf_counter()
        if self._image is not None and not self.pad.has_background():
            self._image = None  # drawing (or Esc) replaced the picture
        reader = self._current_reader()
        message = NO_DIGITS
        reading = NumberReading()
        if self._image is not None:
            reading = self._image[1]
            message = f"{self._image[0]}: {NO_DIGITS}"
        elif reader is None:
            message = "No model loaded"
        elif not self.pad.is_empty():
            try:
                strokes = [(np.asarray(s.points, dtype=np.float64) * BUFFER_SIZE, s.width * BUFFER_SIZE)
                           for s in self.pad.all_strokes()]
                reading = reader.read_drawing(self.pad.pixels(), strokes)
            except Exception as exc:  # a model that fails must not take the window down
                log.exception("reading the number failed")
                self._reader = None
                self.feedback.error("Reading failed", f"The model could not read the number: {exc}")
        if not reading.digits:
            self.view.select(None)
        self.view.set_reading(reading, message)
        self._show()
        self.last_update_ms = (time.perf_counter() - t0) * 1000.0
        self.reading_changed.emit()

    def drawing_key(self) -> object:
        """Identifies the digit shown (corrections of the same digit relabel its sample)."""
        d = self._shown()
        if d is None:
            return None
        if self._image is not None:
            return ("image", self._image[0], d.box)
        strokes = self.pad.strokes()
        return tuple(strokes[i] for i in d.strokes if i < len(strokes))

    def sample_strokes(self) -> list[StrokeData] | None:
        """The shown digit's strokes moved onto a square pad (centred across), as the
        single-digit pad would have them; None for a picture."""
        d = self._shown()
        if d is None or self._image is not None:
            return None
        all_strokes = self.pad.strokes()
        strokes = [all_strokes[i] for i in d.strokes if i < len(all_strokes)]
        if not strokes:
            return None
        xs = [x for s in strokes for x, _ in s.points]
        shift = 0.5 - (min(xs) + max(xs)) / 2
        return [(tuple((x + shift, y) for x, y in s.points), s.width) for s in strokes]

    # -- showing ----------------------------------------------------------
    def _current_reader(self) -> NumberReader | None:
        predictor = self.live.active_predictor()
        if predictor is None:
            self._reader = None
        elif self._reader is None or self._reader.predictor is not predictor:
            self._reader = NumberReader(predictor, self.judge)
        elif self._reader.judge is not self.judge:
            self._reader.judge = self.judge
            self._reader.forget()
        return self._reader

    def _shown(self) -> DigitReading | None:
        digits = self.view.reading().digits
        if self._hover is not None and self._hover < len(digits):
            return digits[self._hover]
        return self.selected_digit()

    def _show(self) -> None:
        reading = self.view.reading()
        selected = self.view.selected()
        if self._image is not None:
            area = self.pad.background_rect()
            w, h = self._image[2]
            sx, sy = area.width() / max(w, 1), area.height() / max(h, 1)
            rects = [QRectF(area.x() + d.box[0] * sx, area.y() + d.box[1] * sy,
                            (d.box[2] - d.box[0]) * sx, (d.box[3] - d.box[1]) * sy) for d in reading.digits]
        else:
            u = 1.0 / BUFFER_SIZE
            rects = [QRectF(d.box[0] * u, d.box[1] * u, (d.box[2] - d.box[0]) * u, (d.box[3] - d.box[1]) * u)
                     for d in reading.digits]
        self.pad.set_marks([(r, d.text, i == selected)
                            for i, (r, d) in enumerate(zip(rects, reading.digits, strict=True))])
        d = self._shown()
        if d is not None:
            self.live.show_input(d.x, d.probabilities, d.text, d.verdict)
        elif reading.digits:
            self.live.show_input(None, None, f"Number {reading.number}: click a digit")
        else:
            self.live.show_input(None, None, self.view.message() or "Write a number")

    @Slot(int)
    def _selected(self, _index: int) -> None:
        self._show()

    @Slot(int)
    def _hovered(self, index: int) -> None:
        self._hover = index if index >= 0 else None
        self._show()

    # -- pictures ---------------------------------------------------------
    def open_image(self, path: str | Path) -> bool:
        """Read the number in a picture and show it on the strip, each digit boxed."""
        p = Path(path)
        reader = self._current_reader()
        if reader is None:
            self.feedback.error("Cannot read the image", "No model is loaded.")
            return False
        opened = open_picture(p, reader.read_image, self.feedback)
        if opened is None:
            return False
        img, reading = opened
        self.prefs.remember_directory(p.parent)
        self._image = (p.name, reading, img.size)
        self.view.select(None)
        self.pad.show_image(pil_to_qimage(img), p.name)  # (the live prediction updates)
        self.live.update()
        if reading.number is None:
            self.feedback.status(f"{p.name}: {NO_DIGITS} (nothing that looks like writing).", 10000)
        else:
            self.feedback.status(f"{p.name}: read {reading.number}", 8000)
        return True
