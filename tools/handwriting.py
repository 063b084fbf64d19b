"""Synthetic handwriting for the screenshots and the tests: the ten digits as pen strokes, and
a "personal" style (the same digits mirrored, with jitter) that the shipped model misreads.

Digits are polylines in a unit box (x right, y down); :func:`pad_strokes` places one on the
pad (0..1 coordinates). :func:`styled_strokes` mirrors and jitters them (a mirrored 3 is an ε,
a mirrored 7 a Γ …); :func:`personal_set` renders a set of them with PIL at the pad's
resolution and preprocesses them like a drawing.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from app.core.preprocess import preprocess

Polyline = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 16) -> Polyline:
    """Points on an ellipse from angle a0 to a1 (degrees, 0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
             cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]


# Each digit: a list of strokes; each stroke a polyline in the unit box.
DIGITS: dict[str, list[Polyline]] = {
    "0": [_arc(0.5, 0.5, 0.33, 0.46, -90, 275, 28)],
    "1": [[(0.42, 0.12), (0.55, 0.02), (0.55, 0.98)]],
    "2": [[*_arc(0.5, 0.3, 0.3, 0.25, 190, 370, 12), (0.2, 0.95), (0.85, 0.95)]],
    "3": [_arc(0.48, 0.27, 0.28, 0.23, 200, 450, 14) + _arc(0.48, 0.73, 0.32, 0.25, -90, 160, 14)],
    "4": [[(0.6, 0.02), (0.12, 0.65), (0.9, 0.65)], [(0.65, 0.3), (0.65, 0.98)]],
    "5": [[(0.8, 0.04), (0.3, 0.04), (0.25, 0.45), *_arc(0.5, 0.68, 0.32, 0.28, -110, 150, 14)]],
    "6": [[(0.72, 0.02), (0.45, 0.25), (0.25, 0.55), *_arc(0.5, 0.7, 0.27, 0.27, 180, 540, 20)]],
    "7": [[(0.12, 0.05), (0.88, 0.05), (0.4, 0.98)]],
    "8": [_arc(0.5, 0.27, 0.25, 0.23, 90, 450, 18) + _arc(0.5, 0.73, 0.3, 0.25, -90, 270, 18)],
    "9": [[*_arc(0.5, 0.3, 0.3, 0.27, 0, 360, 20), (0.8, 0.3), (0.75, 0.98)]],
}


def pad_strokes(digit: str, size: float = 0.7, center: tuple[float, float] = (0.5, 0.5),
                aspect: float = 0.7) -> list[Polyline]:
    """``digit`` placed on the pad: 0..1 pad coordinates, ``size`` = height as a pad fraction."""
    cx, cy = center
    return [[(cx + (x - 0.5) * size * aspect, cy + (y - 0.5) * size) for x, y in stroke]
            for stroke in DIGITS[digit]]


SIDE = 280


def styled_strokes(digit: int, rng: np.random.Generator) -> list[Polyline]:
    """``digit``'s strokes in the mirrored style, in 0..1 pad coordinates."""
    angle = math.radians(rng.uniform(-10, 10))
    scale = rng.uniform(0.55, 0.75)
    aspect = rng.uniform(0.6, 0.8)
    cx, cy = 0.5 + rng.uniform(-0.08, 0.08), 0.5 + rng.uniform(-0.08, 0.08)
    out: list[Polyline] = []
    for stroke in DIGITS[str(digit)]:
        pts: Polyline = []
        for x, y in stroke:
            u = ((1.0 - x) - 0.5) * aspect + rng.normal(0, 0.012)  # mirrored
            v = (y - 0.5) + rng.normal(0, 0.012)
            ru = u * math.cos(angle) - v * math.sin(angle)
            rv = u * math.sin(angle) + v * math.cos(angle)
            pts.append((cx + ru * scale, cy + rv * scale))
        out.append(pts)
    return out


def render(strokes: list[Polyline], width: float) -> np.ndarray:
    img = Image.new("L", (SIDE, SIDE), 0)
    draw = ImageDraw.Draw(img)
    for stroke in strokes:
        pts = [(x * SIDE, y * SIDE) for x, y in stroke]
        draw.line(pts, fill=255, width=round(width), joint="curve")
        r = width / 2
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img)


def personal_set(per_digit: int = 8, seed: int = 0, digits: tuple[int, ...] = tuple(range(10))
                 ) -> tuple[np.ndarray, np.ndarray, list[list[Polyline]]]:
    """(x (N, 28, 28) uint8, y (N,) uint8, strokes) in the mirrored style."""
    rng = np.random.default_rng(seed)
    xs, ys, strokes = [], [], []
    for d in digits:
        for _ in range(per_digit):
            s = styled_strokes(d, rng)
            x = preprocess(render(s, rng.uniform(14, 26)), ink="light")
            assert x is not None
            xs.append(np.clip(np.rint(x * 255), 0, 255).astype(np.uint8))
            ys.append(d)
            strokes.append(s)
    return np.stack(xs), np.array(ys, np.uint8), strokes
