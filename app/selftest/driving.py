"""What the self-test and the start-up probe share: a DigitPad home and display to run in,
the real window, and real mouse events on its widgets."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Digits as strokes in a unit box (x right, y down); drawn 70 % of the pad high.
Polyline = list[tuple[float, float]]
STROKES: dict[str, list[Polyline]] = {
    "1": [[(0.42, 0.12), (0.55, 0.02), (0.55, 0.98)]],
    "7": [[(0.12, 0.05), (0.88, 0.05), (0.4, 0.98)]],
    "4": [[(0.6, 0.02), (0.12, 0.65), (0.9, 0.65)], [(0.65, 0.3), (0.65, 0.98)]],
}



class CheckFailed(Exception):
    """A check did not hold; ``str()`` says what was seen."""


def say(text: str) -> None:
    stream = sys.stdout
    if stream is None:
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError, UnicodeEncodeError):
        pass



# --------------------------------------------------------------------------- environment


def has_display() -> bool:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


@contextlib.contextmanager
def environment(offscreen: bool, keep_home: bool) -> Iterator[tuple[Path, bool]]:
    """Set QT_QPA_PLATFORM and DIGITPAD_HOME for the run; restore both afterwards.

    Yields (home, temporary).
    """
    saved = {k: os.environ.get(k) for k in ("QT_QPA_PLATFORM", "DIGITPAD_HOME")}
    if not os.environ.get("QT_QPA_PLATFORM") and (offscreen or not has_display()):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    temporary = not os.environ.get("DIGITPAD_HOME")
    if temporary:
        os.environ["DIGITPAD_HOME"] = tempfile.mkdtemp(prefix="digitpad-selftest-")
    home = Path(os.environ["DIGITPAD_HOME"]).expanduser()
    try:
        yield home, temporary
    finally:
        if temporary and not keep_home:
            shutil.rmtree(home, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def application() -> Any:
    from app.ui.app import create_application

    return create_application([])


def process_events(ms: float = 0.0) -> None:
    """Run the event loop for ``ms`` milliseconds (at least one pass)."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    end = time.perf_counter() + ms / 1000.0
    while True:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        QCoreApplication.sendPostedEvents()
        if time.perf_counter() >= end:
            break


def open_window() -> Any:
    from app.ui import MainWindow

    window = MainWindow()
    window.resize(1000, 760)
    window.show()
    window.raise_()
    window.activateWindow()
    process_events()
    return window


def find_widget(window: Any, name: str) -> Any:
    from PySide6.QtWidgets import QWidget

    w = window.findChild(QWidget, name)
    if w is None:
        raise CheckFailed(f"the window has no widget named {name!r}")
    return w


# --------------------------------------------------------------------------- mouse input


def send_mouse(widget: Any, kind: str, pos: Any, buttons_down: bool = True) -> None:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    p = QPointF(pos)
    left = Qt.MouseButton.LeftButton
    none = Qt.MouseButton.NoButton
    if kind == "press":
        ev = QMouseEvent(QEvent.Type.MouseButtonPress, p, widget.mapToGlobal(p), left, left,
                         Qt.KeyboardModifier.NoModifier)
    elif kind == "move":
        ev = QMouseEvent(QEvent.Type.MouseMove, p, widget.mapToGlobal(p), none,
                         left if buttons_down else none, Qt.KeyboardModifier.NoModifier)
    else:
        ev = QMouseEvent(QEvent.Type.MouseButtonRelease, p, widget.mapToGlobal(p), left, none,
                         Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def densify(stroke: Polyline, step: float) -> Polyline:
    """The polyline with a point at least every ``step`` along it (what a moving mouse reports)."""
    out = [stroke[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step))
        out.extend((x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1))
    return out


def draw_digit(pad: Any, digit: str, size: float = 0.7, aspect: float = 0.7) -> int:
    """Draw ``digit`` on the pad with mouse press/move/release events; returns the moves sent."""
    side = max(1.0, float(pad.square().width()))
    sent = 0
    for stroke in STROKES[digit]:
        placed = [(0.5 + (x - 0.5) * size * aspect, 0.5 + (y - 0.5) * size) for x, y in stroke]
        pts = [pad.to_widget(x, y) for x, y in densify(placed, 6.0 / side)]
        send_mouse(pad, "press", pts[0])
        for p in pts[1:]:
            send_mouse(pad, "move", p)
            sent += 1
        send_mouse(pad, "release", pts[-1])
    process_events()
    return sent


def click(button: Any) -> None:
    """Click a button with a real mouse press and release in its middle."""
    from PySide6.QtCore import QPointF

    centre = QPointF(button.width() / 2.0, button.height() / 2.0)
    send_mouse(button, "press", centre)
    send_mouse(button, "release", centre)
    process_events()


def clear_pad(window: Any) -> None:
    window.live.clear()
    process_events()


def shown_prediction(window: Any) -> tuple[str, list[float] | None]:
    label = find_widget(window, "topDigitLabel").text().strip()
    probs = find_widget(window, "probabilityView").probabilities()
    return label, probs


def draw_and_read(window: Any, digit: str) -> tuple[str, list[float] | None, int]:
    """Clear the pad, draw ``digit`` with the mouse, and read what the window shows:
    (the label, the probabilities, the mouse moves sent)."""
    clear_pad(window)
    moves = draw_digit(find_widget(window, "drawingPad"), digit)
    process_events(10)
    label, probs = shown_prediction(window)
    return label, probs, moves


def check_drawn(window: Any, digit: str) -> str:
    label, probs, moves = draw_and_read(window, digit)
    if probs is None or len(probs) != 10:
        raise CheckFailed(f"no probabilities shown after drawing a {digit} ({moves} mouse moves)")
    if not (abs(sum(probs) - 1.0) < 1e-3 and all(math.isfinite(p) and p >= 0 for p in probs)):
        raise CheckFailed(f"the probabilities shown are not a distribution: {probs}")
    top = max(range(10), key=lambda d: probs[d])
    if label != str(top):
        raise CheckFailed(f"the label shows {label!r} but the bars say {top}")
    if label != digit:
        raise CheckFailed(f"drew a {digit}, the window says {label!r} ({probs[top] * 100:.0f} %)")
    return f"{moves} mouse moves, shows {label} at {probs[top] * 100:.1f} %"

