"""Drawings that are not digits, generated as pen strokes, to teach "not a digit".

Five kinds: random scribbles, geometric shapes and symbols, letters (Pillow's built-in
scalable font, thinned to strokes, and hand-defined stroke letters), doodles put together
from random parts, and two digits drawn over each other. Letters and shapes that people
draw like a digit (O, I, l, S, Z, B, G, q, a vertical bar, a circle…) are left out on
purpose: a drawing that looks like a digit must stay a digit. Strokes are in a unit box;
:func:`app.core.penrender.pad_image` draws them as the pad would. Qt-free.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.core.penrender import Strokes, skeleton_strokes, thin

# letters that do not look like a digit when drawn by hand
LETTERS = "ACDEFHJKLMNPQRTUVWXYacdefhkmnprtuvwxy"
# capitals as a pen writes them (unit box), beside the font's shapes
STROKE_LETTERS: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.25, 0.55), (0.75, 0.55)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.7, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(1, 0), (0, 0.55), (1, 1)]],
    "L": [[(0, 0), (0, 1), (0.8, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "P": [[(0, 1), (0, 0), (0.7, 0), (0.9, 0.15), (0.9, 0.35), (0.7, 0.5), (0, 0.5)]],
    "R": [[(0, 1), (0, 0), (0.7, 0), (0.9, 0.15), (0.9, 0.35), (0.7, 0.5), (0, 0.5), (0.9, 1)]],
    "T": [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "U": [[(0, 0), (0, 0.75), (0.2, 1), (0.8, 1), (1, 0.75), (1, 0)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
    "D": [[(0, 0), (0, 1), (0.55, 1), (0.9, 0.75), (1, 0.5), (0.9, 0.25), (0.55, 0), (0, 0)]],
}

Gen = Callable[[np.random.Generator], Strokes]


def _a(points: list[tuple[float, float]]) -> np.ndarray:
    return np.asarray(points, np.float32)


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> np.ndarray:
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1).astype(np.float32)


def _poly(rng: np.random.Generator, n: int, star: bool = False) -> Strokes:
    k = n * 2 if star else n
    a = np.linspace(0, 2 * np.pi, k + 1) + rng.uniform(0, 2 * np.pi)
    r = np.where(np.arange(k + 1) % 2 == 1, 0.4, 1.0) if star else np.ones(k + 1)
    return [np.stack([0.5 + 0.5 * r * np.cos(a), 0.5 + 0.5 * r * np.sin(a)], 1).astype(np.float32)]


def scribble(rng: np.random.Generator) -> Strokes:
    """A random scrawl: a smooth random walk that turns a lot, or a zigzag back and forth."""
    if rng.random() < 0.3:  # a polyline through random points, turning sharply
        return [rng.uniform(0, 1, (int(rng.integers(5, 10)), 2)).astype(np.float32)]
    if rng.random() < 0.5:
        n = int(rng.integers(30, 80))
        turn = np.cumsum(rng.normal(0, rng.uniform(0.5, 1.0), n))
        step = rng.uniform(0.03, 0.08)
        p = np.cumsum(np.stack([np.cos(turn), np.sin(turn)], 1) * step, axis=0)
        return [p.astype(np.float32)]
    n = int(rng.integers(4, 12))
    xs = np.where(np.arange(n) % 2 == 0, 0.0, 1.0) + rng.normal(0, 0.08, n)
    ys = np.linspace(0, rng.uniform(0.3, 1.0), n) + rng.normal(0, 0.03, n)
    p = np.stack([xs, ys], 1)
    return [(p[:, ::-1] if rng.random() < 0.5 else p).astype(np.float32)]


def _smiley(rng: np.random.Generator) -> Strokes:
    return [
        _arc(0.5, 0.5, 0.5, 0.5, 0, 360, 32),
        _arc(0.35, 0.38, 0.03, 0.03, 0, 360, 6),
        _arc(0.65, 0.38, 0.03, 0.03, 0, 360, 6),
        _arc(0.5, 0.55, 0.25, 0.2, 20, 160, 12),
    ]


SHAPES: dict[str, Gen] = {
    "triangle": lambda r: _poly(r, 3),
    "square": lambda r: _poly(r, 4),
    "pentagon": lambda r: _poly(r, 5),
    "hexagon": lambda r: _poly(r, 6),
    "star": lambda r: _poly(r, int(r.integers(5, 7)), star=True),
    "cross": lambda r: [_a([(0, 0), (1, 1)]), _a([(1, 0), (0, 1)])],
    "plus": lambda r: [_a([(0.5, 0), (0.5, 1)]), _a([(0, 0.5), (1, 0.5)])],
    "hash": lambda r: [
        _a([(0.35, 0), (0.3, 1)]),
        _a([(0.7, 0), (0.65, 1)]),
        _a([(0, 0.35), (1, 0.35)]),
        _a([(0, 0.68), (1, 0.68)]),
    ],
    "asterisk": lambda r: [
        _a([(0.5, 0), (0.5, 1)]),
        _a([(0.07, 0.25), (0.93, 0.75)]),
        _a([(0.93, 0.25), (0.07, 0.75)]),
    ],
    "dash": lambda r: [_a([(0, 0.5), (1, 0.5 + r.uniform(-0.05, 0.05))])],
    "wide ellipse": lambda r: [_arc(0.5, 0.5, 0.5, r.uniform(0.12, 0.3), 0, 360, 32)],
    "wave": lambda r: [
        np.stack(
            [np.linspace(0, 1, 40), 0.5 + 0.15 * np.sin(np.linspace(0, r.uniform(3, 5) * np.pi, 40))], 1
        ).astype(np.float32)
    ],
    "spiral": lambda r: [
        np.stack([0.5 + t / 25 * np.cos(t), 0.5 + t / 25 * np.sin(t)], 1).astype(np.float32)
        for t in [np.linspace(0, r.uniform(10, 14), 60)]
    ],
    "arrow": lambda r: [_a([(0, 0.5), (1, 0.5)]), _a([(0.7, 0.25), (1, 0.5), (0.7, 0.75)])],
    "heart": lambda r: [
        _a(
            [
                (0.5, 1),
                (0.05, 0.45),
                (0.05, 0.2),
                (0.25, 0.05),
                (0.5, 0.25),
                (0.75, 0.05),
                (0.95, 0.2),
                (0.95, 0.45),
                (0.5, 1),
            ]
        )
    ],
    "smiley": _smiley,
    "check": lambda r: [_a([(0, 0.6), (0.3, 1), (1, 0)])],
    "house": lambda r: [_a([(0, 1), (0, 0.45), (0.5, 0), (1, 0.45), (1, 1), (0, 1)])],
    "lightning": lambda r: [_a([(0.6, 0), (0.2, 0.55), (0.7, 0.45), (0.35, 1)])],
    "grid": lambda r: (
        [_a([(x, 0), (x, 1)]) for x in (0, 0.5, 1)] + [_a([(0, y), (1, y)]) for y in (0, 0.5, 1)]
    ),
    "dots": lambda r: [
        _arc(x, y, 0.02, 0.02, 0, 360, 5) for x, y in r.uniform(0, 1, (int(r.integers(2, 5)), 2))
    ],
    "infinity": lambda r: [
        np.stack([0.5 + 0.5 * np.sin(t), 0.5 + 0.22 * np.sin(2 * t)], 1).astype(np.float32)
        for t in [np.linspace(0, 2 * np.pi, 48)]
    ],
}


def shape(rng: np.random.Generator) -> Strokes:
    names = sorted(SHAPES)
    return SHAPES[names[int(rng.integers(len(names)))]](rng)


def _glyph_skeleton(ch: str, size: int = 56) -> np.ndarray:
    font = ImageFont.load_default(size=int(size * 0.8))
    img = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(img).text((size // 2, size // 4), ch, fill=255, font=font)
    a = np.asarray(img) > 127
    rows, cols = np.nonzero(a)
    a = a[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    return thin(a)


_GLYPHS: dict[str, Strokes] = {}


def letter(rng: np.random.Generator) -> Strokes:
    """A letter of Pillow's built-in font (Aileron), thinned to the strokes a pen would draw."""
    ch = LETTERS[int(rng.integers(len(LETTERS)))]
    if ch not in _GLYPHS:
        _GLYPHS[ch] = skeleton_strokes(_glyph_skeleton(ch))
    return [s.copy() for s in _GLYPHS[ch]]


def stroke_letter(rng: np.random.Generator) -> Strokes:
    """A capital letter as a pen writes it, from :data:`STROKE_LETTERS`."""
    names = sorted(STROKE_LETTERS)
    return [_a(s) for s in STROKE_LETTERS[names[int(rng.integers(len(names)))]]]


def _part(rng: np.random.Generator) -> np.ndarray:
    """One random part of a doodle, in its own unit box."""
    kind = int(rng.integers(5))
    if kind == 0:  # a straight line
        return rng.uniform(0, 1, (2, 2)).astype(np.float32)
    if kind == 1:  # a small ring
        return _arc(0.5, 0.5, 0.5, 0.5, 0, 360, 20)
    if kind == 2:  # an arc
        a0 = rng.uniform(0, 360)
        return _arc(0.5, 0.5, 0.5, rng.uniform(0.2, 0.5), a0, a0 + rng.uniform(90, 250), 16)
    if kind == 3:  # a zigzag
        n = int(rng.integers(3, 7))
        return np.stack([np.linspace(0, 1, n), np.arange(n) % 2], 1).astype(np.float32)
    return np.concatenate([p := rng.uniform(0, 1, (int(rng.integers(3, 5)), 2)), p[:1]]).astype(np.float32)


def doodle(rng: np.random.Generator) -> Strokes:
    """Three to six random parts (lines, rings, arcs, zigzags, polygons) of random sizes
    at random places: a made-up drawing."""
    out = []
    for _ in range(int(rng.integers(3, 7))):
        size = rng.uniform(0.15, 0.6)
        out.append(_part(rng) * np.float32(size) + rng.uniform(0, 1 - size, 2).astype(np.float32))
    return out


def overlap(a: Strokes, b: Strokes, rng: np.random.Generator) -> Strokes:
    """Two digits' strokes side by side, overlapping by up to a third of a width."""
    shift = rng.uniform(0.55, 0.9)
    dy = rng.uniform(-0.15, 0.15)
    offset = np.asarray([shift, dy], np.float32)
    return [s.copy() for s in a] + [s + offset for s in b]


KINDS: dict[str, Gen] = {"scribble": scribble, "shape": shape, "letter": letter,
                         "stroke letter": stroke_letter, "doodle": doodle}
