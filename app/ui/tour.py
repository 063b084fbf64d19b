"""A short guided tour: a few steps, each a small card next to the part of the window it is
about, with that part outlined (Help ▸ Tour, and once at the first start).

Nothing is blocked: the card is small, the window works beneath it, and ✕, "Skip" or the
last step's "Done" end the tour. The window hands in the steps with callables that find
their widgets, so the tour knows nothing of the window's insides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QFont, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.style import bar_colors


@dataclass(frozen=True)
class TourStep:
    title: str
    text: str
    target: Callable[[], QWidget | None]  # the part of the window the step is about
    # parts the text speaks of too, which the card must leave in sight (e.g. the bars)
    keep_visible: Callable[[], list[QWidget]] = lambda: []


class _Outline(QWidget):
    """A rounded outline around the current step's widget (clicks pass through)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.rect_shown = QRect()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.rect_shown.isNull():
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(bar_colors(self.palette()).accent, 3))
        # around the widget, but inside the window (the menu bar's top edge is the window's)
        inside = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        ring = QRectF(self.rect_shown).adjusted(-3, -3, 3, 3).intersected(inside)
        p.drawRoundedRect(ring, 6, 6)
        p.end()


class TourCard(QFrame):
    """The card of one step: title, text, "2 of 5", Back / Next (Done), Skip and ✕."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("tourCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.setFixedWidth(300)
        self.title = QLabel()
        self.title.setObjectName("tourTitle")
        bold = QFont(self.font())
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() + 1.5)
        self.title.setFont(bold)
        self.text = QLabel()
        self.text.setObjectName("tourText")
        self.text.setWordWrap(True)
        self.counter = QLabel()
        self.counter.setObjectName("tourCounter")
        self.close_button = QToolButton()
        self.close_button.setObjectName("tourClose")
        self.close_button.setText("✕")
        self.close_button.setToolTip("End the tour")
        self.close_button.setAutoRaise(True)
        self.skip_button = QPushButton("Skip")
        self.skip_button.setObjectName("tourSkip")
        self.back_button = QPushButton("Back")
        self.back_button.setObjectName("tourBack")
        self.next_button = QPushButton("Next")
        self.next_button.setObjectName("tourNext")
        self.next_button.setDefault(True)
        for b in (self.skip_button, self.back_button, self.next_button, self.close_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the pad keeps the keyboard
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.close_button)
        row = QHBoxLayout()
        row.addWidget(self.counter)
        row.addStretch(1)
        row.addWidget(self.skip_button)
        row.addWidget(self.back_button)
        row.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.text)
        layout.addLayout(row)


class Tour(QObject):
    """The tour over ``window``: :meth:`start`, then the card's buttons move through it."""

    finished = Signal()

    def __init__(self, window: QWidget, steps: list[TourStep]) -> None:
        super().__init__(window)
        self.window = window
        self.steps = steps
        self.index = -1
        self.outline = _Outline(window)
        self.card = TourCard(window)
        self.card.next_button.clicked.connect(self.next)
        self.card.back_button.clicked.connect(self.back)
        self.card.skip_button.clicked.connect(self.close)
        self.card.close_button.clicked.connect(self.close)
        self.outline.hide()
        self.card.hide()
        self._watched: QWidget | None = None  # the current step's widget
        window.installEventFilter(self)

    def is_active(self) -> bool:
        return self.index >= 0

    def start(self) -> None:
        self.show_step(0)

    def next(self) -> None:
        if self.index + 1 >= len(self.steps):
            self.close()
        else:
            self.show_step(self.index + 1)

    def back(self) -> None:
        self.show_step(max(0, self.index - 1))

    def close(self) -> None:
        was_active = self.is_active()
        self.index = -1
        self._watch(None)
        self.card.hide()
        self.outline.hide()
        if was_active:
            self.finished.emit()

    def _watch(self, widget: QWidget | None) -> None:
        if self._watched is not None:
            self._watched.removeEventFilter(self)
        self._watched = widget
        if widget is not None:
            widget.installEventFilter(self)

    def target_rect(self) -> QRect:
        """Where the current step's widget is, in window coordinates (null: nowhere)."""
        if not self.is_active():
            return QRect()
        target = self.steps[self.index].target()
        if target is None or not target.isVisible():
            return QRect()
        return QRect(target.mapTo(self.window, QPoint(0, 0)), target.size())

    def show_step(self, index: int) -> None:
        self.index = index
        step, card = self.steps[index], self.card
        card.title.setText(step.title)
        card.text.setText(step.text)
        card.counter.setText(f"{index + 1} of {len(self.steps)}")
        card.back_button.setEnabled(index > 0)
        last = index == len(self.steps) - 1
        card.next_button.setText("Done" if last else "Next")
        card.skip_button.setVisible(not last)
        self._watch(step.target())
        self._place()
        self.outline.show()
        self.card.show()
        self.outline.raise_()
        self.card.raise_()

    def _place(self) -> None:
        """The outline on the target, the card beside it (right, left, below or above,
        wherever it fits without covering what the step wants in sight) and inside the window."""
        win = self.window.rect()
        self.outline.setGeometry(win)
        target = self.target_rect()
        self.outline.rect_shown = target
        card = self.card
        card.adjustSize()
        size = card.size()
        gap = 12
        if target.isNull():
            spots = [QPoint(win.center().x() - size.width() // 2, win.center().y() - size.height() // 2)]
        else:
            mid_y = target.center().y() - size.height() // 2
            mid_x = target.center().x() - size.width() // 2
            spots = [QPoint(target.right() + gap, mid_y), QPoint(target.left() - gap - size.width(), mid_y),
                     QPoint(mid_x, target.bottom() + gap), QPoint(mid_x, target.top() - gap - size.height())]

        shown = [QRect(w.mapTo(self.window, QPoint(0, 0)), w.size())
                 for w in self.steps[self.index].keep_visible() if w.isVisible()]

        def fits(pt: QPoint) -> bool:
            placed = QRect(pt, size)
            return win.contains(placed) and not any(placed.intersects(r) for r in shown)

        pos = next((pt for pt in spots if fits(pt)), spots[0])
        pos.setX(max(0, min(pos.x(), win.width() - size.width())))
        pos.setY(max(0, min(pos.y(), win.height() - size.height())))
        card.move(pos)
        self.outline.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # the window resized, or the step's widget moved or resized (a layout change, such
        # as number mode taking the pad to the strip): outline and card follow
        moved = event.type() in (QEvent.Type.Resize, QEvent.Type.Move)
        if moved and self.is_active() and (watched is self.window or watched is self._watched):
            self._place()
        return False
