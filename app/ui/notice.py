"""A status-bar notice with an Undo button: what just happened, undoable from the message
itself for a few seconds (a labelled sample kept by a key press or a click on a bar)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QStatusBar, QToolButton, QWidget

from app.ui.style import named


class UndoNotice(QWidget):
    """Lives in the status bar; :meth:`show_notice` shows a text and an Undo button until
    the time is up, another message comes, or Undo is pressed (once)."""

    def __init__(self, bar: QStatusBar) -> None:
        super().__init__(bar)
        self.setObjectName("undoNotice")
        self.label = named(QLabel(), "undoNoticeText")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.button = named(QToolButton(), "undoNoticeButton")  # (no taller than the status bar)
        self.button.setText("Undo")
        self.button.clicked.connect(self._undo)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self._undo_fn: Callable[[], None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self._bar = bar
        bar.addWidget(self, 1)
        bar.messageChanged.connect(self._message_changed)
        self.hide()

    def show_notice(self, text: str, undo: Callable[[], None], ms: int = 10000) -> None:
        self._bar.clearMessage()  # (a temporary message would hide the notice)
        self.label.setText(text)
        self.label.setToolTip(text)
        self._undo_fn = undo
        self.button.setEnabled(True)
        self.show()
        self._timer.start(ms)

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def dismiss(self) -> None:
        self._timer.stop()
        self._undo_fn = None
        self.hide()

    def _undo(self) -> None:
        fn, self._undo_fn = self._undo_fn, None
        self.dismiss()
        if fn is not None:
            fn()

    def _message_changed(self, text: str) -> None:
        if text:  # a newer message: this notice is no longer what the user is reading
            self.dismiss()
