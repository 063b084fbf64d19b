"""A bug that escapes a slot or an event handler (an exception nothing caught) becomes one
message in the window, not a traceback, and the window keeps working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.ui_helpers import needs_default_model

pytestmark = needs_default_model

_CODE = r"""
import json
from PySide6.QtCore import QTimer
from app.ui.app import create_application, install_excepthook
app = create_application([])
from app.ui import MainWindow
from tests.ui_helpers import draw_digit
w = MainWindow(); w.show()
install_excepthook(w)  # what run_gui does
def buggy_slot():
    raise RuntimeError("out of cheese\nsecond line")
w.pad.strokeFinished.connect(buggy_slot)
QTimer.singleShot(0, lambda: draw_digit(w.pad, "7"))
QTimer.singleShot(300, lambda: app.exit(0))  # quit() would close the window
app.exec()
error = w.last_error
w.pad.strokeFinished.disconnect(buggy_slot)
w.pad.clear()
draw_digit(w.pad, "1"); app.processEvents()
print(json.dumps({"error": error, "digit": w.top_digit_label.text(), "visible": w.isVisible()}))
w.close()
"""


def test_an_uncaught_exception_in_a_slot_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DIGITPAD_HOME=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", _CODE], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert res["error"].startswith("Unexpected error: RuntimeError: out of cheese second line")
    assert res["digit"] == "1" and res["visible"]
    assert "Traceback" not in run.stderr and 'File "' not in run.stderr
    assert [line for line in run.stderr.splitlines() if "out of cheese" in line] == [
        "Unexpected error: RuntimeError: out of cheese second line"]
