"""A synthetic "personal handwriting": the test digits drawn mirrored, with jitter.

The same polylines as :mod:`tests.ui_helpers` (the real pad tests draw them), mirrored left
to right and randomly rotated, scaled, shifted and thickened, rendered with PIL at the
pad's resolution and preprocessed like a drawing. The base models misread many of them
(a mirrored 3 is an ε, a mirrored 7 a Γ …); a model that learns the style reads them.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from app.core.preprocess import preprocess
from tests.ui_helpers import DIGITS, Polyline

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
