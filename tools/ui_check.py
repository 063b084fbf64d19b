"""Screenshot check: the real window and dialogs at 100 % and 150 %, small and large, light
and dark, rendered to PNGs; fails (exit status 1) when text is cut or a widget lies outside
its window.

    python tools/ui_check.py                     # 100 % and 150 %, light and dark
    python tools/ui_check.py --scale 1.5 --scheme dark --out /tmp/shots

For each scale (a process of its own: ``QT_SCALE_FACTOR`` is read at start-up) and colour
scheme it renders, with the Explain dock open, the main window at its minimum size and at
1280×720 logical (a 1080p screen at 150 %, less a panel and the title bar), the same in
number mode with a number written, a training chart with a run's curves, the Retrain
dialog and the Explain dock, and checks each:

* no label, button, check box, group box title, tab, table header or cell is narrower or
  shorter than its text (cut or elided);
* every visible widget lies inside its window;
* the window's minimum size is at most ``--max-min`` (800×560 logical) and fits 1280×720.

Offscreen (``QT_QPA_PLATFORM=offscreen``), with a temporary DIGITPAD_HOME.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SMALL_SCREEN = (1280, 650)  # 1280x720 logical less a panel (40) and a title bar (30)
MAX_MIN = (800, 560)


def widget_problems(root) -> list[str]:  # type: ignore[no-untyped-def]
    """Cut texts and widgets outside ``root`` (a window), as lines "what: where"."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractScrollArea,
        QDockWidget,
        QGroupBox,
        QLabel,
        QTabBar,
        QTableWidget,
        QWidget,
    )

    out: list[str] = []
    frame = QRect(QPoint(0, 0), root.size())

    def where(w: QWidget) -> str:
        return w.objectName() or type(w).__name__

    def in_scroll_area(w: QWidget) -> bool:
        p = w.parentWidget()
        while p is not None and p is not root:
            if isinstance(p.parentWidget(), QAbstractScrollArea) and p is p.parentWidget().viewport():  # type: ignore[union-attr]
                return True
            p = p.parentWidget()
        return False

    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisible() or w.window() is not root or w.width() <= 0:
            continue
        scrolled = in_scroll_area(w)
        if w is not root and not scrolled and w.parentWidget() is not None and w.parentWidget().layout():
            # squeezed below what it needs, or lying over a sibling (a layout that gave up)
            need = w.minimumSizeHint().expandedTo(w.minimumSize())
            policy = w.sizePolicy()
            if (need.height() > w.height() + 1 and policy.verticalPolicy() != policy.Policy.Ignored
                    and w.maximumHeight() >= need.height()):
                out.append(f"squeezed ({w.height()} px high, needs {need.height()}): {where(w)}")
            geo = w.geometry()
            for other in w.parentWidget().children():
                if (isinstance(other, QWidget) and other is not w and other.isVisible()
                        and not other.isWindow() and other.geometry().intersects(geo.adjusted(1, 1, -1, -1))
                        and id(other) > id(w) and w.parentWidget().layout().indexOf(other) >= 0):
                    out.append(f"overlaps {where(other)}: {where(w)}")
        if w is not root and not scrolled:
            r = QRect(w.mapTo(root, QPoint(0, 0)), w.size())
            if not frame.adjusted(-1, -1, 1, 1).contains(r):
                out.append(f"outside the window: {where(w)} at {r.getRect()} in {frame.size().toTuple()}")
        if isinstance(w, QLabel) and w.text() and w.pixmap().isNull() and not scrolled:
            if w.wordWrap():
                need = w.heightForWidth(w.width())
                if need > w.height() + 1:
                    out.append(f"text cut (needs {need} px high, has {w.height()}): "
                               f"{where(w)} {w.text()[:60]!r}")
            else:
                hint = w.sizeHint()
                if hint.width() > w.width() + 1 or hint.height() > w.height() + 2:
                    out.append(f"text cut ({hint.width()}x{hint.height()} in {w.width()}x{w.height()}): "
                               f"{where(w)} {w.text()[:60]!r}")
        elif isinstance(w, QAbstractButton) and w.text() and not scrolled:
            hint = w.sizeHint()
            if hint.width() > w.width() + 1:
                out.append(f"button text cut ({hint.width()} in {w.width()}): {where(w)} {w.text()!r}")
        elif isinstance(w, QGroupBox) and w.title():
            if w.fontMetrics().horizontalAdvance(w.title()) + 16 > w.width():
                out.append(f"group title cut: {w.title()!r}")
        elif isinstance(w, QDockWidget) and w.windowTitle():
            if w.fontMetrics().horizontalAdvance(w.windowTitle()) + 40 > w.width():
                out.append(f"dock title cut: {w.windowTitle()!r}")
        elif isinstance(w, QTabBar):
            for i in range(w.count()):
                if w.tabRect(i).width() + 1 < w.tabSizeHint(i).width():
                    out.append(f"tab cut: {w.tabText(i)!r}")
        elif isinstance(w, QTableWidget):
            out += _table_problems(w, where(w))
    return out


def _table_problems(table, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    fm = table.fontMetrics()
    header = table.horizontalHeader()
    if header.isVisible():
        hfm = header.fontMetrics()
        for c in range(table.columnCount()):
            item = table.horizontalHeaderItem(c)
            if item is None or table.isColumnHidden(c):
                continue
            for line in item.text().splitlines():
                if hfm.horizontalAdvance(line) + 8 > header.sectionSize(c):
                    out.append(f"column title cut: {name} {line!r}")
    for r in range(table.rowCount()):
        for c in range(table.columnCount()):
            item = table.item(r, c)
            if item is None or not item.text() or table.isColumnHidden(c):
                continue
            widest = max(fm.horizontalAdvance(t) for t in item.text().splitlines())
            if widest + 8 > table.columnWidth(c):
                out.append(f"cell cut: {name} row {r} {item.text()[:40]!r}")
    return out


def feed_chart(curves, epochs: int = 3, steps: int = 200) -> None:  # type: ignore[no-untyped-def]
    """A training run's smoothed batch values and validation dots, as the panel hands them on."""
    curves.reset(epochs)
    loss, acc = 2.4, 0.1
    for epoch in range(epochs):
        points = []
        for i in range(steps):
            k = epoch * steps + i
            loss = 0.85 * loss + 0.15 * (2.4 * math.exp(-k / 40) + 0.04 + 0.02 * math.sin(k * 1.3))
            acc = 0.85 * acc + 0.15 * (0.985 - 0.9 * math.exp(-k / 40) + 0.006 * math.sin(k))
            points.append((k / steps, loss, acc))
        curves.add_batches(points)
        curves.add_epoch(epoch, {"val_loss": 0.05, "val_accuracy": 0.98 + 0.004 * epoch})


def check_scale(scale: float, schemes: list[str], out: Path, max_min: tuple[int, int]) -> list[str]:
    """Render and check everything in this process (QT_SCALE_FACTOR already set)."""
    from PySide6.QtCore import QSize, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QDockWidget

    from app.ui.app import create_application
    from app.ui.style import apply_color_scheme

    app = create_application([])
    from app.ui import MainWindow

    problems: list[str] = []
    for scheme in schemes:
        apply_color_scheme(app, scheme)
        tag = f"{round(scale * 100)}-{scheme}"
        window = MainWindow()
        window.show()
        QTest.qWaitForWindowExposed(window)
        window.activateWindow()
        dock = window.findChild(QDockWidget)
        if dock is not None and not dock.isVisible():  # (it stays open from the last window)
            QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # View ▸ Explain
        QApplication.processEvents()
        if dock is None or not dock.isVisible():
            problems.append(f"{tag}: View ▸ Explain (Ctrl+I) did not open the Explain dock")
        from tools.handwriting import pad_strokes
        from tools.screenshots import draw

        draw(window.pad, pad_strokes("3"))  # with real mouse events: a digit read, its bars
        from app.ui.explain_panel import ExplainPanel

        panel = window.findChild(ExplainPanel)
        for _ in range(100):  # the Explain dock follows (its own thread)
            QTest.qWait(100)
            if panel is None or (panel.last_result is not None and not panel.service.is_busy()):
                break
        feed_chart(window.curves)
        minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
        if minimum.width() > max_min[0] or minimum.height() > max_min[1]:
            problems.append(f"{tag}: minimum size {minimum.width()}x{minimum.height()} (Explain open) "
                            f"is larger than {max_min[0]}x{max_min[1]}")
        for label, size in (("minimum", minimum), ("1280x720", QSize(*SMALL_SCREEN))):
            window.resize(size)
            QApplication.processEvents()
            QTest.qWait(50)
            if label == "1280x720" and (window.width() > size.width() or window.height() > size.height()):
                problems.append(f"{tag}: the window does not fit 1280x720 logical "
                                f"({window.width()}x{window.height()})")
            problems += [f"{tag} {label} window: {p}" for p in widget_problems(window)]
            window.grab().save(str(out / f"window-{label}-{tag}.png"))
            window.curves.grab().save(str(out / f"chart-{label}-{tag}.png"))
            if dock is not None and dock.isVisible():
                dock.grab().save(str(out / f"explain-{label}-{tag}.png"))
        # number mode (View ▸ Number mode, Ctrl+N): a strip across the window, in the same room
        QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        QApplication.processEvents()
        draw(window.pad, pad_strokes("4", center=(0.4, 0.5)))
        draw(window.pad, pad_strokes("2", center=(1.0, 0.5)))
        number_min = window.minimumSizeHint().expandedTo(window.minimumSize())
        for label, size in (("minimum", number_min), ("1280x720", QSize(*SMALL_SCREEN))):
            window.resize(size)
            QApplication.processEvents()
            QTest.qWait(50)
            if window.width() > SMALL_SCREEN[0] or window.height() > SMALL_SCREEN[1]:
                problems.append(f"{tag}: number mode ({label}) does not fit 1280x720 logical "
                                f"({window.width()}x{window.height()})")
            problems += [f"{tag} {label} number mode: {p}" for p in widget_problems(window)]
            window.grab().save(str(out / f"number-{label}-{tag}.png"))
        QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # back to the pad
        dlg = window.training.open_retrain_dialog()
        QApplication.processEvents()
        QTest.qWait(50)
        problems += [f"{tag} retrain dialog: {p}" for p in widget_problems(dlg)]
        dlg.grab().save(str(out / f"retrain-{tag}.png"))
        dlg.reject()
        window.close()
        window.deleteLater()
        QApplication.processEvents()
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "ui-check")
    ap.add_argument("--scale", type=float, action="append", help="1 and 1.5 when not given")
    ap.add_argument("--scheme", action="append", choices=["light", "dark"], help="both when not given")
    ap.add_argument("--max-min", default=f"{MAX_MIN[0]}x{MAX_MIN[1]}", help="largest minimum size WxH")
    args = ap.parse_args(argv)
    scales = args.scale or [1.0, 1.5]
    schemes = args.scheme or ["light", "dark"]
    max_min = tuple(int(v) for v in args.max_min.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    if len(scales) > 1 or os.environ.get("QT_SCALE_FACTOR") != str(scales[0]):
        failed = 0
        for scale in scales:  # QT_SCALE_FACTOR is read once per process: one child per scale
            env = dict(os.environ, QT_SCALE_FACTOR=str(scale), QT_QPA_PLATFORM="offscreen")
            cmd = [sys.executable, __file__, "--scale", str(scale), "--out", str(args.out),
                   "--max-min", args.max_min] + [a for s in schemes for a in ("--scheme", s)]
            failed |= subprocess.run(cmd, env=env, check=False).returncode
        return 1 if failed else 0
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="digitpad-ui-check-") as home:
        os.environ["DIGITPAD_HOME"] = home
        problems = check_scale(scales[0], schemes, args.out, max_min)  # type: ignore[arg-type]
    for p in problems:
        print("FAIL", p)
    print(f"{round(scales[0] * 100)} %: {len(problems)} problem(s); screenshots in {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
