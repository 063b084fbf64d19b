"""Cold start: process start -> window shown, model loaded, first prediction returned.

Spawns ``python -m app`` (the real entry point: CLI -> run_gui -> MainWindow) with the
``DIGITPAD_SMOKE_TEST`` hook of ``app/ui/app.py``: once the event loop runs, the window
draws a 7 on its pad, predicts through LiteRT, records ``time.time()`` when the
probabilities are shown, and quits. Measured from just before the process is spawned to
that moment. Peak memory is the child's ``ru_maxrss`` (``os.wait4``), i.e. everything the
process ever held, before any training.

A warm-up run first fills the bytecode cache (an installed DigitPad has its ``.pyc``
files) and the OS file cache; the figures are medians of the following runs. Each run
gets an empty DigitPad home (no settings, the shipped default model).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ROOT, Figure, at_most, child_env, info, median, script_main

GOAL_SECONDS = 1.0
GOAL_MIB = 200.0


def one_run(bytecode_cache: bool = True, command: list[str] | None = None) -> dict[str, Any]:
    """Start the app once; return the smoke-test report plus start-up time and peak RSS.

    ``bytecode_cache=False``: as a source checkout with ``PYTHONDONTWRITEBYTECODE`` runs
    (the app's own modules are compiled on every start; installed packages keep theirs).
    """
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-start-") as tmp:
        report = Path(tmp) / "smoke.json"
        env = child_env(DIGITPAD_SMOKE_TEST=str(report), DIGITPAD_HOME=str(Path(tmp) / "home"))
        if not bytecode_cache:
            env.pop("PYTHONPYCACHEPREFIX", None)
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        cmd = command or [sys.executable, "-m", "app"]
        t0 = time.time()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(proc.pid, 0)
        t_exit = time.time()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if not report.is_file():
            raise RuntimeError(f"the app wrote no smoke-test report (exit {proc.returncode}):\n"
                               f"{stderr[-2000:]}")
        result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    result["exit_code"] = proc.returncode
    result["startup_s"] = result["predicted_time"] - t0
    result["shown_s"] = result["ready_time"] - t0
    result["exit_s"] = t_exit - t0
    result["peak_rss_mib"] = usage.ru_maxrss / 1024.0  # Linux: kilobytes
    return result


def run(args: argparse.Namespace) -> list[Figure]:
    runs: list[dict[str, Any]] = []
    one_run()  # warm-up: bytecode cache, file cache
    for _ in range(args.runs):
        r = one_run()
        if not (r["digit"] == "7" and r["window_visible"] and r["model"] and r["exit_code"] == 0):
            raise RuntimeError(f"start-up run did not predict a 7 through the window: {r}")
        if r["tensorflow_loaded"]:
            raise RuntimeError("TensorFlow was imported during start-up")
        runs.append(r)
    start = [r["startup_s"] for r in runs]
    shown = [r["shown_s"] for r in runs]
    rss = [r["peak_rss_mib"] for r in runs]
    first = [r["update_ms"] for r in runs]
    detail = (f"median of {len(runs)} runs (after 1 warm-up), each {min(start):.2f}-{max(start):.2f} s; "
              f"event loop running (window shown) at {median(shown):.2f} s; first live update "
              f"{median(first):.1f} ms; model {runs[0]['model']!r}; TensorFlow not loaded")
    figures = [
        at_most("cold start to first prediction", median(start), GOAL_SECONDS, "s", detail,
                runs=start),
        at_most("peak memory before training", median(rss), GOAL_MIB, "MiB",
                f"ru_maxrss of the whole process, median of {len(runs)} runs", runs=rss),
    ]
    if args.no_cache:
        nc = []
        for _ in range(max(3, args.runs // 2)):
            r = one_run(bytecode_cache=False)
            nc.append(r["startup_s"])
        figures.append(info("  cold start without a bytecode cache", median(nc), "s",
                            "the app's own modules compiled from source on every start "
                            "(PYTHONDONTWRITEBYTECODE, as in this checkout)", runs=nc))
    return figures


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--runs", type=int, default=7, help="measured runs (default 7)")
    ap.add_argument("--no-cache", action="store_true",
                    help="also measure without a bytecode cache")


if __name__ == "__main__":
    sys.exit(script_main(__doc__.splitlines()[0], run, add_args))
