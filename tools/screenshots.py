"""Take screenshots of the real DigitPad window (offscreen) for the docs.

    python tools/screenshots.py              # writes docs/screenshots/{idle,drawing,training}.png

The window is the real one, driven with real mouse events: a "3" is drawn on the pad with
press/move/release; for training.png a tiny training run is started with the Train button
and the window is grabbed mid-way (then the training is cancelled). A temporary
DIGITPAD_HOME is used, so the user's models and settings are not touched.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def _three() -> list[list[tuple[float, float]]]:
    """A hand-drawn looking "3" in 0..1 pad coordinates (two bowls, slightly uneven)."""
    pts: list[tuple[float, float]] = []
    for i in range(15):
        a = math.radians(200 + 250 * i / 14)
        pts.append((0.5 + 0.17 * math.cos(a), 0.33 + 0.14 * math.sin(a)))
    for i in range(16):
        a = math.radians(-90 + 245 * i / 15)
        pts.append((0.5 + 0.2 * math.cos(a) + 0.01 * math.sin(3 * a), 0.63 + 0.16 * math.sin(a)))
    return [pts]


def _pump(seconds: float = 0.0) -> None:
    end = time.perf_counter() + seconds
    while True:
        QApplication.processEvents()
        if time.perf_counter() >= end:
            break
        time.sleep(0.01)


def draw(pad, strokes: list[list[tuple[float, float]]]) -> None:  # type: ignore[no-untyped-def]
    """Draw with real mouse events: press, moves with the left button held, release."""
    for stroke in strokes:
        pts = [pad.to_widget(x, y).toPoint() for x, y in stroke]
        dense: list[QPoint] = [pts[0]]
        for a, b in itertools.pairwise(pts):
            n = max(1, int(math.hypot(b.x() - a.x(), b.y() - a.y()) / 6))
            dense += [QPoint(round(a.x() + (b.x() - a.x()) * i / n), round(a.y() + (b.y() - a.y()) * i / n))
                      for i in range(1, n + 1)]
        QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, dense[0])
        for p in dense[1:]:
            before = pad.moves_received
            QTest.mouseMove(pad, p)
            if pad.moves_received == before:  # Qt versions whose QTest move has no buttons
                ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(p), QPointF(pad.mapToGlobal(p)),
                                 Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton,
                                 Qt.KeyboardModifier.NoModifier)
                QApplication.sendEvent(pad, ev)
        QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, dense[-1])
    _pump()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--size", default="1040x800", help="window size WxH")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="digitpad-shots-") as home:
        os.environ["DIGITPAD_HOME"] = home
        from app.core.training import TrainConfig
        from app.ui.app import create_application

        create_application([])
        from app.ui import MainWindow

        window = MainWindow()
        window.confirm = lambda title, text: True  # type: ignore[method-assign]
        window.resize(width, height)
        window.show()
        _pump(0.2)
        window.grab().save(str(args.out / "idle.png"))

        draw(window.pad, _three())
        _pump(0.1)
        window.grab().save(str(args.out / "drawing.png"))
        print(f"drawn digit recognised as {window.top_digit_label.text()} "
              f"({window.confidence_label.text()}), update {window.last_update_ms:.2f} ms")

        window.train_config = TrainConfig(arch="cnn", epochs=3, limit=6000)
        done: list[object] = []
        window.training_finished.connect(done.append)
        QTest.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
        deadline = time.perf_counter() + 600
        while not done and time.perf_counter() < deadline:
            _pump(0.05)
            total = window.train_progress.maximum()
            if total > 0 and window.train_progress.value() >= 0.55 * total:
                break
        _pump(0.1)
        window.grab().save(str(args.out / "training.png"))
        if not done:
            QTest.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
            while not done and time.perf_counter() < deadline:
                _pump(0.05)
        window.close()
        _pump()
    for name in ("idle.png", "drawing.png", "training.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
