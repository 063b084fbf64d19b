"""The window's dialogs: Retrain, Manage models, Evaluation results, Keyboard shortcuts.

All of them are shown non-blocking (``open()``/``show()``), so tests can drive them with
real events; questions that would need a nested event loop (a name, a file, "are you
sure?") go through small methods that tests replace.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import DigitPadError, TrainingError
from app.core.models import ARCHITECTURES, DEFAULT_ARCH
from app.core.training import LIMITS, Evaluation, TrainConfig
from app.ui.widgets import named

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

MNIST_TRAIN_SIZE = 60000
# Rough training throughput on a 2-core machine (images per second), for the estimate only.
SAMPLES_PER_SECOND = {"cnn-fast": 10000.0, "cnn": 1800.0, "mlp": 20000.0}
TF_STARTUP_SECONDS = 8.0
ERROR_STYLE = "color: #c0392b; font-weight: 600;"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        m, s = divmod(round(seconds), 60)
        return f"{m} min {s:02d} s" if m < 10 else f"{m} min"
    h, m = divmod(round(seconds / 60), 60)
    return f"{h} h {m:02d} min"


def estimate_seconds(cfg: TrainConfig, tf_loaded: bool = False) -> float:
    """A rough guess of how long training ``cfg`` (resolved) takes on this kind of machine."""
    rate = SAMPLES_PER_SECOND.get(cfg.arch, 2000.0)
    n = cfg.limit or MNIST_TRAIN_SIZE
    train_n = n * (1 - cfg.validation_split)
    val_n = n * cfg.validation_split
    epochs = cfg.epochs or 1
    per_epoch = train_n / rate * (1.4 if cfg.augment else 1.0) + val_n / (rate * 4)
    evaluate = 10000 / (rate * 4)
    return epochs * per_epoch + evaluate + (0.0 if tf_loaded else TF_STARTUP_SECONDS) + 2.0


def _parse_int(text: str, what: str) -> int:
    try:
        return int(text.strip().replace("_", "").replace(" ", ""))
    except ValueError:
        raise TrainingError(f"{what} must be a whole number (got {text.strip() or 'nothing'!r}).") \
            from None


def _parse_float(text: str, what: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise TrainingError(f"{what} must be a number like 0.003 or 3e-3 "
                            f"(got {text.strip() or 'nothing'!r}).") from None
    if not math.isfinite(value):
        raise TrainingError(f"{what} must be a finite number.")
    return value


class RetrainDialog(QDialog):
    """Choose what to train: architecture and its settings, with a time estimate."""

    def __init__(self, config: TrainConfig, parent: QWidget | None = None,
                 tf_loaded: Callable[[], bool] = lambda: False) -> None:
        super().__init__(parent)
        self.setObjectName("retrainDialog")
        self.setWindowTitle("Retrain the model")
        self._tf_loaded = tf_loaded
        self._chosen: TrainConfig | None = None

        self.arch_combo = named(QComboBox(), "archCombo")
        for name, arch in ARCHITECTURES.items():
            self.arch_combo.addItem(arch.title, name)
        self.description = named(QLabel(), "archDescription")
        self.description.setWordWrap(True)
        self.description.setMinimumWidth(360)
        self.epochs_edit = named(QLineEdit(), "epochsEdit")
        self.batch_edit = named(QLineEdit(), "batchSizeEdit")
        self.lr_edit = named(QLineEdit(), "learningRateEdit")
        self.augment_check = named(QCheckBox("Augment (random shifts, rotations, scale, stroke width)"),
                                   "augmentCheck")
        self.limit_edit = named(QLineEdit(), "limitEdit")
        self.limit_edit.setPlaceholderText(f"all {MNIST_TRAIN_SIZE}")
        self.epochs_edit.setToolTip(f"{LIMITS['epochs'][0]}–{LIMITS['epochs'][1]}")
        self.batch_edit.setToolTip(f"{LIMITS['batch_size'][0]}–{LIMITS['batch_size'][1]}")
        self.lr_edit.setToolTip("e.g. 0.003 or 3e-3")
        self.limit_edit.setToolTip(f"How many of the {MNIST_TRAIN_SIZE} MNIST training images "
                                   "to use (empty = all); 10 % of them are held out for validation.")
        self.estimate_label = named(QLabel(), "estimateLabel")
        self.error_label = named(QLabel(), "errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.hide()

        form = QFormLayout()
        form.addRow("&Architecture:", self.arch_combo)
        form.addRow("", self.description)
        form.addRow("&Epochs:", self.epochs_edit)
        form.addRow("&Batch size:", self.batch_edit)
        form.addRow("&Learning rate:", self.lr_edit)
        form.addRow("", self.augment_check)
        form.addRow("Training &images:", self.limit_edit)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("&Train")
        ok.setObjectName("okButton")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.estimate_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

        cfg = config
        idx = self.arch_combo.findData(cfg.arch)
        self.arch_combo.setCurrentIndex(max(0, idx))
        self._fill(cfg)
        self.arch_combo.currentIndexChanged.connect(self._arch_changed)
        for edit in (self.epochs_edit, self.batch_edit, self.lr_edit, self.limit_edit):
            edit.textChanged.connect(self._update_estimate)
        self.augment_check.toggled.connect(self._update_estimate)
        self._update_estimate()

    # the values
    def _fill(self, cfg: TrainConfig) -> None:
        try:
            r = cfg.resolved()
        except DigitPadError:
            r = TrainConfig(arch=DEFAULT_ARCH).resolved()
        self.description.setText(ARCHITECTURES[r.arch].description)
        self.epochs_edit.setText(str(r.epochs))
        self.batch_edit.setText(str(r.batch_size))
        self.lr_edit.setText(f"{r.learning_rate:g}")
        self.augment_check.setChecked(bool(r.augment))
        self.limit_edit.setText("" if r.limit is None else str(r.limit))

    def _arch_changed(self) -> None:
        limit = self.limit_edit.text()
        self._fill(TrainConfig(arch=str(self.arch_combo.currentData())))
        self.limit_edit.setText(limit)  # how much data is not an architecture default
        self.error_label.hide()

    def config(self) -> TrainConfig:
        """The settings entered, checked (raises TrainingError with a message)."""
        limit_text = self.limit_edit.text().strip()
        limit = None if limit_text.lower() in ("", "all") else _parse_int(limit_text, "Training images")
        cfg = TrainConfig(
            arch=str(self.arch_combo.currentData()),
            epochs=_parse_int(self.epochs_edit.text(), "Epochs"),
            batch_size=_parse_int(self.batch_edit.text(), "Batch size"),
            learning_rate=_parse_float(self.lr_edit.text(), "Learning rate"),
            augment=self.augment_check.isChecked(),
            limit=limit,
        ).resolved()
        if cfg.limit is not None and round(cfg.limit * (1 - cfg.validation_split)) < 1:
            raise TrainingError("Too few training images.")
        return cfg

    def chosen_config(self) -> TrainConfig | None:
        """The accepted settings (after OK), else None."""
        return self._chosen

    def _update_estimate(self) -> None:
        try:
            cfg = self.config()
        except DigitPadError:
            self.estimate_label.setText("Estimated training time: –")
            return
        secs = estimate_seconds(cfg, self._tf_loaded())
        self.estimate_label.setText(
            f"Estimated training time: about {format_duration(secs)} "
            "<span style='color:gray'>(rough estimate)</span>")

    def accept(self) -> None:
        try:
            self._chosen = self.config()
        except DigitPadError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return
        self.error_label.hide()
        super().accept()


def _item(text: str, data: object = None, align_right: bool = False) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if data is not None:
        it.setData(Qt.ItemDataRole.UserRole, data)
    if align_right:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return it


class ManageModelsDialog(QDialog):
    """The models in the store: switch, rename, delete, export."""

    COLUMNS = ("Name", "Architecture", "Test accuracy", "Created", "Active")

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.setObjectName("manageModelsDialog")
        self.setWindowTitle("Manage models")
        self.resize(720, 360)

        self.table = named(QTableWidget(0, len(self.COLUMNS)), "modelTable")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
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
        text, ok = QInputDialog.getText(self, "Rename model", "New name:", text=current)
        return text.strip() if ok and text.strip() else None

    def ask_export_path(self, name: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export model", str(self.window_.last_directory() / f"{name}.keras"),
            "Keras model (*.keras);;TensorFlow Lite model (*.tflite)")
        return path or None

    # -- table ---------------------------------------------------------------------
    def populate(self, select: str | None = None) -> None:
        store = self.window_.store
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
                _item(e.name + ("  (shipped)" if e.builtin else ""), e.name),
                _item(ARCHITECTURES[e.arch].title if e.arch in ARCHITECTURES else e.arch),
                _item("–" if acc is None else f"{acc * 100:.2f} %", align_right=True),
                _item(created),
                _item("✓ active" if e.name == active else ""),
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
        self._update_buttons()

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

    def _update_buttons(self) -> None:
        name = self.selected_name()
        entry = None
        if name is not None and name in self.window_.store:
            entry = self.window_.store.get(name)
        busy = self.window_.is_busy()
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
        if self.window_.use_model(name):
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
            self.window_.store.rename(name, new)
        except DigitPadError as exc:
            self.show_message(str(exc), error=True)
            return
        self.window_.model_store_changed()
        self.show_message(f"Renamed {name!r} to {new!r}.")
        self.populate(select=new)

    def delete_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        if not self.window_.confirm("Delete model", f"Delete the model {name!r}? This cannot be undone."):
            return
        try:
            self.window_.store.delete(name)
        except DigitPadError as exc:
            self.show_message(str(exc), error=True)
            return
        self.window_.model_store_changed()
        self.show_message(f"Deleted {name!r}.")
        self.populate(select=self.window_.store.active_name() if self.window_.store.entries() else None)

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
            out = self.window_.store.export(name, path)
        except DigitPadError as exc:
            self.show_message(str(exc), error=True)
            return
        self.window_.remember_directory(out.parent)
        self.show_message(f"Exported {name!r} to {out}.")


def _heat(value: float) -> QColor:
    """White → teal for 0..1."""
    v = min(1.0, max(0.0, value))
    a, b = QColor("#ffffff"), QColor("#1f8a70")
    return QColor(round(a.red() + (b.red() - a.red()) * v), round(a.green() + (b.green() - a.green()) * v),
                  round(a.blue() + (b.blue() - a.blue()) * v))


class EvaluationDialog(QDialog):
    """Test-set accuracy, per-class accuracy and the confusion matrix as a heat map."""

    def __init__(self, name: str, evaluation: Evaluation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationDialog")
        self.setWindowTitle(f"Evaluation of {name}")
        self.evaluation = evaluation
        ev = evaluation
        title = named(QLabel(), "accuracyLabel")
        title.setText(f"<b>{name}</b>: test accuracy <b>{ev.accuracy * 100:.2f} %</b> "
                      f"on {ev.count} MNIST test images")

        self.per_class = named(QTableWidget(1, 10), "perClassTable")
        self.per_class.setHorizontalHeaderLabels([str(d) for d in range(10)])
        self.per_class.setVerticalHeaderLabels(["accuracy"])
        for d, acc in enumerate(ev.per_class):
            it = _item(f"{acc * 100:.1f} %", align_right=True)
            it.setBackground(QBrush(_heat((acc - 0.8) / 0.2)))
            it.setForeground(QBrush(QColor("#000000")))
            self.per_class.setItem(0, d, it)

        self.confusion = named(QTableWidget(10, 10), "confusionTable")
        self.confusion.setHorizontalHeaderLabels([f"→{d}" for d in range(10)])
        self.confusion.setVerticalHeaderLabels([f"{d}" for d in range(10)])
        for t in range(10):
            row_total = max(1, sum(ev.confusion[t]))
            for p in range(10):
                n = ev.confusion[t][p]
                it = _item(str(n), align_right=True)
                frac = n / row_total
                it.setBackground(QBrush(_heat(frac) if t == p else _off_diagonal(frac)))
                it.setForeground(QBrush(QColor("#ffffff" if t == p and frac > 0.6 else "#000000")))
                it.setToolTip(f"true {t}, predicted {p}: {n} ({frac * 100:.1f} % of the {t}s)")
                self.confusion.setItem(t, p, it)
        for table in (self.per_class, self.confusion):
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.per_class.setFixedHeight(self.per_class.verticalHeader().length()
                                      + self.per_class.horizontalHeader().height() + 4)
        self.confusion.setMinimumHeight(self.confusion.verticalHeader().length()
                                        + self.confusion.horizontalHeader().height() + 4)

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(QLabel("Per-class accuracy:"))
        layout.addWidget(self.per_class)
        layout.addWidget(QLabel("Confusion matrix (rows: true digit, columns: predicted digit):"))
        layout.addWidget(self.confusion)
        layout.addWidget(close)
        self.resize(640, 520)


def _off_diagonal(frac: float) -> QColor:
    """Mistakes: white → red, visible even when rare."""
    v = min(1.0, frac * 20)
    return QColor(255, round(255 - 120 * v), round(255 - 120 * v))


SHORTCUTS = [
    ("Draw", "Left mouse button (or pen)"),
    ("Undo last stroke", "Ctrl+Z"),
    ("Redo", "Ctrl+Shift+Z  /  Ctrl+Y"),
    ("Clear the pad", "Esc  /  Delete"),
    ("Thinner / thicker brush", "[  /  ]"),
    ("Open image…", "Ctrl+O"),
    ("Save drawing as PNG…", "Ctrl+S"),
    ("Train", "Ctrl+T"),
    ("Retrain…", "Ctrl+R"),
    ("Manage models…", "Ctrl+M"),
    ("Evaluate the model", "Ctrl+E"),
    ("It is a … (keep the drawing as your sample)", "0 … 9  /  click the digit's bar"),
    ("Personal samples…", "Ctrl+P"),
    ("Train on my drawings", "Ctrl+Shift+T"),
    ("Explain the drawing", "Ctrl+I"),
    ("Quit", "Ctrl+Q"),
]


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        table = named(QTableWidget(len(SHORTCUTS), 2), "shortcutsTable")
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        table.verticalHeader().hide()
        for row, (action, keys) in enumerate(SHORTCUTS):
            table.setItem(row, 0, _item(action))
            table.setItem(row, 1, _item(keys))
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(close)
        self.resize(440, 420)
