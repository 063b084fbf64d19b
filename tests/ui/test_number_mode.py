"""Number mode in the real window: View ▸ Number mode turns the pad into a wide strip and
the number written on it (real mouse events) is read digit by digit."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.core.data import load_mnist
from app.core.evaluation import as_float
from app.core.inference import Predictor
from app.core.paths import bundled_store_dir
from app.core.preprocess import preprocess
from app.selftest.driving import densify
from app.ui.number_view import NumberView
from tests import ui_helpers
from tests.ui_helpers import draw_digit, move_with_button, needs_default_model
from tools.handwriting import DIGITS, Polyline
from tools.ui_check import SMALL_SCREEN, widget_problems

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

pytestmark = needs_default_model


def number_strokes(number: str, height: float = 0.62, advance: float = 0.55,
                   start: float = 0.25) -> list[Polyline]:
    """``number``'s digits (the test digits' strokes) side by side, in pad units."""
    out = []
    for k, ch in enumerate(number):
        x0 = start + k * advance
        for line in DIGITS[ch]:
            out.append([(x0 + x * height * 0.7, 0.5 + (y - 0.5) * height) for x, y in line])
    return out


def write(pad, strokes: list[Polyline], step_px: float = 6.0) -> None:  # type: ignore[no-untyped-def]
    """Write strokes (pad units) on the pad with real mouse events."""
    unit = pad.unit()
    for stroke in strokes:
        pts = [pad.to_widget(x, y).toPoint() for x, y in densify(stroke, step_px / unit)]
        assert all(pad.drawing_area().contains(QPointF(p)) for p in pts), "ink off the strip"
        QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
        for p in pts[1:]:
            move_with_button(pad, p)
        QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])
    QApplication.processEvents()


def number_mode(window, on: bool = True) -> NumberView:  # type: ignore[no-untyped-def]
    action = window.findChild(QAction, "numberModeAction")
    if action.isChecked() != on:
        action.trigger()
    QApplication.processEvents()
    view = window.findChild(NumberView, "numberView")
    assert view is not None
    return view


def test_the_action_turns_the_pad_into_a_wide_strip_and_back(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    action = window.findChild(QAction, "numberModeAction")
    assert action is not None and action.isCheckable() and not action.isChecked()
    assert not action.shortcut().isEmpty()
    assert action in window.view_menu.actions()
    pad = window.pad
    view = number_mode(window)
    qtbot.waitUntil(lambda: pad.drawing_area().width() >= 3 * pad.drawing_area().height() - 1)
    area = pad.drawing_area()
    assert area.width() >= 0.8 * window.centralWidget().width()  # the window's width
    assert view.isVisible() and view.number() is None
    number_mode(window, False)
    qtbot.waitUntil(lambda: abs(pad.drawing_area().width() - pad.drawing_area().height()) < 1)
    assert not view.isVisible()



def test_number_mode_fits_the_window_it_is_given(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """On a 1280×720 screen at 150 % (1280×650 logical for the window) the strip, the number,
    the bars and the training panel all fit, nothing is cut, and switching with the keyboard
    shortcut (either way) does not make the window taller than its screen."""
    window.resize(QSize(*SMALL_SCREEN))
    qtbot.waitUntil(lambda: window.size() == QSize(*SMALL_SCREEN))
    action = window.findChild(QAction, "numberModeAction")
    for on in (True, False, True):
        QTest.keySequence(window, action.shortcut())
        qtbot.waitUntil(lambda on=on: action.isChecked() == on)
        QApplication.processEvents()
        assert window.size() == QSize(*SMALL_SCREEN), (on, window.size())
        assert widget_problems(window) == [], on
    write(window.pad, number_strokes("2026"))
    qtbot.waitUntil(lambda: window.findChild(NumberView, "numberView").number() == "2026")
    assert window.size() == QSize(*SMALL_SCREEN) and widget_problems(window) == []
    assert window.training_box.isVisible() and window.probability_view.isVisible()

def test_a_written_2026_reads_2026_with_a_box_per_digit(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    view = number_mode(window)
    write(window.pad, number_strokes("2026"))
    qtbot.waitUntil(lambda: view.number() == "2026")
    marks = window.pad.marks()
    assert [label for _, label, _ in marks] == ["2", "0", "2", "6"]
    lefts = [rect.left() for rect, _, _ in marks]
    assert lefts == sorted(lefts)
    for (a, _, _), (b, _, _) in itertools.pairwise(marks):
        assert a.right() <= b.left() + 1e-6  # boxes side by side, not overlapping
    assert not view.reading().uncertain


def _label_blue(pad):  # type: ignore[no-untyped-def]
    """A counter of label-blue pixels (the marks' colour, not the ink's) in a widget
    rectangle of the pad as painted now."""
    pad.repaint()
    shot = pad.grab().toImage()
    dpr = shot.devicePixelRatio()

    def blue(x0: float, y0: float, x1: float, y1: float) -> int:
        count = 0
        for y in range(int(y0 * dpr), int(y1 * dpr)):
            for x in range(int(x0 * dpr), int(x1 * dpr)):
                c = shot.pixelColor(x, y)
                count += c.blue() > 200 and c.red() < 150 and c.green() > 120
        return count

    return blue


def _boxes(pad):  # type: ignore[no-untyped-def]
    area, unit = pad.drawing_area(), pad.unit()
    return [(area.x() + r.x() * unit, area.y() + r.y() * unit, area.x() + r.right() * unit,
             area.y() + r.bottom() * unit) for r, _, _ in pad.marks()]


def test_a_digits_label_goes_below_its_box_when_the_box_touches_the_top(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Digits written high on the strip: no room above their boxes, so each label (in the
    marks' blue) is drawn under its box, not inside it over the ink."""
    view = number_mode(window)
    pad = window.pad
    high = [[(x, y - 0.2) for x, y in s] for s in number_strokes("37", height=0.6)]
    write(pad, high)
    qtbot.waitUntil(lambda: view.number() == "37")
    blue, area, unit = _label_blue(pad), pad.drawing_area(), pad.unit()
    assert [label for _, label, _ in pad.marks()] == ["3", "7"]
    for left, top, right, bottom in _boxes(pad):
        assert top - 0.12 * unit < area.top()  # no room above the box
        assert blue(left + 4, top + 4, right - 4, top + 0.12 * unit) == 0  # nothing inside its top
        assert blue(left + 4, bottom + 3, right - 4, bottom + 0.12 * unit) > 5  # the label below


def test_a_digits_label_goes_beside_its_box_when_the_box_spans_the_strip(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Digits as tall as the strip: no room above or below, so each label goes to the right
    of its box, in the gap before the next digit, not inside the box over the ink."""
    view = number_mode(window)
    pad = window.pad
    write(pad, number_strokes("37", height=0.94, advance=0.9))
    qtbot.waitUntil(lambda: view.number() == "37")
    blue, area, unit = _label_blue(pad), pad.drawing_area(), pad.unit()
    boxes = _boxes(pad)
    assert [label for _, label, _ in pad.marks()] == ["3", "7"] and len(boxes) == 2
    for left, top, right, bottom in boxes:
        assert top - 0.12 * unit < area.top() and bottom + 0.12 * unit > area.bottom()
        assert blue(left + 4, top + 4, right - 4, top + 0.12 * unit) == 0  # nothing inside its top
        assert blue(right + 3, top, right + 0.12 * unit, top + 0.12 * unit) > 5  # the label beside
    assert boxes[0][2] + 0.12 * unit < boxes[1][0]  # (in the gap between the two)


def test_the_region_repainted_for_a_new_mark_holds_its_label_wherever_it_goes() -> None:
    """The pad repaints only the regions of marks that changed: each must hold the mark's
    label, above, below or beside its box (a label beside a tall box was never painted)."""
    from PySide6.QtCore import QRectF

    from app.ui.ink import label_rect, marks_damage

    area, unit = QRectF(10, 20, 600, 120), 120.0
    marks = [(QRectF(0.5, 0.3, 0.4, 0.5), "1", False),  # room above
             (QRectF(1.2, 0.0, 0.4, 0.6), "2", False),  # at the top: below
             (QRectF(2.0, 0.0, 0.5, 1.0), "3", True),   # the strip's height: beside, right
             (QRectF(4.62, 0.0, 0.38, 1.0), "4", False),  # at the right end, a box on its left
             (QRectF(4.2, 0.0, 0.35, 1.0), "5", False)]  # the box on its right: beside, left
    boxes = [QRectF(area.x() + r.x() * unit, area.y() + r.y() * unit, r.width() * unit, r.height() * unit)
             for r, _, _ in marks]
    places = []
    for k, box in enumerate(boxes):
        label = label_rect(box, area, unit, boxes)
        damage = marks_damage([], [marks[k]], area, unit)
        assert len(damage) == 1 and QRectF(damage[0]).contains(label), (k, label, damage)
        places.append("above" if label.bottom() <= box.top() else "below" if label.top() >= box.bottom()
                      else "beside" if not label.intersects(box) else "inside")
    assert places == ["above", "below", "beside", "inside", "beside"]
    assert boxes[4].left() > label_rect(boxes[4], area, unit, boxes).right()  # (on the left)


def test_a_two_stroke_4_between_other_digits_stays_one_digit(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    assert len(DIGITS["4"]) == 2
    view = number_mode(window)
    write(window.pad, number_strokes("747"))
    qtbot.waitUntil(lambda: view.number() is not None and len(window.pad.strokes()) == 4)
    assert view.number() == "747"
    assert view.reading().digits[1].strokes == (1, 2)


def test_an_open_4_whose_stem_just_misses_its_corner_reads_4(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """An open 4 written as its L, then a bowed stem that stops short of the L's end: the
    two pieces are apart on the strip, yet the window reads one 4 in one box."""
    view = number_mode(window)
    u, pen = 0.49, 20 / 280  # a digit's width, the default brush (pad units)
    x0, top, mid, bottom = 0.75, 0.12, 0.62, 0.86
    sx = x0 + 0.7 * u
    ell = [(x0 + 0.3 * u, top), (x0 + 0.05 * u, mid), (sx - 1.6 * pen, mid)]
    stem = [(sx + 0.15 * u, top), (sx, mid), (sx + 0.06 * u, bottom)]
    write(window.pad, [*number_strokes("1", start=0.3), ell, stem, *number_strokes("3", start=1.3)])
    qtbot.waitUntil(lambda: view.number() is not None and len(window.pad.strokes()) == 4)
    assert view.number() == "143"
    assert view.reading().digits[1].strokes == (1, 2)
    assert [label for _, label, _ in window.pad.marks()] == ["1", "4", "3"]


def test_esc_clears_the_strip_and_the_number(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    view = number_mode(window)
    write(window.pad, number_strokes("12"))
    qtbot.waitUntil(lambda: view.number() == "12")
    QTest.keyClick(window.pad, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: view.number() is None)
    assert window.pad.is_empty() and window.pad.marks() == []
    assert view.message() == "no digits found"
    assert window.probability_view.probabilities() is None


def test_switching_modes_keeps_nothing_stale(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    view = number_mode(window)
    write(window.pad, number_strokes("35"))
    qtbot.waitUntil(lambda: view.number() == "35")
    view.select(0)
    number_mode(window, False)
    pad = window.pad
    assert pad.is_empty() and not pad.is_strip() and pad.marks() == []
    assert not pad.can_undo()  # the strip's strokes cannot come back on the square pad
    assert window.probability_view.probabilities() is None and window.top_digit_label.text() == ""
    draw_digit(pad, "7")
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "7")
    number_mode(window, True)
    assert pad.is_empty() and view.number() is None and pad.marks() == []
    assert window.probability_view.probabilities() is None and window.top_digit_label.text() == ""
    assert window.live.current_input is None


def test_the_mode_is_remembered(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.ui import MainWindow

    number_mode(window)
    window.save_settings()
    again = MainWindow()
    qtbot.addWidget(again)
    try:
        assert again.findChild(QAction, "numberModeAction").isChecked()
        assert again.pad.is_strip()
    finally:
        again.close()


def test_an_empty_strip_reads_nothing(window) -> None:  # type: ignore[no-untyped-def]
    view = number_mode(window)
    assert view.number() is None and view.message() == "no digits found"
    assert window.pad.marks() == []


def test_hover_and_click_show_a_digits_probabilities(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    view = number_mode(window)
    write(window.pad, number_strokes("2026"))
    qtbot.waitUntil(lambda: view.number() == "2026")
    digits = view.reading().digits
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.cell_rect(1).center().toPoint())
    assert view.selected() == 1
    assert np.allclose(window.probability_view.probabilities(), digits[1].probabilities)
    assert np.array_equal(window.preview_view.image(), digits[1].x)
    assert window.top_digit_label.text() == "0"
    QTest.mouseMove(view, view.cell_rect(3).center().toPoint())
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "6")
    assert np.allclose(window.probability_view.probabilities(), digits[3].probabilities)
    QTest.mouseMove(view, QPoint(2, 2))  # off the digits: back to the selected one
    QTest.mouseMove(window.pad, window.pad.rect().center())
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "0")
    selected = [label for _, label, sel in window.pad.marks() if sel]
    assert selected == ["0"]


def test_a_correction_is_kept_for_the_selected_digit(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    view = number_mode(window)
    write(window.pad, number_strokes("2026"))
    qtbot.waitUntil(lambda: view.number() == "2026")
    store = window.learning.samples.store
    assert len(store) == 0
    QTest.keyClick(window.pad, Qt.Key.Key_8)  # nothing selected yet: nothing saved
    assert len(store) == 0
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.cell_rect(2).center().toPoint())
    QTest.keyClick(window.pad, Qt.Key.Key_7)
    assert len(store) == 1
    (sample,) = store.samples()
    assert sample.label == 7
    digit = view.reading().digits[2]
    assert np.abs(as_float(sample.image) - digit.x).max() <= 1 / 255 + 1e-6
    xs = [x for points, _ in sample.strokes for x, _ in points]
    assert len(sample.strokes) == len(digit.strokes)
    assert abs((min(xs) + max(xs)) / 2 - 0.5) < 1e-6  # moved onto a square pad, centred
    QTest.keyClick(window.pad, Qt.Key.Key_2)  # another key for the same digit: relabelled
    assert len(store) == 1 and store.samples()[0].label == 2


def _mnist_number_png(path: Path, digits: tuple[int, ...]) -> str:
    """MNIST test digits the shipped model reads right, side by side, dark on white, 3x."""
    (_, _), (x, y) = load_mnist()
    predictor = Predictor(bundled_store_dir() / "default" / "model.tflite")
    parts = [np.zeros((28, 6), np.uint8)]
    for digit in digits:
        for i in np.flatnonzero(y == digit)[5:]:
            if int(np.argmax(predictor.predict(preprocess(x[i])))) == digit:
                break
        cols = np.flatnonzero(x[i].any(axis=0))
        parts += [x[i][:, cols[0]: cols[-1] + 1], np.zeros((28, 6), np.uint8)]
    Image.fromarray(255 - np.kron(np.hstack(parts), np.ones((3, 3), np.uint8))).save(path)
    return "".join(map(str, digits))


def test_open_image_and_drop_read_a_number(window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.ui_helpers import drop_file as _drop

    view = number_mode(window)
    path = tmp_path / "number.png"
    expected = _mnist_number_png(path, (3, 1, 4))
    assert window.open_image(str(path))
    qtbot.waitUntil(lambda: view.number() == expected)
    marks = window.pad.marks()
    assert [label for _, label, _ in marks] == list(expected)
    inside = window.pad.background_rect()
    assert all(inside.contains(rect) for rect, _, _ in marks)  # boxes on the picture
    QTest.keyClick(window.pad, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: view.number() is None)
    other = tmp_path / "other.png"
    expected = _mnist_number_png(other, (2, 7))
    assert _drop(window, other)
    qtbot.waitUntil(lambda: view.number() == expected)


def test_an_image_without_ink_says_so(window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = number_mode(window)
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 100), 255).save(blank)
    assert window.open_image(str(blank))
    assert view.number() is None
    assert "no digits found" in view.message()
    assert "no digits found" in window.statusBar().currentMessage()
    assert window.last_error is None  # a message, not an error box


def test_explain_works_on_the_selected_digit(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    view = number_mode(window)
    write(window.pad, number_strokes("2026"))
    qtbot.waitUntil(lambda: view.number() == "2026")
    view.select(3)
    request = window.explain.request()
    assert request is not None
    assert np.array_equal(request.x, view.reading().digits[3].x)


def test_forty_digits_still_work(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.resize(1800, 900)
    view = number_mode(window)
    pad = window.pad
    qtbot.waitUntil(lambda: pad.drawing_area().width() / pad.drawing_area().height() > 4.5)
    pad.set_brush_size(6)
    aspect = pad.drawing_area().width() / pad.drawing_area().height()
    advance = (aspect - 0.2) / 40
    number = "3141592653589793238462643383279502884197"
    write(pad, number_strokes(number, height=advance * 1.35, advance=advance, start=0.1), step_px=8.0)
    qtbot.waitUntil(lambda: view.number() is not None and len(pad.strokes()) == sum(
        len(DIGITS[c]) for c in number))
    read = view.number()
    assert read is not None and len(read) == 40
    assert sum(a == b for a, b in zip(read, number, strict=True)) >= 36


def test_predict_number_on_the_strips_picture_reads_what_the_window_read(window, qtbot, tmp_path: Path,
                                                                          capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from app.cli import main

    view = number_mode(window)
    write(window.pad, number_strokes("4719"))
    qtbot.waitUntil(lambda: view.number() == "4719")
    path = tmp_path / "strip.png"
    assert window.pad.image().save(str(path))
    capsys.readouterr()
    assert main(["predict", "--number", "--json", "--model", "default", str(path)]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["number"] == view.number()
    for d, e in zip(record["digits"], view.reading().digits, strict=True):  # boxes: ink vs strokes
        assert np.abs(np.subtract(d["box"], e.box)).max() <= 2
        assert d["probabilities"] == pytest.approx(list(e.probabilities), abs=1e-6)


def test_a_digit_that_is_not_a_digit_shows_a_question_mark(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    from app.core.number import VERDICT_DIGIT, VERDICT_NOT_A_DIGIT

    view = number_mode(window)
    # the verdict comes from the model (or a judge); here: "a 0 is not a digit"
    window.number.judge = lambda x, probs: VERDICT_NOT_A_DIGIT if int(np.argmax(probs)) == 0 \
        else VERDICT_DIGIT
    write(window.pad, number_strokes("2026"))
    qtbot.waitUntil(lambda: view.number() == "2?26")
    assert view.reading().uncertain
    assert [label for _, label, _ in window.pad.marks()] == ["2", "?", "2", "6"]


def test_a_star_between_digits_reads_as_not_a_digit(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """The shipped model's own verdict: a star written between two digits is a "?"."""
    view = number_mode(window)
    height, advance = 0.62, 0.55
    star = [(0.5, 0.0), (0.8, 1.0), (0.0, 0.35), (1.0, 0.35), (0.2, 1.0), (0.5, 0.0)]
    x0 = 0.25 + advance
    strokes = [*number_strokes("2", height, advance),
               [(x0 + x * height * 0.75, 0.5 + (y - 0.5) * height) for x, y in star],
               *number_strokes("6", height, advance, start=0.25 + 2 * advance)]
    write(window.pad, strokes)
    qtbot.waitUntil(lambda: view.number() is not None and len(view.number()) == 3)
    assert view.number() == "2?6" and view.reading().uncertain
    assert [label for _, label, _ in window.pad.marks()] == ["2", "?", "6"]
    view.select(1)
    assert window.top_digit_label.text() == "Not a digit?"  # as for a single drawing
    assert window.probability_view.probabilities() is not None  # its ten probabilities, still
    view.select(0)
    assert window.top_digit_label.text() == "2"
