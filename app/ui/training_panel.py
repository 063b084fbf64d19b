"""The training panel under the pad: Train / Cancel / Retrain…, progress, status and curves."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.ui.style import named
from app.ui.widgets import TrainingCurves, WrappedLabel


class HoverButton(QPushButton):
    """A push button that says when the mouse comes over it (the user may click soon)."""

    hovered = Signal()

    def enterEvent(self, event: QEnterEvent) -> None:
        super().enterEvent(event)
        self.hovered.emit()


class TrainingPanel(QWidget):
    """Train / Cancel / Retrain…, the progress bar, a status line and the curves. A plain panel
    (the window puts it under a line): a group box's title and frame cost height the
    smallest window does not have; the Train button says what the panel is."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingBox")
        self.train_button = named(HoverButton("Train"), "trainButton")
        self.train_button.setToolTip("Train a new model with the settings of Model ▸ Retrain… (Ctrl+T)")
        self.cancel_button = named(QPushButton("Cancel"), "cancelButton")
        self.settings_button = named(QPushButton("Retrain…"), "retrainButton")
        self.settings_button.setToolTip("Choose the architecture and settings, then train (Model ▸ "
                                        "Retrain…, Ctrl+R)")
        self.progress = named(QProgressBar(), "trainProgress")
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.recipe = named(WrappedLabel("", lines=2), "trainRecipe")  # the Train button's recipe
        self.status = named(WrappedLabel("", lines=2), "trainStatus")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.curves = TrainingCurves()
        row = QHBoxLayout()
        for b in (self.train_button, self.cancel_button, self.settings_button):
            row.addWidget(b)
        row.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        lines = self._lines = QHBoxLayout()  # the recipe (always) beside what is going on
        lines.addWidget(self.recipe, 2)
        lines.addWidget(self.status, 3)
        layout.addLayout(row)
        layout.addLayout(lines)
        layout.addWidget(self.curves, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    def set_narrow(self, narrow: bool) -> None:
        """In a narrow column (number mode) the recipe goes above what is going on instead of
        beside it, so neither needs more than its two lines."""
        d = QBoxLayout.Direction
        self._lines.setDirection(d.TopToBottom if narrow else d.LeftToRight)
