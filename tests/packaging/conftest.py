"""One PyInstaller bundle per test session, built with build.spec (about 100 s on two
cores): the bundle tests and the Debian package test all use it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bundle_exe(dist: Path) -> Path:
    if sys.platform == "darwin":
        return dist / "DigitPad.app" / "Contents" / "MacOS" / "DigitPad"
    return dist / "DigitPad" / ("DigitPad.exe" if os.name == "nt" else "DigitPad")


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/ of a fresh build of build.spec, in a temporary directory; or, to re-run the
    bundle tests without building again, the dist/ named by DIGITPAD_TEST_DIST."""
    given = os.environ.get("DIGITPAD_TEST_DIST")
    if given:
        assert bundle_exe(Path(given)).is_file(), f"DIGITPAD_TEST_DIST={given}: no bundle there"
        return Path(given)
    tmp = tmp_path_factory.mktemp("bundle")
    t0 = time.perf_counter()
    log = tmp / "build.log"
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(tmp / "dist"),
             "--workpath", str(tmp / "build"), str(ROOT / "build.spec")],
            cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, timeout=1800, check=False)
    seconds = time.perf_counter() - t0
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
    assert proc.returncode == 0, f"the PyInstaller build failed:\n{tail}"
    print(f"\nbundle built in {seconds:.0f} s")
    dist = tmp / "dist"
    assert bundle_exe(dist).is_file()
    return dist
