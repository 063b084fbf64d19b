"""Read what people draw, offline: the drawings of ``bench/drawings.py`` rendered without a window.

    python -m bench.drawn_offline --model DIR|FILE.keras|FILE.tflite    # the dev set
    python -m bench.drawn_offline --set bench      # the window bench's own drawings (a check)
    python -m bench.drawn_offline --sheet misread.png   # and a contact sheet of the misreads
    python -m bench.drawn_offline --set bench --shapes  # what the stroke conversion lost

For choosing a model without the two minutes of mouse events of ``bench_drawn``: each
drawing is rendered with :func:`app.core.penrender.render` (the pad's round brush on its
280-pixel buffer) and put through the pad's ``preprocess``. The outputs are calibrated
and judged with the model's own ``meta.json`` (temperature, threshold), as the window does.

Two sets of drawings:

* ``dev`` (the default, for model selection): the pen pipeline of the bench applied to the
  MNIST *validation* images that ``tools/train_default.py``'s training holds out (their
  renderings are kept out of training too), and non-digits with another seed than the bench.
* ``bench``: the bench's MNIST *test* digits and non-digits (its seeds), to check once
  that offline reads what the window reads. Do not tune on it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench import Figure, at_least, at_most, info, script_main

DEV_DIGIT_SEED, DEV_OTHER_SEED = 3031, 9191  # not the bench's (2026, 7070)
BENCH_DIGIT_SEED, BENCH_OTHER_SEED = 2026, 7070
GOAL_DRAWN, GOAL_REJECT, GOAL_FALSE_REJECT = 99.0, 90.0, 1.0
CACHE = Path("/tmp") / "digitpad-drawn-offline"


def validation_images() -> tuple[np.ndarray, np.ndarray]:
    """The MNIST training images that the shipped model's training holds out."""
    from app.core.data import load_mnist
    from app.core.training import TrainConfig, validation_indices

    (x_train, y_train), _ = load_mnist()
    cfg = TrainConfig(arch="cnn", validation_split=0.05, seed=0).resolved()
    held = validation_indices(cfg, len(x_train))
    return x_train[held], y_train[held]


def drawings(which: str, digits: int, others: int) -> list[Any]:
    from bench.drawings import digit_drawings, nondigit_drawings

    if which == "bench":
        from app.core.data import load_mnist

        _, (x, y) = load_mnist()
        return digit_drawings(x, y, digits, BENCH_DIGIT_SEED) + nondigit_drawings(others, BENCH_OTHER_SEED)
    x, y = validation_images()
    return digit_drawings(x, y, digits, DEV_DIGIT_SEED) + nondigit_drawings(others, DEV_OTHER_SEED)


def rendered(which: str, digits: int, others: int
             ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """(images (N, 28, 28) float32, labels (-1: not a digit), kinds, brushes, the MNIST
    image each digit was drawn from (-1 for non-digits)), cached in /tmp."""
    from app.core import penrender as pr
    from app.core.preprocess import preprocess

    path = CACHE / f"{which}-{digits}-{others}-v3.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as f:
            return f["x"], f["y"], [str(k) for k in f["kind"]], f["brush"], f["source"]
    xs, ys, kinds, brushes, sources = [], [], [], [], []
    for d in drawings(which, digits, others):
        img = preprocess(pr.render(d.strokes, d.brush), ink="light")
        xs.append(np.zeros((28, 28), np.float32) if img is None else img)
        ys.append(d.label)
        kinds.append(d.kind)
        brushes.append(d.brush)
        sources.append(d.source)
    out = (np.stack(xs), np.asarray(ys), kinds, np.asarray(brushes, np.float32), np.asarray(sources))
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=out[0], y=out[1], kind=np.asarray(kinds), brush=out[3], source=out[4])
    return out


def shape_signature(img: np.ndarray) -> tuple[int, int]:
    """(pieces of ink, holes) of a 28x28 digit image (ink = 1): what a stroke conversion must
    keep for the drawing to still show the digit (an 8 opened into a 0, a 9 whose loop
    closed up, a 6 broken into dots change it). Specks of a pixel or two are not counted."""
    from app.core.segment import label

    ink = img > 0.5
    pieces, n = label(ink)
    parts = int(sum((pieces == k).sum() >= 3 for k in range(1, n + 1)))
    space, m = label(~ink)
    edge = set(np.unique(np.concatenate([space[0], space[-1], space[:, 0], space[:, -1]])).tolist())
    holes = int(sum(k not in edge and (space == k).sum() >= 2 for k in range(1, m + 1)))
    return parts, holes


def model_outputs(model: Path, x: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Raw outputs of a model dir (its ``model.tflite``), a ``.tflite`` or a ``.keras`` file,
    and the metadata beside it (``{}`` if none)."""
    meta_file = (model if model.is_dir() else model.parent) / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    if model.suffix == ".keras":
        from app.core.model_files import load_keras_model

        return np.asarray(load_keras_model(model).predict(x, batch_size=1000, verbose=0)), meta
    from app.core.inference import Predictor

    return Predictor(model / "model.tflite" if model.is_dir() else model).outputs_batch(x), meta


def contact_sheet(path: Path, images: np.ndarray, captions: list[str], cols: int = 12) -> None:
    """The images (28x28, ink = 1) enlarged 3x, each with its caption, in a grid."""
    from PIL import Image, ImageDraw

    cell, pad = 84, 14
    rows = max(1, -(-len(images) // cols))
    sheet = Image.new("L", (cols * cell, rows * (cell + pad)), 255)
    draw = ImageDraw.Draw(sheet)
    for k, (img, cap) in enumerate(zip(images, captions, strict=True)):
        r, c = divmod(k, cols)
        tile = Image.fromarray(np.uint8(255 - 255 * np.clip(img, 0, 1))).resize((cell - 4, cell - 4))
        sheet.paste(tile, (c * cell + 2, r * (cell + pad) + 2))
        draw.text((c * cell + 2, r * (cell + pad) + cell - 2), cap, fill=0)
    sheet.save(path)


def run(args: argparse.Namespace) -> list[Figure]:
    from app.core.data import load_mnist
    from app.core.paths import bundled_store_dir
    from app.core.store import DEFAULT_MODEL
    from app.core.verdict import NOT_DIGIT, calibrate, calibration_of, doubt_of, split, verdict_of

    t0 = time.perf_counter()
    x, y, kinds, brushes, sources = rendered(args.set, args.digits, args.nondigits)
    model = args.model or (bundled_store_dir() / DEFAULT_MODEL)
    raw, meta = model_outputs(model, x)
    temperature, threshold = calibration_of(meta)
    digits_p, other = split(calibrate(raw, temperature), doubt_of(meta))
    pred = digits_p.argmax(1)
    called = np.array([verdict_of(float(o), threshold) == NOT_DIGIT for o in other])
    dig = y >= 0
    right = pred[dig] == y[dig]
    by_brush = ", ".join(f"brush {b:g}: {100 * right[brushes[dig] == b].mean():.2f} %"
                         for b in sorted(set(brushes[dig].tolist())))
    missed = Counter(k.split()[0] for k, c, lab in zip(kinds, called, y, strict=True) if lab < 0 and not c)
    _, (x_test, y_test) = load_mnist()
    mraw, _ = model_outputs(model, x_test.astype(np.float32) / 255.0)
    mdig, moth = split(calibrate(mraw, temperature), doubt_of(meta))
    if args.sheet is not None:
        wrong = np.nonzero(dig & (pred != y))[0]
        caps = [f"{y[i]}->{pred[i]} {100 * digits_p[i].max():.0f}%{' N' if called[i] else ''}"
                for i in wrong]
        contact_sheet(args.sheet, x[wrong], caps)
    where = f"{args.set} set, {model}"
    figures = []
    if args.shapes:  # how much of what is misread lost the digit's shape in the conversion
        originals = validation_images()[0] if args.set == "dev" else x_test
        kept = np.array([shape_signature(x[i]) == shape_signature(originals[sources[i]] / 255.0)
                         for i in np.nonzero(dig)[0]])
        figures += [
            info("drawn digits whose strokes keep the original's pieces and holes",
                 100.0 * float(kept.mean()), "%", f"{int(kept.sum())} of {int(dig.sum())}"),
            info("  read right among them", 100.0 * float(right[kept].mean()), "%",
                 f"{int((~right[kept]).sum())} misread"),
            info("  read right among the others", 100.0 * float(right[~kept].mean()), "%",
                 f"{int((~right[~kept]).sum())} misread of {int((~kept).sum())}"),
        ]
    return [
        *figures,
        at_least("drawn digits read right (offline)", 100.0 * float(right.mean()), GOAL_DRAWN, "%",
                 f"{int(dig.sum())} digits, {where}; {by_brush}"),
        at_most("drawn digits called \"not a digit\" (offline)", 100.0 * float(called[dig].mean()),
                GOAL_FALSE_REJECT, "%", f"{int(called[dig].sum())} of {int(dig.sum())}"),
        at_least("non-digits called \"not a digit\" (offline)", 100.0 * float(called[~dig].mean()),
                 GOAL_REJECT, "%", f"{int((~dig).sum())} drawings; missed: "
                 + ", ".join(f"{k} {v}" for k, v in missed.most_common(8))),
        info("MNIST test accuracy", 100.0 * float((mdig.argmax(1) == y_test).mean()), "%",
             f"{int((moth >= threshold).sum())} of {len(y_test)} called \"not a digit\""),
        info("time", time.perf_counter() - t0, "s"),
    ]


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", type=Path, default=None,
                    help="a model directory, .keras or .tflite (default: the shipped model)")
    ap.add_argument("--set", choices=("dev", "bench"), default="dev",
                    help="dev: held-out MNIST training digits (model selection); bench: the "
                    "window bench's drawings (to check offline against the window)")
    ap.add_argument("--digits", type=int, default=3000)
    ap.add_argument("--nondigits", type=int, default=600)
    ap.add_argument("--sheet", type=Path, default=None, help="save the misread digits as a PNG")
    ap.add_argument("--shapes", action="store_true",
                    help="also split the digits by whether the drawing kept the original's pieces of "
                    "ink and holes (a check of the stroke conversion, not of the model)")


if __name__ == "__main__":
    sys.exit(script_main(__doc__.splitlines()[0], run, add_args))
