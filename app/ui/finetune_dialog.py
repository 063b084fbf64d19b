"""The result of Model ▸ Train on my drawings: accuracy before and after, the held-out samples."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.samples import SampleStore
from app.ui.progress import FineTuneSummary
from app.ui.screenfit import resize_within_screen
from app.ui.style import muted, named, table_item
from app.ui.thumbs import DigitGrid


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f} %"


class FineTuneResultDialog(QDialog):
    """Accuracy before and after fine-tuning; the held-out samples with both predictions;
    a button to switch back to the base model."""

    def __init__(self, summary: FineTuneSummary, samples: SampleStore, use: Callable[[str], bool],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._use = use  # switch live prediction to a model; True if it worked
        self.summary = summary
        self.setObjectName("fineTuneDialog")
        self.setWindowTitle("Trained on your drawings")
        before, after = summary.before, summary.after
        base, new = summary.base, summary.name
        n_ho = before.personal_count
        head = named(QLabel(), "fineTuneHeadline")
        head.setWordWrap(True)
        if before.personal is not None and after.personal is not None:
            head.setText(
                f"<b>{new}</b> is {base} fine-tuned on {summary.train_count} of your samples "
                f"(mixed with {summary.mnist_images} MNIST images, {summary.epochs} epochs). "
                f"On your {n_ho} held-out samples it reads <b>{_pct(after.personal)}</b> "
                f"(before: {_pct(before.personal)}).")
        else:
            head.setText(f"<b>{new}</b> is {base} fine-tuned on {summary.train_count} of your samples. "
                         "Too few samples to hold some out for measuring: draw and correct more digits.")

        self.table = named(QTableWidget(2, 2), "fineTuneTable")
        self.table.setHorizontalHeaderLabels([f"Before ({base})", f"After ({new})"])
        self.table.setVerticalHeaderLabels([f"Your handwriting ({n_ho} held out)",
                                            f"MNIST test set ({after.mnist_count})"])
        self.table.setItem(0, 0, table_item(_pct(before.personal), align_right=True))
        self.table.setItem(0, 1, table_item(_pct(after.personal), align_right=True))
        self.table.setItem(1, 0, table_item(f"{before.mnist * 100:.2f} %", align_right=True))
        self.table.setItem(1, 1, table_item(f"{after.mnist * 100:.2f} %", align_right=True))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setFixedHeight(self.table.verticalHeader().length()
                                  + self.table.horizontalHeader().height() + 4)

        self.grid = named(DigitGrid(icon_size=48), "holdoutGrid")
        ids = summary.holdout_ids
        labels = summary.holdout_labels
        pb, pa = before.personal_predictions, after.personal_predictions
        for i, sid in enumerate(ids):
            try:
                img = samples.get(int(sid)).image
            except Exception:  # deleted meanwhile
                continue
            mark_b = "✓" if pb[i] == labels[i] else "✗"
            mark_a = "✓" if pa[i] == labels[i] else "✗"
            self.grid.add_digit(int(sid), img, f"{pb[i]}{mark_b}→{pa[i]}{mark_a}",
                                f"A {labels[i]}: read as {pb[i]} before, {pa[i]} after fine-tuning")
        if summary.activated:
            self.switch_button = named(QPushButton(f"Switch back to {base}"), "switchBackButton")
            self.switch_button.clicked.connect(self.switch_back)
            keep = named(QPushButton(f"Keep {new}"), "keepButton")
        else:  # not as good as the model in use: that one stays unless the user says so
            head.setText(head.text() + f"<br><b>Not in use</b>: it is not as good on everything "
                         f"({summary.comparison}). It is kept in the store.")
            self.switch_button = named(QPushButton(f"Use {new}"), "useNewModelButton")
            self.switch_button.clicked.connect(self.use_new)
            keep = named(QPushButton(f"Keep {base}"), "keepButton")
        keep.clicked.connect(self.accept)
        keep.setDefault(True)
        self.message = named(QLabel(""), "fineTuneMessage")
        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.switch_button)
        buttons.addWidget(keep)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(self.table)
        if ids:
            cap = QLabel("Held-out samples (not trained on): prediction before → after")
            muted(cap)
            layout.addWidget(cap)
            layout.addWidget(self.grid, 1)
        layout.addLayout(buttons)
        resize_within_screen(self, 600, 440)

    def use_new(self) -> bool:
        name = self.summary.name
        ok = self._use(name)
        self.message.setText(f"Now using {name}." if ok else f"Could not switch to {name}.")
        self.switch_button.setEnabled(not ok)
        return ok

    def switch_back(self) -> bool:
        base = self.summary.base
        ok = self._use(base)
        self.message.setText(f"Now using {base} again (Manage models switches any time)." if ok
                             else f"Could not switch back to {base}.")
        self.switch_button.setEnabled(not ok)
        return ok
