"""The user's personal samples as the windows see them: the store, an undo stack for
deletions, and a ``changed`` signal for every view that lists them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.core.errors import DigitPadError
from app.core.samples import Sample, SampleStore, StrokeData

UNDO_DEPTH = 20  # deletions that can be undone


class PersonalSamples(QObject):
    """A :class:`SampleStore` that says when it changed and can undo deletions."""

    changed = Signal()

    def __init__(self, home: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = SampleStore(home)
        self.deleted: list[list[Sample]] = []  # deleted samples, for undo (the last batch last)

    def __len__(self) -> int:
        return len(self.store)

    def add(self, image: np.ndarray, label: int, strokes: Iterable[StrokeData] | None) -> Sample:
        sample = self.store.add(image, label, strokes)
        self.changed.emit()
        return sample

    def relabel(self, ids: list[int], label: int) -> int:
        n = self.store.relabel(ids, label)
        self.changed.emit()
        return n

    def delete(self, ids: list[int]) -> int:
        """Delete samples; :meth:`undo_delete` brings them back."""
        known = set(self.store.ids())
        doomed = [self.store.get(i) for i in ids if i in known]
        n = self.store.delete(ids)
        if n:
            self.deleted.append(doomed)
            del self.deleted[:-UNDO_DEPTH]
            self.changed.emit()
        return n

    def undo_delete(self) -> int:
        """Bring back the samples deleted last; returns how many came back."""
        if not self.deleted:
            return 0
        batch = self.deleted.pop()
        try:
            n = self.store.restore(batch)
        except DigitPadError:
            self.deleted.append(batch)  # nothing lost: try again later
            raise
        self.changed.emit()
        return n

    def import_npz(self, path: str) -> int:
        n = self.store.import_npz(path)
        self.changed.emit()
        return n
