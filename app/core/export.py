"""Export a Keras model to a ``.tflite`` file that LiteRT runs (TensorFlow imported lazily).

The ``.tflite`` saved beside every model stores its weights in 8 bits (TFLite's
dynamic-range quantisation: int8 weights with float scales; input, output and activations
stay float32): a quarter of the size and faster on the live path, where every mouse move
starts with the weights out of the CPU's caches, for the same MNIST accuracy (figures in
bench/RESULTS.md). ``quantize=False`` gives the float conversion, equal to Keras: the live
view of the weights in training uses it (an exact view, and a faster conversion).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def quiet_stdio() -> Any:
    """Swallow prints from Keras/TensorFlow (and survive ``sys.stdout is None`` in a
    windowed PyInstaller bundle)."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield sink


def tflite_bytes(model: Any, quantize: bool = True) -> bytes:
    """Convert a Keras model with input (N, 28, 28) to a TFLite flatbuffer (int8 weights
    unless ``quantize`` is false; see the module docstring)."""
    from app.core.tf import import_tf

    tf = import_tf()
    options = {"optimizations": [tf.lite.Optimize.DEFAULT]} if quantize else {}
    with tempfile.TemporaryDirectory(prefix="digitpad-export-") as tmp:
        out = Path(tmp) / "model.tflite"
        with quiet_stdio():
            try:
                model.export(str(out), format="litert", verbose=False, **options)
            except (ValueError, TypeError):
                # Keras releases before the "litert" export format (or its converter options).
                converter = tf.lite.TFLiteConverter.from_keras_model(model)
                for name, value in options.items():
                    setattr(converter, name, value)
                out.write_bytes(converter.convert())
        return out.read_bytes()


def export_tflite(model: Any, path: str | os.PathLike[str], quantize: bool = True) -> Path:
    """Write ``model`` as ``.tflite`` to ``path`` atomically (temp file + rename)."""
    dest = Path(path)
    data = tflite_bytes(model, quantize)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".tflite")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest
