"""The Explain dock as a reader sees it: a legend in the map's own colours, plain words,
pictures that grow with the dock, a layer table with nothing cut."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget

from app.ui.explain_panel import ExplainPanel, saliency_legend_colors, saliency_rgb
from tests import ui_helpers
from tests.ui_helpers import draw_digit

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left


def _explained(window, qtbot, digit: str = "3") -> tuple[QDockWidget, ExplainPanel]:  # type: ignore[no-untyped-def]
    QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # View ▸ Explain
    dock = window.findChild(QDockWidget, "explainDock")
    panel = window.findChild(ExplainPanel, "explainPanel")
    assert dock is not None and panel is not None and dock.isVisible()
    draw_digit(window.pad, digit)
    qtbot.waitUntil(lambda: panel.last_result is not None and panel.last_result.saliency is not None
                    and not panel.service.is_busy(), timeout=15_000)
    qtbot.wait(50)
    return dock, panel


def test_legend_is_in_the_colours_of_the_map_and_in_plain_words(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    _dock, panel = _explained(window, qtbot)
    caption = panel.saliency_caption.text()
    warm, hot, cold = saliency_legend_colors()
    assert warm in caption and hot in caption and cold in caption
    assert "Orange to yellow" in caption and "Blue" in caption
    for jargon in ("log-odds", "occluded", "batch", " ms", "Red:"):
        assert jargon not in caption, jargon
    # the legend's colours are the map's: yellow-orange for the evidence, blue against
    assert QColor(hot).red() > QColor(hot).green() > QColor(hot).blue()
    assert QColor(cold).blue() > QColor(cold).red()
    # on screen, the map's hottest cell has the hue of the legend's "yellow"
    res = panel.last_result
    view = panel.saliency_view
    img = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    r, c = np.unravel_index(int(np.argmax(res.saliency.map)), (28, 28))
    side = min(view.width(), view.height())
    x0 = (view.width() - side) / 2
    dpr = img.devicePixelRatio()
    shown = img.pixelColor(round((x0 + (c + 0.5) * side / 28) * dpr), round((r + 0.5) * side / 28 * dpr))
    expected = saliency_rgb(res.x, res.saliency.map)[r, c]
    assert abs(shown.hue() - QColor(*(int(v) for v in expected)).hue()) <= 6
    assert abs(shown.hue() - QColor(hot).hue()) <= 25  # the same yellow-orange


def test_pictures_grow_with_the_dock_and_the_layer_table_is_whole(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    dock, panel = _explained(window, qtbot)
    window.resize(1400, 900)
    window.resizeDocks([dock], [300], Qt.Orientation.Horizontal)
    qtbot.wait(100)
    narrow = panel.saliency_view.height()
    acts_narrow = panel.activations_view.height()
    window.resizeDocks([dock], [560], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: dock.width() >= 540)
    qtbot.wait(100)
    view = panel.saliency_view
    assert view.height() >= narrow + 150  # a square as wide as the dock
    assert abs(view.height() - min(view.width(), view.MAX_SIDE)) <= 2
    assert panel.activations_view.height() > acts_narrow
    # back to the narrowest dock: every layer's cells are whole (nothing elided)
    window.resizeDocks([dock], [dock.minimumWidth()], Qt.Orientation.Horizontal)
    qtbot.wait(100)
    table = panel.layers
    fm = table.fontMetrics()
    for row in range(table.rowCount()):
        for col in range(table.columnCount()):
            item = table.item(row, col)
            if item is not None:
                assert fm.horizontalAdvance(item.text()) + 8 <= table.columnWidth(col), item.text()
    assert table.horizontalHeader().length() <= table.viewport().width() + 1


def test_explaining_drawing_after_drawing_uses_one_worker_thread(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """The panel follows the drawing with one explain worker for the session (not a thread per
    drawing); each new drawing is explained, the newest last."""
    starts: list[bool] = []
    window.jobs.changed.connect(lambda: starts.append(window.jobs.running("explain")))
    _dock, panel = _explained(window, qtbot, "3")
    for digit in ("7", "1"):
        window.live.clear()
        draw_digit(window.pad, digit)
        qtbot.waitUntil(lambda d=digit: (res := panel.last_result) is not None and res.saliency is not None
                        and res.saliency.digit == int(d) and not panel.service.is_busy(), timeout=15_000)
    assert window.jobs.running("explain")
    assert starts == [True]  # the explain worker started once and is still there
