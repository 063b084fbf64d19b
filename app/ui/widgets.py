"""Small custom-painted widgets: probability bars, the 28x28 preview, training curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

ACCENT = QColor("#2f9e7e")
BAR_BG = QColor(127, 127, 127, 40)
BAR_FG = QColor("#6b7a99")
LOSS_COLOR = QColor("#e07a3f")
ACC_COLOR = QColor("#3f7fe0")
GRID = QColor(127, 127, 127, 60)


W = TypeVar("W", bound=QObject)


def named(obj: W, name: str) -> W:
    """Set ``obj``'s objectName (tests and style sheets find widgets by it) and return it."""
    obj.setObjectName(name)
    return obj


class ProbabilityView(QWidget):
    """Ten horizontal bars, one per digit; the most likely digit is highlighted.
    Clicking a bar emits :attr:`digitClicked` (the window uses it to correct the model)."""

    digitClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("probabilityView")
        self._probs: list[float] | None = None
        self._font_key: tuple[int, str] | None = None
        self._fonts: tuple[QFont, QFont, int, int] = (QFont(), QFont(), 0, 0)
        self.setMinimumSize(220, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Probabilities of the ten digits")

    def sizeHint(self) -> QSize:
        return QSize(280, 260)

    def digit_at(self, y: float) -> int | None:
        """The digit whose bar row is at height ``y`` (widget coordinates)."""
        if self.height() <= 0 or not 0 <= y < self.height():
            return None
        return min(9, int(y / (self.height() / 10.0)))

    def bar_center(self, digit: int) -> QPointF:
        """The middle of ``digit``'s bar (for tests and tooltips)."""
        row = self.height() / 10.0
        return QPointF(self.width() / 2.0, (digit + 0.5) * row)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        digit = self.digit_at(event.position().y())
        if event.button() == Qt.MouseButton.LeftButton and digit is not None:
            self.digitClicked.emit(digit)
            event.accept()
        else:
            super().mousePressEvent(event)

    def probabilities(self) -> list[float] | None:
        """The ten values shown (None while nothing is drawn)."""
        return None if self._probs is None else list(self._probs)

    def set_probabilities(self, probs: Sequence[float] | np.ndarray | None) -> None:
        if probs is None:
            self._probs = None
        elif isinstance(probs, np.ndarray):
            self._probs = [float(v) for v in probs.tolist()]  # (tolist: one call, not ten)
        else:
            self._probs = [float(v) for v in probs]
        self.update()  # (the tooltip is written when asked for: this runs on every mouse move)

    def tooltip_text(self) -> str:
        """The ten values as text ("" while nothing is drawn)."""
        if self._probs is None:
            return ""
        return "  ".join(f"{d}: {p * 100:.1f} %" for d, p in enumerate(self._probs))

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_text()
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def _layout_fonts(self) -> tuple[QFont, QFont, int, int]:
        """Fonts and column widths for the current size (cached; painting runs per mouse move)."""
        key = (self.height(), self.font().key())
        if self._font_key != key:
            row = self.height() / 10.0
            font = QFont(self.font())
            font.setPointSizeF(max(8.0, min(13.0, row * 0.42)))
            bold = QFont(font)
            bold.setBold(True)
            fm = QFontMetrics(bold)
            self._fonts = (font, bold, fm.horizontalAdvance("0") + 12, fm.horizontalAdvance("100.0 %") + 10)
            self._font_key = key
        return self._fonts

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        row = h / 10.0
        font, bold, label_w, pct_w = self._layout_fonts()
        bar_x = label_w
        bar_w = max(10.0, w - label_w - pct_w)
        probs = self._probs
        top = int(np.argmax(probs)) if probs is not None else -1
        text = self.palette().windowText().color()
        bar_h = max(4.0, row * 0.62)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for d in range(10):
            y = d * row
            by = y + (row - bar_h) / 2
            p.setPen(ACCENT if d == top else text)
            p.setFont(bold if d == top else font)
            p.drawText(QRectF(0, y, label_w - 6, row), right, str(d))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(BAR_BG)
            p.drawRoundedRect(QRectF(bar_x, by, bar_w, bar_h), 3, 3)
            if probs is not None:
                v = min(1.0, max(0.0, probs[d]))
                if v > 0:
                    p.setBrush(ACCENT if d == top else BAR_FG)
                    p.drawRoundedRect(QRectF(bar_x, by, max(bar_h * 0.5, bar_w * v), bar_h), 3, 3)
                p.setPen(text)
                p.drawText(QRectF(bar_x + bar_w, y, pct_w, row), right, f"{v * 100:.1f} %")
        p.end()


class PreviewView(QWidget):
    """What the model sees: the 28x28 input, scaled up without smoothing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewView")
        self._x: np.ndarray | None = None
        self._qimage = QImage()
        self._qimage_of: np.ndarray | None = None  # the _x that _qimage shows
        self.setFixedSize(112, 112)
        self.setToolTip("What the model sees: the drawing cropped, scaled to 20x20 pixels and "
                        "centred in 28x28, like the MNIST images it learned from.")

    def image(self) -> np.ndarray | None:
        """The (28, 28) float image shown, or None."""
        return None if self._x is None else self._x.copy()

    def set_image(self, x: np.ndarray | None) -> None:
        # (runs on every mouse move: the QImage is made at the next paint; reshape gives a
        # new array object, so the QImage made for the previous one is not reused)
        self._x = None if x is None else np.asarray(x, dtype=np.float32).reshape(28, 28)
        self.update()

    def qimage(self) -> QImage:
        """The image shown, as an 8-bit grey QImage (null while there is none)."""
        if self._qimage_of is not self._x:
            if self._x is None:
                self._qimage = QImage()
            else:
                u8 = np.ascontiguousarray(np.clip(self._x * 255.0 + 0.5, 0, 255).astype(np.uint8))
                self._qimage = QImage(u8.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
            self._qimage_of = self._x
        return self._qimage

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        r = QRectF(0, 0, self.width(), self.height())
        p.fillRect(r, QColor("#000000"))
        image = self.qimage()
        if not image.isNull():
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            p.drawImage(r, image)
        p.setPen(QPen(QColor("#3a4152"), 1))
        p.drawRect(r.adjusted(0, 0, -1, -1))
        p.end()


class TrainingCurves(QWidget):
    """Loss (left axis, orange) and accuracy (right axis 0..1, blue) per batch;
    validation values per epoch as dots."""

    MAX_POINTS = 4000

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingCurves")
        self.setMinimumSize(260, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.reset()

    def sizeHint(self) -> QSize:
        return QSize(480, 150)

    def reset(self, epochs: int = 1) -> None:
        self.epochs = max(1, epochs)
        self.loss: list[tuple[float, float]] = []  # (x in epochs, loss)
        self.acc: list[tuple[float, float]] = []
        self.val_loss: list[tuple[float, float]] = []
        self.val_acc: list[tuple[float, float]] = []
        self.update()

    def add_batches(self, points: Sequence[tuple[float, float | None, float | None]]) -> None:
        for x, loss, acc in points:
            if loss is not None and math.isfinite(loss):
                self.loss.append((x, loss))
            if acc is not None and math.isfinite(acc):
                self.acc.append((x, acc))
        if len(self.loss) > self.MAX_POINTS:  # thin out: keep every other point
            self.loss = self.loss[::2]
            self.acc = self.acc[::2]
        self.update()

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        x = float(epoch + 1)
        if "val_loss" in logs:
            self.val_loss.append((x, logs["val_loss"]))
        if "val_accuracy" in logs:
            self.val_acc.append((x, logs["val_accuracy"]))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(max(7.5, font.pointSizeF() - 1.5))
        p.setFont(font)
        fm = p.fontMetrics()
        text = self.palette().windowText().color()
        left, right = fm.horizontalAdvance("0.00") + 10, fm.horizontalAdvance("100%") + 10
        top, bottom = fm.height() + 4, fm.height() + 6
        plot = QRectF(left, top, max(10, self.width() - left - right),
                      max(10, self.height() - top - bottom))
        p.fillRect(self.rect(), self.palette().base())
        # legend
        x = plot.left()
        for label, color in (("loss", LOSS_COLOR), ("accuracy", ACC_COLOR),
                             ("(per batch, smoothed)", GRID.darker(200)),
                             ("● validation (per epoch)", text)):
            p.setPen(color)
            p.drawText(QPointF(x, fm.ascent() + 1), label)
            x += fm.horizontalAdvance(label) + 14
        max_loss = max([v for _, v in self.loss + self.val_loss] + [0.5])
        max_loss = min(max_loss, 5.0) * 1.05
        xmax = float(self.epochs)

        def pt(xv: float, yv: float, ymax: float) -> QPointF:
            return QPointF(plot.left() + plot.width() * min(xv, xmax) / xmax,
                           plot.bottom() - plot.height() * min(yv, ymax) / ymax)

        # grid + axes labels
        p.setPen(QPen(GRID, 1))
        for i in range(5):
            y = plot.top() + plot.height() * i / 4
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        for e in range(1, self.epochs + 1):
            xe = plot.left() + plot.width() * e / xmax
            p.drawLine(QPointF(xe, plot.top()), QPointF(xe, plot.bottom()))
        empty = not self.loss and not self.val_loss
        p.setPen(text)
        for i in range(5 if not empty else 0):
            y = plot.top() + plot.height() * i / 4
            frac = 1 - i / 4
            p.drawText(QRectF(0, y - fm.height() / 2, left - 4, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       f"{max_loss * frac:.2f}")
            p.drawText(QRectF(plot.right() + 4, y - fm.height() / 2, right, fm.height()),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       f"{frac * 100:.0f}%")
        step = max(1, math.ceil(self.epochs / 10))
        for e in range(0, self.epochs + 1, step):
            xe = plot.left() + plot.width() * e / xmax
            p.drawText(QRectF(xe - 20, plot.bottom() + 2, 40, fm.height()),
                       Qt.AlignmentFlag.AlignHCenter, str(e))
        if empty:
            p.setPen(GRID.darker(200))
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "Loss and accuracy appear here while training")

        # At most one point every 2 px: this repaint runs every 50 ms while training, and
        # stroking every batch's point made it cost 40 ms by the third epoch (GUI stalls).
        stride = max(1, math.ceil(len(self.loss) / max(2.0, plot.width() / 3)))
        for series, color, ymax in ((self.loss, LOSS_COLOR, max_loss), (self.acc, ACC_COLOR, 1.0)):
            if len(series) < 2:
                continue
            shown = series[::stride]
            if shown[-1] is not series[-1]:
                shown.append(series[-1])
            path = QPainterPath(pt(*shown[0], ymax))
            for xv, yv in shown[1:]:
                path.lineTo(pt(xv, yv, ymax))
            p.setPen(QPen(color, 1.6))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
        for series, color, ymax in ((self.val_loss, LOSS_COLOR, max_loss),
                                    (self.val_acc, ACC_COLOR, 1.0)):
            p.setPen(QPen(color.darker(130), 1.5))
            p.setBrush(color)
            for xv, yv in series:
                p.drawEllipse(pt(xv, yv, ymax), 4, 4)
        p.end()
