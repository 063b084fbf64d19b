"""Manage models, Keyboard shortcuts and About. Shown non-blocking (``open()``/``show()``), so
tests drive them with real events; questions that would need a nested event loop (a name, a
file) go through small ``ask_*`` methods that tests replace."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME, __version__
from app.core.errors import DigitPadError
from app.core.models import ARCHITECTURES
from app.core.store import ModelEntry, ModelStore
from app.ui.feedback import Feedback, Prefs
from app.ui.screenfit import resize_within_screen
from app.ui.style import ERROR_STYLE, app_icon, named, table_item


class ManageModelsDialog(QDialog):
    """The models in the store: switch, rename, delete, export."""

    COLUMNS = ("Name", "Architecture", "Test accuracy", "Created", "Active")

    def __init__(self, store: ModelStore, use: Callable[[str], bool], store_changed: Callable[[], None],
                 busy: Callable[[], bool], feedback: Feedback, prefs: Prefs,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._use = use  # switch live prediction to a model; True if it worked
        self._store_changed = store_changed  # the store changed on disk: the window follows
        self._busy = busy  # a TensorFlow job runs: no rename/delete meanwhile
        self.feedback = feedback
        self.prefs = prefs
        self.setObjectName("manageModelsDialog")
        self.setWindowTitle("Manage models")
        resize_within_screen(self, 720, 360)

        self.table = named(QTableWidget(0, len(self.COLUMNS)), "modelTable")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self.update_buttons)
        self.table.itemDoubleClicked.connect(lambda _it: self.use_selected())

        self.use_button = named(QPushButton("&Use"), "useButton")
        self.rename_button = named(QPushButton("&Rename…"), "renameButton")
        self.delete_button = named(QPushButton("&Delete"), "deleteButton")
        self.export_button = named(QPushButton("&Export…"), "exportButton")
        self.close_button = named(QPushButton("Close"), "closeButton")
        self.use_button.clicked.connect(self.use_selected)
        self.rename_button.clicked.connect(self.rename_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.export_button.clicked.connect(self.export_selected)
        self.close_button.clicked.connect(self.accept)

        self.message = named(QLabel(), "messageLabel")
        self.message.setWordWrap(True)
        self.message.hide()

        buttons = QHBoxLayout()
        for b in (self.use_button, self.rename_button, self.delete_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.populate()

    # -- helpers that tests replace -------------------------------------------------
    def ask_name(self, current: str) -> str | None:
        dlg = QInputDialog(self)
        dlg.setObjectName("renameDialog")
        dlg.setWindowTitle("Rename model")
        dlg.setLabelText(f"New name for {current!r}:")
        dlg.setTextValue(current)
        dlg.setOkButtonText("Rename")
        # wide enough for the name and for its title in the title bar (it was 200 px); the
        # dialog's layout sets its own minimum, so the text field is made wide
        edit = dlg.findChild(QLineEdit)
        if edit is not None:
            edit.setMinimumWidth(max(360, dlg.fontMetrics().horizontalAdvance(current) + 60))
        ok = dlg.exec() == QDialog.DialogCode.Accepted
        text = dlg.textValue().strip()
        dlg.deleteLater()
        return text if ok and text else None

    def ask_export_path(self, name: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export model", str(self.prefs.last_directory() / f"{name}.keras"),
            "Keras model (*.keras);;TensorFlow Lite model (*.tflite)")
        return path or None

    # -- table ---------------------------------------------------------------------
    def populate(self, select: str | None = None) -> None:
        store = self.store
        store.refresh()
        current = select or self.selected_name()
        try:
            active = store.active_name()
        except DigitPadError:
            active = None
        entries = store.entries()
        self.table.setRowCount(len(entries))
        bold = QFont(self.font())
        bold.setBold(True)
        for row, e in enumerate(entries):
            acc = e.test_accuracy
            created = e.created.replace("T", " ")[:16] if e.created else "–"
            cells = [
                table_item(e.name + ("  (shipped)" if e.builtin else ""), e.name),
                table_item(ARCHITECTURES[e.arch].title if e.arch in ARCHITECTURES else e.arch),
                table_item("–" if acc is None else f"{acc * 100:.2f} %", align_right=True),
                table_item(created),
                table_item("✓ active" if e.name == active else ""),
            ]
            for col, it in enumerate(cells):
                if e.name == active:
                    it.setFont(bold)
                self.table.setItem(row, col, it)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        target = current or active
        if target is not None:
            self.select(target)
        if store.problems:
            self.show_message("Some models could not be read: " + " ".join(store.problems))
        self.update_buttons()

    def names(self) -> list[str]:
        out = []
        for row in range(self.table.rowCount()):
            it = self.table.item(row, 0)
            if it is not None:
                out.append(str(it.data(Qt.ItemDataRole.UserRole)))
        return out

    def select(self, name: str) -> None:
        for row, n in enumerate(self.names()):
            if n == name:
                self.table.selectRow(row)
                return

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        it = self.table.item(rows[0].row(), 0)
        return None if it is None else str(it.data(Qt.ItemDataRole.UserRole))

    def active_in_table(self) -> str | None:
        for row in range(self.table.rowCount()):
            it = self.table.item(row, 4)
            if it is not None and it.text():
                name_item = self.table.item(row, 0)
                return None if name_item is None else str(name_item.data(Qt.ItemDataRole.UserRole))
        return None

    def update_buttons(self) -> None:
        """Enable what applies to the selected model (rename/delete: not the shipped one, not busy)."""
        name = self.selected_name()
        entry = None
        if name is not None and name in self.store:
            entry = self.store.get(name)
        busy = self._busy()
        self.use_button.setEnabled(entry is not None)
        self.export_button.setEnabled(entry is not None)
        self.rename_button.setEnabled(entry is not None and not entry.builtin and not busy)
        self.delete_button.setEnabled(entry is not None and not entry.builtin and not busy)

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(text)
        self.message.show()

    # -- actions -------------------------------------------------------------------
    def use_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        if self._use(name):
            self.show_message(f"Now using {name!r}.")
        self.populate(select=name)

    def rename_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        new = self.ask_name(name)
        if not new or new == name:
            return
        try:
            self.store.rename(name, new)
        except DigitPadError as exc:
            self.show_message(str(exc), error=True)
            return
        self._store_changed()
        self.show_message(f"Renamed {name!r} to {new!r}.")
        self.populate(select=new)

    def delete_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        if not self.feedback.confirm("Delete model", f"Delete the model {name!r}? This cannot be undone."):
            return
        try:
            self.store.delete(name)
        except DigitPadError as exc:
            self.show_message(str(exc), error=True)
            return
        self._store_changed()
        self.show_message(f"Deleted {name!r}.")
        self.populate(select=self.store.active_name() if self.store.entries() else None)

    def export_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        path = self.ask_export_path(name)
        if not path:
            return
        if not path.lower().endswith((".keras", ".tflite")):
            path += ".keras"
        try:
            out = self.store.export(name, path)
        except DigitPadError as exc:
            self.show_message(str(exc), error=True)
            return
        self.prefs.remember_directory(out.parent)
        self.show_message(f"Exported {name!r} to {out}.")




class ShortcutsDialog(QDialog):
    """The keyboard shortcuts, as a table as tall as its rows (nothing to scroll). The window
    hands in the rows (made from its actions, so none is missing)."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        table = self.table = named(QTableWidget(len(rows), 2), "shortcutsTable")
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        table.verticalHeader().hide()
        for row, (action, keys) in enumerate(rows):
            table.setItem(row, 0, table_item(action))
            table.setItem(row, 1, table_item(keys))
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.resizeColumnsToContents()
        for c in range(2):
            table.setColumnWidth(c, table.columnWidth(c) + 16)  # some air after the text
        table.resizeRowsToContents()
        header = table.horizontalHeader()
        header.setStretchLastSection(True)
        frame = 2 * table.frameWidth()
        table.setMinimumSize(sum(table.columnWidth(c) for c in range(2)) + frame + 24,
                             sum(table.rowHeight(r) for r in range(len(rows))) + header.height() + frame)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(close)


def _tf_version() -> str:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return "not loaded"
    return str(getattr(tf, "__version__", "loaded"))


def _dist_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def about_text(entry: ModelEntry | None) -> str:
    """The About box: version, the model in use and the libraries (TensorFlow is not imported)."""
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion

    from app.core.inference import backend_name

    if entry is None:
        model = "none"
    else:
        acc = "" if entry.test_accuracy is None else f", test accuracy {entry.test_accuracy * 100:.2f} %"
        model = f"{entry.name} ({entry.arch}{acc})"
    keras_version = getattr(sys.modules.get("keras"), "__version__", "not loaded")
    return (
        f"<h3>{APP_NAME} {__version__}</h3>"
        "<p>Draw digits with the mouse and watch a Keras network recognise them live; "
        "train and retrain it from the window.</p>"
        "<table>"
        f"<tr><td>Model in use:&nbsp;</td><td>{model}</td></tr>"
        f"<tr><td>Qt:</td><td>{qVersion()}</td></tr>"
        f"<tr><td>PySide6:</td><td>{pyside_version}</td></tr>"
        f"<tr><td>TensorFlow:</td><td>{_tf_version()}</td></tr>"
        f"<tr><td>Keras:</td><td>{keras_version}</td></tr>"
        f"<tr><td>{backend_name()}:</td><td>{_dist_version('ai-edge-litert')}</td></tr>"
        f"<tr><td>NumPy:</td><td>{np.__version__}</td></tr>"
        f"<tr><td>Python:</td><td>{sys.version.split()[0]}</td></tr>"
        "</table>"
    )


def about_box(entry: ModelEntry | None, parent: QWidget) -> QMessageBox:
    box = QMessageBox(parent)
    box.setObjectName("aboutBox")
    box.setWindowTitle(f"About {APP_NAME}")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text(entry))
    box.setIconPixmap(app_icon().pixmap(64, 64))
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    return box
