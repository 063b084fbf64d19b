"""Lazy, quiet, thread-limited import of TensorFlow and Keras.

Importing TensorFlow costs seconds and hundreds of MiB, so nothing in DigitPad imports it
at module level: the functions that train, evaluate or export call :func:`import_tf`.
Before the import we silence TensorFlow's C++ logging and choose thread counts that leave
the GUI thread a core to itself.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

_lock = threading.Lock()
_configured = False


def _default_threads() -> int:
    n = os.cpu_count() or 1
    return max(1, n)


def import_tf() -> Any:
    """Import and configure TensorFlow once; return the module."""
    global _configured
    with _lock:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import tensorflow as tf

        if not _configured:
            _configured = True
            intra = int(os.environ.get("DIGITPAD_TF_THREADS", _default_threads()))
            try:
                tf.config.threading.set_intra_op_parallelism_threads(intra)
                tf.config.threading.set_inter_op_parallelism_threads(
                    int(os.environ.get("DIGITPAD_TF_INTEROP_THREADS", "1"))
                )
            except RuntimeError:
                pass  # TensorFlow was already initialised by someone else
            with contextlib.suppress(Exception):
                tf.get_logger().setLevel("ERROR")
        return tf


def import_keras() -> Any:
    import_tf()
    import keras

    return keras


def tf_loaded() -> bool:
    import sys

    return "tensorflow" in sys.modules
