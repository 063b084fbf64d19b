"""Model ▸ Train on my drawings: the fine-tuning worker and the before/after result window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
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

from app.core.finetune import FineTuneConfig
from app.core.training import TrainConfig
from app.ui.dialogs import _item
from app.ui.thumbs import DigitGrid
from app.ui.widgets import named
from app.ui.worker import TrainingWorker

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class FineTuneWorker(TrainingWorker):
    """Fine-tunes the model ``base_name`` on the personal samples, saves the result as a new
    model (made active) and reports before/after scores through :attr:`finetuned`."""

    finetuned = Signal(object)  # dict: base, name, before, after, holdout ids/labels, seconds

    def __init__(self, home: Path, bundled_dir: Path, base_name: str, config: FineTuneConfig) -> None:
        super().__init__(TrainConfig(), home, bundled_dir)
        self.base_name = base_name
        self.ft_config = config

    def work(self) -> str | None:
        from app.core.finetune import fine_tune
        from app.core.samples import SampleStore
        from app.core.store import ModelStore

        store = ModelStore(home=self.home, bundled_dir=self.bundled_dir)
        base = store.get(self.base_name)
        samples = SampleStore(self.home)
        x, y = samples.arrays()
        listener = self.make_listener()
        try:
            result = fine_tune(base, (x, y, samples.ids()), listener, self.ft_config)
        finally:
            close = getattr(listener, "close", None)
            if close is not None:
                close()
        if result.cancelled or self.is_cancelled() or result.after is None:
            return None
        self.status.emit("Saving the fine-tuned model…")
        from app.core.finetune import save_fine_tuned

        entry = save_fine_tuned(store, result, "DigitPad window (Train on my drawings)")
        self.finetuned.emit({
            "base": self.base_name, "name": entry.name,
            "before": result.before.to_dict(), "after": result.after.to_dict(),
            "holdout_ids": result.holdout_ids, "holdout_labels": result.holdout_labels,
            "train_count": len(result.train_ids), "seconds": result.seconds,
            "epochs": self.ft_config.epochs, "mnist_images": self.ft_config.mnist_images,
        })
        return entry.name


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f} %"


class FineTuneResultDialog(QDialog):
    """Accuracy before and after fine-tuning; the held-out samples with both predictions;
    a button to switch back to the base model."""

    def __init__(self, window: MainWindow, summary: dict[str, Any], samples: Any,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.window_ = window
        self.summary = summary
        self.setObjectName("fineTuneDialog")
        self.setWindowTitle("Trained on your drawings")
        before, after = summary["before"], summary["after"]
        base, new = summary["base"], summary["name"]
        n_ho = int(before["personal_count"])
        head = named(QLabel(), "fineTuneHeadline")
        head.setWordWrap(True)
        if before["personal"] is not None and after["personal"] is not None:
            head.setText(
                f"<b>{new}</b> is {base} fine-tuned on {summary['train_count']} of your samples "
                f"(mixed with {summary['mnist_images']} MNIST images, {summary['epochs']} epochs). "
                f"On your {n_ho} held-out samples it reads <b>{_pct(after['personal'])}</b> "
                f"(before: {_pct(before['personal'])}).")
        else:
            head.setText(f"<b>{new}</b> is {base} fine-tuned on {summary['train_count']} of your samples. "
                         "Too few samples to hold some out for measuring: draw and correct more digits.")

        self.table = named(QTableWidget(2, 2), "fineTuneTable")
        self.table.setHorizontalHeaderLabels([f"Before ({base})", f"After ({new})"])
        self.table.setVerticalHeaderLabels([f"Your handwriting ({n_ho} held out)",
                                            f"MNIST test set ({after['mnist_count']})"])
        self.table.setItem(0, 0, _item(_pct(before["personal"]), align_right=True))
        self.table.setItem(0, 1, _item(_pct(after["personal"]), align_right=True))
        self.table.setItem(1, 0, _item(f"{before['mnist'] * 100:.2f} %", align_right=True))
        self.table.setItem(1, 1, _item(f"{after['mnist'] * 100:.2f} %", align_right=True))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setFixedHeight(self.table.verticalHeader().length()
                                  + self.table.horizontalHeader().height() + 4)

        self.grid = named(DigitGrid(icon_size=48), "holdoutGrid")
        ids = summary["holdout_ids"]
        labels = summary["holdout_labels"]
        pb, pa = before["personal_predictions"], after["personal_predictions"]
        for i, sid in enumerate(ids):
            try:
                img = samples.get(int(sid)).image
            except Exception:  # deleted meanwhile
                continue
            mark_b = "✓" if pb[i] == labels[i] else "✗"
            mark_a = "✓" if pa[i] == labels[i] else "✗"
            self.grid.add_digit(int(sid), img, f"{pb[i]}{mark_b}→{pa[i]}{mark_a}",
                                f"A {labels[i]}: read as {pb[i]} before, {pa[i]} after fine-tuning")
        self.switch_button = named(QPushButton(f"Switch back to {base}"), "switchBackButton")
        self.switch_button.clicked.connect(self.switch_back)
        keep = named(QPushButton(f"Keep {new}"), "keepButton")
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
            cap.setStyleSheet("color: gray;")
            layout.addWidget(cap)
            layout.addWidget(self.grid, 1)
        layout.addLayout(buttons)
        self.resize(600, 440)

    def switch_back(self) -> bool:
        base = str(self.summary["base"])
        ok = self.window_.use_model(base)
        self.message.setText(f"Now using {base} again (Manage models switches any time)." if ok
                             else f"Could not switch back to {base}.")
        self.switch_button.setEnabled(not ok)
        return ok
