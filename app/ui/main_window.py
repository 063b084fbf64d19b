"""DigitPad's main window: the pad, live prediction, and training from the window.

Live prediction runs on the GUI thread through LiteRT (a fraction of a millisecond), so
the window is up and predicting before TensorFlow is ever imported. Anything slow
(training, importing a ``.keras`` file, evaluating on the test set) runs in a worker
QObject on a QThread (see :mod:`app.ui.worker`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QIcon,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME, __version__
from app.core import paths
from app.core.errors import DigitPadError
from app.core.models import ARCHITECTURES
from app.core.preprocess import load_image, preprocess
from app.core.store import ModelEntry, ModelStore
from app.core.training import Evaluation, TrainConfig
from app.ui.dialogs import (
    ManageModelsDialog,
    RetrainDialog,
    ShortcutsDialog,
    format_duration,
)
from app.ui.evaluation import EvalDetails, EvaluationView
from app.ui.learning import LearningController
from app.ui.pad import BRUSH_DEFAULT, BRUSH_MAX, BRUSH_MIN, DrawingPad
from app.ui.widgets import PreviewView, ProbabilityView, TrainingCurves, named
from app.ui.worker import CallWorker, TrainingWorker, Worker, join_thread, start_worker

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"


def icon_path() -> Path:
    return paths.resources_dir() / "icons" / "digitpad.png"


def app_icon() -> QIcon:
    icon = QIcon()
    folder = paths.resources_dir() / "icons"
    for name in ("digitpad-32.png", "digitpad-64.png", "digitpad-128.png", "digitpad.png"):
        if (folder / name).is_file():
            icon.addFile(str(folder / name))
    return icon


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


def pil_to_qimage(img: Any) -> QImage:
    """A PIL image (any mode) as a QImage (RGBA), for showing an opened file."""
    rgba = img.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    q = QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888)
    return q.copy()  # own the pixels


class MainWindow(QMainWindow):
    """The DigitPad window. Build it, ``show()`` it, run the event loop (tests drive it directly)."""

    training_finished = Signal(object)  # the new model's name, or None (cancelled or failed)
    prediction_updated = Signal()  # after every live prediction (or clearing of it)
    model_changed = Signal(str)  # the name of the model now used for predictions
    evaluation_finished = Signal(object)  # Evaluation, or None on failure
    import_finished = Signal(object)  # the imported model's name, or None
    _prediction_requested = Signal()  # queued to _run_scheduled_prediction (see _schedule_prediction)

    def __init__(self, store: ModelStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.store = store if store is not None else ModelStore()
        self.settings = QSettings(str(paths.user_home() / "settings.ini"), QSettings.Format.IniFormat)
        self._train_config: TrainConfig = self._load_train_config()
        self.predictor: Any = None  # app.core.inference.Predictor of the active model
        self.model_entry: ModelEntry | None = None
        self.last_error: str | None = None
        self.last_update_ms = 0.0  # duration of the last live update (preprocess+predict+show)
        self.progress_history: list[int] = []  # progress-bar values of the current training
        self.retrain_dialog: RetrainDialog | None = None
        self.manage_dialog: ManageModelsDialog | None = None
        self.evaluation_dialog: EvaluationView | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.message_box: QMessageBox | None = None
        self._image_input: np.ndarray | None = None  # preprocessed opened image
        self._current_input: np.ndarray | None = None
        self._train_worker: TrainingWorker | None = None
        self._train_thread: Any = None
        self._train_result: str | None = None
        self._train_config_running: TrainConfig | None = None
        self._jobs: dict[str, tuple[Worker, Any]] = {}  # "evaluate"/"import" -> (worker, thread)
        self._closing = False
        self.live_predictor: Any = None  # the weights in training, while watching it learn

        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self._build_ui()
        self._build_actions()
        self.learning = LearningController(self)  # corrections, samples, fine-tuning, explain, live
        self._prediction_pending = False
        self._prediction_requested.connect(self._run_scheduled_prediction,
                                           Qt.ConnectionType.QueuedConnection)
        self.pad.changed.connect(self._schedule_prediction)
        self.pad.historyChanged.connect(self._update_edit_actions)
        self._restore_settings()
        self._load_active_model(report=True)
        self._update_edit_actions()
        self._set_training_ui(False)
        self._show_idle_training_status()
        self.update_prediction()
        if self.store.problems:
            self.statusBar().showMessage("Some models could not be read: " + " ".join(self.store.problems),
                                         15000)

    @property
    def train_config(self) -> TrainConfig:
        """The settings the Train button uses (last chosen in the Retrain dialog)."""
        return self._train_config

    @train_config.setter
    def train_config(self, config: TrainConfig) -> None:
        self._train_config = config
        if hasattr(self, "train_status") and not self.is_training():
            self._show_idle_training_status()

    # ------------------------------------------------------------------ building
    def _build_ui(self) -> None:
        central = QWidget(self)
        self.setCentralWidget(central)

        # left: the pad and its tools
        self.pad = DrawingPad()
        self.brush_slider = named(QSlider(Qt.Orientation.Horizontal), "brushSlider")
        self.brush_slider.setRange(BRUSH_MIN, BRUSH_MAX)
        self.brush_slider.setValue(self.pad.brush_size())
        self.brush_slider.setToolTip("Brush size ([ and ])")
        self.brush_slider.setMaximumWidth(220)
        self.brush_slider.setMinimumWidth(90)
        self.brush_slider.valueChanged.connect(self.pad.set_brush_size)
        self.pad.brushSizeChanged.connect(self._brush_changed)
        self.brush_value = named(QLabel(str(self.pad.brush_size())), "brushValue")
        self.brush_value.setMinimumWidth(24)
        self.undo_button = named(QPushButton("Undo"), "undoButton")
        self.redo_button = named(QPushButton("Redo"), "redoButton")
        self.clear_button = named(QPushButton("Clear"), "clearButton")
        self.undo_button.clicked.connect(self.pad.undo)
        self.redo_button.clicked.connect(self.pad.redo)
        self.clear_button.clicked.connect(self.clear_pad)
        for b in (self.undo_button, self.redo_button, self.clear_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Brush"))
        tools.addWidget(self.brush_slider)
        tools.addWidget(self.brush_value)
        tools.addStretch(1)
        tools.addWidget(self.undo_button)
        tools.addWidget(self.redo_button)
        tools.addWidget(self.clear_button)
        left = QVBoxLayout()
        left.addWidget(self.pad, 1)
        left.addLayout(tools)

        # right: the answer, the probabilities and what the model sees
        self.top_digit_label = named(QLabel(""), "topDigitLabel")
        big = QFont(self.font())
        big.setPointSize(60)
        big.setBold(True)
        self.top_digit_label.setFont(big)
        self.top_digit_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.top_digit_label.setMinimumWidth(90)
        self.top_digit_label.setStyleSheet("color: #2f9e7e;")
        self.confidence_label = named(QLabel(""), "confidenceLabel")
        mid = QFont(self.font())
        mid.setPointSize(16)
        self.confidence_label.setFont(mid)
        self.hint_label = named(QLabel("Draw a digit"), "hintLabel")
        hint_font = QFont(self.font())
        hint_font.setPointSize(15)
        self.hint_label.setFont(hint_font)
        self.hint_label.setStyleSheet("color: gray;")
        answer_text = QVBoxLayout()
        answer_text.addStretch(1)
        answer_text.addWidget(self.confidence_label)
        answer_text.addWidget(self.hint_label)
        answer_text.addStretch(1)
        answer = QHBoxLayout()
        answer.addWidget(self.top_digit_label)
        answer.addLayout(answer_text, 1)
        answer_box = QWidget()
        answer_box.setLayout(answer)
        answer_box.setFixedHeight(110)

        self.probability_view = ProbabilityView()
        self.preview_view = PreviewView()
        preview_caption = QLabel("What the model sees:\n28×28 pixels, cropped\nand centred like MNIST")
        preview_caption.setToolTip(self.preview_view.toolTip())
        preview_caption.setStyleSheet("color: gray;")
        preview_row = QHBoxLayout()
        preview_row.addWidget(self.preview_view)
        preview_row.addWidget(preview_caption, 1)
        self.model_label = named(QLabel(""), "modelLabel")
        right = QVBoxLayout()
        right.addWidget(answer_box)
        right.addWidget(self.probability_view, 1)
        right.addLayout(preview_row)
        right.addWidget(self.model_label)
        right_box = QWidget()
        right_box.setLayout(right)
        right_box.setMinimumWidth(300)
        right_box.setMaximumWidth(420)

        top = QHBoxLayout()
        top.addLayout(left, 3)
        top.addWidget(right_box, 2)

        # bottom: training
        self.train_button = named(QPushButton("Train"), "trainButton")
        self.train_button.setToolTip("Train a new model with the settings of Model ▸ Retrain… (Ctrl+T)")
        self.cancel_button = named(QPushButton("Cancel"), "cancelButton")
        self.settings_button = named(QPushButton("Settings…"), "retrainButton")
        self.settings_button.setToolTip("Choose the architecture and settings, then train (Ctrl+R)")
        self.train_button.clicked.connect(self._train_clicked)
        self.cancel_button.clicked.connect(self.cancel_training)
        self.settings_button.clicked.connect(self.open_retrain_dialog)
        self.train_progress = named(QProgressBar(), "trainProgress")
        self.train_progress.setRange(0, 100)
        self.train_progress.setValue(0)
        self.train_progress.setTextVisible(True)
        self.train_status = named(QLabel(""), "trainStatus")
        self.train_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # long messages are clipped rather than widening the window (and no word wrap:
        # height-for-width labels upset the layout's minimum size)
        self.train_status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.curves = TrainingCurves()
        row = QHBoxLayout()
        row.addWidget(self.train_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.settings_button)
        row.addWidget(self.train_progress, 1)
        training = QVBoxLayout()
        training.addLayout(row)
        training.addWidget(self.train_status)
        training.addWidget(self.curves, 1)
        self.training_box = named(QGroupBox("Training"), "trainingBox")
        self.training_box.setLayout(training)
        self.training_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        outer = QVBoxLayout(central)
        outer.addLayout(top, 1)
        outer.addWidget(self.training_box)

        self.status_model = named(QLabel(""), "statusModel")
        self.statusBar().addPermanentWidget(self.status_model)
        self.statusBar().setObjectName("statusBar")

    def _action(self, text: str, slot: Any, shortcuts: list[str] | None = None,
                name: str | None = None, tip: str | None = None) -> QAction:
        act = QAction(text, self)
        if name:
            act.setObjectName(name)
        if shortcuts:
            act.setShortcuts([QKeySequence(s) for s in shortcuts])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        self.addAction(act)  # shortcuts work even while the menu bar is hidden
        return act

    def _build_actions(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        self.open_action = self._action("&Open image…", self._open_image_clicked, ["Ctrl+O"], "openAction",
                                        "Classify an image file")
        self.save_action = self._action("&Save drawing as PNG…", self._save_drawing_clicked, ["Ctrl+S"],
                                        "saveAction")
        self.quit_action = self._action("&Quit", self.close, ["Ctrl+Q"], "quitAction")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = mb.addMenu("&Edit")
        self.undo_action = self._action("&Undo stroke", self.pad.undo, ["Ctrl+Z"], "undoAction")
        self.redo_action = self._action("&Redo stroke", self.pad.redo, ["Ctrl+Shift+Z", "Ctrl+Y"],
                                        "redoAction")
        self.clear_action = self._action("&Clear", self.clear_pad, ["Esc", "Delete"], "clearAction")
        self.smaller_action = self._action("&Thinner brush", lambda: self.change_brush(-2), ["["],
                                           "thinnerAction")
        self.larger_action = self._action("T&hicker brush", lambda: self.change_brush(+2), ["]"],
                                          "thickerAction")
        for act in (self.undo_action, self.redo_action, self.clear_action):
            edit_menu.addAction(act)
        edit_menu.addSeparator()
        edit_menu.addAction(self.smaller_action)
        edit_menu.addAction(self.larger_action)

        model_menu = mb.addMenu("&Model")
        self.train_action = self._action("&Train", self._train_clicked, ["Ctrl+T"], "trainAction",
                                         "Train a new model with the last chosen settings")
        self.cancel_action = self._action("&Cancel training", self.cancel_training, None, "cancelAction")
        self.retrain_action = self._action("&Retrain…", self.open_retrain_dialog, ["Ctrl+R"],
                                           "retrainAction", "Choose the architecture and settings")
        self.load_action = self._action("&Load model…", self._load_model_clicked, ["Ctrl+L"], "loadAction",
                                        "Import a .keras model file")
        self.manage_action = self._action("&Manage models…", self.open_manage_dialog, ["Ctrl+M"],
                                          "manageAction")
        self.evaluate_action = self._action("&Evaluate", self.evaluate_model, ["Ctrl+E"], "evaluateAction",
                                            "Test accuracy, per-class accuracy and confusion matrix")
        for act in (self.train_action, self.cancel_action, self.retrain_action):
            model_menu.addAction(act)
        model_menu.addSeparator()
        for act in (self.load_action, self.manage_action, self.evaluate_action):
            model_menu.addAction(act)

        help_menu = mb.addMenu("&Help")
        self.shortcuts_action = self._action("&Keyboard shortcuts", self.show_shortcuts, ["F1"],
                                             "shortcutsAction")
        self.about_action = self._action("&About DigitPad", self.show_about, None, "aboutAction")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)

    # ------------------------------------------------------------------ settings
    def _load_train_config(self) -> TrainConfig:
        raw = self.settings.value("training/config", "")
        if isinstance(raw, str) and raw:
            try:
                data = json.loads(raw)
                cfg = TrainConfig(**{k: v for k, v in data.items()
                                     if k in ("arch", "epochs", "batch_size", "learning_rate",
                                              "augment", "limit")})
                cfg.resolved()
                return cfg
            except (ValueError, TypeError, DigitPadError):
                pass
        return TrainConfig()

    def _save_train_config(self) -> None:
        c = self.train_config
        self.settings.setValue("training/config", json.dumps({
            "arch": c.arch, "epochs": c.epochs, "batch_size": c.batch_size,
            "learning_rate": c.learning_rate, "augment": c.augment, "limit": c.limit}))

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1040, 800)
        try:
            brush = int(str(self.settings.value("pad/brush", BRUSH_DEFAULT)))
        except ValueError:
            brush = BRUSH_DEFAULT
        self.pad.set_brush_size(brush)
        self.brush_slider.setValue(self.pad.brush_size())

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("pad/brush", self.pad.brush_size())
        self._save_train_config()
        self.settings.sync()

    def last_directory(self) -> Path:
        d = self.settings.value("paths/lastDirectory", "")
        if isinstance(d, str) and d and Path(d).is_dir():
            return Path(d)
        return Path.home()

    def remember_directory(self, directory: str | Path) -> None:
        self.settings.setValue("paths/lastDirectory", str(directory))

    # ------------------------------------------------------------------ messages (tests replace these)
    def show_error(self, title: str, text: str) -> None:
        """Tell the user something went wrong (non-blocking) and remember it in last_error."""
        self.last_error = f"{title}: {text}"
        log.warning("%s", self.last_error)
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        if self._closing:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorBox")
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.message_box = box

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (blocking)."""
        answer = QMessageBox.question(self, title, text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def ask_open_image_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", str(self.last_directory()), IMAGE_FILTER)
        return path or None

    def ask_save_png_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save drawing", str(self.last_directory() / "digit.png"),
                                              "PNG image (*.png)")
        return path or None

    def ask_keras_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a Keras model", str(self.last_directory()),
                                              "Keras model (*.keras)")
        return path or None

    # ------------------------------------------------------------------ model
    def _load_active_model(self, report: bool = False) -> bool:
        """Load the store's active model for live prediction (falls back to another one)."""
        self.store.refresh()
        entries = self.store.entries()
        try:
            first = self.store.active_name()
        except DigitPadError as exc:
            self.predictor = None
            self.model_entry = None
            self._show_model_info()
            if report:
                self.statusBar().showMessage(str(exc), 20000)
            self.update_prediction()
            return False
        # the chosen model, else the one in use (switching to a broken model keeps it), else any
        current = self.current_model_name()
        names = [first] + [n for n in (current,) if n is not None and n in self.store and n != first] \
            + [e.name for e in entries if e.name not in (first, current)]
        errors = []
        for name in names:
            entry = self.store.get(name)
            try:
                predictor = entry.predictor()
            except DigitPadError as exc:
                errors.append(str(exc))
                continue
            try:  # the first invoke initialises LiteRT's kernels: not on the user's first stroke
                predictor.predict(np.zeros((28, 28), np.float32))
            except Exception as exc:
                errors.append(f"{name}: the model cannot predict ({exc}).")
                continue
            self.predictor = predictor
            self.model_entry = entry
            if name != first:
                try:
                    self.store.set_active(name)
                except DigitPadError as exc:
                    errors.append(str(exc))
            if errors:
                self.show_error("Model problem", " ".join(errors) + f" Using {name!r} instead.")
            self._show_model_info()
            self.update_prediction()
            if self.manage_dialog is not None and self.manage_dialog.isVisible():
                self.manage_dialog.populate()
            self.model_changed.emit(name)
            return True
        self.predictor = None
        self.model_entry = None
        self._show_model_info()
        self.show_error("No usable model", " ".join(errors))
        self.update_prediction()
        return False

    def current_model_name(self) -> str | None:
        return None if self.model_entry is None else self.model_entry.name

    def use_model(self, name: str) -> bool:
        """Switch live prediction to the model ``name`` (and remember the choice)."""
        try:
            self.store.set_active(name)
        except DigitPadError as exc:
            self.show_error("Cannot use this model", str(exc))
            return False
        ok = self._load_active_model()
        if ok:
            self.statusBar().showMessage(f"Now using the model {name!r}.", 8000)
        return ok and self.current_model_name() == name

    def model_store_changed(self) -> None:
        """The store changed on disk (rename, delete, import, another DigitPad sharing it …):
        reload what is needed."""
        self.store.refresh()
        current = self.current_model_name()
        try:
            active = self.store.active_name()
        except DigitPadError:
            active = None
        if current is None or active != current or current not in self.store:
            vanished = current is not None and current not in self.store
            self._load_active_model()
            if vanished and self.current_model_name() != current:
                self.statusBar().showMessage(
                    f"The model {current!r} is no longer in the store; now using "
                    f"{self.current_model_name() or 'no model'!r}.", 15000)
        else:
            self._show_model_info()

    def _show_model_info(self) -> None:
        e = self.model_entry
        if e is None:
            self.model_label.setText("<b>No model.</b> Train one: Model ▸ Retrain…")
            self.status_model.setText("No model")
            self.setWindowTitle(APP_NAME)
            return
        arch = ARCHITECTURES[e.arch].title if e.arch in ARCHITECTURES else e.arch
        acc = "" if e.test_accuracy is None else f", {e.test_accuracy * 100:.2f} % on MNIST test"
        self.model_label.setText(f"Model: <b>{e.name}</b><br><span style='color:gray'>{arch}{acc}</span>")
        self.model_label.setToolTip(str(e.path))
        self.status_model.setText(f"Model: {e.name}")
        self.setWindowTitle(f"{APP_NAME} — {e.name}")

    # ------------------------------------------------------------------ pad & prediction
    def _brush_changed(self, size: int) -> None:
        self.brush_slider.setValue(size)
        self.brush_value.setText(str(size))
        self.settings.setValue("pad/brush", size)

    def change_brush(self, delta: int) -> None:
        self.pad.set_brush_size(self.pad.brush_size() + delta)

    def clear_pad(self) -> None:
        self._image_input = None
        self.pad.clear()
        self.update_prediction()

    def _update_edit_actions(self) -> None:
        self.undo_action.setEnabled(self.pad.can_undo())
        self.redo_action.setEnabled(self.pad.can_redo())
        self.undo_button.setEnabled(self.pad.can_undo())
        self.redo_button.setEnabled(self.pad.can_redo())

    def _schedule_prediction(self) -> None:
        # Coalesce: however many moves arrive, one prediction runs for the newest drawing.
        # A queued call (not a 0 ms timer: timers wait for the repaint the move requested)
        # runs once the events already queued are handled, and before that repaint, so the
        # new ink and the new probabilities are painted together.
        if not self._prediction_pending:
            self._prediction_pending = True
            self._prediction_requested.emit()

    @Slot()
    def _run_scheduled_prediction(self) -> None:
        if self._prediction_pending:  # (not already done by a direct update_prediction())
            self.update_prediction()

    def update_prediction(self) -> None:
        """Preprocess the drawing (or opened image), predict and show the result now."""
        t0 = time.perf_counter()
        self._prediction_pending = False
        x: np.ndarray | None
        if self.pad.has_background():
            x = self._image_input
        else:
            if self._image_input is not None:  # (writing attributes of Qt objects is slow)
                self._image_input = None
            x = None if self.pad.is_empty() else self._preprocess_pad()
        self._current_input = x
        self.preview_view.set_image(x)
        probs: np.ndarray | None = None
        predictor = self.live_predictor if self.live_predictor is not None else self.predictor
        if x is not None and predictor is not None:
            try:
                probs = np.asarray(predictor.predict(x), dtype=np.float64)
            except Exception as exc:  # a broken model must not kill the window
                log.exception("prediction failed")
                if predictor is self.live_predictor:
                    self.live_predictor = None
                else:
                    self.predictor = None
                self.show_error("Prediction failed", f"The model could not predict: {exc}")
        self._show_probabilities(probs, x)
        self.last_update_ms = (time.perf_counter() - t0) * 1000.0
        self.prediction_updated.emit()

    def _preprocess_pad(self) -> np.ndarray | None:
        return preprocess(self.pad.ink_pixels(), ink="light")  # (= of pixels(), faster)

    def _show_probabilities(self, probs: np.ndarray | None, x: np.ndarray | None) -> None:
        self.probability_view.set_probabilities(probs)
        if probs is None:
            self.top_digit_label.setText("")
            self.confidence_label.setText("")
            if self.pad.is_empty() and not self.pad.has_background():
                self.hint_label.setText("Draw a digit")
            elif x is None and self.pad.has_background():
                self.hint_label.setText("Nothing to recognise in this image")
            elif x is None:
                self.hint_label.setText("Nothing to recognise yet")
            else:
                self.hint_label.setText("No model loaded")
            self.hint_label.show()
            return
        top = int(probs.argmax())
        self.top_digit_label.setText(str(top))
        self.confidence_label.setText(f"{probs[top] * 100:.1f} %")
        self.hint_label.hide()

    # ------------------------------------------------------------------ files
    def _open_image_clicked(self) -> None:
        path = self.ask_open_image_path()
        if path:
            self.open_image(path)

    def open_image(self, path: str | Path) -> bool:
        """Classify an image file: show it on the pad, its 28x28 input and the probabilities."""
        p = Path(path)
        try:
            img = load_image(p)
            x = preprocess(img)
        except DigitPadError as exc:
            self.show_error("Cannot open image", str(exc))
            return False
        except Exception as exc:
            log.exception("opening %s failed", p)
            self.show_error("Cannot open image", f"{p.name}: {exc}")
            return False
        self.remember_directory(p.parent)
        self.pad.show_image(pil_to_qimage(img), p.name)
        self._image_input = x
        self.update_prediction()
        if x is None:
            self.statusBar().showMessage(f"{p.name}: no digit found in this image.", 10000)
        else:
            self.statusBar().showMessage(f"Opened {p}", 8000)
        return True

    def _save_drawing_clicked(self) -> None:
        if self.pad.is_empty():
            self.statusBar().showMessage("Nothing to save: the pad is empty.", 6000)
            return
        path = self.ask_save_png_path()
        if path:
            self.save_drawing(path)

    def save_drawing(self, path: str | Path) -> bool:
        """Save the drawing (280x280 grayscale, white ink on black) as PNG."""
        p = Path(path)
        if p.suffix.lower() != ".png":
            p = p.with_suffix(p.suffix + ".png") if p.suffix else p.with_suffix(".png")
        tmp = p.with_name(f".{p.name}.tmp.png")
        if not self.pad.image().save(str(tmp)):
            self.show_error("Cannot save drawing", f"Could not write {p}.")
            tmp.unlink(missing_ok=True)
            return False
        try:
            tmp.replace(p)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.show_error("Cannot save drawing", f"Could not write {p}: {exc.strerror or exc}.")
            return False
        self.remember_directory(p.parent)
        self.statusBar().showMessage(f"Saved {p}", 8000)
        return True

    @staticmethod
    def _dropped_file(event: QDragEnterEvent | QDropEvent) -> str | None:
        """The dropped local file: the first with an image suffix, else the first of any kind
        (its content decides; a file that is not an image gets a clear message, not a silent
        refusal)."""
        md = event.mimeData()
        if md is None or not md.hasUrls():
            return None
        local = [str(url.toLocalFile()) for url in md.urls() if url.isLocalFile()]
        images = [p for p in local if p.lower().endswith(IMAGE_SUFFIXES)]
        return (images or local)[0] if local else None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_file(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_file(event)
        if path:
            event.acceptProposedAction()
            self.open_image(path)
        else:
            event.ignore()

    # ------------------------------------------------------------------ training
    def is_training(self) -> bool:
        return self._train_worker is not None

    def is_busy(self) -> bool:
        """Training or importing (both use TensorFlow; one at a time)."""
        return self.is_training() or "import" in self._jobs

    def _train_clicked(self) -> None:
        self.start_training()

    def start_training(self, config: TrainConfig | None = None, worker: TrainingWorker | None = None,
                       title: str | None = None) -> bool:
        """Train a new model in a worker thread with ``config`` (default: :attr:`train_config`),
        or run ``worker`` (e.g. fine-tuning) with the same progress bar and Cancel."""
        if self.is_busy():
            self.statusBar().showMessage("Busy: wait for the current job to finish.", 6000)
            return False
        try:
            cfg = (config or self.train_config).resolved()
        except DigitPadError as exc:
            self.show_error("Cannot train", str(exc))
            return False
        self._train_result = None
        self._train_config_running = cfg
        self.progress_history = []
        self.curves.reset(cfg.epochs or 1)
        self.train_progress.setRange(0, 0)  # busy until TensorFlow is loaded
        arch = ARCHITECTURES[cfg.arch].title
        n = cfg.limit or 60000
        self.train_status.setText(title or f"Starting: {arch}, {cfg.epochs} epoch(s), {n} images…")
        if worker is None:
            worker = TrainingWorker(cfg, self.store.home, self.store.bundled_dir)
        q = Qt.ConnectionType.QueuedConnection
        worker.training_started.connect(self._on_training_started, q)
        worker.progress.connect(self._on_training_progress, q)
        worker.epoch_done.connect(self._on_epoch_done, q)
        worker.status.connect(self._on_training_status, q)
        worker.succeeded.connect(self._on_training_succeeded, q)
        worker.failed.connect(self._on_training_failed, q)
        worker.done.connect(self._on_training_done, q)
        self._train_worker = worker
        self._set_training_ui(True)
        self.learning.training_started(worker)
        self._train_thread = start_worker(worker, self, "digitpad-training")
        self.statusBar().showMessage("Training started.", 5000)
        return True

    def _show_idle_training_status(self) -> None:
        try:
            cfg = self.train_config.resolved()
        except DigitPadError:
            cfg = TrainConfig().resolved()
        images = "all 60000" if cfg.limit is None else str(cfg.limit)
        self.train_status.setText(
            f"Train: {ARCHITECTURES[cfg.arch].title}, {cfg.epochs} epoch(s), {images} MNIST images "
            "(change with Settings…)")

    def cancel_training(self) -> None:
        if self._train_worker is None:
            return
        self._train_worker.cancel()
        self.cancel_button.setEnabled(False)
        self.cancel_action.setEnabled(False)
        self.train_status.setText("Cancelling…")
        self.statusBar().showMessage("Cancelling training…", 5000)

    def _set_training_ui(self, training: bool) -> None:
        busy = training or "import" in self._jobs
        self.train_button.setEnabled(not busy)
        self.train_action.setEnabled(not busy)
        self.settings_button.setEnabled(not busy)
        self.retrain_action.setEnabled(not busy)
        self.load_action.setEnabled(not busy)
        self.cancel_button.setEnabled(training)
        self.cancel_action.setEnabled(training)
        if self.manage_dialog is not None:
            self.manage_dialog._update_buttons()

    def _on_training_started(self, epochs: int, steps: int) -> None:
        self.train_progress.setRange(0, max(1, epochs * steps))
        self.train_progress.setValue(0)
        self.progress_history.append(0)
        self.curves.reset(epochs)

    def _on_training_progress(self, info: dict[str, Any]) -> None:
        if self._train_worker is None:
            return
        done, total = int(info["done"]), int(info["total"])
        if self.train_progress.maximum() != total:
            self.train_progress.setRange(0, total)
        self.train_progress.setValue(done)
        self.progress_history.append(done)
        self.curves.add_batches(info["batches"])
        logs = info["logs"]
        parts = [f"Epoch {info['epoch'] + 1}/{info['epochs']}",
                 f"batch {info['step'] + 1}/{info['steps']}"]
        if "loss" in logs:
            parts.append(f"loss {logs['loss']:.3f}")
        if "accuracy" in logs:
            parts.append(f"accuracy {logs['accuracy'] * 100:.1f} %")
        eta = info.get("eta")
        if eta is not None and done >= 3:
            parts.append(f"about {format_duration(eta)} left")
        self.train_status.setText("  ·  ".join(parts))

    def _on_epoch_done(self, epoch: int, logs: dict[str, float]) -> None:
        self.curves.add_epoch(epoch, logs)
        if "val_accuracy" in logs:
            self.statusBar().showMessage(
                f"Epoch {epoch + 1}: validation accuracy {logs['val_accuracy'] * 100:.2f} %", 10000)

    def _on_training_status(self, text: str) -> None:
        if self._train_worker is None:
            return
        if self.train_progress.maximum() == 0 or not text.startswith("Training"):
            self.train_status.setText(text)
        self.statusBar().showMessage(text, 10000)

    def _on_training_succeeded(self, name: object) -> None:
        if self._closing or self._train_worker is None:
            return
        if name is None:
            self._train_result = None
            keep = self.current_model_name() or "no model"
            self.train_status.setText(f"Training cancelled. Still using {keep!r}.")
            return
        self._train_result = str(name)
        self.store.refresh()
        self._load_active_model()
        e = self.model_entry
        acc = "" if e is None or e.test_accuracy is None else f": test accuracy {e.test_accuracy * 100:.2f} %"
        self.train_status.setText(f"Trained and now using {name!r}{acc}.")
        self.statusBar().showMessage(f"New model {name!r}{acc}", 15000)

    def _on_training_failed(self, text: str) -> None:
        if self._closing or self._train_worker is None:
            return
        self._train_result = None
        keep = self.current_model_name() or "no model"
        self.train_status.setText(f"Training failed. Still using {keep!r}.")
        self.show_error("Training failed", text)

    def _on_training_done(self) -> None:
        if self._train_worker is None:
            return  # already joined (window closed)
        join_thread(self._train_thread)
        self._train_worker = None
        self._train_thread = None
        result = self._train_result
        self.train_progress.setRange(0, 100)
        self.train_progress.setValue(100 if result else 0)
        self._set_training_ui(False)
        self.learning.training_ended()
        self.training_finished.emit(result)

    # ------------------------------------------------------------------ dialogs
    def open_retrain_dialog(self) -> RetrainDialog:
        """Show the Retrain dialog (non-blocking); OK starts training with its settings."""
        if self.retrain_dialog is not None:
            self.retrain_dialog.close()
        dlg = RetrainDialog(self.train_config, self, tf_loaded=lambda: "tensorflow" in sys.modules)
        dlg.accepted.connect(lambda: self._retrain_accepted(dlg))
        self.retrain_dialog = dlg
        dlg.open()
        return dlg

    def _retrain_accepted(self, dlg: RetrainDialog) -> None:
        cfg = dlg.chosen_config()
        if cfg is None:
            return
        self.train_config = TrainConfig(arch=cfg.arch, epochs=cfg.epochs, batch_size=cfg.batch_size,
                                        learning_rate=cfg.learning_rate, augment=cfg.augment,
                                        limit=cfg.limit)
        self._save_train_config()
        self.start_training()

    def open_manage_dialog(self) -> ManageModelsDialog:
        if self.manage_dialog is not None:
            self.manage_dialog.close()
        self.model_store_changed()  # another DigitPad may have changed the store
        dlg = ManageModelsDialog(self)
        self.manage_dialog = dlg
        dlg.finished.connect(lambda _r: setattr(self, "manage_dialog", None))
        dlg.open()
        return dlg

    def show_shortcuts(self) -> ShortcutsDialog:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()
        return self.shortcuts_dialog

    def about_text(self) -> str:
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        e = self.model_entry
        if e is None:
            model = "none"
        else:
            acc = "" if e.test_accuracy is None else f", test accuracy {e.test_accuracy * 100:.2f} %"
            model = f"{e.name} ({e.arch}{acc})"
        from app.core.inference import backend_name

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

    def show_about(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setObjectName("aboutBox")
        box.setWindowTitle(f"About {APP_NAME}")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        box.setIconPixmap(app_icon().pixmap(64, 64))
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.message_box = box
        return box

    # ------------------------------------------------------------------ import / evaluate
    def _load_model_clicked(self) -> None:
        path = self.ask_keras_path()
        if path:
            self.import_model(path)

    def import_model(self, path: str | Path) -> bool:
        """Import a ``.keras`` file into the store (worker thread: it needs TensorFlow) and use it."""
        if self.is_busy():
            self.statusBar().showMessage("Busy: wait for the current job to finish.", 6000)
            return False
        src = Path(path)
        home, bundled = self.store.home, self.store.bundled_dir

        def work(_w: Worker) -> str:
            store = ModelStore(home=home, bundled_dir=bundled)
            return store.import_keras(src, activate=True).name

        self.remember_directory(src.parent)
        self.statusBar().showMessage(f"Importing {src.name} (loading TensorFlow)…")
        self._start_job("import", CallWorker(work), self._on_import_succeeded, "Cannot load the model",
                        self.import_finished)
        self._set_training_ui(self.is_training())
        return True

    def _on_import_succeeded(self, name: object) -> None:
        self.store.refresh()
        self._load_active_model()
        self.statusBar().showMessage(f"Imported and now using {name!r}.", 10000)

    def evaluate_model(self) -> bool:
        """Evaluate the model in use on the 10000 MNIST test images (LiteRT, worker thread)."""
        if "evaluate" in self._jobs:
            return False
        entry = self.model_entry
        if entry is None:
            self.show_error("Cannot evaluate", "No model is loaded.")
            return False
        name = entry.name

        def work(w: Worker) -> tuple[str, Evaluation, EvalDetails] | None:
            from app.core.data import load_mnist
            from app.core.evaluation import evaluate_predictor

            w.status.emit("Loading the MNIST test set…")
            _, (x_test, y_test) = load_mnist()
            predictor = entry.predictor()  # checks the file's checksum
            w.status.emit(f"Evaluating {name} on {len(x_test)} test images…")
            run = evaluate_predictor(predictor, (x_test, y_test), should_stop=w.is_cancelled)
            if run is None:
                return None
            return name, run.evaluation, EvalDetails(x_test, y_test, run.probabilities)

        self._start_job("evaluate", CallWorker(work), self._on_evaluated, "Evaluation failed",
                        self.evaluation_finished)
        self.evaluate_action.setEnabled(False)
        return True

    def _on_evaluated(self, result: object) -> None:
        self.evaluate_action.setEnabled(True)
        if result is None or self._closing:
            return
        assert isinstance(result, tuple)
        name: str = result[0]
        ev: Evaluation = result[1]
        details = result[2] if len(result) > 2 else None
        if self.evaluation_dialog is not None:
            self.evaluation_dialog.close()
        dlg = EvaluationView(name, ev, details, self)
        self.evaluation_dialog = dlg
        dlg.show()
        self.statusBar().showMessage(f"{name}: test accuracy {ev.accuracy * 100:.2f} %", 15000)

    def _start_job(self, key: str, worker: Worker, on_success: Any, error_title: str,
                   finished_signal: Any) -> None:
        outcome: dict[str, object] = {"value": None}
        q = Qt.ConnectionType.QueuedConnection

        def succeeded(value: object) -> None:
            outcome["value"] = value
            if not self._closing:
                on_success(value)

        def failed(text: str) -> None:
            if not self._closing:
                self.show_error(error_title, text)

        def done() -> None:
            job = self._jobs.pop(key, None)
            if job is not None:
                join_thread(job[1])
            if key == "evaluate":
                self.evaluate_action.setEnabled(True)
            self._set_training_ui(self.is_training())
            value = outcome["value"]
            if key == "evaluate" and value is not None:
                value = value[1]  # type: ignore[index]
            finished_signal.emit(value)

        # Plain functions have no thread of their own: a relay QObject living on the GUI
        # thread receives the queued signals and calls them there.
        relay = _Relay(self, succeeded, failed, done)
        worker.succeeded.connect(relay.on_succeeded, q)
        worker.failed.connect(relay.on_failed, q)
        worker.done.connect(relay.on_done, q)
        worker.status.connect(self._on_job_status, q)
        thread = start_worker(worker, self, f"digitpad-{key}")
        self._jobs[key] = (worker, thread)

    def _on_job_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    # ------------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """Cancel every job and wait for its thread (nothing is left half-saved: saves are atomic)."""
        self._closing = True
        self.learning.shutdown()
        if self._train_worker is not None:
            self._train_worker.cancel()
        for worker, _thread in list(self._jobs.values()):
            worker.cancel()
        if self._train_worker is not None:
            self.statusBar().showMessage("Stopping training…")
            join_thread(self._train_thread)
            self._train_worker = None
            self._train_thread = None
            self.training_finished.emit(None)
        for key, (_worker, thread) in list(self._jobs.items()):
            join_thread(thread)
            self._jobs.pop(key, None)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.is_training() and not self._closing and not self.confirm(
                "Training in progress",
                "A model is being trained. Stop training and quit?\n"
                "The model being trained will not be saved."):
            event.ignore()
            return
        self.shutdown()
        self.save_settings()
        for dlg in self.findChildren(QDialog):  # dialogs and message boxes: let the app quit
            dlg.close()
        super().closeEvent(event)


class _Relay(QObject):
    """Lives on the GUI thread and calls plain functions for a worker's queued signals."""

    def __init__(self, parent: QObject, succeeded: Callable[[object], None],
                 failed: Callable[[str], None], done: Callable[[], None]) -> None:
        super().__init__(parent)
        self._succeeded, self._failed, self._done = succeeded, failed, done

    @Slot(object)
    def on_succeeded(self, value: object) -> None:
        self._succeeded(value)

    @Slot(str)
    def on_failed(self, text: str) -> None:
        self._failed(text)

    @Slot()
    def on_done(self) -> None:
        try:
            self._done()
        finally:
            self.deleteLater()
