"""Shared look: object names, table cells, heat-map colours, style sheets, and the colours of
the custom-painted widgets for a light or a dark palette.

Qt 6 hands the system's colour scheme to widgets through their palette; the widgets that
paint themselves (pad, probability bars, training chart, tour) take their colours from here,
by the palette they have, so they stay readable in both. ``DIGITPAD_COLOR_SCHEME`` (``light``
/ ``dark``) overrides the system's choice where it is not passed on to Qt.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QTableWidgetItem, QWidget

from app.core import paths

ERROR_STYLE = "color: #c0392b; font-weight: 600;"
LIVE_STYLE = "color: #d35400;"

W = TypeVar("W", bound=QObject)
Wd = TypeVar("Wd", bound=QWidget)


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


# --------------------------------------------------------------------------- light and dark
PAD_BACKGROUND = QColor("#15181f")
PAD_INK = QColor("#f4f6fb")


def is_dark(palette: QPalette) -> bool:
    """Whether ``palette`` is a dark one (light text on a dark window)."""
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a fraction ``t`` of the way towards ``b``."""
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def muted_text(palette: QPalette, background: QPalette.ColorRole = QPalette.ColorRole.Base) -> QColor:
    """Secondary text (hints, notes): softer than the text, still readable on ``background``."""
    return mix(palette.color(QPalette.ColorRole.Text), palette.color(background), 0.38)


class _TextColor(QObject):
    """Keeps a widget's text colour a function of its palette, through palette changes."""

    def __init__(self, widget: QWidget, color_of: Callable[[QPalette], QColor]) -> None:
        super().__init__(widget)
        self.widget = widget
        self.color_of = color_of
        widget.installEventFilter(self)
        self.apply()

    def apply(self) -> None:
        pal = self.widget.palette()
        color = self.color_of(pal)
        if pal.color(QPalette.ColorRole.WindowText) != color:
            pal.setColor(QPalette.ColorRole.WindowText, color)
            self.widget.setPalette(pal)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.PaletteChange:
            self.apply()
        return False


def text_color(widget: QWidget, color_of: Callable[[QPalette], QColor]) -> None:
    """Colour ``widget``'s text (a label's) by ``color_of(palette)``, now and whenever the
    palette changes (light / dark); a style sheet's fixed colour would not follow."""
    keeper = widget.findChild(_TextColor, options=Qt.FindChildOption.FindDirectChildrenOnly)
    if keeper is None:
        _TextColor(widget, color_of)
    else:
        keeper.color_of = color_of
        keeper.apply()


def muted(widget: Wd) -> Wd:
    """Secondary text (captions, hints) in :func:`muted_text`'s colour; returns ``widget``."""
    text_color(widget, lambda pal: muted_text(pal, QPalette.ColorRole.Window))
    return widget


def muted_span(widget: QWidget, text: str) -> str:
    """``text`` as rich text in :func:`muted_text`'s colour for ``widget``'s palette (a part
    of a label's text, set with :func:`rich_text` so that it follows the palette)."""
    color = muted_text(widget.palette(), QPalette.ColorRole.Window).name()
    return f"<span style='color:{color}'>{text}</span>"


class _RichText(QObject):
    """Keeps a label's rich text composed for its palette, through palette changes."""

    def __init__(self, label: QLabel, compose: Callable[[], str]) -> None:
        super().__init__(label)
        self.label, self.compose, self.last = label, compose, ""
        label.installEventFilter(self)

    def apply(self) -> None:
        self.last = self.compose()
        self.label.setText(self.last)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # (only while the text is still ours: a plain setText since then wins)
        if event.type() == QEvent.Type.PaletteChange and self.label.text() == self.last:
            self.apply()
        return False


def rich_text(label: QLabel, compose: Callable[[], str]) -> None:
    """Set ``label``'s text to ``compose()`` now and again whenever its palette changes, so
    that the colours it takes from the palette (:func:`muted_span`) follow light / dark."""
    keeper = label.findChild(_RichText, options=Qt.FindChildOption.FindDirectChildrenOnly)
    if keeper is None:
        keeper = _RichText(label, compose)
    keeper.compose = compose
    keeper.apply()


class PadColors(NamedTuple):
    background: QColor
    ink: QColor
    frame: QColor
    hint: QColor


def pad_colors(palette: QPalette) -> PadColors:
    """The pad is a dark slate with light ink in both schemes (the model sees white ink on
    black, as the preview shows); its frame and hint keep their contrast with the window."""
    if is_dark(palette):
        return PadColors(PAD_BACKGROUND, PAD_INK, QColor("#6a7488"), QColor("#8a93a6"))
    return PadColors(PAD_BACKGROUND, PAD_INK, QColor("#3a4152"), QColor("#7c859a"))


class BarColors(NamedTuple):
    accent: QColor  # the most likely digit
    bar: QColor
    track: QColor  # the empty part of a bar


def bar_colors(palette: QPalette) -> BarColors:
    if is_dark(palette):
        return BarColors(QColor("#3fbf98"), QColor("#8593b3"), QColor(255, 255, 255, 34))
    return BarColors(QColor("#2c9677"), QColor("#6b7a99"), QColor(127, 127, 127, 40))


class ChartColors(NamedTuple):
    loss: QColor
    accuracy: QColor
    grid: QColor
    text: QColor
    muted: QColor
    background: QColor


def chart_colors(palette: QPalette) -> ChartColors:
    text = palette.color(QPalette.ColorRole.Text)
    base = palette.color(QPalette.ColorRole.Base)
    if is_dark(palette):
        loss, acc, grid = QColor("#f0925a"), QColor("#74a8ff"), QColor(255, 255, 255, 40)
    else:
        loss, acc, grid = QColor("#d4692c"), QColor("#2f6fd6"), QColor(0, 0, 0, 34)
    return ChartColors(loss, acc, grid, text, muted_text(palette), base)


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two opaque colours (1 = none, 21 = black on white)."""
    def lum(c: QColor) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style (where the platform gives none)."""
    pal = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    for r, c in ((role.Window, "#2b2d31"), (role.WindowText, "#e8e9eb"), (role.Base, "#1e2024"),
                 (role.AlternateBase, "#27292e"), (role.Text, "#e8e9eb"), (role.Button, "#35383e"),
                 (role.ButtonText, "#e8e9eb"), (role.BrightText, "#ff6b6b"), (role.Light, "#4a4e55"),
                 (role.Midlight, "#3e4147"), (role.Mid, "#26282c"), (role.Dark, "#18191c"),
                 (role.Shadow, "#0b0c0d"), (role.Highlight, "#2f7fd0"), (role.HighlightedText, "#ffffff"),
                 (role.Link, "#74a8ff"), (role.LinkVisited, "#b28cff"), (role.ToolTipBase, "#35383e"),
                 (role.ToolTipText, "#e8e9eb"), (role.PlaceholderText, "#8d9199")):
        pal.setColor(r, QColor(c))
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(group.Disabled, r, QColor("#7d8087"))
    pal.setColor(group.Disabled, role.Button, QColor("#2f3136"))
    return pal


def apply_color_scheme(app: QApplication, scheme: str | None = None) -> None:
    """Use the ``light`` or ``dark`` scheme (default: ``$DIGITPAD_COLOR_SCHEME``; unset or
    ``system``: leave the system's palette alone)."""
    scheme = (scheme or os.environ.get("DIGITPAD_COLOR_SCHEME", "system")).strip().lower()
    if scheme not in ("light", "dark"):
        return
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+: tells the platform too, where it listens
        hints.setColorScheme(Qt.ColorScheme.Dark if scheme == "dark" else Qt.ColorScheme.Light)
    app.setPalette(dark_palette() if scheme == "dark" else app.style().standardPalette())
