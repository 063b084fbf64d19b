"""A model's files: loading a ``.keras`` file safely and writing a model directory
atomically (Qt-free; TensorFlow only inside the functions that need it).

A ``.keras`` file is checked before Keras reads it (:func:`check_keras_archive`: a regular
file, a zip archive, at most :data:`MAX_KERAS_BYTES` unpacked) and loaded with
``safe_mode=True``. :func:`write_model_dir` writes ``.keras`` + ``.tflite`` +
``meta.json`` into a hidden temporary folder, checks the export, and renames it into place.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
import re
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Any

from app import __version__
from app.core.errors import ModelError
from app.core.pendata import CLASSES
from app.core.safeio import TMP_PREFIX, atomic_write_json, human_bytes, open_regular, reason

log = logging.getLogger(__name__)

META_FILE = "meta.json"
KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
# The saved .tflite has int8 weights (app.core.export): its probabilities may differ from
# Keras' by a few hundredths (0.03 on the shipped model's probe, at most 0.048 over the
# MNIST test set); a broken conversion differs by far more.
EXPORT_TOLERANCE = 0.1
MAX_KERAS_BYTES = 256 << 20  # what a .keras file may unpack to (the largest built-in: a few MB)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a regular file (a FIFO or device is refused, never read)."""
    h = hashlib.sha256()
    with open_regular(path, ModelError, f"{path.parent.name}/{path.name}") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_keras_archive(path: Path, label: str | None = None) -> None:
    """Refuse, before Keras reads it, a ``.keras`` file that is not a regular file, not a
    zip archive, or would unpack to more than :data:`MAX_KERAS_BYTES`."""
    label = label or path.name
    with open_regular(path, ModelError, label) as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                members = zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
            raise ModelError(f"{label}: not a Keras model file (a .keras file is a zip archive; "
                             "this one is empty, truncated or something else).") from None
        except OSError as exc:
            raise ModelError(f"{label}: cannot read the model ({reason(exc)}).") from None
    if len(members) > 64:
        raise ModelError(f"{label}: holds {len(members)} files; a Keras model holds a few.")
    total = sum(m.file_size for m in members)
    if total > MAX_KERAS_BYTES:
        big = max(members, key=lambda m: m.file_size)
        raise ModelError(f"{label}: would unpack to {human_bytes(total)} ({big.filename}: "
                         f"{human_bytes(big.file_size)}); DigitPad loads models of at most "
                         f"{human_bytes(MAX_KERAS_BYTES)}.")


def load_keras_model(path: str | os.PathLike[str]) -> Any:
    """Load a ``.keras`` file with ``safe_mode=True`` (no Lambda or arbitrary code), after
    :func:`check_keras_archive`."""
    p = Path(path)
    check_keras_archive(p)
    from app.core.export import quiet_stdio
    from app.core.tf import import_keras

    keras = import_keras()
    try:
        with quiet_stdio():
            model = keras.models.load_model(p, compile=False, safe_mode=True)
    except Exception as exc:  # corrupt zip, unsafe layer, unknown class …
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            msg = "it contains code (a Lambda layer) that DigitPad refuses to run"
        elif "could not be deserialized" in str(exc) or "Could not locate" in str(exc):
            msg = "it uses layers or code that are not standard Keras (refused for safety)"
        raise ModelError(f"{p.name}: cannot load this Keras model: {msg[:300]}") from None
    check_model_shape(model, p.name)
    return model


def check_model_shape(model: Any, label: str) -> None:
    in_shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    out_shape = tuple(model.output_shape) if not isinstance(model.output_shape, list) else None
    if in_shape is None or in_shape[1:] not in ((28, 28), (28, 28, 1), (784,)):
        raise ModelError(f"{label}: the model takes input {in_shape}, not 28x28 images.")
    if out_shape is None or out_shape[1:] not in ((10,), (CLASSES,)):  # (+ "not a digit")
        raise ModelError(f"{label}: the model gives output {out_shape}, not 10 digit scores.")


def count_params(model: Any) -> int:
    return int(model.count_params())


def _free_name(dest: Path) -> Path:
    i = 2
    while (dest.parent / f"{dest.name}-{i}").exists():
        i += 1
    return dest.parent / f"{dest.name}-{i}"


def write_model_dir(model: Any, meta: dict[str, Any], dest: Path, rename_if_taken: bool = False) -> Path:
    """Write ``model`` (.keras + .tflite + meta.json) to the new directory ``dest``, atomically.

    Everything is written to a hidden sibling directory first and checked; ``dest`` appears
    only complete. ``dest`` must not exist yet, unless ``rename_if_taken``: then a name that
    is taken (even meanwhile, by another DigitPad sharing the store) becomes ``<name>-2``…
    instead of an error. Returns the directory written.
    """
    from app.core.export import quiet_stdio, tflite_bytes
    from app.core.inference import Predictor

    dest = Path(dest)
    if dest.exists():
        if not rename_if_taken:
            raise ModelError(f"A model named {dest.name!r} already exists.")
        dest = _free_name(dest)
    tmp = dest.parent / f"{TMP_PREFIX}{dest.name}-{uuid.uuid4().hex[:8]}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise ModelError(f"Could not save the model to {dest.parent}: {exc.strerror or exc}.") from None
    try:
        with quiet_stdio():
            model.save(tmp / KERAS_FILE)
        # The .tflite must load and agree with Keras before the entry may exist. Should
        # the int8 conversion ever fail or be too far off for a model, it gets the float
        # export.
        import numpy as np

        probe = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
        ref = np.asarray(model(probe.reshape((4, *tuple(model.input_shape[1:]))), training=False))
        for quantize, tolerance in ((True, EXPORT_TOLERANCE), (False, 1e-4)):
            try:
                data = tflite_bytes(model, quantize)
            except Exception:
                if not quantize:
                    raise
                log.warning("int8 export failed; saving the float export", exc_info=True)
                continue
            (tmp / TFLITE_FILE).write_bytes(data)
            lite = Predictor(tmp / TFLITE_FILE).outputs_batch(probe)
            if np.abs(lite - ref).max() <= tolerance:
                break
        else:
            raise ModelError("the exported .tflite does not agree with the Keras model")
        full = dict(meta)
        full.setdefault("name", dest.name)
        full.setdefault("created", _dt.datetime.now().astimezone().isoformat(timespec="seconds"))
        full["params"] = count_params(model)
        full["files"] = {"keras": KERAS_FILE, "tflite": TFLITE_FILE}
        full["sha256"] = {"keras": sha256_file(tmp / KERAS_FILE), "tflite": sha256_file(tmp / TFLITE_FILE)}
        full["format"] = 1
        full["digitpad_version"] = __version__
        atomic_write_json(tmp / META_FILE, full)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        while True:
            try:
                os.rename(tmp, dest)
                break
            except OSError:
                if not (rename_if_taken and dest.exists()):
                    raise
                dest = _free_name(dest)  # another instance took the name while we exported
                if "name" not in meta:
                    full["name"] = dest.name
                    atomic_write_json(tmp / META_FILE, full)
    except OSError as exc:
        raise ModelError(f"Could not save the model to {dest.parent}: {exc.strerror or exc}.") from None
    except ModelError:
        raise
    except Exception as exc:  # TensorFlow's own I/O errors (tf.errors.OpError: disk full …)
        raise ModelError(f"Could not save the model to {dest.parent}: {_short_reason(exc)}.") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _short_reason(exc: BaseException) -> str:
    """The gist of an error: TensorFlow's "{{function_node …}} /tmp/…; File too large [Op:SaveV2]"
    becomes "File too large"."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    text = re.sub(r"\s*\[Op:[^\]]*\]\s*$", "", text).rsplit("; ", 1)[-1].strip()
    return text[:200] or type(exc).__name__


