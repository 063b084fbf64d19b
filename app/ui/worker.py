"""Long-running work off the GUI thread: a worker QObject moved to a QThread.

The core's :class:`~app.core.training.TrainingListener` knows nothing of Qt; here
:class:`_SignalListener` bridges it to the worker's signals, which reach the window through
queued connections, so widgets are only ever touched on the GUI thread.

Every thread started with :func:`start_worker` is kept in a registry until
:func:`join_thread` has quit and waited for it; :func:`running_threads` lists those still
running (the tests fail if one outlives a test).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.errors import DigitPadError
from app.core.training import TrainConfig, TrainingListener

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.05  # seconds between progress signals (the GUI is not flooded)
SMOOTHING = 0.15  # weight of the newest batch in the curves' moving average

_threads: set[QThread] = set()


def running_threads() -> list[QThread]:
    """Threads started by :func:`start_worker` that are still running."""
    return [t for t in list(_threads) if shiboken6.isValid(t) and t.isRunning()]


class Worker(QObject):
    """Runs :meth:`work` once on its thread; reports ``succeeded(result)`` or ``failed(text)``."""

    succeeded = Signal(object)
    failed = Signal(str)
    status = Signal(str)
    done = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop (thread-safe; takes effect at the next check)."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def work(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    @Slot()
    def run(self) -> None:
        try:
            result = self.work()
        except DigitPadError as exc:
            self.failed.emit(str(exc))
        except MemoryError:
            self.failed.emit("Out of memory. Try a smaller batch size or fewer training images.")
        except Exception as exc:  # any bug must still reach the user, and the thread must end
            log.exception("worker %s failed", type(self).__name__)
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.failed.emit(f"Unexpected error ({type(exc).__name__}){': ' + text if text else ''}"[:500])
        else:
            self.succeeded.emit(result)
        finally:
            self.done.emit()


class CallWorker(Worker):
    """Runs ``fn(worker)`` on the worker thread."""

    def __init__(self, fn: Callable[[Worker], Any]) -> None:
        super().__init__()
        self._fn = fn

    def work(self) -> Any:
        return self._fn(self)


def start_worker(worker: Worker, parent: QObject, name: str) -> QThread:
    """Move ``worker`` to a new QThread (child of ``parent``) and start it."""
    from app.core.tf import reserve_core_for_gui

    reserve_core_for_gui()  # workers train, import and export with TensorFlow beside the GUI
    thread = QThread(parent)
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.done.connect(thread.quit)
    _threads.add(thread)
    thread.start()
    return thread


def join_thread(thread: QThread | None, timeout_ms: int | None = None) -> bool:
    """quit() and wait() for ``thread``; forget it once it has ended. True if it ended."""
    if thread is None:
        return True
    if not shiboken6.isValid(thread):
        _threads.discard(thread)
        return True
    thread.quit()
    ended = thread.wait() if timeout_ms is None else thread.wait(timeout_ms)
    if ended:
        _threads.discard(thread)
        thread.setParent(None)
        thread.deleteLater()
    return bool(ended)


# -- training ---------------------------------------------------------------------------
class _SignalListener(TrainingListener):
    """The core's listener, forwarding to the worker's Qt signals (throttled per batch)."""

    def __init__(self, worker: TrainingWorker) -> None:
        self.worker = worker
        self.epochs = 1
        self.steps = 1
        self.t0 = time.perf_counter()
        self.last_emit = 0.0
        self.pending: list[tuple[float, float | None, float | None]] = []
        self._means: dict[str, float] = {}
        self._ema: dict[str, float] = {}

    def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
        self.epochs, self.steps = max(1, epochs), max(1, steps_per_epoch)
        self.t0 = time.perf_counter()
        self.worker.training_started.emit(self.epochs, self.steps)

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
        last_of_epoch = step + 1 >= steps_per_epoch
        if now - self.last_emit >= PROGRESS_INTERVAL or last_of_epoch:
            self.last_emit = now
            self._emit(epoch, step, logs, now)

    def _emit(self, epoch: int, step: int, logs: dict[str, float], now: float) -> None:
        done = epoch * self.steps + step + 1
        total = self.epochs * self.steps
        elapsed = now - self.t0
        eta = elapsed * (total - done) / done if done else None
        batches, self.pending = self.pending, []
        self.worker.progress.emit({
            "epoch": epoch, "epochs": self.epochs, "step": step, "steps": self.steps,
            "done": done, "total": total, "logs": dict(logs), "batches": batches,
            "elapsed": elapsed, "eta": eta,
        })

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self.worker.epoch_done.emit(epoch, dict(logs))

    def on_status(self, text: str) -> None:
        self.worker.status.emit(text)

    def should_stop(self) -> bool:
        return self.worker.is_cancelled()


class TrainingWorker(Worker):
    """Trains, evaluates and saves a model; ``succeeded`` carries the new model's name,
    or None when cancelled (nothing is saved then)."""

    training_started = Signal(int, int)  # epochs, steps per epoch
    progress = Signal(object)  # dict, see _SignalListener._emit
    epoch_done = Signal(int, object)  # epoch (0-based), logs
    live_weights = Signal(object)  # app.core.live.LiveWeights: the weights in training, exported

    def __init__(self, config: TrainConfig, home: Path, bundled_dir: Path) -> None:
        super().__init__()
        self.config = config
        self.home = home
        self.bundled_dir = bundled_dir
        self.watch_learning = False  # set before start: export the weights now and then (watch it learn)

    def make_listener(self) -> TrainingListener:
        """The listener for the core: progress signals, plus live exports when watching."""
        listener: TrainingListener = _SignalListener(self)
        if self.watch_learning:
            from app.core.live import LiveExportListener

            listener = LiveExportListener(listener, self.live_weights.emit)
        return listener

    def work(self) -> str | None:
        from app.core.store import ModelStore
        from app.core.training import train_and_save

        # A store of its own: the GUI thread's store is only refreshed after success.
        store = ModelStore(home=self.home, bundled_dir=self.bundled_dir)
        listener = self.make_listener()
        try:
            saved = train_and_save(self.config, listener, store, "DigitPad window")
        finally:
            close = getattr(listener, "close", None)
            if close is not None:
                close()  # the live exports' temporary files
        return None if saved is None else saved.name
