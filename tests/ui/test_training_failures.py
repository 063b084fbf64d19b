"""Training through the real window and the real Train/Cancel buttons, when things go wrong.

Already covered elsewhere (not repeated here):
* closing the window mid-training (asks, stops, joins the thread, saves nothing):
  tests/ui/test_training.py::test_closing_mid_training_asks_then_stops_and_joins
* a TrainingError / an unexpected exception inside training shown as an error:
  tests/ui/test_training.py::test_training_error_is_shown_and_old_model_kept,
  test_unexpected_exception_in_training_is_reported
* the Retrain dialog refusing "abc", 0, "two", 100000, 5: tests/ui/test_training.py::
  test_retrain_dialog_defaults_validation_and_ok
* core: cancel within one batch, NaN/exploding loss, bad settings: tests/core/test_training.py
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLineEdit

from app.core.errors import DatasetError
from app.core.store import DEFAULT_MODEL, ModelStore
from app.core.training import TrainConfig
from app.ui.jobs import running_threads
from tests import ui_helpers
from tests.ui_helpers import draw_digit, needs_default_model

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

pytestmark = needs_default_model

TINY = TrainConfig(arch="mlp", epochs=1, limit=300, learning_rate=0.1)
LEFT = Qt.MouseButton.LeftButton


def _user_models(home: Path) -> list[str]:
    models = home / "models"
    return sorted(p.name for p in models.iterdir()) if models.is_dir() else []


def _predicts_a_seven(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.pad.clear()
    draw_digit(window.pad, "7")
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "7", timeout=3000)


@pytest.fixture
def slow_tensorflow_import(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``slow(seconds)``: make "Loading TensorFlow…" take that long (it is already imported in
    this test process), so Cancel and close can land while TensorFlow is still loading."""
    import app.core.tf as tf_mod

    real = tf_mod.import_tf
    delay = {"s": 0.0}

    def slow_import():  # type: ignore[no-untyped-def]
        time.sleep(delay["s"])
        return real()

    monkeypatch.setattr(tf_mod, "import_tf", slow_import)
    return lambda seconds: delay.update(s=seconds)


def test_cancel_at_random_moments_twenty_times(window, qtbot, digitpad_home: Path,  # type: ignore[no-untyped-def]
                                               slow_tensorflow_import) -> None:
    before = window.models.current_name()
    old_predictor = window.live.predictor
    window.training.config = TINY
    rng = random.Random(6)
    moments: list[str] = []
    for i in range(20):
        # the first three while TensorFlow is (slowly) loading, then anywhere in the training
        slow_tensorflow_import(0.8 if i < 3 else 0.0)
        delay_ms = rng.randint(0, 700) if i >= 3 else rng.randint(0, 500)
        with qtbot.waitSignal(window.training.finished, timeout=120_000) as blocker:
            qtbot.mouseClick(window.train_button, LEFT)
            assert window.training.is_running() and window.cancel_button.isEnabled()
            if delay_ms:
                qtbot.wait(delay_ms)
            moments.append(window.train_status.text())
            qtbot.mouseClick(window.cancel_button, LEFT)
        assert blocker.args == [None], (i, delay_ms, moments[-1])
        assert not window.training.is_running() and running_threads() == []
        assert window.train_button.isEnabled() and not window.cancel_button.isEnabled()
        assert "cancelled" in window.train_status.text().lower()
        assert window.models.current_name() == before and window.live.predictor is old_predictor
    # some cancels while TensorFlow was (slowly) loading: the stage before it is still shown
    assert any(m.startswith("Loading") for m in moments), moments
    assert window.last_error is None
    assert ModelStore().active_name() == before
    assert _user_models(digitpad_home) == []  # nothing saved, not even half (no .tmp-* either)
    _predicts_a_seven(window, qtbot)


def test_cancel_while_saving_keeps_nothing(window, qtbot, digitpad_home: Path, tiny_result,  # type: ignore[no-untyped-def]
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancel pressed during "Saving the model…" (the last second of a training): the model
    that was being saved is removed again and the previous one stays active."""
    real_save = ModelStore.save
    saving, clicked = threading.Event(), threading.Event()

    def slow_save(self, *a, **k):  # type: ignore[no-untyped-def]
        saving.set()
        clicked.wait(30)  # the save goes on once Cancel has been pressed
        return real_save(self, *a, **k)

    monkeypatch.setattr("app.core.training.train", lambda *a, **k: tiny_result)
    monkeypatch.setattr(ModelStore, "save", slow_save)
    before = window.models.current_name()
    with qtbot.waitSignal(window.training.finished, timeout=60_000) as blocker:
        qtbot.mouseClick(window.train_button, LEFT)
        qtbot.waitUntil(saving.is_set, timeout=30_000)
        qtbot.mouseClick(window.cancel_button, LEFT)
        clicked.set()
    assert blocker.args == [None]
    assert window.models.current_name() == before and ModelStore().active_name() == before
    assert "cancelled" in window.train_status.text().lower()
    assert _user_models(digitpad_home) == []


def test_train_pressed_twice_trains_once(window, qtbot, digitpad_home: Path) -> None:  # type: ignore[no-untyped-def]
    window.training.config = TINY
    finished: list[object] = []
    window.training.finished.connect(finished.append)
    with qtbot.waitSignal(window.training.finished, timeout=180_000) as blocker:
        qtbot.mouseClick(window.train_button, LEFT)
        qtbot.mouseClick(window.train_button, LEFT)  # disabled: ignored
        QTest.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Model > Train
        assert not window.train_button.isEnabled() and not window.train_action.isEnabled()
        assert window.training.start() is False  # the programmatic path refuses too
        assert "Busy" in window.statusBar().currentMessage()
        assert len([t for t in running_threads() if t.objectName() == "digitpad-training"]) == 1
    qtbot.wait(200)
    assert finished == [blocker.args[0]] and blocker.args[0] is not None
    assert _user_models(digitpad_home) == [blocker.args[0]]  # exactly one new model
    assert window.models.current_name() == DEFAULT_MODEL  # (not as good: kept aside, asked)
    ui_helpers.answer_use_new_model(qtbot, window, use=False)


def test_closing_the_window_right_after_train(window, qtbot, digitpad_home: Path,  # type: ignore[no-untyped-def]
                                              slow_tensorflow_import) -> None:
    """Closed while TensorFlow is still loading: close() waits for the worker, nothing is saved."""
    slow_tensorflow_import(1.0)
    window.training.config = TINY
    qtbot.mouseClick(window.train_button, LEFT)
    qtbot.wait(100)
    assert window.training.is_running()
    window.close()  # the fixture answers "yes, stop and quit"
    assert window.questions == ["Training in progress"]
    assert not window.isVisible() and running_threads() == []
    assert _user_models(digitpad_home) == []
    assert ModelStore().active_name() == DEFAULT_MODEL


def test_dataset_failure_inside_training_keeps_the_app_predicting(window, qtbot,  # type: ignore[no-untyped-def]
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(source=None):  # type: ignore[no-untyped-def]
        raise DatasetError("/somewhere/mnist.npz is truncated or corrupt: Error -3 while decompressing")

    monkeypatch.setattr("app.core.data.load_mnist", broken)
    before = window.models.current_name()
    window.training.config = TINY
    with qtbot.waitSignal(window.training.finished, timeout=60_000) as blocker:
        qtbot.mouseClick(window.train_button, LEFT)
    assert blocker.args == [None]
    assert window.last_error is not None and "mnist.npz is truncated" in window.last_error
    assert window.message_box is not None and window.message_box.isVisible()
    assert f"Still using {before!r}" in window.train_status.text()
    _predicts_a_seven(window, qtbot)  # while the message box is still open
    assert window.train_button.isEnabled()


def test_exploding_loss_stops_with_a_message_and_keeps_the_model(window, qtbot,  # type: ignore[no-untyped-def]
                                                                  digitpad_home: Path) -> None:
    before = window.models.current_name()
    window.training.config = TrainConfig(arch="mlp", epochs=3, batch_size=50, limit=1000,
                                         learning_rate=1000.0)
    with qtbot.waitSignal(window.training.finished, timeout=120_000) as blocker:
        qtbot.mouseClick(window.train_button, LEFT)
    assert blocker.args == [None]
    assert window.last_error is not None and "diverged" in window.last_error
    assert "lower learning rate" in window.last_error
    assert window.models.current_name() == before
    assert window.train_progress.value() < window.train_progress.maximum()
    assert _user_models(digitpad_home) == []
    _predicts_a_seven(window, qtbot)


def _set_text(edit: QLineEdit, text: str) -> None:
    """Replace a line edit's text with real keystrokes."""
    edit.setFocus()
    QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(edit, Qt.Key.Key_Backspace)
    if text:
        QTest.keyClicks(edit, text)


@pytest.mark.parametrize(("field", "typed", "expected"), [
    ("lr", "1e9", "learning rate must be between"),
    ("lr", "-0.1", "learning rate must be between"),
    ("lr", "nan", "learning rate must be a number"),
    ("lr", "inf", "learning rate must be a number"),
    ("lr", "1e400", "learning rate must be a number"),
    ("lr", "", "learning rate must be a number"),
    ("epochs", "1000", "epochs must be between"),
    ("epochs", "-3", "epochs must be between"),
    ("epochs", "2.5", "epochs must be a whole number"),
    ("epochs", "99999999999999999999999999", "epochs must be between"),
    ("epochs", "", "epochs must be a whole number"),
    ("batch", "0", "batch size must be between"),
    ("batch", "1e3", "batch size must be a whole number"),
    ("limit", "70000", "training images must be between"),
    ("limit", "-1", "training images must be between"),
    ("limit", "lots", "training images must be a whole number"),
])
def test_retrain_dialog_refuses_out_of_range_settings(window, qtbot, monkeypatch,  # type: ignore[no-untyped-def]
                                                      field: str, typed: str, expected: str) -> None:
    started: list[object] = []
    monkeypatch.setattr(window.training, "start", lambda config=None: started.append(config))
    before = window.training.config
    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # Model > Retrain…
    dlg = window.training.retrain_dialog
    qtbot.waitExposed(dlg)
    edit = {"lr": dlg.lr_edit, "epochs": dlg.epochs_edit, "batch": dlg.batch_edit,
            "limit": dlg.limit_edit}[field]
    _set_text(edit, typed)
    assert "–" in dlg.estimate_label.text()  # no estimate for settings that cannot be used
    QTest.keyClick(edit, Qt.Key.Key_Return)  # Enter = the default button (Train)
    QApplication.processEvents()
    assert dlg.isVisible()
    assert dlg.error_label.isVisible() and expected in dlg.error_label.text().lower(), dlg.error_label.text()
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.StandardButton.Ok), LEFT)
    assert dlg.isVisible() and started == []
    assert window.training.config == before and not window.training.is_running()
    QTest.keyClick(dlg, Qt.Key.Key_Escape)
    assert not dlg.isVisible() and window.training.config == before
