"""MNIST digits turned into pen strokes, to be written on the pad with the mouse.

A 28x28 digit is enlarged 4x, thinned to a one-pixel skeleton (Zhang-Suen,
:func:`app.core.penrender.thin`) at the ink threshold whose strokes look most like the
digit (:func:`app.core.penrender.redraw_error`, as the drawn-digits bench chooses it), and
the skeleton walked into polylines (from its ends first, then round its loops), lightly
smoothed and thinned out to a point every couple of pixels. The pen width is the ink's
area over the skeleton's length. Coordinates are in units of the 28-pixel MNIST frame
(0..1), so a caller scales them to the pad.
"""

from __future__ import annotations

import numpy as np

from app.core import penrender as pr

UP = 4  # enlargement before thinning
STEP = 2  # keep a point every this many skeleton pixels

Polyline = list[tuple[float, float]]


def _enlarge(img: np.ndarray) -> np.ndarray:
    """Bilinear 4x enlargement of a (28, 28) image in [0, 1]."""
    n = img.shape[0]
    coords = (np.arange(n * UP) + 0.5) / UP - 0.5
    i0 = np.clip(np.floor(coords).astype(int), 0, n - 1)
    i1 = np.clip(i0 + 1, 0, n - 1)
    f = np.clip(coords - i0, 0.0, 1.0)
    rows = img[i0] * (1 - f)[:, None] + img[i1] * f[:, None]
    out: np.ndarray = rows[:, i0] * (1 - f)[None, :] + rows[:, i1] * f[None, :]
    return out


_NEIGHBOURS = [(-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1)]


def trace(skeleton: np.ndarray) -> list[list[tuple[int, int]]]:
    """Walk a skeleton into pixel paths (row, col): from the ends first, then the loops."""
    pixels = {(int(r), int(c)) for r, c in zip(*np.nonzero(skeleton), strict=True)}

    def around(p: tuple[int, int]) -> list[tuple[int, int]]:
        return [(p[0] + dr, p[1] + dc) for dr, dc in _NEIGHBOURS if (p[0] + dr, p[1] + dc) in pixels]

    seen: set[tuple[int, int]] = set()
    paths = []
    ends = sorted((p for p in pixels if len(around(p)) == 1), key=lambda p: (p[1], p[0]))
    for start in ends + sorted(pixels, key=lambda p: (p[1], p[0])):
        if start in seen:
            continue
        path = [start]
        seen.add(start)
        joined = [q for q in around(start) if q in seen and q != start]
        while True:
            nxt = [q for q in around(path[-1]) if q not in seen]
            if not nxt:
                break
            q = nxt[0]  # (4-neighbours come first: the straighter step)
            path.append(q)
            seen.add(q)
        tail = [q for q in around(path[-1]) if q in seen and q not in path[-3:]]
        if tail:  # back to ink already written (a loop closing, a branch meeting)
            path.append(tail[0])
        if joined:
            path.insert(0, joined[0])
        if len(path) >= 2:
            paths.append(path)
    return paths


def _smooth(path: np.ndarray) -> np.ndarray:
    if len(path) < 3:
        return path
    out = path.copy()
    out[1:-1] = (path[:-2] + 2 * path[1:-1] + path[2:]) / 4
    return out


def digit_strokes(image: np.ndarray) -> tuple[list[Polyline], float]:
    """An MNIST digit (28x28 uint8) as strokes in 0..1 frame units, and the pen width."""
    img = image.astype(np.float32) / 255.0
    big = _enlarge(img)
    tries = []
    for level in pr.LEVELS:
        skeleton = pr.thin(big >= level)
        strokes = _polylines(skeleton)
        error = pr.redraw_error([np.asarray(s, np.float32) for s in strokes], image)
        tries.append((error, strokes, skeleton))
    _, strokes, skeleton = min(tries, key=lambda t: t[0])  # (the first level on a tie)
    length = max(int(skeleton.sum()), 1) / UP  # skeleton length in MNIST pixels
    width = float(img.sum()) / length / 28  # (frame units)
    return strokes, float(np.clip(width, 1.2 / 28, 3.5 / 28))


def _polylines(skeleton: np.ndarray) -> list[Polyline]:
    strokes: list[Polyline] = []
    for path in trace(skeleton):
        pts = _smooth(np.array(path, dtype=np.float64))
        keep = [*range(0, len(pts) - 1, STEP), len(pts) - 1]
        strokes.append([((c + 0.5) / (28 * UP), (r + 0.5) / (28 * UP)) for r, c in pts[keep]])
    return strokes
