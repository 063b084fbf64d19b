"""Start the DigitPad window: ``run_gui()`` (``digitpad`` with no subcommand)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app import APP_NAME, __version__
from app.ui.main_window import MainWindow
from app.ui.pad import Stroke
from app.ui.style import app_icon, apply_color_scheme


def configure_application(app: QApplication) -> None:
    """Names, icon and style shared by the real app and the screenshot tool."""
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("digitpad")
    app.setWindowIcon(app_icon())
    # Native styles on Windows and macOS; on Linux the default depends on the desktop, so
    # use Fusion for a consistent look.
    if sys.platform.startswith("linux") and "fusion" in [s.lower() for s in _styles()]:
        app.setStyle("Fusion")
    apply_color_scheme(app)  # DIGITPAD_COLOR_SCHEME=light|dark, else the system's palette


def _styles() -> list[str]:
    from PySide6.QtWidgets import QStyleFactory

    return list(QStyleFactory.keys())


def create_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        configure_application(existing)
        return existing
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    app = QApplication(list(sys.argv[:1] if argv is None else [sys.argv[0], *argv]))
    configure_application(app)
    return app


def run_gui(argv: list[str] | None = None) -> int:
    """Create the QApplication and the main window, show it and run the event loop.

    With ``DIGITPAD_SMOKE_TEST=<file>`` in the environment the window draws a "7" itself as
    soon as the event loop runs, writes what it predicted (JSON) to ``<file>`` and quits:
    a start-up check for installed copies and bundles (exit status 0 = it predicted a 7).
    """
    app = create_application(argv)
    window = MainWindow()
    install_excepthook(window)
    window.show()
    window.pad.setFocus()
    smoke = os.environ.get("DIGITPAD_SMOKE_TEST")
    if smoke:
        outcome = {"ok": False}
        QTimer.singleShot(0, lambda: outcome.update(ok=_smoke_test(window, Path(smoke))))
        QTimer.singleShot(0, window.close)
        code = int(app.exec())
        return code if outcome["ok"] else 1
    QTimer.singleShot(0, window.help.first_run)  # the tour, at the very first start
    return int(app.exec())


def install_excepthook(window: MainWindow) -> None:
    """A bug that escapes a slot or event handler becomes one message in the window and one
    line on stderr, not a traceback; the window keeps running (the traceback is logged at
    DEBUG level)."""
    import logging

    log = logging.getLogger("app.ui")

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        text = " ".join(str(value).split())[:300]
        message = f"{kind.__name__}{': ' + text if text else ''}"
        log.debug("unexpected error", exc_info=(kind, value, tb))
        try:  # show_error also writes one line to the log (stderr)
            window.show_error("Unexpected error", f"{message}\n\nDigitPad keeps running; "
                              "what you were doing may not have finished.")
        except Exception:  # the window itself is broken: at least one line on stderr
            log.error("unexpected error: %s", message)

    sys.excepthook = hook


def _smoke_test(window: MainWindow, out: Path) -> bool:
    """Draw a 7 on the pad (as strokes), predict, and report."""
    ready = time.time()
    window.pad.set_strokes([Stroke(((0.3, 0.2), (0.7, 0.2), (0.45, 0.8)), 20 / 280)])
    window.live.update()
    probs = window.probability_view.probabilities()
    result = {
        "ready_time": ready,
        "predicted_time": time.time(),  # the probabilities are shown (bench/bench_startup.py)
        "window_visible": window.isVisible(),
        "model": window.models.current_name(),
        "digit": window.top_digit_label.text(),
        "probabilities": probs,
        "update_ms": window.live.last_update_ms,
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }
    try:
        out.write_text(json.dumps(result), encoding="utf-8")
    except OSError:
        return False
    return result["digit"] == "7"


if __name__ == "__main__":
    sys.exit(run_gui(sys.argv[1:]))
