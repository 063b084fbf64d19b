"""The row under the pad: the brush size (a slider and its value; [ and ] in the Edit menu
change it too, and it is remembered), Undo, Redo and Clear, kept in step with the pad."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton

from app.ui.feedback import Prefs
from app.ui.pad import BRUSH_DEFAULT, BRUSH_MAX, BRUSH_MIN, DrawingPad
from app.ui.style import named


def _text_button(text: str, name: str) -> QToolButton:
    """A tool button as wide as its text (push buttons are at least 80 px: too wide for the
    narrowest window); the pad keeps the keyboard focus."""
    button = named(QToolButton(), name)
    button.setText(text)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return button


class PadTools(QHBoxLayout):
    """Brush size, Undo, Redo, Clear for ``pad``; ``clear()`` clears the drawing (and an
    opened picture)."""

    def __init__(self, pad: DrawingPad, prefs: Prefs, clear: Callable[[], None]) -> None:
        super().__init__()
        self.pad = pad
        self.prefs = prefs
        self.brush_slider = named(QSlider(Qt.Orientation.Horizontal), "brushSlider")
        self.brush_slider.setRange(BRUSH_MIN, BRUSH_MAX)
        self.brush_slider.setValue(pad.brush_size())
        self.brush_slider.setToolTip("Brush size ([ and ])")
        self.brush_slider.setMaximumWidth(220)
        self.brush_slider.setMinimumWidth(56)
        self.brush_slider.valueChanged.connect(pad.set_brush_size)
        pad.brushSizeChanged.connect(self._brush_changed)
        self.brush_value = named(QLabel(str(pad.brush_size())), "brushValue")
        self.brush_value.setMinimumWidth(24)
        self.undo_button = _text_button("Undo", "undoButton")
        self.redo_button = _text_button("Redo", "redoButton")
        self.clear_button = _text_button("Clear", "clearButton")
        self.undo_button.clicked.connect(pad.undo)
        self.redo_button.clicked.connect(pad.redo)
        self.clear_button.clicked.connect(lambda: clear())
        self.addWidget(QLabel("Brush"))
        self.addWidget(self.brush_slider)
        self.addWidget(self.brush_value)
        self.addStretch(1)
        for b in (self.undo_button, self.redo_button, self.clear_button):
            self.addWidget(b)

    def restore(self) -> None:
        """The remembered brush size."""
        self.pad.set_brush_size(self.prefs.brush(BRUSH_DEFAULT))
        self.brush_slider.setValue(self.pad.brush_size())

    def change_brush(self, delta: int) -> None:
        self.pad.set_brush_size(self.pad.brush_size() + delta)

    def _brush_changed(self, size: int) -> None:
        self.brush_slider.setValue(size)
        self.brush_value.setText(str(size))
        self.prefs.set_brush(size)
