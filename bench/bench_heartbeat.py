"""GUI responsiveness while training: a 10 ms heartbeat on the GUI thread.

The real main window (offscreen), default training started by clicking the real Train
button (``MainWindow.train_config`` = ``TrainConfig()`` in a fresh DigitPad home), run by
the real worker thread, with the window's default settings ("Watch it learn" on: the
weights in training are copied out twice a second and the drawing is predicted with them
in NumPy, ``app.core.live``); a
second training with "Watch it learn" off is reported too. A 10 ms ``QTimer`` (precise)
on the GUI thread records when it fires; a gap much longer than 10 ms is a stall the user
would feel. The figure is the first full epoch (from the first batch to the end of epoch
1, as the window sees the worker's signals); loading TensorFlow, later epochs and saving
the model are reported too. Each training runs to the end (the new model is saved in the
temporary home).
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


def measure(timeout: float, watch: bool | None = None) -> dict[str, Any]:
    """One training through the window. ``watch``: switch "Watch it learn" (View menu) on
    or off; None leaves the window's default (on)."""
    setup_offscreen()
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-heartbeat-") as home:
        os.environ["DIGITPAD_HOME"] = home
        return _measure(timeout, watch)


def _measure(timeout: float, watch: bool | None) -> dict[str, Any]:
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
    if window.training.config != TrainConfig():
        raise RuntimeError(f"the window's training settings are not the defaults: {window.training.config}")
    action = getattr(getattr(window, "learning", None), "watch_action", None)
    if watch is not None and action is not None:
        action.setChecked(watch)
    watching = bool(action is not None and action.isChecked())

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

    window.training.finished.connect(finished)
    _draw_seven(window)  # something for the weights in training to read
    if window.probability_view.probabilities() is None:
        raise RuntimeError("the drawn digit was not predicted")
    heartbeat.start()
    for _ in range(10):  # a few beats before the click
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    marks["click"] = time.perf_counter()
    QTest.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    worker = window.training.worker()
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
            window.training.cancel()
            raise RuntimeError(f"training did not finish within {timeout:.0f} s")
    heartbeat.stop()
    cfg = window.training.running_config
    window.close()
    app.processEvents()
    live_updates = int(getattr(getattr(window, "learning", None), "live_updates", 0))
    result.update(ticks=ticks, marks=marks, config=cfg, last_error=window.last_error, watching=watching,
                  live_updates=live_updates)
    return result


def _draw_seven(window: Any) -> None:
    """A 7 drawn on the pad with real mouse events (press, moves with the button held, release)."""
    from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    pad = window.pad
    w, h = pad.width(), pad.height()
    corners = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]
    points = [QPointF(w * (x0 + (x1 - x0) * i / 20), h * (y0 + (y1 - y0) * i / 20))
              for (x0, y0), (x1, y1) in itertools.pairwise(corners) for i in range(21)]
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for i, p in enumerate(points):
        kind, button, buttons = QEvent.Type.MouseMove, none, left
        if i == 0:
            kind, button = QEvent.Type.MouseButtonPress, left
        elif i == len(points) - 1:
            kind, button, buttons = QEvent.Type.MouseButtonRelease, left, none
        ev = QMouseEvent(kind, p, pad.mapToGlobal(p), button, buttons, Qt.KeyboardModifier.NoModifier)
        QCoreApplication.sendEvent(pad, ev)
        QCoreApplication.processEvents()


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("epoch_max", "epoch_p99", "load_max", "rest_max", "save_max", "beats", "epoch_s", "total_s",
            "live")
    out: dict[str, list[float]] = {k: [] for k in keys}
    for r in runs:
        m, t = r["marks"], r["ticks"]
        start = m.get("first_progress", m["started"])
        end = m.get("epoch0", m["finished"])
        g = gaps_between(t, start, end)
        out["beats"].append(len(g))
        out["epoch_max"].append(max(g))
        out["epoch_p99"].append(percentile(g, 99))
        out["load_max"].append(max(gaps_between(t, m["click"], m["started"]) or [0.0]))
        out["rest_max"].append(max(gaps_between(t, end, m.get("evaluating", m["finished"])) or [0.0]))
        saving = m.get("evaluating", m["finished"])
        out["save_max"].append(max(gaps_between(t, saving, m["finished"]) or [0.0]))
        out["epoch_s"].append(end - m["started"])
        out["total_s"].append(m["finished"] - m["click"])
        out["live"].append(float(r.get("live_updates", 0)))
    return {k: median(v) for k, v in out.items()} | {"all": out}


def run(args: argparse.Namespace) -> list[Figure]:
    results: dict[str, dict[str, Any]] = {}
    for label, watch in (("default", None), ("watch off", False)):
        runs = []
        for _ in range(args.runs):
            r = measure(args.timeout, watch)
            if not r.get("model"):
                raise RuntimeError("training through the window did not produce a model: "
                                   f"{r.get('last_error')}")
            runs.append(r)
        results[label] = summarise(runs) | {"watching": runs[0]["watching"], "config": runs[0]["config"]}
        if args.default_only:
            break
    d = results["default"]
    cfg = d["config"]
    detail = (f"{args.runs} run(s); the Train button with the default settings: {cfg.arch}, "
              f"{cfg.epochs} epoch(s), batch {cfg.batch_size}, 'Watch it learn' "
              f"{'on' if d['watching'] else 'off'}; epoch 1 took {d['epoch_s']:.1f} s "
              f"({d['beats']:.0f} beats); click to saved model {d['total_s']:.1f} s; a 7 on the pad, "
              f"predicted by the weights in training {d['live']:.0f} times")
    figures = [
        at_most("GUI heartbeat longest gap (epoch 1)", d["epoch_max"], GOAL_MAX_MS, "ms", detail,
                runs=d["all"]["epoch_max"]),
        at_most("GUI heartbeat p99 gap (epoch 1)", d["epoch_p99"], GOAL_P99_MS, "ms",
                runs=d["all"]["epoch_p99"]),
    ]
    if "watch off" in results:
        o = results["watch off"]
        figures += [
            info("  longest gap (epoch 1), Watch it learn off", o["epoch_max"], "ms",
                 f"training alone, no live predictions; p99 {o['epoch_p99']:.1f} ms; epoch 1 "
                 f"took {o['epoch_s']:.1f} s", runs=o["all"]["epoch_max"]),
            info("  p99 gap (epoch 1), Watch it learn off", o["epoch_p99"], "ms", runs=o["all"]["epoch_p99"]),
        ]
    figures += [
        info("  longest gap while TensorFlow loads", d["load_max"], "ms",
             "click -> training started (importing TensorFlow in the worker thread)",
             runs=d["all"]["load_max"]),
        info("  longest gap in later epochs", d["rest_max"], "ms", runs=d["all"]["rest_max"]),
        info("  longest gap while evaluating + saving", d["save_max"], "ms",
             "test-set evaluation, .keras + .tflite export", runs=d["all"]["save_max"]),
    ]
    return figures


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--runs", type=int, default=1, help="trainings (default 1)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per training")
    ap.add_argument("--default-only", action="store_true",
                    help="only the default settings (skip the run with 'Watch it learn' off)")


if __name__ == "__main__":
    sys.exit(script_main(__doc__.splitlines()[0], run, add_args))
