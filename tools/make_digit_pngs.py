"""Render hand-drawn-style digit PNGs for the tests (``tests/data/digits/``).

    python tools/make_digit_pngs.py              # writes tests/data/digits/*.png
    python tools/make_digit_pngs.py --out /tmp/d --all   # every digit in every variant

Each digit is a few pen strokes (polylines and arcs) in a unit box, drawn the way people
write them: a "1" is one slanted line, a "4" has an open top, a "7" is a plain stroke
without a bar. The strokes get a slight slant and a seeded wobble, are drawn at 4x with
round caps and joints and scaled down (antialiased). Variants: size, position, stroke
width and polarity (black on white, white on black). Output: 200x200 greyscale PNGs
named ``<digit>_<variant>.png``; deterministic.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "tests" / "data" / "digits"
CANVAS = 200
SUPER = 4  # supersampling factor (antialiasing)

Point = tuple[float, float]
Stroke = list[Point]


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 40) -> Stroke:
    """Points of an elliptic arc; angles in degrees, 0 = right, 90 = down (image y)."""
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in np.linspace(start, end, n)
    ]


def line(*pts: Point) -> Stroke:
    return list(pts)


# Strokes in a unit box: x 0..1 (left..right), y 0..1 (top..bottom). Digits are drawn
# about 0.6 wide and 1.0 tall, like handwriting (MNIST digits are taller than wide).
DIGITS: dict[int, list[Stroke]] = {
    0: [arc(0.5, 0.5, 0.28, 0.46, -100, 265)],
    1: [line((0.56, 0.02), (0.46, 0.98))],
    2: [
        arc(0.5, 0.3, 0.27, 0.26, 200, 385)
        + line((0.7, 0.55), (0.42, 0.8), (0.2, 0.97))
        + line((0.2, 0.97), (0.5, 0.95), (0.84, 0.96))
    ],
    3: [
        arc(0.48, 0.27, 0.25, 0.23, 205, 450)[:-1]
        + arc(0.48, 0.72, 0.29, 0.25, -90, 150)
    ],
    4: [
        line((0.34, 0.02), (0.17, 0.6), (0.86, 0.6)),
        line((0.68, 0.04), (0.66, 0.99)),
    ],
    5: [
        line((0.82, 0.04), (0.32, 0.04), (0.27, 0.44))
        + arc(0.5, 0.68, 0.31, 0.28, -130, 150)
    ],
    6: [
        line((0.72, 0.02), (0.52, 0.16), (0.34, 0.36))
        + arc(0.5, 0.7, 0.29, 0.27, 200, 570)
    ],
    7: [line((0.14, 0.06), (0.86, 0.06), (0.62, 0.5), (0.42, 0.98))],
    8: [
        arc(0.5, 0.26, 0.22, 0.23, 90, 450),
        arc(0.5, 0.73, 0.28, 0.25, -90, 270),
    ],
    9: [
        arc(0.48, 0.3, 0.26, 0.25, 0, 360),
        line((0.74, 0.3), (0.73, 0.6), (0.68, 0.99)),
    ],
}


@dataclass(frozen=True)
class Variant:
    name: str
    height: float  # digit height as a fraction of the canvas
    stroke: float  # pen width as a fraction of the digit height
    centre: Point = (0.5, 0.5)  # where the digit's box centre goes (fractions of the canvas)
    inverted: bool = False  # white ink on black instead of black on white


VARIANTS = {
    "large": Variant("large", 0.8, 0.09),
    "small": Variant("small", 0.3, 0.12),
    "offcentre": Variant("offcentre", 0.5, 0.1, centre=(0.3, 0.65)),
    "small_offcentre": Variant("small_offcentre", 0.32, 0.12, centre=(0.72, 0.3)),
    "thin": Variant("thin", 0.7, 0.03),
    "thick": Variant("thick", 0.65, 0.18),
    "inverted": Variant("inverted", 0.7, 0.1, inverted=True),
    "thin_inverted": Variant("thin_inverted", 0.6, 0.035, inverted=True),
    "thick_inverted": Variant("thick_inverted", 0.6, 0.17, centre=(0.55, 0.45), inverted=True),
}

# The dozen fixtures committed to tests/data/digits/ (each digit at least once, every
# variant at least once).
FIXTURES: list[tuple[int, str]] = [
    (0, "thick"),
    (1, "thin"),
    (2, "small_offcentre"),
    (3, "large"),
    (4, "inverted"),
    (5, "thin_inverted"),
    (6, "small"),
    (7, "small_offcentre"),
    (8, "thick_inverted"),
    (9, "offcentre"),
    (4, "large"),
    (7, "thin_inverted"),
]


def _handwritten(strokes: Iterable[Stroke], rng: np.random.Generator) -> list[np.ndarray]:
    """Slant the digit a little and let the pen wobble (smooth, low-frequency noise)."""
    slant = rng.uniform(0.05, 0.15)
    out = []
    for stroke in strokes:
        pts = np.asarray(stroke, dtype=np.float64)
        n = len(pts)
        phase = rng.uniform(0, 2 * math.pi, size=2)
        t = np.linspace(0, 1, n)
        wobble = 0.012 * np.stack([np.sin(2 * math.pi * t * 1.5 + phase[0]),
                                   np.sin(2 * math.pi * t * 1.2 + phase[1])], axis=1)
        pts = pts + wobble
        pts[:, 0] += slant * (0.5 - pts[:, 1])  # lean to the right, as most people write
        out.append(pts)
    return out


def render(digit: int, variant: Variant, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(1000 * digit + seed)
    strokes = _handwritten(DIGITS[digit], rng)
    size = CANVAS * SUPER
    height = variant.height * size
    pen = max(SUPER, variant.stroke * height)
    cx, cy = variant.centre[0] * size, variant.centre[1] * size
    bg, ink = (0, 255) if variant.inverted else (255, 0)
    img = Image.new("L", (size, size), bg)
    draw = ImageDraw.Draw(img)
    for pts in strokes:
        xy = [(cx + (x - 0.5) * height, cy + (y - 0.5) * height) for x, y in pts]
        draw.line(xy, fill=ink, width=round(pen), joint="curve")
        r = pen / 2
        for x, y in (xy[0], xy[-1]):  # round pen caps
            draw.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    return img.resize((CANVAS, CANVAS), Image.Resampling.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--all", action="store_true", help="every digit in every variant")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    todo = ([(d, v) for d in range(10) for v in VARIANTS] if args.all else FIXTURES)
    total = 0
    for digit, vname in todo:
        path = args.out / f"{digit}_{vname}.png"
        render(digit, VARIANTS[vname]).save(path, optimize=True)
        total += path.stat().st_size
    print(f"wrote {len(todo)} images ({total / 1024:.0f} KB) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
