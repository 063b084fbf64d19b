"""The core's Qt-free :class:`~app.core.training.TrainingListener`, bridged to a worker's signals.

Batches are throttled (at most every :data:`PROGRESS_INTERVAL`) and reach the GUI thread as
:class:`TrainProgress` through queued signals; Cancel reaches the training as ``should_stop``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Signal

from app.core.training import TrainConfig, TrainingListener
from app.ui.worker import Worker, WorkerSignals

PROGRESS_INTERVAL = 0.05  # seconds between progress signals (the GUI is not flooded)
SMOOTHING = 0.15  # weight of the newest batch in the curves' moving average

CurvePoint = tuple[float, float | None, float | None]  # (x in epochs, loss, accuracy)


@dataclass(frozen=True)
class TrainProgress:
    """Where a training is: batch ``done`` of ``total``, the latest logs, new curve points."""

    epoch: int
    epochs: int
    step: int
    steps: int
    done: int
    total: int
    logs: dict[str, float] = field(default_factory=dict)
    batches: list[CurvePoint] = field(default_factory=list)
    elapsed: float = 0.0
    eta: float | None = None


class TrainingSignals(WorkerSignals):
    training_started = Signal(int, int)  # epochs, steps per epoch
    progress = Signal(object)  # TrainProgress
    epoch_done = Signal(int, object)  # epoch (0-based), logs dict[str, float]
    live_weights = Signal(object)  # app.core.live.LiveWeights: the weights in training


class ProgressListener(TrainingListener):
    """Forwards the core's callbacks to ``worker``'s signals; honours its Cancel."""

    def __init__(self, worker: Worker[Any]) -> None:
        self.worker = worker
        self.signals: TrainingSignals = worker.signals  # type: ignore[assignment]
        self.epochs = 1
        self.steps = 1
        self.t0 = time.perf_counter()
        self.last_emit = 0.0
        self.pending: list[CurvePoint] = []
        self._means: dict[str, float] = {}
        self._ema: dict[str, float] = {}

    def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
        self.epochs, self.steps = max(1, epochs), max(1, steps_per_epoch)
        self.t0 = time.perf_counter()
        self.signals.training_started.emit(self.epochs, self.steps)

    def _smooth(self, key: str, step: int, mean: float | None) -> float | None:
        """Keras logs the mean over the epoch so far; recover this batch's value
        (k*m_k - (k-1)*m_(k-1)) and smooth it, so the curve does not jump at each epoch."""
        if mean is None:
            return None
        k = step + 1
        prev = self._means.get(key, 0.0) if k > 1 else 0.0
        self._means[key] = mean
        raw = k * mean - (k - 1) * prev
        ema = self._ema.get(key)
        ema = raw if ema is None else ema + SMOOTHING * (raw - ema)
        self._ema[key] = ema
        return ema

    def on_batch(self, epoch: int, step: int, steps_per_epoch: int, logs: dict[str, float]) -> None:
        loss = self._smooth("loss", step, logs.get("loss"))
        acc = self._smooth("accuracy", step, logs.get("accuracy"))
        self.pending.append(((epoch + (step + 1) / self.steps), loss, acc))
        now = time.perf_counter()
        if now - self.last_emit >= PROGRESS_INTERVAL or step + 1 >= steps_per_epoch:
            self.last_emit = now
            done = epoch * self.steps + step + 1
            total = self.epochs * self.steps
            elapsed = now - self.t0
            batches, self.pending = self.pending, []
            self.signals.progress.emit(TrainProgress(
                epoch=epoch, epochs=self.epochs, step=step, steps=self.steps, done=done, total=total,
                logs=dict(logs), batches=batches, elapsed=elapsed,
                eta=elapsed * (total - done) / done if done else None))

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self.signals.epoch_done.emit(epoch, dict(logs))

    def on_status(self, text: str) -> None:
        self.signals.status.emit(text)

    def should_stop(self) -> bool:
        return self.worker.is_cancelled()
