"""app.core.data: the bundled MNIST, .npz and IDX loading, validation and caching."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from app.core import data, paths
from app.core.data import load_idx, load_mnist
from app.core.errors import DatasetError

# ----------------------------------------------------------------------------- helpers


def _idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    """Serialise a uint8 array in the IDX format (big-endian header)."""
    if magic is None:
        magic = 0x0800 | arr.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def _small_set(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=n, dtype=np.uint8)
    return x, y


Dataset4 = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _write_idx_dir(directory: Path, gz: bool = False, dotted: bool = False) -> Dataset4:
    directory.mkdir(parents=True, exist_ok=True)
    xtr, ytr = _small_set(12, seed=1)
    xte, yte = _small_set(5, seed=2)
    files = {
        "train-images-idx3-ubyte": _idx_bytes(xtr),
        "train-labels-idx1-ubyte": _idx_bytes(ytr),
        "t10k-images-idx3-ubyte": _idx_bytes(xte),
        "t10k-labels-idx1-ubyte": _idx_bytes(yte),
    }
    for name, raw in files.items():
        if dotted:
            name = name.replace("-idx", ".idx")
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)
    return xtr, ytr, xte, yte


def _save_npz(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def _valid_arrays() -> dict[str, np.ndarray]:
    xtr, ytr = _small_set(10, seed=3)
    xte, yte = _small_set(4, seed=4)
    return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}


# ----------------------------------------------------------------------------- bundled


def test_bundled_shapes_and_dtypes() -> None:
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8


def test_bundled_canonical_facts() -> None:
    (x_train, y_train), (_x_test, y_test) = load_mnist()
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(y_train, minlength=10).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]  # fmt: skip
    assert np.bincount(y_test, minlength=10).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]  # fmt: skip
    # Mean and std of x / 255 from the histogram (exact, no 400 MB float copy).
    counts = np.bincount(x_train.ravel(), minlength=256).astype(np.float64)
    values = np.arange(256) / 255.0
    mean = float(counts @ values / counts.sum())
    std = float(np.sqrt(counts @ (values - mean) ** 2 / counts.sum()))
    assert round(mean, 4) == 0.1307
    assert round(std, 4) == 0.3081


def test_bundled_path_and_explicit_path_agree() -> None:
    a = load_mnist()
    b = load_mnist(paths.bundled_mnist_path())
    assert a[0][0] is b[0][0]  # same file, same cache entry


def test_cache_returns_same_read_only_arrays() -> None:
    first = load_mnist()
    second = load_mnist()
    assert first[0][0] is second[0][0] and first[1][1] is second[1][1]
    for arr in (*first[0], *first[1]):
        assert not arr.flags.writeable
    with pytest.raises(ValueError):
        first[0][0][0, 0, 0] = 1


def test_clear_cache() -> None:
    first = load_mnist()
    data.clear_cache()
    second = load_mnist()
    assert first[0][0] is not second[0][0]
    np.testing.assert_array_equal(first[0][1], second[0][1])


def test_cache_notices_a_changed_file(tmp_path: Path) -> None:
    path = _save_npz(tmp_path / "set.npz", **_valid_arrays())
    first = load_mnist(path)
    assert load_mnist(path)[0][0] is first[0][0]
    changed = _valid_arrays()
    changed["y_train"] = np.zeros(10, dtype=np.uint8)
    _save_npz(path, **changed)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # a different mtime for sure
    second = load_mnist(path)
    assert second[0][1].tolist() == [0] * 10


# ----------------------------------------------------------------------------- npz


def test_npz_round_trip_and_dtype_conversion(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    arrays["x_train"] = arrays["x_train"].astype(np.int64)  # any integer dtype, 0..255
    arrays["y_test"] = arrays["y_test"].astype(np.int32)
    (x_train, y_train), (x_test, y_test) = load_mnist(_save_npz(tmp_path / "a.npz", **arrays))
    assert x_train.dtype == y_test.dtype == np.uint8
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    np.testing.assert_array_equal(x_test, arrays["x_test"])
    np.testing.assert_array_equal(y_train, arrays["y_train"])


def test_npz_path_as_str(tmp_path: Path) -> None:
    path = _save_npz(tmp_path / "a.npz", **_valid_arrays())
    (x_train, _), _ = load_mnist(str(path))
    assert x_train.shape == (10, 28, 28)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"not found.*nope\.npz"):
        load_mnist(tmp_path / "nope.npz")


def test_truncated_npz(tmp_path: Path) -> None:
    real = _save_npz(tmp_path / "real.npz", **_valid_arrays())
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(real.read_bytes()[:1000])
    with pytest.raises(DatasetError, match=r"truncated\.npz.*(truncated|corrupt)"):
        load_mnist(bad)


def test_truncated_bundled_file_prefix(tmp_path: Path) -> None:
    bad = tmp_path / "mnist.npz"
    with open(paths.bundled_mnist_path(), "rb") as fh:
        bad.write_bytes(fh.read(1000))
    with pytest.raises(DatasetError, match=r"mnist\.npz"):
        load_mnist(bad)


def test_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "text.npz"
    bad.write_text("hello, I am not a zip file\n")
    with pytest.raises(DatasetError, match=r"text\.npz"):
        load_mnist(bad)


def test_npy_renamed_npz(tmp_path: Path) -> None:
    bad = tmp_path / "single.npz"
    with open(bad, "wb") as fh:
        np.save(fh, np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DatasetError, match=r"single\.npz.*\.npy"):
        load_mnist(bad)


def test_missing_key(tmp_path: Path) -> None:
    arrays = _valid_arrays()
    del arrays["y_test"]
    path = _save_npz(tmp_path / "partial.npz", **arrays)
    with pytest.raises(DatasetError, match=r"partial\.npz.*y_test"):
        load_mnist(path)


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"x_train": np.zeros((10, 28, 27), np.uint8)}, r"x_train.*\(10, 28, 27\)"),
        ({"x_train": np.zeros((10, 784), np.uint8)}, r"x_train.*\(10, 784\)"),
        ({"y_train": np.zeros((10, 1), np.uint8)}, r"y_train.*\(10, 1\)"),
        ({"y_train": np.zeros(9, np.uint8)}, r"10 images.*9 labels"),
        (
            {"x_test": np.zeros((0, 28, 28), np.uint8), "y_test": np.zeros(0, np.uint8)},
            r"x_test holds no images",
        ),
        ({"x_train": np.zeros((10, 28, 28), np.float32)}, r"x_train.*float32"),
        ({"x_train": np.full((10, 28, 28), 256, np.int32)}, r"x_train.*256"),
        ({"x_train": np.full((10, 28, 28), -1, np.int16)}, r"x_train.*-1"),
        ({"y_test": np.full(4, 10, np.uint8)}, r"y_test.*label.*10"),
        ({"y_test": np.zeros(4, np.bool_)}, r"y_test.*bool"),
    ],
)
def test_invalid_arrays(tmp_path: Path, overrides: dict[str, np.ndarray], pattern: str) -> None:
    arrays = {**_valid_arrays(), **overrides}
    path = _save_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=pattern) as info:
        load_mnist(path)
    assert "bad.npz" in str(info.value)


def test_object_array_is_refused_not_unpickled(tmp_path: Path) -> None:
    arrays: dict[str, object] = dict(_valid_arrays())
    payload = np.empty(10, dtype=object)
    payload[:] = [object()] * 10
    arrays["y_train"] = payload
    path = tmp_path / "objects.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]  # (pickles the object array)
    with pytest.raises(DatasetError, match=r"objects\.npz.*y_train.*(object|pickle)"):
        load_mnist(path)


def test_other_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mnist.pkl"
    path.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(DatasetError, match=r"mnist\.pkl"):
        load_mnist(path)


def test_keras_source_is_lazy_and_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """"keras" imports keras only when asked; a failing download becomes a DatasetError."""
    import sys
    import types

    def fail() -> object:
        raise OSError("network is unreachable")

    fake = types.ModuleType("keras")
    fake.datasets = types.SimpleNamespace(mnist=types.SimpleNamespace(load_data=fail))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(DatasetError, match="network is unreachable"):
        load_mnist("keras")

    xtr, ytr = _small_set(6)
    xte, yte = _small_set(3)
    fake.datasets = types.SimpleNamespace(  # type: ignore[attr-defined]
        mnist=types.SimpleNamespace(load_data=lambda: ((xtr, ytr), (xte, yte)))
    )
    (x_train, _), (_, y_test) = load_mnist("keras")
    np.testing.assert_array_equal(x_train, xtr)
    np.testing.assert_array_equal(y_test, yte)


# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize(("gz", "dotted"), [(False, False), (True, False), (False, True)])
def test_idx_directory_round_trip(tmp_path: Path, gz: bool, dotted: bool) -> None:
    xtr, ytr, xte, yte = _write_idx_dir(tmp_path / "idx", gz=gz, dotted=dotted)
    (x_train, y_train), (x_test, y_test) = load_mnist(tmp_path / "idx")
    for got, want in ((x_train, xtr), (y_train, ytr), (x_test, xte), (y_test, yte)):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)
    assert load_mnist(tmp_path / "idx")[0][0] is x_train  # cached


def test_load_idx_plain_and_gzipped(tmp_path: Path) -> None:
    x, y = _small_set(7)
    (tmp_path / "i").write_bytes(_idx_bytes(x))
    (tmp_path / "l.gz").write_bytes(gzip.compress(_idx_bytes(y)))
    gx, gy = load_idx(tmp_path / "i", tmp_path / "l.gz")
    np.testing.assert_array_equal(gx, x)
    np.testing.assert_array_equal(gy, y)


def test_idx_directory_missing_file(tmp_path: Path) -> None:
    _write_idx_dir(tmp_path / "idx")
    (tmp_path / "idx" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path / "idx")


def test_idx_count_mismatch(tmp_path: Path) -> None:
    x, y = _small_set(7)
    (tmp_path / "i").write_bytes(_idx_bytes(x))
    (tmp_path / "l").write_bytes(_idx_bytes(y[:6]))
    with pytest.raises(DatasetError, match=r"7 images.*6 labels"):
        load_idx(tmp_path / "i", tmp_path / "l")


def test_idx_bad_magic(tmp_path: Path) -> None:
    x, y = _small_set(3)
    (tmp_path / "i").write_bytes(_idx_bytes(x))
    (tmp_path / "l").write_bytes(_idx_bytes(y))
    with pytest.raises(DatasetError, match=r"magic number 2049, expected 2051"):
        load_idx(tmp_path / "l", tmp_path / "i")  # swapped
    (tmp_path / "junk").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(DatasetError, match=r"junk.*magic"):
        load_idx(tmp_path / "junk", tmp_path / "l")


def test_idx_truncated(tmp_path: Path) -> None:
    x, y = _small_set(5)
    raw = _idx_bytes(x)
    (tmp_path / "i").write_bytes(raw[: len(raw) - 100])
    (tmp_path / "l").write_bytes(_idx_bytes(y))
    with pytest.raises(DatasetError, match=r"truncated.*5 images"):
        load_idx(tmp_path / "i", tmp_path / "l")
    (tmp_path / "short").write_bytes(raw[:10])
    with pytest.raises(DatasetError, match=r"short.*truncated"):
        load_idx(tmp_path / "short", tmp_path / "l")
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(DatasetError, match=r"tiny.*truncated"):
        load_idx(tmp_path / "tiny", tmp_path / "l")


def test_idx_truncated_gzip(tmp_path: Path) -> None:
    x, y = _small_set(5)
    packed = gzip.compress(_idx_bytes(x))
    (tmp_path / "i.gz").write_bytes(packed[: len(packed) // 2])
    (tmp_path / "l").write_bytes(_idx_bytes(y))
    with pytest.raises(DatasetError, match=r"i\.gz.*(truncated|corrupt)"):
        load_idx(tmp_path / "i.gz", tmp_path / "l")


def test_idx_wrong_image_size_and_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    (tmp_path / "i32").write_bytes(_idx_bytes(rng.integers(0, 255, (4, 32, 32), np.uint8)))
    (tmp_path / "l").write_bytes(_idx_bytes(np.arange(4, dtype=np.uint8)))
    with pytest.raises(DatasetError, match=r"i32.*\(4, 32, 32\)"):
        load_idx(tmp_path / "i32", tmp_path / "l")
    (tmp_path / "i").write_bytes(_idx_bytes(rng.integers(0, 255, (4, 28, 28), np.uint8)))
    (tmp_path / "l26").write_bytes(_idx_bytes(np.array([0, 1, 25, 3], np.uint8)))
    with pytest.raises(DatasetError, match=r"l26.*0\.\.25"):
        load_idx(tmp_path / "i", tmp_path / "l26")


def test_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        load_idx(tmp_path / "nope", tmp_path / "nope2")
