"""``python -m bench``: run every benchmark, then print one table (figure, value, goal,
pass/fail) and the machine it ran on.

Each script runs in its own process (start-up and training need a fresh interpreter).
``--only startup,live`` picks scripts; ``--quick`` uses fewer repetitions; ``--json FILE``
saves everything. Benchmarks share the CPU with whatever else runs: check ``top`` first.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import (
    ROOT,
    Figure,
    child_env,
    cpu_times,
    machine,
    machine_line,
    print_table,
    read_json,
    wait_until_quiet,
)

# name -> (module, normal arguments, --quick arguments)
SCRIPTS: dict[str, tuple[str, list[str], list[str]]] = {
    "model": ("bench.bench_model", [], []),
    "startup": ("bench.bench_startup", ["--runs", "7"], ["--runs", "3"]),
    "live": ("bench.bench_live", ["--runs", "3", "--moves", "600"], ["--runs", "1", "--moves", "500"]),
    "training": ("bench.bench_training", ["--runs", "3"], ["--runs", "1"]),
    "heartbeat": ("bench.bench_heartbeat", ["--runs", "3"], ["--runs", "1"]),
    "hostile": ("bench.bench_hostile", [], []),
    "number": ("bench.bench_number", [], ["--numbers", "40"]),
    "drawn": ("bench.bench_drawn", [], ["--digits", "1000", "--nondigits", "300"]),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help=f"comma-separated subset of: {', '.join(SCRIPTS)}")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write all figures as JSON")
    ap.add_argument("--wait-quiet", type=float, default=120.0, metavar="S",
                    help="before each benchmark, wait up to S seconds for other processes to "
                         "leave the CPU (default 120)")
    args = ap.parse_args(argv)
    names = list(SCRIPTS) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(unknown)}")

    m = machine()
    print(f"machine: {machine_line(m)}", flush=True)
    figures: list[Figure] = []
    failed: list[str] = []
    load: dict[str, float] = {}
    own_cpu = 0.0
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-") as tmp:
        for name in names:
            module, normal, quick = SCRIPTS[name]
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, "-m", module, "--json", str(out), *(quick if args.quick else normal)]
            print(f"\n== {name}: {' '.join(cmd[1:3])} {' '.join(cmd[5:])}", flush=True)
            busy = wait_until_quiet(args.wait_quiet, stream=sys.stdout)
            t0 = time.perf_counter()
            b0, c0 = cpu_times()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            stdout, stderr = proc.communicate()
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            b1, c1 = cpu_times()
            wall = time.perf_counter() - t0
            own = usage.ru_utime + usage.ru_stime - own_cpu
            own_cpu = usage.ru_utime + usage.ru_stime
            others = max(0.0, (b1 - b0) - own) / max(c1 - c0, 1e-9)
            print(stdout.rstrip(), flush=True)
            print(f"({wall:.0f} s; machine {busy:.0%} busy just before; other processes used "
                  f"{others:.0%} of the CPU during the run)", flush=True)
            load[name] = others
            if out.is_file():
                figures.extend(read_json(out))
            if not out.is_file() or proc.returncode not in (0, 1):
                failed.append(name)
                print(f"{name} did not run: exit {proc.returncode}\n{stderr[-2000:]}", flush=True)

    main_figures = [f for f in figures if not f.name.startswith("  ")]
    print("\n" + "=" * 20 + " summary " + "=" * 20)
    m_end = machine()
    print(f"machine: {machine_line(m)}")
    print(f"speed probe at the end: {m_end['speed_probe_ms']:.1f} ms (at the start: "
          f"{m['speed_probe_ms']:.1f} ms; lower is faster)\n")
    print_table([Figure(f.name, f.value, f.unit, f.goal, f.ok) for f in main_figures])
    noisy = {n: v for n, v in load.items() if v > 0.05}
    if noisy:
        print("\nother processes used the CPU during: "
              + ", ".join(f"{n} ({v:.0%})" for n, v in noisy.items()) + " - timings are pessimistic")
    if failed:
        print(f"\nbenchmarks that did not run: {', '.join(failed)}")
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": m, "machine_at_end": m_end, "other_load": load,
                                          "figures": [asdict(f) for f in figures]}, indent=2)
                             + "\n", encoding="utf-8")
    ok = not failed and all(f.ok is not False for f in figures)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
