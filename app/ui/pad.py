"""The drawing pad: strokes drawn with the mouse (or a tablet pen) into a fixed-size image.

The pad is a square for one digit, or a wide *strip* to write a number on (at least
:data:`STRIP_ASPECT` times as wide as it is high, as wide as the widget). Two renderings of
the same strokes are kept:

* the *model buffer* (:class:`app.ui.ink.ModelBuffer`): uint8 grey levels (white ink on
  black), ``BUFFER_SIZE`` pixels high and as wide (the strip: its proportions), that
  :meth:`DrawingPad.pixels` hands to ``app.core.preprocess`` as a NumPy view. Ink is
  painted into an RGB32 image (Qt's fastest format for antialiased strokes) and its grey
  level copied into the buffer: the values a ``Format_Grayscale8`` QImage
  (:meth:`DrawingPad.image`) would hold, at half the cost;
* the *display image*, at the widget's size in device pixels (crisp on High-DPI screens),
  in the colours of :func:`app.ui.style.pad_colors` (light or dark window).

Strokes are also kept as vectors (pad units: the pad's height is 1; plus a width) to
re-render both on undo/redo and resize; round-capped antialiased segments join the points.
"""

from __future__ import annotations

import math

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

from app.ui.ink import (
    BRUSH_DEFAULT,
    BUFFER_SIZE,
    History,
    LiveStroke,
    ModelBuffer,
    Segment,
    Stroke,
    draw_segment,
    marks_damage,
    paint_marks,
    paint_segments,
    pen,
    render_display,
    render_strokes,
)
from app.ui.style import pad_colors

__all__ = ["BRUSH_DEFAULT", "BRUSH_MAX", "BRUSH_MIN", "BUFFER_SIZE", "DrawingPad", "Stroke",
           "render_strokes"]

BRUSH_MIN, BRUSH_MAX = 4, 48  # brush diameters in buffer pixels
STRIP_ASPECT = 3.0  # the number strip is at least this many times as wide as it is high

MODEL_INK = QColor(255, 255, 255)
_LEFT = Qt.MouseButton.LeftButton


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
        self._history = History()  # the drawing's states, for undo/redo
        self._live: LiveStroke | None = None
        self._background: QImage | None = None  # an opened image shown instead of strokes
        self._background_label = ""
        self.moves_received = 0  # mouse/tablet moves handled while drawing (tests check it)

        # The live stroke's painter on _ink: begun at its first point, ended with the stroke or
        # before anything else paints _ink (one QPainter per move cost more). Set
        # before _ink: attributes are released in order, so a painter still active when the
        # pad goes away ends before its image.
        self._model_painter: QPainter | None = None
        self._painter_stroke: LiveStroke | None = None  # the live stroke it paints
        self._strip = False  # the wide number strip instead of the square
        self._marks: list[tuple[QRectF, str, bool]] = []  # boxes drawn over the ink
        self._allocate(BUFFER_SIZE)  # the model buffer (see the module docstring)
        self._display = QImage()
        # The live stroke's segments not yet in _display (start or None for a dot, end,
        # width): painted at paint time, several moves sharing one QPainter
        self._pending_ink: list[Segment] = []
        self._square = QRectF()
        self._geometry = (0.0, 0.0, 0.0, 0.0)  # _square as Python floats: x, y, width, height
        self._colors = pad_colors(self.palette())

    def _allocate(self, width: int) -> None:
        """A model buffer ``BUFFER_SIZE`` high and ``width`` wide (empty)."""
        self._end_model_painter()
        self._buf = ModelBuffer(width)

    # -- public API -------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(900, 260) if self._strip else QSize(420, 420)

    def drawing_area(self) -> QRectF:
        """Where ink lands, in widget coordinates: the square, or the number strip."""
        return QRectF(self._square)

    def square(self) -> QRectF:
        """The drawing area (:meth:`drawing_area`; a square unless in strip mode)."""
        return QRectF(self._square)

    def is_strip(self) -> bool:
        return self._strip

    def set_strip(self, strip: bool) -> None:
        """Switch between the square pad and the number strip. The drawing, its undo
        history, an opened image and the marks are cleared: nothing carries over."""
        if strip == self._strip:
            return
        self._strip = strip
        self.setMinimumSize(220, 120 if strip else 220)
        self.updateGeometry()
        self._live = None
        self._background = None
        self._background_label = ""
        self._marks = []
        self._history = History()
        self._update_square()
        self._rerender()

    def unit(self) -> float:
        """Widget pixels per pad unit (the drawing area's height)."""
        return self._geometry[3]

    def all_strokes(self) -> tuple[Stroke, ...]:
        """The finished strokes plus the one being drawn (for reading while writing)."""
        live = self._live
        if live is None or not live.points:
            return self.strokes()
        return (*self.strokes(), live.frozen())

    def background_rect(self) -> QRectF:
        """Where an opened image is shown, in pad units (empty when there is none)."""
        if self._background is None or self._background.isNull():
            return QRectF()
        w, h = self._background.width(), self._background.height()
        area_w = self._square.width() / max(self.unit(), 1e-9)
        scale = min(area_w / w, 1.0 / h)
        return QRectF((area_w - w * scale) / 2, (1.0 - h * scale) / 2, w * scale, h * scale)

    def marks(self) -> list[tuple[QRectF, str, bool]]:
        return list(self._marks)

    def set_marks(self, marks: list[tuple[QRectF, str, bool]]) -> None:
        """Boxes to draw over the ink: (rectangle in pad units, label above it, highlighted).
        Only the boxes that changed are repainted (this runs on every move in number mode)."""
        old, self._marks = self._marks, list(marks)
        for rect in marks_damage(old, self._marks, self._square, self._geometry[3]):
            self.update(rect)

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
        return self._history.current()

    def is_drawing(self) -> bool:
        return self._live is not None

    def is_empty(self) -> bool:
        return not self.strokes() and self._live is None

    def has_background(self) -> bool:
        return self._background is not None

    def can_undo(self) -> bool:
        return self._history.can_undo()

    def can_redo(self) -> bool:
        return self._history.can_redo()

    def image(self) -> QImage:
        """A copy of the model buffer as a ``Format_Grayscale8`` QImage (black background,
        white ink)."""
        return self._buf.qimage()

    def pixels(self) -> np.ndarray:
        """A read-only NumPy view (BUFFER_SIZE, width) uint8 of the model buffer (valid
        until the next change of the drawing, which writes into it)."""
        return self._buf.view()

    def ink_pixels(self) -> np.ndarray:
        """Like :meth:`pixels`, cropped to the ink plus a margin of black pixels (the whole
        buffer when the ink reaches its edge). Preprocessing gives the same result for both
        (black margins do not matter), faster for the crop: the GUI's live prediction."""
        return self._buf.ink_view()

    def undo(self) -> None:
        if self._live is not None:
            self._finish_stroke()
        if self.can_undo():
            self._history.move(-1)
            self._background = None  # an opened image is not part of the drawing's history
            self._rerender()

    def redo(self) -> None:
        if self.can_redo() and self._live is None:
            self._history.move(+1)
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
        self._history.push(state)
        self.historyChanged.emit()

    def _rerender(self) -> None:
        self._end_model_painter()
        strokes = self.strokes()
        self._buf.image.fill(QColor(0, 0, 0))
        render_strokes(self._buf.image, strokes, BUFFER_SIZE, MODEL_INK)
        self._buf.copy(0, 0, self._buf.width, BUFFER_SIZE)
        self._buf.find_box()
        self._render_display()
        self.update()
        self.historyChanged.emit()
        self.changed.emit()

    def _render_display(self) -> None:
        self._pending_ink = []  # everything, the live stroke included, is rendered here
        live = () if self._live is None or not self._live.points else (self._live.frozen(),)
        self._display = render_display(self._square, self.devicePixelRatioF(), self._colors.background,
                                       self._background, (*self.strokes(), *live), self._colors.ink)

    def _update_square(self) -> None:
        if self._strip:  # the widget's width, at most 1/STRIP_ASPECT of it high
            width = max(float(self.width() - 2), 1.0)
            side = max(min(float(self.height() - 2), width / STRIP_ASPECT), 1.0)
        else:
            width = side = max(float(min(self.width(), self.height()) - 2), 1.0)
        self._square = QRectF((self.width() - width) / 2, (self.height() - side) / 2, width, side)
        self._geometry = (self._square.x(), self._square.y(), side, side)
        buf_w = max(BUFFER_SIZE, math.ceil(BUFFER_SIZE * width / side)) if self._strip else BUFFER_SIZE
        if buf_w != self._buf.width:  # the strip's proportions changed: a buffer to match
            self._allocate(buf_w)
            self._rerender()

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
        self._live = LiveStroke(width=self._brush / BUFFER_SIZE)
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
            p = self._model_painter = QPainter(self._buf.image)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(pen(MODEL_INK, live.width * BUFFER_SIZE))
            self._painter_stroke = live
        draw_segment(p, points, i, BUFFER_SIZE)  # (raster painting: in _ink_rgb at once)
        x0, y0 = prev if prev is not None else pt
        x1, y1 = pt
        if x0 > x1:
            x0, x1 = x1, x0
        if y0 > y1:
            y0, y1 = y1, y0
        reach = live.width * BUFFER_SIZE / 2 + 2  # pen radius + antialiasing, buffer pixels
        self._buf.copy(math.floor(x0 * BUFFER_SIZE - reach), math.floor(y0 * BUFFER_SIZE - reach),
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

    def _flush_ink(self) -> None:
        """Paint the live stroke's new segments into the display image."""
        pending, self._pending_ink = self._pending_ink, []
        paint_segments(self._display, pending, self._colors.ink)

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
            text = "Write a number here" if self._strip else "Draw a digit here"
            size, align = max(11.0, sq.height() / 22), Qt.AlignmentFlag.AlignCenter
        elif self._background is not None:
            text = self._background_label  # the opened file's name
        if text:
            font = QFont(self.font())
            font.setPointSizeF(size)
            p.setFont(font)
            p.setPen(self._colors.hint)
            p.drawText(sq.adjusted(8, 6, -8, -6), align, text)
        if self._marks:
            paint_marks(p, self._marks, self._square, self._geometry[3], self.font())
        p.end()
