"""Read a whole number written side by side: its ink split into digits, each digit read
exactly as the single-digit pad reads one (Qt-free).

Each digit's ink is cut out of the picture (the other digits' ink removed), given to the
same :func:`app.core.preprocess.preprocess` and the same model as a single digit, all
digits in one batch. Two sources of ink:

* a drawing (:meth:`NumberReader.read_drawing`): the pad's pixels plus its strokes, which
  are grouped into digits by :mod:`app.core.segment` (a digit may have several strokes);
* a picture (:meth:`NumberReader.read_image`): any image, its ink found as the single-digit
  path finds it, split into connected components that are grouped the same way.

A :class:`NumberReader` remembers the digits it read (by their pixels), so while one digit
of a long number is being written only that digit goes through preprocessing and the model.
Each digit carries a *verdict*: a ``judge`` may say that what was written is not a digit at
all; such a digit reads "?" and marks the number as uncertain.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from app.core import segment
from app.core.evaluation import BatchPredictor
from app.core.inference import DigitPredictor
from app.core.preprocess import MIN_CONTRAST, Ink, gray_levels, load_image, preprocess
from app.core.segment import Box

VERDICT_DIGIT = "digit"
VERDICT_NOT_A_DIGIT = "not a digit"
NO_DIGITS = "no digits found"

# (input (28, 28) float32, probabilities (10,)) -> a verdict
Judge = Callable[[np.ndarray, np.ndarray], str]
# a stroke in pixels of the picture: points (N, 2) as (x, y), pen diameter
InkStroke = tuple[np.ndarray, float]

INK_LEVEL = 0.2  # a picture's pixels with at least this much ink make its components
MARGIN = 2  # pixels around a digit's ink in its cut-out
HALF_DIGIT = 0.95  # a piece read alone with a lower score may be half of a digit
TIE = 1e-3  # scores this close are equal (sure readings all end up near 1)


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: where it is, what the model read, and the verdict."""

    box: Box  # (left, top, right, bottom) in the picture's pixels
    digit: int
    confidence: float
    probabilities: np.ndarray  # (10,) float
    x: np.ndarray = field(repr=False)  # the (28, 28) input the model saw
    verdict: str = VERDICT_DIGIT
    strokes: tuple[int, ...] = ()  # the drawing's strokes that make this digit

    @property
    def is_digit(self) -> bool:
        return self.verdict == VERDICT_DIGIT

    @property
    def text(self) -> str:
        """The digit as shown: "?" when it is not a digit."""
        return str(self.digit) if self.is_digit else "?"

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "digit": self.digit, "confidence": self.confidence,
                "probabilities": [float(p) for p in self.probabilities],
                "verdict": self.verdict}


@dataclass(frozen=True)
class NumberReading:
    """The digits of a number, left to right."""

    digits: tuple[DigitReading, ...] = ()

    @property
    def number(self) -> str | None:
        """The digits read ("?" for one that is not a digit), or None when there are none."""
        return "".join(d.text for d in self.digits) if self.digits else None

    @property
    def uncertain(self) -> bool:
        """Some digit is not a digit."""
        return any(not d.is_digit for d in self.digits)

    @property
    def message(self) -> str:
        return NO_DIGITS if not self.digits else ""

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "uncertain": self.uncertain,
                "digits": [d.to_dict() for d in self.digits]}


@dataclass(frozen=True)
class _Cut:
    box: Box
    pixels: np.ndarray  # uint8, ink = 255, the other digits' ink removed
    strokes: tuple[int, ...] = ()


class NumberReader:
    """Reads numbers with one model: a :class:`~app.core.inference.DigitPredictor` (with its own
    "not a digit" verdict), or anything with ``predict_batch``."""

    CACHE = 512  # digits remembered

    def __init__(self, predictor: DigitPredictor | BatchPredictor, judge: Judge | None = None) -> None:
        self.predictor = predictor
        self.judge = judge
        self._cache: OrderedDict[bytes, tuple[np.ndarray, np.ndarray, str, float]] = OrderedDict()

    def forget(self) -> None:
        """Drop the remembered digits (after the model's weights changed)."""
        self._cache.clear()

    def read_drawing(self, pixels: np.ndarray, strokes: Sequence[InkStroke]) -> NumberReading:
        """Read the number drawn with ``strokes`` into ``pixels`` (uint8, 0 = paper).

        Two neighbouring digits whose strokes (all but) touch are also read as one digit,
        and taken as one when one of the two alone is doubtful (:data:`HALF_DIGIT`) and the
        model is at least as sure of the one digit as of either of the two (a score: the
        top probability times the chance that it is a digit at all)."""
        cuts, joins = drawing_options(pixels, strokes)
        return self._read(cuts, joins)

    def read_image(self, image: Image.Image | np.ndarray, ink: Ink = "auto") -> NumberReading:
        """Read the number in a picture (any mode; ``ink`` as for ``preprocess``)."""
        ink_map = ink_levels(image, ink)
        return NumberReading() if ink_map is None else self._read(image_cuts(ink_map))

    def _read(self, cuts: list[_Cut], joins: Sequence[tuple[int, _Cut]] = ()) -> NumberReading:
        joined = dict(joins)
        seen = self._classify([*cuts, *joined.values()])
        alone, together = seen[: len(cuts)], dict(zip(joined, seen[len(cuts):], strict=True))
        chosen: list[tuple[_Cut, tuple[np.ndarray, np.ndarray, str, float]]] = []
        i = 0
        while i < len(cuts):
            one, a = together.get(i), alone[i]
            b = alone[i + 1] if i + 1 < len(cuts) else None
            if (one is not None and a is not None and b is not None
                    and min(a[3], b[3]) < HALF_DIGIT and one[3] >= max(a[3], b[3]) - TIE):
                chosen.append((joined[i], one))
                i += 2
                continue
            if a is not None:
                chosen.append((cuts[i], a))
            i += 1
        digits = []
        for cut, (x, p, verdict, _) in chosen:
            digit = int(np.argmax(p))
            digits.append(DigitReading(cut.box, digit, float(p[digit]), p, x, verdict, cut.strokes))
        return NumberReading(tuple(digits))

    def _classify(self, cuts: list[_Cut]) -> list[tuple[np.ndarray, np.ndarray, str, float] | None]:
        """Each cut's (input, probabilities, verdict, score), None where it has no ink; the
        model sees only the cuts it has not seen before, in one batch."""
        keys: list[bytes | None] = []
        todo: dict[bytes, np.ndarray] = {}
        for cut in cuts:
            key = hashlib.blake2b(cut.pixels.tobytes(), digest_size=16,
                                  person=str(cut.pixels.shape).encode()[:16]).digest()
            if key not in self._cache and key not in todo:
                x = preprocess(cut.pixels, ink="light")
                if x is None:
                    keys.append(None)
                    continue
                todo[key] = x
            keys.append(key)
        if todo:
            batch = np.stack(list(todo.values()))
            if isinstance(self.predictor, DigitPredictor):  # its own "not a digit" verdict
                probs, other = self.predictor.read_batch(batch)
                verdicts = [self.predictor.verdict(float(o)) for o in other]
            else:
                probs = self.predictor.predict_batch(batch)
                other = np.zeros(len(todo))
                verdicts = [VERDICT_DIGIT] * len(todo)
            probs = np.asarray(probs, dtype=np.float64).reshape(len(todo), 10)
            for (key, x), p, o, own in zip(todo.items(), probs, other, verdicts, strict=True):
                verdict = self.judge(x, p) if self.judge is not None else own
                score = float(p.max()) * (1.0 - float(o)) * (1.0 if verdict == VERDICT_DIGIT else 0.1)
                self._cache[key] = (x, p, verdict, score)
        out: list[tuple[np.ndarray, np.ndarray, str, float] | None] = []
        for known in keys:
            if known is None or known not in self._cache:
                out.append(None)
                continue
            self._cache.move_to_end(known)
            out.append(self._cache[known])
        while len(self._cache) > self.CACHE:
            self._cache.popitem(last=False)
        return out


def read_number_file(path: str | os.PathLike[str], predictor: DigitPredictor | BatchPredictor,
                     judge: Judge | None = None) -> NumberReading:
    """The number in an image file (:class:`ImageError` for a file that is not one)."""
    return NumberReader(predictor, judge).read_image(load_image(path))


# --------------------------------------------------------------------------- pictures


def ink_levels(image: Image.Image | np.ndarray, ink: Ink = "auto") -> np.ndarray | None:
    """The ink of a picture as uint8 (0 = paper, 255 = the darkest ink on light paper or
    the brightest on dark paper), or None when it has no ink (empty, uniform, noise)."""
    gray, scale = gray_levels(image, ink)
    if gray.ndim != 2 or gray.size == 0:
        return None
    g = gray.astype(np.float32) / np.float32(scale)
    ring = np.concatenate((g[0], g[-1], g[:, 0], g[:, -1]))  # the paper is at the border
    paper = float(np.median(ring))
    light = paper < 0.5 if ink == "auto" else ink == "light"
    if light:
        base = min(paper, 0.5)
        level = (g - base) / max(float(g.max()) - base, 1e-6)
        contrast = float(g.max()) - base
    else:
        base = min(1.0 - paper, 0.5)
        level = (1.0 - g - base) / max(1.0 - float(g.min()) - base, 1e-6)
        contrast = 1.0 - float(g.min()) - base
    if contrast < MIN_CONTRAST:
        return None
    return np.rint(np.clip(level, 0.0, 1.0) * 255.0).astype(np.uint8)


def image_cuts(ink: np.ndarray) -> list[_Cut]:
    """The digits of a picture's ink map (uint8), left to right."""
    labels, n = segment.label(ink >= round(INK_LEVEL * 255))
    if n == 0:
        return []
    extents = segment.component_extents(labels, n)
    groups, keep = segment.digit_groups(extents)
    spans = [segment.union_extent(extents, g) for g in groups]
    owner = np.zeros(n + 1, np.int32)  # component label -> group number (1-based)
    for number, g in enumerate(groups, start=1):
        owner[np.asarray(g) + 1] = number
    h, w = ink.shape
    cuts: list[_Cut] = []
    for number, (span, kept) in enumerate(zip(spans, keep, strict=True), start=1):
        if not kept:
            continue
        box = _box(span, MARGIN, w, h)
        left, top, right, bottom = box
        crop = ink[top:bottom, left:right].copy()
        groups_here = owner[labels[top:bottom, left:right]]
        others = (groups_here != number) & (groups_here != 0)
        if others.any():  # another digit reaches into the box: remove its ink and fringe
            crop[_grow(others, MARGIN) & ~_grow(groups_here == number, MARGIN)] = 0
            crop[others] = 0
        cuts += _split(crop, box)
    return cuts


def _grow(mask: np.ndarray, by: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(by):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def _box(span: segment.Extent, margin: float, width: int, height: int) -> Box:
    left, top, right, bottom = span
    return (max(int(np.floor(left - margin)), 0), max(int(np.floor(top - margin)), 0),
            min(int(np.ceil(right + margin)), width), min(int(np.ceil(bottom + margin)), height))


def _split(crop: np.ndarray, box: Box, strokes: tuple[int, ...] = (),
           lines: Sequence[tuple[np.ndarray, float]] = ()) -> list[_Cut]:
    """One cut, or several where the ink is touching digits (see :func:`segment.cuts`;
    ``lines``: the strokes, in the crop's pixels)."""
    columns = segment.cuts(crop, lines)
    if len(columns) <= 1:
        return [_Cut(box, crop, strokes)]
    left, top, _, bottom = box
    parts = []
    for c0, c1 in columns:
        a, b = max(c0 - MARGIN, 0), min(c1 + MARGIN, crop.shape[1])
        part = crop[:, a:b].copy()
        part[:, : c0 - a] = 0  # (the neighbour's ink in the margin)
        part[:, c1 - a:] = 0
        parts.append(_Cut((left + a, top, left + b, bottom), part, strokes))
    return parts


# --------------------------------------------------------------------------- drawings


def drawing_cuts(pixels: np.ndarray, strokes: Sequence[InkStroke]) -> list[_Cut]:
    """The digits of a drawing, left to right: its strokes grouped, each group's ink cut out
    of ``pixels`` (ink that lies nearer to another digit's strokes is removed)."""
    return drawing_options(pixels, strokes)[0]


def drawing_options(pixels: np.ndarray, strokes: Sequence[InkStroke]
                    ) -> tuple[list[_Cut], list[tuple[int, _Cut]]]:
    """:func:`drawing_cuts`, and the joins worth asking the model about: ``(i, cut)`` where
    the cuts ``i`` and ``i + 1`` are neighbouring groups whose strokes touch or all but
    touch (less than a pen width apart), and ``cut`` is the two as one digit (an open 4
    written as its L and a stem that meets the L's end overlaps it too little to be
    grouped by extents alone)."""
    if not strokes:
        return [], []
    pts = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p, _ in strokes]
    widths = [float(w) for _, w in strokes]
    extents = [(float(p[:, 0].min()) - w / 2, float(p[:, 1].min()) - w / 2,
                float(p[:, 0].max()) + w / 2, float(p[:, 1].max()) + w / 2)
               for p, w in zip(pts, widths, strict=True)]

    def touching(i: int, j: int) -> bool:
        return segment.strokes_touch(pts[i], widths[i], pts[j], widths[j])

    def near(i: int, j: int) -> bool:  # touching, or all but: less than a pen width apart
        return segment.strokes_touch(pts[i], 2 * widths[i], pts[j], 2 * widths[j])

    groups, keep = segment.digit_groups(extents, touching)
    h, w = pixels.shape
    boxes = [_box(segment.union_extent(extents, g), MARGIN, w, h) for g in groups]

    def cut(members: list[int], box: Box, apart: set[int], split: bool = True) -> list[_Cut]:
        left, top, right, bottom = box
        crop = pixels[top:bottom, left:right].copy()
        for m, other in enumerate(boxes):
            if m in apart:
                continue
            if other[0] < right and left < other[2] and other[1] < bottom and top < other[3]:
                _remove_nearer(crop, box, other, [(pts[i], widths[i]) for i in members],
                               [(pts[i], widths[i]) for i in groups[m]])
        if not split:
            return [_Cut(box, crop, tuple(members))]
        own = [(pts[i] - (left, top), widths[i]) for i in members]
        return _split(crop, box, tuple(members), own)

    cuts: list[_Cut] = []
    single: list[tuple[int, int]] = []  # (group, its cut) for groups read as one cut
    for k, (group, box, kept) in enumerate(zip(groups, boxes, keep, strict=True)):
        if not kept or box[2] <= box[0] or box[3] <= box[1]:
            continue
        parts = cut(group, box, {k})
        if len(parts) == 1:
            single.append((k, len(cuts)))
        cuts += parts
    joins: list[tuple[int, _Cut]] = []
    for (a, i), (b, j) in itertools.pairwise(single):
        if j == i + 1 and any(near(p, q) for p in groups[a] for q in groups[b]):
            both = sorted(groups[a] + groups[b])
            box = _box(segment.union_extent(extents, both), MARGIN, w, h)
            joins.append((i, cut(both, box, {a, b}, split=False)[0]))
    return cuts, joins


def _remove_nearer(crop: np.ndarray, box: Box, other: Box, own: list[tuple[np.ndarray, float]],
                   theirs: list[tuple[np.ndarray, float]]) -> None:
    """Clear the ink of ``crop`` (at ``box``) that lies nearer to ``theirs`` than to ``own``."""
    left, top = box[0], box[1]
    x0, y0 = max(box[0], other[0]), max(box[1], other[1])
    x1, y1 = min(box[2], other[2]), min(box[3], other[3])
    region = crop[y0 - top: y1 - top, x0 - left: x1 - left]
    ys, xs = np.nonzero(region)
    if ys.size == 0:
        return
    xy = np.column_stack((xs + x0 + 0.5, ys + y0 + 0.5))
    mine = _distance(own, xy)
    region[ys, xs] = np.where(_distance(theirs, xy) < mine, 0, region[ys, xs])


def _distance(strokes: list[tuple[np.ndarray, float]], xy: np.ndarray) -> np.ndarray:
    """Distance from points to the edge of the nearest of ``strokes`` (0 inside)."""
    d = np.full(len(xy), np.inf)
    for p, w in strokes:
        d = np.minimum(d, np.maximum(segment.segment_distance(p, xy) - w / 2, 0.0))
    return d
