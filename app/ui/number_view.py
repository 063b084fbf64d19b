"""The number read from the writing strip, in large type: one cell per digit, its
confidence under it. Hovering a digit shows it (its probabilities in the bars), clicking
selects it (for a correction or Explain); a digit that is not a digit is a "?" and the
number is marked uncertain."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.core.number import NumberReading
from app.ui.style import muted_text

UNCERTAIN = QColor("#e08a00")
SELECTED = QColor("#f0a500")


class NumberView(QWidget):
    """Shows a :class:`NumberReading`; :meth:`number` is what it shows (None while empty)."""

    digitSelected = Signal(int)  # clicked (or chosen with the arrow keys)
    digitHovered = Signal(int)  # under the mouse; -1 when the mouse leaves

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("numberView")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(96)
        self.setAccessibleName("The number read")
        self._reading = NumberReading()
        self._message = ""
        self._selected: int | None = None
        self._hovered: int | None = None

    def sizeHint(self) -> QSize:
        return QSize(480, 110)

    # -- state ------------------------------------------------------------
    def number(self) -> str | None:
        """The digits read, e.g. "2026" ("?" for one that is not a digit); None while empty."""
        return self._reading.number

    def reading(self) -> NumberReading:
        return self._reading

    def message(self) -> str:
        return self._message

    def selected(self) -> int | None:
        return self._selected

    def set_reading(self, reading: NumberReading, message: str = "") -> None:
        """Show ``reading``; ``message`` is shown while it has no digits."""
        self._reading = reading
        self._message = message
        n = len(reading.digits)
        if self._selected is not None and self._selected >= n:
            self._selected = n - 1 if n else None
        if self._hovered is not None and self._hovered >= n:
            self._hovered = None
        self.setToolTip("" if not n else "Hover or click a digit: its probabilities are in the "
                        "bars; press the right digit key to correct the selected one.")
        self.update()

    def select(self, index: int | None) -> None:
        n = len(self._reading.digits)
        index = None if index is None or not n else max(0, min(n - 1, index))
        if index != self._selected:
            self._selected = index
            self.update()
        if index is not None:
            self.digitSelected.emit(index)

    # -- geometry ---------------------------------------------------------
    def cell_rect(self, index: int) -> QRectF:
        """Where digit ``index`` is drawn (widget coordinates)."""
        n = max(len(self._reading.digits), 1)
        width = min(self.height() * 0.62, (self.width() - 16) / n)
        left = (self.width() - width * n) / 2
        return QRectF(left + index * width, 4, width, self.height() - 8)

    def digit_at(self, pos: QPointF) -> int | None:
        for i in range(len(self._reading.digits)):
            if self.cell_rect(i).contains(pos):
                return i
        return None

    # -- events -----------------------------------------------------------
    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        i = self.digit_at(event.position())
        if i != self._hovered:
            self._hovered = i
            self.update()
            self.digitHovered.emit(-1 if i is None else i)
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        if self._hovered is not None:
            self._hovered = None
            self.update()
            self.digitHovered.emit(-1)
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        i = self.digit_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and i is not None:
            self.select(i)
            event.accept()
            return
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}.get(Qt.Key(event.key()))
        if step is not None and self._reading.digits:
            self.select((self._selected if self._selected is not None else -step) + step)
            event.accept()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(pal.ColorRole.WindowText)
        muted = muted_text(pal, pal.ColorRole.Window)
        digits = self._reading.digits
        if not digits:
            font = QFont(self.font())
            font.setPointSizeF(max(11.0, self.height() / 7))
            p.setFont(font)
            p.setPen(muted)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._message or "Write a number")
            p.end()
            return
        big = QFont(self.font())
        big.setPixelSize(max(12, int(min(self.cell_rect(0).width() * 1.1, self.height() * 0.62))))
        small = QFont(self.font())
        small.setPixelSize(max(9, int(min(self.cell_rect(0).width() * 0.26, self.height() * 0.16))))
        for i, d in enumerate(digits):
            r = self.cell_rect(i)
            if i == self._selected or i == self._hovered:
                p.setPen(QPen(SELECTED, 2.0 if i == self._selected else 1.0))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(r.adjusted(1, 1, -1, -1), 6, 6)
            p.setFont(big)
            p.setPen(text if d.is_digit else UNCERTAIN)
            p.drawText(QRectF(r.x(), r.y(), r.width(), r.height() * 0.74), Qt.AlignmentFlag.AlignCenter,
                       d.text)
            p.setFont(small)
            p.setPen(muted)
            p.drawText(QRectF(r.x(), r.y() + r.height() * 0.74, r.width(), r.height() * 0.26),
                       Qt.AlignmentFlag.AlignCenter, f"{d.confidence * 100:.0f}%")
        if self._reading.uncertain:
            p.setFont(small)
            p.setPen(UNCERTAIN)
            p.drawText(QRectF(self.rect()).adjusted(6, 2, -6, -2),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, "uncertain")
        p.end()
