"""Number mode: MNIST test digits written as numbers on the strip of the real window.

MNIST test digits are turned into pen strokes (:mod:`bench.mnist_strokes`) and set side by
side with gaps (2 to 6 digits, none touching) on the strip of the real main window
(offscreen, the shipped default model), written with real mouse events (press, moves with
the left button held, release) sent through Qt. Figures:

* numbers read exactly right (the window's ``numberView``);
* per-digit accuracy in number mode against the single-digit pad on the same digits (each
  digit drawn alone, with the same strokes at the same size, on the square pad);
* the live reading update while writing 6-digit numbers: from a mouse move sent to the
  window until the new reading is shown (the pad has drawn the segment, the strip has been
  split into digits, the changed digit preprocessed and read, the number view, the boxes
  and the bars updated and their repaint requested; the repaint follows), p99;
* ``digitpad predict --number`` on the pad's picture (saved as PNG) reads what the window read.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np

from app.selftest.driving import densify
from bench import Figure, at_least, at_most, info, median, percentile, script_main, setup_offscreen

GOAL_EXACT = 95.0  # % of numbers read exactly right
GOAL_GAP = 0.5  # points: per-digit accuracy, number mode vs the single-digit pad
GOAL_P99_MS = 16.0  # one 60 Hz frame
FRAME = 0.9  # the 28-pixel MNIST frame's height on the pad (pad units)
STEP_PX = 5.0  # widget pixels between two mouse moves


def make_numbers(count: int, seed: int) -> list[list[int]]:
    """``count`` numbers of 2-6 MNIST test digits (indices), seeded."""
    rng = np.random.default_rng(seed)
    return [rng.choice(10000, int(rng.integers(2, 7)), replace=False).tolist() for _ in range(count)]


class Writer:
    """Writes strokes on the window's pad with real mouse events and times the readings."""

    def __init__(self, window: Any, app: Any) -> None:
        from PySide6.QtCore import QEvent, Qt

        self.window, self.app, self.pad = window, app, window.pad
        self.left, self.none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
        self.types = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease)
        self.readings = 0
        self.read_at = self.read_cpu = 0.0
        window.number.reading_changed.connect(self._read)
        window.live.updated.connect(self._read)

    def _read(self) -> None:
        self.readings += 1
        self.read_at, self.read_cpu = time.perf_counter(), time.thread_time()

    def _send(self, kind: int, x: float, y: float) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QMouseEvent

        p = self.pad.to_widget(x, y)
        button = self.none if kind == 1 else self.left
        buttons = self.none if kind == 2 else self.left
        ev = QMouseEvent(self.types[kind], p, self.pad.mapToGlobal(p), button, buttons,
                         Qt.KeyboardModifier.NoModifier)
        self.app.sendEvent(self.pad, ev)

    def write(self, strokes: list[tuple[list[tuple[float, float]], int]],
              timings: list[float] | None, cpu: list[float] | None = None) -> None:
        """Strokes in pad units with their brush; each move's move-to-reading time goes to
        ``timings`` (when given), the CPU time this thread spent on it to ``cpu``."""
        step = STEP_PX / self.pad.unit()
        for points, brush in strokes:
            self.pad.set_brush_size(brush)
            pts = densify(points, step)
            self._send(0, *pts[0])
            self.app.processEvents()
            for x, y in pts[1:]:
                before = self.readings
                t0, c0 = time.perf_counter(), time.thread_time()
                self._send(1, x, y)
                self.app.processEvents()
                if timings is not None and self.readings > before:
                    timings.append((self.read_at - t0) * 1000.0)
                    if cpu is not None:
                        cpu.append((self.read_cpu - c0) * 1000.0)
            self._send(2, *pts[-1])
            self.app.processEvents()


def digit_layout(strokes: list[list[tuple[float, float]]], width: float, scale: float
                 ) -> tuple[list[list[tuple[float, float]]], float, float]:
    """A digit's strokes (frame units) scaled to pad units; its ink's left and right edges."""
    pts = [[(x * scale, y * scale) for x, y in s] for s in strokes]
    xs = [x for s in pts for x, _ in s]
    pen = width * scale / 2
    return pts, min(xs) - pen, max(xs) + pen


def measure(count: int, seed: int, cli_every: int) -> dict[str, Any]:
    setup_offscreen()
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-number-") as home:
        os.environ["DIGITPAD_HOME"] = home
        return _measure(count, seed, cli_every, home)


def _measure(count: int, seed: int, cli_every: int, home: str) -> dict[str, Any]:
    from PySide6.QtGui import QAction

    from app.cli import main as cli_main
    from app.core.data import load_mnist
    from app.ui.app import create_application
    from app.ui.main_window import MainWindow
    from app.ui.number_view import NumberView
    from bench.mnist_strokes import digit_strokes

    (_, _), (x_test, y_test) = load_mnist()
    numbers = make_numbers(count, seed)
    app = create_application([])
    window = MainWindow()
    window.resize(1400, 860)
    window.show()
    for _ in range(20):
        app.processEvents()
    writer = Writer(window, app)
    action = window.findChild(QAction, "numberModeAction")
    view = window.findChild(NumberView, "numberView")
    cache = {i: digit_strokes(x_test[i]) for n in numbers for i in n}

    # the single-digit pad: each digit alone, centred, at the same size and brush
    single: dict[int, int] = {}
    t_single = time.perf_counter()
    for i, (strokes, width) in cache.items():
        window.live.clear()
        pts, left, right = digit_layout(strokes, width, FRAME)
        shift = 0.5 - (left + right) / 2
        brush = int(np.clip(round(width * FRAME * 280), 4, 48))
        writer.write([([(x + shift, y + 0.05) for x, y in s], brush) for s in pts], None)
        shown = window.top_digit_label.text()  # what the window shows ("Not a digit?" counts wrong)
        single[i] = int(shown) if shown.isdigit() else -1
    t_single = time.perf_counter() - t_single

    action.setChecked(True)
    for _ in range(10):
        app.processEvents()
    area = window.pad.drawing_area()
    aspect = area.width() / area.height()
    rng = np.random.default_rng(seed + 1)
    res: dict[str, Any] = {"exact": 0, "numbers": 0, "digits": 0, "digit_right": 0, "single_right": 0,
                           "count_wrong": 0, "live_ms": [], "live_cpu_ms": [], "reader_ms": [],
                           "clean": 0, "clean_exact": 0, "cli_same": 0, "cli_runs": 0,
                           "mistakes": [], "aspect": aspect}
    t_number = time.perf_counter()
    for k, number in enumerate(numbers):
        window.live.clear()
        scale = FRAME
        while True:  # the number's layout; smaller when it does not fit the strip
            x0, placed = 0.12, []
            for i in number:
                strokes, width = cache[i]
                pts, left, right = digit_layout(strokes, width, scale)
                placed.append(([[(x - left + x0, y + (1 - scale) / 2) for x, y in s] for s in pts],
                               int(np.clip(round(width * scale * 280), 4, 48))))
                x0 += right - left + float(rng.uniform(0.1, 0.22)) * scale
            if x0 < aspect - 0.05 or scale < 0.3:
                break
            scale *= 0.9
        timings: list[float] | None = [] if len(number) == 6 else None
        for digit_strokes_, brush in placed:
            writer.write([(s, brush) for s in digit_strokes_], timings, res["live_cpu_ms"])
            if timings is not None:
                res["reader_ms"].append(window.number.last_update_ms)
        if timings is not None:
            res["live_ms"].extend(timings)
        read = view.number() or ""
        truth = "".join(str(int(y_test[i])) for i in number)
        res["numbers"] += 1
        res["digits"] += len(number)
        res["exact"] += read == truth
        res["single_right"] += sum(single[i] == int(y_test[i]) for i in number)
        if all(single[i] == int(y_test[i]) for i in number):  # the model reads every digit right
            res["clean"] += 1
            res["clean_exact"] += read == truth
        if len(read) == len(number):
            res["digit_right"] += sum(a == b for a, b in zip(read, truth, strict=True))
        else:
            res["count_wrong"] += 1
        if read != truth and len(res["mistakes"]) < 30:
            res["mistakes"].append((truth, read, "".join(str(single[i]) if single[i] >= 0 else "?"
                                                         for i in number)))
        if cli_every and k % cli_every == 0 and read:
            path = os.path.join(home, f"number-{k}.png")
            window.pad.image().save(path)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                cli_main(["predict", "--number", "--json", "--model", "default", path])
            res["cli_runs"] += 1
            res["cli_same"] += json.loads(out.getvalue())[0]["number"] == read
    res["seconds"] = {"single": t_single, "number": time.perf_counter() - t_number}
    window.close()
    app.processEvents()
    return res


def run(args: argparse.Namespace) -> list[Figure]:
    r = measure(args.numbers, args.seed, args.cli_every)
    exact = 100.0 * r["exact"] / r["numbers"]
    per_digit = 100.0 * r["digit_right"] / r["digits"]
    single = 100.0 * r["single_right"] / r["digits"]
    gap = abs(per_digit - single)
    live, cpu = r["live_ms"], r["live_cpu_ms"]
    mistakes = "; ".join(f"{t} read {n or '-'} (pad {s})" for t, n, s in r["mistakes"][:8])
    figures = [
        at_least("numbers of 2-6 digits read exactly right", exact, GOAL_EXACT, "%",
                 f"{r['exact']}/{r['numbers']} numbers, {r['digits']} digits; the digit count "
                 f"was wrong in {r['count_wrong']}; first mistakes (truth read as, single pad): "
                 f"{mistakes}"),
        info("  numbers whose digits the single pad reads right: read exactly",
             100.0 * r["clean_exact"] / max(r["clean"], 1), "%",
             f"{r['clean_exact']}/{r['clean']}: what splitting the number costs, the model's "
             "own mistakes aside"),
        info("per-digit accuracy, number mode", per_digit, "%"),
        info("per-digit accuracy, single-digit pad (same digits)", single, "%"),
        at_most("per-digit accuracy gap (number mode vs single pad)", gap, GOAL_GAP, "pt",
                f"strip {r['aspect']:.1f}:1; digits drawn from MNIST test images turned into strokes"),
        at_most("live reading update, 6-digit number, p99", percentile(live, 99), GOAL_P99_MS, "ms",
                f"{len(live)} moves while writing 6-digit numbers; p50 {median(live):.2f} ms, "
                f"max {max(live) if live else float('nan'):.1f} ms; reading alone (last update "
                f"of each digit) p50 {median(r['reader_ms']):.2f} ms"),
        info("  the same in CPU time of the GUI thread, p99", percentile(cpu, 99), "ms",
             f"p50 {median(cpu):.2f} ms: the work itself, without the waits a busy machine adds"),
    ]
    if r["cli_runs"]:
        figures.append(at_least("predict --number on the pad's PNG: same reading", 100.0 * r["cli_same"]
                                / r["cli_runs"], 100.0, "%", f"{r['cli_same']}/{r['cli_runs']} pictures"))
    return figures


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--numbers", type=int, default=150, help="numbers written (default 150)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--cli-every", type=int, default=5, metavar="N",
                    help="check predict --number on every Nth number's picture (0: never)")


if __name__ == "__main__":
    sys.exit(script_main(__doc__.splitlines()[0], run, add_args))
