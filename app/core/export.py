"""Export a Keras model to a ``.tflite`` file that LiteRT runs (TensorFlow imported lazily)."""

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


def tflite_bytes(model: Any) -> bytes:
    """Convert a Keras model with input (N, 28, 28) to a TFLite flatbuffer."""
    from app.core.tf import import_tf

    tf = import_tf()
    with tempfile.TemporaryDirectory(prefix="digitpad-export-") as tmp:
        out = Path(tmp) / "model.tflite"
        with quiet_stdio():
            try:
                model.export(str(out), format="litert", verbose=False)
            except (ValueError, TypeError):
                # Keras releases before the "litert" export format.
                converter = tf.lite.TFLiteConverter.from_keras_model(model)
                out.write_bytes(converter.convert())
        return out.read_bytes()


def export_tflite(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` as ``.tflite`` to ``path`` atomically (temp file + rename)."""
    dest = Path(path)
    data = tflite_bytes(model)
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
