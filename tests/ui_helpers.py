"""Helpers for the GUI tests: draw digits with real mouse events, and shared fixtures.

Digits are polylines in a unit box (x right, y down), scaled and placed on the pad, then
drawn with ``QTest.mousePress`` / ``QTest.mouseMove`` (with the left button held) /
``QTest.mouseRelease`` on the real pad widget, through Qt's normal event delivery.
"""

from __future__ import annotations

import itertools
import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.core import paths
from app.core.store import DEFAULT_MODEL

Polyline = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 16) -> Polyline:
    """Points on an ellipse from angle a0 to a1 (degrees, 0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
             cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]


# Each digit: a list of strokes; each stroke a polyline in the unit box.
DIGITS: dict[str, list[Polyline]] = {
    "0": [_arc(0.5, 0.5, 0.33, 0.46, -90, 275, 28)],
    "1": [[(0.42, 0.12), (0.55, 0.02), (0.55, 0.98)]],
    "2": [[*_arc(0.5, 0.3, 0.3, 0.25, 190, 370, 12), (0.2, 0.95), (0.85, 0.95)]],
    "3": [_arc(0.48, 0.27, 0.28, 0.23, 200, 450, 14) + _arc(0.48, 0.73, 0.32, 0.25, -90, 160, 14)],
    "4": [[(0.6, 0.02), (0.12, 0.65), (0.9, 0.65)], [(0.65, 0.3), (0.65, 0.98)]],
    "5": [[(0.8, 0.04), (0.3, 0.04), (0.25, 0.45), *_arc(0.5, 0.68, 0.32, 0.28, -110, 150, 14)]],
    "6": [[(0.72, 0.02), (0.45, 0.25), (0.25, 0.55), *_arc(0.5, 0.7, 0.27, 0.27, 180, 540, 20)]],
    "7": [[(0.12, 0.05), (0.88, 0.05), (0.4, 0.98)]],
    "8": [_arc(0.5, 0.27, 0.25, 0.23, 90, 450, 18) + _arc(0.5, 0.73, 0.3, 0.25, -90, 270, 18)],
    "9": [[*_arc(0.5, 0.3, 0.3, 0.27, 0, 360, 20), (0.8, 0.3), (0.75, 0.98)]],
}


def pad_strokes(digit: str, size: float = 0.7, center: tuple[float, float] = (0.5, 0.5),
                aspect: float = 0.7) -> list[Polyline]:
    """``digit`` placed on the pad: 0..1 pad coordinates, ``size`` = height as a pad fraction."""
    cx, cy = center
    return [[(cx + (x - 0.5) * size * aspect, cy + (y - 0.5) * size) for x, y in stroke]
            for stroke in DIGITS[digit]]


def _densify(stroke: Polyline, step: float) -> Polyline:
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step))
        out.extend((x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1))
    return out


def _move_with_button(pad, pos: QPoint) -> None:  # type: ignore[no-untyped-def]
    """A real MouseMove with the left button held; falls back to sendEvent if QTest's move
    does not carry the button (some Qt 6 versions)."""
    before = pad.moves_received
    QTest.mouseMove(pad, pos)
    if pad.moves_received == before:
        p = QPointF(pos)
        ev = QMouseEvent(QEvent.Type.MouseMove, p, pad.mapToGlobal(p), Qt.MouseButton.NoButton,
                         Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(pad, ev)


def draw_polylines(pad, strokes: list[Polyline], step_px: float = 6.0,  # type: ignore[no-untyped-def]
                   dense: bool = True) -> int:
    """Draw strokes (0..1 pad coordinates) with real mouse events; returns the moves the pad got."""
    side = pad.square().width()
    before = pad.moves_received
    sent = 0
    for stroke in strokes:
        pts = _densify(stroke, step_px / side) if dense else stroke
        wpts = [pad.to_widget(x, y).toPoint() for x, y in pts]
        QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, wpts[0])
        for p in wpts[1:]:
            _move_with_button(pad, p)
            sent += 1
        QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, wpts[-1])
    QApplication.processEvents()
    received = pad.moves_received - before
    assert received == sent, f"the pad received {received} of {sent} mouse moves with the button held"
    return received


def draw_digit(pad, digit: str, size: float = 0.7,  # type: ignore[no-untyped-def]
               center: tuple[float, float] = (0.5, 0.5), dense: bool = True) -> int:
    return draw_polylines(pad, pad_strokes(digit, size, center), dense=dense)


def default_model_present() -> bool:
    return (paths.bundled_store_dir() / DEFAULT_MODEL / "meta.json").is_file()


needs_default_model = pytest.mark.skipif(
    not default_model_present(), reason="the shipped default model (model_store/default) is not there yet")


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Fail the test if a worker thread started by the window is still running after it."""
    from app.ui.worker import running_threads

    yield
    QApplication.processEvents()
    left = [t.objectName() for t in running_threads()]
    for t in running_threads():  # do not leak into the next test
        t.quit()
        t.wait(30000)
    assert left == [], f"worker threads still running after the test: {left}"


@pytest.fixture
def window(qtbot, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The real main window, shown (offscreen). Questions answer "yes"; errors are recorded."""
    from app.ui import MainWindow

    questions: list[str] = []

    def confirm(self, title: str, text: str) -> bool:  # type: ignore[no-untyped-def]
        questions.append(title)
        return True

    monkeypatch.setattr(MainWindow, "confirm", confirm)
    w = MainWindow()
    w.questions = questions
    qtbot.addWidget(w)
    w.resize(1000, 760)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    w.pad.setFocus()
    return w


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small MLP (300 images, 1 epoch) saved as a store entry, trained once per session."""
    from app.core.store import write_model_dir
    from app.core.training import TrainConfig, train

    result = train(TrainConfig(arch="mlp", epochs=1, limit=300, learning_rate=0.1))
    meta = result.meta("tests", title="tiny test model")
    dest = tmp_path_factory.mktemp("tiny-model") / "tiny"
    write_model_dir(result.model, meta, dest)
    return dest


def add_model(home: Path, src: Path, name: str, activate: bool = False) -> str:
    """Put a copy of the store entry ``src`` into ``home``'s user models (no TensorFlow needed)."""
    from app.core.store import ModelStore

    shutil.copytree(src, home / "models" / name)
    if activate:
        ModelStore(home=home).set_active(name)
    return name
