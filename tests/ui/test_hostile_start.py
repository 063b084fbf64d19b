"""The window against a hostile DigitPad folder: damaged files found at start are moved
aside or reset and reported once, and the window opens; a DigitPad CLI importing samples
while the user corrects drawings loses nothing; closing while TensorFlow loads is immediate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from app.core.samples import SampleStore
from bench.hostile import lying_header_npz
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
