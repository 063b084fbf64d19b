"""Learning from the user, through the real window with real mouse and keyboard events: corrections kept as
personal samples, the Personal samples window, import/export, fine-tuning on the user's
drawings, the evaluation view's confusion cells, the Explain panel and watching it learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.core.samples import SampleStore
from app.core.store import ModelStore
from app.core.training import TrainConfig
from app.ui.jobs import running_threads
from tests import ui_helpers
from tests.ui_helpers import draw_digit, draw_polylines, needs_default_model
from tools.handwriting import personal_set, styled_strokes

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

pytestmark = needs_default_model


def _status(window) -> str:  # type: ignore[no-untyped-def]
    """What the status bar shows: the undoable notice, else the plain message."""
    return window.notice.text() or window.statusBar().currentMessage()


def _click_item(grid, key) -> None:  # type: ignore[no-untyped-def]
    item = grid.item_for(key)
    assert item is not None, f"no thumbnail for {key}"
    rect = grid.visualItemRect(item)
    QTest.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center())


# ---------------------------------------------------------------------------- corrections
def test_a_digit_key_keeps_the_drawing_as_a_labelled_sample(window, digitpad_home: Path) -> None:  # type: ignore[no-untyped-def]
    draw_digit(window.pad, "7")
    shown = window.preview_view.image()
    assert shown is not None
    QTest.keyClick(window.pad, Qt.Key.Key_4)  # "no, that is a 4" (a real key press on the window)
    store = SampleStore(digitpad_home)
    assert len(store) == 1
    sample = store.samples()[0]
    assert sample.label == 4
    assert np.array_equal(sample.image, np.clip(np.rint(shown * 255), 0, 255).astype(np.uint8))
    pad_strokes = window.pad.strokes()
    assert sample.strokes is not None and len(sample.strokes) == len(pad_strokes) == 1
    assert np.allclose(np.array(sample.strokes[0][0]), np.array(pad_strokes[0].points), atol=1e-4)
    assert sample.strokes[0][1] == pytest.approx(pad_strokes[0].width, abs=1e-5)
    assert _status(window) == "Kept as a 4 (the model read 7): you have 1 sample of 4, 1 in all."

    QTest.keyClick(window.pad, Qt.Key.Key_4)  # the same again: not a duplicate
    assert len(SampleStore(digitpad_home)) == 1 and "Already kept as a 4" in _status(window)
    QTest.keyClick(window.pad, Qt.Key.Key_1)  # changed my mind: relabel, still one sample
    store.reload()
    assert len(store) == 1 and store.samples()[0].label == 1
    assert _status(window).startswith("Changed to a 1")

    QTest.keyClick(window.pad, Qt.Key.Key_Escape)
    draw_digit(window.pad, "3")
    QTest.keyClick(window.pad, Qt.Key.Key_3)
    assert SampleStore(digitpad_home).counts()[3] == 1
    assert _status(window) == "Kept as a 3: you have 1 sample of 3, 2 in all."
    QTest.keyClick(window.pad, Qt.Key.Key_Escape)  # nothing drawn: nothing saved
    QTest.keyClick(window.pad, Qt.Key.Key_5)
    assert len(SampleStore(digitpad_home)) == 2 and "Draw a digit first" in _status(window)


def test_clicking_a_digits_bar_labels_the_drawing(window, digitpad_home: Path) -> None:  # type: ignore[no-untyped-def]
    draw_digit(window.pad, "2")
    pv = window.probability_view
    QTest.mouseClick(pv, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     pv.bar_center(8).toPoint())
    samples = SampleStore(digitpad_home).samples()
    assert [s.label for s in samples] == [8]
    assert _status(window).startswith("Kept as an 8 (the model read 2)")


# ---------------------------------------------------------------------------- samples window
def test_samples_window_lists_relabels_and_deletes(window, digitpad_home: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    for digit, size in (("1", 0.7), ("7", 0.7), ("7", 0.55)):
        QTest.keyClick(window.pad, Qt.Key.Key_Escape)
        draw_digit(window.pad, digit, size=size)
        QTest.keyClick(window.pad, getattr(Qt.Key, f"Key_{digit}"))
    ids = SampleStore(digitpad_home).ids()
    assert len(ids) == 3

    QTest.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)  # Model ▸ Personal samples…
    dlg = window.learning.samples_window
    assert dlg is not None
    qtbot.waitExposed(dlg)
    assert dlg.ids_in_row(1) == [ids[0]] and dlg.ids_in_row(7) == ids[1:]
    assert "2" in dlg.row_labels[7].text() and "3" in dlg.summary.text()
    assert not dlg.delete_button.isEnabled()

    grid7 = dlg.grids[7]
    _click_item(grid7, ids[1])
    assert dlg.selected_ids() == [ids[1]]
    QTest.keyClick(grid7, Qt.Key.Key_9)  # a digit key relabels the selection
    assert dlg.ids_in_row(9) == [ids[1]] and dlg.ids_in_row(7) == [ids[2]]
    assert SampleStore(digitpad_home).get(ids[1]).label == 9

    _click_item(dlg.grids[1], ids[0])
    assert dlg.selected_ids() == [ids[0]]  # a plain click in another row replaces the selection
    qtbot.mouseClick(dlg.delete_button, Qt.MouseButton.LeftButton)
    assert SampleStore(digitpad_home).ids() == ids[1:]
    assert dlg.ids_in_row(1) == []

    _click_item(grid7, ids[2])
    QTest.keyClick(grid7, Qt.Key.Key_Delete)
    assert SampleStore(digitpad_home).ids() == [ids[1]]
    assert "Undo delete (Ctrl+Z)" in dlg.message.text() and dlg.undo_button.isEnabled()

    # Undo: Ctrl+Z brings the 7 back (same id, label, image and strokes), then the button the 1
    QTest.keyClick(grid7, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert SampleStore(digitpad_home).ids() == ids[1:]
    assert dlg.ids_in_row(7) == [ids[2]] and "Brought back 1 sample" in dlg.message.text()
    back = SampleStore(digitpad_home).get(ids[2])
    assert back.label == 7 and back.strokes is not None and back.image.max() == 255
    qtbot.mouseClick(dlg.undo_button, Qt.MouseButton.LeftButton)
    assert SampleStore(digitpad_home).ids() == ids and dlg.ids_in_row(1) == [ids[0]]
    assert not dlg.undo_button.isEnabled()  # nothing more to undo
    QTest.keyClick(grid7, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert SampleStore(digitpad_home).ids() == ids  # (and nothing happens)
    for i in (ids[0], ids[2]):  # delete both again for what follows
        _click_item(dlg.grids[SampleStore(digitpad_home).get(i).label], i)
        qtbot.mouseClick(dlg.delete_button, Qt.MouseButton.LeftButton)
    assert SampleStore(digitpad_home).ids() == [ids[1]]
    # a new correction (back in the main window) shows up in the open samples window
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    QTest.keyClick(window.pad, Qt.Key.Key_Escape)
    draw_digit(window.pad, "0")
    QTest.keyClick(window.pad, Qt.Key.Key_0)
    assert len(dlg.ids_in_row(0)) == 1
    dlg.close()


def test_samples_export_import_round_trip_and_refusing_pickles(window, digitpad_home: Path,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path, qtbot) -> None:
    x, y, _ = personal_set(per_digit=1, seed=5)
    store = SampleStore(digitpad_home)
    for img, label in zip(x, y, strict=True):
        store.add(img, int(label))
    dlg = window.learning.open_samples_window()
    qtbot.waitExposed(dlg)
    out = tmp_path / "mine.npz"
    dlg.ask_export_path = lambda: str(out)
    qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    with np.load(out, allow_pickle=False) as npz:
        assert np.array_equal(npz["x_train"], x) and np.array_equal(npz["y_train"], y)
    assert "Exported 10 samples" in dlg.message.text()

    dlg.ask_import_path = lambda: str(out)
    qtbot.mouseClick(dlg.import_button, Qt.MouseButton.LeftButton)
    store.reload()
    assert len(store) == 20 and store.counts() == [2] * 10
    assert [len(dlg.ids_in_row(d)) for d in range(10)] == [2] * 10

    evil = tmp_path / "evil.npz"
    np.savez(evil, x_train=np.array([object(), 1], dtype=object), y_train=np.array([1, 2]))
    dlg.ask_import_path = lambda: str(evil)
    qtbot.mouseClick(dlg.import_button, Qt.MouseButton.LeftButton)
    assert "refuses to unpickle" in dlg.message.text()
    assert len(SampleStore(digitpad_home)) == 20
    dlg.close()


# ---------------------------------------------------------------------------- evaluation
def test_clicking_a_confusion_cell_opens_its_test_digits(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.models.evaluation_finished, timeout=120_000) as blocker:
        QTest.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Model ▸ Evaluate
    ev = blocker.args[0]
    dlg = window.models.evaluation_dialog
    assert dlg is not None and dlg.details is not None
    qtbot.waitExposed(dlg)
    conf = np.array(ev.confusion)
    off = conf - np.diag(np.diag(conf))
    flat = int(np.argmax(off))
    t, p = divmod(flat, 10)
    n = int(conf[t, p])
    assert n > 0
    item = dlg.confusion.item(t, p)
    QTest.mouseClick(dlg.confusion.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     dlg.confusion.visualItemRect(item).center())
    cell = dlg.cell_dialog
    assert cell is not None and cell.isVisible()
    assert (cell.true, cell.predicted) == (t, p)
    keys = [int(k) for k in cell.grid.item_keys()]
    assert len(keys) == n
    d = dlg.details
    assert all(int(d.y[k]) == t and int(np.argmax(d.probs[k])) == p for k in keys)
    assert "%" in cell.grid.item(0).toolTip()
    # the gallery of mistakes, each with its probabilities
    wrong = int(off.sum())
    assert dlg.gallery is not None and dlg.gallery.count() == min(wrong, 400)
    assert dlg.tabs.tabText(1) == f"Misclassified ({wrong})"
    assert running_threads() == []


# ---------------------------------------------------------------------------- explain
def test_explain_panel_saliency_lies_on_the_strokes(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = window.explain.panel
    QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # View ▸ Explain
    assert window.explain.dock.isVisible()
    with qtbot.waitSignal(panel.updated, timeout=10_000):
        draw_digit(window.pad, "4")
    qtbot.waitUntil(lambda: panel.last_result is not None and panel.last_result.saliency is not None
                    and not panel.service.is_busy(), timeout=10_000)
    res = panel.last_result
    x = window.preview_view.image()
    assert x is not None and np.array_equal(res.x, x)  # the newest drawing was explained
    s = res.saliency
    assert s.digit == 4 == int(window.top_digit_label.text())
    ink = x > 0.2
    grown = ink.copy()
    grown[1:] |= ink[:-1]
    grown[:-1] |= ink[1:]
    grown[:, 1:] |= grown[:, :-1].copy()
    grown[:, :-1] |= grown[:, 1:].copy()
    hot = s.hot_pixels(0.5)
    assert hot.any() and (hot & grown).sum() >= 0.85 * hot.sum()
    assert np.array_equal(panel.saliency_view.saliency(), s.map)
    acts = panel.activations_view.activations()
    assert acts is not None and acts.shape == (32, 28, 28)
    assert panel.layers.rowCount() == 22  # 21 layers + the total
    assert panel.layers.item(2, 0).text() == "conv1" and panel.layers.item(2, 2).text() == "28×28×32"
    assert "conv1" in panel.activations_title.text()
    assert window.live.last_update_ms < 50  # live prediction is not held up by the explanation
    QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    assert not window.explain.dock.isVisible()


# ---------------------------------------------------------------------------- watch it learn
@pytest.mark.parametrize("mode", ["numpy", "tflite"])
def test_watch_it_learn_predicts_with_the_weights_in_training(window, qtbot, monkeypatch, mode) -> None:  # type: ignore[no-untyped-def]
    """The drawing is predicted by the weights being trained: copied out and computed in
    NumPy (every architecture DigitPad trains), or exported to .tflite (the fallback for a
    model NumPy cannot compute). The Explain dock explains those same weights."""
    import app.core.live as live
    import app.core.numpy_net as numpy_net

    if mode == "tflite":
        def unsupported(_model):  # type: ignore[no-untyped-def]
            raise numpy_net.UnsupportedModel("(made unsupported for this test)")

        monkeypatch.setattr(numpy_net, "plan_of_keras", unsupported)
        monkeypatch.setattr(live, "EXPORT_EVERY_BATCHES", 4)
        monkeypatch.setattr(live, "EXPORT_MIN_INTERVAL", 0.0)
    else:
        monkeypatch.setattr(live, "EVERY_BATCHES", 4)
        monkeypatch.setattr(live, "MIN_INTERVAL", 0.0)
    draw_digit(window.pad, "7")
    before = window.probability_view.probabilities()
    assert window.learning.weights_in_use() == "Model: default"
    QTest.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # the Explain dock
    panel = window.explain.panel
    seen: list[tuple[str, list[float] | None]] = []
    window.live.updated.connect(
        lambda: seen.append((window.learning.weights_in_use(), window.probability_view.probabilities())))
    window.training.config = TrainConfig(arch="mlp", epochs=2, limit=800, batch_size=32, learning_rate=0.05)
    assert window.learning.watch_action.isChecked()
    with qtbot.waitSignal(window.training.finished, timeout=240_000) as blocker:
        qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.learning.live_updates > 0, timeout=240_000)
        assert window.learning.weights_in_use().startswith("Live: weights in training, epoch 1, batch 4")
        assert window.live.override is not None and window.training.is_running()
        info = window.learning.live_weights
        live_file = info.path
        if mode == "numpy":
            assert live_file is None and info.net is not None
        else:
            assert live_file is not None and live_file.exists() and info.net is None
        live_probs = window.probability_view.probabilities()
        assert live_probs is not None and not np.allclose(live_probs, before, atol=1e-3)
        # the bars show what those weights say about the drawing
        expected = info.predictor().predict(window.live.current_input)
        assert np.allclose(live_probs, expected, atol=1e-4)
        qtbot.waitUntil(lambda: panel.last_result is not None
                        and panel.last_result.label.startswith("Weights in training")
                        and panel.last_result.saliency is not None, timeout=60_000)
        assert panel.last_result.anatomy is not None and panel.last_result.anatomy.first is not None
        assert panel.last_result.anatomy.first.name == "hidden"  # the MLP's dense layer
    name = blocker.args[0]
    assert name is not None
    live_seen = [probs for label, probs in seen if label.startswith("Live:")]
    assert live_seen and all(p is not None for p in live_seen)
    # finished: the model in use predicts again (the new one is not as good: kept aside, asked)
    assert window.live.override is None
    assert window.learning.weights_in_use() == "Model: default"
    ui_helpers.answer_use_new_model(qtbot, window, use=False)
    assert window.learning.weights_in_use() == "Model: default" and name in ModelStore()
    assert "Live" not in window.model_label.text()
    if live_file is not None:
        assert not live_file.exists()  # the exported weights were temporary


# ---------------------------------------------------------------------------- fine-tuning
def test_train_on_my_drawings_raises_accuracy_on_held_out_samples(window, digitpad_home: Path,  # type: ignore[no-untyped-def]
                                                                  qtbot) -> None:
    from app.core.finetune import FineTuneConfig

    # "my handwriting": mirrored digits; most are stored directly, two drawn and corrected
    x, y, _strokes = personal_set(per_digit=8, seed=0)
    store = SampleStore(digitpad_home)
    for img, label in zip(x, y, strict=True):
        store.add(img, int(label))
    rng = np.random.default_rng(42)
    for digit in (3, 7):
        QTest.keyClick(window.pad, Qt.Key.Key_Escape)
        draw_polylines(window.pad, styled_strokes(digit, rng))
        QTest.keyClick(window.pad, getattr(Qt.Key, f"Key_{digit}"))
    assert len(SampleStore(digitpad_home)) == 82

    window.learning.finetune_config = FineTuneConfig(epochs=2, batch_size=32, mnist_images=600,
                                                     mnist_eval=1000, augment=False)
    progress: list[int] = []
    window.train_progress.valueChanged.connect(progress.append)
    with qtbot.waitSignal(window.learning.finetune_finished, timeout=300_000) as blocker:
        QTest.keyClick(window, Qt.Key.Key_T,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        assert window.training.is_running() and window.cancel_button.isEnabled()  # same progress bar, Cancel
        assert not window.learning.finetune_action.isEnabled() or window.jobs.busy()
    summary = blocker.args[0]
    assert summary is not None
    before, after = summary.before, summary.after
    assert before.personal_count >= 20
    assert after.personal > before.personal + 0.15, (before, after)
    assert after.mnist > 0.95  # it did not forget MNIST
    assert max(progress) > 0

    name = summary.name
    # better on the held-out handwriting, not on MNIST: not put in use without asking
    shipped = ModelStore().get("default").test_accuracy
    assert not summary.activated and f"In use: default, {shipped * 100:.2f} %" in summary.comparison
    assert window.models.current_name() == "default"
    entry = ModelStore().get(name)
    assert entry.meta["base_model"] == "default"
    assert entry.meta["personal_accuracy"] == pytest.approx(after.personal)
    assert entry.meta["personal_accuracy_before"] == pytest.approx(before.personal)
    dlg = window.learning.finetune_dialog
    assert dlg is not None and dlg.isVisible()
    assert dlg.grid.count() == before.personal_count
    assert f"{after.personal * 100:.1f} %" in dlg.table.item(0, 1).text()
    assert window.training.question is None  # the result window is the question
    # use it from the result window
    assert dlg.switch_button.text() == f"Use {name}"
    with qtbot.waitSignal(window.models.changed, timeout=10_000):
        qtbot.mouseClick(dlg.switch_button, Qt.MouseButton.LeftButton)
    assert window.models.current_name() == name == ModelStore().active_name()
    assert "default" in ModelStore()
    dlg.close()
    QApplication.processEvents()
    assert running_threads() == []


def test_train_on_my_drawings_needs_samples(window) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    window.show_error = lambda title, text: errors.append(f"{title}: {text}")
    QTest.keyClick(window, Qt.Key.Key_T,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert not window.training.is_running()
    assert errors and "at least" in errors[0]


def test_a_kept_sample_is_undone_from_the_message(window, digitpad_home: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    """A click on a bar keeps the drawing, and says so with an Undo button right there:
    pressing it (a real click) takes the sample back; a relabel is undone to the old label."""
    draw_digit(window.pad, "2")
    pv = window.probability_view
    QTest.mouseClick(pv, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     pv.bar_center(5).toPoint())
    assert [s.label for s in SampleStore(digitpad_home).samples()] == [5]
    notice = window.notice
    assert notice.isVisible() and notice.button.isVisible() and notice.text().startswith("Kept as a 5")
    QTest.mouseClick(notice.button, Qt.MouseButton.LeftButton)
    assert len(SampleStore(digitpad_home)) == 0
    assert not notice.isVisible() and "Not kept" in window.statusBar().currentMessage()
    assert len(window.pad.strokes()) == 1  # the drawing itself stays
    # kept again, then relabelled with a key, then undone: back to the first label
    QTest.keyClick(window.pad, Qt.Key.Key_2)
    QTest.keyClick(window.pad, Qt.Key.Key_7)
    assert [s.label for s in SampleStore(digitpad_home).samples()] == [7]
    assert notice.text().startswith("Changed to a 7")
    QTest.mouseClick(notice.button, Qt.MouseButton.LeftButton)
    assert [s.label for s in SampleStore(digitpad_home).samples()] == [2]
    assert window.statusBar().currentMessage() == "Back to a 2."
    # the notice goes by itself, and with the next message
    QTest.keyClick(window.pad, Qt.Key.Key_Escape)
    draw_digit(window.pad, "3")
    QTest.keyClick(window.pad, Qt.Key.Key_3)
    assert notice.isVisible()
    window.statusBar().showMessage("something else", 1000)
    assert not notice.isVisible()
