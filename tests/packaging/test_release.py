"""tools/release.py on the session's bundle: the download archive and the Debian package,
which is installed on this machine (as root), self-tested and removed again."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import release  # noqa: E402 - tools/release.py

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux artifacts")]

SIZE_GOAL = 1200 * 2**20
APP = Path("/opt/digitpad")
COMMAND = "/usr/bin/digitpad"


def _du(path: Path) -> int:
    seen: set[int] = set()
    used = 0
    for p in [path, *path.rglob("*")]:
        st = p.lstat()
        if st.st_ino not in seen:
            seen.add(st.st_ino)
            used += st.st_blocks * 512
    return used


@pytest.fixture(scope="module")
def artifacts(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``python tools/release.py --no-build --fast`` on the session's bundle (the same code
    as a release, with quicker compression levels)."""
    out = tmp_path_factory.mktemp("release")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "release.py"), "--no-build", "--no-self-test",
                           "--fast", "--dist", str(bundle), "--out", str(out)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    found = {p.name: p for p in out.iterdir() if p.is_file()}
    return found


def test_artifact_names_and_sums(artifacts: dict[str, Path]) -> None:
    v, arch = release.version(), release.machine()
    deb_arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=False).stdout.strip() if shutil.which("dpkg") else None
    expected = {f"DigitPad-{v}-linux-{arch}.{release.METHODS[release.FAST_METHOD].ext}", "SHA256SUMS"}
    if deb_arch:
        expected.add(f"digitpad_{v}_{deb_arch}.deb")
    assert set(artifacts) == expected
    lines = artifacts["SHA256SUMS"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(expected) - 1
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256(artifacts[name].read_bytes()).hexdigest() == digest, name


def test_archive_unpacks_to_a_working_app(artifacts: dict[str, Path], bundle: Path, tmp_path: Path) -> None:
    """Unpacked the way a user does (a plain ``tar -xf``): the same files, holes kept, and it starts."""
    archive = next(p for n, p in artifacts.items() if n.startswith("DigitPad-"))
    assert archive.stat().st_size < 600 * 2**20
    subprocess.run(["tar", "-xf", str(archive), "-C", str(tmp_path)], check=True, timeout=600)
    app = tmp_path / "DigitPad"
    names = sorted(str(p.relative_to(app)) for p in app.rglob("*"))
    assert names == sorted(str(p.relative_to(bundle / "DigitPad")) for p in (bundle / "DigitPad").rglob("*"))
    assert _du(app) <= SIZE_GOAL, f"unpacked: {_du(app) / 2**20:.0f} MiB on disk"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QT_PLUGIN"))}
    env.update(QT_QPA_PLATFORM="offscreen", DIGITPAD_HOME=str(tmp_path / "home"))
    report = tmp_path / "r.txt"
    proc = subprocess.run([str(app / "DigitPad"), "--self-test", "--quick", "--report", str(report)],
                          env=env, capture_output=True, timeout=300, check=False)
    assert proc.returncode == 0, report.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the .deb


def _run(*cmd: str, check: bool = True, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, env=env, timeout=timeout)


def _installed(package: str) -> bool:
    proc = _run("dpkg-query", "-W", "-f=${Status}", package, check=False)
    return proc.returncode == 0 and "installed" in proc.stdout.split()


def _depends_names(field: str) -> set[str]:
    return {re.split(r"[\s(:]", alt.strip())[0] for part in field.split(",") for alt in part.split("|")}


def _with_their_dependencies(packages: set[str]) -> set[str]:
    """The installed packages ``packages`` bring in (Depends and Pre-Depends, recursively)."""
    seen: set[str] = set()
    todo = list(packages)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        proc = _run("dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", pkg, check=False)
        if proc.returncode == 0:
            todo.extend(_depends_names(proc.stdout) - seen - {""})
    return seen


def _external_owners() -> dict[str, str]:
    """{library outside /opt/digitpad that an installed file loads: its package}, by ldd."""
    def is_elf(p: Path) -> bool:
        with open(p, "rb") as fh:
            return fh.read(4) == b"\x7fELF"

    files = [p for p in APP.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)]
    env = {**os.environ, "LD_LIBRARY_PATH": str(APP / "_internal")}
    loaded: set[str] = set()
    missing: list[str] = []
    for i in range(0, len(files), 50):
        out = _run("ldd", *map(str, files[i:i + 50]), check=False, env=env).stdout
        for line in out.splitlines():
            if "not found" in line:
                missing.append(line.strip())
            m = re.search(r"=> (/\S+)", line)
            if m and not m.group(1).startswith(str(APP)):
                loaded.add(m.group(1))
    assert not missing, "libraries the installed app cannot find:\n" + "\n".join(sorted(set(missing)))
    owners: dict[str, str] = {}
    for lib in sorted(loaded):
        # /usr-merged systems: /lib is /usr/lib, and dpkg knows a file by one of the two names
        other = lib[4:] if lib.startswith("/usr/lib/") else "/usr" + lib if lib.startswith("/lib/") else lib
        proc = _run("dpkg-query", "-S", lib, check=False)
        if proc.returncode != 0:
            proc = _run("dpkg-query", "-S", other, check=False)
        assert proc.returncode == 0, f"no package owns {lib}"
        owners[lib] = proc.stdout.split(":", 1)[0]
    return owners


def test_deb_installs_self_tests_and_removes_cleanly(artifacts: dict[str, Path], tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("installs a package: needs root and apt-get (CI runs as root)")
    deb = next(p for n, p in artifacts.items() if n.endswith(".deb"))
    if _installed("digitpad"):
        pytest.skip("a digitpad package is installed on this machine already; not touching it")
    fields = _run("dpkg-deb", "-f", str(deb)).stdout
    depends = re.search(r"(?m)^Depends: (.*)$", fields)
    assert depends, fields
    names = _depends_names(depends.group(1))
    assert re.search(r"libc6 \(>= 2\.\d+\)", depends.group(1))
    # Qt's xcb platform and OpenGL; the data the carried fontconfig and xkbcommon read
    assert {"libxcb1", "libgl1", "libegl1", "fontconfig-config", "xkb-data"} <= names, depends.group(1)
    listing = _run("dpkg-deb", "-c", str(deb)).stdout
    for path in ("./opt/digitpad/DigitPad", "./usr/bin/digitpad -> /opt/digitpad/DigitPad",
                 "./usr/share/applications/digitpad.desktop",
                 "./usr/share/icons/hicolor/256x256/apps/digitpad.png",
                 "./usr/share/doc/digitpad/copyright"):
        assert path in listing, path

    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    home = tmp_path / "home"
    proc = _run("apt-get", "install", "-y", "-q", "--no-install-recommends", str(deb), check=False, env=env,
                timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    try:
        assert _installed("digitpad")
        owned = [Path(p) for p in _run("dpkg-query", "-L", "digitpad").stdout.splitlines() if p.strip()]
        # (a development install may have its own ``digitpad`` earlier on PATH: use the path)
        assert Path(COMMAND).resolve() == APP / "DigitPad"
        # every library the installed app loads from the system comes from a package that
        # Depends brings in (directly: what the bundle links; or one of their dependencies)
        owners = _external_owners()
        brought = _with_their_dependencies(names)
        assert set(owners.values()) <= brought, {lib: p for lib, p in owners.items() if p not in brought}
        assert _du(APP) <= SIZE_GOAL, f"installed: {_du(APP) / 2**20:.0f} MiB on disk"
        desktop = Path("/usr/share/applications/digitpad.desktop")
        assert "\nExec=digitpad\n" in desktop.read_text(encoding="utf-8")
        if shutil.which("desktop-file-validate"):
            assert _run("desktop-file-validate", str(desktop), check=False).returncode == 0

        report = tmp_path / "report.txt"
        run_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QT_PLUGIN"))}
        run_env.update(QT_QPA_PLATFORM="offscreen", DIGITPAD_HOME=str(home))
        test = subprocess.run([COMMAND, "--self-test", "--report", str(report)], env=run_env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=900, check=False)
        text = report.read_text(encoding="utf-8") if report.is_file() else "(no report)"
        assert test.returncode == 0, text
        assert "ALL CHECKS PASSED" in text and f"running from: bundle {APP}/_internal" in text
        # running it wrote nothing into the app's folder (dpkg could not remove it)
        now = {p for p in APP.rglob("*")}
        assert now <= set(owned), sorted(str(p) for p in now - set(owned))[:10]
    finally:
        removed = _run("dpkg", "--purge", "digitpad", check=False)
    assert removed.returncode == 0, removed.stderr
    assert not _installed("digitpad")
    left = [str(p) for p in owned if p.exists() and not p.is_dir()]
    assert not left, f"left behind: {left[:10]}"
    assert not APP.exists() and not os.path.lexists(COMMAND)
    assert not Path("/usr/share/applications/digitpad.desktop").exists()
    # the user's data stays: the model the self-test trained
    assert list((home / "models").glob("*/model.keras"))
