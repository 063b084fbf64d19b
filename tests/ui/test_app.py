"""The application entry point: ``python -m app`` opens the window (smoke-tested offscreen)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests import ui_helpers

no_threads_left = ui_helpers.no_threads_left

ROOT = Path(__file__).resolve().parents[2]


@ui_helpers.needs_default_model
def test_python_m_app_opens_a_predicting_window_without_tensorflow(tmp_path: Path) -> None:
    report = tmp_path / "smoke.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DIGITPAD_HOME=str(tmp_path / "home"),
               DIGITPAD_SMOKE_TEST=str(report))
    t0 = time.time()
    out = subprocess.run([sys.executable, "-m", "app"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(report.read_text())
    assert result["digit"] == "7"
    assert result["model"] == "default"
    assert result["tensorflow_loaded"] is False
    assert abs(sum(result["probabilities"]) - 1) < 1e-3
    assert result["ready_time"] - t0 < 30  # typically ~1 s
    assert (tmp_path / "home" / "settings.ini").is_file()  # settings were saved on close


def test_run_gui_sets_names_and_icon(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    from app.ui.app import configure_application

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    configure_application(app)
    assert app.applicationName() == "DigitPad"
    assert app.applicationDisplayName() == "DigitPad"  # the platform adds it to window titles
    assert app.organizationName() == "DigitPad"
    assert not app.windowIcon().isNull()
    assert app.windowIcon().availableSizes()
