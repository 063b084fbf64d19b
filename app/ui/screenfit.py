"""First window sizes that fit the screen.

A size chosen in logical pixels grows with the display scale: 1040×800 is 1560×1200 device
pixels at 150 %, taller than a 1080p screen. Every window's first size goes through here.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QWidget


def resize_within_screen(widget: QWidget, width: int, height: int, share: float = 0.9) -> None:
    """Resize ``widget`` to ``width``×``height`` logical pixels, but to at most ``share`` of the
    free area of its screen (the window's minimum size still wins)."""
    size = QSize(width, height)
    screen = widget.screen()
    if screen is not None:
        size = size.boundedTo(screen.availableGeometry().size() * share)
    widget.resize(size)
