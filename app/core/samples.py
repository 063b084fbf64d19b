"""Personal samples: the user's own drawings, labelled by correcting the model (Qt-free).

When the model misreads a drawing and the user presses the right digit, the drawing is
kept here as a labelled sample: the 28x28 preprocessed input (what the model sees) plus
the vector strokes it was drawn with. Fine-tuning (:mod:`app.core.finetune`) learns from
them.

Layout in ``<user_home>/samples/``: one file, ``samples.npz``, holding ``x`` (N, 28, 28)
uint8, ``y`` (N,) uint8, ``ids`` (N,) int64 and ``records`` (UTF-8 JSON as uint8: each
sample's strokes and date), so a drawing's image, label and strokes are always written
together (temp file + rename). Earlier versions kept the strokes in a separate
``strokes.json``; such a set is rewritten as one file the first time it is opened.

Every change re-reads the file and writes it back under the folder's lock
(:func:`app.core.safeio.locked`), so two DigitPads on one folder lose nothing. Files are
read by :func:`app.core.safeio.read_npz`: headers and sizes are checked before any data is
inflated, and nothing is ever unpickled. Import and export use Keras' MNIST layout
(``x_train``/``y_train``, or ``x``/``y``), so a sample set can be shared or inspected with
plain NumPy.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core import paths
from app.core.errors import DatasetError
from app.core.safeio import ArrayInfo, atomic_write_bytes, locked, read_capped, read_npz, reason, set_aside

SAMPLES_FILE = "samples.npz"
STROKES_FILE = "strokes.json"
MAX_IMPORT = 20000  # a personal sample set, not a dataset: refuse bigger imports
MAX_STORED = 100000  # the most a sample file may hold (drawings added one by one beyond imports)
_MAX_IMPORT_BYTES = MAX_IMPORT * 784 * 8  # float64 images of the largest import
_MAX_RECORDS_BYTES = 128 << 20  # the strokes of every drawing, as JSON

# A stroke: points in 0..1 pad coordinates (x right, y down) and a width (pad fraction).
StrokeData = tuple[Sequence[tuple[float, float]], float]


@dataclass(frozen=True)
class Sample:
    """One labelled drawing."""

    id: int
    label: int
    image: np.ndarray  # (28, 28) uint8, ink = 255
    strokes: tuple[StrokeData, ...] | None = None
    created: str = ""


def to_uint8(x: np.ndarray) -> np.ndarray:
    """A preprocessed (28, 28) float image in [0, 1] (or uint8) as uint8 0..255."""
    a = np.asarray(x)
    if a.size != 784:
        raise ValueError(f"expected a 28x28 image, got shape {a.shape}")
    a = a.reshape(28, 28)
    if a.dtype == np.uint8:
        return a.copy()
    return np.clip(np.rint(a.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def _check_label(label: object) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= int(label) <= 9:
        raise DatasetError(f"A sample's label must be a digit 0–9, not {label!r}.")
    return int(label)


def _strokes_to_json(strokes: Iterable[StrokeData] | None) -> list[dict[str, Any]] | None:
    if strokes is None:
        return None
    out = []
    for points, width in strokes:
        out.append({"w": round(float(width), 5),
                    "p": [[round(float(x), 4), round(float(y), 4)] for x, y in points]})
    return out


def _strokes_from_json(raw: object) -> tuple[StrokeData, ...] | None:
    if not isinstance(raw, list):
        return None
    out: list[StrokeData] = []
    try:
        for s in raw:
            pts = tuple((float(p[0]), float(p[1])) for p in s["p"])
            out.append((pts, float(s["w"])))
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    return tuple(out)


def _npz_bytes(arrays: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    savez: Any = np.savez_compressed  # (its stub types every keyword as allow_pickle's bool)
    savez(buf, **arrays)
    return buf.getvalue()


def _records_array(records: dict[str, Any]) -> np.ndarray:
    data = json.dumps({"format": 2, "samples": records}, separators=(",", ":")).encode("utf-8")
    return np.frombuffer(data, dtype=np.uint8)


def _records_from(raw: bytes, name: str) -> dict[str, dict[str, Any]]:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DatasetError(f"{name}: the drawings' strokes are unreadable ({str(exc)[:100]}).") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("samples"), dict):
        raise DatasetError(f"{name}: the drawings' strokes are not in the expected layout.")
    return {str(k): v for k, v in obj["samples"].items() if isinstance(v, dict)}


def _images_labels(x: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert imported images/labels to uint8 (N, 28, 28) / (N,)."""
    if x.dtype == object or y.dtype == object:
        raise DatasetError(f"{name}: the arrays must hold numbers.")
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 28, 28)
    if x.ndim == 4 and x.shape[1:] == (28, 28, 1):
        x = x.reshape(-1, 28, 28)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DatasetError(f"{name}: the images have shape {x.shape}, expected (N, 28, 28).")
    if y.ndim == 2 and y.shape[1] == 10 and len(y) == len(x):  # one-hot labels
        y = np.argmax(y, axis=1)
    if y.ndim != 1 or len(y) != len(x):
        raise DatasetError(f"{name}: {len(x)} images but labels of shape {y.shape} "
                           "(expected one label per image).")
    if len(x) == 0:
        raise DatasetError(f"{name} holds no images.")
    if len(x) > MAX_IMPORT:
        raise DatasetError(f"{name} holds {len(x)} images; personal samples are limited to {MAX_IMPORT}.")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DatasetError(f"{name}: the labels must be whole numbers 0–9.")
    elif not np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        raise DatasetError(f"{name}: the labels have type {y.dtype}, expected integers 0–9.")
    if int(y.min()) < 0 or int(y.max()) > 9:
        raise DatasetError(f"{name}: labels range {int(y.min())}..{int(y.max())}, expected 0–9.")
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)):
            raise DatasetError(f"{name}: the images contain NaN or infinite values.")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 255.0:
            raise DatasetError(f"{name}: pixel values {lo:g}..{hi:g}, expected 0..1 or 0..255.")
        scale = 255.0 if hi <= 1.0 else 1.0
        xu = np.clip(np.rint(x * scale), 0, 255).astype(np.uint8)
    elif np.issubdtype(x.dtype, np.integer) and x.dtype != np.bool_:
        if int(x.min()) < 0 or int(x.max()) > 255:
            raise DatasetError(f"{name}: pixel values {int(x.min())}..{int(x.max())}, expected 0..255.")
        xu = x.astype(np.uint8)
    else:
        raise DatasetError(f"{name}: the images have type {x.dtype}, expected numbers.")
    return np.ascontiguousarray(xu), y.astype(np.uint8)


def _check_import_headers(name: str) -> Any:
    def check(infos: dict[str, ArrayInfo]) -> None:
        for key in ("x_train", "x_test", "x"):
            info = infos.get(key)
            if info is not None and info.shape and info.shape[0] > MAX_IMPORT:
                raise DatasetError(f"{name} holds {info.shape[0]} images in {key!r}; personal samples "
                                   f"are limited to {MAX_IMPORT}.")
    return check


def load_sample_npz(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of an .npz in Keras layout (``x_train``/``y_train`` [+ ``x_test``/
    ``y_test``]) or ``x``/``y``; uint8 (N, 28, 28) and (N,). Never unpickles; arrays too
    large for a personal sample set are refused from their headers, before reading."""
    p = Path(path)
    arrays = read_npz(p, DatasetError, max_array_bytes=_MAX_IMPORT_BYTES, label=p.name,
                      keys=("x_train", "y_train", "x_test", "y_test", "x", "y"),
                      check=_check_import_headers(p.name))
    pairs = [("x_train", "y_train"), ("x_test", "y_test")]
    found = [(xk, yk) for xk, yk in pairs if xk in arrays and yk in arrays]
    if not found and "x" in arrays and "y" in arrays:
        found = [("x", "y")]
    if not found:
        keys = ", ".join(sorted(arrays)) or "none"
        raise DatasetError(f"{p.name}: expected arrays x_train/y_train (Keras' MNIST layout) or x/y; "
                           f"found {keys}.")
    xs, ys = [], []
    for xk, yk in found:
        x, y = _images_labels(arrays[xk], arrays[yk], f"{p.name} ({xk}/{yk})")
        xs.append(x)
        ys.append(y)
    x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    if len(x_all) > MAX_IMPORT:
        raise DatasetError(f"{p.name} holds {len(x_all)} images; personal samples are limited to "
                           f"{MAX_IMPORT}.")
    return x_all, y_all


def _check_own_headers(infos: dict[str, ArrayInfo]) -> None:
    x = infos.get("x")
    if x is not None and (x.dtype != np.uint8 or len(x.shape) != 3 or x.shape[1:] != (28, 28)):
        raise DatasetError(f"{SAMPLES_FILE}: the images have {x.describe()}, expected (N, 28, 28) uint8.")
    for key in ("x", "y", "ids"):
        info = infos.get(key)
        if info is not None and (not info.shape or info.shape[0] > MAX_STORED):
            raise DatasetError(f"{SAMPLES_FILE}: {key!r} has {info.describe()}; a sample set holds at "
                               f"most {MAX_STORED} samples.")


class SampleStore:
    """The user's labelled drawings in ``<home>/samples``. Every change is saved at once,
    under the folder's lock, after re-reading what another DigitPad may have saved."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = Path(home) if home is not None else paths.user_home()
        self.problems: list[str] = []
        self._x = np.zeros((0, 28, 28), np.uint8)
        self._y = np.zeros((0,), np.uint8)
        self._ids = np.zeros((0,), np.int64)
        self._extra: dict[str, dict[str, Any]] = {}
        self._legacy = False  # strokes still in the separate strokes.json of earlier versions
        self.reload()
        if self._legacy:
            self._migrate()

    # -- files -------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return self.home / "samples"

    @property
    def samples_path(self) -> Path:
        return self.folder / SAMPLES_FILE

    @property
    def strokes_path(self) -> Path:
        return self.folder / STROKES_FILE

    def _locked(self) -> Any:
        return locked(self.folder, DatasetError)

    def reload(self) -> None:
        """Re-read the samples from disk. A damaged file is moved aside (kept) and reported."""
        self.problems = []
        try:
            self._x, self._y, self._ids, self._extra, self._legacy = self._read()
        except DatasetError as exc:
            self._set_aside(str(exc))

    def _read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, dict[str, Any]], bool]:
        empty = (np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.uint8), np.zeros((0,), np.int64))
        try:
            present = self.samples_path.exists() or self.samples_path.is_symlink()
        except OSError as exc:
            self.problems.append(f"Cannot read {self.folder}: {reason(exc)}.")
            return (*empty, {}, False)
        if not present:
            return (*empty, {}, False)
        arrays = read_npz(self.samples_path, DatasetError, max_array_bytes=_MAX_RECORDS_BYTES,
                          label=SAMPLES_FILE, check=_check_own_headers)
        x, y, ids = self._validate_own(arrays)
        if "records" in arrays:
            return x, y, ids, _records_from(arrays["records"].tobytes(), SAMPLES_FILE), False
        return x, y, ids, self._legacy_strokes(), True

    def _legacy_strokes(self) -> dict[str, dict[str, Any]]:
        """The strokes of a sample set saved by an earlier version (a separate strokes.json)."""
        try:
            raw = read_capped(self.strokes_path, _MAX_RECORDS_BYTES, DatasetError, STROKES_FILE)
            return _records_from(raw, STROKES_FILE)
        except DatasetError as exc:
            if self.strokes_path.exists():
                self.problems.append(f"{exc} The samples are kept without their strokes.")
            return {}

    def _migrate(self) -> None:
        """Rewrite an earlier version's sample set as one file (images, labels and strokes
        together); where the folder cannot be written it is read as it is."""
        with contextlib.suppress(DatasetError), self._locked():
            self.reload()
            if self._legacy and len(self._ids):
                self._save()

    def _validate_own(self, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        try:
            x, y, ids = arrays["x"], arrays["y"], arrays["ids"]
        except KeyError as exc:
            raise DatasetError(f"{SAMPLES_FILE} lacks the array {exc}.") from None
        ok = (x.dtype == np.uint8 and x.ndim == 3 and x.shape[1:] == (28, 28)
              and y.dtype == np.uint8 and y.shape == (len(x),)
              and np.issubdtype(ids.dtype, np.integer) and ids.shape == (len(x),)
              and (len(y) == 0 or int(y.max()) <= 9)
              and len(np.unique(ids)) == len(ids))
        if not ok:
            raise DatasetError(f"{SAMPLES_FILE} has unexpected arrays (shapes {x.shape}, {y.shape}, "
                               f"{ids.shape}).")
        return np.ascontiguousarray(x), y.copy(), ids.astype(np.int64)

    def _set_aside(self, why: str) -> None:
        """Move a damaged sample file aside (under the lock, after checking it is still
        damaged: another DigitPad may have just replaced it) and start empty."""
        self._x = np.zeros((0, 28, 28), np.uint8)
        self._y = np.zeros((0,), np.uint8)
        self._ids = np.zeros((0,), np.int64)
        self._extra, self._legacy = {}, False
        where = ""
        try:
            with self._locked():
                try:
                    self._x, self._y, self._ids, self._extra, self._legacy = self._read()
                    return  # repaired meanwhile
                except DatasetError:
                    pass
                where = f" It was moved to {set_aside(self.samples_path).name}."
        except (OSError, DatasetError):
            pass
        self.problems.append(f"Your personal samples could not be read: {why}{where}")

    def _save(self) -> None:
        """Write images, labels, ids and strokes as one file (atomically). Call under the lock."""
        try:
            live = {str(int(i)) for i in self._ids}
            extra = {k: v for k, v in self._extra.items() if k in live}
            atomic_write_bytes(self.samples_path, _npz_bytes({
                "x": self._x, "y": self._y, "ids": self._ids, "records": _records_array(extra)}))
            self._extra, self._legacy = extra, False
            with contextlib.suppress(FileNotFoundError):
                self.strokes_path.unlink()  # an earlier version's strokes, now inside
        except OSError as exc:
            raise DatasetError(f"Cannot save your samples in {self.folder}: {reason(exc)}.") from None

    # -- queries -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> list[int]:
        return [int(i) for i in self._ids]

    def counts(self) -> list[int]:
        """How many samples of each digit 0..9."""
        return [int(v) for v in np.bincount(self._y, minlength=10)[:10]]

    def arrays(self, ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Images (N, 28, 28) uint8 and labels (N,) uint8 (all, or those of ``ids``, in order)."""
        if ids is None:
            return self._x.copy(), self._y.copy()
        idx = [self._index(i) for i in ids]
        return self._x[idx].copy(), self._y[idx].copy()

    def _index(self, sample_id: int) -> int:
        hits = np.flatnonzero(self._ids == int(sample_id))
        if len(hits) == 0:
            raise DatasetError(f"No personal sample with id {sample_id}.")
        return int(hits[0])

    def get(self, sample_id: int) -> Sample:
        i = self._index(sample_id)
        extra = self._extra.get(str(int(sample_id)), {})
        return Sample(id=int(sample_id), label=int(self._y[i]), image=self._x[i].copy(),
                      strokes=_strokes_from_json(extra.get("strokes")),
                      created=str(extra.get("created", "")))

    def samples(self, label: int | None = None) -> list[Sample]:
        return [self.get(int(i)) for i, lab in zip(self._ids, self._y, strict=True)
                if label is None or int(lab) == label]

    # -- changes -------------------------------------------------------------------
    def add(self, image: np.ndarray, label: int, strokes: Iterable[StrokeData] | None = None) -> Sample:
        """Keep a drawing (its preprocessed 28x28 input) as a sample of digit ``label``."""
        label = _check_label(label)
        img = to_uint8(image)
        with self._locked():
            self.reload()  # another DigitPad may have changed the set
            if len(self._ids) >= MAX_STORED:
                raise DatasetError(f"You have {len(self._ids)} personal samples, the most DigitPad keeps; "
                                   "delete some first.")
            new_id = int(self._ids.max()) + 1 if len(self._ids) else 1
            self._x = np.concatenate([self._x, img[None]])
            self._y = np.concatenate([self._y, np.array([label], np.uint8)])
            self._ids = np.concatenate([self._ids, np.array([new_id], np.int64)])
            created = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
            self._extra[str(new_id)] = {"strokes": _strokes_to_json(strokes), "created": created}
            self._save()
        return self.get(new_id)

    def delete(self, ids: Iterable[int]) -> int:
        """Delete samples; returns how many went."""
        wanted = {int(i) for i in ids}
        with self._locked():
            self.reload()
            keep = np.array([int(i) not in wanted for i in self._ids], dtype=bool)
            removed = int((~keep).sum())
            if removed:
                self._x, self._y, self._ids = self._x[keep], self._y[keep], self._ids[keep]
                self._save()
        return removed

    def restore(self, samples: Iterable[Sample]) -> int:
        """Put deleted samples back (undo): with their ids, labels, strokes and dates; a
        sample whose id was taken meanwhile gets a new id. Returns how many came back."""
        back = list(samples)
        if not back:
            return 0
        with self._locked():
            self.reload()
            if len(self._ids) + len(back) > MAX_IMPORT:
                raise DatasetError(f"Restoring {len(back)} samples would exceed the limit of {MAX_IMPORT}.")
            taken = {int(i) for i in self._ids}
            next_id = max(taken | {int(s.id) for s in back} | {0}) + 1
            ids: list[int] = []
            for s in back:
                sid = int(s.id)
                if sid in taken or sid < 1:
                    sid, next_id = next_id, next_id + 1
                taken.add(sid)
                ids.append(sid)
                self._extra[str(sid)] = {"strokes": _strokes_to_json(s.strokes), "created": s.created}
            self._x = np.concatenate([self._x, np.stack([to_uint8(s.image) for s in back])])
            self._y = np.concatenate([self._y, np.array([_check_label(s.label) for s in back], np.uint8)])
            self._ids = np.concatenate([self._ids, np.array(ids, np.int64)])
            order = np.argsort(self._ids, kind="stable")  # back in their places
            self._x, self._y, self._ids = self._x[order], self._y[order], self._ids[order]
            self._save()
        return len(back)

    def relabel(self, ids: Iterable[int], label: int) -> int:
        """Give samples a new label; returns how many changed."""
        label = _check_label(label)
        wanted = {int(i) for i in ids}
        with self._locked():
            self.reload()
            mask = np.array([int(i) in wanted for i in self._ids], dtype=bool)
            changed = int((mask & (self._y != label)).sum())
            if changed:
                self._y = self._y.copy()
                self._y[mask] = label
                self._save()
        return changed

    def clear(self) -> int:
        return self.delete(self.ids())

    # -- import / export -----------------------------------------------------------
    def export_npz(self, path: str | os.PathLike[str], ids: Iterable[int] | None = None) -> Path:
        """Write the samples as an .npz in Keras' layout (``x_train`` uint8, ``y_train``)."""
        out = Path(path)
        if out.suffix.lower() != ".npz":
            out = out.with_name(out.name + ".npz")
        x, y = self.arrays(ids)
        if len(x) == 0:
            raise DatasetError("There are no personal samples to export.")
        try:
            atomic_write_bytes(out, _npz_bytes({"x_train": x, "y_train": y}))
        except OSError as exc:
            raise DatasetError(f"Cannot write {out}: {exc.strerror or exc}.") from None
        return out

    def import_npz(self, path: str | os.PathLike[str]) -> int:
        """Add the images of an .npz (Keras layout or x/y); returns how many were added."""
        x, y = load_sample_npz(path)
        with self._locked():
            self.reload()
            if len(self._ids) + len(x) > MAX_IMPORT:
                raise DatasetError(f"Importing {len(x)} samples would exceed the limit of {MAX_IMPORT} "
                                   "personal samples.")
            start = int(self._ids.max()) + 1 if len(self._ids) else 1
            new_ids = np.arange(start, start + len(x), dtype=np.int64)
            self._x = np.concatenate([self._x, x])
            self._y = np.concatenate([self._y, y])
            self._ids = np.concatenate([self._ids, new_ids])
            created = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
            source = Path(path).name
            for i in new_ids:
                self._extra[str(int(i))] = {"strokes": None, "created": created, "imported_from": source}
            self._save()
        return len(x)
