"""Training from the window: Train / Cancel / Retrain…, the progress bar and the curves. The
core trains and saves (in :class:`app.ui.worker.TrainingWorker`); this only shows it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QWidget

from app.core.errors import DigitPadError
from app.core.models import ARCHITECTURES
from app.core.training import TrainConfig
from app.ui.controllers.models import ModelsController
from app.ui.feedback import Feedback, Prefs
from app.ui.jobs import Jobs, error_text
from app.ui.progress import TrainProgress
from app.ui.retrain_dialog import RetrainDialog, format_duration
from app.ui.widgets import TrainingCurves

if TYPE_CHECKING:  # imported when training starts (see app.ui.jobs)
    from app.ui.worker import TrainingWorker

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
    parent: QWidget  # of the Retrain dialog


class TrainingController(QObject):
    """Owns the training settings and the running training (or fine-tuning)."""

    started = Signal(object)  # the TrainingWorker, before its thread starts
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
        self.running_config: TrainConfig | None = None  # the settings of the training running now
        self.progress_history: list[int] = []  # progress-bar values of the current training
        self.retrain_dialog: RetrainDialog | None = None
        self._worker: TrainingWorker | None = None
        self._result: str | None = None
        self._failed = False
        view.train_button.clicked.connect(self.start_clicked)
        view.cancel_button.clicked.connect(self.cancel)
        view.settings_button.clicked.connect(self.open_retrain_dialog)
        jobs.changed.connect(self.update_buttons)
        self.update_buttons()
        self.show_idle_status()

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

    def worker(self) -> TrainingWorker | None:
        return self._worker

    # ------------------------------------------------------------------ start / cancel
    @Slot()
    def start_clicked(self) -> None:
        self.start()

    def start(self, config: TrainConfig | None = None, worker: TrainingWorker | None = None,
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
        self._failed = False
        self.running_config = cfg
        self.progress_history = []
        v.curves.reset(cfg.epochs or 1)
        v.progress.setRange(0, 0)  # busy until TensorFlow is loaded
        n = cfg.limit or 60000
        v.status.setText(title or f"Starting: {ARCHITECTURES[cfg.arch].title}, {cfg.epochs} epoch(s), "
                         f"{n} images…")
        if worker is None:
            from app.ui.worker import TrainingWorker

            worker = TrainingWorker(cfg, self.models.store.home, self.models.store.bundled_dir)
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

    def show_idle_status(self) -> None:
        try:
            cfg = self.config.resolved()
        except DigitPadError:
            cfg = TrainConfig().resolved()
        images = "all 60000" if cfg.limit is None else str(cfg.limit)
        self.view.status.setText(f"Train: {ARCHITECTURES[cfg.arch].title}, {cfg.epochs} epoch(s), "
                                 f"{images} MNIST images (change with Retrain…)")

    @Slot(int, int)
    def _on_started(self, epochs: int, steps: int) -> None:
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
        if self.view.progress.maximum() == 0 or not text.startswith("Training"):
            self.view.status.setText(text)
        self.feedback.status(text, 10000)

    @Slot(object)
    def _on_returned(self, name: object) -> None:
        if self._worker is None or self.jobs.closing:
            return
        if name is None:
            return  # cancelled: said in _on_done
        self._result = str(name)
        self.models.store.refresh()
        self.models.load_active()
        e = self.models.entry
        acc = "" if e is None or e.test_accuracy is None else f": test accuracy {e.test_accuracy * 100:.2f} %"
        self.view.status.setText(f"Trained and now using {name!r}{acc}.")
        self.feedback.status(f"New model {name!r}{acc}", 15000)

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
        dlg = RetrainDialog(self.config, self.view.parent, tf_loaded=lambda: "tensorflow" in sys.modules)
        dlg.accepted.connect(self._retrain_accepted)
        self.retrain_dialog = dlg
        dlg.open()
        return dlg

    @Slot()
    def _retrain_accepted(self) -> None:
        dlg = self.retrain_dialog
        cfg = None if dlg is None else dlg.chosen_config()
        if cfg is None:
            return
        self.config = TrainConfig(arch=cfg.arch, epochs=cfg.epochs, batch_size=cfg.batch_size,
                                  learning_rate=cfg.learning_rate, augment=cfg.augment, limit=cfg.limit)
        self.prefs.set_train_config(self.config)
        self.start()
