"""Number mode: the pad becomes a wide strip, and the number written on it is read live.

:class:`NumberMode` owns the mode's state (the reading, the selected digit, an opened
picture's reading) and reads with :class:`app.core.number.NumberReader`: the same
preprocessing and the same model as the single-digit pad, digit by digit. It is given what
it needs (the pad, the number view, the model in use, a place to show one digit's
probabilities, the personal samples) and knows nothing of the window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRectF, Qt, Signal

from app.core.errors import DigitPadError
from app.core.number import NO_DIGITS, DigitReading, Judge, NumberReader, NumberReading
from app.core.preprocess import load_image
from app.core.samples import SampleStore
from app.ui.ink import BUFFER_SIZE
from app.ui.number_view import NumberView
from app.ui.pad import DrawingPad

log = logging.getLogger(__name__)


class NumberMode(QObject):
    """Reads the strip while the mode is on; corrections and Explain work on one digit."""

    reading_changed = Signal()  # after every reading (or clearing of it)
    _requested = Signal()  # queued: one reading for however many pad changes came in

    def __init__(self, pad: DrawingPad, view: NumberView, predictor: Callable[[], Any],
                 show_digit: Callable[[DigitReading | None], None],
                 status: Callable[[str], None], show_error: Callable[[str, str], None],
                 samples: SampleStore, samples_changed: Callable[[], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pad, self.view = pad, view
        self._predictor, self._show_digit = predictor, show_digit
        self._status, self._show_error = status, show_error
        self.samples, self._samples_changed = samples, samples_changed
        self.judge: Judge | None = None  # says when a digit is not a digit (shown "?")
        self.active = False
        self.last_update_ms = 0.0  # the last reading: split, preprocess, predict, show
        self._reader: NumberReader | None = None
        self._image: tuple[str, NumberReading, tuple[int, int]] | None = None  # name, reading, size
        self._pending = False
        self._saved: dict[object, int] = {}  # a digit's ink -> the sample it was saved as
        self._requested.connect(self._run_scheduled, Qt.ConnectionType.QueuedConnection)
        pad.changed.connect(self.schedule)
        view.digitSelected.connect(lambda _i: self._show_current())
        view.digitHovered.connect(self._hovered)
        view.hide()

    # -- mode -------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        """Turn the strip on or off; nothing of the other mode's drawing or reading stays."""
        if on == self.active:
            return
        self.active = on
        self._image = None
        self._saved.clear()
        self.view.set_reading(NumberReading())
        self.view.select(None)
        self.view.setVisible(on)
        self.pad.set_marks([])
        self.pad.set_strip(on)
        if on:
            self.update()

    def selected_digit(self) -> DigitReading | None:
        """The selected digit (the only one when there is one), or None."""
        digits = self.view.reading().digits
        i = self.view.selected()
        if i is None and len(digits) == 1:
            i = 0
        return digits[i] if i is not None and i < len(digits) else None

    # -- reading ----------------------------------------------------------
    def schedule(self) -> None:
        if self.active and not self._pending:
            self._pending = True
            self._requested.emit()

    def _run_scheduled(self) -> None:
        if self._pending:
            self.update()

    def reader(self) -> NumberReader | None:
        predictor = self._predictor()
        if predictor is None:
            self._reader = None
        elif self._reader is None or self._reader.predictor is not predictor:
            self._reader = NumberReader(predictor, self.judge)
        elif self._reader.judge is not self.judge:
            self._reader.judge = self.judge
            self._reader.forget()
        return self._reader

    def update(self) -> None:
        """Read the strip (or the opened picture) now and show the number."""
        self._pending = False
        if not self.active:
            return
        t0 = time.perf_counter()
        if self._image is not None and not self.pad.has_background():
            self._image = None  # drawing replaced the picture
        reader = self.reader()
        message = NO_DIGITS
        if self._image is not None:
            reading = self._image[1]
            message = f"{self._image[0]}: {NO_DIGITS}"
        elif reader is None:
            reading, message = NumberReading(), "No model loaded"
        else:
            try:
                strokes = [(np.asarray(s.points, dtype=np.float64) * BUFFER_SIZE, s.width * BUFFER_SIZE)
                           for s in self.pad.all_strokes()]
                reading = reader.read_drawing(self.pad.pixels(), strokes)
            except Exception as exc:  # a model that fails must not take the window down
                log.exception("reading the number failed")
                self._reader = None
                reading = NumberReading()
                self._show_error("Reading failed", f"The model could not read the number: {exc}")
        self.view.set_reading(reading, message)
        self._show_marks(reading)
        self._show_current()
        self.last_update_ms = (time.perf_counter() - t0) * 1000.0
        self.reading_changed.emit()

    def _show_marks(self, reading: NumberReading) -> None:
        selected = self.view.selected()
        if self._image is not None:
            area = self.pad.background_rect()
            w, h = self._image[2]
            sx, sy = area.width() / max(w, 1), area.height() / max(h, 1)
            rects = [QRectF(area.x() + d.box[0] * sx, area.y() + d.box[1] * sy,
                            (d.box[2] - d.box[0]) * sx, (d.box[3] - d.box[1]) * sy)
                     for d in reading.digits]
        else:
            u = 1.0 / BUFFER_SIZE
            rects = [QRectF(d.box[0] * u, d.box[1] * u, (d.box[2] - d.box[0]) * u,
                            (d.box[3] - d.box[1]) * u) for d in reading.digits]
        self.pad.set_marks([(r, d.text, i == selected)
                            for i, (r, d) in enumerate(zip(rects, reading.digits, strict=True))])

    def _show_current(self) -> None:
        if self.active:
            self._show_marks(self.view.reading())
            self._show_digit(self.selected_digit())

    def _hovered(self, index: int) -> None:
        digits = self.view.reading().digits
        if 0 <= index < len(digits):
            self._show_digit(digits[index])
        else:
            self._show_digit(self.selected_digit())

    def clear(self) -> None:
        """Esc: an empty strip, nothing read, nothing selected."""
        self._image = None
        self.view.select(None)
        self.pad.clear()
        self.update()

    # -- pictures ---------------------------------------------------------
    def open_image(self, path: str | Path, to_qimage: Callable[[Any], Any]) -> bool:
        """Read the number in a picture and show it on the strip with each digit's box."""
        p = Path(path)
        reader = self.reader()
        if reader is None:
            self._show_error("Cannot read the image", "No model is loaded.")
            return False
        try:
            img = load_image(p)
            reading = reader.read_image(img)
        except DigitPadError as exc:
            self._show_error("Cannot open image", str(exc))
            return False
        except Exception as exc:
            log.exception("reading %s failed", p)
            self._show_error("Cannot open image", f"{p.name}: {exc}")
            return False
        self.pad.show_image(to_qimage(img), p.name)
        self._image = (p.name, reading, img.size)
        self._saved.clear()
        self.view.select(None)
        self.update()
        if reading.number is None:
            self._status(f"{p.name}: {NO_DIGITS} (no ink that looks like writing in this image).")
        else:
            self._status(f"{p.name}: read {reading.number}")
        return True

    # -- corrections ------------------------------------------------------
    def correct(self, digit: int) -> Any:
        """The selected digit is a ``digit``: keep it as a personal sample (pressing another
        key for the same digit changes its label). Returns the Sample or None."""
        d = self.selected_digit()
        if d is None or self.pad.is_drawing():
            self._status("Click a digit of the number first, then press the right digit key.")
            return None
        key: object = ("image", self._image[0], d.box) if self._image is not None else \
            tuple(self.pad.strokes()[i] for i in d.strokes)
        try:
            sid = self._saved.get(key)
            if sid is not None and sid in self.samples.ids():
                self.samples.relabel([sid], digit)
                sample = self.samples.get(sid)
            else:
                sample = self.samples.add(d.x, digit, None if self._image is not None
                                          else self._digit_strokes(d))
                self._saved[key] = sample.id
        except DigitPadError as exc:
            self._show_error("Cannot save the sample", str(exc))
            return None
        extra = "" if d.digit == digit and d.is_digit else f" (read as {d.text})"
        self._status(f"Saved this digit as a {digit}{extra} — {len(self.samples)} samples of "
                     "your handwriting.")
        self._samples_changed()
        return sample

    def _digit_strokes(self, d: DigitReading) -> list[tuple[tuple[tuple[float, float], ...], float]]:
        """The digit's strokes moved onto a square pad (centred across), as the single-digit
        pad would have them."""
        strokes = [self.pad.strokes()[i] for i in d.strokes if i < len(self.pad.strokes())]
        if not strokes:
            return []
        xs = [x for s in strokes for x, _ in s.points]
        shift = 0.5 - (min(xs) + max(xs)) / 2
        return [(tuple((x + shift, y) for x, y in s.points), s.width) for s in strokes]
