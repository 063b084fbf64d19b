"""GUI responsiveness while training: a 10 ms heartbeat on the GUI thread.

The real main window (offscreen), default training started by clicking the real Train
button (``MainWindow.train_config`` = ``TrainConfig()`` in a fresh DigitPad home), run by
the real worker thread. A 10 ms ``QTimer`` (precise) on the GUI thread records when it
fires; a gap much longer than 10 ms is a stall the user would feel. The figure is the
first full epoch (from the first batch to the end of epoch 1, as the window sees the
worker's signals); loading TensorFlow, later epochs and saving the model are reported
too. The training runs to the end (the new model is saved in the temporary home).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from typing import Any

from bench import Figure, at_most, info, median, percentile, script_main, setup_offscreen

GOAL_MAX_MS = 50.0
GOAL_P99_MS = 25.0
HEARTBEAT_MS = 10


def gaps_between(ticks: list[float], start: float, end: float) -> list[float]:
    """Gaps (ms) between successive ticks, counting only ticks within [start, end]."""
    inside = [t for t in ticks if start <= t <= end]
    return [(b - a) * 1000.0 for a, b in itertools.pairwise(inside)]


def measure(timeout: float) -> dict[str, Any]:
    setup_offscreen()
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-heartbeat-") as home:
        os.environ["DIGITPAD_HOME"] = home
        return _measure(timeout)


def _measure(timeout: float) -> dict[str, Any]:
    from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Slot
    from PySide6.QtTest import QTest

    from app.core.training import TrainConfig
    from app.ui.app import create_application
    from app.ui.main_window import MainWindow

    app = create_application([])
    window = MainWindow()
    window.resize(1040, 800)
    window.show()
    for _ in range(20):
        app.processEvents()
    if window.train_config != TrainConfig():
        raise RuntimeError(f"the window's training settings are not the defaults: {window.train_config}")

    marks: dict[str, float] = {}
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))

    class Marks(QObject):
        """Lives on the GUI thread: the worker's signals are timed when the window sees them."""

        @Slot(int, int)
        def started(self, _epochs: int, _steps: int) -> None:
            marks.setdefault("started", time.perf_counter())

        @Slot(object)
        def progress(self, _info: object) -> None:
            marks.setdefault("first_progress", time.perf_counter())

        @Slot(int, object)
        def epoch_done(self, epoch: int, _logs: object) -> None:
            marks.setdefault(f"epoch{epoch}", time.perf_counter())

        @Slot(str)
        def status(self, text: str) -> None:
            if text.startswith("Evaluating"):
                marks.setdefault("evaluating", time.perf_counter())
            if text.startswith("Saving"):
                marks.setdefault("saving", time.perf_counter())

    receiver = Marks()

    result: dict[str, Any] = {}

    def finished(name: object) -> None:
        marks["finished"] = time.perf_counter()
        result["model"] = name

    window.training_finished.connect(finished)
    heartbeat.start()
    for _ in range(10):  # a few beats before the click
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    marks["click"] = time.perf_counter()
    QTest.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    worker = window._train_worker
    if worker is None:
        raise RuntimeError("clicking Train did not start training")
    q = Qt.ConnectionType.QueuedConnection
    worker.training_started.connect(receiver.started, q)
    worker.progress.connect(receiver.progress, q)
    worker.epoch_done.connect(receiver.epoch_done, q)
    worker.status.connect(receiver.status, q)
    deadline = time.perf_counter() + timeout
    while "finished" not in marks:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if time.perf_counter() > deadline:
            window.cancel_training()
            raise RuntimeError(f"training did not finish within {timeout:.0f} s")
    heartbeat.stop()
    cfg = window._train_config_running
    window.close()
    app.processEvents()
    result.update(ticks=ticks, marks=marks, config=cfg, last_error=window.last_error)
    return result


def run(args: argparse.Namespace) -> list[Figure]:
    runs = []
    for _ in range(args.runs):
        r = measure(args.timeout)
        if not r.get("model"):
            raise RuntimeError(f"training through the window did not produce a model: {r.get('last_error')}")
        runs.append(r)
    epoch_max, epoch_p99, load_max, rest_max, save_max, counts = [], [], [], [], [], []
    for r in runs:
        m, t = r["marks"], r["ticks"]
        start = m.get("first_progress", m["started"])
        end = m.get("epoch0", m["finished"])
        g = gaps_between(t, start, end)
        counts.append(len(g))
        epoch_max.append(max(g))
        epoch_p99.append(percentile(g, 99))
        load_max.append(max(gaps_between(t, m["click"], m["started"]) or [0.0]))
        rest_max.append(max(gaps_between(t, end, m.get("evaluating", m["finished"])) or [0.0]))
        save_max.append(max(gaps_between(t, m.get("evaluating", m["finished"]), m["finished"]) or [0.0]))
    r0 = runs[0]
    m0 = r0["marks"]
    epoch_s = m0.get("epoch0", m0["finished"]) - m0["started"]
    cfg = r0["config"]
    detail = (f"{len(runs)} run(s); default training {cfg.arch}, {cfg.epochs} epoch(s), "
              f"batch {cfg.batch_size}; epoch 1 took {epoch_s:.1f} s with the window running "
              f"({counts[0]} beats); "
              f"whole click-to-saved {m0['finished'] - m0['click']:.1f} s")
    return [
        at_most("GUI heartbeat longest gap (epoch 1)", median(epoch_max), GOAL_MAX_MS, "ms", detail,
                runs=epoch_max),
        at_most("GUI heartbeat p99 gap (epoch 1)", median(epoch_p99), GOAL_P99_MS, "ms", runs=epoch_p99),
        info("  longest gap while TensorFlow loads", median(load_max), "ms",
             "click -> training started (importing TensorFlow in the worker thread)", runs=load_max),
        info("  longest gap in later epochs", median(rest_max), "ms", runs=rest_max),
        info("  longest gap while evaluating + saving", median(save_max), "ms",
             "test-set evaluation, .keras + .tflite export", runs=save_max),
    ]


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--runs", type=int, default=1, help="trainings (default 1)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per training")


if __name__ == "__main__":
    sys.exit(script_main(__doc__.splitlines()[0], run, add_args))
