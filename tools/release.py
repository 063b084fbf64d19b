"""Build DigitPad's release artifacts from build.spec: what a person downloads.

    python tools/release.py                   # build the bundle, self-test it, package it
    python tools/release.py --no-build        # package the bundle already in dist/
    python tools/release.py --fast            # quick compression (tests, trial runs)

Into ``release/`` (``--out``) go, for the platform it runs on:

* Linux: ``DigitPad-<version>-linux-<arch>.tar.xz``, the bundle folder compressed (the
  compression chosen by ``python bench/bench_bundle.py --archives``, see bench/RESULTS.md),
  and ``digitpad_<version>_<arch>.deb`` (tools/deb.py) when ``dpkg-deb`` is there;
* Windows: ``DigitPad-<version>-windows-<arch>.zip``; macOS: ``DigitPad-<version>-macos-<arch>.zip``
  (the ``.app``, packed with ``ditto`` so its links and signatures survive);
* ``SHA256SUMS`` of the artifacts (check with ``sha256sum -c SHA256SUMS``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build.spec"
NAME = "DigitPad"


def version() -> str:
    text = (ROOT / "app" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'__version__\s*=\s*"([^"]+)"', text)
    if not found:
        raise SystemExit("no __version__ in app/__init__.py")
    return found.group(1)


def machine() -> str:
    """x86_64 or arm64, whatever the platform calls them."""
    m = platform.machine().lower()
    return {"amd64": "x86_64", "aarch64": "arm64"}.get(m, m)


# ---------------------------------------------------------------------------- archives


@dataclass(frozen=True)
class Method:
    """One way to pack the bundle folder: a tar stream through a compressor, or squashfs."""

    ext: str
    compress: tuple[str, ...]  # reads a tar stream on stdin, writes to stdout
    decompress: tuple[str, ...]
    note: str = ""

    @property
    def tool(self) -> str:
        return self.compress[0]


# Every candidate bench/bench_bundle.py measures. Multi-threaded where the tool can be
# (-T0: all cores). zstd's default decoder refuses windows over 128 MiB (--long=27), so
# --long=31 archives need ``zstd -d --long=31`` and a plain ``tar -xf`` cannot open them.
METHODS: dict[str, Method] = {
    "gzip-9": Method("tar.gz", ("gzip", "-9"), ("gzip", "-dc")),
    "xz-0": Method("tar.xz", ("xz", "-0", "-T0"), ("xz", "-dc", "-T0")),
    "xz-6": Method("tar.xz", ("xz", "-6", "-T0"), ("xz", "-dc", "-T0")),
    "xz-9": Method("tar.xz", ("xz", "-9", "-T0"), ("xz", "-dc", "-T0")),
    "zstd-3": Method("tar.zst", ("zstd", "-3", "-T0", "-q"), ("zstd", "-dc", "-q")),
    "zstd-12": Method("tar.zst", ("zstd", "-12", "-T0", "-q"), ("zstd", "-dc", "-q")),
    "zstd-19": Method("tar.zst", ("zstd", "-19", "-T0", "-q"), ("zstd", "-dc", "-q")),
    "zstd-19-long27": Method("tar.zst", ("zstd", "-19", "--long=27", "-T0", "-q"), ("zstd", "-dc", "-q")),
    "zstd-19-long31": Method("tar.zst", ("zstd", "-19", "--long=31", "-T0", "-q"),
                             ("zstd", "-dc", "--long=31", "-q"), "needs zstd --long=31 to unpack"),
    "squashfs-zstd": Method("sqfs", ("mksquashfs", "-comp", "zstd", "-Xcompression-level", "19"),
                            ("unsquashfs",), "mount it, or unsquashfs"),
    "squashfs-xz": Method("sqfs", ("mksquashfs", "-comp", "xz"), ("unsquashfs",), "mount it, or unsquashfs"),
}
# The one releases use (bench/RESULTS.md: the smallest archive, which a plain ``tar -xf``
# opens on every Linux without installing anything, for the CPU time of zstd -19), and the
# one --fast uses (the same format, so a trial run makes the same file name quickly).
RELEASE_METHOD = "xz-9"
FAST_METHOD = "xz-0"
# The .deb's zstd level (dpkg-deb has no --long), for a release and for --fast.
DEB_LEVEL, FAST_DEB_LEVEL = 19, 1


def _tar_command(folder: Path) -> list[str]:
    """GNU tar of ``folder`` as one top directory: sorted, owned by root, holes kept."""
    return ["tar", "--sparse", "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
            "-cf", "-", "-C", str(folder.parent), folder.name]


def make_archive(folder: Path, out: Path, method: Method) -> None:
    """Pack ``folder`` into ``out`` (written whole or not at all)."""
    tmp = out.with_name(out.name + ".part")
    tmp.unlink(missing_ok=True)
    if method.ext == "sqfs":
        cpus = str(os.cpu_count() or 1)
        subprocess.run([*method.compress[:1], str(folder), str(tmp), *method.compress[1:], "-noappend",
                        "-all-root", "-quiet", "-processors", cpus], check=True, stdout=subprocess.DEVNULL)
    else:
        with open(tmp, "wb") as fh:
            tar = subprocess.Popen(_tar_command(folder), stdout=subprocess.PIPE)
            comp = subprocess.run(method.compress, stdin=tar.stdout, stdout=fh, check=False)
            assert tar.stdout is not None
            tar.stdout.close()
            if tar.wait() != 0 or comp.returncode != 0:
                tmp.unlink(missing_ok=True)
                raise RuntimeError(f"packing {folder} with {' '.join(method.compress)} failed")
    os.replace(tmp, out)


def unpack_archive(archive: Path, dest: Path, method: Method) -> None:
    """What a user's unpacking does: ``dest`` gets the top folder back."""
    dest.mkdir(parents=True, exist_ok=True)
    if method.ext == "sqfs":
        subprocess.run(["unsquashfs", "-q", "-n", "-d", str(dest / NAME), str(archive)], check=True,
                       stdout=subprocess.DEVNULL)
        return
    with open(archive, "rb") as fh:
        dec = subprocess.Popen(method.decompress, stdin=fh, stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-xf", "-", "-C", str(dest)], stdin=dec.stdout, check=False)
        assert dec.stdout is not None
        dec.stdout.close()
        if dec.wait() != 0 or tar.returncode != 0:
            raise RuntimeError(f"unpacking {archive} failed")


def _zip_folder(folder: Path, out: Path) -> None:
    if sys.platform == "darwin":  # keeps the .app's links, permissions and signatures
        subprocess.run(["ditto", "-c", "-k", "--keepParent", str(folder), str(out)], check=True)
    else:
        shutil.make_archive(str(out.with_suffix("")), "zip", root_dir=folder.parent, base_dir=folder.name)


# ---------------------------------------------------------------------------- build, check


def bundle_folder(dist: Path) -> Path:
    """What gets shipped: dist/DigitPad.app on macOS, dist/DigitPad elsewhere."""
    return dist / f"{NAME}.app" if sys.platform == "darwin" else dist / NAME


def executable(dist: Path) -> Path:
    if sys.platform == "darwin":
        return dist / f"{NAME}.app" / "Contents" / "MacOS" / NAME
    return dist / NAME / (f"{NAME}.exe" if os.name == "nt" else NAME)


def build(dist: Path, work: Path) -> float:
    """PyInstaller with build.spec; returns the wall-clock seconds."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--distpath", str(dist),
                    "--workpath", str(work), str(SPEC)], cwd=ROOT, check=True)
    return time.perf_counter() - t0


def self_test(dist: Path, report: Path) -> None:
    """The bundle's own ``--self-test`` (offscreen, a temporary DigitPad home)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("DIGITPAD_HOME", None)
    proc = subprocess.run([str(executable(dist)), "--self-test", "--report", str(report)], env=env,
                          stdin=subprocess.DEVNULL, check=False)
    text = report.read_text(encoding="utf-8") if report.is_file() else "(no report)"
    print(text)
    if proc.returncode != 0:
        raise SystemExit(f"the bundle's self-test failed (exit {proc.returncode}); report {report}")


def sha256sums(files: list[Path], out: Path) -> None:
    lines = []
    for f in sorted(files):
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        lines.append(f"{h.hexdigest()}  {f.name}\n")
    out.write_text("".join(lines), encoding="utf-8")


# ---------------------------------------------------------------------------- main


def release(dist: Path, out: Path, fast: bool = False) -> list[Path]:
    """Package the bundle in ``dist`` into ``out``; returns the artifacts (SHA256SUMS last)."""
    folder = bundle_folder(dist)
    if not executable(dist).is_file():
        raise SystemExit(f"no bundle in {dist}; build it first (drop --no-build)")
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{NAME}-{version()}"
    artifacts: list[Path] = []
    if sys.platform.startswith("linux"):
        method = METHODS[FAST_METHOD if fast else RELEASE_METHOD]
        archive = out / f"{stem}-linux-{machine()}.{method.ext}"
        t0 = time.perf_counter()
        make_archive(folder, archive, method)
        print(f"{archive.name}: {archive.stat().st_size / 2**20:.1f} MiB in {time.perf_counter() - t0:.0f} s")
        artifacts.append(archive)
        if shutil.which("dpkg-deb"):
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from deb import build_deb  # tools/deb.py

            deb = build_deb(folder, out, version(), level=FAST_DEB_LEVEL if fast else DEB_LEVEL)
            print(f"{deb.name}: {deb.stat().st_size / 2**20:.1f} MiB")
            artifacts.append(deb)
        else:
            print("dpkg-deb not found: no .deb (on Debian/Ubuntu it comes with dpkg)")
    else:
        plat = "macos" if sys.platform == "darwin" else "windows"
        archive = out / f"{stem}-{plat}-{machine()}.zip"
        _zip_folder(folder, archive)
        print(f"{archive.name}: {archive.stat().st_size / 2**20:.1f} MiB")
        artifacts.append(archive)
    sums = out / "SHA256SUMS"
    sha256sums(artifacts, sums)
    return [*artifacts, sums]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--no-build", action="store_true", help="package the bundle already in --dist")
    ap.add_argument("--no-self-test", action="store_true", help="do not run the bundle's self-test")
    ap.add_argument("--fast", action="store_true", help=f"quick compression ({FAST_METHOD}) for trials")
    ap.add_argument("--dist", type=Path, default=ROOT / "dist", help="PyInstaller --distpath (dist/)")
    ap.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller --workpath (build/)")
    ap.add_argument("--out", type=Path, default=ROOT / "release", help="where the artifacts go (release/)")
    args = ap.parse_args(argv)
    if not args.no_build:
        print(f"built in {build(args.dist, args.work):.0f} s")
    if not args.no_self_test:
        args.work.mkdir(parents=True, exist_ok=True)
        self_test(args.dist, args.work / "self-test-report.txt")
    for f in release(args.dist, args.out, fast=args.fast):
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
