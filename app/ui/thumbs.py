"""Digit thumbnails: 28x28 images as icons (optionally with a small probability bar chart),
and a grid of them (a QListWidget in icon mode) used by the evaluation view, the personal
samples window and the fine-tune result."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

ACCENT = QColor("#2f9e7e")
WRONG = QColor("#c0392b")
BAR = QColor("#8a93a6")
BAR_BG = QColor("#2a2f3a")
INK_BG = QColor("#15181f")

ROLE_KEY = Qt.ItemDataRole.UserRole  # what an item stands for (sample id, test index …)


def gray_qimage(x: np.ndarray) -> QImage:
    """A (28, 28) uint8 (0..255) or float (0..1) image as a grayscale QImage (ink white)."""
    a = np.asarray(x)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    a = np.ascontiguousarray(a.reshape(28, 28))
    return QImage(a.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()


def digit_pixmap(x: np.ndarray, size: int = 56, probs: Sequence[float] | np.ndarray | None = None,
                 true_label: int | None = None) -> QPixmap:
    """The digit scaled to ``size`` px (no smoothing), with a 10-bar chart of ``probs`` below."""
    bars_h = 0 if probs is None else max(10, size // 4)
    pm = QPixmap(size, size + bars_h)
    pm.fill(INK_BG)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
    p.drawImage(QRectF(0, 0, size, size), gray_qimage(x))
    if probs is not None:
        pr = [float(v) for v in probs]
        top = int(np.argmax(pr))
        w = size / 10.0
        y0 = size + 1
        h = bars_h - 2
        for d, v in enumerate(pr):
            p.fillRect(QRectF(d * w + 0.5, y0, w - 1, h), BAR_BG)
            color = WRONG if (d == top and true_label is not None and d != true_label) else (
                ACCENT if d in (top, true_label) else BAR)
            vh = max(1.0, h * min(1.0, max(0.0, v)))
            p.fillRect(QRectF(d * w + 0.5, y0 + h - vh, w - 1, vh), color)
    p.end()
    return pm


class DigitGrid(QListWidget):
    """Thumbnails in a wrapping grid; each item keeps a key (``ROLE_KEY``)."""

    def __init__(self, parent: QWidget | None = None, icon_size: int = 56, bars: bool = False,
                 wrapping: bool = True, captions: bool = True) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWrapping(wrapping)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setUniformItemSizes(True)
        self.setSpacing(3)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._icon = icon_size
        self._bars = bars
        h = icon_size + (max(10, icon_size // 4) if bars else 0)
        self.setIconSize(QSize(icon_size, h))
        if not captions:  # no text line under the thumbnails
            self.setGridSize(QSize(icon_size + 8, h + 8))
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1.5))
        self.setFont(small)

    def add_digit(self, key: object, x: np.ndarray, text: str = "", tooltip: str = "",
                  probs: Sequence[float] | np.ndarray | None = None,
                  true_label: int | None = None) -> QListWidgetItem:
        item = QListWidgetItem(QIcon(digit_pixmap(x, self._icon, probs if self._bars else None,
                                                  true_label)), text)
        item.setData(ROLE_KEY, key)
        if tooltip:
            item.setToolTip(tooltip)
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.addItem(item)
        return item

    def item_keys(self) -> list[object]:
        return [self.item(i).data(ROLE_KEY) for i in range(self.count())]

    def selected_keys(self) -> list[object]:
        return [it.data(ROLE_KEY) for it in self.selectedItems()]

    def item_for(self, key: object) -> QListWidgetItem | None:
        for i in range(self.count()):
            if self.item(i).data(ROLE_KEY) == key:
                return self.item(i)
        return None


def probs_tooltip(probs: Sequence[float] | np.ndarray, true_label: int | None = None) -> str:
    """An HTML tooltip: the ten probabilities, most likely first."""
    pr = [float(v) for v in probs]
    order = sorted(range(10), key=lambda d: -pr[d])
    head = "" if true_label is None else f"<b>true {true_label}</b>, predicted <b>{order[0]}</b><br>"
    rows = "".join(
        f"<tr><td>{d}</td><td align='right'>{pr[d] * 100:.1f} %</td></tr>" for d in order[:4])
    return f"{head}<table>{rows}</table>"
