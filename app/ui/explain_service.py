"""What the Explain panel shows, computed off the GUI thread: :func:`explain` makes an
:class:`ExplainResult` (saliency, first-layer activations, layers) for an
:class:`ExplainRequest` (a drawing and the weights to explain it with), and
:class:`ExplainService` runs it in one worker for the session, the newest request first."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

from app.core.explain import Anatomy, Saliency, first_layer_activations, occlusion_saliency, read_anatomy
from app.core.inference import DigitPredictor, Predictor
from app.ui.jobs import Jobs
from app.ui.worker import LatestRequestWorker

log = logging.getLogger(__name__)

KIND = "explain"  # the explain worker's name in the registry of running jobs


@dataclass
class ExplainRequest:
    seq: int
    x: np.ndarray  # (28, 28) float32
    tflite_path: str | None  # the model to explain (None: use ``predictor``)
    keras_path: str | None  # for the layers and first-layer weights (None: use ``anatomy``)
    anatomy: Anatomy | None = None  # given for the weights in training
    label: str = ""
    predictor: DigitPredictor | None = None  # given for the weights in training (thread-safe)
    not_a_digit: bool = False  # the window's verdict: "not a digit"


@dataclass
class ExplainResult:
    seq: int
    label: str = ""
    x: np.ndarray | None = None
    saliency: Saliency | None = None
    anatomy: Anatomy | None = None
    activations: np.ndarray | None = None
    anatomy_error: str = ""
    error: str = ""
    seconds: float = 0.0
    not_a_digit: bool = False


class _Models:
    """LiteRT interpreters and layer descriptions of the models explained lately. Used by the
    service's one explain worker only (on its thread)."""

    def __init__(self) -> None:
        self._predictors: OrderedDict[str, Predictor] = OrderedDict()
        self._anatomies: OrderedDict[tuple[str, float], Anatomy | str] = OrderedDict()

    def predictor(self, path: str) -> Predictor:
        p = self._predictors.get(path)
        if p is None:
            p = Predictor(path, num_threads=1)
            self._predictors[path] = p
            while len(self._predictors) > 3:
                self._predictors.popitem(last=False)
        return p

    def anatomy(self, keras_path: str) -> Anatomy | str:
        try:
            key = (keras_path, Path(keras_path).stat().st_mtime)
        except OSError as exc:
            return f"cannot read the model file ({exc.strerror or exc})"
        found = self._anatomies.get(key)
        if found is None:
            try:
                found = read_anatomy(keras_path)
            except ValueError as exc:
                found = str(exc)
            self._anatomies[key] = found
            while len(self._anatomies) > 4:
                self._anatomies.popitem(last=False)
        return found


def explain(req: ExplainRequest, models: _Models) -> ExplainResult:
    """Explain one drawing (in a worker); a broken model becomes a message in the result."""
    t0 = time.perf_counter()
    out = ExplainResult(seq=req.seq, label=req.label, x=req.x, not_a_digit=req.not_a_digit)
    try:
        if req.predictor is not None:
            predictor = req.predictor
        elif req.tflite_path is not None:
            predictor = models.predictor(req.tflite_path)
        else:
            raise ValueError("nothing to explain with")
        out.saliency = occlusion_saliency(predictor.predict_batch, req.x)
        anatomy: Anatomy | str | None = req.anatomy
        if anatomy is None and req.keras_path:
            anatomy = models.anatomy(req.keras_path)
        if isinstance(anatomy, Anatomy):
            out.anatomy = anatomy
            if anatomy.first is not None:
                out.activations = first_layer_activations(anatomy.first, req.x)
            else:
                out.anatomy_error = anatomy.note
        else:
            out.anatomy_error = anatomy or "no Keras file for these weights"
    except Exception as exc:  # a broken model: say so in the panel, never crash
        log.debug("explaining failed", exc_info=True)
        out.error = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    out.seconds = time.perf_counter() - t0
    return out


class ExplainService(QObject):
    """One explain worker (:class:`app.ui.worker.LatestRequestWorker`), started at the first
    request and kept until :meth:`stop`: it explains one drawing at a time, and of the requests
    that arrive meanwhile only the newest."""

    explained = Signal(object)  # ExplainResult, on the GUI thread

    def __init__(self, jobs: Jobs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self._models = _Models()
        self._worker: LatestRequestWorker | None = None  # while it runs
        self._submitted = 0  # requests handed to the worker
        self._answered = 0  # the newest request once answered
        self._stopped = False

    def is_busy(self) -> bool:
        """The newest request is still waiting or being explained."""
        return self._answered != self._submitted

    def submit(self, req: ExplainRequest) -> None:
        if self._stopped:
            return
        if self._worker is None:
            models = self._models
            self._worker = LatestRequestWorker(lambda r: explain(r, models))
            self._worker.signals.answered.connect(self._on_answer, Qt.ConnectionType.QueuedConnection)
            self.jobs.start(KIND, self._worker, self._ended)
        self._submitted += 1
        self._worker.put(self._submitted, req)

    def stop(self) -> None:
        """Finish the current request (a few ms) and explain nothing more."""
        self._stopped = True
        self.jobs.wait(KIND)
        self._answered = self._submitted

    @Slot(int, object)
    def _on_answer(self, number: int, result: ExplainResult) -> None:
        if self._stopped:
            return
        if number == self._submitted:
            self._answered = number
        self.explained.emit(result)

    def _ended(self) -> None:
        self._worker = None
        self._answered = self._submitted
