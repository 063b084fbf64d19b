"""Shared look: object names, table cells, heat-map colours and style sheets used by several views."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import QTableWidgetItem

from app.core import paths

ERROR_STYLE = "color: #c0392b; font-weight: 600;"
LIVE_STYLE = "color: #d35400;"

W = TypeVar("W", bound=QObject)


def named(obj: W, name: str) -> W:
    """Set ``obj``'s objectName (tests and style sheets find widgets by it) and return it."""
    obj.setObjectName(name)
    return obj


def table_item(text: str, data: object = None, align_right: bool = False) -> QTableWidgetItem:
    """A read-only table cell, optionally carrying ``data`` (UserRole) and right-aligned."""
    it = QTableWidgetItem(text)
    it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if data is not None:
        it.setData(Qt.ItemDataRole.UserRole, data)
    if align_right:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return it


def heat(value: float) -> QColor:
    """White → teal for 0..1 (accuracies, the confusion matrix's diagonal)."""
    v = min(1.0, max(0.0, value))
    a, b = QColor("#ffffff"), QColor("#1f8a70")
    return QColor(round(a.red() + (b.red() - a.red()) * v), round(a.green() + (b.green() - a.green()) * v),
                  round(a.blue() + (b.blue() - a.blue()) * v))


def mistakes(n: int, frac: float) -> QColor:
    """Off-diagonal cells: white when empty; any mistake visibly pink, darker the more."""
    if n == 0:
        return QColor("#ffffff")
    v = min(1.0, (0.0125 + 0.0375 * min(1.0, frac * 20)) * 20)
    return QColor(255, round(255 - 120 * v), round(255 - 120 * v))


def app_icon() -> QIcon:
    """DigitPad's icon in the sizes shipped with it."""
    icon = QIcon()
    folder = paths.resources_dir() / "icons"
    for name in ("digitpad-32.png", "digitpad-64.png", "digitpad-128.png", "digitpad.png"):
        if (folder / name).is_file():
            icon.addFile(str(folder / name))
    return icon
