"""The registry of running workers: each runs on a QThread of its own, is kept until that
thread has ended, and is waited for on close. :func:`running_threads` lists the threads still
running (the tests fail if one outlives a test).

The workers themselves are :mod:`app.ui.worker` (superqt's ``WorkerBase``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.errors import DigitPadError

log = logging.getLogger(__name__)

_threads: set[QThread] = set()
# superqt's WorkerBase.run() redirects the process's warnings while a worker runs; when workers
# overlap, the last to end can leave another's redirect in place. The process's warning
# handling is saved when the first job starts and restored when the last one has ended.
_jobs_running = 0
_warnings_saved: warnings.catch_warnings[None] | None = None


def running_threads() -> list[QThread]:
    """Worker threads that are still running."""
    return [t for t in list(_threads) if shiboken6.isValid(t) and t.isRunning()]


def error_text(exc: BaseException) -> str:
    """What the user is told about an exception raised by a worker (no traceback)."""
    if isinstance(exc, DigitPadError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory. Try a smaller batch size or fewer training images."
    log.error("worker failed", exc_info=exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"Unexpected error ({type(exc).__name__}){': ' + text if text else ''}"[:500]


class Job(Protocol):
    """What the registry needs of a worker (:class:`app.ui.worker.Worker` has it)."""

    signals: Any  # with a ``finished`` signal

    def run(self) -> None: ...

    def cancel(self) -> None: ...


class _Thread(QThread):
    def __init__(self, worker: Job, name: str, parent: QObject) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._worker = worker

    def run(self) -> None:
        self._worker.run()


class _Running(QObject):
    """A running worker with its thread; says ``ended`` on the GUI thread once the worker has
    finished. (No reference back to the registry: a signal, so no cycle to collect.)"""

    ended = Signal(object)  # this _Running

    def __init__(self, parent: QObject, kind: str, worker: Job, thread: _Thread,
                 done: Callable[[], None] | None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.worker: Job | None = worker
        self.qthread: _Thread | None = thread
        self.done = done

    @Slot()
    def on_finished(self) -> None:
        self.ended.emit(self)


class Jobs(QObject):
    """The running workers, by kind ("training", "import", "evaluate", "explain")."""

    changed = Signal()  # a job started or ended (buttons that depend on it update)
    HEAVY = ("training", "import")  # TensorFlow jobs: one at a time

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[str, _Running] = {}
        self.closing = False  # set by shutdown(): results that still arrive are not shown

    def start(self, kind: str, worker: Job, done: Callable[[], None] | None = None) -> None:
        """Run ``worker`` on a new thread; ``done()`` runs on the GUI thread once that thread has
        ended (after the worker's ``returned``/``errored`` have been delivered)."""
        if kind in self._jobs:
            raise RuntimeError(f"a {kind} job is already running")
        if kind in self.HEAVY:
            from app.core.tf import reserve_core_for_gui

            reserve_core_for_gui()  # TensorFlow trains, imports and exports beside the GUI
        global _jobs_running, _warnings_saved
        if _jobs_running == 0:
            _warnings_saved = warnings.catch_warnings()
            _warnings_saved.__enter__()
        _jobs_running += 1
        thread = _Thread(worker, f"digitpad-{kind}", self)
        job = _Running(self, kind, worker, thread, done)
        job.ended.connect(self._end)
        worker.signals.finished.connect(job.on_finished)
        self._jobs[kind] = job
        _threads.add(thread)
        thread.start()
        self.changed.emit()

    def running(self, kind: str) -> bool:
        return kind in self._jobs

    def busy(self) -> bool:
        """A TensorFlow job (training, fine-tuning, import) is running."""
        return any(k in self._jobs for k in self.HEAVY)

    def wait(self, kind: str) -> None:
        """Cancel the job ``kind``, wait for its thread and run its ``done`` now."""
        job = self._jobs.get(kind)
        if job is not None and job.worker is not None:
            job.worker.cancel()
            self._end(job)

    def shutdown(self) -> None:
        """Cancel every job, then wait for each thread (saves are atomic: nothing is half-written)."""
        self.closing = True
        for job in list(self._jobs.values()):
            if job.worker is not None:
                job.worker.cancel()
        for job in list(self._jobs.values()):
            self._end(job)

    @Slot(object)
    def _end(self, job: _Running) -> None:
        if self._jobs.get(job.kind) is not job:
            return  # already ended (waited for on close)
        thread = job.qthread
        if thread is not None and shiboken6.isValid(thread):
            thread.wait()
            thread.setParent(None)
            thread.deleteLater()
        _threads.discard(thread)
        global _jobs_running, _warnings_saved
        _jobs_running -= 1
        if _jobs_running == 0 and _warnings_saved is not None:
            _warnings_saved.__exit__(None, None, None)
            _warnings_saved = None
        del self._jobs[job.kind]
        done, job.done, job.worker, job.qthread = job.done, None, None, None
        job.deleteLater()
        self.changed.emit()
        if done is not None:
            done()
