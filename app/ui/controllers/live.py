"""Live prediction: the pad (or an opened image) -> preprocessing -> predictor -> probabilities.

Runs on the GUI thread through LiteRT or NumPy (a fraction of a millisecond), coalesced to
one prediction per batch of mouse moves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage

from app.core.errors import DigitPadError
from app.core.inference import DigitPredictor
from app.core.preprocess import load_image, preprocess
from app.core.samples import StrokeData
from app.core.verdict import DIGIT, NOT_DIGIT
from app.ui.feedback import Feedback, Prefs
from app.ui.pad import DrawingPad
from app.ui.widgets import AnswerView, PreviewView, ProbabilityView

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class LiveView:
    pad: DrawingPad
    probabilities: ProbabilityView
    preview: PreviewView
    answer: AnswerView


class InputSource(Protocol):
    """Reads the pad instead of the single-digit path (number mode): what is predicted, and
    what a correction keeps."""

    def update(self) -> None: ...
    def drawing_key(self) -> object: ...
    def sample_strokes(self) -> list[StrokeData] | None: ...


def open_picture(path: Path, read: Callable[[Image.Image], T], feedback: Feedback
                 ) -> tuple[Image.Image, T] | None:
    """The picture at ``path`` and what ``read`` makes of it; None after telling the user
    why not (a file that is no picture, a read that failed: a message, no traceback)."""
    try:
        img = load_image(path)
        return img, read(img)
    except DigitPadError as exc:
        feedback.error("Cannot open image", str(exc))
    except Exception as exc:
        log.exception("opening %s failed", path)
        feedback.error("Cannot open image", f"{path.name}: {exc}")
    return None


def pil_to_qimage(img: Image.Image) -> QImage:
    """A PIL image (any mode) as a QImage (RGBA), for showing an opened file."""
    rgba = img.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    q = QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888)
    return q.copy()  # own the pixels


class LivePrediction(QObject):
    """Owns what is predicted (the drawing's 28x28 input) and with what (the model in use, or
    the weights in training while watching it learn)."""

    updated = Signal()  # after every prediction (or clearing of it)
    _requested = Signal()  # queued to _run_scheduled (see schedule)

    def __init__(self, view: LiveView, feedback: Feedback, prefs: Prefs,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.feedback = feedback
        self.prefs = prefs
        self.predictor: DigitPredictor | None = None  # the model in use
        self.override: DigitPredictor | None = None  # the weights in training, while watching it learn
        self.current_input: np.ndarray | None = None  # the (28, 28) input last predicted
        self.last_update_ms = 0.0  # duration of the last update (preprocess + predict + show)
        self._image_input: np.ndarray | None = None  # the preprocessed opened image
        self.source: InputSource | None = None  # reads the pad instead (number mode)
        self._pending = False
        self._requested.connect(self._run_scheduled, Qt.ConnectionType.QueuedConnection)
        view.pad.changed.connect(self.schedule)

    def set_model(self, predictor: DigitPredictor | None) -> None:
        self.predictor = predictor
        self.update()

    def set_override(self, predictor: DigitPredictor | None) -> None:
        """Predict with ``predictor`` instead of the model in use (None: back to the model)."""
        self.override = predictor
        self.update()

    def set_source(self, source: InputSource | None) -> None:
        """Let ``source`` read the pad (and show through :meth:`show_input`); None: back to
        predicting the drawing as one digit."""
        self.source = source
        self._image_input = None

    def active_predictor(self) -> DigitPredictor | None:
        """What predicts now: the weights in training while watching it learn, else the model."""
        return self.override if self.override is not None else self.predictor

    def show_input(self, x: np.ndarray | None, probs: np.ndarray | None, hint: str = "",
                   verdict: str = DIGIT) -> None:
        """Show an input read elsewhere (one digit of a number) as the current one."""
        self.current_input = x
        self.view.preview.set_image(x)
        self.view.probabilities.set_probabilities(probs, verdict)
        if probs is not None:
            self.view.answer.show_answer(probs, verdict)
        else:
            self.view.answer.show_hint(hint)
        self.updated.emit()

    def sample_strokes(self) -> list[StrokeData] | None:
        """The strokes a correction keeps with the input (None for an opened image)."""
        if self.source is not None:
            return self.source.sample_strokes()
        pad = self.view.pad
        return None if pad.has_background() else [(s.points, s.width) for s in pad.strokes()]

    def not_a_digit(self) -> bool:
        """Whether the verdict on what is shown now is "not a digit"."""
        return self.view.probabilities.verdict() == NOT_DIGIT

    def drawing_key(self) -> object:
        """Identifies the drawing: equal for the same strokes (or the same opened image)."""
        if self.source is not None:
            return self.source.drawing_key()
        if self.view.pad.has_background():
            return ("image", id(self._image_input))
        return self.view.pad.strokes()

    def schedule(self) -> None:
        # Coalesce: however many moves arrive, one prediction runs for the newest drawing.
        # A queued call (not a 0 ms timer: timers wait for the repaint the move requested)
        # runs once the events already queued are handled, and before that repaint, so the
        # new ink and the new probabilities are painted together.
        if not self._pending:
            self._pending = True
            self._requested.emit()

    @Slot()
    def _run_scheduled(self) -> None:
        if self._pending:  # (not already done by a direct update())
            self.update()

    def update(self) -> None:
        """Preprocess the drawing (or opened image), predict and show the result now."""
        t0 = time.perf_counter()
        self._pending = False
        if self.source is not None:
            self.source.update()
            return
        pad = self.view.pad
        x: np.ndarray | None
        if pad.has_background():
            x = self._image_input
        else:
            if self._image_input is not None:  # (writing attributes of Qt objects is slow)
                self._image_input = None
            x = None if pad.is_empty() else preprocess(pad.ink_pixels(), ink="light")
        self.current_input = x
        self.view.preview.set_image(x)
        probs: np.ndarray | None = None
        verdict = DIGIT
        predictor = self.active_predictor()
        if x is not None and predictor is not None:
            try:
                probs, not_digit = predictor.read(x)
                verdict = predictor.verdict(not_digit)
            except Exception as exc:  # a broken model must not kill the window
                log.exception("prediction failed")
                if predictor is self.override:
                    self.override = None
                else:
                    self.predictor = None
                self.feedback.error("Prediction failed", f"The model could not predict: {exc}")
        self._show(probs, x, verdict)
        self.last_update_ms = (time.perf_counter() - t0) * 1000.0
        self.updated.emit()

    def _show(self, probs: np.ndarray | None, x: np.ndarray | None, verdict: str = DIGIT) -> None:
        self.view.probabilities.set_probabilities(probs, verdict)
        if probs is not None:
            self.view.answer.show_answer(probs, verdict)
            return
        pad = self.view.pad
        if pad.is_empty() and not pad.has_background():
            hint = "Draw a digit"
        elif x is None and pad.has_background():
            hint = "Nothing to recognise in this image"
        elif x is None:
            hint = "Nothing to recognise yet"
        else:
            hint = "No model loaded"
        self.view.answer.show_hint(hint)

    def clear(self) -> None:
        self._image_input = None
        self.view.pad.clear()
        self.update()

    def open_image(self, path: str | Path) -> bool:
        """Classify an image file: show it on the pad, its 28x28 input and the probabilities."""
        p = Path(path)
        opened = open_picture(p, preprocess, self.feedback)
        if opened is None:
            return False
        img, x = opened
        self.prefs.remember_directory(p.parent)
        self.view.pad.show_image(pil_to_qimage(img), p.name)
        self._image_input = x
        self.update()
        if x is None:
            self.feedback.status(f"{p.name}: no digit found in this image.", 10000)
        else:
            self.feedback.status(f"Opened {p}", 8000)
        return True

    def save_drawing(self, path: str | Path) -> bool:
        """Save the drawing (280x280 grayscale, white ink on black) as PNG (atomically)."""
        p = Path(path)
        if p.suffix.lower() != ".png":
            p = p.with_suffix(p.suffix + ".png") if p.suffix else p.with_suffix(".png")
        tmp = p.with_name(f".{p.name}.tmp.png")
        if not self.view.pad.image().save(str(tmp)):
            self.feedback.error("Cannot save drawing", f"Could not write {p}.")
            tmp.unlink(missing_ok=True)
            return False
        try:
            tmp.replace(p)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.feedback.error("Cannot save drawing", f"Could not write {p}: {exc.strerror or exc}.")
            return False
        self.prefs.remember_directory(p.parent)
        self.feedback.status(f"Saved {p}", 8000)
        return True
