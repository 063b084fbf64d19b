"""The drawings the "read what people draw" benchmark replays on the pad, as strokes.

* **Digits**: MNIST *test* digits (never used in training) turned into pen strokes, each
  at the ink threshold whose strokes look most like the digit
  (:func:`app.core.penrender.digit_strokes`), placed at a random height (35-85 % of the
  pad's height) and a random place on the pad, drawn with one of several brush sizes.
* **Not digits**: built apart from the training negatives (``app.core.negatives``):
  letters of system fonts (Debian's fonts-dejavu-core and fonts-urw-base35: DejaVu Sans,
  Nimbus Sans, Nimbus Roman, URW Gothic, Z003 script — training uses Pillow's own font),
  a wider letter set, hand-defined doodles, and Bezier scribbles and irregular polygons
  from generators of their own, with other seeds.

A drawing is (label, kind, strokes in 0..1 pad coordinates, brush in pad pixels); label
-1 = not a digit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.core import penrender as pr

BRUSHES = (10, 20, 32)  # pad pixels: thin, the default, thick
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/URWGothic-Book.otf",
    "/usr/share/fonts/opentype/urw-base35/Z003-MediumItalic.otf",
)
# every letter but those written like a digit (O o I i l j S s Z z B b G g q)
BENCH_LETTERS = "ACDEFHJKLMNPQRTUVWXYacdefhkmnprtuvwxy"


@dataclass
class Drawing:
    label: int  # 0-9, or -1: not a digit
    kind: str
    strokes: list[np.ndarray]
    brush: float
    source: int = -1  # the MNIST image's index, for a digit


def _place(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    h = rng.uniform(0.35, 0.85)
    m = (1 - h) / 2
    return pr.fit_box(
        strokes, h, (float(rng.uniform(0.5 - m, 0.5 + m)), float(rng.uniform(0.5 - m, 0.5 + m)))
    )


def digit_drawings(x_test: np.ndarray, y_test: np.ndarray, n: int, seed: int = 2026) -> list[Drawing]:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x_test), min(n, len(x_test)), replace=False)
    out = []
    for k, (i, strokes) in enumerate(zip(idx, pr.digit_strokes(x_test[idx]), strict=True)):
        if strokes:
            out.append(Drawing(int(y_test[i]), "mnist-test", _place(strokes, rng), BRUSHES[k % len(BRUSHES)],
                               int(i)))
    return out


# ------------------------------------------------------------------ the non-digit drawings


def _a(*pts: tuple[float, float]) -> np.ndarray:
    return np.asarray(pts, np.float32)


def _ell(
    cx: float, cy: float, rx: float, ry: float, a0: float = 0, a1: float = 360, n: int = 24
) -> np.ndarray:
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1).astype(np.float32)


DOODLES: dict[str, list[np.ndarray]] = {
    "sun": [_ell(0.5, 0.5, 0.2, 0.2)]
    + [
        _a(
            (0.5 + 0.28 * math.cos(a), 0.5 + 0.28 * math.sin(a)),
            (0.5 + 0.45 * math.cos(a), 0.5 + 0.45 * math.sin(a)),
        )
        for a in np.linspace(0, 2 * math.pi, 9)[:-1]
    ],
    "tree": [_a((0.45, 1), (0.45, 0.6)), _a((0.55, 1), (0.55, 0.6)), _ell(0.5, 0.35, 0.3, 0.3, 110, 430, 30)],
    "flower": [_ell(0.5, 0.3, 0.08, 0.08)]
    + [
        _ell(0.5 + 0.15 * math.cos(a), 0.3 + 0.15 * math.sin(a), 0.07, 0.07, n=10)
        for a in np.linspace(0, 2 * math.pi, 7)[:-1]
    ]
    + [_a((0.5, 0.45), (0.5, 1))],
    "cat": [
        _ell(0.5, 0.6, 0.35, 0.3),
        _a((0.2, 0.45), (0.22, 0.1), (0.38, 0.33)),
        _a((0.62, 0.33), (0.78, 0.1), (0.8, 0.45)),
        _ell(0.38, 0.55, 0.03, 0.03, n=6),
        _ell(0.62, 0.55, 0.03, 0.03, n=6),
        _a((0.45, 0.7), (0.5, 0.74), (0.55, 0.7)),
    ],
    "fish": [
        _a((0.1, 0.5), (0.4, 0.3), (0.75, 0.5), (0.4, 0.7), (0.1, 0.5)),
        _a((0.75, 0.5), (0.95, 0.3), (0.95, 0.7), (0.75, 0.5)),
    ],
    "envelope": [_a((0, 0.2), (1, 0.2), (1, 0.8), (0, 0.8), (0, 0.2), (0.5, 0.55), (1, 0.2))],
    "note": [_ell(0.35, 0.8, 0.12, 0.09), _a((0.47, 0.8), (0.47, 0.1), (0.75, 0.25))],
    "umbrella": [
        _ell(0.5, 0.45, 0.45, 0.35, 180, 360, 20),
        _a((0.05, 0.45), (0.95, 0.45)),
        _a((0.5, 0.45), (0.5, 0.9), (0.4, 0.95), (0.35, 0.88)),
    ],
    "cup": [
        _a((0.2, 0.2), (0.3, 0.9), (0.7, 0.9), (0.8, 0.2), (0.2, 0.2)),
        _ell(0.85, 0.5, 0.12, 0.15, -90, 90, 10),
    ],
    "boat": [
        _a((0, 0.7), (1, 0.7), (0.8, 0.9), (0.2, 0.9), (0, 0.7)),
        _a((0.5, 0.7), (0.5, 0.05), (0.85, 0.6), (0.5, 0.6)),
    ],
    "key": [
        _ell(0.2, 0.5, 0.15, 0.15),
        _a((0.35, 0.5), (0.95, 0.5), (0.95, 0.65)),
        _a((0.8, 0.5), (0.8, 0.62)),
    ],
    "pizza": [
        _a((0.1, 0.1), (0.9, 0.1), (0.5, 0.95), (0.1, 0.1)),
        _ell(0.4, 0.3, 0.05, 0.05, n=8),
        _ell(0.6, 0.35, 0.05, 0.05, n=8),
    ],
    "car": [
        _a(
            (0, 0.7),
            (0, 0.45),
            (0.25, 0.45),
            (0.35, 0.25),
            (0.7, 0.25),
            (0.8, 0.45),
            (1, 0.45),
            (1, 0.7),
            (0, 0.7),
        ),
        _ell(0.22, 0.75, 0.1, 0.1),
        _ell(0.78, 0.75, 0.1, 0.1),
    ],
    "eye": [
        _ell(0.5, 0.5, 0.45, 0.22, 180, 360, 16),
        _ell(0.5, 0.5, 0.45, 0.22, 0, 180, 16),
        _ell(0.5, 0.5, 0.12, 0.12),
    ],
    "bolt": [_a((0.55, 0), (0.25, 0.5), (0.5, 0.5), (0.35, 1), (0.8, 0.4), (0.55, 0.4), (0.7, 0))],
    "crown": [_a((0, 0.8), (0, 0.2), (0.25, 0.5), (0.5, 0.1), (0.75, 0.5), (1, 0.2), (1, 0.8), (0, 0.8))],
    "ladder": [_a((0.3, 0), (0.3, 1)), _a((0.7, 0), (0.7, 1))]
    + [_a((0.3, y), (0.7, y)) for y in (0.2, 0.4, 0.6, 0.8)],
    "tick-tack-toe": [
        _a((0.33, 0), (0.33, 1)),
        _a((0.66, 0), (0.66, 1)),
        _a((0, 0.33), (1, 0.33)),
        _a((0, 0.66), (1, 0.66)),
    ],
    "arrow up": [_a((0.5, 1), (0.5, 0)), _a((0.2, 0.3), (0.5, 0), (0.8, 0.3))],
    "double arrow": [
        _a((0, 0.5), (1, 0.5)),
        _a((0.2, 0.3), (0, 0.5), (0.2, 0.7)),
        _a((0.8, 0.3), (1, 0.5), (0.8, 0.7)),
    ],
    "question box": [_a((0, 0), (1, 0), (1, 1), (0, 1), (0, 0)), _a((0, 0), (1, 1))],
    "moon face": [
        _ell(0.5, 0.5, 0.45, 0.45),
        _a((0.3, 0.4), (0.4, 0.4)),
        _a((0.6, 0.4), (0.7, 0.4)),
        _a((0.35, 0.7), (0.65, 0.7)),
    ],
    "sigma": [_a((0.9, 0.05), (0.1, 0.05), (0.55, 0.5), (0.1, 0.95), (0.9, 0.95))],
    "pi": [_a((0.05, 0.15), (0.95, 0.15)), _a((0.3, 0.15), (0.3, 0.95)), _a((0.7, 0.15), (0.75, 0.95))],
}


def _font_letter(ch: str, font_file: str) -> list[np.ndarray]:
    font = ImageFont.truetype(font_file, 48)
    img = Image.new("L", (128, 128), 0)
    ImageDraw.Draw(img).text((30, 20), ch, fill=255, font=font)
    a = np.asarray(img) > 127
    rows, cols = np.nonzero(a)
    if len(rows) == 0:
        return []
    return pr.skeleton_strokes(pr.thin(a[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]))


def _bezier_scribble(rng: np.random.Generator) -> list[np.ndarray]:
    # three to five quadratic pieces: fewer make a plain arc or line, which is a drawn 1
    ctrl = rng.uniform(0, 1, (int(rng.integers(7, 12)), 2))
    t = np.linspace(0, 1, 60)[:, None]
    pts = []
    for i in range(0, len(ctrl) - 2, 2):  # quadratic pieces through every other control point
        p0, p1, p2 = ctrl[i], ctrl[i + 1], ctrl[i + 2]
        pts.append((1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2)
    return [np.concatenate(pts).astype(np.float32)]


def _polygon(rng: np.random.Generator) -> list[np.ndarray]:
    """A triangle, quadrilateral or pentagon (more corners: a rounded polygon is a 0) with
    corners at least 50 degrees apart (a sliver is a drawn 1)."""
    k = int(rng.integers(3, 6))
    while True:
        a = np.sort(rng.uniform(0, 2 * math.pi, k))
        if np.diff(np.concatenate([a, a[:1] + 2 * math.pi])).min() >= math.radians(50):
            break
    r = rng.uniform(0.6, 1.0, k)
    p = np.stack([0.5 + 0.5 * r * np.cos(a), 0.5 + 0.5 * r * np.sin(a)], 1)
    return [np.concatenate([p, p[:1]]).astype(np.float32)]


def nondigit_drawings(n: int, seed: int = 7070) -> list[Drawing]:
    """About ``n`` non-digit drawings: a third letters, a third doodles, a third scribbles
    and polygons (each with a small random warp, place, size and brush)."""
    rng = np.random.default_rng(seed)
    fonts = [f for f in FONT_FILES if Path(f).is_file()]
    out: list[Drawing] = []
    letters: dict[tuple[str, str], list[np.ndarray]] = {}
    names = sorted(DOODLES)
    for k in range(n):
        which = k % 3
        if which == 0 and fonts:
            key = (BENCH_LETTERS[int(rng.integers(len(BENCH_LETTERS)))], fonts[int(rng.integers(len(fonts)))])
            if key not in letters:
                letters[key] = _font_letter(*key)
            strokes, kind = [s.copy() for s in letters[key]], f"letter {key[0]}"
        elif which == 1:
            name = names[int(rng.integers(len(names)))]
            strokes, kind = [s.copy() for s in DOODLES[name]], name
        else:
            kind = "scribble" if rng.random() < 0.5 else "polygon"
            strokes = _bezier_scribble(rng) if kind == "scribble" else _polygon(rng)
        if not strokes:
            continue
        strokes = pr.warp(strokes, rng, 0.7)
        out.append(Drawing(-1, kind, _place(strokes, rng), BRUSHES[int(rng.integers(len(BRUSHES)))]))
    return out
