"""tools/ui_check.py: its checks find cut texts and widgets outside the window (so the
screenshot check can fail), and pass on a window where everything fits."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from tools.ui_check import widget_problems


def _dialog(qtbot, *widgets: QWidget) -> QDialog:  # type: ignore[no-untyped-def]
    dlg = QDialog()
    qtbot.addWidget(dlg)
    row = QHBoxLayout(dlg)
    for w in widgets:
        row.addWidget(w)
    dlg.show()
    qtbot.waitExposed(dlg)
    return dlg


def test_everything_fits(qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = _dialog(qtbot, QLabel("Short"), QPushButton("OK"))
    assert widget_problems(dlg) == []


def test_a_cut_label_and_button_are_found(qtbot) -> None:  # type: ignore[no-untyped-def]
    label = QLabel("A label much too long for the width it is given, cut on the right")
    button = QPushButton("A button whose text does not fit")
    dlg = _dialog(qtbot, label, button)
    label.setMinimumWidth(10)
    button.setMinimumWidth(10)
    dlg.setMinimumSize(10, 10)
    dlg.layout().setSizeConstraint(QHBoxLayout.SizeConstraint.SetNoConstraint)
    dlg.resize(120, 60)
    qtbot.waitUntil(lambda: dlg.width() <= 130)
    label.setFixedWidth(40)
    button.setFixedWidth(40)
    qtbot.wait(10)
    found = "\n".join(widget_problems(dlg))
    assert "text cut" in found and "A label much" in found
    assert "button text cut" in found


def test_a_wrapped_label_too_short_is_found(qtbot) -> None:  # type: ignore[no-untyped-def]
    label = QLabel("Words that wrap over several lines when the label is narrow, " * 3)
    label.setWordWrap(True)
    dlg = _dialog(qtbot, label)
    label.setFixedSize(120, 20)
    qtbot.wait(10)
    assert any("needs" in p for p in widget_problems(dlg))


def test_a_widget_outside_the_window_is_found(qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = _dialog(qtbot, QLabel("Inside"))
    stray = QPushButton("Out", dlg)
    stray.setObjectName("strayButton")
    stray.setGeometry(dlg.width() - 10, 5, 60, 24)
    stray.show()
    qtbot.wait(10)
    assert any("outside the window: strayButton" in p for p in widget_problems(dlg))
