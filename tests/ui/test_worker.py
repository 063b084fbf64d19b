"""The one worker shape (app.ui.worker) and the registry (app.ui.jobs): results, errors, cancel,
one job per kind, every thread waited for; superqt comes with the window, not at a click."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject, Qt, Slot

from app.core.errors import DatasetError
from app.ui.jobs import Jobs, error_text, running_threads
from app.ui.worker import FunctionWorker, LatestRequestWorker, Worker
from tests import ui_helpers
from tests.ui_helpers import in_fresh_window

no_threads_left = ui_helpers.no_threads_left


class _Receiver(QObject):
    """Lives on the GUI thread and records what the worker reported there."""

    def __init__(self) -> None:
        super().__init__()
        self.returned: list[object] = []
        self.errored: list[BaseException] = []
        self.status: list[str] = []
        self.threads: list[bool] = []

    @Slot(object)
    def on_returned(self, value: object) -> None:
        self.threads.append(threading.current_thread() is threading.main_thread())
        self.returned.append(value)

    @Slot(object)
    def on_errored(self, exc: BaseException) -> None:
        self.errored.append(exc)

    @Slot(str)
    def on_status(self, text: str) -> None:
        self.status.append(text)


def _connect(worker: Worker[object], r: _Receiver) -> None:
    q = Qt.ConnectionType.QueuedConnection
    worker.signals.returned.connect(r.on_returned, q)
    worker.signals.errored.connect(r.on_errored, q)
    worker.signals.status.connect(r.on_status, q)


def test_a_worker_returns_on_its_own_thread_and_reports_on_the_gui_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    jobs, r, done = Jobs(), _Receiver(), []
    seen: list[bool] = []

    def work(w: Worker[int]) -> int:
        seen.append(threading.current_thread() is threading.main_thread())
        w.say("halfway")
        return 42

    worker = FunctionWorker(work)
    _connect(worker, r)
    jobs.start("evaluate", worker, lambda: done.append(jobs.running("evaluate")))
    assert jobs.running("evaluate") and not jobs.busy()  # evaluating needs no TensorFlow
    with pytest.raises(RuntimeError, match="already running"):
        jobs.start("evaluate", FunctionWorker(lambda w: 0))
    qtbot.waitUntil(lambda: done == [False], timeout=10_000)
    assert seen == [False] and r.threads == [True]
    assert r.returned == [42] and r.status == ["halfway"] and r.errored == []
    assert running_threads() == []


def test_an_error_becomes_one_message_and_the_thread_ends(qtbot) -> None:  # type: ignore[no-untyped-def]
    jobs, r, done = Jobs(), _Receiver(), []

    def fail(_w: Worker[None]) -> None:
        raise DatasetError("The MNIST file is damaged.")

    def crash(_w: Worker[None]) -> None:
        raise KeyError("surprise")

    for kind, fn in (("import", fail), ("training", crash)):
        worker = FunctionWorker(fn)
        _connect(worker, r)
        jobs.start(kind, worker, lambda: done.append(1))
        assert jobs.busy()  # a TensorFlow job
        qtbot.waitUntil(lambda: not jobs.busy(), timeout=10_000)
    assert [error_text(e) for e in r.errored] == [
        "The MNIST file is damaged.", "Unexpected error (KeyError): 'surprise'"]
    assert error_text(MemoryError()).startswith("Out of memory.")
    assert r.returned == [] and done == [1, 1] and running_threads() == []


def test_shutdown_cancels_waits_and_finishes_every_job(qtbot) -> None:  # type: ignore[no-untyped-def]
    jobs, r, done = Jobs(), _Receiver(), []
    started = threading.Event()

    def until_cancelled(w: Worker[str]) -> str:
        started.set()
        while not w.is_cancelled():
            threading.Event().wait(0.01)
        return "stopped"

    worker = FunctionWorker(until_cancelled)
    _connect(worker, r)
    jobs.start("training", worker, lambda: done.append(running_threads()))
    assert started.wait(10)
    jobs.shutdown()  # returns only once the thread has ended
    assert done == [[]] and jobs.closing and not jobs.running("training")
    assert running_threads() == []
    qtbot.wait(50)
    assert r.returned == []  # a cancelled worker returns nothing


def test_superqt_is_loaded_with_the_window_not_at_a_click(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """superqt and qtpy hold the GUI thread while they import: they come with the window,
    before it shows, so no click (or later moment) freezes it for them; TensorFlow does not
    (fresh interpreter)."""
    out = in_fresh_window(
        "names = ('superqt', 'qtpy', 'app.ui.worker', 'tensorflow')\n"
        "print(sorted(m for m in names if m in sys.modules), w.jobs.busy())\n", tmp_path)
    assert out.strip().split("\n")[-1] == "['app.ui.worker', 'qtpy', 'superqt'] False"


def test_overlapping_workers_leave_the_warnings_as_they_were(qtbot) -> None:  # type: ignore[no-untyped-def]
    """WorkerBase.run() redirects warnings while it runs; the first of two overlapping workers
    to end must not leave the second's redirect (or its filter) in place."""
    import warnings

    before = (warnings.showwarning, list(warnings.filters))
    jobs = Jobs()
    a_started, b_started = threading.Event(), threading.Event()

    def first(_w: Worker[int]) -> int:
        a_started.set()
        b_started.wait(10)
        return 1

    def second(_w: Worker[int]) -> int:
        b_started.set()
        threading.Event().wait(0.3)  # ends after the first
        return 2

    jobs.start("evaluate", FunctionWorker(first))
    assert a_started.wait(10)
    jobs.start("explain", FunctionWorker(second))
    qtbot.waitUntil(lambda: not jobs.running("evaluate") and not jobs.running("explain"), timeout=10_000)
    assert (warnings.showwarning, list(warnings.filters)) == before


def test_a_latest_request_worker_answers_on_one_thread_and_the_newest_request_wins(qtbot) -> None:  # type: ignore[no-untyped-def]
    jobs, answered, threads = Jobs(), [], set()
    busy, release = threading.Event(), threading.Event()

    def answer(request: str) -> str:
        threads.add(threading.get_ident())
        if request == "first":
            busy.set()
            assert release.wait(10)
        return request.upper()

    worker = LatestRequestWorker(answer)
    worker.signals.answered.connect(lambda n, a: answered.append((n, a)), Qt.ConnectionType.QueuedConnection)
    jobs.start("explain", worker)
    worker.put(1, "first")
    assert busy.wait(10)
    worker.put(2, "second")  # replaced before the worker is free: never answered
    worker.put(3, "third")
    release.set()
    qtbot.waitUntil(lambda: len(answered) == 2, timeout=10_000)
    worker.put(4, "fourth")
    qtbot.waitUntil(lambda: len(answered) == 3, timeout=10_000)
    assert answered == [(1, "FIRST"), (3, "THIRD"), (4, "FOURTH")]
    assert len(threads) == 1 and jobs.running("explain")  # one thread, still waiting for more
    jobs.wait("explain")  # cancel wakes it: it ends at once
    assert not jobs.running("explain") and running_threads() == []
