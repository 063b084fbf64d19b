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
import io
import math
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

import numpy as np

from app.core import paths
from app.core.errors import DatasetError
from app.core.safeio import ArrayInfo, human_bytes, read_capped, read_npz

Dataset: TypeAlias = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SHAPE = (28, 28)
# Bounds checked from headers before anything is read (MNIST: 60000 images, 47 MB).
MAX_IMAGES = 1_000_000
MAX_ARRAY_BYTES = 1 << 30
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

_EMPTY_X = np.zeros((0, 28, 28), np.uint8)
_EMPTY_Y = np.zeros((0,), np.uint8)
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


def load_test_set(source: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Only the test images and labels of :func:`load_mnist`'s ``source``: a user's .npz
    or IDX folder has its training arrays left unread (evaluation needs none)."""
    if source is None or (isinstance(source, str) and source.strip().lower() == "keras"):
        return load_mnist(source)[1]
    path = Path(os.fspath(source)).expanduser()
    if path.is_dir():
        files = _find_idx_files(path, ("test_images", "test_labels"))
        key: tuple[object, ...] = ("idx-test", *(_file_key(f) for f in files.values()))
        data = _cached(key, lambda: ((_EMPTY_X, _EMPTY_Y),
                                     load_idx(files["test_images"], files["test_labels"])))
        return data[1]
    if path.exists() and path.suffix.lower() == ".npz":
        keys = ("x_test", "y_test")

        def load() -> Dataset:
            a = _load_npz(path, keys)
            return (_EMPTY_X, _EMPTY_Y), (a["x_test"], a["y_test"])

        return _cached(("npz-test", *_file_key(path)), load)[1]
    return load_mnist(source)[1]


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
    return _cached(("npz", *_file_key(path)), lambda: _load_npz_dataset(path))


def _load_idx_dir_cached(directory: Path) -> Dataset:
    files = _find_idx_files(directory)
    key: tuple[object, ...] = ("idx", *(_file_key(files[k]) for k in IDX_FILES))
    return _cached(key, lambda: _load_idx_dir(files))


# --------------------------------------------------------------------------- npz


def _check_npz_headers(path: Path, keys: tuple[str, ...]) -> Callable[[dict[str, ArrayInfo]], None]:
    """Refuse from the headers alone: missing arrays, more images than any digit set holds."""

    def check(infos: dict[str, ArrayInfo]) -> None:
        missing = [k for k in keys if k not in infos]
        if missing:
            raise DatasetError(
                f"{path} is missing the array(s) {', '.join(missing)} "
                f"(expected {', '.join(NPZ_KEYS)})"
            )
        for key in keys:
            shape = infos[key].shape
            if shape and shape[0] > MAX_IMAGES:
                raise DatasetError(
                    f"{path}: {key} announces {shape[0]} items; DigitPad reads at most {MAX_IMAGES}"
                )

    return check


def _load_npz(path: Path, keys: tuple[str, ...] = NPZ_KEYS) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of a keras-layout .npz, validated in pairs (x/y)."""
    arrays = read_npz(path, DatasetError, max_array_bytes=MAX_ARRAY_BYTES, keys=keys,
                      check=_check_npz_headers(path, keys))
    name = str(path)
    out: dict[str, np.ndarray] = {}
    for part in ("train", "test"):
        xk, yk = f"x_{part}", f"y_{part}"
        if xk in keys:
            out[xk], out[yk] = _validate_pair(arrays[xk], arrays[yk], f"{name}: {xk}", f"{name}: {yk}")
    return out


def _load_npz_dataset(path: Path) -> Dataset:
    a = _load_npz(path)
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])


# --------------------------------------------------------------------------- IDX


def _find_idx_files(directory: Path, keys: tuple[str, ...] = tuple(IDX_FILES)) -> dict[str, Path]:
    found: dict[str, Path] = {}
    missing: list[str] = []
    for key in keys:
        base = IDX_FILES[key]
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
    """An IDX file's bytes (gunzipped when gzipped), at most :data:`MAX_ARRAY_BYTES`."""
    if not path.exists():
        raise DatasetError(f"IDX file not found: {path}")
    raw = read_capped(path, MAX_ARRAY_BYTES, DatasetError)
    if raw[:2] != b"\x1f\x8b":  # gzip magic, whatever the file is called
        if path.suffix.lower() == ".gz":
            raise DatasetError(f"{path} is not a gzip file")
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
            out = gz.read(MAX_ARRAY_BYTES + 1)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise DatasetError(f"{path} is truncated or corrupt: {_reason(exc)}") from exc
    if len(out) > MAX_ARRAY_BYTES:
        raise DatasetError(f"{path} unpacks to more than {human_bytes(MAX_ARRAY_BYTES)}; refused")
    return out


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
