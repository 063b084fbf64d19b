"""Model ▸ Retrain… as a user meets it: the description is whole for every architecture,
an error goes as soon as the value is fixed, and all errors are worded alike."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests import ui_helpers
from tools.ui_check import widget_problems

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left


def _open(window, qtbot):  # type: ignore[no-untyped-def]
    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # Model ▸ Retrain…
    dlg = window.training.retrain_dialog
    qtbot.waitExposed(dlg)
    return dlg


def _type(edit, text: str) -> None:  # type: ignore[no-untyped-def]
    edit.setFocus()
    QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(edit, Qt.Key.Key_Backspace)
    QTest.keyClicks(edit, text)


def test_description_is_whole_for_every_architecture(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = _open(window, qtbot)
    dlg.arch_combo.setFocus()
    seen = set()
    for _ in range(dlg.arch_combo.count()):
        QApplication.processEvents()
        qtbot.wait(20)
        d = dlg.description
        assert d.heightForWidth(d.width()) <= d.height() + 1, dlg.arch_combo.currentText()
        assert widget_problems(dlg) == [], dlg.arch_combo.currentText()
        seen.add(dlg.arch_combo.currentData())
        QTest.keyClick(dlg.arch_combo, Qt.Key.Key_Down)
    assert len(seen) == dlg.arch_combo.count()
    QTest.keyClick(dlg, Qt.Key.Key_Escape)


def test_error_goes_when_the_value_is_fixed(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = _open(window, qtbot)
    before = dlg.height()
    _type(dlg.epochs_edit, "0")
    QTest.keyClick(dlg.epochs_edit, Qt.Key.Key_Return)  # Train: refused
    assert dlg.isVisible() and dlg.error_label.isVisible()
    assert dlg.error_label.text() == "Epochs must be between 1 and 200 (you typed '0')."
    assert widget_problems(dlg) == []  # the message is whole
    with_error = dlg.height()
    QTest.keyClick(dlg.epochs_edit, Qt.Key.Key_Backspace)
    assert dlg.error_label.text() == "Epochs must be a whole number (the field is empty)."
    QTest.keyClicks(dlg.epochs_edit, "3")  # fixed: the error goes at once, before any click
    assert not dlg.error_label.isVisible()
    assert "–" not in dlg.estimate_label.text()
    # and the room it took goes with it (no empty bands above and below the estimate)
    QApplication.processEvents()
    assert dlg.height() < with_error and dlg.height() <= before + 1, (before, with_error, dlg.height())
    QTest.keyClick(dlg, Qt.Key.Key_Escape)


def test_errors_are_worded_alike(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = _open(window, qtbot)
    labels = {dlg.epochs_edit: "Epochs", dlg.batch_edit: "Batch size", dlg.lr_edit: "Learning rate",
              dlg.limit_edit: "Training images"}
    for edit, label in labels.items():
        good = edit.text()
        for bad in ("0", "x"):
            _type(edit, bad)
            QTest.keyClick(edit, Qt.Key.Key_Return)
            text = dlg.error_label.text()
            assert re.fullmatch(rf"{label} must be .+ \(you typed '{bad}'\)\.", text), text
        _type(edit, good)
        assert not dlg.error_label.isVisible()
    QTest.keyClick(dlg, Qt.Key.Key_Escape)
