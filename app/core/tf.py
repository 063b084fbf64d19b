"""Lazy, quiet, thread-limited import of TensorFlow and Keras.

Importing TensorFlow costs seconds and hundreds of MiB, so nothing in DigitPad imports it
at module level: the functions that train, evaluate or export call :func:`import_tf`.
Before the import we silence TensorFlow's C++ logging and choose thread counts: all cores
for the CLI and tools, all but one when the window runs (:func:`reserve_core_for_gui`), so
that the GUI thread keeps a core to itself. ``DIGITPAD_TF_THREADS`` overrides both.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

_lock = threading.Lock()
_configured = False
_keras_frozen = False
_gui = False


def reserve_core_for_gui() -> None:
    """TensorFlow imported from now on leaves one core to the GUI thread.

    Measured on 2 cores (bench/RESULTS.md): the default training through the window took
    20-22 s with two intra-op threads and 17 s with one, and the GUI heartbeat's p99 gap
    went from ~20 to ~16 ms (three busy threads on two cores slow everyone down). Has no
    effect once TensorFlow is configured.
    """
    global _gui
    _gui = True


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _default_threads() -> int:
    n = _cores()
    return max(1, n - 1) if _gui else max(1, n)


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
            _freeze_long_lived()
        return tf


def import_keras() -> Any:
    global _keras_frozen
    import_tf()
    import keras

    if not _keras_frozen:
        _keras_frozen = True
        _freeze_long_lived()
    return keras


def _freeze_long_lived() -> None:
    """Move every object alive now (TensorFlow's and Keras' ~350k) out of the garbage
    collector's reach: they live as long as the process. A full collection walked them all
    while holding the GIL (~0.2 s here), stalling the window: Python starts one now and
    then while training allocates, and TensorFlow's TFLite converter calls gc.collect()
    itself on every export."""
    import gc

    gc.freeze()


def tf_loaded() -> bool:
    import sys

    return "tensorflow" in sys.modules
