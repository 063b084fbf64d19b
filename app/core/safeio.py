"""Careful file access for the user's data: one inter-process lock, atomic writes, and
reading that refuses what is not a regular file or would use far more memory than the
file's size suggests (Qt-free).

* :func:`locked` — the one lock every read-modify-write of a DigitPad folder takes
  (``filelock``: ``flock`` on POSIX, ``msvcrt`` on Windows), so two DigitPads sharing a
  folder (two windows, a window and the CLI) never lose each other's changes.
* :func:`atomic_write_bytes` / :func:`atomic_write_json` — temp file + fsync + rename.
* :func:`open_regular` / :func:`read_capped` — refuse FIFOs, devices and links to them
  (opened without blocking), and files larger than the caller allows; :func:`set_aside`
  moves a damaged file out of the way.
* :func:`read_npz` — arrays of an ``.npz``: every member's header (shape x dtype) and
  size are checked before a byte of data is inflated; nothing is ever unpickled.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from app.core.errors import DigitPadError

TMP_PREFIX = ".tmp-"
LOCK_FILE = ".digitpad.lock"
LOCK_TIMEOUT = 60.0  # seconds; every holder keeps the lock for a short write only
MAX_RATIO = 100  # inflated/compressed size above which a large member is refused
_RATIO_FLOOR = 8 << 20  # members inflating to less than this are never judged by ratio
MAX_MEMBERS = 64

_locks: dict[str, Any] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> Any:
    """One ``FileLock`` per lock file, so a thread holding it may take it again."""
    from filelock import FileLock

    key = os.path.abspath(path)
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = FileLock(key)
        return lock


@contextlib.contextmanager
def locked(folder: Path, error: type[DigitPadError], timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the DigitPad lock of ``folder`` (created if needed) for a read-modify-write.

    Raises ``error`` when the folder cannot be written (read-only, missing permission,
    name too long) or another DigitPad keeps it locked for ``timeout`` seconds.
    """
    from filelock import Timeout

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"Cannot write to {folder}: {reason(exc)}.") from None
    lock = _lock_for(folder / LOCK_FILE)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise error(f"{folder} is locked by another DigitPad for more than {timeout:g} s; "
                    "try again.") from None
    except OSError as exc:
        raise error(f"Cannot write to {folder}: {reason(exc)}.") from None
    try:
        yield
    finally:
        lock.release()


def reason(exc: BaseException) -> str:
    """The gist of an error for a message: an OSError's strerror, else its first line."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


# --------------------------------------------------------------------------- writing


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def remove_stale_temporaries(folder: Path, older_than: float) -> list[str]:
    """Remove hidden ``.tmp-*`` leftovers of interrupted saves in ``folder`` that are older
    than ``older_than`` seconds (younger ones may be another DigitPad's save in progress)."""
    import shutil
    import time

    removed: list[str] = []
    try:
        children = list(Path(folder).iterdir())
    except OSError:
        return removed
    now = time.time()
    for child in children:
        if not child.name.startswith(TMP_PREFIX):
            continue
        try:
            if now - child.lstat().st_mtime < older_than:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
            removed.append(child.name)
        except OSError:
            continue
    return removed


# --------------------------------------------------------------------------- reading


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: Path, error: type[DigitPadError], label: str | None = None) -> IO[bytes]:
    """Open ``path`` for reading if it is a regular file (links are followed); a FIFO,
    device, socket or folder is refused with ``error`` without ever blocking on it."""
    label = label or str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{label}: cannot read it (file not found).") from None
    except IsADirectoryError:
        raise error(f"{label} is a folder, not a file.") from None
    except OSError as exc:
        raise error(f"{label}: cannot read it ({reason(exc)}).") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{label} is {_kind(mode)}, not a file DigitPad can read.")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(path: Path, limit: int, error: type[DigitPadError], label: str | None = None) -> bytes:
    """The whole content of a regular file of at most ``limit`` bytes."""
    label = label or str(path)
    with open_regular(path, error, label) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise error(f"{label} is {human_bytes(size)}; DigitPad reads at most {human_bytes(limit)} "
                        "from such a file.")
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise error(f"{label}: cannot read it ({reason(exc)}).") from None
    if len(data) > limit:
        raise error(f"{label} grew beyond {human_bytes(limit)} while being read.")
    return data


def set_aside(path: Path) -> Path:
    """Move a damaged user file out of the way as ``<name>.unreadable-<date-time>`` (kept for
    the user, never read again); returns where it went. Raises OSError."""
    import datetime

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.unreadable-{stamp}")
    n = 2
    while os.path.lexists(target):  # another one set aside in the same second
        target = path.with_name(f"{path.name}.unreadable-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    return target


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


@dataclass(frozen=True)
class ArrayInfo:
    """What an ``.npy`` member's header announces, read before any data."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    header_bytes: int = 0  # the .npy header's length in its member

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        return f"shape {self.shape} {self.dtype} ({human_bytes(self.nbytes)})"


def _header(member: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    fmt = np.lib.format
    version = fmt.read_magic(member)
    if version == (1, 0):
        shape, _fortran, dtype = fmt.read_array_header_1_0(member)
    else:
        shape, _fortran, dtype = fmt.read_array_header_2_0(member)
    return tuple(int(d) for d in shape), np.dtype(dtype)


def read_npz(path: Path, error: type[DigitPadError], *, max_array_bytes: int,
             keys: Sequence[str] | None = None, label: str | None = None,
             check: Callable[[dict[str, ArrayInfo]], None] | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (all, or those of ``keys`` present), numbers only.

    Before reading data: the file must be a regular file holding a zip archive; each
    ``.npy`` member's header must announce a plain numeric array; ``check`` sees every
    header and may refuse; each array to be read must be at most ``max_array_bytes``,
    agree in size with its member, and (when large) not inflate more than
    :data:`MAX_RATIO` times.
    Every refusal is ``error`` naming the file (``label``, default the path).
    """
    label = label or str(path)
    with open_regular(path, error, label) as fh:
        if fh.read(6) == b"\x93NUMPY":
            raise error(f"{label} is a single .npy array, not an .npz archive.")
        fh.seek(0)
        try:
            with zipfile.ZipFile(fh) as zf:
                infos = _member_infos(zf, error, label)
                if check is not None:
                    check({k: info for k, (info, _zi) in infos.items()})
                wanted = list(infos) if keys is None else [k for k in keys if k in infos]
                for key in wanted:  # (arrays not asked for are never read)
                    _check_size(*infos[key], error, label, max_array_bytes)
                out: dict[str, np.ndarray] = {}
                for key in wanted:
                    with zf.open(infos[key][1]) as member:
                        out[key] = np.lib.format.read_array(member, allow_pickle=False)
                return out
        except DigitPadError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError):
            raise error(f"{label} is truncated or corrupt (not a valid .npz file).") from None
        except ValueError as exc:
            raise error(f"{label} is corrupt ({reason(exc)}).") from None
        except MemoryError:
            raise error(f"{label} is too large to load into memory.") from None
        except OSError as exc:
            raise error(f"{label}: cannot read it ({reason(exc)}).") from None


def _member_infos(zf: zipfile.ZipFile, error: type[DigitPadError],
                  label: str) -> dict[str, tuple[ArrayInfo, zipfile.ZipInfo]]:
    members = zf.infolist()
    if len(members) > MAX_MEMBERS:
        raise error(f"{label} holds {len(members)} files; an .npz of images holds a few arrays.")
    infos: dict[str, tuple[ArrayInfo, zipfile.ZipInfo]] = {}
    for zi in members:
        if zi.is_dir():
            continue
        key = zi.filename[:-4] if zi.filename.endswith(".npy") else zi.filename
        with zf.open(zi) as member:
            try:
                shape, dtype = _header(member)
            except ValueError as exc:
                raise error(f"{label}: {key!r} is not a NumPy array ({reason(exc)}).") from None
            header_len = member.tell()
        if dtype.hasobject:
            raise error(f"{label}: array {key!r} holds Python objects; DigitPad refuses to unpickle "
                        "it (only arrays of numbers can be read).")
        if dtype.fields is not None or dtype.kind not in "biuf":
            raise error(f"{label}: array {key!r} holds {dtype} values, not plain numbers.")
        infos[key] = (ArrayInfo(key, shape, dtype, header_len), zi)
    return infos


def _check_size(info: ArrayInfo, zi: zipfile.ZipInfo, error: type[DigitPadError], label: str,
                max_array_bytes: int) -> None:
    key = info.key
    if info.nbytes > max_array_bytes:
        raise error(f"{label}: array {key!r} announces {info.describe()}; at most "
                    f"{human_bytes(max_array_bytes)} is accepted.")
    if zi.file_size != info.header_bytes + info.nbytes:
        raise error(f"{label}: array {key!r} announces {info.describe()} but its member holds "
                    f"{human_bytes(max(0, zi.file_size - info.header_bytes))} (corrupt file).")
    if zi.file_size > _RATIO_FLOOR and zi.file_size > MAX_RATIO * max(1, zi.compress_size):
        raise error(f"{label}: array {key!r} would inflate from {human_bytes(zi.compress_size)} "
                    f"to {human_bytes(zi.file_size)}, far more than images do; refused.")
