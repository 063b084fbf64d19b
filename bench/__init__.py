"""DigitPad's benchmarks: one script per figure of the "Speed, measured" issue.

    python -m bench                 # all of them, then a table: figure, value, goal, pass/fail
    python -m bench.bench_startup   # one of them (each prints its details; --json FILE)

Benchmarks report numbers; the tests assert behaviour. Every script drives the real code:
``python -m app`` for start-up, the real window with real mouse events for live prediction,
the real Train button and worker thread for GUI responsiveness, the real ``train()`` with
the default ``TrainConfig()`` for training, and LiteRT for the shipped model.

This module holds what the scripts share: the goals, the machine description, percentiles
and the result format (a list of :class:`Figure`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    """One measured figure and its goal (``ok`` is None when there is no goal)."""

    name: str
    value: float | None
    unit: str
    goal: str = ""
    ok: bool | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def value_text(self) -> str:
        if self.value is None:
            return "n/a"
        v = self.value
        if self.unit == "%":
            return f"{v:.2f} %"
        if self.unit == "ms":
            return f"{v:.3f} ms" if v < 10 else f"{v:.1f} ms"
        if self.unit == "s":
            return f"{v:.2f} s"
        if self.unit == "MiB":
            return f"{v:.0f} MiB"
        return f"{v:g} {self.unit}".strip()

    def verdict(self) -> str:
        return "" if self.ok is None else ("pass" if self.ok else "FAIL")


def at_most(name: str, value: float | None, limit: float, unit: str, detail: str = "",
            **extra: Any) -> Figure:
    """A figure whose goal is ``value <= limit``."""
    shown = f"{limit:g} {unit}" if unit != "%" else f"{limit:g} %"
    ok = None if value is None else value <= limit
    return Figure(name, value, unit, f"<= {shown}", ok, detail, dict(extra))


def at_least(name: str, value: float | None, limit: float, unit: str, detail: str = "",
             **extra: Any) -> Figure:
    shown = f"{limit:g} {unit}" if unit != "%" else f"{limit:g} %"
    ok = None if value is None else value >= limit
    return Figure(name, value, unit, f">= {shown}", ok, detail, dict(extra))


def info(name: str, value: float | None, unit: str, detail: str = "", **extra: Any) -> Figure:
    return Figure(name, value, unit, "", None, detail, dict(extra))


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


# --------------------------------------------------------------------------- the machine


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover
        return None


def machine() -> dict[str, Any]:
    mem = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return {
        "cpu": cpu_model(),
        "cores": cores(),
        "memory_gib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average": load_average(),
        "speed_probe_ms": speed_probe(),
    }


def speed_probe() -> float:
    """Milliseconds for a fixed bit of pure-Python work (median of 7). A virtual machine's
    speed drifts with what its host runs (invisible to ``top``: we saw 1.7x); compare
    figures taken at similar probe values."""
    import time

    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        total = 0
        for i in range(200_000):
            total += i * i % 7
        times.append((time.perf_counter() - t0) * 1000.0)
    return round(median(times), 2)


def machine_line(m: dict[str, Any] | None = None) -> str:
    m = m or machine()
    load = m.get("load_average")
    load_text = "" if not load else f", load average {load[0]:.2f} at the start"
    mem = f", {m['memory_gib']:g} GiB" if m.get("memory_gib") else ""
    probe = f", speed probe {m['speed_probe_ms']:.1f} ms" if m.get("speed_probe_ms") else ""
    return f"{m['cpu']}, {m['cores']} cores{mem}, Python {m['python']}{load_text}{probe}"


def cpu_times() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (Linux /proc/stat)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [float(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = float(os.sysconf("SC_CLK_TCK"))
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    total = sum(fields[:8])  # (guest time is already counted in user)
    return (total - idle) / tick, total / tick


def busy_fraction(seconds: float = 2.0) -> float:
    """How busy the whole machine is (0..1) over the next ``seconds``."""
    import time

    b0, t0 = cpu_times()
    time.sleep(seconds)
    b1, t1 = cpu_times()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


def wait_until_quiet(max_wait: float, threshold: float = 0.10, stream: Any = None) -> float:
    """Wait (up to ``max_wait`` s) until other processes use less than ``threshold`` of
    the CPU; returns the last busy fraction seen. (Other engineers share this machine.)"""
    import time

    deadline = time.monotonic() + max_wait
    busy = busy_fraction()
    while busy > threshold and time.monotonic() < deadline:
        if stream is not None:
            print(f"  (the machine is {busy:.0%} busy; waiting for it to calm down)", file=stream,
                  flush=True)
        busy = busy_fraction(5.0)
    return busy


# --------------------------------------------------------------------------- environment


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a measured child process: offscreen Qt, quiet TensorFlow, and a
    bytecode cache (an installed DigitPad has its ``.pyc`` files; a source checkout run
    with ``PYTHONDONTWRITEBYTECODE`` would recompile the app on every start)."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(pycache_dir()))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(overrides)
    return env


def pycache_dir() -> Path:
    import tempfile

    return Path(tempfile.gettempdir()) / "digitpad-bench-pycache"


def setup_offscreen() -> None:
    """Before creating a QApplication in-process."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# --------------------------------------------------------------------------- script plumbing


def script_main(description: str, run: Callable[[argparse.Namespace], list[Figure]],
                add_args: Callable[[argparse.ArgumentParser], None] | None = None,
                argv: list[str] | None = None) -> int:
    """Parse ``--json FILE`` (+ the script's own options), run, print, optionally save."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    if add_args is not None:
        add_args(ap)
    args = ap.parse_args(argv)
    figures = run(args)
    print_table(figures)
    if args.json is not None:
        write_json(args.json, figures)
    return 0 if all(f.ok is not False for f in figures) else 1


def write_json(path: Path, figures: list[Figure]) -> None:
    data = {"machine": machine(), "figures": [asdict(f) for f in figures]}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def read_json(path: Path) -> list[Figure]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Figure(**f) for f in data["figures"]]


def print_table(figures: list[Figure], stream: Any = None) -> None:
    stream = stream or sys.stdout
    rows = [(f.name, f.value_text(), f.goal, f.verdict()) for f in figures]
    head = ("figure", "value", "goal", "")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*head).rstrip(), file=stream)
    print("  ".join("-" * w for w in widths).rstrip(), file=stream)
    for r in rows:
        print(line.format(*r).rstrip(), file=stream)
    notes = [f for f in figures if f.detail]
    if notes:
        print(file=stream)
        for f in notes:
            print(f"  {f.name}: {f.detail}", file=stream)
    stream.flush()
