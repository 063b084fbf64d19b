"""Just enough ELF reading for the bundle: a section's place in a file, the libraries a
file links (DT_NEEDED), and blanking a section nobody reads.

Pure Python (64-bit little-endian ELF, what x86-64 and arm64 Linux use), so build.spec,
tools/release.py and the tests need no binutils to ask these questions.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

ELF_MAGIC = b"\x7fELF"
_SHT_DYNAMIC = 6
_SHT_NOBITS = 8
_DT_NEEDED = 1
_SHT_GNU_VERNEED = 0x6FFFFFFE


def is_elf(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


def _sections(fh: BinaryIO) -> list[tuple[str, int, int, int, int]]:
    """(name, type, file offset, size, link) of every section of an open ELF64 LE file."""
    head = fh.read(64)
    if head[:4] != ELF_MAGIC or head[4] != 2 or head[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", head, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", head, 0x3A)
    fh.seek(shoff)
    table = fh.read(shentsize * shnum)
    raw = [struct.unpack_from("<IIQQQQII", table, i * shentsize) for i in range(shnum)]
    _, _, _, _, str_off, str_size, _, _ = raw[shstrndx]
    fh.seek(str_off)
    names = fh.read(str_size)
    out = []
    for name_off, typ, _flags, _addr, off, size, link, _info in raw:
        name = names[name_off:names.index(b"\0", name_off)].decode("ascii", "replace")
        out.append((name, typ, off, 0 if typ == _SHT_NOBITS else size, link))
    return out


def section(path: str | os.PathLike[str], name: str) -> tuple[int, int] | None:
    """(file offset, size) of section ``name``, or None when the file has none."""
    with open(path, "rb") as fh:
        for sname, _typ, off, size, _link in _sections(fh):
            if sname == name:
                return off, size
    return None


def needed(path: str | os.PathLike[str]) -> list[str]:
    """The sonames ``path`` links (its DT_NEEDED entries), in order."""
    with open(path, "rb") as fh:
        secs = _sections(fh)
        dyn = [s for s in secs if s[1] == _SHT_DYNAMIC]
        if not dyn:
            return []
        _, _, off, size, link = dyn[0]
        fh.seek(off)
        data = fh.read(size)
        _, _, str_off, str_size, _ = secs[link]
        fh.seek(str_off)
        strtab = fh.read(str_size)
    out = []
    for i in range(0, len(data) - 15, 16):
        tag, val = struct.unpack_from("<qQ", data, i)
        if tag == 0:
            break
        if tag == _DT_NEEDED:
            out.append(strtab[val:strtab.index(b"\0", val)].decode("ascii", "replace"))
    return out


def version_needs(path: str | os.PathLike[str]) -> dict[str, set[str]]:
    """Symbol versions ``path`` needs, per library: {"libc.so.6": {"GLIBC_2.14", ...}}."""
    out: dict[str, set[str]] = {}
    with open(path, "rb") as fh:
        secs = _sections(fh)
        for _name, typ, off, size, link in secs:
            if typ != _SHT_GNU_VERNEED:
                continue
            fh.seek(off)
            data = fh.read(size)
            _, _, str_off, str_size, _ = secs[link]
            fh.seek(str_off)
            strtab = fh.read(str_size)

            def text(i: int, strtab: bytes = strtab) -> str:
                return strtab[i:strtab.index(b"\0", i)].decode("ascii", "replace")

            pos = 0
            while pos + 16 <= len(data):
                _ver, cnt, file_off, aux, nxt = struct.unpack_from("<HHIII", data, pos)
                names = out.setdefault(text(file_off), set())
                apos = pos + aux
                for _ in range(cnt):
                    _hash, _flags, _other, name_off, anext = struct.unpack_from("<IHHII", data, apos)
                    names.add(text(name_off))
                    if not anext:
                        break
                    apos += anext
                if not nxt:
                    break
                pos += nxt
    return out


def blank_section(path: str | os.PathLike[str], name: str, chunk: int = 1 << 20) -> int:
    """Overwrite section ``name`` with zero bytes (the file keeps its size and layout, so
    every address in it stays valid); returns the bytes blanked (0 if there is none)."""
    where = section(path, name)
    if where is None:
        return 0
    off, size = where
    zeros = bytes(chunk)
    with open(path, "r+b") as fh:
        fh.seek(off)
        left = size
        while left:
            n = min(left, chunk)
            fh.write(zeros[:n])
            left -= n
    return size


def dig_holes(path: str | os.PathLike[str]) -> None:
    """Let the file system drop the file's all-zero blocks (a sparse file; same content)."""
    import shutil
    import subprocess

    if shutil.which("fallocate"):
        subprocess.run(["fallocate", "--dig-holes", str(Path(path))], check=False)
