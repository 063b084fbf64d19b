"""PySide6 6.12.0 on CPython < 3.12 dropped a reference to None in QImage.fill, QPainter draw
calls and processEvents; after minutes of drawing the interpreter aborted with "Fatal Python
error: none_dealloc". We pin PySide6 < 6.12 on 3.11; this guards the pin on the real pad."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests import ui_helpers
from tests.ui_helpers import draw_digit

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal on CPython 3.12+")
def test_none_refcount_is_stable_while_drawing(window) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    draw_digit(pad, "8")  # warm up every code path once
    QApplication.processEvents()
    buffer = pad.image()
    before = sys.getrefcount(None)
    for i in range(1000):
        buffer.fill(0)  # QImage.fill
        p = QPainter(buffer)  # QPainter draw calls on the pad's own buffer
        p.setPen(QColor(255, 255, 255))
        p.drawLine(QPointF(10, 10), QPointF(200, 10 + i % 200))
        p.drawPoint(QPointF(50, 50))
        p.end()
        pad.repaint()  # the pad's paintEvent
        QApplication.processEvents()
    after = sys.getrefcount(None)
    assert before - after < 50, f"None lost {before - after} references over 1000 calls"

    # and 1000 real mouse moves with the button held (each paints into both pad images)
    pad.clear()
    QApplication.processEvents()
    before = sys.getrefcount(None)
    start = pad.to_widget(0.1, 0.5).toPoint()
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1000):
        ui_helpers.move_with_button(pad, pad.to_widget(0.1 + 0.8 * (i % 100) / 100, 0.3 + 0.4 * (i % 7) / 7)
                                     .toPoint())
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QApplication.processEvents()
    after = sys.getrefcount(None)
    assert pad.moves_received >= 1000
    assert before - after < 50, f"None lost {before - after} references over 1000 mouse moves"
