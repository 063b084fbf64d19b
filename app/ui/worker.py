"""The one shape of the window's long work: superqt's ``WorkerBase`` (``run()`` wraps ``work()``
and reports ``returned`` / ``errored`` / ``finished``), run on a QThread by
:class:`app.ui.jobs.Jobs`. Here are that shape, the worker that serves requests one at a time
(Explain), and the workers that train: the core's Qt-free ``TrainingListener`` bridged to
signals (throttled), Cancel answered through ``should_stop``.

Imported with the controllers, so before the window shows: superqt and qtpy hold the GUI
thread while they import, and loaded at a click they froze the window (bench/RESULTS.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import Signal
from superqt.utils import WorkerBase
from superqt.utils._qthreading import WorkerBaseSignals

from app.core import training_process
from app.core.finetune import FineTuneConfig, Scores
from app.core.training import TrainConfig, TrainingListener
from app.core.training_process import Trainer
from app.ui.progress import CurvePoint, FineTuneSummary, JobOutcome, TrainProgress

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


class LatestRequestSignals(WorkerSignals):
    answered = Signal(int, object)  # the request's number, the answer


class LatestRequestWorker(Worker[None]):
    """Serves requests with ``answer(request)`` one at a time until cancelled; a request put
    while another is answered replaces any still waiting (the newest wins). One thread for
    the whole session instead of one per request (Explain follows the drawing this way)."""

    signals: LatestRequestSignals

    def __init__(self, answer: Callable[[Any], Any]) -> None:
        super().__init__(LatestRequestSignals)
        self._answer = answer
        self._wake = threading.Condition()
        self._waiting: tuple[int, Any] | None = None

    def put(self, number: int, request: Any) -> None:
        """Hand over ``request`` (thread-safe); ``answered`` will carry ``number``."""
        with self._wake:
            self._waiting = (number, request)
            self._wake.notify()

    def cancel(self) -> None:
        super().cancel()
        with self._wake:
            self._waiting = None
            self._wake.notify()

    def work(self) -> None:
        while not self.is_cancelled():
            with self._wake:
                while self._waiting is None and not self.is_cancelled():
                    self._wake.wait()
                item, self._waiting = self._waiting, None
            if item is not None and not self.is_cancelled():
                self.signals.answered.emit(item[0], self._answer(item[1]))


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


class ProcessJobWorker(Worker["JobOutcome | None"]):
    """Runs one job of the training process (:mod:`app.core.training_process`), which saves a
    new model and puts it in use only if at least as good as ``current``, the model in use
    when the job started; returns a :class:`JobOutcome`, or None when cancelled (nothing is
    saved then). Subclasses say what the job is (:meth:`job`)."""

    signals: TrainingSignals
    trainer: Trainer | None = None  # the TrainingProcess (or InlineTrainer); None: the shared one

    def __init__(self, home: Path, bundled_dir: Path,
                 signals: type[TrainingSignals] = TrainingSignals) -> None:
        super().__init__(signals)
        self.home = home
        self.bundled_dir = bundled_dir
        self.current: str | None = None  # set before start: the model in use
        self.watch_learning = False  # set before start: hand out the weights in training now and then

    def job(self) -> dict[str, Any]:
        """What the training process is to do."""
        raise NotImplementedError

    def run_job(self) -> dict[str, Any] | None:
        """The training process's answer to :meth:`job` (None: cancelled)."""
        trainer = self.trainer or training_process.shared()
        on_live = self.signals.live_weights.emit if self.watch_learning else None
        return trainer.run(self.job(), ProgressListener(self), on_live)

    def work(self) -> JobOutcome | None:
        result = self.run_job()
        return None if result is None else JobOutcome.of(result)


class TrainingWorker(ProcessJobWorker):
    """Trains a new model with ``config``."""

    def __init__(self, config: TrainConfig, home: Path, bundled_dir: Path) -> None:
        super().__init__(home, bundled_dir)
        self.config = config

    def job(self) -> dict[str, Any]:
        return {"kind": "train", "config": self.config.to_dict(), "home": str(self.home),
                "bundled_dir": str(self.bundled_dir), "current": self.current, "activate": "if-better",
                "watch": self.watch_learning, "trained_by": "DigitPad window"}


class FineTuneSignals(TrainingSignals):
    finetuned = Signal(object)  # FineTuneSummary, just before the worker returns


class FineTuneWorker(ProcessJobWorker):
    """Fine-tunes the model ``base_name`` on the personal samples and saves the result as a new
    model (in use only if at least as good); reports the before/after scores through
    ``finetuned`` (its result window asks, so the training controller does not)."""

    signals: FineTuneSignals

    def __init__(self, home: Path, bundled_dir: Path, base_name: str, config: FineTuneConfig) -> None:
        super().__init__(home, bundled_dir, FineTuneSignals)
        self.base_name = base_name
        self.ft_config = config

    def job(self) -> dict[str, Any]:
        return {"kind": "finetune", "base": self.base_name, "finetune": self.ft_config.to_dict(),
                "home": str(self.home), "bundled_dir": str(self.bundled_dir), "current": self.current,
                "activate": "if-better", "trained_by": "DigitPad window (Train on my drawings)"}

    def work(self) -> JobOutcome | None:
        result = self.run_job()
        if result is None:
            return None
        self.signals.finetuned.emit(FineTuneSummary(
            base=self.base_name, name=str(result["name"]), before=Scores(**result["before"]),
            after=Scores(**result["after"]), holdout_ids=list(result["holdout_ids"]),
            holdout_labels=list(result["holdout_labels"]), train_count=int(result["train_count"]),
            seconds=float(result["seconds"]), epochs=self.ft_config.epochs,
            mnist_images=self.ft_config.mnist_images, activated=bool(result["activated"]),
            comparison=str(result.get("comparison", ""))))
        return replace(JobOutcome.of(result), ask=False)
