"""Live prediction: digits drawn with real mouse events are recognised by the shipped model;
opened and dropped image files; start-up without TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests import ui_helpers
from tests.ui_helpers import (
    draw_digit,
    drop_file,
    drop_on_window,
    in_fresh_window,
    needs_default_model,
    pad_strokes,
)

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

ROOT = Path(__file__).resolve().parents[2]
DIGIT_PNGS = sorted((ROOT / "tests" / "data" / "digits").glob("*.png"))

pytestmark = needs_default_model

CASES = [
    # digit, height as a fraction of the pad, centre, brush diameter (buffer pixels of 280)
    *[(d, 0.7, (0.5, 0.5), 20) for d in "0123456789"],
    ("7", 0.25, (0.3, 0.3), 8),  # small, off-centre, thin
    ("1", 0.3, (0.75, 0.7), 12),
    ("4", 0.35, (0.72, 0.3), 10),
    ("0", 0.95, (0.5, 0.5), 40),  # large and thick
    ("3", 0.9, (0.5, 0.5), 44),
    ("2", 0.5, (0.45, 0.55), 5),  # very thin
    ("8", 0.5, (0.5, 0.5), 36),
]


def _shown(window) -> list[float]:  # type: ignore[no-untyped-def]
    probs = window.probability_view.probabilities()
    assert probs is not None
    return probs


@pytest.mark.parametrize(("digit", "size", "center", "brush"), CASES)
def test_drawn_digit_is_recognised(window, qtbot, digit: str, size: float,  # type: ignore[no-untyped-def]
                                   center: tuple[float, float], brush: int) -> None:
    window.pad.set_brush_size(brush)
    draw_digit(window.pad, digit, size=size, center=center)
    qtbot.waitUntil(lambda: window.probability_view.probabilities() is not None, timeout=2000)
    probs = _shown(window)
    assert len(probs) == 10
    assert sum(probs) == pytest.approx(1.0, abs=1e-3)
    assert int(np.argmax(probs)) == int(digit), [round(p, 3) for p in probs]
    assert window.probability_view.verdict() == "digit"
    assert window.top_digit_label.text() == digit
    assert window.confidence_label.text() == f"{max(probs) * 100:.1f} %"
    assert not window.hint_label.isVisible()
    preview = window.preview_view.image()
    assert preview is not None and preview.shape == (28, 28) and preview.max() > 0.5


def test_prediction_updates_while_the_button_is_held(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    stroke = pad_strokes("7")[0]
    pts = [pad.to_widget(x, y).toPoint() for x, y in stroke]
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
    ui_helpers.move_with_button(pad, pts[1])  # the top bar of the 7, button still down
    qtbot.waitUntil(lambda: window.probability_view.probabilities() is not None, timeout=2000)
    first = window.probability_view.probabilities()
    assert pad.is_drawing()
    mid = QPoint((pts[1].x() + pts[2].x()) // 2, (pts[1].y() + pts[2].y()) // 2)
    for p in (mid, pts[2]):
        ui_helpers.move_with_button(pad, p)
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "7", timeout=2000)
    assert window.probability_view.probabilities() != first
    assert pad.is_drawing()  # all of that before the release
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[2])
    assert len(pad.strokes()) == 1


def test_updates_are_coalesced_and_fast(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    draw_digit(window.pad, "3")
    count = []
    window.live.updated.connect(lambda: count.append(1))
    for _ in range(50):  # fifty changes before the event loop runs …
        window.pad.changed.emit()
    QApplication.processEvents()
    assert len(count) == 1  # … give one prediction, of the newest drawing
    times = []
    for _ in range(30):
        window.live.update()
        times.append(window.live.last_update_ms)
    assert float(np.median(times)) < 15  # typically 1-3 ms; generous for a loaded CI machine


def test_empty_pad_shows_a_hint_not_a_guess(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    assert window.probability_view.probabilities() is None
    assert window.hint_label.isVisible() and window.hint_label.text() == "Draw a digit"
    assert window.top_digit_label.text() == "" and window.confidence_label.text() == ""
    assert window.preview_view.image() is None
    draw_digit(window.pad, "1")
    qtbot.waitUntil(lambda: window.probability_view.probabilities() is not None)
    QTest.keyClick(window.pad, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.probability_view.probabilities() is None)
    assert window.hint_label.isVisible() and window.top_digit_label.text() == ""


@pytest.mark.parametrize("path", DIGIT_PNGS, ids=[p.stem for p in DIGIT_PNGS])
def test_open_image_file(window, path: Path) -> None:  # type: ignore[no-untyped-def]
    window.ask_open_image_path = lambda: str(path)
    QTest.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)  # File > Open image…
    assert window.pad.has_background()
    probs = _shown(window)
    assert int(np.argmax(probs)) == int(path.name[0])
    assert window.top_digit_label.text() == path.name[0]
    assert window.preview_view.image() is not None
    assert window.prefs.last_directory() == path.parent


def test_drawing_replaces_an_opened_image(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.live.open_image(DIGIT_PNGS[0])
    assert window.pad.has_background()
    draw_digit(window.pad, "7")
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "7")
    assert not window.pad.has_background()
    QTest.keyClick(window.pad, Qt.Key.Key_Escape)
    assert window.probability_view.probabilities() is None


def test_drop_an_image_file_on_the_window(window) -> None:  # type: ignore[no-untyped-def]
    path = next(p for p in DIGIT_PNGS if p.name.startswith("7"))
    assert drop_file(window, path)
    assert window.top_digit_label.text() == "7"

    text = QMimeData()
    text.setText("hello")
    assert not drop_on_window(window, text)  # not a file: refused


def test_a_broken_image_file_is_reported(window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    draw_digit(window.pad, "1")
    assert window.live.open_image(bad) is False
    assert window.last_error is not None and "broken.png" in window.last_error
    assert window.message_box is not None and window.message_box.isVisible()
    assert len(window.pad.strokes()) == 1  # the drawing is untouched


def test_window_starts_and_predicts_without_tensorflow(tmp_path: Path) -> None:
    """Run in a fresh interpreter: other tests in this process may have imported TensorFlow."""
    out = in_fresh_window(
        "ready = time.perf_counter() - t0\n"
        "from tests.ui_helpers import draw_digit\n"
        "draw_digit(w.pad, '7'); app.processEvents()\n"
        "from app.ui.dialogs import about_text\n"
        "about = about_text(w.models.entry)\n"
        "print(w.top_digit_label.text(), 'tensorflow' in sys.modules, 'keras' in sys.modules,"
        " 'not loaded' in about, f'{ready:.2f}')\n", tmp_path)
    digit, tf, keras, not_loaded, _ready = out.split()
    assert digit == "7"
    assert tf == "False" and keras == "False"
    assert not_loaded == "True"


def test_undo_after_opening_an_image_brings_the_drawing_back(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    draw_digit(window.pad, "1")
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "1")
    seven = next(p for p in DIGIT_PNGS if p.name.startswith("7"))
    window.live.open_image(seven)
    assert window.top_digit_label.text() == "7" and window.pad.is_empty()
    QTest.keyClick(window.pad, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "1")
    assert not window.pad.has_background() and len(window.pad.strokes()) == 1
