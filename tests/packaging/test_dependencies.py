"""The dependency markers in pyproject.toml agree with what the app expects at run time."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from app.core.inference import LITERT_PLATFORMS

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[2]

# Platforms a user may install on, with the names Python reports there.
PLATFORMS = [("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64"), ("darwin", "x86_64"),
             ("win32", "AMD64"), ("win32", "ARM64"), ("freebsd14", "amd64")]


def _requirement(name: str) -> Requirement:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    found = [Requirement(d) for d in deps if Requirement(d).name == name]
    assert len(found) == 1, found
    return found[0]


def test_litert_is_installed_exactly_where_the_app_expects_it() -> None:
    """pyproject.toml installs LiteRT on the platforms listed in LITERT_PLATFORMS (where the
    self-test requires it and a TensorFlow import at start fails it), and nowhere else (pip
    would fail where no wheel exists, e.g. Intel Macs, whose newest wheel is 1.0)."""
    req = _requirement("ai-edge-litert")
    assert req.marker is not None
    for plat, machine in PLATFORMS:
        installed = req.marker.evaluate({"sys_platform": plat, "platform_machine": machine})
        assert installed == ((plat, machine) in LITERT_PLATFORMS), (plat, machine, str(req.marker))
    # Windows, Linux and Apple-silicon Macs all start without TensorFlow
    assert {("win32", "AMD64"), ("linux", "x86_64"), ("darwin", "arm64")} <= LITERT_PLATFORMS
