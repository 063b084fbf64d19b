"""``DigitPad --startup-probe [FILE]``, for ``bench/bench_bundle.py``: open the window, draw a 7,
wait for the live prediction, write timings as JSON to FILE (or stdout) and quit."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from app.selftest.driving import (
    application,
    draw_and_read,
    environment,
    open_window,
    say,
)


def seconds_since_process_start() -> float | None:
    """Wall time since this process started (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 (starttime), counted after "pid (comm)"
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def run_startup_probe(argv: list[str] | None = None) -> int:
    """Open the window, draw a 7, wait for the live prediction, write timings, quit.

    The JSON written has ``predicted_at`` (``time.time()`` when the window showed the
    prediction) so a caller can measure from the moment it started the process.
    """
    args = list(argv or [])
    out = Path(args[0]) if args else None
    t_import = time.time()
    result: dict[str, Any] = {"frozen": bool(getattr(sys, "frozen", False)), "started_probe_at": t_import}
    window = None
    # Like the self-test: a temporary DigitPad home unless DIGITPAD_HOME is set (the window
    # writes its settings on closing); the display is used when there is one.
    with environment(offscreen=False, keep_home=False):
        try:
            application()
            window = open_window()
            result["window_shown_at"] = time.time()
            label, probs, _moves = draw_and_read(window, "7")
            result["predicted_at"] = time.time()
            result["since_process_start"] = seconds_since_process_start()
            result["predicted"] = label
            result["confidence"] = None if probs is None else max(probs)
            result["model"] = window.models.current_name()
            result["tensorflow_loaded"] = "tensorflow" in sys.modules
            result["ok"] = label == "7"
        except Exception as exc:  # report, don't hide
            result["ok"] = False
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if window is not None:
                with contextlib.suppress(Exception):
                    window.shutdown()
                    window.close()
    text = json.dumps(result, indent=2)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        say(text)
    return 0 if result.get("ok") else 1
