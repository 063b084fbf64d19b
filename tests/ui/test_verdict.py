""""Not a digit": letters, shapes and scribbles drawn with real mouse events on the pad are
called "not a digit" by the shipped model; digits are not; the window says so plainly."""

from __future__ import annotations

import math

import pytest

from tests import ui_helpers
from tests.ui_helpers import draw_digit, draw_polylines, needs_default_model

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

pytestmark = needs_default_model

Polyline = list[tuple[float, float]]


def _ring(cx: float, cy: float, r: float, n: int = 24) -> Polyline:
    return [(cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n))
            for i in range(n + 1)]


# drawings on the pad (0..1 pad coordinates)
NOT_DIGITS: dict[str, list[Polyline]] = {
    "letter A": [[(0.3, 0.8), (0.5, 0.2), (0.7, 0.8)], [(0.38, 0.57), (0.62, 0.57)]],
    "letter H": [[(0.3, 0.2), (0.3, 0.8)], [(0.7, 0.2), (0.7, 0.8)], [(0.3, 0.5), (0.7, 0.5)]],
    "star": [[(0.5 + 0.3 * (1 if k % 2 == 0 else 0.4) * math.sin(k * math.pi / 5),
               0.5 - 0.3 * (1 if k % 2 == 0 else 0.4) * math.cos(k * math.pi / 5)) for k in range(11)]],
    "square": [[(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75), (0.25, 0.25)]],
    "hash": [[(0.4, 0.2), (0.37, 0.8)], [(0.63, 0.2), (0.6, 0.8)],
             [(0.25, 0.4), (0.75, 0.4)], [(0.25, 0.6), (0.75, 0.6)]],
    "smiley": [_ring(0.5, 0.5, 0.28), _ring(0.41, 0.43, 0.02, 6), _ring(0.59, 0.43, 0.02, 6),
               [(0.38, 0.58), (0.45, 0.64), (0.55, 0.64), (0.62, 0.58)]],
    "scribble": [[(0.25, 0.3), (0.75, 0.35), (0.3, 0.45), (0.72, 0.5), (0.28, 0.6), (0.7, 0.7)]],
}


@pytest.mark.parametrize("name", sorted(NOT_DIGITS))
def test_a_drawn_letter_or_shape_is_not_a_digit(window, qtbot, name: str) -> None:  # type: ignore[no-untyped-def]
    draw_polylines(window.pad, NOT_DIGITS[name])
    qtbot.waitUntil(lambda: window.probability_view.probabilities() is not None, timeout=2000)
    view = window.probability_view
    assert view.verdict() == "not a digit", [round(p, 3) for p in view.probabilities()]
    assert window.top_digit_label.text() == "Not a digit?"
    assert window.confidence_label.text() == ""
    probs = view.probabilities()  # the bars still show the ten digits' probabilities
    assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=1e-3)
    assert view.tooltip_text().startswith("Not a digit?")


def test_the_verdict_follows_the_drawing_and_the_empty_pad_asks_for_a_digit(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    view = window.probability_view
    assert view.verdict() is None and window.hint_label.text() == "Draw a digit"
    draw_polylines(window.pad, NOT_DIGITS["hash"])
    qtbot.waitUntil(lambda: view.verdict() == "not a digit", timeout=2000)
    window.live.clear()
    assert view.verdict() is None and view.probabilities() is None
    assert window.hint_label.isVisible() and window.hint_label.text() == "Draw a digit"
    assert window.top_digit_label.text() == ""
    draw_digit(window.pad, "4")  # a digit after a non-digit: the big digit is back
    qtbot.waitUntil(lambda: view.verdict() == "digit", timeout=2000)
    assert window.top_digit_label.text() == "4"


def test_a_non_digit_labelled_with_a_digit_key_is_kept_as_that_digit(window, qtbot,  # type: ignore[no-untyped-def]
                                                                      digitpad_home) -> None:
    """What the user says wins: a drawing called "not a digit" and labelled 7 is a 7."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app.core.samples import SampleStore

    draw_polylines(window.pad, NOT_DIGITS["letter H"])
    qtbot.waitUntil(lambda: window.probability_view.verdict() == "not a digit", timeout=2000)
    QTest.keyClick(window.pad, Qt.Key.Key_7)
    store = SampleStore(digitpad_home)
    assert [s.label for s in store.samples()] == [7]
    status = window.notice.text()  # (the status line that can undo the kept sample)
    assert status.startswith("Kept as a 7") and "something else than a digit" in status


def test_an_imported_ten_output_model_calls_what_it_is_unsure_of_not_a_digit(  # type: ignore[no-untyped-def]
        window, qtbot, ten_output_keras) -> None:
    """A model with only ten outputs, loaded through Model > Load model…, gets a verdict from
    its doubt (one minus its top probability, calibrated on held-out data at import): a
    drawn digit is a digit, a drawn letter it is unsure of is "not a digit"."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app.core.store import ModelStore

    window.ask_keras_path = lambda: str(ten_output_keras)
    with qtbot.waitSignal(window.models.import_finished, timeout=120_000) as imported:
        QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    name = imported.args[0]
    assert name is not None and window.models.current_name() == name
    threshold = ModelStore().get(name).meta["calibration"]["threshold"]
    view = window.probability_view
    seen = {}
    for what in ("4", "1", *sorted(NOT_DIGITS)):
        window.live.clear()
        if what in NOT_DIGITS:
            draw_polylines(window.pad, NOT_DIGITS[what])
        else:
            draw_digit(window.pad, what)
        qtbot.waitUntil(lambda: view.probabilities() is not None, timeout=2000)
        doubt = 1.0 - max(view.probabilities())
        assert view.verdict() == ("not a digit" if doubt >= threshold else "digit"), (what, doubt, threshold)
        seen[what] = (view.verdict(), window.top_digit_label.text())
    assert seen["4"] == ("digit", "4") and seen["1"] == ("digit", "1"), seen
    assert seen["letter A"] == ("not a digit", "Not a digit?"), seen
