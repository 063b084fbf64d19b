"""Split the ink of a number written side by side into its digits (NumPy only, Qt-free).

A digit is made of *pieces*: the strokes of a drawing, or the connected components of a
picture's ink. Pieces are grouped by their horizontal extents: a piece that mostly lies
over or under another one (a 4's second stroke, a 5's flag, a 7's bar) belongs to the
same digit, and so does a piece that touches another one and overlaps it a little. The
digits of a number are written left to right, so neighbours overlap little or not at all.

A group much wider than it is high is two or more touching digits: it is cut at the
column with the least ink, where there is little enough ink to cut (:func:`cuts`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# (left, top, right, bottom), pixels; right and bottom exclusive
Box = tuple[int, int, int, int]
Extent = tuple[float, float, float, float]  # (left, top, right, bottom) of a piece

OVERLAP = 0.5  # pieces overlapping this fraction of the narrower one's width: one digit
TOUCH_OVERLAP = 0.2  # ... or this fraction when they touch
FRAGMENT = 0.6  # a group lower than this fraction of the median group's height is a fragment
NARROW = 0.3  # a group narrower than this fraction of that height: a broken stroke's pieces
NEAR = 0.2  # ... joined to a neighbour at most this fraction of that height away
SPECK = 0.25  # a group whose pieces are all smaller than this fraction of the tallest group: dots
MIN_SIZE = 0.15  # a group smaller than this fraction of the tallest group's height: a speck
SPLIT_ASPECT = 1.0  # a group wider than this times its height may be touching digits
CUT_INK = 0.25  # cut where a column's ink is at most this fraction of the median column's
PART = 0.5  # ... when the ink on each side is at least this fraction of the group's height
THROUGH = 0.1  # a cut goes through a stroke that has more than this fraction on either side
ONE_STROKE = 1.5  # ... allowed only through a stroke this many times as wide as the group's height


def group_pieces(extents: Sequence[Extent],
                 touching: Callable[[int, int], bool] | None = None) -> list[list[int]]:
    """Group pieces into digits; the groups come left to right, each a sorted index list.

    ``touching(i, j)``: whether the ink of pieces ``i`` and ``j`` touches (optional).
    """
    groups: list[list[int]] = [[i] for i in sorted(range(len(extents)), key=lambda i: extents[i][0])]
    spans = [[extents[g[0]][0], extents[g[0]][2]] for g in groups]
    merged = True
    while merged:
        merged = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if spans[b][0] >= spans[a][1]:
                    break  # sorted by left edge: no later group reaches back over a
                if _same_digit(spans[a], spans[b], groups[a], groups[b], touching):
                    groups[a] = sorted(groups[a] + groups[b])
                    spans[a] = [min(spans[a][0], spans[b][0]), max(spans[a][1], spans[b][1])]
                    del groups[b], spans[b]
                    merged = True
                    break
            if merged:
                break
    return groups


def _same_digit(sa: list[float], sb: list[float], ga: list[int], gb: list[int],
                touching: Callable[[int, int], bool] | None) -> bool:
    overlap = min(sa[1], sb[1]) - max(sa[0], sb[0])
    if overlap <= 0:
        return False
    fraction = overlap / max(min(sa[1] - sa[0], sb[1] - sb[0]), 1e-9)
    if fraction >= OVERLAP:
        return True
    return (fraction >= TOUCH_OVERLAP and touching is not None
            and any(touching(i, j) for i in ga for j in gb))


def attach_fragments(extents: Sequence[Extent], groups: list[list[int]]) -> list[list[int]]:
    """Join each group much lower than the digits around it (a piece of a broken stroke, a
    5's flag written apart) to the neighbour that touches or nearly touches it, the one
    that makes the narrower digit. A narrow group of pieces one above the other (the
    pieces of a broken stroke beside a digit) counts as high as its highest piece.
    Groups stay left to right."""
    groups = [list(g) for g in groups]
    while len(groups) > 1:
        spans = [union_extent(extents, g) for g in groups]
        typical = float(np.median([s[3] - s[1] for s in spans]))
        heights = [_height(extents, g, s, typical) for g, s in zip(groups, spans, strict=True)]
        order = sorted(range(len(groups)), key=lambda k: heights[k])
        for k in order:
            if heights[k] >= FRAGMENT * typical:
                return groups
            best, best_width = -1, np.inf
            for m in (k - 1, k + 1):
                if not 0 <= m < len(groups):
                    continue
                gap = max(spans[m][0] - spans[k][2], spans[k][0] - spans[m][2])
                width = max(spans[m][2], spans[k][2]) - min(spans[m][0], spans[k][0])
                if gap <= NEAR * typical and width < best_width:
                    best, best_width = m, width
            if best >= 0:
                groups[min(k, best)] = sorted(groups[k] + groups[best])
                del groups[max(k, best)]
                break
        else:
            return groups
    return groups


def _height(extents: Sequence[Extent], group: list[int], span: Extent, typical: float) -> float:
    """A group's height, as :func:`attach_fragments` sees it."""
    if len(group) > 1 and span[2] - span[0] < NARROW * typical:
        return max(extents[i][3] - extents[i][1] for i in group)
    return span[3] - span[1]


def union_extent(extents: Sequence[Extent], indices: Sequence[int]) -> Extent:
    """The extent of a group of pieces."""
    return (min(extents[i][0] for i in indices), min(extents[i][1] for i in indices),
            max(extents[i][2] for i in indices), max(extents[i][3] for i in indices))


def drop_specks(extents: Sequence[Extent]) -> list[bool]:
    """Which groups to keep: a group much smaller than the tallest one is a speck of dust
    or a stray click, not a digit (a lone dot is still read: nothing else to compare it to)."""
    if not extents:
        return []
    tallest = max(e[3] - e[1] for e in extents)
    return [max(e[2] - e[0], e[3] - e[1]) >= MIN_SIZE * tallest for e in extents]


def digit_groups(extents: Sequence[Extent], touching: Callable[[int, int], bool] | None = None
                 ) -> tuple[list[list[int]], list[bool]]:
    """The pieces grouped into digits (:func:`group_pieces`, :func:`attach_fragments`), and
    which groups are digits rather than specks. The digits come first, left to right.

    Dots and specks apart from the digits (a stray click, a colon of dots between two
    digits: groups whose pieces are all smaller than :data:`SPECK` of the tallest group)
    are set aside before the fragments are joined, so that they never join a digit that
    they are not over or under.
    """
    groups = group_pieces(extents, touching)
    if not groups:
        return [], []
    spans = [union_extent(extents, g) for g in groups]
    tallest = max(s[3] - s[1] for s in spans)
    small = [all(max(extents[i][2] - extents[i][0], extents[i][3] - extents[i][1]) < SPECK * tallest
                 for i in g) for g in groups]
    if all(small):  # nothing but dots: read them
        small = [False] * len(groups)
    digits = attach_fragments(extents, [g for g, s in zip(groups, small, strict=True) if not s])
    keep = drop_specks([union_extent(extents, g) for g in digits])
    specks = [g for g, s in zip(groups, small, strict=True) if s]
    return digits + specks, keep + [False] * len(specks)


def cuts(ink: np.ndarray, strokes: Sequence[tuple[np.ndarray, float]] = ()) -> list[tuple[int, int]]:
    """Column ranges of the digits in the ink of one group (``ink``: 2-D, 0 = none).

    A group no wider than :data:`SPLIT_ASPECT` times its height is one digit; a wider one
    is cut at its thinnest column near the middle when that column has little ink and the
    ink on each side is as high as a digit (at least :data:`PART` of the group's height:
    a 4's tick or a 9's dot is no digit of its own); each side is cut again the same way.
    ``strokes`` (the group's strokes in ``ink``'s pixels, with their pen widths): a cut
    never goes through one of them unless it is as wide as two digits (:data:`ONE_STROKE`):
    a digit written in one stroke stays whole, however thin its waist.
    """
    mask = ink > 0
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return []
    cols = np.flatnonzero(mask.any(axis=0))
    return _cut(mask, mask.astype(np.float32).sum(axis=0), int(cols[0]), int(cols[-1]) + 1,
                float(rows[-1] + 1 - rows[0]), strokes)


def _cut(mask: np.ndarray, column_ink: np.ndarray, c0: int, c1: int, height: float,
         strokes: Sequence[tuple[np.ndarray, float]]) -> list[tuple[int, int]]:
    width = c1 - c0
    if width <= SPLIT_ASPECT * height or width < 4:
        return [(c0, c1)]
    lo, hi = c0 + width // 4, c1 - width // 4
    middle = column_ink[lo:hi]
    least = float(middle.min())
    thin = np.flatnonzero(middle <= least + 0.1 * least + 1.0)  # (antialiasing: near the least)
    run = np.split(thin, np.flatnonzero(np.diff(thin) > 1) + 1)
    longest = max(run, key=len)
    at = lo + int(longest[len(longest) // 2])  # the middle of the thinnest stretch
    inked = column_ink[c0:c1]
    if column_ink[at] > CUT_INK * float(np.median(inked[inked > 0])):
        return [(c0, c1)]  # no thin place: leave it whole rather than cut a digit in two
    left = np.flatnonzero(column_ink[c0:at])
    right = np.flatnonzero(column_ink[at:c1])
    if not left.size or not right.size:
        return [(c0, c1)]
    if min(_ink_height(mask[:, c0:at]), _ink_height(mask[:, at:c1])) < PART * height:
        return [(c0, c1)]
    for p, w in strokes:
        x = densify(np.asarray(p, np.float64).reshape(-1, 2), max(w / 2, 1.0))[:, 0]
        through = min(np.count_nonzero(x < at), np.count_nonzero(x >= at)) > THROUGH * len(x)
        if through and float(x.max() - x.min()) < ONE_STROKE * height:
            return [(c0, c1)]
    return (_cut(mask, column_ink, c0, c0 + int(left[-1]) + 1, height, strokes)
            + _cut(mask, column_ink, at + int(right[0]), c1, height, strokes))


def _ink_height(mask: np.ndarray) -> float:
    rows = np.flatnonzero(mask.any(axis=1))
    return float(rows[-1] + 1 - rows[0]) if rows.size else 0.0


# --------------------------------------------------------------------------- components


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components of a 2-D boolean mask (8-connectivity).

    Returns ``(labels, n)``: int32 labels 1..n, 0 = background. Works on horizontal runs
    of ink (a union-find over runs that touch in neighbouring rows), so the work grows with
    the outline of the ink rather than its area.
    """
    h, w = mask.shape
    padded = np.zeros((h, w + 2), np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)  # (row-major order: paired with the starts)
    n = rows.size
    labels = np.zeros((h, w), np.int32)
    if n == 0:
        return labels, 0
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    row_start = np.searchsorted(rows, np.arange(h + 1))
    ss, es = starts.tolist(), ends.tolist()
    for r in range(1, h):
        a, a_end = int(row_start[r - 1]), int(row_start[r])
        b, b_end = a_end, int(row_start[r + 1])
        while a < a_end and b < b_end:  # runs overlap (diagonals count): one component
            if ss[a] <= es[b] and ss[b] <= es[a]:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            if es[a] < es[b]:
                a += 1
            else:
                b += 1
    roots = np.array([find(i) for i in range(n)])
    _, ids = np.unique(roots, return_inverse=True)
    lengths = ends - starts
    flat = np.repeat(rows * w + starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    labels.ravel()[flat] = np.repeat(ids.astype(np.int32) + 1, lengths)
    return labels, int(ids.max()) + 1


def component_extents(labels: np.ndarray, n: int) -> list[Extent]:
    """Bounding boxes (left, top, right, bottom) of components 1..n."""
    ys, xs = np.nonzero(labels)
    ids = labels[ys, xs] - 1
    left = np.full(n, np.inf)
    top = np.full(n, np.inf)
    right = np.zeros(n)
    bottom = np.zeros(n)
    np.minimum.at(left, ids, xs)
    np.minimum.at(top, ids, ys)
    np.maximum.at(right, ids, xs + 1)
    np.maximum.at(bottom, ids, ys + 1)
    return [(float(left[i]), float(top[i]), float(right[i]), float(bottom[i])) for i in range(n)]


# --------------------------------------------------------------------------- strokes


def segment_distance(points: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Distance from each point ``xy`` (M, 2) to a polyline ``points`` (N, 2)."""
    if len(points) == 1:
        return np.hypot(*(xy - points[0]).T)
    a, b = points[:-1], points[1:]
    d = b - a
    length2 = np.maximum((d * d).sum(axis=1), 1e-12)
    rel = xy[:, None, :] - a[None, :, :]
    t = np.clip((rel * d[None]).sum(axis=2) / length2, 0.0, 1.0)
    nearest = a[None] + t[..., None] * d[None]
    out: np.ndarray = np.sqrt(((xy[:, None, :] - nearest) ** 2).sum(axis=2)).min(axis=1)
    return out


def densify(points: np.ndarray, step: float) -> np.ndarray:
    """The polyline ``points`` (N, 2) with extra points so that none are ``step`` apart."""
    if len(points) < 2:
        return points
    seg = np.hypot(*np.diff(points, axis=0).T)
    counts = np.maximum(np.ceil(seg / max(step, 1e-6)).astype(int), 1)
    t = np.concatenate([np.arange(c) / c for c in counts.tolist()])
    start = np.repeat(points[:-1], counts, axis=0)
    delta = np.repeat(np.diff(points, axis=0), counts, axis=0)
    return np.vstack((start + t[:, None] * delta, points[-1:]))


def strokes_touch(p: np.ndarray, wp: float, q: np.ndarray, wq: float) -> bool:
    """Whether two strokes (polylines with pen diameters) share ink."""
    reach = (wp + wq) / 2
    lo = np.maximum(p.min(axis=0), q.min(axis=0)) - reach
    hi = np.minimum(p.max(axis=0), q.max(axis=0)) + reach
    if (lo > hi).any():
        return False
    near = densify(q, reach / 2)
    near = near[((near >= lo) & (near <= hi)).all(axis=1)]
    return bool(near.size) and float(segment_distance(p, near).min()) <= reach
