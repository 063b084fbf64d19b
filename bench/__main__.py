"""``python -m bench``: run every benchmark, then print one table (figure, value, goal,
pass/fail) and the machine it ran on.

Each script runs in its own process (start-up and training need a fresh interpreter).
``--only startup,live`` picks scripts; ``--quick`` uses fewer repetitions; ``--json FILE``
saves everything. Benchmarks share the CPU with whatever else runs: check ``top`` first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import ROOT, Figure, child_env, machine, machine_line, print_table, read_json

# name -> (module, normal arguments, --quick arguments)
SCRIPTS: dict[str, tuple[str, list[str], list[str]]] = {
    "model": ("bench.bench_model", [], []),
    "startup": ("bench.bench_startup", ["--runs", "7"], ["--runs", "3"]),
    "live": ("bench.bench_live", ["--runs", "3", "--moves", "600"], ["--runs", "1", "--moves", "500"]),
    "training": ("bench.bench_training", ["--runs", "3"], ["--runs", "1"]),
    "heartbeat": ("bench.bench_heartbeat", ["--runs", "1"], ["--runs", "1"]),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help=f"comma-separated subset of: {', '.join(SCRIPTS)}")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write all figures as JSON")
    args = ap.parse_args(argv)
    names = list(SCRIPTS) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(unknown)}")

    m = machine()
    print(f"machine: {machine_line(m)}", flush=True)
    figures: list[Figure] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-") as tmp:
        for name in names:
            module, normal, quick = SCRIPTS[name]
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, "-m", module, "--json", str(out), *(quick if args.quick else normal)]
            print(f"\n== {name}: {' '.join(cmd[1:3])} {' '.join(cmd[5:])}", flush=True)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True)
            print(proc.stdout.rstrip(), flush=True)
            print(f"({time.perf_counter() - t0:.0f} s)", flush=True)
            if out.is_file():
                figures.extend(read_json(out))
            if not out.is_file() or proc.returncode not in (0, 1):
                failed.append(name)
                print(f"{name} did not run: exit {proc.returncode}\n{proc.stderr[-2000:]}", flush=True)

    main_figures = [f for f in figures if not f.name.startswith("  ")]
    print("\n" + "=" * 20 + " summary " + "=" * 20)
    print(f"machine: {machine_line(m)}\n")
    print_table([Figure(f.name, f.value, f.unit, f.goal, f.ok) for f in main_figures])
    if failed:
        print(f"\nbenchmarks that did not run: {', '.join(failed)}")
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": m, "figures": [asdict(f) for f in figures]}, indent=2)
                             + "\n", encoding="utf-8")
    ok = not failed and all(f.ok is not False for f in figures)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
