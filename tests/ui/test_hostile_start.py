"""The window against a hostile DigitPad folder: damaged files found at start are moved
aside or reset and reported once, and the window opens (a 300-character folder name too); a
file inflating to gigabytes is refused from its header; a DigitPad CLI importing samples
while the user corrects drawings loses nothing; closing while TensorFlow loads is immediate,
with the training process loading it as in the app."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from app.core.samples import SampleStore
from app.core.training import TrainConfig
from app.core.training_process import TrainingProcess
from bench.hostile import DAMAGED_HOMES, damage_kinds, damaged_home, inflating_npz, lying_header_npz
from tests import ui_helpers
from tests.conftest import ROOT
from tests.ui_helpers import draw_digit, needs_default_model

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

pytestmark = needs_default_model


def _open(qtbot, monkeypatch):  # type: ignore[no-untyped-def]
    from app.ui import MainWindow

    monkeypatch.setattr(MainWindow, "confirm", lambda self, title, text: True)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.mark.parametrize("saved", ["[1, 2]", '"cnn"', '{"epochs": 1e999}'])
def test_damaged_files_at_start_are_set_aside_reported_once_and_the_window_opens(
        qtbot, monkeypatch, digitpad_home: Path, tmp_path: Path, saved: str) -> None:  # type: ignore[no-untyped-def]
    (digitpad_home / "samples").mkdir()
    (digitpad_home / "samples" / "samples.npz").write_bytes(
        lying_header_npz(tmp_path / "lie.npz").read_bytes())  # announces 730 GiB
    settings = QSettings(str(digitpad_home / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("training/config", saved)
    settings.sync()
    (digitpad_home / "store.json").write_text(json.dumps({"active_model": "gone"}))

    w = _open(qtbot, monkeypatch)
    status = w.statusBar().currentMessage()
    assert "samples.npz" in status and "moved to samples.npz.unreadable-" in status
    assert "training settings reset to defaults" in status
    assert "'gone' is missing" in status and "'default' is used instead" in status
    assert w.training.config.resolved().arch  # usable settings
    assert list((digitpad_home / "samples").glob("samples.npz.unreadable-*"))
    w.close()

    again = _open(qtbot, monkeypatch)  # the settings were repaired: said once
    assert "training settings" not in again.statusBar().currentMessage()
    again.close()


@pytest.mark.parametrize("kind", damage_kinds(),
                         ids=lambda k: re.sub(r"[^a-z0-9]+", "-", k.lower()).strip("-"))
def test_no_damaged_file_stops_the_window_from_opening(  # type: ignore[no-untyped-def]
        qtbot, monkeypatch, tmp_path: Path, kind: str) -> None:
    """Each kind of damage bench/bench_hostile.py counts: the window opens, says what it
    found, and reads a drawing (a FIFO or a device never blocks it)."""
    monkeypatch.setenv("DIGITPAD_HOME", str(damaged_home(tmp_path, kind)))
    w = _open(qtbot, monkeypatch)
    assert DAMAGED_HOMES[kind][1] in w.statusBar().currentMessage()
    draw_digit(w.pad, "7")
    qtbot.waitUntil(lambda: w.top_digit_label.text() == "7", timeout=3000)
    w.close()


def test_a_300_character_home_folder_name_does_not_stop_the_window(  # type: ignore[no-untyped-def]
        qtbot, monkeypatch, tmp_path: Path) -> None:
    home = tmp_path / ("a" * 300)  # longer than a file name may be: nothing can be made in it
    monkeypatch.setenv("DIGITPAD_HOME", str(home))
    w = _open(qtbot, monkeypatch)
    status = w.statusBar().currentMessage()
    assert "File name too long" in status and "Cannot read" in status
    assert w.models.current_name() == "default"
    draw_digit(w.pad, "7")
    qtbot.waitUntil(lambda: w.top_digit_label.text() == "7", timeout=3000)  # the shipped model reads
    QTest.keyClick(w.pad, Qt.Key.Key_7)  # keeping the drawing cannot work: said, nothing breaks
    assert "File name too long" in (w.last_error or "") + w.notice.text() + w.statusBar().currentMessage()
    w.close()


def test_importing_a_small_file_inflating_to_gigabytes_is_refused_from_its_header(  # type: ignore[no-untyped-def]
        window, qtbot, digitpad_home: Path, tmp_path: Path) -> None:
    big = inflating_npz(tmp_path / "big.npz")  # 1.5 MB; the window took 1.6 GB and froze 6.9 s
    SampleStore(digitpad_home).add(np.zeros((28, 28), np.uint8), 4)
    dlg = window.learning.open_samples_window()
    qtbot.waitExposed(dlg)
    dlg.ask_import_path = lambda: str(big)
    tracemalloc.start()
    try:
        qtbot.mouseClick(dlg.import_button, Qt.MouseButton.LeftButton)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "big.npz holds 240000 images" in dlg.message.text() and "limited to 20000" in dlg.message.text()
    assert peak < 20_000_000  # nothing inflated (NumPy's arrays and zlib's output are traced)
    assert len(SampleStore(digitpad_home)) == 1 and dlg.ids_in_row(4)
    dlg.close()


_IMPORTER = 'for i in 1 2 3 4 5 6 7 8; do "{python}" -m app samples import "{file}" || exit 1; done'


def test_the_window_correcting_while_the_cli_imports_loses_nothing(
        window, digitpad_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    five = tmp_path / "five.npz"
    np.savez_compressed(five, x_train=np.zeros((5, 28, 28), np.uint8), y_train=np.full(5, 9, np.uint8))
    env = dict(os.environ, DIGITPAD_HOME=str(digitpad_home), PYTHONPATH=str(ROOT))
    cli = subprocess.Popen(["bash", "-c", _IMPORTER.format(python=sys.executable, file=five)], cwd=ROOT,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        kept = 0
        while kept < 20:
            QTest.keyClick(window.pad, Qt.Key.Key_Escape)
            draw_digit(window.pad, "1" if kept % 2 else "7", size=0.5 + 0.01 * kept)
            QTest.keyClick(window.pad, Qt.Key.Key_1 if kept % 2 else Qt.Key.Key_7)
            assert window.notice.text().startswith("Kept as a"), window.notice.text()
            kept += 1
    finally:
        _out, err = cli.communicate(timeout=300)
    assert cli.returncode == 0, err
    store = SampleStore(digitpad_home)
    assert len(store) == 20 + 40 and len(set(store.ids())) == 60
    assert store.counts()[1] == 10 and store.counts()[7] == 10 and store.counts()[9] == 40
    drawn = [s for s in store.samples() if s.label in (1, 7)]
    assert all(s.strokes for s in drawn)  # each drawing kept its own strokes
    assert all(s.strokes is None for s in store.samples(9))


def test_closing_while_tensorflow_loads_hides_the_window_at_once(window) -> None:  # type: ignore[no-untyped-def]
    from app.core.training import TrainConfig

    window.training.config = TrainConfig(arch="mlp", epochs=1, limit=300)
    seen: list[bool] = []

    def ended() -> None:  # the training job ends: on close, after its thread was waited for
        if not window.jobs.busy():
            seen.append(window.isVisible())

    QTest.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    assert window.jobs.busy()
    window.jobs.changed.connect(ended)
    try:
        window.close()
    finally:
        window.jobs.changed.disconnect(ended)
    assert seen == [False]  # the window was gone before the wait for TensorFlow ended
    assert not window.jobs.busy()


@pytest.mark.training_process
def test_closing_while_the_training_process_loads_tensorflow(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    """As in the app: a fresh training process loads TensorFlow when Train is clicked; closing
    the window then hides it at once and waits for nothing inside TensorFlow."""
    fresh = TrainingProcess()
    window.training.trainer = fresh
    window.training.config = TrainConfig(arch="mlp", epochs=1, limit=300)
    try:
        QTest.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.train_status.text().startswith("Loading TensorFlow"), timeout=60_000)
        t0 = time.perf_counter()
        window.close()
        closed_in = time.perf_counter() - t0
        assert not window.isVisible() and not window.jobs.busy()
        assert closed_in < 1.5, closed_in  # it froze ~3 s; a cancel is abandoned after 0.5 s
        child = fresh._proc
        assert child is not None and child.poll() is None  # still importing TensorFlow
        t0 = time.perf_counter()
        fresh.close()  # what the app does as it exits
        assert time.perf_counter() - t0 < 1.5 and child.poll() is not None
    finally:
        fresh.close()
