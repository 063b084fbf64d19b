"""Training from the window: the Train/Cancel buttons, progress, the worker thread, errors,
closing mid-training and the Retrain dialog (tiny trainings: a few hundred images, 1 epoch)."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit

from app.core.errors import TrainingError
from app.core.store import ModelStore
from app.core.training import TrainConfig
from app.ui.jobs import running_threads
from tests import ui_helpers
from tests.ui_helpers import draw_digit

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

TINY = TrainConfig(arch="mlp", epochs=1, limit=500, learning_rate=0.1)
# long enough to cancel mid-way, but each batch is short
LONG = TrainConfig(arch="cnn", epochs=3, limit=20000, batch_size=32)


def _user_models(store: ModelStore) -> list[str]:
    store.refresh()
    return [e.name for e in store.entries() if not e.builtin]


def _wait_for_batches(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: window.train_progress.maximum() > 0 and window.train_progress.value() > 0,
                    timeout=120_000)


def test_train_button_trains_saves_and_switches(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore()
    before = window.models.current_name()
    window.training.config = TINY
    values: list[int] = []
    window.train_progress.valueChanged.connect(values.append)
    assert not window.cancel_button.isEnabled()
    draw_digit(window.pad, "7")
    predictions = []
    window.live.updated.connect(lambda: predictions.append(window.probability_view.probabilities()))

    with qtbot.waitSignal(window.training.finished, timeout=180_000) as blocker:
        qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
        assert window.training.is_running()
        assert window.cancel_button.isEnabled()
        assert not window.train_button.isEnabled()
        assert not window.settings_button.isEnabled()
    name = blocker.args[0]

    assert name is not None and name != before
    # a tiny MLP is not as good as the shipped model: kept in the store, and the window asks
    assert window.models.current_name() == before and ModelStore().active_name() == before
    question = ui_helpers.answer_use_new_model(qtbot, window)
    shipped = ModelStore().get(before).test_accuracy
    assert "New: Classic MLP, " in question and f"In use: {before}, {shipped * 100:.2f} %" in question
    store.refresh()
    assert store.active_name() == name  # persisted by the store
    assert ModelStore().active_name() == name
    assert window.models.current_name() == name
    assert window.live.predictor.name == name  # live prediction uses the new model
    entry = store.get(name)
    assert entry.arch == "mlp"
    assert entry.meta["training"]["limit"] == 500
    assert entry.test_accuracy is not None and 0.0 < entry.test_accuracy <= 1.0
    assert len(entry.meta["confusion"]) == 10 and len(entry.meta["per_class_accuracy"]) == 10
    # the progress bar went up batch by batch to the end, never backwards
    # 500 images, 10 % held out for validation, 0.85 pen images per training image, batch 200
    steps = -(-(450 + round(0.85 * 450)) // 200)
    assert window.training.progress_history[-1] == steps
    assert window.training.progress_history == sorted(window.training.progress_history)
    assert len(set(window.training.progress_history)) >= 2
    assert max(values) >= steps
    assert window.curves.loss  # the loss curve got points
    # buttons are back, the thread is gone
    assert not window.training.is_running()
    assert window.train_button.isEnabled() and not window.cancel_button.isEnabled()
    assert running_threads() == []
    # the drawing was re-predicted with the new model
    assert predictions and predictions[-1] is not None
    assert abs(sum(predictions[-1]) - 1.0) < 1e-3
    assert name in window.train_status.text()


def test_cancel_mid_training_keeps_the_old_model(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore()
    before = window.models.current_name()
    old_predictor = window.live.predictor
    window.training.config = LONG
    qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    _wait_for_batches(qtbot, window)

    # while training runs the pad keeps predicting and the window stays responsive
    draw_digit(window.pad, "1")
    qtbot.waitUntil(lambda: window.probability_view.probabilities() is not None
                    or window.live.predictor is None)
    assert window.training.is_running()
    assert window.live.last_update_ms < 100

    total = window.train_progress.maximum()
    with qtbot.waitSignal(window.training.finished, timeout=60_000) as blocker:
        t0 = time.perf_counter()
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
        assert not window.cancel_button.isEnabled()
    assert time.perf_counter() - t0 < 20
    assert blocker.args == [None]
    assert window.training.progress_history[-1] < total  # stopped early
    assert window.models.current_name() == before
    assert window.live.predictor is old_predictor
    assert _user_models(store) == []  # nothing saved, not even half
    assert "cancelled" in window.train_status.text().lower()
    assert window.train_button.isEnabled() and not window.cancel_button.isEnabled()
    assert running_threads() == []


def test_closing_mid_training_asks_then_stops_and_joins(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    store = ModelStore()
    window.training.config = LONG
    qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    _wait_for_batches(qtbot, window)

    asked: list[str] = []
    window.confirm = lambda title, text: asked.append(text) is not None and False  # "No"
    window.close()
    assert asked and "training" in asked[0].lower()
    assert window.isVisible() and window.training.is_running()

    window.confirm = lambda title, text: True
    finished: list[object] = []
    window.training.finished.connect(finished.append)
    window.close()
    assert not window.isVisible()
    assert running_threads() == []  # close() returned only after the thread was joined
    assert finished == [None]
    assert _user_models(store) == []
    assert not list((store.home / "models").glob(".tmp-*")) if (store.home / "models").exists() else True


def test_training_error_is_shown_and_old_model_kept(window, qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def diverge(config, listener=None, dataset=None, initial_model=None):  # type: ignore[no-untyped-def]
        listener.on_status("Loading MNIST…")
        raise TrainingError("Training diverged: the loss became NaN in epoch 1, batch 3. "
                            "Try a lower learning rate.")

    monkeypatch.setattr("app.core.training.train", diverge)
    before = window.models.current_name()
    with qtbot.waitSignal(window.training.finished, timeout=30_000) as blocker:
        qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [None]
    assert window.last_error is not None and "diverged" in window.last_error
    assert window.message_box is not None and window.message_box.isVisible()
    assert "diverged" in window.message_box.text()
    assert window.models.current_name() == before
    assert window.train_button.isEnabled() and not window.cancel_button.isEnabled()
    assert running_threads() == []


def test_unexpected_exception_in_training_is_reported(window, qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("out of cheese")

    monkeypatch.setattr("app.core.training.train", boom)
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(window, "show_error", lambda title, text: shown.append((title, text)))
    with qtbot.waitSignal(window.training.finished, timeout=30_000) as blocker:
        QTest.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Model > Train
    assert blocker.args == [None]
    assert shown and shown[0][0] == "Training failed" and "out of cheese" in shown[0][1]
    assert running_threads() == []


def _set_text(edit: QLineEdit, text: str) -> None:
    """Replace a line edit's text with real keystrokes."""
    edit.setFocus()
    QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(edit, Qt.Key.Key_Backspace)
    QTest.keyClicks(edit, text)


def test_retrain_dialog_defaults_validation_and_ok(window, qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    started: list[TrainConfig] = []
    monkeypatch.setattr(window.training, "start", lambda config=None: started.append(config))
    QTest.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # Model > Retrain…
    dlg = window.training.retrain_dialog
    assert dlg is not None
    qtbot.waitExposed(dlg)
    # the default recipe: the fast convnet
    assert dlg.arch_combo.currentData() == "cnn-fast"
    assert dlg.epochs_edit.text() == "3" and dlg.batch_edit.text() == "128"
    assert "rough estimate" in dlg.estimate_label.text()
    full = dlg.estimate_label.text()

    # switching architecture with the keyboard fills in its defaults
    dlg.arch_combo.setFocus()
    QTest.keyClick(dlg.arch_combo, Qt.Key.Key_Down)
    assert dlg.arch_combo.currentData() == "mlp"
    assert dlg.epochs_edit.text() == "20" and dlg.batch_edit.text() == "200"
    assert float(dlg.lr_edit.text()) == pytest.approx(0.01)

    ok = dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)
    for edit, bad, expected in [
        (dlg.lr_edit, "abc", "learning rate must be a number"),
        (dlg.lr_edit, "0", "learning rate must be between"),
        (dlg.epochs_edit, "0", "epochs must be between"),
        (dlg.epochs_edit, "two", "epochs must be a whole number"),
        (dlg.batch_edit, "100000", "batch size must be between"),
        (dlg.limit_edit, "5", "training images must be between"),
    ]:
        old = edit.text()
        _set_text(edit, bad)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
        assert dlg.isVisible(), bad
        assert dlg.error_label.isVisible()
        assert expected in dlg.error_label.text().lower(), dlg.error_label.text()
        assert started == []
        _set_text(edit, old)

    _set_text(dlg.epochs_edit, "1")
    _set_text(dlg.lr_edit, "0.05")
    _set_text(dlg.limit_edit, "500")
    assert dlg.estimate_label.text() != full
    recipe = window.train_recipe.text()
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()
    expected = TrainConfig(arch="mlp", epochs=1, batch_size=200, learning_rate=0.05, augment=False, limit=500)
    assert started == [expected]  # trained once with these settings ...
    assert window.training.config == TrainConfig()  # ... the Train button's recipe is unchanged
    assert window.train_recipe.text() == recipe and "Fast convnet" in recipe

    # asked explicitly: they become the recipe (shown at once, and remembered)
    dlg = window.training.open_retrain_dialog()
    qtbot.waitExposed(dlg)
    assert dlg.epochs_edit.text() == "3"  # the dialog starts from the recipe
    _set_text(dlg.epochs_edit, "1")
    _set_text(dlg.limit_edit, "500")
    _tick(qtbot, dlg.recipe_check)
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert window.training.config == TrainConfig(arch="cnn-fast", epochs=1, batch_size=128,
                                                 learning_rate=0.01, augment=False, limit=500)
    assert window.train_recipe.text() == "Train: Fast convnet, 1 epoch, 500 images"
    assert window.prefs.train_config() == window.training.config

    # Restore defaults puts the default recipe back in every field
    dlg = window.training.open_retrain_dialog()
    qtbot.waitExposed(dlg)
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults),
                     Qt.MouseButton.LeftButton)
    assert dlg.config() == TrainConfig().resolved()
    _tick(qtbot, dlg.recipe_check)
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert window.training.config.resolved() == TrainConfig().resolved()
    assert window.train_recipe.text().endswith("(the default)")


def _tick(qtbot, check) -> None:  # type: ignore[no-untyped-def]
    """Click a check box on its box (a click in the middle of a wide one misses its text)."""
    from PySide6.QtCore import QPoint

    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))
    assert check.isChecked()


def test_retrain_dialog_cancel_changes_nothing(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    before = window.training.config
    dlg = window.training.open_retrain_dialog()
    qtbot.waitExposed(dlg)
    _set_text(dlg.epochs_edit, "7")
    QTest.keyClick(dlg, Qt.Key.Key_Escape)
    assert not dlg.isVisible()
    assert window.training.config == before
    assert not window.training.is_running()
