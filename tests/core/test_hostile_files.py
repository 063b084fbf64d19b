"""Hostile files against the core: crafted .npz headers, archives that inflate a
thousandfold, FIFOs and devices where a model or data file is expected, oversized .keras
members, stale leftovers, a lost active-model choice and an earlier version's sample files.
Every refusal names the file and says what is wrong; nothing blocks, nothing is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.core.data import load_mnist, load_test_set
from app.core.errors import DatasetError, ModelError
from app.core.inference import Predictor
from app.core.safeio import read_npz
from app.core.samples import SampleStore, load_sample_npz
from app.core.store import ModelStore, check_keras_archive
from bench.hostile import crafted_npz, inflating_npz, lying_header_npz
from tests.conftest import ROOT


def _peak_bytes_allocated(call) -> int:  # type: ignore[no-untyped-def]
    """The most Python and NumPy held at once while ``call()`` ran (tracemalloc sees NumPy's
    array data and zlib's output buffers; the process's peak RSS may be from earlier tests)."""
    tracemalloc.start()
    try:
        call()
    finally:
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


@pytest.fixture(scope="session")
def inflating(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return inflating_npz(tmp_path_factory.mktemp("crafted") / "big.npz")


def test_a_small_npz_that_inflates_to_gigabytes_is_refused_from_its_header(inflating: Path) -> None:
    assert inflating.stat().st_size < 2_000_000  # ~1.5 MB on disk, 1.5 GB inside

    def as_samples() -> None:
        with pytest.raises(DatasetError, match=r"big\.npz holds 240000 images.*limited to 20000"):
            load_sample_npz(inflating)

    def as_mnist() -> None:
        with pytest.raises(DatasetError, match=r"big\.npz is missing the array\(s\) x_test, y_test"):
            load_mnist(inflating)

    assert _peak_bytes_allocated(as_samples) < 10_000_000  # nothing was inflated
    assert _peak_bytes_allocated(as_mnist) < 10_000_000
    # the measure sees an inflated member: reading a 12 MB array of it peaks above 12 MB
    with zipfile.ZipFile(inflating) as zf, zf.open("x_train.npy") as fh:
        assert _peak_bytes_allocated(lambda: fh.read(12_000_000)) >= 12_000_000


def test_an_array_inflating_a_thousandfold_is_refused(tmp_path: Path) -> None:
    path = crafted_npz(tmp_path / "zeros.npz", {"x_train": ((15_000, 28, 28), "<f8", None),
                                                "y_train": ((15_000,), "|u1", None)})
    with pytest.raises(DatasetError, match=r"zeros\.npz.*'x_train' would inflate from"):
        load_sample_npz(path)


def test_a_header_announcing_730_gib_is_refused_and_the_samples_file_moved_aside(
        tmp_path: Path, digitpad_home: Path) -> None:
    lie = lying_header_npz(tmp_path / "lie.npz")
    mnist_lie = crafted_npz(tmp_path / "mnist-lie.npz", {
        "x_train": ((1_000_000_000, 28, 28), "|u1", 64), "y_train": ((3,), "|u1", None),
        "x_test": ((3, 28, 28), "|u1", None), "y_test": ((3,), "|u1", None)})
    with pytest.raises(DatasetError, match=r"mnist-lie\.npz: x_train announces 1000000000 items"):
        load_mnist(mnist_lie)
    with pytest.raises(DatasetError, match=r"lie\.npz.*'x'.*730\.2 GiB"):
        read_npz(lie, DatasetError, max_array_bytes=1 << 30)
    folder = digitpad_home / "samples"
    folder.mkdir()
    (folder / "samples.npz").write_bytes(lie.read_bytes())
    store = SampleStore()  # the window and every command open it at start
    assert len(store) == 0
    assert len(store.problems) == 1 and "samples.npz" in store.problems[0]
    assert "moved to samples.npz.unreadable-" in store.problems[0]
    assert not (folder / "samples.npz").exists()
    assert [p.name for p in folder.glob("samples.npz.unreadable-*")]
    store.add(np.zeros((28, 28), np.float32), 3)  # and the store works again
    assert len(SampleStore()) == 1


def test_a_member_smaller_than_its_header_announces_is_corrupt(tmp_path: Path) -> None:
    path = crafted_npz(tmp_path / "short.npz", {"x": ((10, 28, 28), "|u1", 100), "y": ((10,), "|u1", None)})
    with pytest.raises(DatasetError, match=r"short\.npz.*'x'.*corrupt"):
        read_npz(path, DatasetError, max_array_bytes=1 << 20)


def test_evaluate_data_reads_only_the_test_arrays(tmp_path: Path) -> None:
    _, (xt, yt) = load_mnist()
    path = tmp_path / "huge-train.npz"
    crafted_npz(path, {"x_train": ((1_000_000_000, 28, 28), "|u1", 64), "y_train": ((3,), "|u1", None)})
    with zipfile.ZipFile(path, "a") as zf:  # a real test set beside a 730 GiB training set
        for key, arr in (("x_test", xt[:50]), ("y_test", yt[:50])):
            with zf.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array(fh, np.asarray(arr))
    x_test, y_test = load_test_set(path)
    assert x_test.shape == (50, 28, 28) and np.array_equal(y_test, yt[:50])
    with pytest.raises(DatasetError, match="huge-train"):
        load_mnist(path)  # training needs x_train: refused from its header


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifos_and_devices_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo_npz, fifo_tfl, fifo_keras = tmp_path / "f.npz", tmp_path / "f.tflite", tmp_path / "f.keras"
    for p in (fifo_npz, fifo_tfl, fifo_keras):
        os.mkfifo(p)
    zero = tmp_path / "z.tflite"
    zero.symlink_to("/dev/zero")
    started = time.monotonic()
    with pytest.raises(DatasetError, match=r"f\.npz is a named pipe"):
        load_sample_npz(fifo_npz)
    with pytest.raises(DatasetError, match=r"f\.npz is a named pipe"):
        load_mnist(fifo_npz)
    with pytest.raises(ModelError, match=r"f\.tflite is a named pipe"):
        Predictor(fifo_tfl)
    with pytest.raises(ModelError, match=r"z\.tflite is a device"):
        Predictor(zero)
    with pytest.raises(ModelError, match=r"f\.keras is a named pipe"):
        check_keras_archive(fifo_keras)
    assert time.monotonic() - started < 10


def _cli(home: Path, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DIGITPAD_HOME=str(home), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "app", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_the_cli_refuses_a_fifo_model_and_a_fifo_import(tmp_path: Path, digitpad_home: Path) -> None:
    os.mkfifo(tmp_path / "m.tflite")
    os.mkfifo(tmp_path / "s.npz")
    (tmp_path / "z.tflite").symlink_to("/dev/zero")  # it read until memory ran out
    digit = next((ROOT / "tests" / "data" / "digits").iterdir())
    run = _cli(digitpad_home, "predict", "--model", str(tmp_path / "m.tflite"), str(digit), timeout=60)
    assert run.returncode == 1 and "m.tflite is a named pipe" in run.stderr
    run = _cli(digitpad_home, "predict", "--model", str(tmp_path / "z.tflite"), str(digit), timeout=60)
    assert run.returncode == 1 and "z.tflite is a device" in run.stderr
    run = _cli(digitpad_home, "samples", "import", str(tmp_path / "s.npz"), timeout=60)
    assert run.returncode == 1 and "s.npz is a named pipe" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_cli_starts_with_a_samples_file_announcing_730_gib(tmp_path: Path, digitpad_home: Path) -> None:
    (digitpad_home / "samples").mkdir()
    lying_header_npz(digitpad_home / "samples" / "samples.npz")
    run = _cli(digitpad_home, "samples")  # it said "unexpected MemoryError: Unable to allocate 730 GiB"
    assert run.returncode == 0, run.stderr
    assert "samples.npz" in run.stderr and "730.2 GiB" in run.stderr
    assert "moved to samples.npz.unreadable-" in run.stderr and "Traceback" not in run.stderr
    run = _cli(digitpad_home, "samples")  # moved aside: said once, the folder works again
    assert run.returncode == 0 and "samples.npz" not in run.stderr


def test_evaluate_data_in_the_cli_reads_only_the_test_arrays(tmp_path: Path, digitpad_home: Path) -> None:
    _, (xt, yt) = load_mnist()
    path = crafted_npz(tmp_path / "huge-train.npz", {"x_train": ((1_000_000_000, 28, 28), "|u1", 64),
                                                     "y_train": ((3,), "|u1", None)})
    with zipfile.ZipFile(path, "a") as zf:
        for key, arr in (("x_test", xt[:40]), ("y_test", yt[:40])):
            with zf.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array(fh, np.asarray(arr))
    run = _cli(digitpad_home, "evaluate", "--data", str(path), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["count"] == 40


def test_a_keras_file_unpacking_to_too_much_is_refused_before_keras_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "big.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("config.json", "{}")
        with zf.open("model.weights.h5", "w") as fh:
            chunk = bytes(1 << 20)
            for _ in range(300):
                fh.write(chunk)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ModelError, match=r"big\.keras.*would unpack to 300\.0 MiB.*model\.weights\.h5"):
        check_keras_archive(path)
    store = ModelStore()
    with pytest.raises(ModelError, match="would unpack"):
        store.import_keras(path)
    assert "big" not in store


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_stale_leftovers_are_cleaned_when_the_store_opens(digitpad_home: Path) -> None:
    models = digitpad_home / "models"
    (models / ".tmp-killed-abc").mkdir(parents=True)
    (models / ".tmp-killed-abc" / "model.keras").write_bytes(b"half")
    (models / ".tmp-fresh-def").mkdir()
    (digitpad_home / "samples").mkdir()
    (digitpad_home / "samples" / ".tmp-xyz.npz").write_bytes(b"half")
    _age(models / ".tmp-killed-abc", 2 * 3600)
    _age(digitpad_home / "samples" / ".tmp-xyz.npz", 2 * 3600)
    ModelStore()
    assert not (models / ".tmp-killed-abc").exists()
    assert not (digitpad_home / "samples" / ".tmp-xyz.npz").exists()
    assert (models / ".tmp-fresh-def").exists()  # maybe another DigitPad's save in progress


def test_stale_leftovers_are_cleaned_after_each_save(store: ModelStore, tiny_result) -> None:  # type: ignore[no-untyped-def]
    killed = store.models_dir / ".tmp-killed-later"  # a save killed while this store was open
    killed.mkdir(parents=True)
    _age(killed, 2 * 3600)
    fresh = store.models_dir / ".tmp-saving-now"
    fresh.mkdir()
    store.save(tiny_result.model, tiny_result.meta("tests"), name="after")
    assert not killed.exists() and fresh.exists() and "after" in store


def test_a_lost_active_model_choice_is_reported(digitpad_home: Path) -> None:
    (digitpad_home / "store.json").write_text(json.dumps({"active_model": "my-best"}))
    store = ModelStore()
    assert store.active_name() == "default"
    assert any("'my-best' is missing" in p and "'default' is used instead" in p for p in store.problems)
    run = _cli(digitpad_home, "models")
    assert run.returncode == 0 and "'my-best' is missing" in run.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_store_json_that_is_a_fifo_is_moved_aside_without_blocking(digitpad_home: Path) -> None:
    os.mkfifo(digitpad_home / "store.json")  # reading it waited forever: the window never opened
    store = ModelStore()
    assert store.active_name() == "default"
    said = [p for p in store.problems if "store.json is a named pipe" in p]
    assert len(said) == 1 and "moved to store.json.unreadable-" in said[0] and "'default' is used" in said[0]
    store.refresh()
    assert said[0] in store.problems  # what was moved aside is still said after a refresh
    store.set_active("default")  # and the choice can be saved again
    assert json.loads((digitpad_home / "store.json").read_text()) == {"active_model": "default"}
    assert ModelStore().problems == []


def test_an_earlier_versions_samples_are_kept_with_their_strokes(digitpad_home: Path) -> None:
    folder = digitpad_home / "samples"
    folder.mkdir()
    x = np.stack([np.full((28, 28), i, np.uint8) for i in range(3)])
    np.savez_compressed(folder / "samples.npz", x=x, y=np.array([4, 5, 6], np.uint8),
                        ids=np.array([1, 2, 7], np.int64))
    strokes = {"format": 1, "samples": {
        str(i): {"strokes": [{"w": 0.05, "p": [[i / 10, 0.5], [0.5, 0.5]]}], "created": f"day {i}"}
        for i in (1, 2, 7)}}
    (folder / "strokes.json").write_text(json.dumps(strokes))
    store = SampleStore()
    assert store.problems == [] and store.ids() == [1, 2, 7]
    assert not (folder / "strokes.json").exists()  # folded into samples.npz
    with np.load(folder / "samples.npz", allow_pickle=False) as npz:
        assert "records" in npz.files
    again = SampleStore()
    for sid, label, value in ((1, 4, 0), (2, 5, 1), (7, 6, 2)):
        s = again.get(sid)
        assert s.label == label and int(s.image[0, 0]) == value and s.created == f"day {sid}"
        assert s.strokes is not None and s.strokes[0][0][0] == (sid / 10, 0.5)


def test_a_too_long_home_folder_name_does_not_stop_the_commands(tmp_path: Path) -> None:
    home = tmp_path / ("a" * 300)
    digit = next((ROOT / "tests" / "data" / "digits").iterdir())
    for argv in (["models"], ["samples"], ["predict", str(digit)]):
        run = _cli(home, *argv)
        assert run.returncode == 0, (argv, run.stderr)
    run = _cli(home, "models", "use", "default")
    assert run.returncode == 1 and "File name too long" in run.stderr and "Traceback" not in run.stderr
