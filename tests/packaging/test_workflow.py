"""The GitHub Actions release workflow: checked with actionlint (it cannot run here), and
it builds and self-tests the bundle on Linux, Windows and macOS."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def test_actionlint_finds_nothing() -> None:
    """actionlint checks the syntax, the expressions, the runner labels and the inputs and
    versions of the actions used (the dev extra installs it on Linux and Windows)."""
    exe = shutil.which("actionlint")
    if exe is None:
        if sys.platform.startswith("linux"):
            pytest.fail("actionlint is missing: pip install -e '.[dev]'")
        pytest.skip("no actionlint wheel for this platform")
    proc = subprocess.run([exe, "-no-color", str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_would_catch_a_mistake(tmp_path: Path) -> None:
    """The check above can fail: a misspelt input of an action is reported."""
    exe = shutil.which("actionlint")
    if exe is None:
        pytest.skip("actionlint is missing (see the test above)")
    bad = tmp_path / ".github" / "workflows" / "release.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(WORKFLOW.read_text(encoding="utf-8").replace("if-no-files-found: error",
                                                                "if-no-file-found: error"), encoding="utf-8")
    proc = subprocess.run([exe, "-no-color", str(bad)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode != 0 and "if-no-file-found" in proc.stdout


def test_builds_and_self_tests_on_three_platforms() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = flow["jobs"]["bundle"]
    runners = job["strategy"]["matrix"]["os"]
    assert {r.split("-")[0] for r in runners} == {"ubuntu", "windows", "macos"}, runners
    assert job["env"]["QT_QPA_PLATFORM"] == "offscreen"
    runs = [s.get("run", "") for s in job["steps"]]
    # tools/release.py builds with build.spec and fails unless the bundle's --self-test passes
    release = [r for r in runs if "tools/release.py" in r]
    assert release and "--no-self-test" not in release[0] and "--no-build" not in release[0]
    deb = next(r for r in runs if ".deb" in r)
    assert "/usr/bin/digitpad --self-test" in deb and "purge" in deb
