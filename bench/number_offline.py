"""Number mode without the window: where exact-number failures come from (a development aid).

MNIST digits turned into strokes (:mod:`bench.mnist_strokes`) are laid out as numbers the
way :mod:`bench.bench_number` lays them out, drawn into a strip model buffer with the pad's
own renderer, and read with :class:`app.core.number.NumberReader` (``drawing_cuts``), the
shipped model. Each wrong number is put down to *splitting* (the cuts are not the digits'
strokes) or to a *misread* digit (the cuts are right; then: does the single-digit pad
misread it too?). Use MNIST *training* digits (``--split train``) while tuning the
splitting; the acceptance figures come from ``bench_number`` (the real window).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from typing import Any

import numpy as np

FRAME = 0.9  # as bench_number
STEP = 5.0 / 196.0  # pad units between two mouse moves (about 5 widget px)


def layout(number: list[int], cache: dict[int, Any], aspect: float, rng: np.random.Generator,
           gap: tuple[float, float] = (0.1, 0.22)) -> list[tuple[list[list[tuple[float, float]]], float]]:
    """The digits' strokes in pad units and their pen widths, as bench_number places them."""
    from bench.bench_number import digit_layout

    scale = FRAME
    while True:
        x0, placed = 0.12, []
        for i in number:
            strokes, width = cache[i]
            pts, left, right = digit_layout(strokes, width, scale)
            brush = int(np.clip(round(width * scale * 280), 4, 48))
            placed.append(([[(x - left + x0, y + (1 - scale) / 2) for x, y in s] for s in pts], brush / 280))
            x0 += right - left + float(rng.uniform(*gap)) * scale
        if x0 < aspect - 0.05 or scale < 0.3:
            return placed
        scale *= 0.9


def draw(strokes: list[Any], width_px: int) -> np.ndarray:
    """The pad's model buffer with ``strokes`` (app.ui.ink.Stroke) drawn by the pad's renderer."""
    from PySide6.QtGui import QColor

    from app.ui.ink import BUFFER_SIZE, ModelBuffer, render_strokes
    from app.ui.pad import MODEL_INK

    buf = ModelBuffer(width_px)
    buf.image.fill(QColor(0, 0, 0))
    render_strokes(buf.image, strokes, BUFFER_SIZE, MODEL_INK)
    buf.copy(0, 0, width_px, BUFFER_SIZE)
    return buf.pixels.copy()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--numbers", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--split", choices=("train", "test"), default="train")
    ap.add_argument("--aspect", type=float, default=4.9,
                    help="the strip's width / height (bench_number's window: 4.9)")
    ap.add_argument("--gap", type=float, nargs=2, default=(0.1, 0.22), metavar=("MIN", "MAX"),
                    help="gaps between digits, in MNIST frames (bench_number: 0.1 0.22; < 0: touching)")
    ap.add_argument("--model", metavar="DIR",
                    help="a model directory (model.tflite + meta.json) instead of the shipped model")
    ap.add_argument("--show", type=int, default=25, help="failures listed")
    ap.add_argument("--save", metavar="DIR", help="save the failures' strips as PNG here")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("DIGITPAD_HOME", tempfile.mkdtemp(prefix="digitpad-number-offline-"))
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    from app.cli.common import open_predictor
    from app.core.data import load_mnist
    from app.core.number import VERDICT_DIGIT, NumberReader, drawing_cuts
    from app.core.preprocess import preprocess
    from app.selftest.driving import densify
    from app.ui.ink import BUFFER_SIZE, Stroke
    from bench.bench_number import digit_layout
    from bench.mnist_strokes import digit_strokes

    _app = QGuiApplication.instance() or QGuiApplication([])
    (x_train, y_train), (x_test, y_test) = load_mnist()
    xs, ys = (x_train, y_train) if args.split == "train" else (x_test, y_test)
    rng = np.random.default_rng(args.seed)
    numbers = [rng.choice(len(xs), int(rng.integers(2, 7)), replace=False).tolist()
               for _ in range(args.numbers)]
    cache = {i: digit_strokes(xs[i]) for n in numbers for i in n}
    if args.model:  # calibrated with its own meta.json, as the store does
        import json
        from pathlib import Path

        from app.core.inference import Predictor
        from app.core.verdict import calibration_of, doubt_of

        meta = json.loads((Path(args.model) / "meta.json").read_text(encoding="utf-8"))
        predictor = Predictor(Path(args.model) / "model.tflite").calibrated(
            *calibration_of(meta), doubt=doubt_of(meta))
    else:
        _, predictor = open_predictor("default")
    reader = NumberReader(predictor)
    width_px = round(BUFFER_SIZE * args.aspect)
    place = np.random.default_rng(args.seed + 1)

    single: dict[int, str] = {}  # each digit alone on the square pad, as bench_number draws it
    for i, (strokes, width) in cache.items():
        pts, left, right = digit_layout(strokes, width, FRAME)
        shift = 0.5 - (left + right) / 2
        brush = int(np.clip(round(width * FRAME * 280), 4, 48)) / 280
        alone = [Stroke(tuple(densify([(x + shift, y + 0.05) for x, y in s], STEP)), brush) for s in pts]
        pixels = draw(alone, BUFFER_SIZE)
        x = preprocess(pixels, ink="light")
        if x is None:
            single[i] = "-"
            continue
        probs, other = predictor.read_batch(x[None])
        ok = predictor.verdict(float(other[0])) == VERDICT_DIGIT
        single[i] = str(int(np.argmax(probs[0]))) if ok else "?"

    tally: Counter[str] = Counter()
    shown = 0
    for k, number in enumerate(numbers):
        placed = layout(number, cache, args.aspect, place, tuple(args.gap))
        st: list[Stroke] = []
        owner: list[int] = []
        for d, (strokes, brush) in enumerate(placed):
            for s in strokes:
                st.append(Stroke(tuple(densify(s, STEP)), brush))
                owner.append(d)
        pixels = draw(st, width_px)
        data = [(np.asarray(s.points) * BUFFER_SIZE, s.width * BUFFER_SIZE) for s in st]
        cuts = drawing_cuts(pixels, data)
        reading = reader.read_drawing(pixels, data)
        truth = "".join(str(int(ys[i])) for i in number)
        pad = "".join(single[i] if len(single[i]) == 1 else "?" for i in number)
        read = reading.number or ""
        tally["numbers"] += 1
        tally["digits"] += len(number)
        tally["pad_right"] += sum(single[i] == str(int(ys[i])) for i in number)
        if read == truth:
            tally["exact"] += 1
            continue
        want = [tuple(j for j, o in enumerate(owner) if o == d) for d in range(len(number))]
        got = [c.strokes for c in cuts]
        if read == pad:
            kind = "misread (pad too)"  # what the single-digit pad reads, digit for digit
        elif got == want and len(reading.digits) == len(number):
            kind = "misread (pad too)" if all(single[i] != str(int(ys[i])) or read[d] == truth[d]
                                              for d, i in enumerate(number)) else "misread (pad right)"
        else:
            kind = "split"
        tally[kind] += 1
        if shown < args.show:
            shown += 1
            print(f"{k:4d} {kind:20s} truth {truth:7s} read {read:8s} pad {pad:7s} "
                  f"cuts {got} want {want}")
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            Image.fromarray(pixels).save(os.path.join(args.save, f"{k:04d}-{truth}-{read}.png"))
    n = tally["numbers"]
    print(f"exact {tally['exact']}/{n} = {100 * tally['exact'] / n:.2f} %; "
          f"split {tally['split']}, misread with the pad also wrong {tally['misread (pad too)']}, "
          f"misread only in number mode {tally['misread (pad right)']}; "
          f"single pad per digit {100 * tally['pad_right'] / tally['digits']:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
