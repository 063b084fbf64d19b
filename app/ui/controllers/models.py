"""The model in use: loading the store's active model for live prediction, switching,
importing a ``.keras`` file, evaluating on the MNIST test set, the Manage models dialog."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QWidget

from app.core import training_process
from app.core.errors import DigitPadError
from app.core.evaluation import Evaluation, evaluate_predictor
from app.core.inference import DigitPredictor
from app.core.models import ARCHITECTURES, short_title
from app.core.store import ModelEntry, ModelStore
from app.core.training import TrainingListener
from app.core.training_process import Trainer
from app.ui.controllers.live import LivePrediction
from app.ui.dialogs import ManageModelsDialog
from app.ui.evaluation import EvalDetails, EvaluationView
from app.ui.feedback import Feedback, Prefs
from app.ui.jobs import Jobs, error_text
from app.ui.style import LIVE_STYLE, muted_span, rich_text
from app.ui.worker import FunctionWorker, Worker

log = logging.getLogger(__name__)
Q = Qt.ConnectionType.QueuedConnection


@dataclass(frozen=True)
class ModelsView:
    model_label: QLabel  # under the probabilities
    status_model: QLabel  # in the status bar
    parent: QWidget  # of the dialogs (the window, so they close with it)


@dataclass(frozen=True)
class EvaluationOutcome:
    name: str
    evaluation: Evaluation
    details: EvalDetails


class ModelsController(QObject):
    """Owns the store and the model in use; hands its predictor to live prediction."""

    changed = Signal(str)  # the name of the model now used for predictions
    stored = Signal()  # the store's models changed (renamed, deleted, imported …)
    evaluation_finished = Signal(object)  # Evaluation, or None on failure
    import_finished = Signal(object)  # the imported model's name, or None

    def __init__(self, store: ModelStore, live: LivePrediction, jobs: Jobs, view: ModelsView,
                 feedback: Feedback, prefs: Prefs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.live = live
        self.jobs = jobs
        self.view = view
        self.trainer: Trainer | None = None  # what imports .keras files; None: the shared process
        self.feedback = feedback
        self.prefs = prefs
        self.entry: ModelEntry | None = None
        self.manage_dialog: ManageModelsDialog | None = None
        self.evaluation_dialog: EvaluationView | None = None
        self._results: dict[str, object] = {}  # what the running import / evaluation returned
        jobs.changed.connect(self._jobs_changed)

    # ------------------------------------------------------------------ the model in use
    def current_name(self) -> str | None:
        return None if self.entry is None else self.entry.name

    def load_active(self, report: bool = False) -> bool:
        """Load the store's active model for live prediction (falls back to another one)."""
        self.store.refresh()
        entries = self.store.entries()
        try:
            first = self.store.active_name()
        except DigitPadError as exc:
            self._set(None, None)
            if report:
                self.feedback.status(str(exc), 20000)
            return False
        # the chosen model, else the one in use (switching to a broken model keeps it), else any
        current = self.current_name()
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
            if name != first:
                try:
                    self.store.set_active(name)
                except DigitPadError as exc:
                    errors.append(str(exc))
            if errors:
                self.feedback.error("Model problem", " ".join(errors) + f" Using {name!r} instead.")
            self._set(entry, predictor)
            if self.manage_dialog is not None and self.manage_dialog.isVisible():
                self.manage_dialog.populate()
            self.changed.emit(name)
            return True
        self._set(None, None)
        self.feedback.error("No usable model", " ".join(errors))
        return False

    def _set(self, entry: ModelEntry | None, predictor: DigitPredictor | None) -> None:
        self.entry = entry
        self.show_info()
        self.live.set_model(predictor)

    def use(self, name: str) -> bool:
        """Switch live prediction to the model ``name`` (and remember the choice)."""
        try:
            self.store.set_active(name)
        except DigitPadError as exc:
            self.feedback.error("Cannot use this model", str(exc))
            return False
        ok = self.load_active()
        if ok:
            self.feedback.status(f"Now using the model {name!r}.", 8000)
        return ok and self.current_name() == name

    def store_changed(self) -> None:
        """The store changed on disk (rename, delete, import, another DigitPad sharing it …)."""
        self.store.refresh()
        current = self.current_name()
        try:
            active = self.store.active_name()
        except DigitPadError:
            active = None
        if current is None or active != current or current not in self.store:
            vanished = current is not None and current not in self.store
            self.load_active()
            if vanished and self.current_name() != current:
                self.feedback.status(f"The model {current!r} is no longer in the store; now using "
                                     f"{self.current_name() or 'no model'!r}.", 15000)
        else:
            self.show_info()
        self.stored.emit()

    def show_info(self) -> None:
        """The model in use under the probabilities, in the status bar and the title."""
        e = self.entry
        parent = self.view.parent
        if e is None:
            self.view.model_label.setText("<b>No model.</b> Train one: Model ▸ Retrain…")
            self.view.status_model.setText("No model")
            parent.setWindowTitle("")  # the platform shows the application's name
            return
        arch = ARCHITECTURES[e.arch].title if e.arch in ARCHITECTURES else e.arch
        # what the name does not say already ("Fast convnet · 3 ep · 99.14 %" says both);
        # the architecture's details are in the tooltip
        short = short_title(arch)
        acc = None if e.test_accuracy is None else f"{e.test_accuracy * 100:.2f} %"
        said = [part for part in (short if short not in e.name else None,
                                  f"{acc} on MNIST test" if acc and acc not in e.name else None) if part]
        label = self.view.model_label
        rich_text(label, lambda: f"Model: <b>{e.name}</b>"
                  + (f"<br>{muted_span(label, ', '.join(said))}" if said else ""))
        self.view.model_label.setToolTip(f"{arch}\n{e.path}")
        self.view.status_model.setText(f"Model: {e.name}")
        # the platform adds " — DigitPad" (the application's display name) itself
        parent.setWindowTitle(e.name)

    def show_live_weights(self, text: str) -> None:
        """Say that the weights in training, not the model in use, read the drawing."""
        label = self.view.model_label
        rich_text(label, lambda: f"<span style='{LIVE_STYLE}'><b>{text}</b></span><br>"
                  + muted_span(label, "the model being trained reads your drawing"))
        self.view.status_model.setText(text)

    def weights_in_use(self) -> str:
        """What predicts the drawing now: "Live: weights in training, …" or "Model: <name>"."""
        return self.view.status_model.text()

    # ------------------------------------------------------------------ import / evaluate
    def import_keras(self, path: str | Path) -> bool:
        """Import a ``.keras`` file into the store (worker thread: it needs TensorFlow) and use it."""
        if self.jobs.busy():
            self.feedback.status("Busy: wait for the current job to finish.", 6000)
            return False
        src = Path(path)
        home, bundled = self.store.home, self.store.bundled_dir

        trainer = self.trainer

        def work(w: Worker[str]) -> str:
            """In the training process: loading a Keras model needs TensorFlow."""
            class Cancel(TrainingListener):
                def should_stop(self) -> bool:
                    return w.is_cancelled()

            job = {"kind": "import", "path": str(src), "home": str(home), "bundled_dir": str(bundled)}
            result = (trainer or training_process.shared()).run(job, Cancel())
            if result is None:
                raise DigitPadError("Import cancelled.")
            return str(result["name"])

        self.prefs.remember_directory(src.parent)
        self.feedback.status(f"Importing {src.name} (loading TensorFlow)…", 0)
        self._start("import", work, self._import_done)
        return True

    def evaluate(self) -> bool:
        """Evaluate the model in use on the 10000 MNIST test images (LiteRT, worker thread)."""
        if self.jobs.running("evaluate"):
            return False
        entry = self.entry
        if entry is None:
            self.feedback.error("Cannot evaluate", "No model is loaded.")
            return False

        def work(w: Worker[EvaluationOutcome | None]) -> EvaluationOutcome | None:
            from app.core.data import load_mnist

            w.say("Loading the MNIST test set…")
            _, (x_test, y_test) = load_mnist()
            predictor = entry.predictor()  # checks the file's checksum
            w.say(f"Evaluating {entry.name} on {len(x_test)} test images…")
            run = evaluate_predictor(predictor, (x_test, y_test), should_stop=w.is_cancelled)
            if run is None:
                return None
            details = EvalDetails(x_test, y_test, run.probabilities)
            return EvaluationOutcome(entry.name, run.evaluation, details)

        self._start("evaluate", work, self._evaluation_done)
        return True

    def _start(self, kind: str, work: Callable[[Worker[Any]], Any], done: Callable[[], None]) -> None:
        worker = FunctionWorker(work)
        importing = kind == "import"
        self._results[kind] = None
        worker.signals.returned.connect(self._imported if importing else self._evaluated, Q)
        worker.signals.errored.connect(self._import_failed if importing else self._evaluation_failed, Q)
        worker.signals.status.connect(self._status, Q)
        self.jobs.start(kind, worker, done)

    @Slot(object)
    def _imported(self, name: str) -> None:
        self._results["import"] = name

    @Slot(object)
    def _evaluated(self, outcome: EvaluationOutcome | None) -> None:
        self._results["evaluate"] = outcome

    @Slot(str)
    def _status(self, text: str) -> None:
        self.feedback.status(text, 10000)

    @Slot(object)
    def _import_failed(self, exc: BaseException) -> None:
        self.feedback.error("Cannot load the model", error_text(exc))

    @Slot(object)
    def _evaluation_failed(self, exc: BaseException) -> None:
        self.feedback.error("Evaluation failed", error_text(exc))

    def _import_done(self) -> None:
        name = self._results.pop("import", None)
        if not isinstance(name, str) or self.jobs.closing:
            self.import_finished.emit(None)
            return
        self.store.refresh()
        self.load_active()
        self.feedback.status(f"Imported and now using {name!r}.", 10000)
        self.import_finished.emit(name)

    def _evaluation_done(self) -> None:
        out = self._results.pop("evaluate", None)
        if not isinstance(out, EvaluationOutcome) or self.jobs.closing:
            self.evaluation_finished.emit(None)
            return
        if self.evaluation_dialog is not None:
            self.evaluation_dialog.close()
        dlg = EvaluationView(out.name, out.evaluation, out.details, self.view.parent)
        self.evaluation_dialog = dlg
        dlg.show()
        self.feedback.status(f"{out.name}: test accuracy {out.evaluation.accuracy * 100:.2f} %", 15000)
        self.evaluation_finished.emit(out.evaluation)

    # ------------------------------------------------------------------ manage
    def open_manage_dialog(self) -> ManageModelsDialog:
        if self.manage_dialog is not None:
            self.manage_dialog.close()
        self.store_changed()  # another DigitPad may have changed the store
        dlg = ManageModelsDialog(self.store, use=self.use, store_changed=self.store_changed,
                                 busy=self.jobs.busy, feedback=self.feedback, prefs=self.prefs,
                                 parent=self.view.parent)
        self.manage_dialog = dlg
        dlg.finished.connect(self._manage_closed)
        dlg.open()
        return dlg

    @Slot()
    def _manage_closed(self) -> None:
        self.manage_dialog = None

    @Slot()
    def _jobs_changed(self) -> None:
        if self.manage_dialog is not None:
            self.manage_dialog.update_buttons()
