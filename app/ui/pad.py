"""The drawing pad: strokes drawn with the mouse (or a tablet pen) into a fixed-size image.

Two renderings of the same strokes are kept:

* the *model buffer*: ``BUFFER_SIZE`` x ``BUFFER_SIZE`` uint8 grey levels (white ink on
  black) that :meth:`DrawingPad.pixels` hands to ``app.core.preprocess`` as a NumPy view,
  whatever the widget's size. Ink is painted into an RGB32 image (Qt's fastest format for
  antialiased strokes) and its grey level copied into the buffer: the values a
  ``Format_Grayscale8`` QImage (:meth:`DrawingPad.image`) would hold, at half the cost;
* the *display image*, at the widget's size in device pixels (crisp on High-DPI screens),
  in the colours of :func:`app.ui.style.pad_colors` (light or dark window).

Strokes are also kept as vectors (0..1 pad coordinates plus a width) to re-render both on
undo/redo and resize; round-capped antialiased segments join the points (no gaps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QHideEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QTabletEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.ui.style import pad_colors

BUFFER_SIZE = 280  # logical resolution of the model buffer (10x MNIST)
BRUSH_MIN, BRUSH_MAX, BRUSH_DEFAULT = 4, 48, 20  # brush diameters in buffer pixels

MODEL_INK = QColor(255, 255, 255)
_LEFT = Qt.MouseButton.LeftButton
_GREY_BYTE = 1  # a byte of an opaque grey RGB32 pixel holding its level (G or R, either endianness)


@dataclass(frozen=True)
class Stroke:
    """One press-drag-release: points in 0..1 pad coordinates and a width (fraction of the pad)."""

    points: tuple[tuple[float, float], ...]
    width: float


@dataclass
class _LiveStroke:
    points: list[tuple[float, float]] = field(default_factory=list)
    width: float = BRUSH_DEFAULT / BUFFER_SIZE

    def frozen(self) -> Stroke:
        return Stroke(tuple(self.points), self.width)


def _pen(color: QColor, width: float) -> QPen:
    return QPen(color, max(width, 0.5), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                Qt.PenJoinStyle.RoundJoin)


def _draw_segment(painter: QPainter, pts: list[tuple[float, float]] | tuple[tuple[float, float], ...],
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
    """Paint ``strokes`` into ``image`` (already cleared) on a square of ``side`` pixels."""
    if not strokes:
        return
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if offset is not None:
        painter.translate(offset)
    for stroke in strokes:
        painter.setPen(_pen(ink, stroke.width * side))
        for i in range(len(stroke.points)):
            _draw_segment(painter, stroke.points, i, side)
    painter.end()


class DrawingPad(QWidget):
    """A square pad to draw digits on. Emits :attr:`changed` whenever the drawing changes."""

    changed = Signal()  # any change of the pixels (new point, undo, redo, clear, resize)
    strokeFinished = Signal()
    historyChanged = Signal()  # undo/redo availability may have changed
    brushSizeChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("drawingPad")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking, False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(220, 220)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("Draw a digit with the mouse. [ and ] change the brush, "
                        "Ctrl+Z undoes a stroke, Esc clears.")

        self._brush = BRUSH_DEFAULT
        # history of states: each a tuple of finished strokes; _index points at the current one
        self._history: list[tuple[Stroke, ...]] = [()]
        self._index = 0
        self._live: _LiveStroke | None = None
        self._background: QImage | None = None  # an opened image shown instead of strokes
        self._background_label = ""
        self.moves_received = 0  # mouse/tablet moves handled while drawing (tests check it)

        # The live stroke's painter on _ink: begun at its first point, ended with the stroke or
        # before anything else paints _ink (one QPainter per move cost ~20 us more). Set
        # before _ink: attributes are released in order, so a painter still active when the
        # pad goes away ends before its image.
        self._model_painter: QPainter | None = None
        self._painter_stroke: _LiveStroke | None = None  # the live stroke it paints
        # The model buffer (see the module docstring): painted in _ink (a QImage on our own
        # memory, never copied or handed out, so it never detaches), read from _pixels.
        self._pixels = np.zeros((BUFFER_SIZE, BUFFER_SIZE), dtype=np.uint8)
        self._ink_rgb = np.zeros((BUFFER_SIZE, BUFFER_SIZE, 4), dtype=np.uint8)
        self._ink = QImage(self._ink_rgb.data, BUFFER_SIZE, BUFFER_SIZE, 4 * BUFFER_SIZE,
                           QImage.Format.Format_RGB32)
        self._ink.fill(QColor(0, 0, 0))
        # Where the model buffer may hold ink since it was last rendered whole: l, t, r, b
        self._ink_box = [BUFFER_SIZE, BUFFER_SIZE, 0, 0]
        self._display = QImage()
        # The live stroke's segments not yet in _display (start or None for a dot, end,
        # width): painted at paint time, several moves sharing one QPainter
        self._pending_ink: list[tuple[tuple[float, float] | None, tuple[float, float], float]] = []
        self._square = QRectF()
        self._geometry = (0.0, 0.0, 0.0, 0.0)  # _square as Python floats: x, y, width, height
        self._colors = pad_colors(self.palette())

    # -- public API -------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(420, 420)

    def square(self) -> QRectF:
        """Where the pad's square drawing area is, in widget coordinates."""
        return QRectF(self._square)

    def to_widget(self, x: float, y: float) -> QPointF:
        """Widget coordinates of the pad point (x, y) in 0..1 pad coordinates."""
        sx, sy, width, height = self._geometry
        return QPointF(sx + x * width, sy + y * height)

    def brush_size(self) -> int:
        return self._brush

    def set_brush_size(self, size: int) -> None:
        size = max(BRUSH_MIN, min(BRUSH_MAX, int(size)))
        if size != self._brush:
            self._brush = size
            self.brushSizeChanged.emit(size)

    def strokes(self) -> tuple[Stroke, ...]:
        """The finished strokes (plus none of the one being drawn)."""
        return self._history[self._index]

    def is_drawing(self) -> bool:
        return self._live is not None

    def is_empty(self) -> bool:
        return not self.strokes() and self._live is None

    def has_background(self) -> bool:
        return self._background is not None

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._history) - 1

    def image(self) -> QImage:
        """A copy of the model buffer as a ``Format_Grayscale8`` QImage (black background,
        white ink)."""
        px = self._pixels
        return QImage(px.data, BUFFER_SIZE, BUFFER_SIZE, BUFFER_SIZE,
                      QImage.Format.Format_Grayscale8).copy()

    def pixels(self) -> np.ndarray:
        """A read-only NumPy view (BUFFER_SIZE, BUFFER_SIZE) uint8 of the model buffer
        (valid until the next change of the drawing, which writes into it)."""
        view = self._pixels.view()
        view.flags.writeable = False
        return view

    def ink_pixels(self) -> np.ndarray:
        """Like :meth:`pixels`, cropped to the ink plus a margin of black pixels (the whole
        buffer when the ink reaches its edge). Preprocessing gives the same result for both
        (black margins do not matter), faster for the crop: the GUI's live prediction."""
        left, top, right, bottom = self._ink_box
        if 0 < left < right < BUFFER_SIZE and 0 < top < bottom < BUFFER_SIZE:
            view = self._pixels[top - 1: bottom + 1, left - 1: right + 1]
        else:
            view = self._pixels.view()
        view.flags.writeable = False
        return view

    def undo(self) -> None:
        if self._live is not None:
            self._finish_stroke()
        if self.can_undo():
            self._index -= 1
            self._background = None  # an opened image is not part of the drawing's history
            self._rerender()

    def redo(self) -> None:
        if self.can_redo() and self._live is None:
            self._index += 1
            self._background = None
            self._rerender()

    def clear(self) -> None:
        """Wipe the pad (undoable with Ctrl+Z) and any opened image."""
        self._live = None
        had_background = self._background is not None
        self._background = None
        self._background_label = ""
        if self.strokes():
            self._push(())
        elif not had_background:
            return
        self._rerender()

    def set_strokes(self, strokes: list[Stroke] | tuple[Stroke, ...]) -> None:
        """Replace the drawing by ``strokes`` (undoable)."""
        self._live = None
        self._background = None
        self._push(tuple(strokes))
        self._rerender()

    def show_image(self, image: QImage, label: str = "") -> None:
        """Show an opened image on the pad (the strokes are cleared; drawing replaces it)."""
        self._live = None
        if self.strokes():
            self._push(())
        self._background = image
        self._background_label = label
        self._rerender()

    # -- state ------------------------------------------------------------
    def _push(self, state: tuple[Stroke, ...]) -> None:
        del self._history[self._index + 1:]
        self._history.append(state)
        self._index = len(self._history) - 1
        if len(self._history) > 500:  # keep memory bounded on very long sessions
            drop = len(self._history) - 500
            del self._history[:drop]
            self._index -= drop
        self.historyChanged.emit()

    def _rerender(self) -> None:
        self._end_model_painter()
        strokes = self.strokes()
        self._ink.fill(QColor(0, 0, 0))
        render_strokes(self._ink, strokes, BUFFER_SIZE, MODEL_INK)
        self._copy_ink(0, 0, BUFFER_SIZE, BUFFER_SIZE)
        self._find_ink_box()
        self._render_display()
        self.update()
        self.historyChanged.emit()
        self.changed.emit()

    def _render_display(self) -> None:
        self._pending_ink = []  # everything, the live stroke included, is rendered here
        dpr = self.devicePixelRatioF()
        side = self._square.width()
        if side <= 0:
            self._display = QImage()
            return
        px = max(1, round(side * dpr))
        img = QImage(px, px, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(self._colors.background)
        if self._background is not None:
            p = QPainter(img)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            bg = self._background.scaled(px, px, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation)
            p.drawImage(QPointF((px - bg.width()) / 2, (px - bg.height()) / 2), bg)
            p.end()
        render_strokes(img, self.strokes(), px, self._colors.ink)
        if self._live is not None and self._live.points:
            render_strokes(img, (self._live.frozen(),), px, self._colors.ink)
        img.setDevicePixelRatio(dpr)
        self._display = img

    def _update_square(self) -> None:
        side = float(min(self.width(), self.height()) - 2)
        side = max(side, 1.0)
        self._square = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        self._geometry = (self._square.x(), self._square.y(), side, side)

    # -- drawing ----------------------------------------------------------
    def _to_pad(self, pos: QPointF) -> tuple[float, float]:
        x, y, width, height = self._geometry
        return ((pos.x() - x) / width, (pos.y() - y) / height)

    def _begin_stroke(self, pos: QPointF) -> None:
        if self._live is not None:  # the release was lost (e.g. outside the app): keep that stroke
            self._finish_stroke()
        if self._background is not None:  # drawing replaces an opened image
            self._background = None
            self._background_label = ""
            self._render_display()
            self.update()
        elif self.is_empty():
            self.update()  # the hint goes (strokes alone repaint only the pixels they touch)
        self._live = _LiveStroke(width=self._brush / BUFFER_SIZE)
        self._add_point(pos)

    def _add_point(self, pos: QPointF) -> None:
        live = self._live
        if live is None:
            return
        pt = self._to_pad(pos)
        points = live.points
        if points and abs(pt[0] - points[-1][0]) < 1e-4 and abs(pt[1] - points[-1][1]) < 1e-4:
            return
        points.append(pt)
        i = len(points) - 1
        prev = points[i - 1] if i else None
        # model buffer (this runs on every mouse move: as few Qt and NumPy calls as we can)
        p = self._model_painter
        if p is None or self._painter_stroke is not live:
            self._end_model_painter()
            p = self._model_painter = QPainter(self._ink)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(_pen(MODEL_INK, live.width * BUFFER_SIZE))
            self._painter_stroke = live
        _draw_segment(p, points, i, BUFFER_SIZE)  # (raster painting: in _ink_rgb at once)
        x0, y0 = prev if prev is not None else pt
        x1, y1 = pt
        if x0 > x1:
            x0, x1 = x1, x0
        if y0 > y1:
            y0, y1 = y1, y0
        reach = live.width * BUFFER_SIZE / 2 + 2  # pen radius + antialiasing, buffer pixels
        self._copy_ink(math.floor(x0 * BUFFER_SIZE - reach), math.floor(y0 * BUFFER_SIZE - reach),
                       math.ceil(x1 * BUFFER_SIZE + reach), math.ceil(y1 * BUFFER_SIZE + reach))
        # display image: at the next paint (_flush_ink); repaint the segment's widget pixels
        self._pending_ink.append((prev, pt, live.width))
        sx, sy, side, _ = self._geometry
        reach = live.width * side / 2 + 3
        left = math.floor(sx + x0 * side - reach)
        top = math.floor(sy + y0 * side - reach)
        self.update(left, top, math.ceil(sx + x1 * side + reach) - left,
                    math.ceil(sy + y1 * side + reach) - top)
        self.changed.emit()

    def _copy_ink(self, left: int, top: int, right: int, bottom: int) -> None:
        """Copy the grey levels of the painted ink into the model buffer (a rectangle in
        buffer pixels, clipped to it)."""
        left, top = max(left, 0), max(top, 0)
        right, bottom = min(right, BUFFER_SIZE), min(bottom, BUFFER_SIZE)
        if left < right and top < bottom:
            self._pixels[top:bottom, left:right] = self._ink_rgb[top:bottom, left:right, _GREY_BYTE]
            box = self._ink_box
            box[0], box[1] = min(box[0], left), min(box[1], top)
            box[2], box[3] = max(box[2], right), max(box[3], bottom)

    def _find_ink_box(self) -> None:
        """The ink box of the whole buffer (after it was rendered whole)."""
        rows = np.flatnonzero(self._pixels.any(axis=1))
        if rows.size == 0:
            self._ink_box[:] = [BUFFER_SIZE, BUFFER_SIZE, 0, 0]
            return
        cols = np.flatnonzero(self._pixels[rows[0]: rows[-1] + 1].any(axis=0))
        self._ink_box[:] = [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]

    def _flush_ink(self) -> None:
        """Paint the live stroke's new segments into the display image."""
        pending, self._pending_ink = self._pending_ink, []
        if not pending or self._display.isNull():
            return
        side = self._display.width()
        p = QPainter(self._display)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.scale(1.0 / self._display.devicePixelRatio(), 1.0 / self._display.devicePixelRatio())
        for start, end, width in pending:
            p.setPen(_pen(self._colors.ink, width * side))
            if start is None:
                p.drawPoint(QPointF(end[0] * side, end[1] * side))
            else:
                p.drawLine(QPointF(start[0] * side, start[1] * side), QPointF(end[0] * side, end[1] * side))
        p.end()

    def _end_model_painter(self) -> None:
        p, self._model_painter, self._painter_stroke = self._model_painter, None, None
        if p is not None:
            p.end()

    def _finish_stroke(self) -> None:
        self._end_model_painter()
        live = self._live
        self._live = None
        if live is None or not live.points:
            return
        self._push((*self.strokes(), live.frozen()))
        self.strokeFinished.emit()

    # -- events -----------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin_stroke(event.position())
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._live is not None and _LEFT in event.buttons():
            self.moves_received += 1
            self._add_point(event.position())
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._live is not None:
            self._add_point(event.position())
            self._finish_stroke()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def tabletEvent(self, event: QTabletEvent) -> None:
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress:
            self._begin_stroke(event.position())
        elif kind == QTabletEvent.Type.TabletMove:
            if self._live is not None:
                self.moves_received += 1
                self._add_point(event.position())
        elif kind == QTabletEvent.Type.TabletRelease and self._live is not None:
            self._add_point(event.position())
            self._finish_stroke()
        event.accept()  # no synthesised mouse events for the pen

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # light <-> dark
            self._colors = pad_colors(self.palette())
            self._render_display()
            self.update()
        super().changeEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._end_model_painter()
        super().hideEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._update_square()
        self._render_display()
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(event.rect(), self.palette().window())
        sq = self._square
        if self._display.isNull() or abs(self._display.devicePixelRatio()
                                         - self.devicePixelRatioF()) > 1e-3:
            self._render_display()
        self._flush_ink()
        if not self._display.isNull():
            p.drawImage(sq.topLeft(), self._display)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(self._colors.frame, 1.0))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(sq.adjusted(0.5, 0.5, -0.5, -0.5))
        text, size, align = "", 9.5, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
        if self.is_empty() and self._background is None:
            text, size, align = "Draw a digit here", max(11.0, sq.width() / 22), Qt.AlignmentFlag.AlignCenter
        elif self._background is not None:
            text = self._background_label  # the opened file's name
        if text:
            font = QFont(self.font())
            font.setPointSizeF(size)
            p.setFont(font)
            p.setPen(self._colors.hint)
            p.drawText(sq.adjusted(8, 6, -8, -6), align, text)
        p.end()
