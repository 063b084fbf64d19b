"""Model ▸ Evaluate: accuracy, per-class accuracy, a clickable confusion-matrix heat map
(a cell opens the test digits behind it) and a gallery of the misclassified test digits,
each with its ten probabilities (small bar chart and tooltip).

The numbers come from a worker (LiteRT on the 10000 test images); this module shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.evaluation import Evaluation
from app.ui.screenfit import resize_within_screen
from app.ui.style import heat, mistakes, named, table_item
from app.ui.thumbs import DigitGrid, probs_tooltip

GALLERY_LIMIT = 400  # thumbnails shown at most in one grid (the most confident first)


@dataclass
class EvalDetails:
    """Per-image results behind an :class:`Evaluation` (test images, labels, probabilities)."""

    x: np.ndarray  # (N, 28, 28) uint8
    y: np.ndarray  # (N,)
    probs: np.ndarray  # (N, 10) float32

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.probs, axis=1)

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Indices of the test images of digit ``true`` predicted as ``predicted``,
        the most confident first."""
        idx = np.flatnonzero((np.asarray(self.y) == true) & (self.predicted == predicted))
        return idx[np.argsort(-self.probs[idx, predicted], kind="stable")]

    def misclassified(self) -> np.ndarray:
        """Indices of the wrongly predicted images, the most confident mistakes first."""
        pred = self.predicted
        idx = np.flatnonzero(pred != np.asarray(self.y))
        return idx[np.argsort(-self.probs[idx, pred[idx]], kind="stable")]


def _fill_grid(grid: DigitGrid, details: EvalDetails, indices: np.ndarray) -> None:
    grid.setUpdatesEnabled(False)
    try:
        for i in indices[:GALLERY_LIMIT]:
            i = int(i)
            true = int(details.y[i])
            pr = details.probs[i]
            pred = int(np.argmax(pr))
            grid.add_digit(i, details.x[i], f"{true}→{pred}" if pred != true else f"{pred}",
                           f"Test image #{i}<br>" + probs_tooltip(pr, true), probs=pr, true_label=true)
    finally:
        grid.setUpdatesEnabled(True)


class CellDigitsDialog(QDialog):
    """The test digits behind one confusion-matrix cell."""

    def __init__(self, details: EvalDetails, true: int, predicted: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cellDigitsDialog")
        self.true, self.predicted = true, predicted
        self.indices = details.cell(true, predicted)
        n = len(self.indices)
        what = f"{true}s recognised as {predicted}" if true != predicted else f"{true}s recognised correctly"
        self.setWindowTitle(f"True {true}, predicted {predicted}")
        more = f" (the {GALLERY_LIMIT} most confident shown)" if n > GALLERY_LIMIT else ""
        self.title = named(QLabel(f"<b>{n}</b> test {what}{more}. Below each digit: the model's ten "
                                  "probabilities (hover for the numbers)."), "cellTitle")
        self.title.setWordWrap(True)
        self.grid = named(DigitGrid(icon_size=56, bars=True), "cellGrid")
        _fill_grid(self.grid, details, self.indices)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.grid, 1)
        layout.addWidget(close)
        resize_within_screen(self, 560, 420)


class EvaluationView(QDialog):
    """Accuracy, per-class accuracy, the confusion matrix (click a cell: its digits) and
    the misclassified test digits."""

    def __init__(self, name: str, evaluation: Evaluation, details: EvalDetails | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationDialog")
        self.setWindowTitle(f"Evaluation of {name}")
        self.evaluation = evaluation
        self.details = details
        self.cell_dialog: CellDigitsDialog | None = None
        ev = evaluation
        title = named(QLabel(), "accuracyLabel")
        title.setText(f"<b>{name}</b>: test accuracy <b>{ev.accuracy * 100:.2f} %</b> "
                      f"on {ev.count} MNIST test images ({ev.count - round(ev.accuracy * ev.count)} wrong); "
                      f"{ev.not_a_digit} wrongly called \"not a digit\"")

        self.per_class = named(QTableWidget(1, 10), "perClassTable")
        self.per_class.setHorizontalHeaderLabels([str(d) for d in range(10)])
        self.per_class.setVerticalHeaderLabels(["accuracy"])
        for d, acc in enumerate(ev.per_class):
            it = table_item(f"{acc * 100:.1f} %", align_right=True)
            it.setBackground(QBrush(heat((acc - 0.8) / 0.2)))
            it.setForeground(QBrush(QColor("#000000")))
            self.per_class.setItem(0, d, it)

        self.confusion = named(QTableWidget(10, 10), "confusionTable")
        self.confusion.setHorizontalHeaderLabels([f"→{d}" for d in range(10)])
        self.confusion.setVerticalHeaderLabels([f"{d}" for d in range(10)])
        click = " Click to see them." if details is not None else ""
        for t in range(10):
            row_total = max(1, sum(ev.confusion[t]))
            for p in range(10):
                n = ev.confusion[t][p]
                it = table_item(str(n), align_right=True)
                frac = n / row_total
                it.setBackground(QBrush(heat(frac) if t == p else mistakes(n, frac)))
                it.setForeground(QBrush(QColor("#ffffff" if t == p and frac > 0.6 else "#000000")))
                it.setToolTip(f"true {t}, predicted {p}: {n} ({frac * 100:.1f} % of the {t}s).{click}")
                self.confusion.setItem(t, p, it)
        for table in (self.per_class, self.confusion):
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.per_class.setFixedHeight(self.per_class.verticalHeader().length()
                                      + self.per_class.horizontalHeader().height() + 4)
        self.confusion.setMinimumHeight(self.confusion.verticalHeader().length()
                                        + self.confusion.horizontalHeader().height() + 4)
        self.confusion.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.confusion.cellClicked.connect(self.open_cell)

        overview = QWidget()
        ov = QVBoxLayout(overview)
        ov.addWidget(QLabel("Per-class accuracy:"))
        ov.addWidget(self.per_class)
        hint = "  Click a cell to see the test digits behind it." if details is not None else ""
        cap = QLabel(f"Confusion matrix (rows: true digit, columns: predicted digit).{hint}")
        cap.setWordWrap(True)
        ov.addWidget(cap)
        ov.addWidget(self.confusion, 1)

        self.tabs = named(QTabWidget(), "evaluationTabs")
        self.tabs.addTab(overview, "Confusion matrix")
        self.gallery: DigitGrid | None = None
        if details is not None:
            wrong = details.misclassified()
            page = QWidget()
            gl = QVBoxLayout(page)
            more = (f" — the {GALLERY_LIMIT} most confident mistakes shown" if len(wrong) > GALLERY_LIMIT
                    else " — the most confident mistakes first")
            gl.addWidget(QLabel(f"{len(wrong)} misclassified test digits{more}. Each shows true→predicted "
                                "and the ten probabilities (hover for the numbers)."))
            self.gallery = named(DigitGrid(icon_size=56, bars=True), "misclassifiedGrid")
            _fill_grid(self.gallery, details, wrong)
            gl.addWidget(self.gallery, 1)
            self.tabs.addTab(page, f"Misclassified ({len(wrong)})")

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(close)
        resize_within_screen(self, 660, 600)

    def open_cell(self, true: int, predicted: int) -> CellDigitsDialog | None:
        """Show the test digits of confusion cell (``true``, ``predicted``)."""
        if self.details is None:
            return None
        if self.cell_dialog is not None:
            self.cell_dialog.close()
        dlg = CellDigitsDialog(self.details, true, predicted, self)
        self.cell_dialog = dlg
        dlg.show()
        return dlg
