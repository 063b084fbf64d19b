"""Learning from the user: corrections (a digit key or a click on a bar keeps the drawing as a
personal sample), the Personal samples window, Train on my drawings (fine-tuning in the
training worker) and Watch it learn (the weights in training predict the drawing)."""

from __future__ import annotations

import functools
import logging

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from app.core.errors import DigitPadError
from app.core.finetune import MIN_SAMPLES, FineTuneConfig
from app.core.live import LiveWeights
from app.core.samples import Sample
from app.core.verdict import NOT_DIGIT
from app.ui.controllers.live import LivePrediction
from app.ui.controllers.models import ModelsController
from app.ui.controllers.training import TrainingController
from app.ui.feedback import Feedback, Prefs
from app.ui.finetune_dialog import FineTuneResultDialog
from app.ui.personal_samples import PersonalSamples
from app.ui.progress import FineTuneSummary
from app.ui.samples_window import SamplesWindow
from app.ui.widgets import ProbabilityView
from app.ui.worker import FineTuneWorker, ProcessJobWorker

log = logging.getLogger(__name__)
Q = Qt.ConnectionType.QueuedConnection


def _a(digit: int) -> str:
    """'a 4', 'an 8'."""
    return f"{'an' if digit == 8 else 'a'} {digit}"


class LearningController(QObject):
    """Owns the personal samples, the learning actions and the weights in training shown live."""

    finetune_finished = Signal(object)  # FineTuneSummary, or None

    def __init__(self, live: LivePrediction, models: ModelsController, training: TrainingController,
                 probabilities: ProbabilityView, feedback: Feedback, prefs: Prefs, parent_widget: QWidget,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.live = live
        self.models = models
        self.training = training
        self.feedback = feedback
        self.prefs = prefs
        self.parent_widget = parent_widget  # of the windows this controller opens
        self.samples = PersonalSamples(models.store.home, self)
        self.finetune_config = FineTuneConfig()
        self.samples_window: SamplesWindow | None = None
        self.finetune_dialog: FineTuneResultDialog | None = None
        self.live_weights: LiveWeights | None = None  # the weights in training now predicting
        self.live_updates = 0
        self._summary: FineTuneSummary | None = None
        self._finetune_running = False
        self._last_saved: tuple[object, int] | None = None  # (drawing key, sample id)
        self._build_actions()
        probabilities.digitClicked.connect(self.correct)
        probabilities.setCursor(Qt.CursorShape.PointingHandCursor)
        probabilities.setWhatsThis("Click a digit's bar to tell DigitPad what you drew.")
        training.started.connect(self._training_started)
        training.ended.connect(self._training_ended)
        training.finished.connect(self._training_finished)
        training.jobs.changed.connect(self._jobs_changed)
        live.view.pad.historyChanged.connect(self._forget_if_cleared)

    def _build_actions(self) -> None:
        self.label_menu = QMenu("&Label the drawing as")
        self.label_menu.setObjectName("labelMenu")
        self.label_actions: list[QAction] = []
        for d in range(10):
            act = QAction(f"{d}", self)
            act.setObjectName(f"labelAction{d}")
            act.setShortcut(QKeySequence(str(d)))  # keypad digits match too
            act.setStatusTip(f"Keep the drawing as a sample of your handwriting: a {d}")
            act.triggered.connect(lambda _c=False, digit=d: self.correct(digit))
            self.label_menu.addAction(act)
            self.label_actions.append(act)
        self.samples_action = QAction("&Personal samples…", self)
        self.samples_action.setObjectName("samplesAction")
        self.samples_action.setShortcut(QKeySequence("Ctrl+P"))
        self.samples_action.setStatusTip("Your labelled drawings: view, relabel, delete, import, export")
        self.samples_action.triggered.connect(lambda _c=False: self.open_samples_window())
        self.finetune_action = QAction("Train on &my drawings", self)
        self.finetune_action.setObjectName("fineTuneAction")
        self.finetune_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.finetune_action.setStatusTip("Fine-tune the model in use on your samples (mixed with MNIST)")
        self.finetune_action.triggered.connect(lambda _c=False: self.train_on_my_drawings())
        self.watch_action = QAction("&Watch it learn", self)
        self.watch_action.setObjectName("watchAction")
        self.watch_action.setCheckable(True)
        self.watch_action.setChecked(self.prefs.watch_learning())
        self.watch_action.setStatusTip("While training, predict the drawing with the weights being trained")
        self.watch_action.toggled.connect(self.prefs.set_watch_learning)

    def shortcut_actions(self) -> list[QAction]:
        """The actions with shortcuts (the window adds them, so they work with the menus hidden)."""
        return [*self.label_actions, self.samples_action, self.finetune_action]

    # ------------------------------------------------------------------ corrections
    @Slot()
    def _forget_if_cleared(self) -> None:
        if self.live.view.pad.is_empty():
            self._last_saved = None  # a new drawing, even if drawn the same, is a new sample

    @Slot(int)
    def correct(self, digit: int) -> Sample | None:
        """The drawing is a ``digit``: keep it as a personal sample. Returns the Sample or None."""
        pad = self.live.view.pad
        if pad.is_drawing():
            return None
        x = self.live.current_input
        if x is None:
            self.feedback.status("Draw a digit first, then press the right digit key "
                                 "(or click its bar) to teach DigitPad your handwriting.", 8000)
            return None
        probs = self.live.view.probabilities.probabilities()
        read_as = None if probs is None else int(np.argmax(probs))
        key = self.live.drawing_key()
        store = self.samples.store
        try:
            last = self._last_saved
            if last is not None and last[0] == key and last[1] in store.ids():
                sid = last[1]
                before = store.get(sid).label
                if before == digit:
                    self.feedback.status(f"Already kept as {_a(digit)}.", 8000)
                    return store.get(sid)
                self.samples.relabel([sid], digit)
                sample = store.get(sid)
                text = f"Changed to {_a(digit)}"
                undo = functools.partial(self._undo_label, sid, before)
            else:
                sample = self.samples.add(x, digit, self.live.sample_strokes())
                self._last_saved = (key, sample.id)
                text = f"Kept as {_a(digit)}"
                undo = functools.partial(self._undo_keep, sample.id)
        except DigitPadError as exc:
            self.feedback.error("Cannot save the sample", str(exc))
            return None
        read = "" if read_as is None or read_as == digit else f" (the model read {read_as})"
        mine = store.counts()[digit]
        # (a drawing the user labels with a digit key is a digit, whatever the verdict said)
        if self.live.view.probabilities.verdict() == NOT_DIGIT:
            read = " (the model took it for something else than a digit)"
        self.feedback.offer_undo(f"{text}{read}: you have {mine} sample{'s' if mine != 1 else ''} "
                                 f"of {digit}, {len(store)} in all.", undo, 10000)
        return sample

    def _undo_keep(self, sid: int) -> None:
        """Undo of a kept drawing: the sample goes (the pad keeps the drawing)."""
        try:
            self.samples.delete([sid])
        except DigitPadError as exc:
            self.feedback.error("Cannot undo", str(exc))
            return
        if self._last_saved is not None and self._last_saved[1] == sid:
            self._last_saved = None
        self.feedback.status("Not kept: the drawing is not one of your samples.", 6000)

    def _undo_label(self, sid: int, label: int) -> None:
        try:
            self.samples.relabel([sid], label)
        except DigitPadError as exc:
            self.feedback.error("Cannot undo", str(exc))
            return
        self.feedback.status(f"Back to {_a(label)}.", 6000)

    def open_samples_window(self) -> SamplesWindow:
        self.samples.store.reload()
        if self.samples_window is None:
            dlg = SamplesWindow(self.samples, train=self.train_on_my_drawings, busy=self.training.jobs.busy,
                                prefs=self.prefs, parent=self.parent_widget)
            dlg.finished.connect(self._samples_window_closed)
            dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.samples_window = dlg
        else:
            self.samples_window.populate()
        self.samples_window.show()
        self.samples_window.raise_()
        self.samples_window.activateWindow()
        return self.samples_window

    @Slot()
    def _samples_window_closed(self) -> None:
        self.samples_window = None

    @Slot()
    def _jobs_changed(self) -> None:
        if self.samples_window is not None:
            self.samples_window.update_buttons()

    # ------------------------------------------------------------------ fine-tuning
    def train_on_my_drawings(self) -> bool:
        """Fine-tune the model in use on the personal samples (in the training worker)."""
        if self.training.jobs.busy():
            self.feedback.status("Busy: wait for the current job to finish.", 6000)
            return False
        base = self.models.current_name()
        if base is None:
            self.feedback.error("Cannot fine-tune", "No model is loaded.")
            return False
        self.samples.store.reload()
        n = len(self.samples)
        if n < MIN_SAMPLES:
            self.feedback.error(
                "Not enough samples",
                f"Fine-tuning needs at least {MIN_SAMPLES} samples of your handwriting (you have "
                f"{n}). Draw a digit; when the model gets it wrong, press the right digit key.")
            return False
        store = self.models.store
        worker = FineTuneWorker(store.home, store.bundled_dir, base, self.finetune_config)
        worker.signals.finetuned.connect(self._on_finetuned, Q)
        self._summary = None
        started = self.training.start(worker=worker,
                                      title=f"Fine-tuning {base} on {n} samples of your handwriting…")
        self._finetune_running = bool(started)
        return bool(started)

    @Slot(object)
    def _on_finetuned(self, summary: FineTuneSummary) -> None:
        self._summary = summary

    @Slot(object)
    def _training_finished(self, name: object) -> None:
        if not self._finetune_running:
            return
        self._finetune_running = False
        summary, self._summary = self._summary, None
        if name is None or summary is None or self.training.jobs.closing:
            self.finetune_finished.emit(None)
            return
        before, after = summary.before, summary.after
        if before.personal is not None and after.personal is not None:
            self.training.show_status(
                f"Fine-tuned {summary.base} → {name}: your held-out samples "
                f"{before.personal * 100:.0f} % → {after.personal * 100:.0f} %, MNIST "
                f"{before.mnist * 100:.2f} % → {after.mnist * 100:.2f} %.")
        if self.finetune_dialog is not None:
            self.finetune_dialog.close()
        dlg = FineTuneResultDialog(summary, self.samples.store, use=self.models.use,
                                   parent=self.parent_widget)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.finished.connect(self._finetune_dialog_closed)
        self.finetune_dialog = dlg
        dlg.show()
        self.finetune_finished.emit(summary)

    @Slot()
    def _finetune_dialog_closed(self) -> None:
        self.finetune_dialog = None

    # ------------------------------------------------------------------ watch it learn
    @Slot(object)
    def _training_started(self, worker: ProcessJobWorker) -> None:
        worker.watch_learning = self.watch_action.isChecked()
        worker.signals.live_weights.connect(self._on_live_weights, Q)

    @Slot(object)
    def _on_live_weights(self, info: LiveWeights) -> None:
        if not self.training.is_running() or self.training.jobs.closing or not self.watch_action.isChecked():
            return
        try:
            predictor = info.predictor()
            predictor.predict(np.zeros((28, 28), np.float32))
        except Exception:  # the file went with the end of training: nothing to show
            log.debug("cannot load the live weights", exc_info=True)
            return
        self.live_weights = info
        self.live_updates += 1
        self.models.show_live_weights(f"Live: weights in training, {info.describe()}")
        self.live.set_override(predictor)

    def weights_in_use(self) -> str:
        """What predicts the drawing now: "Live: weights in training, …" or "Model: <name>"."""
        return self.models.weights_in_use()

    @Slot()
    def _training_ended(self) -> None:
        had_live = self.live.override is not None
        self.live_weights = None
        if had_live:
            self.models.show_info()
            self.live.set_override(None)
