"""Hostile files and a shared folder: the peak memory of refusing crafted files, and how
many personal samples two DigitPads correcting at once on one folder lose.

* A ~1.5 MB ``.npz`` whose ``x_train`` inflates to 1.5 GB (float64, 240 000 images), given
  to ``digitpad samples import`` and to ``digitpad train --data`` (with test arrays, so
  only the training array is hostile); a ``samples.npz`` whose header announces 730 GiB,
  found at start by ``digitpad samples``. Peak memory is the child's ``ru_maxrss``
  (``os.wait4``): everything the process ever held, interpreter and NumPy included.
* Two processes each keep 25 drawings through ``SampleStore.add`` (the window's digit
  key) at the same moment; the samples left afterwards are counted.
* Files that stop the window from opening: for each kind of damage in
  ``bench.hostile.DAMAGED_HOMES`` (the issue's three, FIFOs and devices in the place of
  DigitPad's own files, a damaged active model), ``digitpad --startup-probe`` opens the
  real window on such a folder, draws a 7 and must read it within a minute.
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

from bench import ROOT, Figure, at_most, child_env, script_main
from bench.hostile import crafted_npz, damage_kinds, damaged_home, inflating_npz, lying_header_npz

GOAL_MIB = 200.0

_CORRECTOR = r"""
import sys, time
from pathlib import Path
import numpy as np
from app.core.samples import SampleStore
home, base, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
for k in range(25):
    SampleStore(home).add(np.full((28, 28), base + k, np.uint8), (base + k) % 10,
                          [(((k / 100, 0.5), (0.5, 0.5)), 0.05)])
"""


def _peak(argv: list[str], home: Path) -> tuple[float, int, str]:
    """(peak RSS MiB, exit status, last stderr line) of ``python -m app <argv>``."""
    env = dict(child_env(), DIGITPAD_HOME=str(home))
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "app", *argv], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    rss = usage.ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)
    return rss, os.waitstatus_to_exitcode(status), lines[-1] if lines else ""


def _lost_samples(tmp: Path) -> int:
    home, go = tmp / "shared", tmp / "go"
    env = dict(child_env(), DIGITPAD_HOME=str(home))
    procs = [subprocess.Popen([sys.executable, "-c", _CORRECTOR, str(home), str(base), str(go)],
                              cwd=ROOT, env=env) for base in (0, 100)]
    time.sleep(1.0)
    go.touch()
    for p in procs:
        p.wait(timeout=600)
    sys.path.insert(0, str(ROOT))
    from app.core.samples import SampleStore

    return 50 - len(SampleStore(home))


def _window_opens(home: Path, out: Path) -> str | None:
    """None when the window opened on ``home`` and read a drawn 7, else what went wrong."""
    env = dict(child_env(), DIGITPAD_HOME=str(home))
    try:
        run = subprocess.run([sys.executable, "-m", "app", "--startup-probe", str(out)], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "no window within 60 s (blocked)"
    said = [line for line in run.stderr.splitlines() if "at start:" in line]
    print(f"  {said[0][:200] if said else '(nothing said at start)'}", flush=True)
    try:
        result = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"exit {run.returncode}: {run.stderr.strip().splitlines()[-1:]}"
    return None if result.get("ok") else str(result.get("error") or f"read {result.get('predicted')!r}")


def run(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-hostile-") as name:
        tmp = Path(name)
        big = inflating_npz(tmp / "big.npz")
        mnist_big = crafted_npz(tmp / "mnist-big.npz", {
            "x_train": ((240_000, 28, 28), "<f8", None), "y_train": ((240_000,), "|u1", None),
            "x_test": ((10, 28, 28), "|u1", None), "y_test": ((10,), "|u1", None)})
        ratio = crafted_npz(tmp / "mnist-ratio.npz", {
            "x_train": ((150_000, 28, 28), "<i8", None), "y_train": ((150_000,), "|u1", None),
            "x_test": ((10, 28, 28), "|u1", None), "y_test": ((10,), "|u1", None)})
        start_home = tmp / "start-home"
        (start_home / "samples").mkdir(parents=True)
        (start_home / "samples" / "samples.npz").write_bytes(lying_header_npz(tmp / "lie.npz").read_bytes())
        cases = [
            (f"samples import of a {big.stat().st_size / 1e6:.1f} MB .npz inflating to 1.5 GB",
             ["samples", "import", str(big)], tmp / "h1"),
            (f"train --data with a {mnist_big.stat().st_size / 1e6:.1f} MB .npz inflating to 1.5 GB",
             ["train", "--data", str(mnist_big)], tmp / "h2"),
            (f"train --data with a {ratio.stat().st_size / 1e6:.1f} MB .npz inflating to 0.9 GB "
             "(under the size cap)", ["train", "--data", str(ratio)], tmp / "h4"),
            ("start (digitpad samples) with a samples.npz announcing 730 GiB", ["samples"], start_home),
            ("baseline: digitpad samples on an empty folder", ["samples"], tmp / "h3"),
        ]
        for label, argv, home in cases:
            rss, code, last = _peak(argv, home)
            print(f"{label}: exit {code}, peak {rss:.0f} MiB; {last[:160]}", flush=True)
            figures.append(at_most(f"peak memory: {label}", rss, GOAL_MIB, "MiB", detail=last[:200]))
        lost = _lost_samples(tmp)
        figures.append(at_most("samples lost, two processes x 25 corrections on one folder", lost, 0,
                               "samples"))
        kinds = damage_kinds()
        stopped = []
        for i, kind in enumerate(kinds):
            print(f"window on a folder with {kind}:", flush=True)
            failure = _window_opens(damaged_home(tmp / f"damaged-{i}", kind), tmp / f"probe-{i}.json")
            if failure is not None:
                print(f"  did not open: {failure}", flush=True)
                stopped.append(f"{kind}: {failure}")
        figures.append(at_most(f"kinds of damaged files that stop the window from opening (of {len(kinds)})",
                               len(stopped), 0, "kinds", detail="; ".join(stopped)[:300]))
    return figures


if __name__ == "__main__":
    raise SystemExit(script_main(__doc__.splitlines()[0], run))
