"""The window on small and HiDPI screens: with the Explain dock open it gets as small as
800×560 logical pixels, fits 1280×720 at 150 %, and at its smallest no text is cut, no
widget overlaps another or lies outside the window, light or dark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget

from tests import ui_helpers
from tests.ui_helpers import draw_digit
from tools.ui_check import MAX_MIN, SMALL_SCREEN, feed_chart, widget_problems

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

ROOT = Path(__file__).resolve().parents[2]


def _open_explain(window) -> QDockWidget:  # type: ignore[no-untyped-def]
    QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # View ▸ Explain
    dock = window.findChild(QDockWidget, "explainDock")
    assert dock is not None and dock.isVisible()
    return dock


def test_smallest_window_with_explain_open_shows_everything(window, qtbot, scheme) -> None:  # type: ignore[no-untyped-def]
    _open_explain(window)
    smallest = window.minimumSizeHint().expandedTo(window.minimumSize())
    assert smallest.width() <= MAX_MIN[0] and smallest.height() <= MAX_MIN[1], smallest
    window.resize(QSize(1, 1))  # as small as it goes
    qtbot.waitUntil(lambda: window.width() <= MAX_MIN[0] and window.height() <= MAX_MIN[1])
    assert widget_problems(window) == []
    # in use: a digit read, the bars with their percentages, a training run's chart
    draw_digit(window.pad, "3")
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "3")
    feed_chart(window.curves)
    qtbot.wait(50)
    assert widget_problems(window) == []
    # a long status line in the training panel takes a second line instead of being cut
    window.train_status.setText("Epoch 2/3  ·  batch 300/422  ·  loss 0.123  ·  accuracy 96.1 %  ·  "
                                "about 12 s left")
    qtbot.wait(20)
    assert widget_problems(window) == []


def test_window_fits_a_1280x720_screen(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    _open_explain(window)
    window.resize(QSize(*SMALL_SCREEN))
    qtbot.waitUntil(lambda: window.size() == QSize(*SMALL_SCREEN))
    assert widget_problems(window) == []


def test_screenshot_check_at_150_percent(tmp_path: Path) -> None:
    """tools/ui_check.py at 150 % (its own process: the scale is read at start-up), light and
    dark: main window, chart, Explain dock and Retrain dialog, smallest and 1280x720."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "ui_check.py"), "--scale", "1.5",
                           "--out", str(tmp_path)], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "150 %: 0 problem(s)" in proc.stdout
    shots = {p.name for p in tmp_path.glob("*.png")}
    for scheme in ("light", "dark"):
        for name in (f"window-minimum-150-{scheme}.png", f"window-1280x720-150-{scheme}.png",
                     f"retrain-150-{scheme}.png", f"explain-minimum-150-{scheme}.png",
                     f"chart-minimum-150-{scheme}.png"):
            assert name in shots


def test_first_window_fits_its_screen(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A fresh home has no saved size: the first window is no larger than the screen's free
    area (1040×800 logical would overflow a 1080p screen at 150 %, and the offscreen screen)."""
    from app.ui import MainWindow

    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    room = first.screen().availableGeometry().size()
    assert first.width() <= room.width() and first.height() <= room.height(), (first.size(), room)
    assert first.width() >= first.minimumWidth() and first.height() >= first.minimumHeight()
