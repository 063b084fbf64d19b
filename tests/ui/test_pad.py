"""The drawing pad, driven with real mouse and keyboard events (no model needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPointingDevice, QTabletEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.ui.pad import BUFFER_SIZE
from tests import ui_helpers
from tests.ui_helpers import draw_digit, draw_polylines

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

ROOT = Path(__file__).resolve().parents[2]


def test_pad_is_found_by_object_name(window) -> None:  # type: ignore[no-untyped-def]
    from app.ui.pad import DrawingPad

    pad = window.findChild(DrawingPad, "drawingPad")
    assert pad is window.pad
    assert pad.is_empty()
    assert window.probability_view.probabilities() is None
    assert window.hint_label.isVisible()
    assert window.top_digit_label.text() == ""


def test_drawing_keeps_vectors_and_pixels(window) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    moves = draw_digit(pad, "7")
    assert moves > 20  # the drag really reached the pad with the button held
    strokes = pad.strokes()
    assert len(strokes) == 1
    pts = np.array(strokes[0].points)
    assert pts.min() >= 0.0 and pts.max() <= 1.0  # normalised pad coordinates
    assert strokes[0].width == pytest.approx(pad.brush_size() / BUFFER_SIZE)
    px = pad.pixels()
    assert px.shape == (BUFFER_SIZE, BUFFER_SIZE) and px.dtype == np.uint8
    assert px.max() == 255 and px[0, 0] == 0 and px[-1, -1] == 0  # white ink on black
    # antialiased: there are intermediate grey levels on the stroke edges
    assert ((px > 0) & (px < 255)).sum() > 50
    assert pad.image().format() == QImage.Format.Format_Grayscale8


def _grey(img: QImage) -> np.ndarray:
    bpl = img.bytesPerLine()
    data = np.frombuffer(img.constBits(), np.uint8, count=bpl * img.height())
    return data.reshape(img.height(), bpl)[:, : img.width()].copy()


def _paint_segments(image: QImage, stroke) -> None:  # type: ignore[no-untyped-def]
    """Paint ``stroke`` into ``image`` one segment at a time, a painter per segment (as the
    pad's mouse moves): the reference for the pad's model buffer."""
    from app.ui.ink import draw_segment, pen

    for i in range(len(stroke.points)):
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pen(QColor(255, 255, 255), stroke.width * BUFFER_SIZE))
        draw_segment(painter, stroke.points, i, BUFFER_SIZE)
        painter.end()


def test_model_buffer_is_the_grayscale8_painting_of_the_strokes(window) -> None:  # type: ignore[no-untyped-def]
    """The pad paints its ink in RGB32 (faster) and copies the grey levels into the model
    buffer: exactly what painting the same segments into a Grayscale8 image gives, while
    drawing and after a re-render (undo/redo)."""
    from app.ui.pad import render_strokes

    pad = window.pad
    rng = np.random.default_rng(11)
    live = QImage(BUFFER_SIZE, BUFFER_SIZE, QImage.Format.Format_Grayscale8)
    live.fill(0)
    for brush in (4, 9, 20, 33, 48):
        pad.set_brush_size(brush)
        pts = [rng.uniform(-0.05, 1.05, 2)]  # (some leave the pad)
        for _ in range(25):
            pts.append(pts[-1] + rng.normal(0.0, 0.03, 2))
        draw_polylines(pad, [[(float(x), float(y)) for x, y in pts]], dense=False)
        _paint_segments(live, pad.strokes()[-1])
        assert np.array_equal(pad.pixels(), _grey(live))
        assert np.array_equal(_grey(pad.image()), _grey(live))
    pad.undo()
    pad.redo()
    rendered = QImage(BUFFER_SIZE, BUFFER_SIZE, QImage.Format.Format_Grayscale8)
    rendered.fill(0)
    render_strokes(rendered, pad.strokes(), BUFFER_SIZE, QColor(255, 255, 255))
    assert np.array_equal(pad.pixels(), _grey(rendered))
    assert not pad.pixels().flags.writeable


def test_hiding_the_window_mid_stroke_keeps_the_model_buffer_right(window) -> None:  # type: ignore[no-untyped-def]
    """The live stroke keeps one QPainter on the model buffer; hiding the pad ends it, and
    the stroke goes on after the window is shown again."""

    pad = window.pad
    pts = [pad.to_widget(0.2 + 0.05 * i, 0.3 + 0.04 * (i % 3)).toPoint() for i in range(12)]
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
    for p in pts[1:6]:
        ui_helpers.move_with_button(pad, p)
    window.hide()
    QApplication.processEvents()
    assert pad.is_drawing() and pad._model_painter is None
    window.show()
    QApplication.processEvents()
    for p in pts[6:]:
        ui_helpers.move_with_button(pad, p)
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])
    stroke = pad.strokes()[-1]
    assert len(stroke.points) == len(pts)
    ref = QImage(BUFFER_SIZE, BUFFER_SIZE, QImage.Format.Format_Grayscale8)
    ref.fill(0)
    _paint_segments(ref, stroke)
    assert np.array_equal(pad.pixels(), _grey(ref))


def test_ink_pixels_preprocess_like_all_pixels(window) -> None:  # type: ignore[no-untyped-def]
    """The live prediction preprocesses the buffer cropped to its ink (ink_pixels): all
    the ink is in the crop, its border is black, and the result is that of pixels()."""
    from app.core.preprocess import preprocess

    pad = window.pad
    rng = np.random.default_rng(12)

    def check() -> None:
        px, crop = pad.pixels(), pad.ink_pixels()
        assert not crop.flags.writeable
        if crop.shape != px.shape:
            assert int(crop.astype(np.int64).sum()) == int(px.astype(np.int64).sum())  # all the ink
            ring = np.concatenate((crop[0], crop[-1], crop[:, 0], crop[:, -1]))
            assert not ring.any()
        a, b = preprocess(crop, ink="light"), preprocess(px, ink="light")
        assert (a is None) == (b is None)
        assert a is None or np.array_equal(a, b)

    check()  # empty
    for k in range(12):
        pad.set_brush_size(int(rng.integers(4, 49)))
        start = rng.uniform(0.1, 0.9, 2) if k % 4 else rng.uniform(-0.1, 1.1, 2)  # some at the edges
        pts = [start]
        for _ in range(int(rng.integers(0, 15))):
            pts.append(pts[-1] + rng.normal(0.0, 0.04, 2))
        draw_polylines(pad, [[(float(x), float(y)) for x, y in pts]], dense=False)
        check()
        if k % 3 == 2:
            pad.undo()
            check()
        if k == 7:
            pad.clear()
            check()


def test_fast_drag_leaves_no_gaps(window) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    # a single huge jump: press at the left, one move to the right, release
    draw_polylines(pad, [[(0.1, 0.5), (0.9, 0.5)]], dense=False)
    px = pad.pixels()
    row = px[BUFFER_SIZE // 2, int(0.12 * BUFFER_SIZE): int(0.88 * BUFFER_SIZE)]
    assert row.min() == 255  # a solid line between the two points


def test_strokes_scale_with_the_window_but_buffer_does_not(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    draw_digit(pad, "0")
    before = pad.pixels().copy()
    window.resize(1300, 980)
    qtbot.waitUntil(lambda: pad.width() > 500)
    QApplication.processEvents()
    sq = pad.square()
    assert sq.width() == pytest.approx(sq.height())  # always square
    assert sq.width() == pytest.approx(min(pad.width(), pad.height()) - 2)
    assert np.array_equal(pad.pixels(), before)  # the model's input does not depend on the size
    # drawing at the new size lands at the same place in the buffer
    pad.clear()
    draw_polylines(pad, [[(0.25, 0.25), (0.75, 0.25)]])
    ys, xs = np.nonzero(pad.pixels() > 128)
    assert abs(ys.mean() - 0.25 * BUFFER_SIZE) < 2
    assert abs(xs.mean() - 0.5 * BUFFER_SIZE) < 2


def test_undo_redo_clear_with_keys_and_buttons(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    draw_digit(pad, "4")  # two strokes
    assert len(pad.strokes()) == 2
    full = pad.pixels().copy()
    QTest.keyClick(pad, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(pad.strokes()) == 1
    assert pad.pixels().sum() < full.sum()
    QTest.keyClick(pad, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(pad.strokes()) == 2
    # re-rendered from vectors: the same picture as drawn live
    assert np.abs(pad.pixels().astype(int) - full.astype(int)).max() <= 2
    QTest.keyClick(pad, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(pad, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert len(pad.strokes()) == 2

    QTest.keyClick(pad, Qt.Key.Key_Escape)
    assert pad.is_empty() and pad.pixels().max() == 0
    qtbot.waitUntil(lambda: window.hint_label.isVisible())
    assert window.probability_view.probabilities() is None
    assert window.hint_label.text() == "Draw a digit"
    assert window.top_digit_label.text() == ""
    # clearing is undoable too
    QTest.keyClick(pad, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(pad.strokes()) == 2

    QTest.keyClick(pad, Qt.Key.Key_Delete)
    assert pad.is_empty()
    draw_digit(pad, "1")
    assert window.undo_button.isEnabled()
    qtbot.mouseClick(window.undo_button, Qt.MouseButton.LeftButton)
    assert pad.is_empty()
    assert window.redo_button.isEnabled()
    qtbot.mouseClick(window.redo_button, Qt.MouseButton.LeftButton)
    assert len(pad.strokes()) == 1
    qtbot.mouseClick(window.clear_button, Qt.MouseButton.LeftButton)
    assert pad.is_empty()
    assert window.probability_view.probabilities() is None


def test_new_stroke_after_undo_drops_redo(window) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    draw_digit(pad, "1")
    pad.undo()
    assert pad.can_redo()
    draw_digit(pad, "7")
    assert not pad.can_redo()
    assert len(pad.strokes()) == 1


def test_brush_size_keys_slider_and_persistence(window, qtbot, digitpad_home) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    start = pad.brush_size()
    QTest.keyClick(pad, Qt.Key.Key_BracketRight)
    QTest.keyClick(pad, Qt.Key.Key_BracketRight)
    assert pad.brush_size() == start + 4
    assert window.brush_slider.value() == start + 4
    QTest.keyClick(pad, Qt.Key.Key_BracketLeft)
    assert pad.brush_size() == start + 2
    window.brush_slider.setFocus()
    QTest.keyClick(window.brush_slider, Qt.Key.Key_Home)
    assert pad.brush_size() == window.brush_slider.minimum()
    thin = pad.brush_size()
    draw_polylines(pad, [[(0.2, 0.5), (0.8, 0.5)]])
    thin_ink = int((pad.pixels() > 128).sum())
    pad.clear()
    QTest.keyClick(window.brush_slider, Qt.Key.Key_End)
    draw_polylines(pad, [[(0.2, 0.5), (0.8, 0.5)]])
    assert (pad.pixels() > 128).sum() > 4 * thin_ink
    assert pad.strokes()[0].width > thin / BUFFER_SIZE
    window.resize(780, 700)  # within the offscreen screen (800x800), so restoring does not clamp it
    window.close()

    from app.ui import MainWindow

    again = MainWindow()
    qtbot.addWidget(again)
    assert again.pad.brush_size() == window.brush_slider.maximum()
    assert again.brush_slider.value() == window.brush_slider.maximum()
    assert again.size().width() == 780
    assert (digitpad_home / "settings.ini").is_file()


def test_tablet_pen_draws(window) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    dev = QPointingDevice.primaryPointingDevice()

    def tablet(kind: QTabletEvent.Type, x: float, y: float, buttons: Qt.MouseButton) -> None:
        pos = pad.to_widget(x, y)
        ev = QTabletEvent(kind, dev, pos, QPointF(pad.mapToGlobal(pos)), 0.6, 0.0, 0.0, 0.0, 0.0, 0.0,
                          Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, buttons)
        QApplication.sendEvent(pad, ev)

    tablet(QTabletEvent.Type.TabletPress, 0.3, 0.3, Qt.MouseButton.LeftButton)
    tablet(QTabletEvent.Type.TabletMove, 0.5, 0.5, Qt.MouseButton.LeftButton)
    tablet(QTabletEvent.Type.TabletMove, 0.7, 0.7, Qt.MouseButton.LeftButton)
    tablet(QTabletEvent.Type.TabletRelease, 0.7, 0.7, Qt.MouseButton.NoButton)
    assert len(pad.strokes()) == 1
    assert pad.pixels()[BUFFER_SIZE // 2, BUFFER_SIZE // 2] == 255


def test_right_button_does_not_draw(window) -> None:  # type: ignore[no-untyped-def]
    pad = window.pad
    p = pad.to_widget(0.5, 0.5).toPoint()
    QTest.mousePress(pad, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, p)
    QTest.mouseMove(pad, p + QPoint(40, 40))
    QTest.mouseRelease(pad, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, p + QPoint(40, 40))
    assert pad.is_empty()


def test_save_drawing_as_png(window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    draw_digit(window.pad, "7")
    out = tmp_path / "seven"
    assert window.live.save_drawing(out)
    saved = QImage(str(tmp_path / "seven.png"))
    assert saved.width() == BUFFER_SIZE and not saved.isNull()
    assert window.prefs.last_directory() == tmp_path


def test_high_dpi_display_is_crisp_and_buffer_unchanged(tmp_path: Path) -> None:
    """At a device pixel ratio of 2 the pad shows a 2x image; the model buffer stays 280x280."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from app.ui.app import create_application\n"
        "app = create_application([])\n"
        "from app.ui import MainWindow\n"
        "from tests.ui_helpers import draw_digit\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        "draw_digit(w.pad, '1')\n"
        "d = w.pad._display\n"
        "print(w.pad.devicePixelRatioF(), d.devicePixelRatio(), d.width(), round(w.pad.square().width()),"
        " w.pad.image().width(), w.pad.pixels().max())\n"
        "w.close()\n"
    )
    env = dict(os.environ, QT_SCALE_FACTOR="2", QT_QPA_PLATFORM="offscreen", DIGITPAD_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    dpr, img_dpr, width, side, buf, ink = out.stdout.split()
    assert float(dpr) == 2.0 and float(img_dpr) == 2.0
    assert abs(int(width) - 2 * int(side)) <= 2
    assert int(buf) == BUFFER_SIZE and int(ink) == 255


def _on_screen(widget) -> np.ndarray:  # type: ignore[no-untyped-def]
    """What the screen shows of ``widget`` (the flushed pixels, not a fresh render as
    ``widget.grab()`` would make): RGB rows."""
    QApplication.processEvents()
    top_left = widget.mapTo(widget.window(), QPoint(0, 0))
    shot = widget.screen().grabWindow(widget.window().winId(), top_left.x(), top_left.y(),
                                      widget.width(), widget.height()).toImage()
    shot = shot.convertToFormat(QImage.Format.Format_RGB888)
    bpl = shot.bytesPerLine()
    data = np.frombuffer(shot.constBits(), np.uint8, count=bpl * shot.height())
    rows = data.reshape(shot.height(), bpl)[:, : shot.width() * 3]
    return rows.reshape(shot.height(), shot.width(), 3).copy()


def _hint_pixels(pad) -> int:  # type: ignore[no-untyped-def]
    """Pixels of the hint's grey ("Draw a digit here") in the middle band of the pad, away
    from the ink drawn by the test (which stays in the top-left corner)."""
    from app.ui.pad import pad_colors

    hint = pad_colors(pad.palette()).hint
    shot = _on_screen(pad).astype(int)
    sq = pad.square()
    band = shot[int(sq.center().y() - 20): int(sq.center().y() + 20), int(sq.left()): int(sq.right())]
    want = np.array([hint.red(), hint.green(), hint.blue()])
    return int((np.abs(band - want).sum(axis=2) < 24).sum())


def test_hint_disappears_with_the_first_stroke(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """The "Draw a digit here" hint is gone from the screen as soon as drawing starts, after
    launch and after each way of emptying the pad (Clear, Esc, Delete), not left under the ink."""
    pad = window.pad
    qtbot.waitUntil(lambda: _hint_pixels(pad) > 50)  # shown at launch
    small_stroke = [[(0.1, 0.1), (0.2, 0.15)]]
    draw_polylines(pad, small_stroke)
    qtbot.waitUntil(lambda: _hint_pixels(pad) == 0)
    for clear in (lambda: QTest.mouseClick(window.clear_button, Qt.MouseButton.LeftButton),
                  lambda: QTest.keyClick(pad, Qt.Key.Key_Escape),
                  lambda: QTest.keyClick(pad, Qt.Key.Key_Delete)):
        clear()
        assert pad.is_empty()
        qtbot.waitUntil(lambda: _hint_pixels(pad) > 50)  # the hint is back on the empty pad
        # the press alone (the stroke's first dot) already takes the hint away
        QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         pad.to_widget(0.1, 0.1).toPoint())
        qtbot.waitUntil(lambda: _hint_pixels(pad) == 0)
        QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           pad.to_widget(0.1, 0.1).toPoint())
        pad.setFocus()


def test_drawing_over_an_opened_image_takes_it_off_the_screen(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Drawing replaces an opened image: the image leaves the screen with the first press,
    not only where the new stroke passes."""
    pad = window.pad
    white = QImage(56, 56, QImage.Format.Format_RGB32)
    white.fill(QColor(255, 255, 255))
    pad.show_image(white, "white.png")

    def white_pixels() -> int:
        shot = _on_screen(pad)
        sq = pad.square()
        middle = shot[int(sq.center().y()) - 30: int(sq.center().y()) + 30,
                      int(sq.center().x()) - 30: int(sq.center().x()) + 30]
        return int((middle.min(axis=2) > 240).sum())

    qtbot.waitUntil(lambda: white_pixels() > 1000)
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     pad.to_widget(0.1, 0.1).toPoint())
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       pad.to_widget(0.1, 0.1).toPoint())
    assert not pad.has_background()
    qtbot.waitUntil(lambda: white_pixels() == 0)
