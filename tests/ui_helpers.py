"""Helpers for the GUI tests: draw digits with real mouse events, and shared fixtures.

Digits (:mod:`tools.handwriting`) are placed on the pad, then drawn with ``QTest.mousePress`` /
``QTest.mouseMove`` (with the left button held) /
``QTest.mouseRelease`` on the real pad widget, through Qt's normal event delivery.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.selftest.driving import densify
from tests.conftest import needs_default_model
from tools.handwriting import Polyline, pad_strokes

__all__ = ["needs_default_model"]  # (the GUI tests import it from here)


def move_with_button(pad, pos: QPoint) -> None:  # type: ignore[no-untyped-def]
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
        pts = densify(stroke, step_px / side) if dense else stroke
        wpts = [pad.to_widget(x, y).toPoint() for x, y in pts]
        QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, wpts[0])
        for p in wpts[1:]:
            move_with_button(pad, p)
            sent += 1
        QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, wpts[-1])
    QApplication.processEvents()
    received = pad.moves_received - before
    assert received == sent, f"the pad received {received} of {sent} mouse moves with the button held"
    return received


def draw_digit(pad, digit: str, size: float = 0.7,  # type: ignore[no-untyped-def]
               center: tuple[float, float] = (0.5, 0.5), dense: bool = True) -> int:
    return draw_polylines(pad, pad_strokes(digit, size, center), dense=dense)


def drop_on_window(window, mime: QMimeData) -> bool:  # type: ignore[no-untyped-def]
    """Drag ``mime`` over the pad and drop it (real events); True if the drag was accepted
    (nothing is dropped otherwise)."""
    pos = QPointF(window.pad.mapTo(window, QPoint(60, 60)))
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return True


def drop_file(window, path: Path) -> bool:  # type: ignore[no-untyped-def]
    """Drag the file ``path`` over the window and drop it (see :func:`drop_on_window`)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    return drop_on_window(window, mime)


def in_fresh_window(code: str, home: Path) -> str:
    """The output of ``code`` run in a fresh interpreter (nothing imported by other tests) once
    the main window is up: ``app``, ``w`` (the window), ``t0`` (when the script began)."""
    script = ("import sys, time\nt0 = time.perf_counter()\n"
              "from app.ui.app import create_application\napp = create_application([])\n"
              "from app.ui import MainWindow\nw = MainWindow(); w.show(); app.processEvents()\n"
              f"{code}w.close()\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DIGITPAD_HOME=str(home))
    out = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Fail the test if a worker thread started by the window is still running after it."""
    from app.ui.jobs import running_threads

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


def answer_use_new_model(qtbot, window, use: bool = True) -> str:  # type: ignore[no-untyped-def]
    """The window asks whether to use a new model that is not as good as the one in use:
    click "Use the new model" (or "Keep …") with the mouse; returns the question's text."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QPushButton

    qtbot.waitUntil(lambda: window.training.question is not None and window.training.question.isVisible(),
                    timeout=10_000)
    box = window.training.question
    text = f"{box.text()}\n{box.informativeText()}"
    button = box.findChild(QPushButton, "useNewModelButton" if use else "keepModelButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.training.question is None, timeout=5_000)
    return text
