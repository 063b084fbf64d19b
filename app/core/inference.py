"""Live prediction without TensorFlow: a ``.tflite`` model run by LiteRT.

LiteRT (``ai_edge_litert``) imports in a fraction of a second and predicts one digit in
well under a millisecond. Where it has no wheel, TensorFlow's own interpreter is used.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import ModelError
from app.core.pendata import CLASSES
from app.core.safeio import read_capped
from app.core.verdict import THRESHOLD, calibrate, split, verdict_of

MAX_TFLITE_BYTES = 128 << 20  # a digit model is well under 10 MB

# (sys.platform, platform.machine()) where LiteRT publishes wheels and pyproject.toml
# installs it; a test keeps the two in step.
LITERT_PLATFORMS = frozenset({("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64"),
                              ("win32", "AMD64")})


def litert_expected() -> bool:
    """True where LiteRT is installed with DigitPad, so the window must not need TensorFlow."""
    import platform
    import sys

    return (sys.platform, platform.machine()) in LITERT_PLATFORMS


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - platforms without a LiteRT wheel
        from app.core.tf import import_tf

        return import_tf().lite.Interpreter
    return Interpreter


def backend_name() -> str:
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:  # pragma: no cover
        return "TensorFlow Lite (TensorFlow)"
    return "LiteRT"


def softmax_if_needed(p: np.ndarray) -> np.ndarray:
    """Models may end in logits; show probabilities either way."""
    # Cheap checks on plain floats: np.allclose alone would cost half a live prediction.
    if len(p) == 1:
        row = p[0].tolist()
        if min(row) >= 0.0 and abs(sum(row) - 1.0) <= 1.001e-3:
            return p
    elif p.size and float(p.min()) >= 0.0 and float(np.abs(p.sum(axis=-1) - 1.0).max()) <= 1.001e-3:
        return p
    e = np.exp(p - p.max(axis=-1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


class DigitPredictor:
    """``predict``/``read`` and their batch forms on top of ``_run``: (N, 784) float32 ->
    (N, 10 or 11) softmax outputs (the 11th: "not a digit"). Shared by :class:`Predictor`
    (LiteRT) and :class:`app.core.numpy_net.NumpyNet` (NumPy). The outputs are calibrated
    with ``temperature`` (from the model's metadata) before anything is shown."""

    CHUNK = 1000  # images per ``_run`` call in predict_batch
    temperature = 1.0
    threshold = THRESHOLD  # P(not a digit) from which the verdict is "not a digit"
    doubt = False  # a ten-output model: P(not a digit) is the doubt (see calibrated)

    def _run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def calibrated(self, temperature: float, threshold: float = THRESHOLD,
                   doubt: bool = False) -> DigitPredictor:
        """Use this temperature and verdict threshold from now on (returns self). ``doubt``:
        a ten-output model's verdict reads its doubt (``app.core.verdict.split``)."""
        self.temperature, self.threshold = float(temperature), float(threshold)
        self.doubt = bool(doubt)
        return self

    def read(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """(ten digit probabilities, P(not a digit)) for one preprocessed (28, 28) image."""
        arr = np.asarray(x, dtype=np.float32)
        if arr.size != 784:
            raise ValueError(f"expected one 28x28 image, got shape {arr.shape}")
        digits, other = split(calibrate(self._run(arr.reshape(1, 784)), self.temperature), self.doubt)
        return digits[0], float(other[0])

    def verdict(self, not_digit: float) -> str:
        return verdict_of(not_digit, self.threshold)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (10,) for one preprocessed (28, 28) float32 image in [0, 1]."""
        return self.read(x)[0]

    def outputs_batch(self, x: np.ndarray, chunk: int | None = None) -> np.ndarray:
        """The model's own outputs (N, 10 or 11), uncalibrated, for (N, 28, 28) images
        (uint8 0..255 or float 0..1)."""
        chunk = chunk or self.CHUNK
        arr = np.asarray(x)
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / np.float32(255.0)
        arr = arr.reshape(arr.shape[0], 784)
        parts = [self._run(arr[i: i + chunk]) for i in range(0, arr.shape[0], chunk)]
        return np.concatenate(parts) if parts else np.zeros((0, 10), np.float32)

    def read_batch(self, x: np.ndarray, chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(digit probabilities (N, 10), P(not a digit) (N,)), calibrated."""
        return split(calibrate(self.outputs_batch(x, chunk), self.temperature), self.doubt)

    def predict_batch(self, x: np.ndarray, chunk: int | None = None) -> np.ndarray:
        """Probabilities (N, 10) for (N, 28, 28) images (uint8 0..255 or float 0..1)."""
        return self.read_batch(x, chunk)[0]


class Predictor(DigitPredictor):
    """Runs one ``.tflite`` digit model. Thread-safe (one call at a time)."""

    def __init__(self, path: str | os.PathLike[str], num_threads: int = 1,
                 name: str | None = None, sha256: str | None = None) -> None:
        """``sha256``: the checksum recorded when the model was saved; a file that does not
        match is refused before LiteRT sees it (a corrupt flatbuffer can crash LiteRT)."""
        self.path = Path(path)
        self.name = name or self.path.stem
        self._lock = threading.Lock()
        label = self.path.name if self.name == self.path.stem else f"{self.name}/{self.path.name}"
        content = read_capped(self.path, MAX_TFLITE_BYTES, ModelError, label)
        if len(content) < 16:
            raise ModelError(f"{label}: the model file is empty or truncated.")
        if sha256 is not None and hashlib.sha256(content).hexdigest() != sha256:
            raise ModelError(f"{label}: the model file is corrupt (it changed since it was saved).")
        try:
            self._interp = _interpreter_class()(model_content=content, num_threads=num_threads)
            self._interp.allocate_tensors()
        except Exception as exc:
            raise ModelError(f"{label}: not a valid .tflite model ({exc}).") from None
        inp = self._interp.get_input_details()
        out = self._interp.get_output_details()
        if len(inp) != 1 or len(out) != 1:
            raise ModelError(f"{label}: expected one input and one output.")
        self._in = inp[0]
        self._out = out[0]
        shape = tuple(int(v) for v in self._in["shape"])
        if shape[1:] not in ((28, 28), (28, 28, 1), (784,)):
            raise ModelError(f"{label}: the model takes input {shape}, not 28x28 images.")
        self.outputs = int(self._out["shape"][-1]) if len(self._out["shape"]) else 0
        if self.outputs not in (10, CLASSES):
            raise ModelError(f"{label}: the model does not give 10 digit scores.")
        if self._in["dtype"] != np.float32:
            raise ModelError(f"{label}: the model's input is not float32.")
        self._item_shape = shape[1:]
        self._batch = shape[0]
        self._in_index = int(self._in["index"])
        self._out_index = int(self._out["index"])

    @property
    def interpreter_module(self) -> str:
        """Where the interpreter running the model comes from (``ai_edge_litert…``: LiteRT)."""
        return type(self._interp).__module__

    def _run(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        x = np.ascontiguousarray(x.reshape((n, *self._item_shape)), dtype=np.float32)
        with self._lock:
            if n != self._batch:
                self._interp.resize_tensor_input(self._in_index, [n, *self._item_shape])
                self._interp.allocate_tensors()
                self._batch = n
            self._interp.set_tensor(self._in_index, x)
            self._interp.invoke()
            out = self._interp.get_tensor(self._out_index)  # (a copy)
        return softmax_if_needed(out.reshape(n, self.outputs).astype(np.float32, copy=False))

