"""DigitPad's main window: lays out the pad, the answer and the training panel, builds the menus
and wires the controllers (:mod:`app.ui.controllers`), which own the state."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core.store import ModelStore
from app.ui.controllers.explain import ExplainController
from app.ui.controllers.learning import LearningController
from app.ui.controllers.live import LivePrediction, LiveView
from app.ui.controllers.models import ModelsController, ModelsView
from app.ui.controllers.number import NumberController
from app.ui.controllers.training import TrainingController, TrainingView
from app.ui.feedback import Feedback, Prefs
from app.ui.help_menu import HelpMenu, tour_steps
from app.ui.jobs import Jobs
from app.ui.notice import UndoNotice
from app.ui.pad import DrawingPad
from app.ui.pad_tools import PadTools
from app.ui.screenfit import resize_within_screen
from app.ui.style import app_icon, muted, named
from app.ui.training_panel import TrainingPanel
from app.ui.widgets import AnswerView, PreviewView, ProbabilityView, WrappedLabel

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"


def dropped_file(event: QDragEnterEvent | QDropEvent) -> str | None:
    """The dropped local file: the first with an image suffix, else the first of any kind
    (its content decides; a file that is not an image gets a clear message)."""
    md = event.mimeData()
    if md is None or not md.hasUrls():
        return None
    local = [str(url.toLocalFile()) for url in md.urls() if url.isLocalFile()]
    images = [p for p in local if p.lower().endswith(IMAGE_SUFFIXES)]
    return (images or local)[0] if local else None



class MainWindow(QMainWindow):
    """The DigitPad window. Build it, ``show()`` it, run the event loop (tests drive it directly)."""

    live: LivePrediction
    models: ModelsController
    training: TrainingController
    learning: LearningController
    explain: ExplainController

    def __init__(self, store: ModelStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.store = store if store is not None else ModelStore()
        self.prefs = Prefs()
        self.jobs = Jobs(self)
        self.last_error: str | None = None
        self.message_box: QMessageBox | None = None
        self._closing = False
        self.notice = UndoNotice(self.statusBar())
        feedback = Feedback(error=lambda title, text: self.show_error(title, text),
                            status=lambda text, ms: self.statusBar().showMessage(text, ms),
                            confirm=lambda title, text: self.confirm(title, text),
                            undoable=self.notice.show_notice)
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self._build_ui()
        self._build_actions()
        self.live = LivePrediction(LiveView(self.pad, self.probability_view, self.preview_view, self.answer),
                                   feedback, self.prefs, self)
        self.models = ModelsController(self.store, self.live, self.jobs,
                                       ModelsView(self.model_label, self.status_model, self), feedback,
                                       self.prefs, self)
        self.training = TrainingController(
            self.models, self.jobs,
            TrainingView(self.train_button, self.cancel_button, self.settings_button, self.train_action,
                         self.cancel_action, self.retrain_action, self.train_progress, self.train_status,
                         self.curves, self, self.train_recipe), feedback, self.prefs, self)
        self.learning = LearningController(self.live, self.models, self.training, self.probability_view,
                                           feedback, self.prefs, self, self)
        self.explain = ExplainController(self.live, self.models, self.learning, self.jobs, self)
        self.number = NumberController(self.live, feedback, self.prefs, self)
        self._build_learning_menus()
        self.pad.historyChanged.connect(self._update_edit_actions)
        self.jobs.changed.connect(self._update_job_actions)
        self._restore_settings()
        self.number.restore()
        self.models.load_active(report=True)
        self._update_edit_actions()
        self.live.update()
        self._report_start_problems()

    def _report_start_problems(self) -> None:
        """What was found damaged or reset at start (models, samples, settings), said once."""
        parts = []
        parts += self.store.problems  # (unreadable models, a lost active-model choice)
        parts += self.learning.samples.store.problems
        parts += [p[0].upper() + p[1:] + "." for p in self.prefs.problems]
        if parts:
            log.warning("at start: %s", " ".join(parts))
            self.statusBar().showMessage(" ".join(parts), 20000)

    # ------------------------------------------------------------------ layout
    def _build_ui(self) -> None:
        central = QWidget(self)
        self.setCentralWidget(central)

        # left: the pad and its tools
        self.pad = DrawingPad()
        tools = self.pad_tools = PadTools(self.pad, self.prefs, lambda: self.live.clear())
        self.brush_slider, self.brush_value = tools.brush_slider, tools.brush_value
        self.undo_button, self.redo_button = tools.undo_button, tools.redo_button
        self.clear_button = tools.clear_button
        left = QVBoxLayout()
        left.addWidget(self.pad, 1)
        left.addLayout(tools)
        self._pad_column = left

        # right: the answer, the probabilities and what the model sees
        self.answer = AnswerView()
        self.top_digit_label = self.answer.digit_label
        self.confidence_label = self.answer.confidence_label
        self.hint_label = self.answer.hint_label
        self.probability_view = ProbabilityView()
        self.preview_view = PreviewView()
        preview_caption = named(WrappedLabel("What the model sees: 28×28 pixels, cropped and "
                                             "centred like MNIST", lines=5), "previewCaption")
        preview_caption.setMinimumWidth(100)
        preview_caption.setToolTip(self.preview_view.toolTip())
        muted(preview_caption)
        preview_row = QHBoxLayout()
        preview_row.addWidget(self.preview_view)
        preview_row.addWidget(preview_caption, 1)
        self.model_label = named(WrappedLabel("", lines=3), "modelLabel")
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.answer)
        right.addWidget(self.probability_view, 1)
        right.addLayout(preview_row)
        right.addWidget(self.model_label)
        right_box = QWidget()
        right_box.setLayout(right)
        right_box.setMinimumWidth(190)
        right_box.setMaximumWidth(420)
        top = QHBoxLayout()
        top.addLayout(left, 3)
        top.addWidget(right_box, 2)

        # bottom: training
        self.training_box = panel = TrainingPanel()
        self.train_button, self.cancel_button = panel.train_button, panel.cancel_button
        self.settings_button, self.train_progress = panel.settings_button, panel.progress
        self.train_status, self.curves, self.train_recipe = panel.status, panel.curves, panel.recipe
        line = self._training_line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        outer = self._outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 6, 8, 4)
        outer.addLayout(top, 1)
        outer.addWidget(line)
        outer.addWidget(self.training_box)
        self.status_model = named(QLabel(""), "statusModel")
        self.statusBar().addPermanentWidget(self.status_model)
        self.statusBar().setObjectName("statusBar")

    # ------------------------------------------------------------------ menus
    def _action(self, text: str, slot: object, shortcuts: list[str] | None = None,
                name: str | None = None, tip: str | None = None) -> QAction:
        act = QAction(text, self)
        if name:
            act.setObjectName(name)
        if shortcuts:
            act.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: slot())  # type: ignore[operator]
        self._shortcut(act)
        return act

    def _shortcut(self, act: QAction) -> None:
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addAction(act)  # shortcuts work even while the menu bar is hidden

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

        self.edit_menu = mb.addMenu("&Edit")
        self.undo_action = self._action("&Undo stroke", self.pad.undo, ["Ctrl+Z"], "undoAction")
        self.redo_action = self._action("&Redo stroke", self.pad.redo, ["Ctrl+Shift+Z", "Ctrl+Y"],
                                        "redoAction")
        self.clear_action = self._action("&Clear", lambda: self.live.clear(), ["Esc", "Delete"],
                                         "clearAction")
        self.smaller_action = self._action("&Thinner brush", lambda: self.pad_tools.change_brush(-2), ["["],
                                           "thinnerAction")
        self.larger_action = self._action("T&hicker brush", lambda: self.pad_tools.change_brush(+2), ["]"],
                                          "thickerAction")
        for act in (self.undo_action, self.redo_action, self.clear_action):
            self.edit_menu.addAction(act)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.smaller_action)
        self.edit_menu.addAction(self.larger_action)

        self.model_menu = mb.addMenu("&Model")
        self.train_action = self._action("&Train", lambda: self.training.start(), ["Ctrl+T"], "trainAction",
                                         "Train a new model with the last chosen settings")
        self.cancel_action = self._action("&Cancel training", lambda: self.training.cancel(), None,
                                          "cancelAction")
        self.retrain_action = self._action("&Retrain…", lambda: self.training.open_retrain_dialog(),
                                           ["Ctrl+R"], "retrainAction",
                                           "Choose the architecture and settings")
        self.load_action = self._action("&Load model…", self._load_model_clicked, ["Ctrl+L"], "loadAction",
                                        "Import a .keras model file")
        self.manage_action = self._action("&Manage models…", lambda: self.models.open_manage_dialog(),
                                          ["Ctrl+M"], "manageAction")
        self.evaluate_action = self._action("&Evaluate", lambda: self.models.evaluate(), ["Ctrl+E"],
                                            "evaluateAction",
                                            "Test accuracy, per-class accuracy and confusion matrix")
        for act in (self.train_action, self.cancel_action, self.retrain_action):
            self.model_menu.addAction(act)
        self.model_menu.addSeparator()
        for act in (self.load_action, self.manage_action, self.evaluate_action):
            self.model_menu.addAction(act)

        self.view_menu = named(mb.addMenu("&View"), "viewMenu")
        steps = tour_steps(pad=lambda: self.pad, bars=lambda: self.probability_view,
                           train=lambda: self.train_button, curves=lambda: self.curves,
                           explain=lambda: (self.explain.dock if self.explain.dock.isVisible()
                                            else self.menuBar()))
        self.help = HelpMenu(self, mb, self.prefs, steps, lambda: self.models.entry)
        mb.addMenu(self.help.menu)
        for act in self.help.menu.actions():
            if not act.isSeparator():
                self._shortcut(act)

    def _build_learning_menus(self) -> None:
        learning = self.learning
        for act in learning.shortcut_actions():
            self._shortcut(act)
        self.edit_menu.addSeparator()
        self.edit_menu.addMenu(learning.label_menu)
        self.model_menu.addSeparator()
        self.model_menu.addAction(learning.samples_action)
        self.model_menu.addAction(learning.finetune_action)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.explain.dock)
        self._shortcut(self.explain.action)
        self.view_menu.addAction(self.explain.action)
        self.view_menu.addAction(learning.watch_action)
        self._strip = QVBoxLayout()
        self._strip.addWidget(self.number.view)
        self._outer.insertLayout(0, self._strip)
        self.number.mode_changed.connect(self._lay_out_for_number_mode)
        self._shortcut(self.number.action)
        self.view_menu.addAction(self.number.action)

    def _lay_out_for_number_mode(self, on: bool) -> None:
        """Number mode: the pad leaves its column for a strip across the whole window, under
        the number read, and the training panel takes its place in the column beside the
        bars, so the window needs no more height than with the square pad."""
        outer, column, strip = self._outer, self._pad_column, self._strip
        if on:
            column.removeWidget(self.pad)
            strip.addWidget(self.pad, 1)
            outer.removeWidget(self.training_box)
            column.addWidget(self.training_box, 1)
        else:
            strip.removeWidget(self.pad)
            column.insertWidget(0, self.pad, 1)
            column.removeWidget(self.training_box)
            outer.addWidget(self.training_box)
        self._training_line.setVisible(not on)
        self.training_box.set_narrow(on)
        outer.setStretchFactor(strip, 1 if on else 0)

    def _update_edit_actions(self) -> None:
        for w in (self.undo_action, self.undo_button):
            w.setEnabled(self.pad.can_undo())
        for w in (self.redo_action, self.redo_button):
            w.setEnabled(self.pad.can_redo())

    def _update_job_actions(self) -> None:
        self.load_action.setEnabled(not self.jobs.busy())
        self.evaluate_action.setEnabled(not self.jobs.running("evaluate"))

    # ------------------------------------------------------------------ settings
    def _restore_settings(self) -> None:
        geometry = self.prefs.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            resize_within_screen(self, 1040, 800)
        state = self.prefs.window_state()
        if state is not None:  # the Explain dock: open or not, its side and width
            self.restoreState(state)
        self.pad_tools.restore()

    def save_settings(self) -> None:
        self.prefs.set_geometry(self.saveGeometry())
        self.prefs.set_window_state(self.saveState())
        self.prefs.set_brush(self.pad.brush_size())
        self.prefs.set_train_config(self.training.config)
        self.prefs.sync()

    # ------------------------------------------------------------ messages and questions (tests replace them)
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
        path, _ = QFileDialog.getOpenFileName(self, "Open image", str(self.prefs.last_directory()),
                                              IMAGE_FILTER)
        return path or None

    def ask_save_png_path(self) -> str | None:
        start = str(self.prefs.last_directory() / "digit.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save drawing", start, "PNG image (*.png)")
        return path or None

    def ask_keras_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a Keras model", str(self.prefs.last_directory()),
                                              "Keras model (*.keras)")
        return path or None

    # ------------------------------------------------------------------ files
    def open_image(self, path: str | Path) -> bool:
        """Read an image file: a number in number mode, else one digit."""
        return self.number.open_image(path) if self.number.active else self.live.open_image(path)

    def _open_image_clicked(self) -> None:
        path = self.ask_open_image_path()
        if path:
            self.open_image(path)

    def _save_drawing_clicked(self) -> None:
        if self.pad.is_empty():
            self.statusBar().showMessage("Nothing to save: the pad is empty.", 6000)
            return
        path = self.ask_save_png_path()
        if path:
            self.live.save_drawing(path)

    def _load_model_clicked(self) -> None:
        path = self.ask_keras_path()
        if path:
            self.models.import_keras(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_file(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_file(event)
        if path:
            event.acceptProposedAction()
            self.open_image(Path(path))
        else:
            event.ignore()

    # ------------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """Cancel every job and wait for its thread (nothing is left half-saved: saves are atomic)."""
        self._closing = True
        self.explain.shutdown()
        if self.training.is_running():
            self.statusBar().showMessage("Stopping training…")
        self.jobs.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.training.is_running() and not self._closing and not self.confirm(
                "Training in progress",
                "A model is being trained. Stop training and quit?\n"
                "The model being trained will not be saved."):
            event.ignore()
            return
        if self.jobs.busy():  # e.g. the training process loading TensorFlow: the window goes
            self._closing = self.jobs.closing = True  # at once (results no longer shown); the
            self.hide()  # jobs are given up; the training process quits with the app, at once
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        self.shutdown()
        self.save_settings()
        for dlg in self.findChildren(QDialog):  # dialogs and message boxes: let the app quit
            dlg.close()
        super().closeEvent(event)
