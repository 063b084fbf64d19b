"""Loading MNIST: the bundled ``resources/mnist.npz``, any keras-layout ``.npz``, a
directory of the four original IDX files, or a keras download.

Every loader returns exactly what ``keras.datasets.mnist.load_data()`` returns::

    (x_train, y_train), (x_test, y_test)   # x: (N, 28, 28) uint8, y: (N,) uint8 in 0..9

Every failure raises :class:`~app.core.errors.DatasetError` with a one-line message naming
the file and what is wrong with it. User files are never unpickled
(``np.load(..., allow_pickle=False)``).

File loads are cached (a small LRU keyed on resolved path, mtime and size), so the GUI
and the trainer can call :func:`load_mnist` as often as they like. The returned arrays
are therefore shared and **read-only**; ``x / 255.0`` or ``x.copy()`` give a writable one.

Qt-free, and TensorFlow/Keras are only imported for ``source="keras"``.
"""

from __future__ import annotations

import gzip
import math
import os
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

import numpy as np

from app.core import paths
from app.core.errors import DatasetError

Dataset: TypeAlias = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension

# The four standard IDX file names (as on yann.lecun.com). Some mirrors spell the
# extension with a dot ("train-images.idx3-ubyte"); both are accepted, gzipped or not.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_CACHE_SIZE = 2  # one MNIST is ~55 MB in memory
_cache: OrderedDict[tuple[object, ...], Dataset] = OrderedDict()
_cache_lock = threading.Lock()


# --------------------------------------------------------------------------- public API


def load_mnist(source: str | os.PathLike[str] | None = None) -> Dataset:
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``, uint8, keras layout.

    ``source``: ``None`` = the bundled ``resources/mnist.npz``; a path to a ``.npz``
    with the keys ``x_train, y_train, x_test, y_test``; a directory holding the four
    IDX files (optionally ``.gz``); or the string ``"keras"`` to download through
    ``keras.datasets.mnist`` (needs the network the first time).

    The arrays are read-only and may be shared with other callers (cached).
    """
    if source is None:
        try:
            return _load_npz_cached(paths.bundled_mnist_path())
        except DatasetError as exc:
            raise DatasetError(f"The MNIST copy bundled with DigitPad cannot be used: {exc} "
                               "(reinstalling DigitPad restores it)") from None
    if isinstance(source, str) and source.strip().lower() == "keras":
        return _load_keras()
    path = Path(os.fspath(source)).expanduser()
    if not path.exists():
        raise DatasetError(f"Dataset not found: {path}")
    if path.is_dir():
        return _load_idx_dir_cached(path)
    if path.suffix.lower() == ".npz":
        return _load_npz_cached(path)
    raise DatasetError(
        f"{path} is not a dataset: expected a .npz file (keras layout) "
        "or a directory holding the four MNIST IDX files"
    )


def load_idx(
    images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Read one IDX image file (magic 2051) and its label file (magic 2049).

    Either may be gzip-compressed. Returns ``(x, y)``: (N, 28, 28) uint8 and (N,) uint8,
    read-only. Raises :class:`DatasetError` on bad magic, truncation, wrong image size,
    labels outside 0..9 or when the two files hold different numbers of items.
    """
    images_path = Path(os.fspath(images_path))
    labels_path = Path(os.fspath(labels_path))
    x = _read_idx(images_path, IDX_IMAGES_MAGIC)
    y = _read_idx(labels_path, IDX_LABELS_MAGIC)
    if len(x) != len(y):
        raise DatasetError(
            f"{images_path} holds {len(x)} images but {labels_path.name} holds "
            f"{len(y)} labels (they must match)"
        )
    return _validate_pair(x, y, str(images_path), str(labels_path))


def clear_cache() -> None:
    """Forget every cached dataset (the next :func:`load_mnist` reads the file again)."""
    with _cache_lock:
        _cache.clear()


# --------------------------------------------------------------------------- caching


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except OSError as exc:
        raise DatasetError(f"Cannot read dataset {path}: {_reason(exc)}") from exc
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


def _cached(key: tuple[object, ...], loader: Callable[[], Dataset]) -> Dataset:
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
        data = loader()
        _cache[key] = data
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return data


def _load_npz_cached(path: Path) -> Dataset:
    if not path.exists():
        raise DatasetError(f"Dataset not found: {path}")
    if path.is_dir():
        raise DatasetError(f"{path} is a directory, not a .npz file")
    return _cached(("npz", *_file_key(path)), lambda: _load_npz(path))


def _load_idx_dir_cached(directory: Path) -> Dataset:
    files = _find_idx_files(directory)
    key: tuple[object, ...] = ("idx", *(_file_key(files[k]) for k in IDX_FILES))
    return _cached(key, lambda: _load_idx_dir(files))


# --------------------------------------------------------------------------- npz


def _load_npz(path: Path) -> Dataset:
    arrays: dict[str, np.ndarray] = {}
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DatasetError(f"{path} is a single .npy array, not an .npz archive")
        with npz:
            missing = [k for k in NPZ_KEYS if k not in npz.files]
            if missing:
                raise DatasetError(
                    f"{path} is missing the array(s) {', '.join(missing)} "
                    f"(expected {', '.join(NPZ_KEYS)})"
                )
            for key in NPZ_KEYS:
                try:
                    arrays[key] = npz[key]
                except ValueError as exc:
                    if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                        raise DatasetError(
                            f"{path}: array '{key}' holds Python objects; refusing to "
                            "unpickle it (numbers only)"
                        ) from exc
                    raise
    except DatasetError:
        raise
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{path} is not a valid .npz file (truncated or corrupt)") from exc
    except (EOFError, zlib.error) as exc:
        raise DatasetError(f"{path} is truncated or corrupt: {_reason(exc)}") from exc
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DatasetError(f"{path} is not an .npz file (not a zip archive)") from exc
        raise DatasetError(f"{path} is corrupt: {_reason(exc)}") from exc
    except OSError as exc:
        raise DatasetError(f"Cannot read dataset {path}: {_reason(exc)}") from exc

    name = str(path)
    train = _validate_pair(
        arrays["x_train"], arrays["y_train"], f"{name}: x_train", f"{name}: y_train"
    )
    test = _validate_pair(arrays["x_test"], arrays["y_test"], f"{name}: x_test", f"{name}: y_test")
    return train, test


# --------------------------------------------------------------------------- IDX


def _find_idx_files(directory: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    missing: list[str] = []
    for key, base in IDX_FILES.items():
        dotted = base.replace("-idx", ".idx")
        for name in (base, base + ".gz", dotted, dotted + ".gz"):
            cand = directory / name
            if cand.is_file():
                found[key] = cand
                break
        else:
            missing.append(base)
    if missing:
        raise DatasetError(
            f"{directory} does not contain the MNIST IDX file(s) {', '.join(missing)} "
            "(optionally .gz)"
        )
    return found


def _load_idx_dir(files: dict[str, Path]) -> Dataset:
    train = load_idx(files["train_images"], files["train_labels"])
    test = load_idx(files["test_images"], files["test_labels"])
    return train, test


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DatasetError(f"IDX file not found: {path}")
    if path.is_dir():
        raise DatasetError(f"{path} is a directory, not an IDX file")
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
            raw = gzip.decompress(raw)
        elif path.suffix.lower() == ".gz":
            raise DatasetError(f"{path} is not a gzip file")
    except DatasetError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path} is truncated or corrupt: {_reason(exc)}") from exc
    except OSError as exc:
        raise DatasetError(f"Cannot read {path}: {_reason(exc)}") from exc
    return raw


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse an unsigned-byte IDX file (big-endian header) with NumPy only."""
    raw = _read_bytes(path)
    kind = "images" if magic == IDX_IMAGES_MAGIC else "labels"
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < 4:
        raise DatasetError(f"{path} is truncated: {len(raw)} bytes, too short for an IDX file")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DatasetError(
            f"{path} is not an IDX {kind} file: magic number {found}, expected {magic}"
        )
    if len(raw) < header:
        raise DatasetError(f"{path} is truncated: its header is incomplete")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(dims)
    available = len(raw) - header
    if available < expected:
        raise DatasetError(
            f"{path} is truncated: the header announces {dims[0]} {kind} "
            f"({expected} bytes) but only {available} bytes follow"
        )
    if available > expected:
        raise DatasetError(
            f"{path} is corrupt: {available - expected} unexpected bytes after the "
            f"{dims[0]} {kind} its header announces"
        )
    return np.frombuffer(raw, dtype=np.uint8, count=expected, offset=header).reshape(dims)


# --------------------------------------------------------------------------- validation


def _validate_pair(
    x: object, y: object, x_name: str, y_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes, dtypes and ranges; return read-only C-contiguous uint8 arrays."""
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise DatasetError(f"{x_name} / {y_name} are not arrays")
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise DatasetError(f"{x_name} has shape {x.shape}, expected (N, 28, 28)")
    if y.ndim != 1:
        raise DatasetError(f"{y_name} has shape {y.shape}, expected (N,)")
    if len(x) != len(y):
        raise DatasetError(
            f"{x_name} holds {len(x)} images but {y_name} holds {len(y)} labels "
            "(they must match)"
        )
    if len(x) == 0:
        raise DatasetError(f"{x_name} holds no images")
    x = _to_uint8(x, x_name, 255, "pixel")
    y = _to_uint8(y, y_name, NUM_CLASSES - 1, "label")
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _to_uint8(a: np.ndarray, name: str, high: int, what: str) -> np.ndarray:
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise DatasetError(f"{name} has dtype {a.dtype}, expected integers 0..{high}")
    if a.dtype != np.uint8 or high != 255:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > high:
            raise DatasetError(f"{name} has {what} values {lo}..{hi}, expected 0..{high}")
    return np.ascontiguousarray(a, dtype=np.uint8)


# --------------------------------------------------------------------------- keras


def _load_keras() -> Dataset:
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except DatasetError:
        raise
    except ImportError as exc:
        raise DatasetError(f"Keras is not available to download MNIST: {exc}") from exc
    except Exception as exc:  # network errors, HTTP errors, corrupt cache file...
        raise DatasetError(
            f"Could not download MNIST through keras.datasets: {_reason(exc)}"
        ) from exc
    train = _validate_pair(x_train, y_train, "keras mnist: x_train", "keras mnist: y_train")
    test = _validate_pair(x_test, y_test, "keras mnist: x_test", "keras mnist: y_test")
    return train, test


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
