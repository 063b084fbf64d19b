"""Pen strokes from pictures, and pictures from pen strokes, the way the drawing pad makes them.

MNIST digits were written with a pen and scanned; the pad's ink is a uniform round brush of
any width. To train (and benchmark) on what the pad produces, a digit is thinned to its
skeleton (Zhang-Suen, vectorised over a whole batch), the skeleton is turned into strokes
(polylines), and the strokes are drawn again with a round brush on a pad-sized canvas and
put through :func:`app.core.preprocess.preprocess` exactly like the pad's buffer.

Coordinates: strokes are (K, 2) float arrays of (x, y) in 0..1 pad units (x right, y down).
Qt-free (NumPy + Pillow).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from app.core.preprocess import preprocess

PAD = 280  # the pad's model buffer (app.ui.pad.BUFFER_SIZE)
Strokes = list[np.ndarray]

_N8 = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))  # p2..p9


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean (H, W) or (N, H, W) mask, all images at once."""
    single = mask.ndim == 2
    m = mask[None] if single else mask
    img = np.zeros((m.shape[0], m.shape[1] + 2, m.shape[2] + 2), np.uint8)
    img[:, 1:-1, 1:-1] = m
    h, w = m.shape[1:]
    while True:
        changed = False
        for step in (0, 1):
            p = [img[:, 1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w] for dy, dx in _N8]
            c = img[:, 1:-1, 1:-1]
            b = sum(q.astype(np.int8) for q in p)
            a = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.int8) for i in range(8))
            p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
            if step == 0:
                cond = ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
            else:
                cond = ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
            kill = (c == 1) & (b >= 2) & (b <= 6) & (a == 1) & cond
            if kill.any():
                c[kill] = 0
                changed = True
        if not changed:
            break
    out = img[:, 1:-1, 1:-1].astype(bool)
    return out[0] if single else out


def skeletons(images: np.ndarray, up: int = 2, level: float = 0.4) -> np.ndarray:
    """Skeletons (N, 28*up, 28*up) bool of (N, 28, 28) uint8 images (ink = high values)."""
    n, h, w = images.shape
    big = np.empty((n, h * up, w * up), np.float32)
    for i in range(n):
        big[i] = np.asarray(Image.fromarray(images[i]).resize((w * up, h * up), Image.Resampling.BILINEAR))
    return thin(big >= level * 255.0)


def trace(skel: np.ndarray, min_len: int = 2) -> list[np.ndarray]:
    """The skeleton's pixels as polylines of (row, col) points, each pixel link walked once.

    Diagonal links that a 4-connected corner already joins are dropped (no tiny triangles);
    walks start at line ends first, then anywhere (closed loops).
    """
    pts = {(int(r), int(c)) for r, c in zip(*np.nonzero(skel), strict=True)}

    def links(p: tuple[int, int]) -> list[tuple[int, int]]:
        r, c = p
        out = []
        for dr, dc in _N8:
            q = (r + dr, c + dc)
            if q not in pts:
                continue
            if dr and dc and ((r + dr, c) in pts or (r, c + dc) in pts):
                continue
            out.append(q)
        return out

    nbrs = {p: links(p) for p in pts}
    used: set[frozenset[tuple[int, int]]] = set()
    order = sorted(pts, key=lambda p: (len(nbrs[p]) != 1, p))
    lines: list[np.ndarray] = []
    for start in order:
        while True:
            free = [q for q in nbrs[start] if frozenset((start, q)) not in used]
            if not free and len(nbrs[start]) > 0:
                break
            path = [start]
            cur = start
            while True:
                nxt = [q for q in nbrs[cur] if frozenset((cur, q)) not in used]
                if not nxt:
                    break
                if len(path) > 1:  # go on as straight as possible
                    pr, pc = path[-2]
                    dr, dc = cur[0] - pr, cur[1] - pc
                    nxt.sort(key=lambda q: -((q[0] - cur[0]) * dr + (q[1] - cur[1]) * dc))
                used.add(frozenset((cur, nxt[0])))
                path.append(nxt[0])
                cur = nxt[0]
            if len(path) >= min_len or not nbrs[start]:
                lines.append(np.array(path, np.float32))
            if not nbrs[start]:
                break
    return lines


def skeleton_strokes(skel: np.ndarray) -> Strokes:
    """The skeleton as strokes in its own unit box: (x, y) = (col, row) / side."""
    side = float(max(skel.shape))
    return [(line[:, ::-1] + 0.5) / side for line in trace(skel)]


LEVELS = (0.25, 0.4, 0.55, 0.7)  # ink thresholds tried for each digit's skeleton


def pen_width(strokes: Strokes, image: np.ndarray) -> float:
    """The pen width, in pixels, that wrote the (H, W) uint8 ``image`` along ``strokes``
    (in its unit box): its ink over the strokes' length, within 1 and a seventh of H."""
    side = max(image.shape)
    length = sum(float(np.linalg.norm(np.diff(s, axis=0), axis=1).sum()) for s in strokes) * side
    ink = float(image.sum()) / 255.0
    return float(np.clip(ink / max(length, 1.0), 1.0, side / 7))


def redraw_error(strokes: Strokes, image: np.ndarray) -> float:
    """How far ``strokes`` (in the image's unit box) drawn again at the image's own pen
    width are from the (H, W) uint8 ``image``: the mean absolute difference of the two
    pictures, 0..1 (1 when there are no strokes)."""
    if not strokes:
        return 1.0
    side = max(image.shape)
    again = render(strokes, pen_width(strokes, image), size=side).astype(np.float32)
    return float(np.abs(again - image.astype(np.float32)).mean()) / 255.0


def digit_strokes(images: np.ndarray, up: int = 2) -> list[Strokes]:
    """Pen strokes of (N, 28, 28) uint8 digit images (ink high), each in its unit box.

    One ink threshold does not suit every scanned digit: at a low one the small loop of a
    thick 9 fills in and its skeleton is a stick; at a high one a faint stroke breaks into
    dots. So each digit is thinned at every level of :data:`LEVELS`, and the strokes kept
    are those that, drawn again with the digit's own pen width, look most like it.
    """
    candidates = [skeletons(images, up, level) for level in LEVELS]
    out = []
    for i, image in enumerate(images):
        tries = [skeleton_strokes(sk[i]) for sk in candidates]
        out.append(min(tries, key=lambda strokes: redraw_error(strokes, image)))
    return out


def fit_box(strokes: Strokes, height: float, centre: tuple[float, float]) -> Strokes:
    """Scale strokes so that their points span ``height`` (pad fraction) and centre them."""
    allp = np.concatenate(strokes)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    span = max(float(hi[1] - lo[1]), float(hi[0] - lo[0]) * 0.8, 1e-6)
    mid = (lo + hi) / 2
    return [(s - mid) * (height / span) + np.asarray(centre, np.float32) for s in strokes]


def warp(strokes: Strokes, rng: np.random.Generator, strength: float = 1.0) -> Strokes:
    """A small random affine (rotation, shear, aspect) and smooth elastic wobble."""
    allp = np.concatenate(strokes)
    mid = (allp.min(axis=0) + allp.max(axis=0)) / 2
    span = float(np.ptp(allp, axis=0).max()) or 1.0
    a = rng.uniform(-0.2, 0.2) * strength
    sh = rng.uniform(-0.25, 0.25) * strength
    sx = np.exp(rng.uniform(-0.2, 0.2) * strength)
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array([[sx, sh], [0, 1]])
    amp = rng.uniform(0, 0.03) * strength * span
    f, ph = rng.uniform(0.5, 1.5, 2), rng.uniform(0, 2 * np.pi, 2)
    out = []
    for s in strokes:
        q = (s - mid) @ m.T.astype(np.float32)
        u = (s - mid) / span
        q[:, 0] += amp * np.sin(2 * np.pi * f[0] * u[:, 1] + ph[0])
        q[:, 1] += amp * np.sin(2 * np.pi * f[1] * u[:, 0] + ph[1])
        out.append((q + mid).astype(np.float32))
    return out


def render(strokes: Sequence[np.ndarray], brush: float, size: int = PAD) -> np.ndarray:
    """Strokes drawn with a round brush of ``brush`` pixels on a (size, size) uint8 canvas
    (0 = background, 255 = ink, like the pad's model buffer); 2x supersampled."""
    ss = 2
    img = Image.new("L", (size * ss, size * ss), 0)
    draw = ImageDraw.Draw(img)
    w = max(1.0, brush * ss)
    r = w / 2
    for s in strokes:
        pts = [(float(x) * size * ss, float(y) * size * ss) for x, y in s]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=round(w), joint="curve")
        for x, y in pts:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img.reduce(ss))


def random_brush(rng: np.random.Generator) -> float:
    """A brush diameter in pad pixels: mostly around the pad's default (20), from 5 to 44."""
    return float(np.clip(np.exp(rng.normal(np.log(17.0), 0.5)), 5.0, 44.0))


def pad_image(strokes: Strokes, rng: np.random.Generator, strength: float = 1.0,
              brush: float | None = None) -> np.ndarray | None:
    """Strokes as the pad would hand them to the model: warped, placed at 35-85 % of the
    pad's height somewhere on it, brushed, preprocessed -> (28, 28) uint8 (or None)."""
    s = warp(strokes, rng, strength)
    h = rng.uniform(0.35, 0.85)
    cx, cy = rng.uniform(0.5 - (1 - h) / 2, 0.5 + (1 - h) / 2, 2) if h < 1 else (0.5, 0.5)
    s = fit_box(s, h, (cx, cy))
    x = preprocess(render(s, brush if brush is not None else random_brush(rng)), ink="light")
    if x is None:
        return None
    return np.round(x * 255.0).astype(np.uint8)
