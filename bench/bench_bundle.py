"""Build (or reuse) the desktop bundle and measure it: size, build time, launch time.

    python bench/bench_bundle.py                # build with build.spec, then measure
    python bench/bench_bundle.py --no-build     # measure the existing dist/DigitPad
    python bench/bench_bundle.py --runs 9 --json bundle.json
    python bench/bench_bundle.py --no-build --archives            # + every download format
    python bench/bench_bundle.py --no-build --archives xz-9,zstd-19   # + some of them

Launch time is measured from the moment this script starts the bundle to the moment the
bundle's window shows a live prediction: ``DigitPad --startup-probe FILE`` opens the real
window, draws a 7 with mouse events, waits for the prediction and writes the wall-clock
time of it to FILE (see app/selftest.py). One warm-up launch is not counted (it fills the
page cache after a build); the figure is the median of ``--runs`` launches. Each launch
gets a fresh temporary DIGITPAD_HOME, so the user's data is not touched.

Size is the disk usage of dist/DigitPad, as ``du -s`` counts it (MiB = 2**20 bytes).

``--archives`` packs the bundle folder with each candidate of tools/release.py's METHODS
(tar through xz / zstd / gzip at several levels, squashfs) and measures, per format: the
archive's size, the time to make it (wall clock and CPU), the time to unpack it the way
a user would (decompressor | tar -x, or unsquashfs) and the disk the unpacked folder takes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import release  # noqa: E402 - tools/release.py: the archive formats and how to make them

SPEC = ROOT / "build.spec"
NAME = "DigitPad"

GOAL_SIZE_GIB = 1200 / 1024
GOAL_BUILD_S = 300.0
GOAL_LAUNCH_S = 1.5


def disk_usage(path: Path) -> tuple[int, int]:
    """(bytes on disk like ``du -s``, apparent bytes) of a directory tree; links not followed."""
    seen: set[tuple[int, int]] = set()
    used = apparent = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            used += getattr(st, "st_blocks", 0) * 512 or st.st_size
            apparent += st.st_size
    return used, apparent


def executable(dist: Path) -> Path:
    if sys.platform == "darwin" and (dist / f"{NAME}.app").is_dir():
        return dist / f"{NAME}.app" / "Contents" / "MacOS" / NAME
    return dist / NAME / (f"{NAME}.exe" if os.name == "nt" else NAME)


def _children_cpu() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def build(dist: Path, work: Path, log: Path) -> tuple[float, float]:
    """Build the bundle; (wall seconds, CPU seconds of the build processes)."""
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
           "--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    print("building:", " ".join(cmd), flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cpu0 = _children_cpu()
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        raise SystemExit(f"the build failed (exit {proc.returncode}); log {log}:\n" + "\n".join(tail))
    return seconds, cpu


def probe_env(home: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DIGITPAD_HOME"] = home
    if sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def launch_once(exe: Path, timeout: float = 120.0) -> dict[str, Any]:
    """Start the bundle with --startup-probe; return its JSON plus ``launch_s``/``exit_s``."""
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-") as tmp:
        out = Path(tmp) / "probe.json"
        home = Path(tmp) / "home"
        home.mkdir()
        t0 = time.time()
        proc = subprocess.run([str(exe), "--startup-probe", str(out)], env=probe_env(str(home)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
                              check=False)
        t_exit = time.time()
        if not out.is_file():
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-10:]
            raise SystemExit(f"{exe} --startup-probe wrote nothing (exit {proc.returncode}):\n"
                             + "\n".join(err))
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if not data.get("ok"):
        raise SystemExit(f"the startup probe failed: {data}")
    data["launch_s"] = float(data["predicted_at"]) - t0
    data["window_s"] = float(data["window_shown_at"]) - t0
    data["exit_s"] = t_exit - t0
    data["returncode"] = proc.returncode
    return data


def measure_archives(folder: Path, names: list[str]) -> list[dict[str, Any]]:
    """Pack ``folder`` with each method, unpack it again; one row of figures per method."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="digitpad-archives-", dir=folder.parent) as tmp:
        for name in names:
            method = release.METHODS[name]
            if shutil.which(method.tool) is None:
                print(f"{name}: {method.tool} not installed, skipped", flush=True)
                continue
            out = Path(tmp) / f"bundle.{method.ext}"
            t0, cpu0 = time.perf_counter(), _children_cpu()
            release.make_archive(folder, out, method)
            pack_s, pack_cpu = time.perf_counter() - t0, _children_cpu() - cpu0
            size = out.stat().st_size
            dest = Path(tmp) / "unpacked"
            t0, cpu0 = time.perf_counter(), _children_cpu()
            release.unpack_archive(out, dest, method)
            unpack_s, unpack_cpu = time.perf_counter() - t0, _children_cpu() - cpu0
            used, apparent = disk_usage(dest / folder.name)
            shutil.rmtree(dest)
            out.unlink()
            row = {"method": name, "file": f"*.{method.ext}", "size_mib": round(size / 2**20, 1),
                   "pack_s": round(pack_s, 1), "pack_cpu_s": round(pack_cpu, 1),
                   "unpack_s": round(unpack_s, 1), "unpack_cpu_s": round(unpack_cpu, 1),
                   "unpacked_disk_mib": round(used / 2**20), "unpacked_apparent_mib": round(apparent / 2**20),
                   "note": method.note}
            rows.append(row)
            print(f"{name:<16} {row['size_mib']:>8.1f} MiB  pack {pack_s:6.1f} s (CPU {pack_cpu:6.1f} s)  "
                  f"unpack {unpack_s:5.1f} s  unpacked {row['unpacked_disk_mib']} MiB on disk  {method.note}",
                  flush=True)
    return rows


def machine_line() -> str:
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    return f"{os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}{load}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--no-build", action="store_true", help="measure the bundle already in --dist")
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="PyInstaller --distpath (default dist/)")
    ap.add_argument("--work", type=Path, default=ROOT / "build",
                    help="PyInstaller --workpath (default build/)")
    ap.add_argument("--runs", type=int, default=5, help="launches to take the median of (default 5)")
    ap.add_argument("--json", type=Path, help="also write the figures here as JSON")
    ap.add_argument("--archives", nargs="?", const=",".join(release.METHODS), default=None,
                    metavar="M1,M2", help="also measure download formats (default: all of "
                    + ", ".join(release.METHODS) + ")")
    args = ap.parse_args(argv)

    print("machine:", machine_line())
    build_s: float | None = None
    build_cpu = 0.0
    if not args.no_build:
        build_s, build_cpu = build(args.dist, args.work, args.work / "bench-build.log")
    exe = executable(args.dist)
    if not exe.is_file():
        raise SystemExit(f"no bundle at {exe}; build it first or drop --no-build")

    used, apparent = disk_usage(args.dist / NAME)
    mib = used / 2**20

    warm = launch_once(exe)
    runs = [launch_once(exe) for _ in range(max(1, args.runs))]
    launches = [r["launch_s"] for r in runs]
    windows = [r["window_s"] for r in runs]
    launch = statistics.median(launches)
    in_process = [r["since_process_start"] for r in runs if r.get("since_process_start") is not None]

    rows: list[dict[str, Any]] = [
        {"name": "bundle size (du -s dist/DigitPad)", "value": round(mib, 1), "unit": "MiB",
         "goal": f"<= {GOAL_SIZE_GIB * 1024:.0f} MiB",
         "ok": mib <= GOAL_SIZE_GIB * 1024,
         "detail": (f"{used / 2**30:.3f} GiB = {used / 1e9:.3f} GB on disk, "
                    f"{apparent / 2**20:.0f} MiB apparent")},
        {"name": "build time (pyinstaller --clean build.spec)",
         "value": None if build_s is None else round(build_s, 1), "unit": "s",
         "goal": f"<= {GOAL_BUILD_S:.0f} s", "ok": None if build_s is None else build_s <= GOAL_BUILD_S,
         "detail": ("not built (--no-build)" if build_s is None else
                    f"CPU time {build_cpu:.0f} s (wall time grows when other work shares the cores)")},
        {"name": f"launch to a predicting window (median of {len(runs)})", "value": round(launch, 3),
         "unit": "s", "goal": f"<= {GOAL_LAUNCH_S} s", "ok": launch <= GOAL_LAUNCH_S,
         "detail": (f"runs {', '.join(f'{v:.2f}' for v in launches)}; window shown after "
                    f"{statistics.median(windows):.2f} s; warm-up launch {warm['launch_s']:.2f} s"
                    + (f"; in-process clock {statistics.median(in_process):.2f} s" if in_process else ""))},
    ]

    print()
    print(f"{'figure':<50} {'measured':>12}  {'goal':<24} result")
    print("-" * 96)
    for r in rows:
        value = "n/a" if r["value"] is None else f"{r['value']:g} {r['unit']}"
        verdict = "-" if r["ok"] is None else ("pass" if r["ok"] else "FAIL")
        print(f"{r['name']:<50} {value:>12}  {r['goal']:<24} {verdict}")
        if r["detail"]:
            print(f"    {r['detail']}")
    archives: list[dict[str, Any]] = []
    if args.archives:
        print()
        print(f"download formats of {args.dist / NAME} (tools/release.py uses {release.RELEASE_METHOD}):")
        archives = measure_archives(args.dist / NAME, [m for m in args.archives.split(",") if m])
    print()
    print("machine:", machine_line())
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_line(), "figures": rows, "archives": archives},
                                        indent=2) + "\n", encoding="utf-8")
    failed = [r for r in rows if r["ok"] is False]
    return 1 if failed else 0


if __name__ == "__main__":
    if shutil.which("strip") is None and sys.platform.startswith("linux"):
        print("note: 'strip' (binutils) is missing: the bundle will be about 240 MB larger", file=sys.stderr)
    sys.exit(main())
