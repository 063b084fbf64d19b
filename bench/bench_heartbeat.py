"""GUI responsiveness over the whole training cycle: a 10 ms heartbeat on the GUI thread.

Each run is two fresh processes, each with an empty DigitPad home and the real main window
(offscreen), a 7 drawn on the pad with real mouse events. In the first, the real Train
button is clicked twice (the default recipe, "Watch it learn" at the window's default),
then Model ▸ Evaluate, an import of a .keras file, and fine-tuning: a dozen drawings kept
as personal samples the way a user does it (drawn with the mouse, then the digit key
pressed), then Model ▸ Train on my drawings. In the second, the mouse rests on the Train
button for 3 s (the window warms the training process up) before the first click.
Each training is measured from the click to the new model in use: loading MNIST, loading
TensorFlow (the first time), building, every epoch, evaluation, export, save and the
switch. Should the window ask whether to use the new model (it is not better than the one
in use), the bench answers "use it" at once and the time the question was on screen is
left out.

A 10 ms ``QTimer`` (precise) on the GUI thread records when it fires; a gap much longer
than 10 ms is a stall the user would feel. The same tick reads what the window shows (the
training status line, the model in use), so each long gap is reported with WHEN it
happened (seconds after the click) and the stage the window was showing. Figures are the
worst of the runs.

    python -m bench.bench_heartbeat --runs 3          # the figures
    python -m bench.bench_heartbeat --runs 1 --py-spy out/   # + py-spy's GIL profile per run
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ROOT, Figure, at_most, child_env, info, percentile, script_main, setup_offscreen

GOAL_MAX_MS = 50.0
GOAL_P99_MS = 25.0
GOAL_SECOND_FIRST_BATCH_S = 1.5
HEARTBEAT_MS = 10
LONG_GAP_MS = 30.0  # gaps reported one by one (with when and where)
HOVER_S = 3.0  # the mouse on the Train button this long before the first click (warm-up run)
# The personal samples drawn before fine-tuning: each digit the driver can draw, in these
# sizes and aspects (the digit key keeps each one).
SAMPLE_SHAPES = ((0.7, 0.7), (0.6, 0.8), (0.8, 0.6), (0.65, 0.55))


# --------------------------------------------------------------------------- analysis


def gaps_between(ticks: list[float], start: float, end: float) -> list[float]:
    """Gaps (ms) between successive ticks, counting only ticks within [start, end]."""
    inside = [t for t in ticks if start <= t <= end]
    return [(b - a) * 1000.0 for a, b in itertools.pairwise(inside)]


def stage_at(events: list[tuple[float, str, str]], t: float) -> str:
    """The training status line the window showed at time ``t``."""
    shown = ""
    for when, kind, text in events:
        if when > t:
            break
        if kind == "status":
            shown = text
    return shown


def analyse_cycle(ticks: list[float], cycle: dict[str, Any]) -> dict[str, Any]:
    """Gaps from the click to the new model in use, minus any time a question was shown."""
    click, end = cycle.get("from", cycle["click"]), cycle["in_use"]
    asked = cycle.get("asked")
    if asked is not None:  # [click, asked] and [answered, in_use]
        g = gaps_between(ticks, click, asked[0]) + gaps_between(ticks, asked[1], end)
    else:
        g = gaps_between(ticks, click, end)
    inside = [t for t in ticks if click <= t <= end]
    long = []
    for a, b in itertools.pairwise(inside):
        ms = (b - a) * 1000.0
        if ms >= LONG_GAP_MS and not (asked and asked[0] <= a < asked[1]):
            long.append({"ms": round(ms, 1), "at_s": round(a - click, 2),
                         "stage": stage_at(cycle["events"], a)})
    return {
        "max_ms": max(g) if g else float("nan"),
        "p99_ms": percentile(g, 99),
        "beats": len(g),
        "total_s": end - click - ((asked[1] - asked[0]) if asked else 0.0),
        "first_batch_s": (cycle["first_batch"] - cycle["click"]) if cycle.get("first_batch") else None,
        "long_gaps": sorted(long, key=lambda x: -x["ms"])[:12],
        "asked": asked is not None,
        "stages": [(round(t - click, 2), text) for t, kind, text in cycle["events"] if kind == "status"],
        "samples": cycle.get("samples"),
    }


# --------------------------------------------------------------------------- one run (child process)


def session(timeout: float, hover: bool = False) -> dict[str, Any]:
    """Window up, a 7 drawn; then Train twice, Evaluate, Import and fine-tuning, or (``hover``)
    the mouse on Train for HOVER_S, then one Train click. Every tick and what the window showed."""
    from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QAbstractButton, QApplication, QDialog, QLabel, QMessageBox, QPushButton

    from app.core.training import TrainConfig
    from app.selftest.driving import draw_digit
    from app.ui.app import create_application
    from app.ui.main_window import MainWindow

    app = create_application([])
    window = MainWindow()
    window.resize(1040, 800)
    window.show()
    for _ in range(20):
        app.processEvents()
    config = window.training.config
    if config is not None and config != TrainConfig():
        raise RuntimeError(f"the window's training settings are not the defaults: {config}")
    train_button = window.findChild(QPushButton, "trainButton")
    status = window.findChild(QLabel, "trainStatus")
    model = window.findChild(QLabel, "statusModel")
    if train_button is None or status is None or model is None:
        raise RuntimeError("the window has no trainButton / trainStatus / statusModel")
    draw_digit(window.pad, "7")  # real mouse events

    ticks: list[float] = []
    state: dict[str, Any] = {}

    def question() -> QMessageBox | QDialog | None:
        """The window's question "use the new model?" (a message box, or fine-tuning's result)."""
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QDialog) and w.isVisible() and w.findChild(QAbstractButton, "useNewModelButton"):
                return w
            if isinstance(w, QMessageBox) and w.isVisible():
                return w
        return None

    def beat() -> None:
        now = time.perf_counter()
        ticks.append(now)
        cycle = state.get("cycle")
        if cycle is None:
            return
        text = status.text()
        if text != state.get("status"):
            state["status"] = text
            cycle["events"].append((now, "status", text))
            if text.startswith("Epoch ") and "first_batch" not in cycle:
                cycle["first_batch"] = now
        if not train_button.isEnabled():
            cycle["disabled"] = True
        box = question()
        if box is not None and "asked" not in cycle:
            cycle["asked"] = [now, now]
            cycle["events"].append((now, "asked", box.windowTitle()))
            use = box.findChild(QAbstractButton, "useNewModelButton")
            default = box.defaultButton() if isinstance(box, QMessageBox) else None
            answer = use or default
            QTimer.singleShot(0, answer.click if answer is not None else box.accept)
        elif box is None and "asked" in cycle and cycle["asked"][0] == cycle["asked"][1]:
            cycle["asked"][1] = now
        shown = model.text()
        if shown != state.get("model"):  # "Watch it learn" shows the weights in training there too
            state["model"] = shown
            cycle["events"].append((now, "model", shown))
        if cycle.get("disabled") and train_button.isEnabled():
            cycle.setdefault("finished", now)

    def settle(n: int = 20) -> None:
        for _ in range(n):
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    def training_cycle(start: Any, hovered_at: float | None = None) -> dict[str, Any]:
        """From ``start()`` (a click) to the new model in use."""
        settle()  # a few beats before the click
        cycle: dict[str, Any] = {"events": [], "model_before": model.text()}
        if hovered_at is not None:
            cycle["from"] = hovered_at  # the gaps count from the hover (the warm-up is measured too)
        state["model"] = model.text()
        state["cycle"] = cycle
        cycle["click"] = time.perf_counter()
        start()
        _run_until(app, lambda: "finished" in cycle, timeout, "the training")
        settle(5)  # the switch may come just after the buttons are enabled again
        changes = [t for t, kind, _text in cycle["events"] if kind == "model"]
        if model.text() == cycle["model_before"] or not changes:
            raise RuntimeError(f"the new model was not put in use: {status.text()!r}")
        cycle["in_use"] = changes[-1]  # the last change of the model shown: the new one in use
        state["cycle"] = None
        if window.training.question is not None:
            window.training.question.close()
        return cycle

    def click_train() -> None:
        QTest.mouseClick(train_button, Qt.MouseButton.LeftButton)

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    cycles = []
    if hover:
        from app.core import training_process

        settle()
        hovered_at = time.perf_counter()
        QTest.mouseMove(train_button, QPoint(train_button.width() // 2, train_button.height() // 2))
        end = hovered_at + HOVER_S
        while time.perf_counter() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if not training_process.shared().alive():
            raise RuntimeError("hovering the Train button did not start the training process")
        cycles.append(training_cycle(click_train, hovered_at))
    else:
        cycles.append(training_cycle(click_train))  # cold: TensorFlow not loaded yet
        cycles.append(training_cycle(click_train))  # warm
        models = window.models
        cycles.append(_other_cycle(app, state, models.evaluate, models.evaluation_finished, timeout))
        keras_file = Path(os.environ["DIGITPAD_HOME"]) / "exported.keras"
        shutil.copy(window.models.store.active().keras_path, keras_file)
        cycles.append(_other_cycle(app, state, lambda: window.models.import_keras(keras_file),
                                   window.models.changed, timeout))
        kept = _keep_samples(window)
        cycle = training_cycle(window.learning.finetune_action.trigger)
        cycle["samples"] = kept
        cycles.append(cycle)
    heartbeat.stop()
    window.close()
    app.processEvents()
    return {"ticks": ticks, "cycles": cycles}


def _keep_samples(window: Any) -> int:
    """Personal samples as a user makes them: each digit drawn with the mouse, then its key
    pressed (the window keeps the drawing as a sample of that digit). Returns how many."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QDialog

    from app.selftest.driving import STROKES, draw_digit, process_events

    for dialog in window.findChildren(QDialog):  # Evaluate's window: the digit keys are the main window's
        dialog.close()
    window.activateWindow()
    process_events(50)
    before = len(window.learning.samples)
    for digit in STROKES:
        for size, aspect in SAMPLE_SHAPES:
            window.live.clear()
            draw_digit(window.pad, digit, size=size, aspect=aspect)
            QTest.keyClick(window.pad, Qt.Key(Qt.Key.Key_0.value + int(digit)))  # "it is a …"
            process_events(20)
    window.live.clear()
    kept = len(window.learning.samples) - before
    if kept < len(STROKES) * len(SAMPLE_SHAPES):
        raise RuntimeError(f"only {kept} drawings were kept as samples")
    return kept


def _other_cycle(app: Any, state: dict[str, Any], start: Any, done_signal: Any,
                 timeout: float) -> dict[str, Any]:
    """Evaluate or Import: from the key press / call to ``done_signal``."""
    from PySide6.QtCore import QEventLoop

    for _ in range(20):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    cycle: dict[str, Any] = {"events": [], "model_before": ""}
    state["cycle"] = cycle

    def done(*_args: Any) -> None:
        cycle.setdefault("in_use", time.perf_counter())

    done_signal.connect(done)
    cycle["click"] = time.perf_counter()
    start()
    _run_until(app, lambda: "in_use" in cycle, timeout, "Evaluate / Import")
    state["cycle"] = None
    done_signal.disconnect(done)
    return cycle


def _run_until(app: Any, done: Any, timeout: float, what: str) -> None:
    """Run the event loop until ``done()``; an error after ``timeout`` seconds."""
    from PySide6.QtCore import QEventLoop

    deadline = time.perf_counter() + timeout
    while not done():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{what} did not finish within {timeout:.0f} s")


def child_main(out: Path, timeout: float, hover: bool) -> int:
    setup_offscreen()
    data = session(timeout, hover)
    ticks = data["ticks"]
    report = {"cycles": [analyse_cycle(ticks, c) for c in data["cycles"]]}
    out.write_text(json.dumps(report), encoding="utf-8")
    return 0


def one_run(timeout: float, py_spy: Path | None, index: int, hover: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-heartbeat-") as home:
        out = Path(home) / "report.json"
        cmd = [sys.executable, "-m", "bench.bench_heartbeat", "--child", str(out),
               "--timeout", str(timeout), *(["--hover"] if hover else [])]
        if py_spy is not None:
            spy = shutil.which("py-spy")
            if spy is None:
                raise RuntimeError("py-spy is not installed (pip install py-spy)")
            py_spy.mkdir(parents=True, exist_ok=True)
            cmd = [spy, "record", "--gil", "--threads", "--rate", "200", "--format", "raw",
                   "--output", str(py_spy / f"gil-run{index + 1}{'-hover' if hover else ''}.txt"), "--", *cmd]
        env = child_env(DIGITPAD_HOME=str(Path(home) / "home"))
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout * 2 + 60)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"run {index + 1} failed:\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the figures


CYCLES = ((0, "first Train click (cold)"), (1, "second Train click"), (2, "Evaluate"), (3, "Import"),
          (4, "fine-tuning (Train on my drawings)"),
          (5, f"first Train click after hovering Train {HOVER_S:g} s"))


def run(args: argparse.Namespace) -> list[Figure]:
    runs = []
    for i in range(args.runs):
        full = one_run(args.timeout, args.py_spy, i)
        full["cycles"] += one_run(args.timeout, args.py_spy, i, hover=True)["cycles"]
        runs.append(full)
    figures: list[Figure] = []
    for n, label in CYCLES:
        cycles = [r["cycles"][n] for r in runs]
        worst = max(cycles, key=lambda c: c["max_ms"])
        where = "; ".join(f"{g['ms']:.0f} ms at {g['at_s']:.1f} s ({g['stage'] or 'before any status'})"
                          for g in worst["long_gaps"][:5]) or "none >= 30 ms"
        totals = ", ".join(f"{c['total_s']:.1f}" for c in cycles)
        detail = (f"worst of {len(cycles)} run(s), click -> new model in use ({totals} s); "
                  f"longest gaps: {where}")
        figures += [
            at_most(f"GUI longest gap, whole cycle, {label}", max(c["max_ms"] for c in cycles),
                    GOAL_MAX_MS, "ms", detail, runs=[c["max_ms"] for c in cycles],
                    long_gaps=[c["long_gaps"] for c in cycles], stages=[c["stages"] for c in cycles]),
            at_most(f"GUI p99 gap, whole cycle, {label}", max(c["p99_ms"] for c in cycles),
                    GOAL_P99_MS, "ms", runs=[c["p99_ms"] for c in cycles]),
        ]
        if n in (2, 3):
            continue
        firsts = [c["first_batch_s"] for c in cycles if c["first_batch_s"] is not None]
        value = max(firsts) if len(firsts) == len(cycles) else None
        name = f"click -> first training batch, {label}"
        if n == 1:
            figures.append(at_most(name, value, GOAL_SECOND_FIRST_BATCH_S, "s", runs=firsts))
        elif n == 0:
            figures.append(info(name, value, "s", "loading MNIST and TensorFlow, building", runs=firsts))
        elif n == 4:
            kept = cycles[0].get("samples")
            figures.append(info(name, value, "s", f"{kept} personal samples", runs=firsts))
        else:
            figures.append(info(name, value, "s", "the training process warmed up by the hover; gaps "
                                "counted from the hover", runs=firsts))
    return figures


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--runs", type=int, default=3, help="sessions, each a fresh process (default 3)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per training")
    ap.add_argument("--py-spy", type=Path, metavar="DIR",
                    help="record each run under py-spy (--gil --threads, raw) into DIR")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--hover", action="store_true", help=argparse.SUPPRESS)


if __name__ == "__main__":
    if "--child" in sys.argv:
        ns = argparse.ArgumentParser()
        add_args(ns)
        a, _ = ns.parse_known_args()
        sys.exit(child_main(a.child, a.timeout, a.hover))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(script_main(__doc__.splitlines()[0], run, add_args))
