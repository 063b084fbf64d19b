"""Read what people draw: digits and non-digits drawn with real mouse events on the real window.

The real main window (offscreen) with the shipped model (or ``--model DIR``). Each drawing
of ``bench/drawings.py`` (MNIST *test* digits traced into strokes, and non-digit drawings
made apart from the training data) is drawn on the pad with ``QTest`` mouse presses, moves
with the left button held, and releases at the drawing's brush size; then the window's
own probability view is read: its ten probabilities and its verdict. Reports the digits
read right, the digits called "not a digit", the non-digits called "not a digit", and the
expected calibration error of the probabilities shown (with and without the model's
temperature) on the drawn digits and on MNIST test itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench import Figure, at_least, at_most, info, script_main, setup_offscreen

GOAL_DRAWN = 99.0
GOAL_REJECT = 90.0
GOAL_FALSE_REJECT = 1.0


def _draw(pad: Any, strokes: list[np.ndarray], step_px: float = 5.0) -> None:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    side = pad.square().width()
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for s in strokes:
        pts = [pad.to_widget(float(x), float(y)) for x, y in s]
        keep = [pts[0]]
        for p in pts[1:]:  # a move every few pixels at most, as a mouse reports them
            if (p - keep[-1]).manhattanLength() >= step_px * side / 280.0 or p is pts[-1]:
                keep.append(p)
        QTest.mousePress(pad, left, Qt.KeyboardModifier.NoModifier, keep[0].toPoint())
        for p in keep[1:]:
            ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(p), pad.mapToGlobal(QPointF(p)), none, left,
                             Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(pad, ev)
        QTest.mouseRelease(pad, left, Qt.KeyboardModifier.NoModifier, keep[-1].toPoint())
    QApplication.processEvents()


def replay(drawings: list[Any], model_dir: Path | None) -> list[dict[str, Any]]:
    """Draw each drawing on a fresh pad; what the window showed for it."""
    setup_offscreen()
    from PySide6.QtWidgets import QApplication

    from app.core.store import ModelStore
    from app.ui.app import create_application
    from app.ui.main_window import MainWindow

    app = create_application([])
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-drawn-") as home:
        os.environ["DIGITPAD_HOME"] = home
        bundled = None
        if model_dir is not None:
            bundled = Path(home) / "bundled"
            bundled.mkdir()
            (bundled / "default").symlink_to(model_dir.resolve())
        store = ModelStore(home=Path(home), bundled_dir=bundled) if bundled else ModelStore(home=Path(home))
        window = MainWindow(store=store)
        window.resize(1040, 800)
        window.show()
        for _ in range(10):
            app.processEvents()
        pad, view = window.pad, window.probability_view
        out = []
        for d in drawings:
            pad.clear()
            pad.set_brush_size(round(d.brush))
            _draw(pad, d.strokes)
            window.live.update()
            probs = view.probabilities()
            verdict = view.verdict()
            raw = _raw_outputs(window)
            out.append({"label": d.label, "kind": d.kind, "brush": d.brush, "probs": probs,
                        "verdict": verdict, "raw": raw})
        window.close()
        QApplication.processEvents()
    return out


def _raw_outputs(window: Any) -> list[float] | None:
    """The model's uncalibrated outputs for what the window preprocessed (for the ECE
    without the temperature)."""
    x = window.preview_view.image()
    return None if x is None else window.live.predictor.outputs_batch(x[None])[0].tolist()


def _ece_pair(raw: np.ndarray, labels: np.ndarray, temperature: float) -> tuple[float, float]:
    from app.core.verdict import calibrate, ece, split

    return ece(split(raw)[0], labels), ece(split(calibrate(raw, temperature))[0], labels)


def run(args: argparse.Namespace) -> list[Figure]:
    from app.core.data import load_mnist
    from app.core.paths import bundled_store_dir
    from app.core.store import DEFAULT_MODEL
    from bench.drawings import digit_drawings, nondigit_drawings

    _, (x_test, y_test) = load_mnist()
    t0 = time.perf_counter()
    digits = digit_drawings(x_test, y_test, args.digits)
    others = nondigit_drawings(args.nondigits)
    res = replay(digits + others, args.model)
    seconds = time.perf_counter() - t0
    dig = [r for r in res if r["label"] >= 0]
    non = [r for r in res if r["label"] < 0]
    right = [r["probs"] is not None and int(np.argmax(r["probs"])) == r["label"] for r in dig]
    false_rej = [r["verdict"] == "not a digit" for r in dig]
    rejected = [r["verdict"] == "not a digit" for r in non]
    by_brush = {b: 100.0 * float(np.mean([ok for r, ok in zip(dig, right, strict=True) if r["brush"] == b]))
                for b in sorted({r["brush"] for r in dig})}
    missed = Counter(r["kind"].split()[0] for r, rej in zip(non, rejected, strict=True) if not rej)

    import json

    from app.core.inference import Predictor
    from app.core.verdict import calibrate, calibration_of, split

    model_dir = args.model or (bundled_store_dir() / DEFAULT_MODEL)
    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    temperature, threshold = calibration_of(meta)
    raw = np.asarray([r["raw"] for r in dig if r["raw"] is not None])
    labels = np.asarray([r["label"] for r in dig if r["raw"] is not None])
    ece_drawn = _ece_pair(raw, labels, temperature)
    mnist_raw = Predictor(model_dir / "model.tflite").outputs_batch(x_test)
    ece_mnist = _ece_pair(mnist_raw, y_test, temperature)
    mnist_digits, mnist_other = split(calibrate(mnist_raw, temperature))
    mnist_acc = 100.0 * float((mnist_digits.argmax(1) == y_test).mean())
    mnist_rej = int((mnist_other >= threshold).sum())
    brushes = ", ".join(f"brush {b:g}: {v:.2f} %" for b, v in by_brush.items())
    return [
        at_least("mouse-drawn MNIST test digits read right", 100.0 * float(np.mean(right)), GOAL_DRAWN, "%",
                 f"{len(dig)} MNIST test digits traced and drawn with real mouse events, 35-85 % of "
                 f"the pad's height, random place; {brushes}"),
        at_most("mouse-drawn digits called \"not a digit\"", 100.0 * float(np.mean(false_rej)),
                GOAL_FALSE_REJECT, "%", f"{sum(false_rej)} of {len(dig)}"),
        at_least("non-digit drawings called \"not a digit\"", 100.0 * float(np.mean(rejected)),
                 GOAL_REJECT, "%",
                 f"{len(non)} letters (system fonts), doodles, scribbles, polygons; missed: "
                 + ", ".join(f"{k} {v}" for k, v in missed.most_common(8))),
        info("MNIST test accuracy (same model, LiteRT)", mnist_acc, "%",
             f"{mnist_rej} of {len(y_test)} MNIST test digits called \"not a digit\""),
        info("ECE, mouse-drawn digits: raw -> calibrated", round(100 * ece_drawn[1], 2), "%",
             f"raw {100 * ece_drawn[0]:.2f} % -> {100 * ece_drawn[1]:.2f} % (temperature {temperature:g})"),
        info("ECE, MNIST test: raw -> calibrated", round(100 * ece_mnist[1], 2), "%",
             f"raw {100 * ece_mnist[0]:.2f} % -> {100 * ece_mnist[1]:.2f} %"),
        info("bench time", seconds, "s"),
    ]


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--digits", type=int, default=3000,
                    help="MNIST test digits to draw (default 3000)")
    ap.add_argument("--nondigits", type=int, default=600, help="non-digit drawings (default 600)")
    ap.add_argument("--model", type=Path, default=None,
                    help="a model directory (meta.json, model.tflite) instead of the shipped model")


if __name__ == "__main__":
    sys.exit(script_main(__doc__.splitlines()[0], run, add_args))
