"""Light and dark: what the window paints itself (the pad, the bars, the digit read, the
captions, the Explain panel's pictures, the number read) takes its colours from the palette,
readable on the window's background in both, checked on the pixels on screen. The training
chart has its own tests (test_training_chart)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget, QWidget

from app.ui.explain_panel import ExplainPanel
from app.ui.style import bar_colors, contrast, dark_palette, muted_text, pad_colors
from tests import ui_helpers
from tests.ui_helpers import draw_digit

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left


def _shot(window, widget: QWidget, rect: QRect | None = None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """What the window shows of ``widget`` (or of ``rect`` in it), as an (h, w, 3) int array."""
    area = rect if rect is not None else widget.rect()
    img = window.grab(QRect(widget.mapTo(window, area.topLeft()), area.size())).toImage()
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    bpl = img.bytesPerLine()
    rows = np.frombuffer(img.constBits(), np.uint8, count=bpl * img.height()).reshape(img.height(), bpl)
    return rows[:, : img.width() * 3].reshape(img.height(), img.width(), 3).astype(int)


def _most_contrast(pixels: np.ndarray, background: QColor) -> float:
    """The contrast of the pixel that stands out most from ``background`` (the text's ink)."""
    flat = np.unique(pixels.reshape(-1, 3), axis=0)
    return max(contrast(QColor(*(int(v) for v in px)), background) for px in flat)


def _near(pixels: np.ndarray, color: QColor, tol: int = 30) -> int:
    want = np.array([color.red(), color.green(), color.blue()])
    return int((np.abs(pixels - want).sum(axis=-1) < tol).sum())


def test_painted_widgets_follow_the_palette(window, qtbot, scheme) -> None:  # type: ignore[no-untyped-def]
    pal = window.palette()
    background = pal.color(QPalette.ColorRole.Window)
    assert (background.lightness() < 128) == (scheme == "dark")
    # the pad: its hint stands out from the pad, the pad from the window
    pad = window.pad
    colors = pad_colors(pad.palette())
    assert contrast(colors.hint, colors.background) >= 3.0
    square = pad.square().toRect()
    band = QRect(square.left() + 10, square.center().y() - 15, square.width() - 20, 30)
    hint_band = _shot(window, pad, band)
    assert _near(hint_band, colors.hint) > 50  # "Draw a digit here", drawn in that colour
    # a digit drawn with the mouse: the digit read in the bars' accent, the bars' texts
    draw_digit(pad, "3")
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "3")
    accent = bar_colors(pal).accent
    assert window.top_digit_label.palette().color(QPalette.ColorRole.WindowText) == accent
    assert contrast(accent, background) >= 3.0
    assert _near(_shot(window, window.top_digit_label), accent) > 100  # on screen, in that colour
    bars = window.probability_view
    labels = _shot(window, bars, QRect(0, 0, 14, bars.height()))  # the digits 0..9 left of the bars
    assert _most_contrast(labels, background) >= 4.5
    # captions: softer than the text, still readable
    caption = window.findChild(QWidget, "previewCaption")
    ink = caption.palette().color(QPalette.ColorRole.WindowText)
    assert ink != pal.color(QPalette.ColorRole.WindowText) and contrast(ink, background) >= 4.5
    assert _most_contrast(_shot(window, caption), background) >= 4.5


def test_explain_pictures_sit_on_the_panels_background(window, qtbot, scheme) -> None:  # type: ignore[no-untyped-def]
    """The first layer's maps are tiled with gaps of the panel's own colour (a light grey
    block in the grid, in a dark window, was the last empty cell)."""
    QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # View ▸ Explain
    dock = window.findChild(QDockWidget, "explainDock")
    assert dock.isVisible()
    panel = window.findChild(ExplainPanel)
    draw_digit(window.pad, "3")
    view = panel.activations_view
    qtbot.waitUntil(lambda: panel.last_result is not None and view.activations() is not None, timeout=30_000)
    qtbot.wait(50)
    assert view.activations().shape[0] == 32  # the shipped model's 32 maps: 4 rows of 8
    shot = _shot(window, view)
    behind = panel.palette().color(QPalette.ColorRole.Window)
    h, w = shot.shape[:2]
    middle = shot[:, w // 3: 2 * w // 3]  # inside the grid, across its columns
    gap = np.array([_near(row[None], behind, tol=12) == len(row) for row in middle])
    lines = int((gap[1:] & ~gap[:-1]).sum())  # rows of the panel's colour between rows of maps
    assert lines >= 3 and not gap[: h // 8].all(), (scheme, gap.astype(int).tolist())
    # and nowhere in the grid is there a block much lighter than the panel in a dark window
    if scheme == "dark":
        light = (shot.min(axis=-1) > 160).sum()
        assert light < shot.shape[0] * shot.shape[1] * 0.02
    # the caption's legend is readable on the panel
    cap = panel.saliency_caption
    assert contrast(cap.palette().color(QPalette.ColorRole.WindowText), behind) >= 4.5


def test_number_view_text_is_readable(window, qtbot, scheme) -> None:  # type: ignore[no-untyped-def]
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # View ▸ Number mode
    view = window.findChild(QWidget, "numberView")
    qtbot.waitUntil(view.isVisible)
    background = view.palette().color(QPalette.ColorRole.Window)
    assert _most_contrast(_shot(window, view), background) >= 4.5  # "Write a number"
    draw_digit(window.pad, "4", size=0.6, center=(0.3, 0.5))
    qtbot.waitUntil(lambda: view.number() is not None)
    assert _most_contrast(_shot(window, view), background) >= 7.0  # the digit, in the text colour
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)


def test_muted_lines_follow_a_switch_of_palette_while_running(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """The model label's second line is muted rich text: after the system switches between
    light and dark with the window open, it is drawn in the new palette's muted colour."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    label = window.model_label
    before = app.palette()
    try:
        for pal in (dark_palette(), app.style().standardPalette()):
            app.setPalette(pal)
            QApplication.processEvents()
            want = muted_text(label.palette(), QPalette.ColorRole.Window)
            assert want.name() in label.text()
            qtbot.waitUntil(lambda want=want: _near(_shot(window, label), want, tol=20) > 20)
    finally:
        app.setPalette(before)
