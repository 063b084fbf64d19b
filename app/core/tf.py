"""Lazy, quiet, thread-limited import of TensorFlow and Keras.

Importing TensorFlow costs seconds and hundreds of MiB, so nothing imports it at module
level: the functions that train, evaluate or export call :func:`import_tf`. Before the
import, TensorFlow's C++ logging is silenced and thread counts chosen (all cores for the
CLI and tools, all but one while the window runs; ``DIGITPAD_TF_THREADS`` overrides).

The import must not stall the window's GUI thread. Python holds its global lock while it
loads an extension module, so TensorFlow's big libraries are ``dlopen``ed first through a
ctypes foreign call (which releases the lock), and the garbage collector is paused during
the import. Figures: bench/RESULTS.md.
"""

from __future__ import annotations

import contextlib
import gc
import glob
import logging
import os
import sys
import threading
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_configured = False
_keras_frozen = False
_gui = False


def reserve_core_for_gui() -> None:
    """TensorFlow imported from now on leaves one core to the GUI thread.

    Busy training threads on every core slow the GUI and the training itself down
    (bench/RESULTS.md). Has no effect once TensorFlow is configured.
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
        if "tensorflow" not in sys.modules:
            _import_without_stalls()
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


# TensorFlow's shared libraries, in load order (relative to the tensorflow package).
_LIBRARIES = ("libtensorflow_framework.so*", "libtensorflow_cc.so*", "python/_pywrap_tensorflow_internal.so")


def _preload_libraries() -> int:
    """``dlopen`` TensorFlow's big shared libraries without holding the GIL; returns how many.

    ``ctypes.CDLL`` itself holds the GIL while it loads a library; a *call* through ctypes
    releases it, so libc's ``dlopen`` is called as a foreign function. The handles are kept
    open (TensorFlow stays loaded for the life of the process); the import that follows
    finds the libraries already loaded. Linux only; anywhere else, or if anything is not
    as expected, nothing is done and the import simply takes the lock as before.
    """
    if not sys.platform.startswith("linux"):
        return 0
    try:
        import ctypes
        import importlib.util

        spec = importlib.util.find_spec("tensorflow")
        places = list(spec.submodule_search_locations or []) if spec is not None else []
        if not places:
            return 0
        dlopen = ctypes.CDLL(None).dlopen
        dlopen.restype = ctypes.c_void_p
        dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        loaded = 0
        for pattern in _LIBRARIES:
            found = sorted(glob.glob(os.path.join(places[0], pattern)), key=len)
            if found and dlopen(os.fsencode(found[0]), sys.getdlopenflags()):
                loaded += 1
        return loaded
    except Exception:  # an optimisation only
        log.debug("could not preload TensorFlow's libraries", exc_info=True)
        return 0


def _import_without_stalls() -> None:
    """The first import of TensorFlow and Keras, keeping other threads responsive."""
    _preload_libraries()
    was_enabled = gc.isenabled()
    gc.disable()  # everything imported now lives as long as the process (and is frozen below)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        # Frozen before the collector is back: else its first collection walks everything
        # just imported, holding the GIL.
        gc.freeze()
        if was_enabled:
            gc.enable()


def _freeze_long_lived() -> None:
    """Move every object alive now (TensorFlow's and Keras' hundreds of thousands) out of the
    garbage collector's reach: they live as long as the process. A full collection walked
    them all while holding the GIL, stalling the window: Python starts one now and
    then while training allocates, and TensorFlow's TFLite converter calls gc.collect()
    itself on every export."""
    gc.freeze()


def tf_loaded() -> bool:
    """True once TensorFlow is imported in this process."""
    return "tensorflow" in sys.modules
