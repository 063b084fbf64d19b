"""Strokes as vectors and their antialiased rendering (shared by the pad and its users).

A stroke is points in pad units (the pad's height is 1; x grows to the right, y down) plus
a pen width in the same units. Successive points are joined by round-capped, antialiased
line segments, so fast drags leave no gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

BUFFER_SIZE = 280  # model buffer pixels per pad unit (the pad's height; 10x MNIST)
BRUSH_DEFAULT = 20  # brush diameter in buffer pixels
MARK_COLOR = QColor("#5aa9ff")  # (legible on the light and the dark pad)
MARK_SELECTED = QColor("#f0a500")
LABEL = 0.12  # a mark's label height, pad units
_GREY_BYTE = 1  # a byte of an opaque grey RGB32 pixel holding its level (G or R, either endianness)


@dataclass(frozen=True)
class Stroke:
    """One press-drag-release: points in pad units (the pad's height is 1) and a pen width."""

    points: tuple[tuple[float, float], ...]
    width: float


@dataclass
class LiveStroke:
    points: list[tuple[float, float]] = field(default_factory=list)
    width: float = BRUSH_DEFAULT / BUFFER_SIZE

    def frozen(self) -> Stroke:
        return Stroke(tuple(self.points), self.width)


def pen(color: QColor, width: float) -> QPen:
    return QPen(color, max(width, 0.5), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                Qt.PenJoinStyle.RoundJoin)


def draw_segment(painter: QPainter, pts: list[tuple[float, float]] | tuple[tuple[float, float], ...],
                  i: int, scale: float) -> None:
    """Draw the piece of a stroke that point ``i`` adds (a dot for the first point)."""
    x, y = pts[i]
    if i == 0:
        painter.drawPoint(QPointF(x * scale, y * scale))
    else:
        px, py = pts[i - 1]
        painter.drawLine(QPointF(px * scale, py * scale), QPointF(x * scale, y * scale))


def render_strokes(image: QImage, strokes: list[Stroke] | tuple[Stroke, ...], side: float,
                   ink: QColor, offset: QPointF | None = None) -> None:
    """Paint ``strokes`` into ``image`` (already cleared), ``side`` pixels per pad unit."""
    if not strokes:
        return
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if offset is not None:
        painter.translate(offset)
    for stroke in strokes:
        painter.setPen(pen(ink, stroke.width * side))
        for i in range(len(stroke.points)):
            draw_segment(painter, stroke.points, i, side)
    painter.end()


class ModelBuffer:
    """The pad's model buffer: ``BUFFER_SIZE`` rows of uint8 grey levels (0 = no ink).

    Ink is painted into :attr:`image` (RGB32, Qt's fastest format to paint antialiased
    strokes in: a QImage on our own memory, never copied or handed out, so it never
    detaches from it) and :meth:`copy` moves the painted grey levels into :attr:`pixels`.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.pixels = np.zeros((BUFFER_SIZE, width), dtype=np.uint8)
        self.rgb = np.zeros((BUFFER_SIZE, width, 4), dtype=np.uint8)
        self.image = QImage(self.rgb.data, width, BUFFER_SIZE, 4 * width, QImage.Format.Format_RGB32)
        self.image.fill(QColor(0, 0, 0))
        # Where the buffer may hold ink: the union of the rectangles written into it since
        # it was last rendered whole (left, top, right, bottom; empty if right <= left)
        self.box = [width, BUFFER_SIZE, 0, 0]

    def copy(self, left: int, top: int, right: int, bottom: int) -> None:
        """Copy the grey levels of the painted ink into :attr:`pixels` (a rectangle in
        buffer pixels, clipped to it)."""
        left, top = max(left, 0), max(top, 0)
        right, bottom = min(right, self.width), min(bottom, BUFFER_SIZE)
        if left < right and top < bottom:
            self.pixels[top:bottom, left:right] = self.rgb[top:bottom, left:right, _GREY_BYTE]
            box = self.box
            box[0], box[1] = min(box[0], left), min(box[1], top)
            box[2], box[3] = max(box[2], right), max(box[3], bottom)

    def find_box(self) -> None:
        """The ink box of the whole buffer (after it was rendered whole)."""
        rows = np.flatnonzero(self.pixels.any(axis=1))
        if rows.size == 0:
            self.box[:] = [self.width, BUFFER_SIZE, 0, 0]
            return
        cols = np.flatnonzero(self.pixels[rows[0]: rows[-1] + 1].any(axis=0))
        self.box[:] = [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]

    def view(self) -> np.ndarray:
        view = self.pixels.view()
        view.flags.writeable = False
        return view

    def ink_view(self) -> np.ndarray:
        """The pixels cropped to the ink plus a margin of black pixels (all of them when
        the ink reaches the edge)."""
        left, top, right, bottom = self.box
        if 0 < left < right < self.width and 0 < top < bottom < BUFFER_SIZE:
            view = self.pixels[top - 1: bottom + 1, left - 1: right + 1]
        else:
            view = self.pixels.view()
        view.flags.writeable = False
        return view

    def qimage(self) -> QImage:
        """A copy as a ``Format_Grayscale8`` QImage (black background, white ink)."""
        return QImage(self.pixels.data, self.width, BUFFER_SIZE, self.width,
                      QImage.Format.Format_Grayscale8).copy()


def paint_marks(p: QPainter, marks: list[tuple[QRectF, str, bool]], area: QRectF, unit: float,
                base_font: QFont) -> None:
    """Boxes in pad units over the drawing ``area`` (widget pixels, ``unit`` per pad unit),
    each with its label above it, or below it when the box touches the area's top, or
    beside it when the box spans the area's height (inside only when there is room
    nowhere else: the label never covers the ink if it can)."""
    font = QFont(base_font)
    font.setPointSizeF(max(9.0, unit / 14))
    font.setBold(True)
    p.setFont(font)
    boxes = [QRectF(area.x() + rect.x() * unit, area.y() + rect.y() * unit, rect.width() * unit,
                    rect.height() * unit) for rect, _, _ in marks]
    for r, (_, label, selected) in zip(boxes, marks, strict=True):
        style = Qt.PenStyle.SolidLine if selected else Qt.PenStyle.DashLine
        p.setPen(QPen(MARK_SELECTED if selected else MARK_COLOR, 2.0 if selected else 1.0, style))
        p.drawRect(r)
        p.drawText(label_rect(r, area, unit, boxes), Qt.AlignmentFlag.AlignCenter, label)


def label_rect(box: QRectF, area: QRectF, unit: float, boxes: Sequence[QRectF] = ()) -> QRectF:
    """Where a mark's label goes (widget pixels): above its ``box``, else below, else beside
    it (right, then left) where none of the marks' ``boxes`` is (the place beside ``box``
    never meets ``box`` itself), else inside."""
    size = unit * LABEL
    label = QRectF(box.x(), box.y() - size, box.width(), size)
    if label.top() >= area.top():
        return label
    label.moveTop(box.bottom())
    if label.bottom() <= area.bottom():
        return label
    for x in (box.right() + 1, box.left() - size - 1):
        beside = QRectF(x, box.y(), size, size)
        if area.contains(beside) and not any(beside.intersects(b) for b in boxes):
            return beside
    label.moveTop(box.y())
    return label


class History:
    """The drawing's states (tuples of finished strokes) for undo and redo; the oldest go
    beyond :attr:`LIMIT` (memory stays bounded on very long sessions)."""

    LIMIT = 500

    def __init__(self) -> None:
        self.states: list[tuple[Stroke, ...]] = [()]
        self.index = 0  # the current state

    def current(self) -> tuple[Stroke, ...]:
        return self.states[self.index]

    def can_undo(self) -> bool:
        return self.index > 0

    def can_redo(self) -> bool:
        return self.index < len(self.states) - 1

    def move(self, step: int) -> None:
        self.index = min(max(0, self.index + step), len(self.states) - 1)

    def push(self, state: tuple[Stroke, ...]) -> None:
        """``state`` becomes the current one; what could be redone is dropped."""
        del self.states[self.index + 1:]
        self.states.append(state)
        del self.states[:-self.LIMIT]
        self.index = len(self.states) - 1


def render_display(area: QRectF, dpr: float, background: QColor, image: QImage | None,
                   strokes: tuple[Stroke, ...], ink: QColor) -> QImage:
    """What the pad shows in ``area`` (widget pixels) at device pixel ratio ``dpr``: an opened
    ``image`` fitted in, and the strokes; a null image when the area is empty."""
    if area.height() <= 0:
        return QImage()
    px = max(1, round(area.height() * dpr))  # device pixels per pad unit
    pw = max(1, round(area.width() * dpr))
    img = QImage(pw, px, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(background)
    if image is not None:
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        bg = image.scaled(pw, px, Qt.AspectRatioMode.KeepAspectRatio,
                          Qt.TransformationMode.SmoothTransformation)
        p.drawImage(QPointF((pw - bg.width()) / 2, (px - bg.height()) / 2), bg)
        p.end()
    render_strokes(img, strokes, px, ink)
    img.setDevicePixelRatio(dpr)
    return img


Segment = tuple[tuple[float, float] | None, tuple[float, float], float]  # start (None: a dot), end, width


def paint_segments(display: QImage, pending: list[Segment], ink: QColor) -> None:
    """Paint a live stroke's new segments (pad units) into the display image."""
    if not pending or display.isNull():
        return
    side = display.height()  # device pixels per pad unit
    p = QPainter(display)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(1.0 / display.devicePixelRatio(), 1.0 / display.devicePixelRatio())
    for start, end, width in pending:
        p.setPen(pen(ink, width * side))
        if start is None:
            p.drawPoint(QPointF(end[0] * side, end[1] * side))
        else:
            p.drawLine(QPointF(start[0] * side, start[1] * side), QPointF(end[0] * side, end[1] * side))
    p.end()


Mark = tuple[QRectF, str, bool]  # a box in pad units, its label, highlighted


def marks_damage(old: list[Mark], new: list[Mark], area: QRectF, unit: float) -> list[QRect]:
    """The widget rectangles to repaint when the marks change from ``old`` to ``new``:
    those of the marks that appeared or went, labels included (above, below or beside)."""
    def key(m: Mark) -> tuple[tuple[float, float, float, float], str, bool]:
        r = m[0]
        return (r.x(), r.y(), r.width(), r.height()), m[1], m[2]

    out = []
    for (x, y, w, h), _, _ in set(map(key, old)) ^ set(map(key, new)):
        r = QRectF(area.x() + (x - LABEL) * unit, area.y() + (y - LABEL) * unit, (w + 2 * LABEL) * unit,
                   (h + 2 * LABEL) * unit)
        out.append(r.adjusted(-3, -3, 3, 3).toAlignedRect())
    return out
