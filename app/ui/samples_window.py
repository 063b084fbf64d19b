"""The "Personal samples" window: the user's labelled drawings as a thumbnail grid per digit.

Select thumbnails (click, Ctrl/Shift+click), then press a digit key (or *Relabel as*) to
give them another label, or Delete to remove them (*Undo delete*, Ctrl+Z, brings them back,
strokes and all). Export writes an .npz in Keras' MNIST
layout; Import reads one (``x_train``/``y_train`` or ``x``/``y``, numbers only: a pickled
or object array is refused).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import DigitPadError
from app.ui.feedback import Prefs
from app.ui.personal_samples import PersonalSamples
from app.ui.screenfit import resize_within_screen
from app.ui.style import ERROR_STYLE, muted_span, named, rich_text
from app.ui.thumbs import DigitGrid

THUMB = 44


class SamplesWindow(QDialog):
    """Lists, deletes, relabels, exports and imports the personal samples."""

    def __init__(self, samples: PersonalSamples, train: Callable[[], object], busy: Callable[[], bool],
                 prefs: Prefs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.samples = samples
        self._busy = busy  # a TensorFlow job runs: Train on my drawings waits
        self.prefs = prefs
        self.setObjectName("samplesWindow")
        self.setWindowTitle("Personal samples")
        self.summary = named(QLabel(), "samplesSummary")
        self.summary.setWordWrap(True)

        rows = QWidget()
        rows_layout = QVBoxLayout(rows)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        rows_layout.setSpacing(2)
        self.grids: list[DigitGrid] = []
        self.row_labels: list[QLabel] = []
        for d in range(10):
            label = named(QLabel(), f"samplesLabel{d}")
            label.setMinimumWidth(48)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid = named(DigitGrid(icon_size=THUMB, wrapping=False, captions=False), f"samplesGrid{d}")
            grid.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
            grid.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            bar = grid.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
            grid.setFixedHeight(THUMB + 8 + 4 + bar)
            grid.itemPressed.connect(lambda _it, g=grid: self._pressed(g))
            grid.itemSelectionChanged.connect(self.update_buttons)
            grid.installEventFilter(self)
            row = QHBoxLayout()
            row.addWidget(label)
            row.addWidget(grid, 1)
            rows_layout.addLayout(row)
            self.grids.append(grid)
            self.row_labels.append(label)
        rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(rows)
        scroll.setWidgetResizable(True)

        self.relabel_combo = named(QComboBox(), "relabelCombo")
        for d in range(10):
            self.relabel_combo.addItem(str(d), d)
        self.relabel_button = named(QPushButton("&Relabel as"), "relabelButton")
        self.delete_button = named(QPushButton("&Delete"), "deleteSamplesButton")
        self.undo_button = named(QPushButton("&Undo delete"), "undoDeleteButton")
        self.undo_button.setToolTip("Bring back the samples deleted last (Ctrl+Z)")

        self.export_button = named(QPushButton("&Export…"), "exportSamplesButton")
        self.import_button = named(QPushButton("&Import…"), "importSamplesButton")
        self.train_button = named(QPushButton("&Train on my drawings"), "trainOnSamplesButton")
        self.close_button = named(QPushButton("Close"), "closeSamplesButton")
        self.relabel_button.clicked.connect(
            lambda: self.relabel_selected(int(self.relabel_combo.currentData())))
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button.clicked.connect(self.undo_delete)
        self.export_button.clicked.connect(self._export_clicked)
        self.import_button.clicked.connect(self._import_clicked)
        self.train_button.clicked.connect(lambda: train())
        self.close_button.clicked.connect(self.accept)
        for b in (self.relabel_button, self.delete_button, self.undo_button, self.export_button,
                  self.import_button,
                  self.train_button, self.close_button):
            b.setAutoDefault(False)
        self.message = named(QLabel(), "samplesMessage")
        self.message.setWordWrap(True)
        self.message.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.relabel_button)
        buttons.addWidget(self.relabel_combo)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.undo_button)
        buttons.addSpacing(12)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        resize_within_screen(self, 760, 720)
        samples.changed.connect(self.populate)
        self.populate()

    # -- helpers that tests replace ---------------------------------------------------
    def ask_export_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export personal samples", str(self.prefs.last_directory() / "my-digits.npz"),
            "NumPy archive, Keras MNIST layout (*.npz)")
        return path or None

    def ask_import_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import samples", str(self.prefs.last_directory()),
            "NumPy archive (*.npz)")
        return path or None

    # -- content -----------------------------------------------------------------------
    def populate(self) -> None:
        store = self.samples.store
        selected = set(self.selected_ids())
        counts = store.counts()
        total = len(store)
        for d in range(10):
            grid = self.grids[d]
            grid.setUpdatesEnabled(False)
            grid.clear()
            for s in store.samples(label=d):
                source = "drawn" if s.strokes else "imported"
                when = s.created.replace("T", " ")[:16]
                item = grid.add_digit(s.id, s.image, tooltip=f"Sample #{s.id}: a {d} ({source} {when})")
                if s.id in selected:
                    item.setSelected(True)
            grid.setUpdatesEnabled(True)
            rich_text(self.row_labels[d], functools.partial(self._row_text, d, counts[d]))
        if total:
            self.summary.setText(
                f"<b>{total}</b> samples of your handwriting. Select thumbnails, then press a digit key "
                "to relabel them or Delete to remove them. <i>Train on my drawings</i> fine-tunes the "
                "model in use on them.")
        else:
            self.summary.setText(
                "No samples yet. When the model misreads a drawing, press the right digit key (or click "
                "its bar): the drawing is kept here as a sample of your handwriting.")
        if store.problems:
            self.show_message(" ".join(store.problems), error=True)
        self.update_buttons()

    def _row_text(self, digit: int, count: int) -> str:
        """A row's label: the digit, and how many samples of it (muted)."""
        return (f"<b style='font-size:15pt'>{digit}</b><br>"
                + muted_span(self.row_labels[digit], str(count or "none")))

    def selected_ids(self) -> list[int]:
        out: list[int] = []
        for grid in self.grids:
            out.extend(int(k) for k in grid.selected_keys())  # type: ignore[call-overload]
        return out

    def ids_in_row(self, digit: int) -> list[int]:
        return [int(k) for k in self.grids[digit].item_keys()]  # type: ignore[call-overload]

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(text)
        self.message.show()

    def _pressed(self, grid: DigitGrid) -> None:
        """A plain click in one row clears the selection in the other rows."""
        mods = QApplication.keyboardModifiers()
        if mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
            return
        for other in self.grids:
            if other is not grid:
                other.clearSelection()

    def update_buttons(self) -> None:
        has_sel = bool(self.selected_ids())
        self.relabel_button.setEnabled(has_sel)
        self.delete_button.setEnabled(has_sel)
        self.undo_button.setEnabled(bool(self.samples.deleted))
        self.export_button.setEnabled(len(self.samples) > 0)
        self.train_button.setEnabled(not self._busy())

    # -- actions -----------------------------------------------------------------------
    def delete_selected(self) -> int:
        ids = self.selected_ids()
        if not ids:
            return 0
        n = self.samples.delete(ids)
        self.show_message(f"Deleted {n} sample{'s' if n != 1 else ''}. Undo delete (Ctrl+Z) brings "
                          f"{'them' if n != 1 else 'it'} back.")
        return n

    def undo_delete(self) -> int:
        try:
            n = self.samples.undo_delete()
        except DigitPadError as exc:
            self.show_message(str(exc), error=True)
            return 0
        if n:
            self.show_message(f"Brought back {n} sample{'s' if n != 1 else ''}.")
        self.update_buttons()
        return n

    def relabel_selected(self, label: int) -> int:
        ids = self.selected_ids()
        if not ids:
            return 0
        n = self.samples.relabel(ids, label)
        for i in ids:  # keep them selected in their new row
            item = self.grids[label].item_for(i)
            if item is not None:
                item.setSelected(True)
        self.show_message(f"Relabelled {len(ids)} sample{'s' if len(ids) != 1 else ''} as {label}"
                          + ("" if n == len(ids) else f" ({len(ids) - n} already were)") + ".")
        return n

    def _export_clicked(self) -> None:
        path = self.ask_export_path()
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> bool:
        try:
            out = self.samples.store.export_npz(path)
        except DigitPadError as exc:
            self.show_message(str(exc), error=True)
            return False
        self.prefs.remember_directory(out.parent)
        self.show_message(f"Exported {len(self.samples)} samples to {out} "
                          "(x_train uint8 N×28×28, y_train).")
        return True

    def _import_clicked(self) -> None:
        path = self.ask_import_path()
        if path:
            self.import_from(path)

    def import_from(self, path: str) -> bool:
        try:
            n = self.samples.import_npz(path)
        except DigitPadError as exc:
            self.show_message(str(exc), error=True)
            return False
        self.prefs.remember_directory(Path(path).parent)
        self.show_message(f"Imported {n} samples from {path}.")
        return True

    @staticmethod
    def _is_ours(event: QKeyEvent) -> bool:
        if event.matches(QKeySequence.StandardKey.Undo):
            return True
        key = event.key()
        plain = not (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier)
        return plain and (Qt.Key.Key_0 <= key <= Qt.Key.Key_9
                          or key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace))

    def _handle_key(self, event: QKeyEvent) -> bool:
        """Digit keys relabel the selection, Delete/Backspace deletes it, Ctrl+Z undoes a delete."""
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo_delete()
            return True
        key = event.key()
        plain = not (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier)
        if Qt.Key.Key_0 <= key <= Qt.Key.Key_9 and plain:
            if self.selected_ids():
                self.relabel_selected(int(key) - int(Qt.Key.Key_0))
            return True
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and plain:
            self.delete_selected()
            return True
        return False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Digit keys and Delete are the main window's shortcuts (label the drawing, clear the
        # pad): here they mean "relabel"/"delete", so claim them (ShortcutOverride) and handle
        # them before the grids use digits for their keyboard search.
        if watched in self.grids and isinstance(event, QKeyEvent):
            if event.type() == QEvent.Type.ShortcutOverride and self._is_ours(event):
                event.accept()
                return True
            if event.type() == QEvent.Type.KeyPress and self._handle_key(event):
                return True
        return super().eventFilter(watched, event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and self._is_ours(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._handle_key(event):
            event.accept()
            return
        super().keyPressEvent(event)
