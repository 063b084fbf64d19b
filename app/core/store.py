"""The model store: the shipped default model plus the user's own models.

Layout of one model (a directory)::

    <name>/model.keras     the Keras model (loaded with safe_mode=True)
    <name>/model.tflite    the same network for LiteRT (live prediction)
    <name>/meta.json       metadata: architecture, parameters, settings, accuracy, date …

The shipped default lives in ``model_store/default`` (read-only, inside the source tree,
wheel or bundle); user models live in ``<user_home>/models``. The active model's name is
kept in ``<user_home>/store.json``.

Saves are atomic: a model is written into a hidden temporary directory next to its final
place, checked (the ``.tflite`` must load and agree with the Keras model), and only then
renamed into place. A half-written or corrupt entry never replaces a good one; a broken
entry is reported in :attr:`ModelStore.problems` and skipped. ``meta.json`` records the
SHA-256 of both files; a file that no longer matches is refused before LiteRT or Keras
reads it (a corrupt ``.tflite`` can crash LiteRT instead of raising an error).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import __version__
from app.core import paths
from app.core.errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
META_FILE = "meta.json"
KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"
# The saved .tflite has int8 weights (app.core.export): its probabilities may differ from
# Keras' by a few hundredths (0.03 on the shipped model's probe, at most 0.048 over the
# MNIST test set); a broken conversion differs by far more.
EXPORT_TOLERANCE = 0.1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,63}$")
_TMP_PREFIX = ".tmp-"


def valid_name(name: str) -> bool:
    return bool(_NAME_RE.match(name)) and name not in (".", "..") and not name.endswith(".")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8"))


@dataclass
class ModelEntry:
    """One model in the store."""

    name: str
    path: Path
    meta: dict[str, Any]
    builtin: bool = False

    def _file(self, key: str, default: str) -> Path:
        files = self.meta.get("files") or {}
        rel = files.get(key, default) if isinstance(files, dict) else default
        return _confined(self.path, rel)

    @property
    def keras_path(self) -> Path:
        return self._file("keras", KERAS_FILE)

    @property
    def tflite_path(self) -> Path:
        return self._file("tflite", TFLITE_FILE)

    @property
    def arch(self) -> str:
        return str(self.meta.get("arch", "?"))

    @property
    def test_accuracy(self) -> float | None:
        acc = self.meta.get("test_accuracy")
        return float(acc) if isinstance(acc, (int, float)) else None

    @property
    def created(self) -> str:
        return str(self.meta.get("created", ""))

    @property
    def title(self) -> str:
        return str(self.meta.get("title") or self.name)

    def checksum(self, key: str) -> str | None:
        """The SHA-256 recorded for file ``key`` ("keras"/"tflite") when saved (None for
        models saved before checksums were kept)."""
        sums = self.meta.get("sha256")
        value = sums.get(key) if isinstance(sums, dict) else None
        return value.lower() if isinstance(value, str) and _SHA256_RE.match(value) else None

    def predictor(self, num_threads: int = 1) -> Any:
        from app.core.inference import Predictor

        return Predictor(self.tflite_path, num_threads=num_threads, name=self.name,
                         sha256=self.checksum("tflite"))

    def load_keras(self) -> Any:
        path, expected = self.keras_path, self.checksum("keras")
        if expected is not None:
            try:
                actual = _sha256_file(path)
            except OSError as exc:
                raise ModelError(f"{self.name}/{path.name}: cannot read the model "
                                 f"({exc.strerror or exc}).") from None
            if actual != expected:
                raise ModelError(f"{self.name}/{path.name}: the model file is corrupt "
                                 "(it changed since it was saved).")
        return load_keras_model(path)


_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _confined(base: Path, rel: object) -> Path:
    """``base / rel``, refusing anything that escapes ``base`` (``../``, absolute paths,
    symlinks pointing outside: the path is resolved before the check)."""
    if (not isinstance(rel, str) or not rel or rel.startswith(("/", "\\")) or ":" in rel
            or "\0" in rel):
        raise ModelError(f"{base.name}: metadata names an invalid file {rel!r}.")
    target = (base / rel).resolve()
    if base.resolve() not in target.parents:
        raise ModelError(f"{base.name}: metadata names a file outside the model folder ({rel!r}).")
    return target


def load_keras_model(path: str | os.PathLike[str]) -> Any:
    """Load a ``.keras`` file with ``safe_mode=True`` (no Lambda or arbitrary code)."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: no such model file.")
    import zipfile

    try:
        is_zip = zipfile.is_zipfile(p)
    except OSError as exc:
        raise ModelError(f"{p.name}: cannot read the model ({exc.strerror or exc}).") from None
    if not is_zip:  # Keras would say "File not found"
        raise ModelError(f"{p.name}: not a Keras model file (a .keras file is a zip archive; "
                         "this one is empty, truncated or something else).")
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
    if out_shape is None or out_shape[1:] != (10,):
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
    tmp = dest.parent / f"{_TMP_PREFIX}{dest.name}-{uuid.uuid4().hex[:8]}"
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
            lite = Predictor(tmp / TFLITE_FILE).predict_batch(probe)
            if np.abs(lite - ref).max() <= tolerance:
                break
        else:
            raise ModelError("the exported .tflite does not agree with the Keras model")
        full = dict(meta)
        full.setdefault("name", dest.name)
        full.setdefault("created", _dt.datetime.now().astimezone().isoformat(timespec="seconds"))
        full["params"] = count_params(model)
        full["files"] = {"keras": KERAS_FILE, "tflite": TFLITE_FILE}
        full["sha256"] = {"keras": _sha256_file(tmp / KERAS_FILE), "tflite": _sha256_file(tmp / TFLITE_FILE)}
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


@dataclass
class ModelStore:
    """The shipped default model and the user's models, with the active choice."""

    home: Path = field(default_factory=paths.user_home)
    bundled_dir: Path = field(default_factory=paths.bundled_store_dir)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home = Path(self.home)
        self.bundled_dir = Path(self.bundled_dir)
        self._entries: dict[str, ModelEntry] = {}
        self.refresh()

    # -- scanning ---------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def _settings_path(self) -> Path:
        return self.home / "store.json"

    def refresh(self) -> None:
        """Re-read the store from disk; broken entries go to :attr:`problems`."""
        self.problems = []
        entries: dict[str, ModelEntry] = {}
        default = self.bundled_dir / DEFAULT_MODEL
        entry = self._read_entry(default, builtin=True)
        if entry is not None:
            entries[entry.name] = entry
        if self.models_dir.is_dir():
            try:
                children = sorted(self.models_dir.iterdir())
            except OSError as exc:
                self.problems.append(f"Cannot read {self.models_dir}: {exc.strerror or exc}.")
                children = []
            for child in children:
                if child.name.startswith(".") or not child.is_dir():
                    continue
                if child.name in entries:
                    self.problems.append(f"{child.name}: name clashes with the shipped model; skipped.")
                    continue
                entry = self._read_entry(child, builtin=False)
                if entry is not None:
                    entries[entry.name] = entry
        self._entries = entries

    def _read_entry(self, path: Path, builtin: bool) -> ModelEntry | None:
        meta_path = path / META_FILE
        try:
            raw = meta_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.problems.append(f"{path.name}: no {META_FILE}; skipped.")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{path.name}: cannot read {META_FILE} ({exc}); skipped.")
            return None
        try:
            meta = json.loads(raw)
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except (ValueError, RecursionError) as exc:
            self.problems.append(f"{path.name}: {META_FILE} is malformed ({exc}); skipped.")
            return None
        entry = ModelEntry(name=path.name, path=path, meta=meta, builtin=builtin)
        try:
            for p in (entry.tflite_path, entry.keras_path):
                if not p.is_file() or p.stat().st_size == 0:
                    raise ModelError(f"{path.name}: {p.name} is missing or empty.")
        except ModelError as exc:
            self.problems.append(f"{exc} Skipped.")
            return None
        return entry

    # -- queries ----------------------------------------------------------
    def entries(self) -> list[ModelEntry]:
        """Valid models: the shipped default first, then user models by date."""
        items = list(self._entries.values())
        return sorted(items, key=lambda e: (not e.builtin, e.created, e.name))

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise ModelError(f"No model named {name!r} in the store.") from None

    def _settings(self) -> dict[str, Any]:
        try:
            data = json.loads(self._settings_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError, RecursionError):
            return {}

    def active_name(self) -> str:
        """The chosen model if it is usable, else the default (or any usable model)."""
        name = self._settings().get("active_model")
        if isinstance(name, str) and name in self._entries:
            return name
        if DEFAULT_MODEL in self._entries:
            return DEFAULT_MODEL
        if self._entries:
            return self.entries()[0].name
        raise ModelError("The model store has no usable model. " + " ".join(self.problems))

    def active(self) -> ModelEntry:
        return self._entries[self.active_name()]

    # -- changes ----------------------------------------------------------
    def set_active(self, name: str) -> None:
        self.get(name)
        settings = self._settings()
        settings["active_model"] = name
        try:
            atomic_write_json(self._settings_path, settings)
        except OSError as exc:
            raise ModelError(f"Cannot save the active model choice in {self.home}: "
                             f"{exc.strerror or exc}.") from None

    def unique_name(self, stem: str) -> str:
        stem = re.sub(r"[^A-Za-z0-9._()+-]+", "-", stem).strip("-.") or "model"
        stem = stem[:48]
        name, i = stem, 2
        while name in self._entries or (self.models_dir / name).exists():
            name = f"{stem}-{i}"
            i += 1
        return name

    def save(self, model: Any, meta: dict[str, Any], name: str | None = None,
             activate: bool = False) -> ModelEntry:
        """Save a Keras model as a new user model (atomically) and return its entry."""
        auto = name is None
        if name is None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            name = self.unique_name(f"{meta.get('arch', 'model')}-{stamp}")
        if not valid_name(name):
            raise ModelError(f"{name!r} is not a valid model name (letters, digits, . _ - ( ) +).")
        if name in self._entries:
            raise ModelError(f"A model named {name!r} already exists.")
        name = write_model_dir(model, meta, self.models_dir / name, rename_if_taken=auto).name
        self.refresh()
        if activate:
            self.set_active(name)
        return self.get(name)

    def import_keras(self, path: str | os.PathLike[str], name: str | None = None,
                     activate: bool = False) -> ModelEntry:
        """Load a user's ``.keras`` file (safe_mode), export it and add it to the store."""
        src = Path(path)
        model = load_keras_model(src)
        meta = {"arch": "imported", "title": src.stem, "source": src.name}
        return self.save(model, meta, name or self.unique_name(src.stem), activate=activate)

    def rename(self, old: str, new: str) -> ModelEntry:
        entry = self.get(old)
        if entry.builtin:
            raise ModelError("The shipped default model cannot be renamed.")
        if not valid_name(new):
            raise ModelError(f"{new!r} is not a valid model name (letters, digits, . _ - ( ) +).")
        if new in self._entries or (self.models_dir / new).exists():
            raise ModelError(f"A model named {new!r} already exists.")
        was_active = self.active_name() == old
        try:
            os.rename(entry.path, self.models_dir / new)
        except OSError as exc:
            raise ModelError(f"Cannot rename {old!r}: {exc.strerror or exc}.") from None
        self.refresh()
        meta = dict(self.get(new).meta)
        meta["name"] = new
        with contextlib.suppress(OSError):  # the directory name is what counts
            atomic_write_json(self.models_dir / new / META_FILE, meta)
        self.refresh()
        if was_active:
            self.set_active(new)
        return self.get(new)

    def delete(self, name: str) -> None:
        entry = self.get(name)
        if entry.builtin:
            raise ModelError("The shipped default model cannot be deleted.")
        was_active = self.active_name() == name
        trash = entry.path.parent / f"{_TMP_PREFIX}deleted-{name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(entry.path, trash)  # atomic: the entry vanishes at once
        except OSError as exc:
            raise ModelError(f"Cannot delete {name!r}: {exc.strerror or exc}.") from None
        shutil.rmtree(trash, ignore_errors=True)
        self.refresh()
        if was_active and DEFAULT_MODEL in self._entries:
            self.set_active(DEFAULT_MODEL)

    def export(self, name: str, dest: str | os.PathLike[str]) -> Path:
        """Copy a model's ``.keras`` or ``.tflite`` (by the destination's suffix) to ``dest``."""
        entry = self.get(name)
        out = Path(dest)
        suffix = out.suffix.lower()
        if suffix == ".keras":
            src = entry.keras_path
        elif suffix == ".tflite":
            src = entry.tflite_path
        else:
            raise ModelError(f"{out.name}: export as .keras or .tflite.")
        try:
            atomic_write_bytes(out, src.read_bytes())
        except OSError as exc:
            raise ModelError(f"Cannot write {out}: {exc.strerror or exc}.") from None
        return out

    def cleanup_temporaries(self, older_than: float = 3600.0) -> list[str]:
        """Remove leftovers of interrupted saves (hidden ``.tmp-*`` entries).

        Only leftovers older than ``older_than`` seconds go: another DigitPad sharing this
        store may be writing a fresh one right now.
        """
        import time

        removed: list[str] = []
        if not self.models_dir.is_dir():
            return removed
        now = time.time()
        for child in self.models_dir.iterdir():
            if not child.name.startswith(_TMP_PREFIX):
                continue
            try:
                if now - child.stat().st_mtime < older_than:
                    continue
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
                removed.append(child.name)
            except OSError:
                continue
        return removed
