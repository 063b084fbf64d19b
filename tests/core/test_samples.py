"""Personal samples (app.core.samples): storage, changes, import/export, refusing pickles."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import DatasetError
from app.core.samples import MAX_IMPORT, SampleStore, load_sample_npz, to_uint8


def _img(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


STROKE = (((0.1, 0.2), (0.3, 0.4), (0.5, 0.9)), 0.07)


def test_add_keeps_image_label_and_strokes_on_disk(digitpad_home: Path) -> None:
    store = SampleStore()
    assert store.folder == digitpad_home / "samples"
    s = store.add(_img(0), 4, [STROKE])
    assert s.label == 4 and s.image.dtype == np.uint8 and s.image.shape == (28, 28)
    assert np.array_equal(s.image, to_uint8(_img(0)))
    assert s.strokes == (STROKE,)
    assert s.created
    again = SampleStore()  # a new reader sees the same
    assert len(again) == 1 and again.counts()[4] == 1
    got = again.get(s.id)
    assert got.label == 4 and np.array_equal(got.image, s.image) and got.strokes == (STROKE,)
    with np.load(store.samples_path, allow_pickle=False) as npz:  # numbers only on disk
        assert sorted(npz.files) == ["ids", "records", "x", "y"]  # one file: image, label, strokes
        assert npz["x"].dtype == np.uint8 and npz["x"].shape == (1, 28, 28)
        assert npz["records"].dtype == np.uint8
    assert not store.strokes_path.exists()
    assert [p.name for p in store.folder.iterdir() if p.name.startswith(".tmp")] == []


def test_ids_are_unique_and_delete_relabel_persist() -> None:
    store = SampleStore()
    a = store.add(_img(1), 1)
    b = store.add(_img(2), 2)
    c = store.add(_img(3), 3, [STROKE])
    assert len({a.id, b.id, c.id}) == 3
    assert store.relabel([a.id, b.id], 7) == 2
    assert store.delete([c.id]) == 1
    fresh = SampleStore()
    assert fresh.ids() == [a.id, b.id]
    assert [s.label for s in fresh.samples()] == [7, 7]
    assert fresh.counts() == [0, 0, 0, 0, 0, 0, 0, 2, 0, 0]
    d = fresh.add(_img(4), 0)
    assert d.id not in (a.id, b.id)
    with pytest.raises(DatasetError):
        fresh.add(_img(5), 10)
    with pytest.raises(DatasetError):
        fresh.get(12345)


def test_export_import_round_trip_in_keras_layout(tmp_path: Path) -> None:
    store = SampleStore()
    for i in range(5):
        store.add(_img(i), i)
    out = store.export_npz(tmp_path / "mine")  # the suffix is added
    assert out.name == "mine.npz"
    with np.load(out, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["x_train", "y_train"]
        x, y = npz["x_train"], npz["y_train"]
    assert x.dtype == np.uint8 and x.shape == (5, 28, 28) and y.tolist() == [0, 1, 2, 3, 4]
    other = SampleStore(tmp_path / "other-home")
    assert other.import_npz(out) == 5
    x2, y2 = other.arrays()
    assert np.array_equal(x2, x) and np.array_equal(y2, y)
    assert all(s.strokes is None for s in other.samples())
    # x/y layout, float 0..1 images and int64 labels are accepted
    np.savez(tmp_path / "xy.npz", x=x.astype(np.float32) / 255.0, y=y.astype(np.int64))
    assert other.import_npz(tmp_path / "xy.npz") == 5
    assert np.array_equal(other.arrays()[0][5:], x)


def test_import_refuses_pickles_and_bad_arrays(tmp_path: Path) -> None:
    store = SampleStore()
    store.add(_img(0), 1)
    obj = tmp_path / "objects.npz"
    np.savez(obj, x_train=np.array([np.zeros((28, 28)), "evil"], dtype=object), y_train=np.array([1, 2]))
    with pytest.raises(DatasetError, match="unpickle"):
        store.import_npz(obj)
    pickled = tmp_path / "pickle.npz"
    pickled.write_bytes(pickle.dumps({"x_train": np.zeros((1, 28, 28))}))
    with pytest.raises(DatasetError, match=r"(?i)pickle|not a valid"):
        store.import_npz(pickled)
    bad_cases: dict[str, dict[str, np.ndarray]] = {
        "shape.npz": dict(x_train=np.zeros((2, 27, 28), np.uint8), y_train=np.zeros(2, np.uint8)),
        "labels.npz": dict(x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.array([1, 12])),
        "count.npz": dict(x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(3, np.uint8)),
        "pixels.npz": dict(x_train=np.full((1, 28, 28), 300, np.int32), y_train=np.zeros(1, np.uint8)),
        "keys.npz": dict(images=np.zeros((1, 28, 28), np.uint8)),
    }
    for name, arrays in bad_cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(DatasetError):
            store.import_npz(tmp_path / name)
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError):
        load_sample_npz(tmp_path / "broken.npz")
    assert len(SampleStore()) == 1  # nothing half-imported
    assert MAX_IMPORT >= 10000


def test_an_unreadable_sample_file_is_set_aside_not_overwritten(digitpad_home: Path) -> None:
    store = SampleStore()
    store.add(_img(0), 3)
    store.samples_path.write_bytes(b"garbage, not a zip")
    fresh = SampleStore()
    assert len(fresh) == 0 and fresh.problems and "could not be read" in fresh.problems[0]
    kept = list(fresh.folder.glob("samples.npz.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"garbage, not a zip"
    fresh.add(_img(1), 5)
    assert SampleStore().counts()[5] == 1


def test_restore_undoes_a_delete_with_ids_strokes_and_dates(digitpad_home: Path) -> None:
    store = SampleStore(digitpad_home)
    strokes = [STROKE]
    a = store.add(_img(1), 1, strokes)
    b = store.add(_img(2), 7, strokes)
    c = store.add(_img(3), 3)
    gone = [store.get(a.id), store.get(c.id)]
    assert store.delete([a.id, c.id]) == 2
    assert store.restore(gone) == 2
    again = SampleStore(digitpad_home)  # as saved on disk
    assert again.ids() == [a.id, b.id, c.id]  # back in their places
    for before in gone:
        after = again.get(before.id)
        assert after.label == before.label and np.array_equal(after.image, before.image)
        assert after.strokes == before.strokes and after.created == before.created
    # an id taken meanwhile: the restored sample gets a new one, nothing is overwritten
    store.delete([c.id])
    d = store.add(_img(4), 4)
    assert d.id == c.id  # (ids restart after the highest)
    assert store.restore([gone[1]]) == 1
    assert len(store) == 4 and store.get(d.id).label == 4
    assert sorted(s.label for s in store.samples()) == [1, 3, 4, 7]
    assert store.restore([]) == 0
