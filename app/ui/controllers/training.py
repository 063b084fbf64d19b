"""Training from the window: Train / Cancel / Retrain…, the progress bar and the curves. The
core trains and saves (in the workers of :mod:`app.ui.worker`); this only shows it."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QPushButton, QWidget

from app.core import training_process
from app.core.errors import DigitPadError
from app.core.models import ARCHITECTURES
from app.core.training import TrainConfig
from app.core.training_process import STAGES, Trainer
from app.ui.controllers.models import ModelsController
from app.ui.feedback import Feedback, Prefs
from app.ui.jobs import Jobs, error_text
from app.ui.progress import JobOutcome, TrainProgress
from app.ui.retrain_dialog import RetrainDialog, format_duration
from app.ui.widgets import TrainingCurves
from app.ui.worker import ProcessJobWorker, TrainingWorker

Q = Qt.ConnectionType.QueuedConnection
KIND = "training"  # the training workers' name in the registry of running jobs


@dataclass(frozen=True)
class TrainingView:
    train_button: QPushButton
    cancel_button: QPushButton
    settings_button: QPushButton
    train_action: QAction
    cancel_action: QAction
    retrain_action: QAction
    progress: QProgressBar
    status: QLabel
    curves: TrainingCurves
    parent: QWidget  # of the Retrain dialog and the question "use the new model?"
    recipe: QLabel  # what the Train button trains; only the recipe is ever shown there


class TrainingController(QObject):
    """Owns the training settings and the running training (or fine-tuning)."""

    started = Signal(object)  # the ProcessJobWorker, before its thread starts
    ended = Signal()  # the training thread has ended (before ``finished``)
    finished = Signal(object)  # the new model's name, or None (cancelled or failed)

    def __init__(self, models: ModelsController, jobs: Jobs, view: TrainingView, feedback: Feedback,
                 prefs: Prefs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.models = models
        self.jobs = jobs
        self.view = view
        self.feedback = feedback
        self.prefs = prefs
        self._config = prefs.train_config()
        self.progress_history: list[int] = []  # progress-bar values of the current training
        self.retrain_dialog: RetrainDialog | None = None
        self.question: QMessageBox | None = None  # "use the new model?" (when it is not better)
        self.trainer: Trainer | None = None  # passed to each worker; None: the shared training process
        self._worker: ProcessJobWorker | None = None
        self._result: str | None = None
        self._about: str | None = None  # the model the panel's last words name
        self._failed = False
        hovered = getattr(view.train_button, "hovered", None)  # (a HoverButton)
        if hovered is not None:
            hovered.connect(self.warm_up)
        view.train_button.clicked.connect(self.start_clicked)
        view.cancel_button.clicked.connect(self.cancel)
        view.settings_button.clicked.connect(self.open_retrain_dialog)
        jobs.changed.connect(self.update_buttons)
        models.changed.connect(self._model_changed)
        models.stored.connect(self._store_edited)
        self.update_buttons()
        self.show_idle_status()

    @Slot(str)
    def _model_changed(self, _name: str) -> None:
        """Another model in use: what the panel said about the last training is stale."""
        if self._worker is None:
            self._about = None
            self.view.status.setText("")
            self.show_idle_status()

    @Slot()
    def _store_edited(self) -> None:
        """The model the panel speaks of was deleted or renamed: its words are stale too."""
        if self._worker is None and self._about is not None and self._about not in self.models.store:
            self._model_changed("")

    @property
    def config(self) -> TrainConfig:
        """The settings the Train button uses (last chosen in the Retrain dialog)."""
        return self._config

    @config.setter
    def config(self, config: TrainConfig) -> None:
        self._config = config
        if not self.is_running():
            self.show_idle_status()

    def is_running(self) -> bool:
        return self._worker is not None

    def worker(self) -> ProcessJobWorker | None:
        return self._worker

    # ------------------------------------------------------------------ start / cancel
    @Slot()
    def start_clicked(self) -> None:
        self.start()

    def start(self, config: TrainConfig | None = None, worker: ProcessJobWorker | None = None,
              title: str | None = None) -> bool:
        """Train a new model with ``config`` (default: :attr:`config`), or run ``worker``
        (e.g. fine-tuning) with the same progress bar and Cancel."""
        if self.jobs.busy():
            self.feedback.status("Busy: wait for the current job to finish.", 6000)
            return False
        try:
            cfg = (config or self.config).resolved()
        except DigitPadError as exc:
            self.feedback.error("Cannot train", str(exc))
            return False
        v = self.view
        self._result = None
        self._about = None
        self._failed = False
        self.progress_history = []
        v.curves.reset(cfg.epochs or 1)
        n = cfg.limit or 60000
        v.status.setText(title or f"Starting: {ARCHITECTURES[cfg.arch].title}, {cfg.epochs} epoch(s), "
                         f"{n} images…")
        if worker is None:
            worker = TrainingWorker(cfg, self.models.store.home, self.models.store.bundled_dir)
        worker.current = self.models.current_name()
        worker.trainer = self.trainer
        v.progress.setRange(0, len(STAGES))
        v.progress.setValue(0)
        v.progress.setFormat("Starting…")
        s = worker.signals
        s.training_started.connect(self._on_started, Q)
        s.progress.connect(self._on_progress, Q)
        s.epoch_done.connect(self._on_epoch_done, Q)
        s.status.connect(self._on_status, Q)
        s.returned.connect(self._on_returned, Q)
        s.errored.connect(self._on_errored, Q)
        self._worker = worker
        self.started.emit(worker)
        self.jobs.start(KIND, worker, self._on_done)
        self.feedback.status("Training started.", 5000)
        return True

    def cancel(self) -> None:
        if self._worker is None:
            return
        self._worker.cancel()
        v = self.view
        v.cancel_button.setEnabled(False)
        v.cancel_action.setEnabled(False)
        v.status.setText("Cancelling…")
        self.feedback.status("Cancelling training…", 5000)

    # ------------------------------------------------------------------ what the worker says
    @Slot()
    def update_buttons(self) -> None:
        v = self.view
        busy = self.jobs.busy()
        training = self.is_running()
        for w in (v.train_button, v.train_action, v.settings_button, v.retrain_action):
            w.setEnabled(not busy)
        cancellable = training and not (self._worker is not None and self._worker.is_cancelled())
        v.cancel_button.setEnabled(cancellable)
        v.cancel_action.setEnabled(cancellable)

    def show_status(self, text: str) -> None:
        """A line under the Train button (what the last training did)."""
        self.view.status.setText(text)

    def recipe_text(self) -> str:
        """What the Train button trains, in words."""
        try:
            cfg = self.config.resolved()
        except DigitPadError:
            cfg = TrainConfig().resolved()
        images = "all 60 000" if cfg.limit is None else f"{cfg.limit}"
        default = " (the default)" if cfg == TrainConfig().resolved() else ""
        title = ARCHITECTURES[cfg.arch].title.split(" (")[0]  # "Fast convnet (default)"
        return (f"Train: {title}, {cfg.epochs} epoch"
                f"{'s' if cfg.epochs != 1 else ''}, {images} images{default}")

    def show_idle_status(self) -> None:
        self.view.recipe.setText(self.recipe_text())
        if not self.view.status.text():
            self.view.status.setText("Retrain… trains other settings once, or changes the recipe.")

    def warm_up(self) -> None:
        """The user may train soon (hovered Train, opened Retrain…): let the training process
        load MNIST and TensorFlow now, in its own process (the window's memory is untouched)."""
        if self.trainer is None and not self.jobs.busy():
            training_process.shared().warm()

    @Slot(int, int)
    def _on_started(self, epochs: int, steps: int) -> None:
        self.view.progress.setFormat("%p %")
        self.view.progress.setRange(0, max(1, epochs * steps))
        self.view.progress.setValue(0)
        self.progress_history.append(0)
        self.view.curves.reset(epochs)

    @Slot(object)
    def _on_progress(self, p: TrainProgress) -> None:
        if self._worker is None:
            return
        v = self.view
        if v.progress.maximum() != p.total:
            v.progress.setRange(0, p.total)
        v.progress.setValue(p.done)
        self.progress_history.append(p.done)
        v.curves.add_batches(p.batches)
        parts = [f"Epoch {p.epoch + 1}/{p.epochs}", f"batch {p.step + 1}/{p.steps}"]
        if "loss" in p.logs:
            parts.append(f"loss {p.logs['loss']:.3f}")
        if "accuracy" in p.logs:
            parts.append(f"accuracy {p.logs['accuracy'] * 100:.1f} %")
        if p.eta is not None and p.done >= 3:
            parts.append(f"about {format_duration(p.eta)} left")
        v.status.setText("  ·  ".join(parts))

    @Slot(int, object)
    def _on_epoch_done(self, epoch: int, logs: dict[str, float]) -> None:
        self.view.curves.add_epoch(epoch, logs)
        if "val_accuracy" in logs:
            self.feedback.status(f"Epoch {epoch + 1}: validation accuracy {logs['val_accuracy'] * 100:.2f} %",
                                 10000)

    @Slot(str)
    def _on_status(self, text: str) -> None:
        if self._worker is None:
            return
        v = self.view
        stage = stage_of(text)
        if stage is not None and stage != "training":  # a stage of known place, not of known length
            keys = list(STAGES)
            v.progress.setRange(0, len(keys))
            v.progress.setValue(keys.index(stage))
            v.progress.setFormat(f"Step {keys.index(stage) + 1} of {len(keys)}")
        if stage != "training":
            v.status.setText(text)

    @Slot(object)
    def _on_returned(self, result: object) -> None:
        if self._worker is None or self.jobs.closing:
            return
        if not isinstance(result, JobOutcome):
            return  # cancelled: said in _on_done
        name = result.name
        self._result = name
        self._about = name
        self.models.store.refresh()
        if result.activated:
            self.models.load_active()
            e = self.models.entry
            acc = "" if e is None or e.test_accuracy is None else \
                f": test accuracy {e.test_accuracy * 100:.2f} %"
            self.view.status.setText(f"Trained and now using {name!r}{acc}.")
            self.feedback.status(f"New model {name!r}{acc}", 15000)
            return
        keep = self.models.current_name() or "no model"
        self.view.status.setText(f"New model {name!r} is in the store; still using {keep!r} (better).")
        self.models.store_changed()
        if result.ask:
            self.ask_to_use(name, result.comparison, keep)

    def ask_to_use(self, name: str, comparison: str, keep: str) -> QMessageBox:
        """The new model is not as good: show both and ask (non-blocking); the default answer
        keeps the model in use, and the new one stays in the store either way."""
        if self.question is not None:
            self.question.close()
        box = QMessageBox(QMessageBox.Icon.Question, "Use the new model?",
                          "The new model is not as good as the one in use.", parent=self.view.parent)
        box.setObjectName("useNewModelQuestion")
        box.setInformativeText(f"{comparison}\n\nIt is kept in the store (Model ▸ Manage models…).")
        use = box.addButton("Use the new model", QMessageBox.ButtonRole.AcceptRole)
        use.setObjectName("useNewModelButton")
        stay = box.addButton(f"Keep {keep}", QMessageBox.ButtonRole.RejectRole)
        stay.setObjectName("keepModelButton")
        box.setDefaultButton(stay)
        box.setEscapeButton(stay)

        def answered() -> None:
            self.question = None
            if box.clickedButton() is use and self.models.use(name):
                self.view.status.setText(f"Now using {name!r}.")
                self._about = name

        box.finished.connect(answered)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.question = box
        box.open()
        return box

    @Slot(object)
    def _on_errored(self, exc: BaseException) -> None:
        if self._worker is None or self.jobs.closing:
            return
        self._failed = True
        keep = self.models.current_name() or "no model"
        self.view.status.setText(f"Training failed. Still using {keep!r}.")
        self.feedback.error("Training failed", error_text(exc))

    def _on_done(self) -> None:
        worker, self._worker = self._worker, None
        result = self._result
        self._result = None
        if worker is not None and result is None and not self._failed and not self.jobs.closing:
            keep = self.models.current_name() or "no model"
            self.view.status.setText(f"Training cancelled. Still using {keep!r}.")
            self.feedback.status("Training cancelled.", 6000)  # ("Cancelling training…" is over)
        self.view.progress.setFormat("%p %")
        self.view.progress.setRange(0, 100)
        self.view.progress.setValue(100 if result else 0)
        self.update_buttons()
        self.ended.emit()
        self.finished.emit(result)

    # ------------------------------------------------------------------ settings
    def open_retrain_dialog(self) -> RetrainDialog:
        """Show the Retrain dialog (non-blocking); OK starts training with its settings."""
        if self.retrain_dialog is not None:
            self.retrain_dialog.close()
        dlg = RetrainDialog(self.config, self.view.parent)
        dlg.accepted.connect(self._retrain_accepted)
        self.retrain_dialog = dlg
        dlg.open()
        self.warm_up()
        return dlg

    @Slot()
    def _retrain_accepted(self) -> None:
        """One training with the chosen settings; they become the Train button's recipe only
        when the user ticked "Make this the Train button's recipe"."""
        dlg = self.retrain_dialog
        cfg = None if dlg is None else dlg.chosen_config()
        if dlg is None or cfg is None:
            return
        chosen = TrainConfig(arch=cfg.arch, epochs=cfg.epochs, batch_size=cfg.batch_size,
                             learning_rate=cfg.learning_rate, augment=cfg.augment, limit=cfg.limit)
        if dlg.make_recipe():
            self.config = chosen
            self.prefs.set_train_config(self.config)
            self.show_idle_status()
        self.start(chosen)


def stage_of(text: str) -> str | None:
    """The stage (a key of :data:`STAGES`) a status line announces, if any."""
    for key, words in STAGES.items():
        if text.startswith(words.split("…")[0].split(" (")[0]):
            return key
    return None
