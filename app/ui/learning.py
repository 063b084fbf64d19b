"""Learning from the user, and showing why: wires issue 7's features into the main window.

* **Corrections** — keys 0–9 (or a click on a digit's bar) label the drawing: it is kept as
  a personal sample (:class:`~app.core.samples.SampleStore`), with its strokes.
* **Personal samples** window (Model ▸ Personal samples…, Ctrl+P).
* **Train on my drawings** (Model menu, Ctrl+Shift+T): fine-tunes the model in use on the
  personal samples mixed with MNIST, in the training worker (same progress bar, Cancel);
  shows accuracy before/after and offers to switch back.
* **Explain** dock (View ▸ Explain the drawing, Ctrl+I): saliency, first layer, layers.
* **Watch it learn** (View menu, on by default): while training, the pad is predicted with
  the weights being trained, copied out by the worker twice a second and computed in NumPy
  (:mod:`app.core.live`).

The window calls :meth:`training_started`, :meth:`training_ended` and :meth:`shutdown`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QScrollArea

from app.core.errors import DigitPadError
from app.core.finetune import MIN_SAMPLES, FineTuneConfig
from app.core.samples import Sample, SampleStore
from app.ui.explain_panel import ExplainPanel, ExplainRequest
from app.ui.widgets import named

if TYPE_CHECKING:
    from app.core.live import LiveWeights
    from app.ui.finetune_ui import FineTuneResultDialog
    from app.ui.main_window import MainWindow
    from app.ui.samples_window import SamplesWindow
    from app.ui.worker import TrainingWorker

log = logging.getLogger(__name__)

LIVE_STYLE = "color: #d35400;"
UNDO_DEPTH = 20  # deletions of personal samples that can be undone


def _menu(window: MainWindow, title: str) -> QMenu | None:
    for act in window.menuBar().actions():
        if act.text().replace("&", "") == title and act.menu() is not None:
            menu = act.menu()
            return menu if isinstance(menu, QMenu) else None
    return None


class LearningController(QObject):
    """Owns the personal samples, the learning menus, the Explain dock and the live weights."""

    samples_changed = Signal()
    sample_saved = Signal(object)  # the Sample just saved (or relabelled)
    finetune_finished = Signal(object)  # the before/after summary dict, or None

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.samples = SampleStore(window.store.home)
        self.finetune_config = FineTuneConfig()
        self.samples_window: SamplesWindow | None = None
        self.finetune_dialog: FineTuneResultDialog | None = None
        self.deleted: list[list[Sample]] = []  # deleted samples, for undo (the last batch last)
        self.live: LiveWeights | None = None  # the weights in training now used for predictions
        self.live_updates = 0
        self._finetune_summary: dict[str, Any] | None = None
        self._finetune_running = False
        self._last_saved: tuple[object, int] | None = None  # (drawing key, sample id)

        self.explain_panel = ExplainPanel()
        self.explain_panel.set_source(self._explain_request)
        scroll = QScrollArea()
        scroll.setWidget(self.explain_panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.explain_dock = named(QDockWidget("Explain", window), "explainDock")
        self.explain_dock.setWidget(scroll)
        self.explain_dock.setMinimumWidth(300)
        self.explain_dock.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea
                                          | Qt.DockWidgetArea.RightDockWidgetArea)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.explain_dock)
        self.explain_dock.hide()
        self.explain_dock.visibilityChanged.connect(self._explain_visibility)

        self._build_actions()
        pv = window.probability_view
        pv.digitClicked.connect(self.correct)
        pv.setCursor(Qt.CursorShape.PointingHandCursor)
        pv.setWhatsThis("Click a digit's bar to tell DigitPad what you drew.")
        window.prediction_updated.connect(self.explain_panel.request)
        window.model_changed.connect(lambda _name: self.explain_panel.request())
        window.training_finished.connect(self._on_training_finished)
        window.pad.historyChanged.connect(self._forget_if_cleared)
        if self.samples.problems:
            window.statusBar().showMessage(" ".join(self.samples.problems), 20000)

    # ------------------------------------------------------------------ menus
    def _build_actions(self) -> None:
        w = self.window
        self.label_actions: list[QAction] = []
        edit = _menu(w, "Edit")
        label_menu = QMenu("&Label the drawing as", w)
        label_menu.setObjectName("labelMenu")
        for d in range(10):
            act = QAction(f"{d}", w)
            act.setObjectName(f"labelAction{d}")
            act.setShortcut(QKeySequence(str(d)))  # keypad digits match too
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setStatusTip(f"Keep the drawing as a sample of your handwriting: a {d}")
            act.triggered.connect(lambda _c=False, digit=d: self.correct(digit))
            w.addAction(act)
            label_menu.addAction(act)
            self.label_actions.append(act)
        if edit is not None:
            edit.addSeparator()
            edit.addMenu(label_menu)

        self.samples_action = QAction("&Personal samples…", w)
        self.samples_action.setObjectName("samplesAction")
        self.samples_action.setShortcut(QKeySequence("Ctrl+P"))
        self.samples_action.setStatusTip("Your labelled drawings: view, relabel, delete, import, export")
        self.samples_action.triggered.connect(lambda _c=False: self.open_samples_window())
        self.finetune_action = QAction("Train on &my drawings", w)
        self.finetune_action.setObjectName("fineTuneAction")
        self.finetune_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.finetune_action.setStatusTip("Fine-tune the model in use on your samples (mixed with MNIST)")
        self.finetune_action.triggered.connect(lambda _c=False: self.train_on_my_drawings())
        for act in (self.samples_action, self.finetune_action):
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            w.addAction(act)
        model = _menu(w, "Model")
        if model is not None:
            model.addSeparator()
            model.addAction(self.samples_action)
            model.addAction(self.finetune_action)

        self.explain_action = self.explain_dock.toggleViewAction()
        self.explain_action.setText("&Explain the drawing")
        self.explain_action.setObjectName("explainAction")
        self.explain_action.setShortcut(QKeySequence("Ctrl+I"))
        self.explain_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.explain_action.setStatusTip("Saliency map, first-layer activations and the layers")
        w.addAction(self.explain_action)
        self.watch_action = QAction("&Watch it learn", w)
        self.watch_action.setObjectName("watchAction")
        self.watch_action.setCheckable(True)
        self.watch_action.setChecked(str(w.settings.value("learning/watch", "true")).lower() != "false")
        self.watch_action.setStatusTip("While training, predict the drawing with the weights being trained")
        self.watch_action.toggled.connect(lambda on: w.settings.setValue("learning/watch", bool(on)))
        view = QMenu("&View", w)
        view.setObjectName("viewMenu")
        view.addAction(self.explain_action)
        view.addAction(self.watch_action)
        help_menu = _menu(w, "Help")
        if help_menu is not None:
            w.menuBar().insertMenu(help_menu.menuAction(), view)
        else:
            w.menuBar().addMenu(view)
        self.view_menu = view

    # ------------------------------------------------------------------ corrections
    def _drawing_key(self) -> object:
        w = self.window
        if w.pad.has_background():
            return ("image", id(w._image_input))
        return w.pad.strokes()

    def _forget_if_cleared(self) -> None:
        if self.window.pad.is_empty():
            self._last_saved = None  # a new drawing, even if drawn the same, is a new sample

    def correct(self, digit: int) -> Any:
        """The drawing is a ``digit``: keep it as a personal sample. Returns the Sample or None."""
        w = self.window
        if w.pad.is_drawing():
            return None
        x = w._current_input
        if x is None:
            w.statusBar().showMessage("Draw a digit first, then press the right digit key "
                                      "(or click its bar) to teach DigitPad your handwriting.", 8000)
            return None
        probs = w.probability_view.probabilities()
        read_as = None if probs is None else int(np.argmax(probs))
        key = self._drawing_key()
        try:
            if self._last_saved is not None and self._last_saved[0] == key \
                    and self._last_saved[1] in self.samples.ids():
                sid = self._last_saved[1]
                old = self.samples.get(sid).label
                if old == digit:
                    w.statusBar().showMessage(f"Already saved as a {digit} — {len(self.samples)} samples "
                                              "of your handwriting.", 8000)
                    return self.samples.get(sid)
                self.samples.relabel([sid], digit)
                sample = self.samples.get(sid)
                text = f"Changed to a {digit}"
            else:
                strokes = None if w.pad.has_background() else \
                    [(s.points, s.width) for s in w.pad.strokes()]
                sample = self.samples.add(x, digit, strokes)
                self._last_saved = (key, sample.id)
                text = f"Saved as a {digit}"
        except DigitPadError as exc:
            w.show_error("Cannot save the sample", str(exc))
            return None
        n = len(self.samples)
        mine = self.samples.counts()[digit]
        extra = "" if read_as is None or read_as == digit else f" (the model read {read_as})"
        w.statusBar().showMessage(f"{text} — {n} sample{'s' if n != 1 else ''} of your handwriting"
                                  f"{extra}; {mine} of {digit}.", 10000)
        self.samples_changed.emit()
        self.sample_saved.emit(sample)
        return sample

    def delete_samples(self, ids: list[int]) -> int:
        """Delete samples; they can be brought back with :meth:`undo_delete`."""
        known = set(self.samples.ids())
        doomed = [self.samples.get(i) for i in ids if i in known]
        n = self.samples.delete(ids)
        if n:
            self.deleted.append(doomed)
            del self.deleted[:-UNDO_DEPTH]
            self.samples_changed.emit()
        return n

    def undo_delete(self) -> int:
        """Bring back the samples deleted last; returns how many came back."""
        if not self.deleted:
            return 0
        batch = self.deleted.pop()
        try:
            n = self.samples.restore(batch)
        except DigitPadError:
            self.deleted.append(batch)  # nothing lost: try again later
            raise
        self.samples_changed.emit()
        return n

    def relabel_samples(self, ids: list[int], label: int) -> int:
        n = self.samples.relabel(ids, label)
        self.samples_changed.emit()
        return n

    def import_samples(self, path: str) -> int:
        n = self.samples.import_npz(path)
        from pathlib import Path

        self.window.remember_directory(Path(path).parent)
        self.samples_changed.emit()
        self.window.statusBar().showMessage(f"Imported {n} samples — {len(self.samples)} samples of your "
                                            "handwriting.", 10000)
        return n

    def open_samples_window(self) -> SamplesWindow:
        from app.ui.samples_window import SamplesWindow

        self.samples.reload()
        if self.samples_window is None:
            self.samples_window = SamplesWindow(self, self.window)
            self.samples_window.finished.connect(lambda _r: setattr(self, "samples_window", None))
            self.samples_window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        else:
            self.samples_window.populate()
        self.samples_window.show()
        self.samples_window.raise_()
        self.samples_window.activateWindow()
        return self.samples_window

    # ------------------------------------------------------------------ fine-tuning
    def train_on_my_drawings(self) -> bool:
        """Fine-tune the model in use on the personal samples (worker thread)."""
        from app.ui.finetune_ui import FineTuneWorker

        w = self.window
        if w.is_busy():
            w.statusBar().showMessage("Busy: wait for the current job to finish.", 6000)
            return False
        base = w.current_model_name()
        if base is None:
            w.show_error("Cannot fine-tune", "No model is loaded.")
            return False
        self.samples.reload()
        n = len(self.samples)
        if n < MIN_SAMPLES:
            w.show_error("Not enough samples",
                         f"Fine-tuning needs at least {MIN_SAMPLES} samples of your handwriting (you have "
                         f"{n}). Draw a digit; when the model gets it wrong, press the right digit key.")
            return False
        worker = FineTuneWorker(w.store.home, w.store.bundled_dir, base, self.finetune_config)
        worker.finetuned.connect(self._on_finetuned, Qt.ConnectionType.QueuedConnection)
        self._finetune_summary = None
        started = w.start_training(worker=worker,
                                   title=f"Fine-tuning {base} on {n} samples of your handwriting…")
        self._finetune_running = bool(started)
        return bool(started)

    def _on_finetuned(self, summary: dict[str, Any]) -> None:
        self._finetune_summary = summary

    def _on_training_finished(self, name: object) -> None:
        if not self._finetune_running:
            return
        self._finetune_running = False
        summary, self._finetune_summary = self._finetune_summary, None
        if name is None or summary is None or self.window._closing:
            self.finetune_finished.emit(None)
            return
        from app.ui.finetune_ui import FineTuneResultDialog

        before, after = summary["before"], summary["after"]
        if before["personal"] is not None and after["personal"] is not None:
            self.window.train_status.setText(
                f"Fine-tuned {summary['base']} → {name}: your held-out samples "
                f"{before['personal'] * 100:.0f} % → {after['personal'] * 100:.0f} %, MNIST "
                f"{before['mnist'] * 100:.2f} % → {after['mnist'] * 100:.2f} %.")
        if self.finetune_dialog is not None:
            self.finetune_dialog.close()
        dlg = FineTuneResultDialog(self.window, summary, self.samples)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.finished.connect(lambda _r: setattr(self, "finetune_dialog", None))
        self.finetune_dialog = dlg
        dlg.show()
        self.finetune_finished.emit(summary)

    # ------------------------------------------------------------------ watch it learn
    def training_started(self, worker: TrainingWorker) -> None:
        """Called by the window before a training worker starts."""
        worker.watch_learning = self.watch_action.isChecked()
        worker.live_weights.connect(self._on_live_weights, Qt.ConnectionType.QueuedConnection)
        if self.samples_window is not None:
            self.samples_window._update_buttons()

    def _on_live_weights(self, info: LiveWeights) -> None:
        w = self.window
        if not w.is_training() or w._closing or not self.watch_action.isChecked():
            return
        try:
            predictor = info.predictor()
            predictor.predict(np.zeros((28, 28), np.float32))
        except Exception:  # the file went with the end of training: nothing to show
            log.debug("cannot load the live weights", exc_info=True)
            return
        self.live = info
        self.live_updates += 1
        w.live_predictor = predictor
        text = f"Live: weights in training, {info.describe()}"
        w.model_label.setText(f"<span style='{LIVE_STYLE}'><b>{text}</b></span><br>"
                              "<span style='color:gray'>the model being trained reads your drawing</span>")
        w.status_model.setText(text)
        w.update_prediction()

    def weights_in_use(self) -> str:
        """What predicts the drawing now: "Live: weights in training, …" or "Model: <name>"."""
        return self.window.status_model.text()

    def training_ended(self) -> None:
        """Called by the window when a training thread has ended (before training_finished)."""
        w = self.window
        had_live = w.live_predictor is not None
        w.live_predictor = None
        self.live = None
        if had_live:
            w._show_model_info()
            w.update_prediction()
        if self.samples_window is not None:
            self.samples_window._update_buttons()

    # ------------------------------------------------------------------ explain
    def _explain_visibility(self, visible: bool) -> None:
        if visible:
            self.explain_panel.request()

    def _explain_request(self) -> ExplainRequest | None:
        w = self.window
        x = w._current_input
        if x is None:
            return None
        if w.live_predictor is not None and self.live is not None:
            # The NumPy network is shared (it is immutable); an exported file gets its own
            # interpreter on the explain thread, so the live prediction never waits for it.
            live_file = None if self.live.path is None else str(self.live.path)
            return ExplainRequest(seq=0, x=np.array(x, np.float32), tflite_path=live_file,
                                  keras_path=None, anatomy=self.live.anatomy, predictor=self.live.net,
                                  label=f"Weights in training ({self.live.describe()})")
        entry = w.model_entry
        if entry is None:
            return None
        try:
            tflite, keras = str(entry.tflite_path), str(entry.keras_path)
        except DigitPadError:
            return None
        return ExplainRequest(seq=0, x=np.array(x, np.float32), tflite_path=tflite, keras_path=keras,
                              label=f"Model: {entry.name}")

    def shutdown(self) -> None:
        self.explain_panel.shutdown()
