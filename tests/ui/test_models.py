"""Manage models (switch, rename, delete, export), Evaluate, Load model, About, Shortcuts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QTableWidget

from app.core.inference import Predictor
from app.core.store import ModelStore
from app.ui.jobs import running_threads
from tests import ui_helpers
from tests.ui_helpers import add_model, draw_digit, needs_default_model

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left
tiny_model_dir = ui_helpers.tiny_model_dir


@pytest.fixture
def two_models(digitpad_home: Path, tiny_model_dir: Path) -> list[str]:
    """Two user models in the store (copies of the tiny model), the second one active."""
    add_model(digitpad_home, tiny_model_dir, "alpha")
    add_model(digitpad_home, tiny_model_dir, "beta", activate=True)
    return ["alpha", "beta"]


def _click_row(qtbot, table, row: int) -> None:  # type: ignore[no-untyped-def]
    item = table.item(row, 0)
    rect = table.visualItemRect(item)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_manage_models_switch(two_models, window, qtbot) -> None:  # type: ignore[no-untyped-def]
    assert window.models.current_name() == "beta" and window.windowTitle() == "beta"
    draw_digit(window.pad, "7")
    QTest.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)  # Model > Manage models…
    dlg = window.models.manage_dialog
    assert dlg is not None
    qtbot.waitExposed(dlg)
    names = dlg.names()
    assert {"alpha", "beta"} <= set(names)
    assert dlg.active_in_table() == "beta"
    table = dlg.table
    assert table.objectName() == "modelTable"
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == [
        "Name", "Architecture", "Test accuracy", "Created", "Active"]
    assert "%" in table.item(names.index("alpha"), 2).text()

    _click_row(qtbot, table, names.index("alpha"))
    assert dlg.selected_name() == "alpha"
    with qtbot.waitSignal(window.live.updated, timeout=5000):
        qtbot.mouseClick(dlg.use_button, Qt.MouseButton.LeftButton)
    assert window.models.current_name() == "alpha"
    assert window.live.predictor.name == "alpha"
    assert ModelStore().active_name() == "alpha"  # persisted
    assert dlg.active_in_table() == "alpha"
    assert window.probability_view.probabilities() is not None  # the drawing was re-predicted
    assert "alpha" in window.model_label.text()
    # the title is the model's name; the platform adds " — DigitPad" (the application's
    # display name, test_app checks it is set) once
    assert window.windowTitle() == "alpha" and window.windowHandle().title() == "alpha"



def test_the_model_label_says_what_the_name_does_not(  # type: ignore[no-untyped-def]
        digitpad_home: Path, tiny_model_dir: Path, window, qtbot) -> None:
    """Under the bars: the model's name, then its architecture and MNIST accuracy unless the
    name says them already (a readable name does), so the label fits the narrowest window."""
    from app.core.models import ARCHITECTURES
    from tools.ui_check import widget_problems

    meta = json.loads((tiny_model_dir / "meta.json").read_text(encoding="utf-8"))
    acc = f"{meta['test_accuracy'] * 100:.2f} %"
    short = ARCHITECTURES[meta["arch"]].title.split(" (")[0]
    readable = f"{short} · 1 ep · {acc}"
    add_model(digitpad_home, tiny_model_dir, "alpha")
    add_model(digitpad_home, tiny_model_dir, readable)
    window.store.refresh()  # (added beside the running window, as another DigitPad would)
    for name, repeats in (("alpha", True), (readable, False)):
        assert window.models.use(name)
        text = window.model_label.text()
        assert name in text
        assert (f"{acc} on MNIST test" in text) is repeats and (short in text.replace(name, "")) is repeats
        assert ARCHITECTURES[meta["arch"]].title in window.model_label.toolTip()
    window.resize(1, 1)  # the narrowest window: the label is not cut
    qtbot.waitUntil(lambda: window.width() <= 820)
    assert [p for p in widget_problems(window) if "modelLabel" in p] == []

def test_manage_models_rename_delete_export(two_models, window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dlg = window.models.open_manage_dialog()
    qtbot.waitExposed(dlg)
    table = dlg.table

    # rename the active model: the window follows
    _click_row(qtbot, table, dlg.names().index("beta"))
    dlg.ask_name = lambda current: "gamma"
    qtbot.mouseClick(dlg.rename_button, Qt.MouseButton.LeftButton)
    assert "gamma" in dlg.names() and "beta" not in dlg.names()
    assert window.models.current_name() == "gamma"
    assert ModelStore().active_name() == "gamma"

    # a bad name is refused with a message in the dialog
    dlg.ask_name = lambda current: "../evil"
    qtbot.mouseClick(dlg.rename_button, Qt.MouseButton.LeftButton)
    assert dlg.message.isVisible() and "not a valid model name" in dlg.message.text()

    # export both formats
    for suffix in (".keras", ".tflite"):
        out = tmp_path / f"exported{suffix}"
        dlg.ask_export_path = lambda name, out=out: str(out)
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
        assert out.is_file() and out.stat().st_size > 1000
    Predictor(tmp_path / "exported.tflite")  # a usable model

    # delete the active model (after confirming): the window switches to another one
    questions_before = len(window.questions)
    qtbot.mouseClick(dlg.delete_button, Qt.MouseButton.LeftButton)
    assert len(window.questions) == questions_before + 1
    assert "gamma" not in dlg.names()
    assert window.models.current_name() is not None and window.models.current_name() != "gamma"
    assert window.models.current_name() == ModelStore().active_name()
    assert not (window.models.store.home / "models" / "gamma").exists()

    # saying "no" keeps the model
    _click_row(qtbot, table, dlg.names().index("alpha"))
    window.confirm = lambda title, text: False
    qtbot.mouseClick(dlg.delete_button, Qt.MouseButton.LeftButton)
    assert "alpha" in dlg.names()


@needs_default_model
def test_shipped_model_cannot_be_renamed_or_deleted(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    dlg = window.models.open_manage_dialog()
    qtbot.waitExposed(dlg)
    _click_row(qtbot, dlg.table, dlg.names().index("default"))
    assert dlg.use_button.isEnabled() and dlg.export_button.isEnabled()
    assert not dlg.rename_button.isEnabled() and not dlg.delete_button.isEnabled()


def test_evaluate_shows_accuracy_and_confusion(two_models, window, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.models.evaluation_finished, timeout=60_000) as blocker:
        QTest.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Model > Evaluate
    ev = blocker.args[0]
    assert ev is not None and ev.count == 10000
    # LiteRT agrees with the accuracy Keras measured when the model was trained
    assert ev.accuracy == pytest.approx(window.models.entry.test_accuracy, abs=0.005)
    dlg = window.models.evaluation_dialog
    assert dlg is not None and dlg.isVisible()
    table = dlg.confusion
    assert table.rowCount() == 10 and table.columnCount() == 10
    total = sum(int(table.item(r, c).text()) for r in range(10) for c in range(10))
    assert total == 10000
    diag = sum(int(table.item(d, d).text()) for d in range(10))
    assert diag == round(ev.accuracy * 10000)
    assert dlg.per_class.columnCount() == 10
    assert f"{ev.accuracy * 100:.2f} %" in dlg.findChild(QLabel, "accuracyLabel").text()
    assert f'{ev.not_a_digit} wrongly called "not a digit"' in dlg.findChild(QLabel, "accuracyLabel").text()
    assert running_threads() == []


def test_load_model_imports_keras_in_a_worker(window, qtbot, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    src = tiny_model_dir / "model.keras"
    window.ask_keras_path = lambda: str(src)
    with qtbot.waitSignal(window.models.import_finished, timeout=120_000) as blocker:
        QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # Model > Load model…
        assert not window.train_button.isEnabled()  # one TensorFlow job at a time
    name = blocker.args[0]
    assert name is not None
    assert window.models.current_name() == name == ModelStore().active_name()
    assert window.train_button.isEnabled()


def test_load_model_refuses_a_bad_file(window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"this is not a zip file")
    before = window.models.current_name()
    with qtbot.waitSignal(window.models.import_finished, timeout=120_000) as blocker:
        window.models.import_keras(bad)
    assert blocker.args == [None]
    assert window.last_error is not None and "broken.keras" in window.last_error
    assert window.models.current_name() == before


def test_about_and_shortcuts(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    tf_before = "tensorflow" in sys.modules
    box = window.help.show_about()
    text = box.text()
    for part in ("Qt:", "PySide6:", "TensorFlow:", "LiteRT", "Model in use"):
        assert part in text
    if not tf_before:
        assert "not loaded" in text
        assert "tensorflow" not in sys.modules  # About does not import it
    box.close()
    QTest.keyClick(window, Qt.Key.Key_F1)
    dlg = window.help.shortcuts_dialog
    assert dlg is not None and dlg.isVisible()
    table = dlg.findChild(QTableWidget, "shortcutsTable")
    texts = [table.item(r, 1).text() for r in range(table.rowCount())]
    assert "Ctrl+Z" in texts and any("Esc" in t for t in texts)


def test_evaluating_while_importing_keeps_both_results(window, qtbot, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Import (TensorFlow) and Evaluate (LiteRT) run at the same time; each gets its own result."""
    src = tiny_model_dir / "model.keras"
    window.ask_keras_path = lambda: str(src)
    with qtbot.waitSignal(window.models.import_finished, timeout=120_000) as imported, \
            qtbot.waitSignal(window.models.evaluation_finished, timeout=120_000) as evaluated:
        QTest.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # Model > Load model…
        QTest.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Model > Evaluate
        assert window.jobs.running("import") and window.jobs.running("evaluate")
    name = imported.args[0]
    assert name is not None and window.models.current_name() == name
    ev = evaluated.args[0]
    assert ev is not None and ev.count == 10000
    assert window.last_error is None and running_threads() == []


def test_rename_dialog_is_readable_and_typed_into(two_models, window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """The real Rename dialog (not a stand-in): wide enough for its title and the name, typed
    into with the keyboard, Enter renames."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

    QTest.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)  # Model > Manage models…
    dlg = window.models.manage_dialog
    qtbot.waitExposed(dlg)
    _click_row(qtbot, dlg.table, dlg.names().index("alpha"))
    seen: dict[str, object] = {}

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QInputDialog):
            QTimer.singleShot(20, answer)
            return
        seen["size"] = box.size()
        seen["label"] = box.labelText()
        seen["title"] = box.windowTitle()
        fm = box.fontMetrics()
        seen["title_room"] = box.width() - fm.horizontalAdvance(box.windowTitle())
        edit = box.findChild(QLineEdit)
        QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(edit, "gamma")
        QTest.keyClick(edit, Qt.Key.Key_Return)

    QTimer.singleShot(0, answer)
    qtbot.mouseClick(dlg.rename_button, Qt.MouseButton.LeftButton)
    assert seen["title"] == "Rename model" and seen["label"] == "New name for 'alpha':"
    assert seen["size"].width() >= 380  # type: ignore[attr-defined]
    assert seen["title_room"] >= 150  # the title is not cut by the title bar's buttons
    assert "gamma" in dlg.names() and "alpha" not in dlg.names()
    dlg.close()
