"""Model ▸ Retrain…: choose the architecture and its settings, with a rough time estimate."""

from __future__ import annotations

import math

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import DigitPadError, TrainingError
from app.core.models import ARCHITECTURES, DEFAULT_ARCH
from app.core.training import LIMITS, TrainConfig
from app.ui.style import ERROR_STYLE, muted_span, named, rich_text

MNIST_TRAIN_SIZE = 60000
# Rough training throughput on a 2-core machine (images per second), for the estimate only.
SAMPLES_PER_SECOND = {"cnn-fast": 10000.0, "cnn": 1800.0, "mlp": 20000.0}
TF_STARTUP_SECONDS = 8.0


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        m, s = divmod(round(seconds), 60)
        return f"{m} min {s:02d} s" if m < 10 else f"{m} min"
    h, m = divmod(round(seconds / 60), 60)
    return f"{h} h {m:02d} min"


def estimate_seconds(cfg: TrainConfig) -> float:
    """A rough guess of how long training ``cfg`` (resolved) takes on this kind of machine,
    TensorFlow's start included."""
    rate = SAMPLES_PER_SECOND.get(cfg.arch, 2000.0)
    n = cfg.limit or MNIST_TRAIN_SIZE
    train_n = n * (1 - cfg.validation_split)
    val_n = n * cfg.validation_split
    epochs = cfg.epochs or 1
    per_epoch = train_n / rate * (1.4 if cfg.augment else 1.0) + val_n / (rate * 4)
    evaluate = 10000 / (rate * 4)
    return epochs * per_epoch + evaluate + TF_STARTUP_SECONDS + 2.0


# The dialog's messages name its fields as they are labelled ("Epochs must be between 1 and
# 200 (you typed 0)."), in one wording for every field.
def _typed(text: str) -> str:
    return f"you typed {text.strip()!r}" if text.strip() else "the field is empty"


def _in_range(value: float, limit: str, what: str, text: str) -> None:
    lo, hi = LIMITS[limit]
    if not lo <= value <= hi:
        raise TrainingError(f"{what} must be between {lo:g} and {hi:g} ({_typed(text)}).")


def _parse_int(text: str, what: str, limit: str) -> int:
    try:
        value = int(text.strip().replace("_", "").replace(" ", ""))
    except ValueError:
        raise TrainingError(f"{what} must be a whole number ({_typed(text)}).") from None
    _in_range(value, limit, what, text)
    return value


def _parse_float(text: str, what: str, limit: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise TrainingError(f"{what} must be a number like 0.003 or 3e-3 ({_typed(text)}).") from None
    if not math.isfinite(value):
        raise TrainingError(f"{what} must be a number like 0.003 or 3e-3 ({_typed(text)}).")
    _in_range(value, limit, what, text)
    return value


class RetrainDialog(QDialog):
    """Choose what to train: architecture and its settings, with a time estimate."""

    def __init__(self, config: TrainConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("retrainDialog")
        self.setWindowTitle("Retrain the model")
        self._chosen: TrainConfig | None = None
        self._fitted = -1  # the height _fit() gave the dialog last

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

        self.recipe_check = named(QCheckBox("&Make this the Train button's recipe"), "makeRecipeCheck")
        self.recipe_check.setToolTip("Unticked: train once with these settings; the Train button "
                                     "keeps its recipe.")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("&Train once")
        ok.setObjectName("okButton")
        restore = self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.setText("Restore &defaults")
        restore.setObjectName("restoreDefaultsButton")
        restore.clicked.connect(self.restore_defaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.estimate_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.recipe_check)
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
        self._fit()

    def _fit(self) -> None:
        """Grow to show the whole description (each architecture has its own length) and an
        error; shrink back once it is gone, unless the user made the dialog taller."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        need = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else -1
        need = max(need, layout.totalMinimumSize().height(), self.minimumSizeHint().height())
        if need > self.height() or (need < self.height() and self.height() == self._fitted):
            self.resize(self.width(), need)
            self._fitted = need

    def config(self) -> TrainConfig:
        """The settings entered, checked (raises TrainingError with a message)."""
        limit_text = self.limit_edit.text().strip()
        limit = (None if limit_text.lower() in ("", "all")
                 else _parse_int(limit_text, "Training images", "limit"))
        cfg = TrainConfig(
            arch=str(self.arch_combo.currentData()),
            epochs=_parse_int(self.epochs_edit.text(), "Epochs", "epochs"),
            batch_size=_parse_int(self.batch_edit.text(), "Batch size", "batch_size"),
            learning_rate=_parse_float(self.lr_edit.text(), "Learning rate", "learning_rate"),
            augment=self.augment_check.isChecked(),
            limit=limit,
        ).resolved()
        if cfg.limit is not None and round(cfg.limit * (1 - cfg.validation_split)) < 1:
            raise TrainingError("Too few training images.")
        return cfg

    def restore_defaults(self) -> None:
        """The default recipe in every field (the Train button's own until changed)."""
        self.arch_combo.blockSignals(True)
        self.arch_combo.setCurrentIndex(max(0, self.arch_combo.findData(DEFAULT_ARCH)))
        self.arch_combo.blockSignals(False)
        self._fill(TrainConfig())
        self.error_label.hide()
        self._update_estimate()

    def make_recipe(self) -> bool:
        """True when the chosen settings are to become the Train button's recipe."""
        return self.recipe_check.isChecked()

    def chosen_config(self) -> TrainConfig | None:
        """The accepted settings (after OK), else None."""
        return self._chosen

    def _update_estimate(self) -> None:
        try:
            cfg = self.config()
        except DigitPadError as exc:
            self.estimate_label.setText("Estimated training time: –")
            if self.error_label.isVisible():  # an error already shown follows the fields
                self.error_label.setText(str(exc))
                self._fit()
            return
        if self.error_label.isVisible():  # fixed: the error shown before no longer applies
            self.error_label.hide()
            self._fit()
        secs = estimate_seconds(cfg)
        rich_text(self.estimate_label, lambda: f"Estimated training time: about {format_duration(secs)} "
                  + muted_span(self.estimate_label, "(rough estimate)"))

    def accept(self) -> None:
        try:
            self._chosen = self.config()
        except DigitPadError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            self._fit()
            return
        self.error_label.hide()
        super().accept()
