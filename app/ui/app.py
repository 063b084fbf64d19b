"""Start the DigitPad window: ``run_gui()`` (``digitpad`` with no subcommand)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app import APP_NAME, __version__


def configure_application(app: QApplication) -> None:
    """Names, icon and style shared by the real app and the screenshot tool."""
    from app.ui.main_window import app_icon

    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("digitpad")
    app.setWindowIcon(app_icon())
    if "fusion" in [s.lower() for s in _styles()]:
        app.setStyle("Fusion")


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
    """Create the QApplication and the main window, show it and run the event loop."""
    app = create_application(argv)
    from app.ui.main_window import MainWindow

    window = MainWindow()
    window.show()
    window.pad.setFocus()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(run_gui(sys.argv[1:]))
