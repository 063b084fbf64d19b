"""The pieces of tools/release.py and tools/deb.py on small stand-ins (fast): the ELF
reader, archives that keep holes, and a .deb whose Depends is read from its files."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import release  # noqa: E402 - tools/release.py

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF, tar and dpkg: Linux")


def _elf() -> Any:
    spec = importlib.util.spec_from_file_location("elf", ROOT / "packaging" / "pyinstaller" / "elf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _true() -> Path:
    """A small dynamically linked program of the system."""
    found = shutil.which("true") or "/bin/true"
    return Path(os.path.realpath(found))


@linux_only
def test_elf_reads_what_readelf_reads(tmp_path: Path) -> None:
    elf = _elf()
    exe = _true()
    assert elf.is_elf(exe) and not elf.is_elf(ROOT / "README.md")
    assert "libc.so.6" in elf.needed(exe)
    assert any(v.startswith("GLIBC_2.") for v in elf.version_needs(exe)["libc.so.6"])
    if shutil.which("readelf"):
        out = subprocess.run(["readelf", "-d", str(exe)], capture_output=True, text=True, check=True).stdout
        assert elf.needed(exe) == [line.split("[")[1].split("]")[0] for line in out.splitlines()
                                   if "(NEEDED)" in line]
    # blanking a section keeps the size and every other byte
    copy = tmp_path / "true"
    shutil.copyfile(exe, copy)
    where = elf.section(copy, ".rodata")
    assert where is not None
    before = copy.read_bytes()
    assert elf.blank_section(copy, ".rodata") == where[1]
    after = copy.read_bytes()
    off, size = where
    assert len(after) == len(before) and after[off:off + size] == bytes(size)
    assert after[:off] == before[:off] and after[off + size:] == before[off + size:]
    assert elf.blank_section(copy, ".no_such_section") == 0


def _stand_in_bundle(tmp_path: Path) -> Path:
    """dist/DigitPad with an executable, a library and its link, and a 64 MiB file of holes."""
    app = tmp_path / "dist" / "DigitPad"
    (app / "_internal").mkdir(parents=True)
    (app / "DigitPad").write_bytes(b"#!/bin/sh\necho hi\n")
    (app / "DigitPad").chmod(0o755)
    (app / "_internal" / "libx.so.1").write_bytes(os.urandom(5000))
    os.symlink("libx.so.1", app / "_internal" / "libx.so")
    with open(app / "_internal" / "zeros.bin", "wb") as fh:
        fh.truncate(64 * 2**20)
    return app


def _same_as_stand_in(got: Path, app: Path) -> None:
    assert (got / "DigitPad").read_bytes() == (app / "DigitPad").read_bytes()
    assert os.access(got / "DigitPad", os.X_OK)
    assert os.readlink(got / "_internal" / "libx.so") == "libx.so.1"
    assert (got / "_internal" / "libx.so.1").read_bytes() == (app / "_internal" / "libx.so.1").read_bytes()
    st = (got / "_internal" / "zeros.bin").stat()
    assert st.st_size == 64 * 2**20 and st.st_blocks * 512 < 2**20  # unpacked as holes again


@linux_only
@pytest.mark.parametrize("name", [release.FAST_METHOD, release.RELEASE_METHOD, "gzip-9"])
def test_archive_round_trip_keeps_files_links_and_holes(tmp_path: Path, name: str) -> None:
    method = release.METHODS[name]
    if shutil.which(method.tool) is None:
        pytest.skip(f"{method.tool} is not installed")
    app = _stand_in_bundle(tmp_path)
    out = tmp_path / f"a.{method.ext}"
    release.make_archive(app, out, method)
    assert out.stat().st_size < 2**20
    release.unpack_archive(out, tmp_path / "x", method)
    _same_as_stand_in(tmp_path / "x" / "DigitPad", app)


@linux_only
def test_release_archive_opens_with_a_plain_tar(tmp_path: Path) -> None:
    """What the README tells a user to type, ``tar -xf FILE``, opens the release's archive
    (tar picks the decompressor itself: no option, no extra tool)."""
    method = release.METHODS[release.RELEASE_METHOD]
    if shutil.which(method.tool) is None:
        pytest.skip(f"{method.tool} is not installed")
    app = _stand_in_bundle(tmp_path)
    out = tmp_path / f"DigitPad-1.2.3-linux-x86_64.{method.ext}"
    release.make_archive(app, out, method)
    (tmp_path / "x").mkdir()
    subprocess.run(["tar", "-xf", str(out)], cwd=tmp_path / "x", check=True, timeout=60)
    _same_as_stand_in(tmp_path / "x" / "DigitPad", app)


def test_sha256sums(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"abc")
    b.write_bytes(b"")
    release.sha256sums([b, a], tmp_path / "SHA256SUMS")
    assert (tmp_path / "SHA256SUMS").read_text(encoding="utf-8") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.bin\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  b.bin\n")


@linux_only
@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="dpkg-deb")
def test_deb_of_a_stand_in_bundle(tmp_path: Path) -> None:
    """The package layout, and Depends read from the files: a program that links only the C
    library depends on libc6 of the glibc version its symbols ask for, and nothing else."""
    import deb  # tools/deb.py

    bundle = tmp_path / "DigitPad"
    (bundle / "_internal" / "resources").mkdir(parents=True)
    shutil.copytree(ROOT / "resources" / "icons", bundle / "_internal" / "resources" / "icons")
    shutil.copyfile(_true(), bundle / "DigitPad")
    (bundle / "DigitPad").chmod(0o755)
    needs = _elf().version_needs(bundle / "DigitPad")["libc.so.6"]
    newest = max((v for v in needs if v.startswith("GLIBC_2.")),
                 key=lambda v: [int(x) for x in v[6:].split(".")])
    out = tmp_path / "out"
    out.mkdir()
    made = deb.build_deb(bundle, out, "1.2.3", level=1)
    assert made.name == f"digitpad_1.2.3_{deb.deb_arch()}.deb"
    fields = subprocess.run(["dpkg-deb", "-f", str(made)], capture_output=True, text=True, check=True).stdout
    assert f"Depends: libc6 (>= {newest[6:]})\n" in fields
    assert "Version: 1.2.3\n" in fields and "Package: digitpad\n" in fields
    listing = subprocess.run(["dpkg-deb", "-c", str(made)], capture_output=True, text=True, check=True).stdout
    assert "./usr/bin/digitpad -> /opt/digitpad/DigitPad" in listing
    for s in deb.ICON_SIZES:
        assert f"./usr/share/icons/hicolor/{s}x{s}/apps/digitpad.png" in listing
    assert "root/root" in listing and str(tmp_path) not in listing
    # the bundle itself is unchanged (the package was staged with hard links)
    assert (bundle / "DigitPad").stat().st_mode & 0o777 == 0o755
    assert [p.name for p in out.iterdir()] == [made.name]
