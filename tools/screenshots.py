"""Take screenshots of the real DigitPad window (offscreen) for the docs.

    python tools/screenshots.py              # writes docs/screenshots/{idle,drawing,training}.png
                                             # {explain,samples,finetune,evaluate}.png, number.png
    python tools/screenshots.py --shots explain,evaluate      # only some of them

The window is the real one, driven with real mouse events: a "3" is drawn on the pad with
press/move/release; for training.png the default training is started with the Train button
and the window is grabbed mid-way, the drawing read by the weights in training (then the
training is cancelled). A temporary
DIGITPAD_HOME is used, so the user's models and settings are not touched.

The learning shots: explain.png shows the Explain dock for the drawn "3"; samples.png the
Personal samples window after drawing digits *mirrored* (an unusual handwriting the shipped
model misreads) and labelling each with its digit key; finetune.png the result of Model ▸
Train on my drawings on those samples; evaluate.png the evaluation of the shipped model with
a confusion-matrix cell opened (the two windows side by side).
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
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tools.handwriting import styled_strokes  # noqa: E402


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


def _wait(cond, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + seconds
    while not cond() and time.perf_counter() < deadline:
        _pump(0.05)
    return bool(cond())


def _activate(window) -> None:  # type: ignore[no-untyped-def]
    """Make the main window the active one again (its shortcuts need it)."""
    window.activateWindow()
    _wait(lambda: QApplication.activeWindow() is window, 5)


def side_by_side(images: list[QImage], gap: int = 16) -> QImage:
    """Windows next to each other on a light background (top-aligned)."""
    w = sum(i.width() for i in images) + gap * (len(images) + 1)
    h = max(i.height() for i in images) + 2 * gap
    out = QImage(w, h, QImage.Format.Format_RGB32)
    out.fill(QColor("#dfe3ea"))
    p = QPainter(out)
    x = gap
    for img in images:
        p.drawImage(x, gap, img)
        x += img.width() + gap
    p.end()
    return out


def learning_shots(window, out: Path, shots: set[str], width: int, height: int) -> list[str]:  # type: ignore[no-untyped-def]
    """explain.png, samples.png, finetune.png, evaluate.png, with real events."""
    import numpy as np

    made: list[str] = []
    learning = window.learning
    if "explain" in shots:
        window.resize(width + 300, height)
        window.live.clear()
        QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # View > Explain
        draw(window.pad, _three())
        panel = window.explain.panel
        _wait(lambda: panel.last_result is not None and not panel.service.is_busy(), 20)
        _pump(0.3)
        window.grab().save(str(out / "explain.png"))
        made.append("explain.png")
        QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
        window.resize(width, height)
    if shots & {"samples", "finetune"}:
        _activate(window)
        rng = np.random.default_rng(7)
        for _ in range(8):
            for digit in range(10):
                window.live.clear()
                draw(window.pad, styled_strokes(digit, rng))
                QTest.keyClick(window.pad, getattr(Qt.Key, f"Key_{digit}"))  # "it is a <digit>"
        window.live.clear()
        print(f"{len(learning.samples)} personal samples")
    if "samples" in shots:
        dlg = learning.open_samples_window()
        dlg.resize(760, 700)
        _pump(0.3)
        grid = dlg.grids[3]
        for i in range(2):
            it = grid.item(i)
            if it is not None:
                it.setSelected(True)
        _pump(0.1)
        dlg.grab().save(str(out / "samples.png"))
        made.append("samples.png")
        dlg.close()
    if "finetune" in shots:
        done: list[object] = []
        learning.finetune_finished.connect(done.append)
        _activate(window)
        ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        QTest.keyClick(window, Qt.Key.Key_T, ctrl_shift)  # Model > Train on my drawings
        _wait(lambda: bool(done), 900)
        _pump(0.3)
        dlg = learning.finetune_dialog
        if dlg is not None:
            dlg.resize(640, 480)
            _pump(0.2)
            dlg.grab().save(str(out / "finetune.png"))
            made.append("finetune.png")
            summary = done[0]
            print("fine-tuned:", summary and (summary.before, summary.after))  # type: ignore[attr-defined]
            dlg.switch_back()  # evaluate the shipped model below
            dlg.close()
    if "evaluate" in shots:
        got: list[object] = []
        window.models.evaluation_finished.connect(got.append)
        _activate(window)
        QTest.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Model > Evaluate
        _wait(lambda: bool(got), 300)
        ev = window.models.evaluation_dialog
        if ev is not None and got and got[0] is not None:
            conf = np.array(got[0].confusion)  # type: ignore[attr-defined]
            off = conf - np.diag(np.diag(conf))
            t, p = divmod(int(np.argmax(off)), 10)
            ev.resize(640, 600)
            _pump(0.2)
            item = ev.confusion.item(t, p)
            QTest.mouseClick(ev.confusion.viewport(), Qt.MouseButton.LeftButton,
                             Qt.KeyboardModifier.NoModifier, ev.confusion.visualItemRect(item).center())
            _pump(0.3)
            cell = ev.cell_dialog
            if cell is not None:
                cell.resize(420, 600)
                _pump(0.2)
                side_by_side([ev.grab().toImage(), cell.grab().toImage()]).save(str(out / "evaluate.png"))
                made.append("evaluate.png")
                cell.close()
            ev.close()
    return made


def number_shot(window, out: Path) -> str:  # type: ignore[no-untyped-def]
    """number.png: View ▸ Number mode, "2026" written on the strip, its second digit clicked."""
    from PySide6.QtGui import QAction

    from tools.handwriting import DIGITS

    action = window.findChild(QAction, "numberModeAction")
    action.trigger()
    _pump(0.1)
    strokes = [[(0.3 + k * 0.55 + x * 0.62 * 0.7, 0.5 + (y - 0.5) * 0.62) for x, y in line]
               for k, ch in enumerate("2026") for line in DIGITS[ch]]
    draw(window.pad, strokes)
    view = window.number.view
    _wait(lambda: view.number() == "2026", 5)
    QTest.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.cell_rect(1).center().toPoint())
    _pump(0.1)
    window.grab().save(str(out / "number.png"))
    print(f"number mode read {view.number()}")
    action.trigger()  # back to the single-digit pad
    _pump(0.1)
    return "number.png"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--size", default="1040x800", help="window size WxH")
    ap.add_argument("--shots", default="idle,drawing,training,explain,samples,finetune,evaluate,number",
                    help="comma-separated screenshots to take")
    args = ap.parse_args(argv)
    shots = {s.strip() for s in args.shots.split(",") if s.strip()}
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
        made: list[str] = []
        if "idle" in shots:
            window.grab().save(str(args.out / "idle.png"))
            made.append("idle.png")

        draw(window.pad, _three())
        _pump(0.1)
        if "drawing" in shots:
            window.grab().save(str(args.out / "drawing.png"))
            made.append("drawing.png")
        print(f"drawn digit recognised as {window.top_digit_label.text()} "
              f"({window.confidence_label.text()}), update {window.live.last_update_ms:.2f} ms")
        made += learning_shots(window, args.out, shots, width, height)
        if "number" in shots:
            made.append(number_shot(window, args.out))
        if "training" not in shots:
            window.close()
            _pump()
            for name in made:
                print(args.out / name)
            return 0

        QTest.keyClick(window.pad, Qt.Key.Key_Escape)  # a fresh 3 for the weights in training to read
        draw(window.pad, _three())
        _pump(0.1)
        window.training.config = TrainConfig()  # what the Train button does; Watch it learn is on
        done: list[object] = []
        window.training.finished.connect(done.append)
        QTest.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
        deadline = time.perf_counter() + 600
        while not done and time.perf_counter() < deadline:
            _pump(0.05)
            total = window.train_progress.maximum()
            if total > 0 and window.train_progress.value() >= 0.55 * total \
                    and window.learning.live_updates > 0:
                break
        _pump(0.1)
        window.grab().save(str(args.out / "training.png"))
        made.append("training.png")
        if not done:
            QTest.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
            while not done and time.perf_counter() < deadline:
                _pump(0.05)
        window.close()
        _pump()
    for name in made:
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
