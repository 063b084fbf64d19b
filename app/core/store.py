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
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core import paths
from app.core.errors import ModelError
from app.core.model_files import (
    EXPORT_TOLERANCE,
    KERAS_FILE,
    META_FILE,
    TFLITE_FILE,
    check_keras_archive,
    check_model_shape,
    count_params,
    load_keras_model,
    sha256_file,
    write_model_dir,
)
from app.core.models import short_title
from app.core.safeio import (
    TMP_PREFIX,
    atomic_write_bytes,
    atomic_write_json,
    locked,
    read_capped,
    reason,
    remove_stale_temporaries,
    set_aside,
)

__all__ = [  # the model files' helpers are used through the store too
    "DEFAULT_MODEL", "EXPORT_TOLERANCE", "KERAS_FILE", "META_FILE", "TFLITE_FILE", "ModelEntry",
    "ModelStore", "atomic_write_bytes", "atomic_write_json", "check_keras_archive",
    "check_model_shape", "count_params", "load_keras_model", "valid_name", "write_model_dir",
]

DEFAULT_MODEL = "default"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+%·-]{0,63}$")
NAME_RULE = "letters, digits, spaces and . _ - ( ) + % ·, at most 64"
STALE_SECONDS = 3600.0  # hidden leftovers older than this are removed (never a save in progress)
MAX_JSON_BYTES = 4 << 20  # store.json and meta.json hold a few kB


def valid_name(name: str) -> bool:
    return bool(_NAME_RE.match(name)) and name not in (".", "..") and not name.endswith(".")


def readable_name(meta: dict[str, Any]) -> str:
    """A name a person can read, from a model's metadata: "Fast convnet · 3 ep · 99.04 %"
    (the architecture's title, the epochs trained, the MNIST test accuracy)."""
    title = str(meta.get("title") or meta.get("arch") or "model")
    title = short_title(title)  # "Fast convnet (default)" -> "Fast convnet"
    title = re.sub(r"[^A-Za-z0-9 ._()+-]+", " ", title).strip(" .-") or "model"
    parts = [title[:36]]
    training = meta.get("training")
    epochs = training.get("epochs") if isinstance(training, dict) else None
    if isinstance(epochs, int) and epochs > 0:
        parts.append(f"{epochs} ep")
    acc = meta.get("test_accuracy")
    if isinstance(acc, (int, float)) and 0.0 <= acc <= 1.0:
        parts.append(f"{acc * 100:.2f} %")
    return " · ".join(parts)


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
        from app.core.verdict import calibration_of, doubt_of

        return Predictor(self.tflite_path, num_threads=num_threads, name=self.name,
                         sha256=self.checksum("tflite")).calibrated(*calibration_of(self.meta),
                                                                    doubt=doubt_of(self.meta))

    def load_keras(self) -> Any:
        path, expected = self.keras_path, self.checksum("keras")
        if expected is not None:
            try:
                actual = sha256_file(path)
            except OSError as exc:
                raise ModelError(f"{self.name}/{path.name}: cannot read the model "
                                 f"({exc.strerror or exc}).") from None
            if actual != expected:
                raise ModelError(f"{self.name}/{path.name}: the model file is corrupt "
                                 "(it changed since it was saved).")
        return load_keras_model(path)


_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


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


@dataclass
class ModelStore:
    """The shipped default model and the user's models, with the active choice.

    Every read-modify-write (the active choice, a rename, a delete, a save's final
    rename) happens under the home folder's lock (:func:`app.core.safeio.locked`), so
    DigitPads sharing a folder never undo each other's changes.
    """

    home: Path = field(default_factory=paths.user_home)
    bundled_dir: Path = field(default_factory=paths.bundled_store_dir)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home = Path(self.home)
        self.bundled_dir = Path(self.bundled_dir)
        self._entries: dict[str, ModelEntry] = {}
        self._set_aside: list[str] = []  # damaged files this store moved aside (stay in problems)
        self.cleanup_temporaries()
        self.refresh()

    # -- scanning ---------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def _settings_path(self) -> Path:
        return self.home / "store.json"

    def _locked(self) -> Any:
        return locked(self.home, ModelError)

    def refresh(self) -> None:
        """Re-read the store from disk; broken entries go to :attr:`problems`, as does a
        chosen active model that is no longer usable (the default takes its place)."""
        self.problems = list(self._set_aside)
        entries: dict[str, ModelEntry] = {}
        default = self.bundled_dir / DEFAULT_MODEL
        entry = self._read_entry(default, builtin=True)
        if entry is not None:
            entries[entry.name] = entry
        try:
            children = sorted(self.models_dir.iterdir()) if self.models_dir.is_dir() else []
        except OSError as exc:
            self.problems.append(f"Cannot read {self.models_dir}: {reason(exc)}.")
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
        settings, damage = self._read_settings()
        if damage is not None:
            where = self._set_aside_settings()
            if where is None:  # replaced meanwhile by another DigitPad
                settings = self._settings()
            else:
                used = f" {self.active_name()!r} is used." if entries else ""
                self._set_aside.append(f"The active model choice could not be read: {damage}.{where}{used}")
                self.problems.append(self._set_aside[-1])
        chosen = settings.get("active_model")
        if chosen is not None and chosen not in entries and entries:
            fallback = self.active_name()
            shown = repr(chosen) if isinstance(chosen, str) else "saved in store.json"
            self.problems.append(f"The active model {shown} is missing or unusable; "
                                 f"{fallback!r} is used instead.")

    def _read_entry(self, path: Path, builtin: bool) -> ModelEntry | None:
        meta_path = path / META_FILE
        try:
            raw = read_capped(meta_path, MAX_JSON_BYTES, ModelError, META_FILE).decode(
                "utf-8") if meta_path.is_file() else None
        except (OSError, UnicodeDecodeError, ModelError) as exc:
            self.problems.append(f"{path.name}: cannot read {META_FILE} ({exc}); skipped.")
            return None
        if raw is None:
            self.problems.append(f"{path.name}: no {META_FILE}; skipped.")
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
                    raise ModelError(f"{path.name}: {p.name} is missing, empty or not a file.")
        except (ModelError, OSError) as exc:
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
        return self._read_settings()[0]

    def _read_settings(self) -> tuple[dict[str, Any], str | None]:
        """store.json's object, and why it is unusable when it is there but damaged (a FIFO,
        a device, too large, not a JSON object): never blocks, never reads without bound."""
        path = self._settings_path
        if not os.path.lexists(path):
            return {}, None
        try:
            data = json.loads(read_capped(path, MAX_JSON_BYTES, ModelError, path.name))
        except ModelError as exc:
            return {}, str(exc).rstrip(".")
        except (ValueError, RecursionError):
            return {}, f"{path.name} is not valid JSON"
        return (data, None) if isinstance(data, dict) else ({}, f"{path.name} is not a JSON object")

    def _set_aside_settings(self) -> str | None:
        """Move a damaged store.json aside, under the lock and if still damaged (another
        DigitPad may have just replaced it: None). Returns where it went, for a message."""
        try:
            with self._locked():
                if self._read_settings()[1] is None:
                    return None
                return f" It was moved to {set_aside(self._settings_path).name}."
        except (OSError, ModelError):
            return ""

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
        with self._locked():
            settings = self._settings()
            settings["active_model"] = name
            try:
                atomic_write_json(self._settings_path, settings)
            except OSError as exc:
                raise ModelError(f"Cannot save the active model choice in {self.home}: "
                                 f"{reason(exc)}.") from None

    def check_writable(self) -> None:
        """Raise :class:`ModelError` now if a model could not be saved here (a read-only
        or missing folder), so that nobody trains for minutes to find out at the end."""
        with self._locked():
            try:
                self.models_dir.mkdir(parents=True, exist_ok=True)
                probe = self.models_dir / f"{TMP_PREFIX}probe-{uuid.uuid4().hex[:8]}"
                probe.mkdir()
                probe.rmdir()
            except OSError as exc:
                raise ModelError(f"Models cannot be saved in {self.models_dir}: {reason(exc)}.") from None

    def unique_name(self, stem: str) -> str:
        stem = re.sub(r"[^A-Za-z0-9._()+-]+", "-", stem).strip("-.") or "model"
        stem = stem[:48]
        name, i = stem, 2
        while name in self._entries or (self.models_dir / name).exists():
            name = f"{stem}-{i}"
            i += 1
        return name

    def free_name(self, name: str) -> str:
        """``name``, or ``name (2)``, ``name (3)``… if a model has it already."""
        candidate, i = name, 2
        while candidate in self._entries or (self.models_dir / candidate).exists():
            candidate = f"{name} ({i})"
            i += 1
        return candidate

    def save(self, model: Any, meta: dict[str, Any], name: str | None = None,
             activate: bool = False, if_taken: str = "rename") -> ModelEntry:
        """Save a Keras model as a new user model (atomically) and return its entry.

        A name that is taken — already, or meanwhile by another DigitPad sharing the store —
        becomes ``<name>-2``… (``if_taken="error"`` refuses it instead).
        """
        if name is None:
            name = self.free_name(readable_name(meta))
        if not valid_name(name):
            raise ModelError(f"{name!r} is not a valid model name ({NAME_RULE}).")
        rename = if_taken != "error"
        if name in self._entries:
            if not rename:
                raise ModelError(f"A model named {name!r} already exists.")
            name = self.unique_name(name)
        name = write_model_dir(model, meta, self.models_dir / name, rename_if_taken=rename).name
        self.refresh()
        if activate:
            self.set_active(name)
        self.cleanup_temporaries()
        return self.get(name)

    def import_keras(self, path: str | os.PathLike[str], name: str | None = None,
                     activate: bool = False) -> ModelEntry:
        """Load a user's ``.keras`` file (safe_mode), export it and add it to the store."""
        src = Path(path)
        model = load_keras_model(src)
        meta = {"arch": "imported", "title": src.stem, "source": src.name}
        from app.core.doubt import doubt_calibration

        meta.update(doubt_calibration(model))
        if name is None:
            return self.save(model, meta, self.unique_name(src.stem), activate=activate)
        return self.save(model, meta, name, activate=activate, if_taken="error")

    def rename(self, old: str, new: str) -> ModelEntry:
        if self.get(old).builtin:
            raise ModelError("The shipped default model cannot be renamed.")
        if not valid_name(new):
            raise ModelError(f"{new!r} is not a valid model name ({NAME_RULE}).")
        with self._locked():
            self.refresh()
            entry = self.get(old)
            if new in self._entries or (self.models_dir / new).exists():
                raise ModelError(f"A model named {new!r} already exists.")
            was_active = self.active_name() == old
            try:
                os.rename(entry.path, self.models_dir / new)
            except OSError as exc:
                raise ModelError(f"Cannot rename {old!r}: {reason(exc)}.") from None
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
        if self.get(name).builtin:
            raise ModelError("The shipped default model cannot be deleted.")
        with self._locked():
            self.refresh()
            entry = self.get(name)
            was_active = self.active_name() == name
            trash = entry.path.parent / f"{TMP_PREFIX}deleted-{name}-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(entry.path, trash)  # atomic: the entry vanishes at once
            except OSError as exc:
                raise ModelError(f"Cannot delete {name!r}: {reason(exc)}.") from None
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
            raise ModelError(f"Cannot write {out}: {reason(exc)}.") from None
        return out

    def cleanup_temporaries(self, older_than: float = STALE_SECONDS) -> list[str]:
        """Remove leftovers of interrupted saves (hidden ``.tmp-*`` entries in the models,
        samples and home folders); runs when the store is opened and after each save.

        Only leftovers older than ``older_than`` seconds go: another DigitPad sharing this
        store may be writing a fresh one right now.
        """
        removed: list[str] = []
        for folder in (self.models_dir, self.home / "samples", self.home):
            removed += remove_stale_temporaries(folder, older_than)
        return removed
