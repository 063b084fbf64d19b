"""What the window says stays true: the training panel forgets a training's result once
another model is in use, and "Cancelling training…" gives way to what happened."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.core.store import DEFAULT_MODEL
from app.core.training import TrainConfig
from tests import ui_helpers

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

TINY = TrainConfig(arch="mlp", epochs=1, limit=500, learning_rate=0.1)
LONG = TrainConfig(arch="cnn", epochs=3, limit=20000, batch_size=32)


def test_training_result_is_forgotten_when_another_model_is_used(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.training.config = TINY
    with qtbot.waitSignal(window.training.finished, timeout=180_000) as blocker:
        QTest.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    name = blocker.args[0]
    said = window.train_status.text()
    assert name is not None and name in said  # what became of the new model
    other = DEFAULT_MODEL if window.models.current_name() != DEFAULT_MODEL else name
    # Model ▸ Manage models…: another model in use, with a real click on its row and Use
    QApplication.processEvents()
    for w in QApplication.topLevelWidgets():  # (a question about the new model, if any, answered)
        if w is not window and w.isVisible() and w.isWindow():
            w.close()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    QTest.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    dlg = window.models.manage_dialog
    qtbot.waitExposed(dlg)
    row = dlg.names().index(other)
    rect = dlg.table.visualItemRect(dlg.table.item(row, 0))
    QTest.mouseClick(dlg.table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center())
    QTest.mouseClick(dlg.use_button, Qt.MouseButton.LeftButton)
    assert window.models.current_name() == other
    assert window.train_status.text() != said  # no longer about that training
    assert "still using" not in window.train_status.text() and "now using" not in window.train_status.text()
    dlg.close()


def test_training_result_is_forgotten_when_its_model_is_deleted(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """A new model that is not in use, deleted from Model ▸ Manage models…: the panel no
    longer says it is in the store."""
    window.training.config = TINY
    with qtbot.waitSignal(window.training.finished, timeout=180_000) as blocker:
        QTest.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    name = blocker.args[0]
    QApplication.processEvents()
    for w in QApplication.topLevelWidgets():  # (the question about the new model: kept the old one)
        if w is not window and w.isVisible() and w.isWindow():
            w.close()
    assert window.models.current_name() != name  # (a tiny MLP is not as good as the shipped model)
    said = window.train_status.text()
    assert name in said and "in the store" in said
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    QTest.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    dlg = window.models.manage_dialog
    qtbot.waitExposed(dlg)
    rect = dlg.table.visualItemRect(dlg.table.item(dlg.names().index(name), 0))
    QTest.mouseClick(dlg.table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center())
    QTest.mouseClick(dlg.delete_button, Qt.MouseButton.LeftButton)  # (the window's confirm says yes)
    assert name not in dlg.names()
    assert name not in window.train_status.text()
    dlg.close()


def test_cancelling_message_gives_way_to_the_outcome(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.training.config = LONG
    QTest.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.train_progress.maximum() > 0 and window.train_progress.value() > 0,
                    timeout=120_000)
    with qtbot.waitSignal(window.training.finished, timeout=60_000):
        QTest.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
        assert window.statusBar().currentMessage() == "Cancelling training…"
    assert window.statusBar().currentMessage() == "Training cancelled."
    assert "cancelled" in window.train_status.text().lower()
