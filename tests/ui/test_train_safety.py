"""Training never makes things worse behind the user's back and says what it is doing:
through the real window with real clicks and keys, in the real training process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit

from app.core.store import ModelStore
from app.core.training import TrainConfig
from app.core.training_process import TrainingProcess
from app.ui.jobs import running_threads
from tests import ui_helpers

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left
LEFT = Qt.MouseButton.LeftButton


def _user_models(home: Path) -> list[str]:
    return [e.name for e in ModelStore(home=home).entries() if not e.builtin]


def _type(edit: QLineEdit, text: str) -> None:
    edit.setFocus()
    QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(edit, text)


def _bad_recipe_once(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Settings… -> the classic MLP, 1 epoch, 300 images -> Train once (keyboard and mouse)."""
    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    dlg = window.training.retrain_dialog
    qtbot.waitExposed(dlg)
    dlg.arch_combo.setFocus()
    for _ in range(dlg.arch_combo.count()):
        if dlg.arch_combo.currentData() == "mlp":
            break
        QTest.keyClick(dlg.arch_combo, Qt.Key.Key_Down)
    assert dlg.arch_combo.currentData() == "mlp"
    _type(dlg.epochs_edit, "1")
    _type(dlg.limit_edit, "300")
    assert not dlg.recipe_check.isChecked()  # train once: the recipe stays unless asked
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.StandardButton.Ok), LEFT)
    assert not dlg.isVisible()


@pytest.mark.training_process
def test_a_bad_recipe_does_not_replace_a_better_model_unless_the_user_says_so(
        window, qtbot, digitpad_home: Path) -> None:  # type: ignore[no-untyped-def]
    before = window.models.current_name()
    assert before == "default"
    recipe = window.train_recipe.text()
    with qtbot.waitSignal(window.training.finished, timeout=240_000) as blocker:
        _bad_recipe_once(window, qtbot)
    kept_aside = blocker.args[0]
    assert kept_aside in _user_models(digitpad_home)  # saved ...
    assert window.models.current_name() == before == ModelStore().active_name()  # ... not in use
    box = window.training.question
    qtbot.waitUntil(lambda: box.isVisible())
    assert "New: Classic MLP, " in box.informativeText()
    shipped = ModelStore().get("default").test_accuracy
    assert f"In use: default, {shipped * 100:.2f} %" in box.informativeText()
    QTest.keyClick(box, Qt.Key.Key_Return)  # the default answer keeps the model in use
    qtbot.waitUntil(lambda: window.training.question is None)
    assert window.models.current_name() == before == ModelStore().active_name()
    assert kept_aside in _user_models(digitpad_home)  # the new one stays in the store
    assert window.train_recipe.text() == recipe  # and the Train button's recipe did not change

    # the same again; this time the user says "use it"
    with qtbot.waitSignal(window.training.finished, timeout=240_000) as blocker:
        _bad_recipe_once(window, qtbot)
    second = blocker.args[0]
    ui_helpers.answer_use_new_model(qtbot, window, use=True)
    assert window.models.current_name() == second == ModelStore().active_name()
    assert window.live.predictor.name == second
    assert len(_user_models(digitpad_home)) == 2


@pytest.mark.training_process
def test_cancel_while_tensorflow_loads_returns_at_once(window, qtbot, digitpad_home: Path) -> None:  # type: ignore[no-untyped-def]
    """A fresh training process: Cancel lands while it loads TensorFlow (seconds), and the
    window is back within a second; the model in use stays, nothing is saved."""
    fresh = TrainingProcess()
    window.training.trainer = fresh
    old = window.live.predictor
    window.training.config = TrainConfig(arch="mlp", epochs=1, limit=300)
    try:
        qtbot.mouseClick(window.train_button, LEFT)
        qtbot.waitUntil(lambda: window.train_status.text().startswith("Loading TensorFlow"), timeout=60_000)
        assert window.train_progress.maximum() == 6 and window.train_progress.value() == 1  # step 2 of 6
        with qtbot.waitSignal(window.training.finished, timeout=5_000) as blocker:
            t0 = time.perf_counter()
            qtbot.mouseClick(window.cancel_button, LEFT)
        assert time.perf_counter() - t0 < 1.0
        assert blocker.args == [None]
        assert "cancelled" in window.train_status.text().lower()
        assert window.live.predictor is old and running_threads() == []
    finally:
        fresh.close()
    assert _user_models(digitpad_home) == []


@pytest.mark.training_process
def test_cancel_at_each_later_stage_keeps_the_model_in_use(window, qtbot, digitpad_home: Path) -> None:  # type: ignore[no-untyped-def]
    old = window.live.predictor
    # a convnet: long enough stages to land a click in each (evaluating 10 000 images, saving)
    window.training.config = TrainConfig(arch="cnn", epochs=1, limit=2000, batch_size=64)
    seen = []
    completed = 0
    finished: list[object] = []
    window.training.finished.connect(finished.append)
    for stage in ("Loading MNIST", "Epoch 1/1", "Evaluating", "Saving"):
        finished.clear()
        qtbot.mouseClick(window.train_button, LEFT)
        qtbot.waitUntil(lambda s=stage: window.train_status.text().startswith(s) or bool(finished),
                        timeout=120_000)
        if finished:  # the stage went by between two looks: not this time
            completed += 1
            if window.training.question is not None:
                window.training.question.close()
            continue
        t0 = time.perf_counter()
        qtbot.mouseClick(window.cancel_button, LEFT)
        qtbot.waitUntil(lambda: bool(finished), timeout=5_000)
        assert time.perf_counter() - t0 < 1.0, stage
        if finished != [None]:  # it finished in the same instant: not cancelled
            completed += 1
            if window.training.question is not None:
                window.training.question.close()
            continue
        seen.append(stage)
        assert window.live.predictor is old, stage
        assert window.models.current_name() == "default", stage
    assert len(seen) >= 3, seen
    time.sleep(2.0)  # the process finishes a cancelled save by deleting it
    assert window.models.current_name() == "default" == ModelStore().active_name()
    assert len(_user_models(digitpad_home)) == completed  # a cancelled one left nothing


def test_the_recipe_label_survives_status_messages(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    recipe = window.train_recipe.text()
    assert recipe == "Train: Fast convnet, 3 epochs, all 60 000 images (the default)"
    window.statusBar().showMessage("Something else entirely", 5000)
    ui_helpers.draw_digit(window.pad, "7")
    window.training.config = TrainConfig(arch="mlp", epochs=1, limit=300)
    tiny = window.train_recipe.text()
    assert tiny == "Train: Classic MLP, 1 epoch, 300 images"
    texts = []
    with qtbot.waitSignal(window.training.finished, timeout=180_000):
        qtbot.mouseClick(window.train_button, LEFT)
        while window.training.is_running():
            texts.append((window.train_status.text(), window.train_recipe.text()))
            qtbot.wait(20)
    assert len({status for status, _ in texts}) >= 3  # stages and progress went by ...
    assert {r for _, r in texts} == {tiny}  # ... and the recipe stayed
    ui_helpers.answer_use_new_model(qtbot, window, use=False)
    assert window.train_recipe.text() == tiny
    # the Retrain dialog's check box makes a recipe; Cancel leaves it
    dlg = window.training.open_retrain_dialog()
    qtbot.waitExposed(dlg)
    qtbot.mouseClick(dlg.recipe_check, LEFT, pos=QPoint(8, dlg.recipe_check.height() // 2))
    QTest.keyClick(dlg, Qt.Key.Key_Escape)
    assert window.train_recipe.text() == tiny
