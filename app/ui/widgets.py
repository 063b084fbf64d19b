"""Small widgets: the answer, probability bars, the 28x28 preview, training curves (custom painted)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
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
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.core.verdict import DIGIT, NOT_DIGIT
from app.ui.style import bar_colors, chart_colors, muted, named, text_color


def accent(palette: QPalette) -> QColor:
    """The colour of the digit read (as its bar's), for a light or a dark palette."""
    return bar_colors(palette).accent


class WrappedLabel(QLabel):
    """A word-wrapped label in a fixed height of ``lines`` lines: long texts take more lines
    instead of being cut, and the window's minimum size does not depend on the text (a
    label whose height follows its width, as word-wrapped QLabels are, upsets it)."""

    def __init__(self, text: str = "", lines: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._lines = lines
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._fit_lines()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def _fit_lines(self) -> None:
        self.setFixedHeight(self.fontMetrics().lineSpacing() * self._lines + 4)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # (a larger font: taller lines)
            self._fit_lines()

    def hasHeightForWidth(self) -> bool:
        return False


class AnswerView(QWidget):
    """The digit read, how sure the model is, or a hint when there is nothing to read."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.digit_label = named(QLabel(""), "topDigitLabel")
        big = QFont(self.font())
        big.setPointSize(48)
        big.setBold(True)
        self.digit_label.setFont(big)
        self._big, self._small = big, QFont(big)
        self._small.setPointSize(22)
        self._not_digit: bool | None = False
        self.digit_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.digit_label.setMinimumWidth(90)
        text_color(self.digit_label, accent)
        self.confidence_label = named(QLabel(""), "confidenceLabel")
        mid = QFont(self.font())
        mid.setPointSize(16)
        self.confidence_label.setFont(mid)
        self.hint_label = named(WrappedLabel("Draw a digit", lines=2), "hintLabel")  # ("Number 2026: click…")
        hint_font = QFont(self.font())
        hint_font.setPointSize(14)
        self.hint_label.setFont(hint_font)
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        muted(self.hint_label)
        text = QVBoxLayout()
        text.addStretch(1)
        text.addWidget(self.confidence_label)
        text.addWidget(self.hint_label)
        text.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.digit_label)
        row.addLayout(text, 1)
        self.setFixedHeight(76)

    def show_answer(self, probs: np.ndarray, verdict: str = DIGIT) -> None:
        """The digit read and its probability; "Not a digit?" in a neutral colour when the
        verdict says so (the bars still show the ten probabilities)."""
        if verdict == NOT_DIGIT:
            if self._not_digit is not True:  # (only on a change: this runs per mouse move)
                muted(self.digit_label)
                self.digit_label.setFont(self._small)
                self._not_digit = True
            self.digit_label.setText("Not a digit?")
            self.confidence_label.setText("")
            self.hint_label.hide()
            return
        if self._not_digit is not False:
            text_color(self.digit_label, accent)
            self.digit_label.setFont(self._big)
            self._not_digit = False
        top = int(probs.argmax())
        self.digit_label.show()
        self.digit_label.setText(str(top))
        self.confidence_label.setText(f"{probs[top] * 100:.1f} %")
        self.hint_label.hide()

    def show_hint(self, text: str) -> None:
        self.digit_label.hide()  # the hint gets the whole row
        self.digit_label.setText("")
        self.confidence_label.setText("")
        self.hint_label.setText(text)
        self.hint_label.show()


class ProbabilityView(QWidget):
    """Ten horizontal bars, one per digit; the most likely digit is highlighted, unless the
    verdict is "not a digit" (then every bar is neutral). Clicking a bar emits
    :attr:`digitClicked` (the window uses it to correct the model)."""

    digitClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("probabilityView")
        self._probs: list[float] | None = None
        self._verdict = DIGIT
        self._font_key: tuple[int, str] | None = None
        self._fonts: tuple[QFont, QFont, int, int] = (QFont(), QFont(), 0, 0)
        self.setMinimumSize(180, 120)
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

    def verdict(self) -> str | None:
        """"digit" or "not a digit" for what is shown; None while nothing is drawn."""
        return None if self._probs is None else self._verdict

    def set_probabilities(self, probs: Sequence[float] | np.ndarray | None,
                          verdict: str = DIGIT) -> None:
        self._verdict = verdict
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
        text = "  ".join(f"{d}: {p * 100:.1f} %" for d, p in enumerate(self._probs))
        return text if self._verdict != NOT_DIGIT else f"Not a digit?  {text}"

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
        top = int(np.argmax(probs)) if probs is not None and self._verdict != NOT_DIGIT else -1
        text = self.palette().windowText().color()
        colors = bar_colors(self.palette())
        bar_h = max(4.0, row * 0.62)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for d in range(10):
            y = d * row
            by = y + (row - bar_h) / 2
            p.setPen(colors.accent if d == top else text)
            p.setFont(bold if d == top else font)
            p.drawText(QRectF(0, y, label_w - 6, row), right, str(d))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(colors.track)
            p.drawRoundedRect(QRectF(bar_x, by, bar_w, bar_h), 3, 3)
            if probs is not None:
                v = min(1.0, max(0.0, probs[d]))
                if v > 0:
                    p.setBrush(colors.accent if d == top else colors.bar)
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
        self.setFixedSize(84, 84)  # 3 screen pixels per input pixel
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


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round values from at most ``lo`` to at least ``hi``, about ``count`` steps apart:
    steps of 1, 2, 2.5 or 5 times a power of ten."""
    raw = max(hi - lo, 1e-9) / count
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    start = math.floor(lo / step + 1e-9)
    stop = math.ceil(hi / step - 1e-9)
    return [round(k * step, 10) for k in range(start, max(stop, start + 1) + 1)]


def tick_label(value: float, ticks: Sequence[float], percent: bool = False) -> str:
    """``value`` with as many decimals as the ticks' step needs (no more)."""
    step = abs(ticks[1] - ticks[0]) * (100 if percent else 1) if len(ticks) > 1 else 1.0
    decimals = next(d for d in range(6) if abs(round(step, d) - step) < 1e-9 * max(1.0, step))
    return f"{value * 100:.{decimals}f}%" if percent else f"{value:.{decimals}f}"


@dataclass
class ChartLayout:
    """Where the training chart puts things (paintEvent draws it; tests check it)."""

    plot: QRectF
    loss_ticks: list[float]
    acc_ticks: list[float]
    # (text, rect, role, alignment): role is loss/accuracy (axis titles), legend, axis, tick,
    # xtick or empty (the hint of an empty chart)
    texts: list[tuple[str, QRectF, str, Qt.AlignmentFlag]] = field(default_factory=list)


class TrainingCurves(QWidget):
    """Loss (left axis) and accuracy (right axis, zoomed to where its values are) per batch,
    smoothed; validation values per epoch as dots. Axis titles and the legend sit outside
    the plot; colours follow the palette (light or dark)."""

    MAX_POINTS = 4000
    EMPTY_TEXT = "Loss and accuracy appear here while training"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingCurves")
        self.setMinimumSize(240, 80)
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

    def is_empty(self) -> bool:
        return not self.loss and not self.val_loss

    def accuracy_range(self) -> tuple[float, float]:
        """The accuracy axis: where the values of the second half of the run so far are (the
        first, low batches of training fall below it), the validation dots included; never
        wider than 0..1 nor narrower than 2 %."""
        recent = [v for _, v in self.acc[len(self.acc) // 2:]]
        values = recent + [v for _, v in self.val_acc]
        if not values:
            return 0.0, 1.0
        lo = float(np.percentile(recent, 5)) if len(recent) > 20 else min(values)
        lo = min([lo] + [v for _, v in self.val_acc])
        hi = min(1.0, max(values))
        return max(0.0, min(lo, hi - 0.02)), hi

    def chart_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() - 1.0))
        return font

    def chart_layout(self) -> ChartLayout:
        fm = QFontMetrics(self.chart_font())
        w, h, line = float(self.width()), float(self.height()), float(fm.height())
        top, bottom = line + 6, line + 4
        rows = max(1, int((h - top - bottom) / (line * 1.4)))  # tick labels that fit one above another
        max_loss = min(max([v for _, v in self.loss + self.val_loss] + [0.1]), 5.0)
        loss_ticks = nice_ticks(0.0, max_loss, max(1, min(5, rows - 1)))
        acc_ticks = nice_ticks(*self.accuracy_range(), max(1, min(3, rows - 1)))
        loss_labels = [tick_label(v, loss_ticks) for v in loss_ticks]
        acc_labels = [tick_label(v, acc_ticks, percent=True) for v in acc_ticks]
        left = max([fm.horizontalAdvance(t) for t in [*loss_labels, "loss", "epochs"]]) + 8
        right = max(fm.horizontalAdvance(t) for t in [*acc_labels, "accuracy"]) + 8
        plot = QRectF(left, top, max(10.0, w - left - right), max(10.0, h - top - bottom))
        out = ChartLayout(plot, loss_ticks, acc_ticks)
        flag = Qt.AlignmentFlag
        at_right, at_left = flag.AlignRight | flag.AlignVCenter, flag.AlignLeft | flag.AlignVCenter
        texts = out.texts
        texts.append(("loss", QRectF(0, 0, left - 4, line), "loss", at_right))
        texts.append(("accuracy", QRectF(w - right + 4, 0, right - 4, line), "accuracy", at_left))
        room = QRectF(left, 0, plot.width(), line)  # the legend, between the two axis titles
        for legend in ("— per batch, smoothed   ● per epoch (validation)", "— per batch   ● per epoch",
                       "● per epoch"):
            if fm.horizontalAdvance(legend) + 8 <= room.width():
                texts.append((legend, room, "legend", flag.AlignCenter))
                break
        texts.append(("epochs", QRectF(0, plot.bottom() + 2, left - 8, line), "axis", at_right))
        if not self.is_empty():  # (labels kept between the titles' row and the x axis)
            for ticks, labels, x0, width, align in ((loss_ticks, loss_labels, 0.0, left - 4, at_right),
                                                    (acc_ticks, acc_labels, plot.right() + 4, right - 4,
                                                     at_left)):
                for i, label in enumerate(labels):
                    y = plot.bottom() - plot.height() * i / (len(ticks) - 1) - line / 2
                    y = min(max(y, line + 2), plot.bottom() - line)
                    texts.append((label, QRectF(x0, y, width, line), "tick", align))
        step = max(1, math.ceil(self.epochs / 10))
        for e in range(0, self.epochs + 1, step):
            xe = plot.left() + plot.width() * e / self.epochs
            texts.append((str(e), QRectF(xe - 20, plot.bottom() + 2, 40, line), "xtick",
                          flag.AlignHCenter | flag.AlignTop))
        if self.is_empty():
            texts.append((self.EMPTY_TEXT, plot, "empty", flag.AlignCenter))
        return out

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = chart_colors(self.palette())
        lay = self.chart_layout()
        plot = lay.plot
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setFont(self.chart_font())
        p.fillRect(self.rect(), colors.background)
        p.setPen(QPen(colors.grid, 1))
        for i in range(len(lay.loss_ticks)):
            y = plot.bottom() - plot.height() * i / (len(lay.loss_ticks) - 1)
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        for e in range(self.epochs + 1):
            xe = plot.left() + plot.width() * e / self.epochs
            p.drawLine(QPointF(xe, plot.top()), QPointF(xe, plot.bottom()))
        pen_of = {"loss": colors.loss, "accuracy": colors.accuracy, "legend": colors.muted,
                  "axis": colors.muted, "empty": colors.muted}
        for text, rect, role, align in lay.texts:
            p.setPen(pen_of.get(role, colors.text))
            p.drawText(rect, align, text)
        loss_top = lay.loss_ticks[-1] or 1.0
        acc_lo, acc_hi = lay.acc_ticks[0], lay.acc_ticks[-1]

        def pt(xv: float, yv: float, lo: float, hi: float) -> QPointF:
            f = min(1.0, max(0.0, (yv - lo) / ((hi - lo) or 1.0)))
            return QPointF(plot.left() + plot.width() * min(xv, self.epochs) / self.epochs,
                           plot.bottom() - plot.height() * f)

        # At most one point every 3 px: this repaint runs while training, and stroking every
        # batch's point made it grow with each epoch (GUI stalls; bench/RESULTS.md).
        stride = max(1, math.ceil(len(self.loss) / max(2.0, plot.width() / 3)))
        p.setBrush(Qt.BrushStyle.NoBrush)
        for series, color, lo, hi in ((self.loss, colors.loss, 0.0, loss_top),
                                      (self.acc, colors.accuracy, acc_lo, acc_hi)):
            if len(series) < 2:
                continue
            shown = series[::stride]
            if shown[-1] is not series[-1]:
                shown.append(series[-1])
            path, inside = QPainterPath(), False
            for xv, yv in shown:  # values below a zoomed axis are left out, not drawn on it
                if yv < lo:
                    inside = False
                elif inside:
                    path.lineTo(pt(xv, yv, lo, hi))
                else:
                    path.moveTo(pt(xv, yv, lo, hi))
                    inside = True
            p.setPen(QPen(color, 1.6))
            p.drawPath(path)
        for series, color, lo, hi in ((self.val_loss, colors.loss, 0.0, loss_top),
                                      (self.val_acc, colors.accuracy, acc_lo, acc_hi)):
            p.setPen(QPen(colors.background, 1.5))
            p.setBrush(color)
            for xv, yv in series:
                p.drawEllipse(pt(xv, yv, lo, hi), 4, 4)
        p.end()
