"""Draw DigitPad's application icon with QPainter (no image editor needed).

    python tools/make_icon.py            # writes resources/icons/digitpad.png (256 px) + 32/64/128 px

The icon: a dark rounded square (the drawing pad), a hand-drawn white "7" and three small
probability bars, the tallest one highlighted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
)

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "resources" / "icons"


def draw_icon(size: int) -> QImage:
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    s = size / 256.0
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.scale(s, s)

    # the pad
    grad = QLinearGradient(0, 0, 256, 256)
    grad.setColorAt(0.0, QColor("#2b3a67"))
    grad.setColorAt(1.0, QColor("#141a2e"))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(grad)
    p.drawRoundedRect(QRectF(8, 8, 240, 240), 44, 44)

    # a hand-drawn 7
    path = QPainterPath(QPointF(52, 62))
    path.cubicTo(QPointF(90, 56), QPointF(130, 52), QPointF(168, 58))
    path.cubicTo(QPointF(150, 100), QPointF(122, 150), QPointF(104, 206))
    pen = QPen(QColor("#f4f6fb"), 26, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
               Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(path)

    # probability bars
    p.setPen(Qt.PenStyle.NoPen)
    for x, h, color in ((170, 26, "#5b6b99"), (192, 70, "#4fc3a1"), (214, 18, "#5b6b99")):
        p.setBrush(QColor(color))
        p.drawRoundedRect(QRectF(x, 214 - h, 16, h), 5, 5)
    p.end()
    return img


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for size in (256, 128, 64, 32):
        name = "digitpad.png" if size == 256 else f"digitpad-{size}.png"
        if not draw_icon(size).save(str(OUT_DIR / name)):
            raise SystemExit(f"could not write {OUT_DIR / name}")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
