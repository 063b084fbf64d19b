"""The one shape of the window's long work: superqt's ``WorkerBase`` (``run()`` wraps ``work()``
and reports ``returned`` / ``errored`` / ``finished``), run on a QThread by
:class:`app.ui.jobs.Jobs`. Here are that shape and the workers that train: the core's Qt-free
``TrainingListener`` bridged to signals (throttled), Cancel answered through ``should_stop``.

Imported when the first job starts (see :mod:`app.ui.jobs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import Signal
from superqt.utils import WorkerBase
from superqt.utils._qthreading import WorkerBaseSignals

from app.core.finetune import FineTuneConfig
from app.core.training import TrainConfig, TrainingListener
from app.ui.progress import CurvePoint, FineTuneSummary, TrainProgress

R = TypeVar("R")

PROGRESS_INTERVAL = 0.05  # seconds between progress signals (the GUI is not flooded)
SMOOTHING = 0.15  # weight of the newest batch in the curves' moving average


class WorkerSignals(WorkerBaseSignals):
    """superqt's signals plus a line of status for the status bar."""

    status = Signal(str)


class Worker(WorkerBase[R]):
    """One piece of long work. Subclasses implement ``work()`` and check :meth:`is_cancelled`."""

    signals: WorkerSignals

    def __init__(self, signals: type[WorkerSignals] = WorkerSignals) -> None:
        super().__init__(SignalsClass=signals)

    def cancel(self) -> None:
        """Ask the work to stop (thread-safe; takes effect at its next check)."""
        self.quit()

    def is_cancelled(self) -> bool:
        return self.abort_requested

    def say(self, text: str) -> None:
        self.signals.status.emit(text)


class FunctionWorker(Worker[R]):
    """Runs ``fn(worker)`` (for jobs that need no signals of their own)."""

    def __init__(self, fn: Callable[[Worker[R]], R]) -> None:
        super().__init__()
        self._fn = fn

    def work(self) -> R:
        return self._fn(self)


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


class TrainingWorker(Worker[str | None]):
    """Trains, evaluates and saves a model (the core's ``train_and_save``); returns the new
    model's name, or None when cancelled (nothing is saved then)."""

    signals: TrainingSignals

    def __init__(self, config: TrainConfig, home: Path, bundled_dir: Path,
                 signals: type[TrainingSignals] = TrainingSignals) -> None:
        super().__init__(signals)
        self.config = config
        self.home = home
        self.bundled_dir = bundled_dir
        self.watch_learning = False  # set before start: hand out the weights in training now and then

    def make_listener(self) -> TrainingListener:
        """The listener for the core: progress signals, plus the live weights when watching."""
        listener: TrainingListener = ProgressListener(self)
        if self.watch_learning:
            from app.core.live import LiveExportListener

            listener = LiveExportListener(listener, self.signals.live_weights.emit)
        return listener

    def work(self) -> str | None:
        from app.core.store import ModelStore
        from app.core.training import train_and_save

        # A store of its own: the GUI thread's store is only refreshed after success.
        store = ModelStore(home=self.home, bundled_dir=self.bundled_dir)
        listener = self.make_listener()
        try:
            saved = train_and_save(self.config, listener, store, "DigitPad window", activate="always")
        finally:
            close = getattr(listener, "close", None)
            if close is not None:
                close()  # the live exports' temporary files
        return None if saved is None else saved.name


class FineTuneSignals(TrainingSignals):
    finetuned = Signal(object)  # FineTuneSummary, just before the worker returns


class FineTuneWorker(TrainingWorker):
    """Fine-tunes the model ``base_name`` on the personal samples and saves the result as a new
    model (made active); reports the before/after scores through ``finetuned``."""

    signals: FineTuneSignals

    def __init__(self, home: Path, bundled_dir: Path, base_name: str, config: FineTuneConfig) -> None:
        super().__init__(TrainConfig(), home, bundled_dir, FineTuneSignals)
        self.base_name = base_name
        self.ft_config = config

    def work(self) -> str | None:
        from app.core.finetune import fine_tune, save_fine_tuned
        from app.core.samples import SampleStore
        from app.core.store import ModelStore

        store = ModelStore(home=self.home, bundled_dir=self.bundled_dir)
        base = store.get(self.base_name)
        store.check_writable()  # a read-only store is found out now, not after fine-tuning
        samples = SampleStore(self.home)
        x, y = samples.arrays()
        listener = self.make_listener()
        try:
            result = fine_tune(base, (x, y, samples.ids()), listener, self.ft_config)
        finally:
            close = getattr(listener, "close", None)
            if close is not None:
                close()
        if result.cancelled or self.is_cancelled() or result.after is None:
            return None
        self.say("Saving the fine-tuned model…")
        entry = save_fine_tuned(store, result, "DigitPad window (Train on my drawings)")
        self.signals.finetuned.emit(FineTuneSummary(
            base=self.base_name, name=entry.name, before=result.before, after=result.after,
            holdout_ids=list(result.holdout_ids), holdout_labels=list(result.holdout_labels),
            train_count=len(result.train_ids), seconds=result.seconds, epochs=self.ft_config.epochs,
            mnist_images=self.ft_config.mnist_images))
        return entry.name
