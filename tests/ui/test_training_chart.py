"""The training chart in the real window: axis titles, round ticks, a legend off the curves,
an accuracy axis zoomed to the values, readable in light and dark palettes."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QFontMetrics, QImage

from app.ui.style import chart_colors, contrast
from app.ui.widgets import TrainingCurves, nice_ticks
from tests import ui_helpers

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left


def _feed(curves: TrainingCurves, epochs: int = 3, start_loss: float = 2.42) -> None:
    """Batches of a training run as the training panel hands them over (smoothed values)."""
    curves.reset(epochs)
    loss, acc, steps = start_loss, 0.1, 200
    for epoch in range(epochs):
        points = []
        for i in range(steps):
            k = epoch * steps + i
            loss = 0.85 * loss + 0.15 * (start_loss * math.exp(-k / 40) + 0.04)
            acc = 0.85 * acc + 0.15 * (0.985 - 0.9 * math.exp(-k / 40) + 0.004 * math.sin(k))
            points.append((k / steps, loss, acc))
        curves.add_batches(points)
        curves.add_epoch(epoch, {"val_loss": 0.05, "val_accuracy": 0.98 + 0.004 * epoch})


def _image(widget) -> np.ndarray:  # type: ignore[no-untyped-def]
    img = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    bpl = img.bytesPerLine()
    rows = np.frombuffer(img.constBits(), np.uint8, count=bpl * img.height()).reshape(img.height(), bpl)
    return rows[:, : img.width() * 3].reshape(img.height(), img.width(), 3).astype(int)


def _texts_are_whole_and_apart(curves: TrainingCurves) -> None:
    lay = curves.chart_layout()
    fm = QFontMetrics(curves.chart_font())
    bounds = QRectF(curves.rect())
    placed = []
    for text, rect, role, align in lay.texts:
        assert fm.horizontalAdvance(text) <= rect.width() + 0.5, f"{text!r} is cut"
        assert bounds.contains(rect) or role == "xtick", f"{text!r} is outside the chart"
        if role != "empty":
            assert not rect.intersects(lay.plot.adjusted(1, 1, -1, -1)), f"{text!r} covers the plot"
            placed.append((text, QRectF(fm.boundingRect(rect.toRect(), int(align.value), text))))
    for i, (a, ra) in enumerate(placed):
        for b, rb in placed[i + 1:]:
            assert not ra.intersects(rb), f"{a!r} and {b!r} overlap"


def test_ticks_are_round_numbers() -> None:
    assert nice_ticks(0, 2.42, 5) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert nice_ticks(0.94, 0.99, 3) == [0.94, 0.96, 0.98, 1.0]
    for hi in (0.07, 0.3, 1.9, 2.42, 4.4):
        ticks = nice_ticks(0, hi, 5)
        step = ticks[1] - ticks[0]
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert any(abs(mantissa - m) < 1e-9 for m in (1, 2, 2.5, 5)), (hi, ticks)
        assert ticks[-1] >= hi and ticks[-2] < hi and 3 <= len(ticks) <= 7


def test_chart_titles_ticks_legend_and_zoomed_accuracy(window, qtbot, scheme) -> None:  # type: ignore[no-untyped-def]
    curves = window.curves
    assert curves.is_empty()
    lay = curves.chart_layout()
    roles = {role: text for text, _, role, _ in lay.texts}
    assert roles["loss"] == "loss" and roles["accuracy"] == "accuracy" and roles["axis"] == "epochs"
    assert roles["empty"] == TrainingCurves.EMPTY_TEXT
    _texts_are_whole_and_apart(curves)

    _feed(curves)
    qtbot.wait(20)
    lay = curves.chart_layout()
    labels = [text for text, _, role, _ in lay.texts if role == "tick"]
    assert labels[: len(lay.loss_ticks)] == ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5"]  # not 2.42/1.81/...
    # accuracy: zoomed to where the values are, so 98 % and 99 % are well apart
    lo, hi = lay.acc_ticks[0], lay.acc_ticks[-1]
    best = max(v for _, v in curves.acc + curves.val_acc)
    assert 0.85 <= lo < 0.98 and best <= hi <= 1.0
    gap = lay.plot.height() * 0.01 / (hi - lo)
    assert gap >= 6, f"98 % and 99 % are only {gap:.1f} px apart"
    _texts_are_whole_and_apart(curves)
    # the loss curve starts at the top left of the plot, not hidden under the legend:
    # the pixel where it starts has the loss colour
    colors = chart_colors(curves.palette())
    img = _image(curves)
    top = lay.plot.bottom() - lay.plot.height() * 2.42 / lay.loss_ticks[-1]
    x0 = int(lay.plot.left()) + 1
    patch = img[int(top) - 3: int(top) + 4, x0: x0 + 5]
    want = np.array([colors.loss.red(), colors.loss.green(), colors.loss.blue()])
    assert (np.abs(patch - want).sum(axis=2) < 60).any()


def test_chart_texts_readable_in_both_palettes(window, qtbot, scheme) -> None:  # type: ignore[no-untyped-def]
    """Hint, legend and ticks stand out from the chart's background in light and dark."""
    curves = window.curves
    colors = chart_colors(curves.palette())
    assert (colors.background.lightness() < 128) == (scheme == "dark")
    for c in (colors.text, colors.muted):
        assert contrast(c, colors.background) >= 4.5
    for c in (colors.loss, colors.accuracy):
        assert contrast(c, colors.background) >= 3.0
    # what is on screen: the empty-chart hint's pixels are as far from the background as
    # its colour is (drawn, in a readable colour)
    img = _image(curves)
    rect = next(r for _, r, role, _ in curves.chart_layout().texts if role == "empty")
    fm = QFontMetrics(curves.chart_font())
    w = fm.horizontalAdvance(TrainingCurves.EMPTY_TEXT)
    band = img[int(rect.center().y()) - 6: int(rect.center().y()) + 6,
               int(rect.center().x() - w / 2): int(rect.center().x() + w / 2)]
    darkest = max(band.reshape(-1, 3), key=lambda px: contrast(QColor(*px), colors.background))
    assert contrast(QColor(*darkest), colors.background) >= 3.0


def test_chart_at_its_minimum_size(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    curves = window.curves
    _feed(curves)
    window.resize(window.minimumSize())
    qtbot.wait(50)
    _texts_are_whole_and_apart(curves)
