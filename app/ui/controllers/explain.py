"""The Explain dock (View ▸ Explain the drawing): what it explains and when."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QScrollArea

from app.core.errors import DigitPadError
from app.ui.controllers.learning import LearningController
from app.ui.controllers.live import LivePrediction
from app.ui.controllers.models import ModelsController
from app.ui.explain_panel import ExplainPanel
from app.ui.explain_service import ExplainRequest
from app.ui.jobs import Jobs
from app.ui.style import named


class ExplainController(QObject):
    """Feeds the Explain panel the current drawing and the weights that predict it."""

    def __init__(self, live: LivePrediction, models: ModelsController, learning: LearningController,
                 jobs: Jobs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.live = live
        self.models = models
        self.learning = learning
        self.panel = ExplainPanel(jobs)
        self.panel.set_source(self.request)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dock = named(QDockWidget("Explain"), "explainDock")
        self.dock.setWidget(scroll)
        self.dock.setMinimumWidth(290)
        areas = Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
        self.dock.setAllowedAreas(areas)
        self.dock.hide()
        self.dock.visibilityChanged.connect(self._visibility)
        self.action = self.dock.toggleViewAction()
        self.action.setText("&Explain the drawing")
        self.action.setObjectName("explainAction")
        self.action.setShortcut(QKeySequence("Ctrl+I"))
        self.action.setStatusTip("Saliency map, first-layer activations and the layers")
        live.updated.connect(self.panel.request)
        models.changed.connect(self._model_changed)

    @Slot(bool)
    def _visibility(self, visible: bool) -> None:
        if visible:
            self.panel.request()

    @Slot(str)
    def _model_changed(self, _name: str) -> None:
        self.panel.request()

    def request(self) -> ExplainRequest | None:
        """What to explain now: the drawing, with the weights in training or the model in use."""
        x = self.live.current_input
        if x is None:
            return None
        weights = self.learning.live_weights
        if self.live.override is not None and weights is not None:
            # The NumPy network is shared (it is immutable); an exported file gets its own
            # interpreter in the explain worker, so the live prediction never waits for it.
            live_file = None if weights.path is None else str(weights.path)
            return ExplainRequest(seq=0, x=np.array(x, np.float32), tflite_path=live_file, keras_path=None,
                                  anatomy=weights.anatomy, predictor=weights.net,
                                  label=f"Weights in training ({weights.describe()})",
                                  not_a_digit=self.live.not_a_digit())
        entry = self.models.entry
        if entry is None:
            return None
        try:
            tflite, keras = str(entry.tflite_path), str(entry.keras_path)
        except DigitPadError:
            return None
        return ExplainRequest(seq=0, x=np.array(x, np.float32), tflite_path=tflite, keras_path=keras,
                              label=f"Model: {entry.name}", not_a_digit=self.live.not_a_digit())

    def shutdown(self) -> None:
        self.panel.shutdown()
