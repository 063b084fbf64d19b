"""Shared test set-up: every test gets its own empty DigitPad home directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def digitpad_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point DIGITPAD_HOME at a fresh temporary directory for each test."""
    home = tmp_path_factory.mktemp("digitpad-home")
    monkeypatch.setenv("DIGITPAD_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def inline_training(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window's training jobs run inline (InlineTrainer: the same job code, in the worker
    thread), so that core functions a test replaces in this process are the ones used;
    tests marked ``training_process`` use the real child process."""
    if request.node.get_closest_marker("training_process"):
        return
    from app.core import training_process
    from app.core.training_child import InlineTrainer

    monkeypatch.setattr(training_process, "shared", InlineTrainer)


@pytest.fixture(scope="session")
def tiny_result():  # type: ignore[no-untyped-def]
    """A small MLP trained for four epochs on 600 MNIST images and as many pen images
    (seconds, not minutes)."""
    from app.core.training import TrainConfig, train

    return train(TrainConfig(arch="mlp", epochs=4, batch_size=32, limit=600, learning_rate=0.5, seed=1))


@pytest.fixture(scope="session")
def ten_output_keras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``.keras`` file with only the ten digit outputs (as users bring them): a small MLP
    trained for eight epochs on 4000 MNIST images, 4000 pen-drawn digits and 2000 non-digit
    drawings with even targets (a model taught to be unsure of what is not a digit)."""
    import numpy as np

    from app.core import pendata
    from app.core.data import load_mnist
    from app.core.tf import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(3)
    (x, y), _ = load_mnist()
    px, py, _, _ = pendata.split()
    digits = np.nonzero(py != pendata.NOT_A_DIGIT)[0][:4000]
    others = np.nonzero(py == pendata.NOT_A_DIGIT)[0][:2000]
    images = np.concatenate([x[:4000], px[digits], px[others]]) / 255.0
    targets = np.concatenate([np.eye(10)[y[:4000]], np.eye(10)[py[digits]], np.full((2000, 10), 0.1)])
    inp = keras.Input((28, 28))
    hidden = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax")(hidden))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(images, targets, epochs=8, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("ten-output") / "ten.keras"
    model.save(path)
    return path


def default_model_present() -> bool:
    from app.core import paths
    from app.core.store import DEFAULT_MODEL

    return (paths.bundled_store_dir() / DEFAULT_MODEL / "meta.json").is_file()


needs_default_model = pytest.mark.skipif(
    not default_model_present(), reason="the shipped default model (model_store/default) is not there yet")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# A corrupt .tflite cannot always be caught as an exception: fuzzing found seven changed
# bytes in the shipped model's earlier, float .tflite with which LiteRT built the
# interpreter, then killed the whole process (SIGSEGV) on the first invoke. Such a file
# must never reach LiteRT: the checksum in meta.json refuses it first. The tests
# change bytes of the shipped file (CORRUPT_BYTES: in its header, a weight, and its tensor
# tables) and hand LiteRT's place to a stand-in that kills the process (os.abort) when
# given those bytes, as LiteRT did.
CORRUPT_BYTES = (200, 300_000, 430_000)


def corrupt(data: bytes) -> bytes:
    out = bytearray(data)
    for i in CORRUPT_BYTES:
        out[i] ^= 0xFF
    return bytes(out)


def copy_shipped(home: Path, name: str, activate: bool = False, checksums: bool = True) -> Path:
    """A copy of the shipped model as the user model ``name``: its files and metadata as
    saved (checksums included), renamed; without its checksums, as an earlier version saved
    models, when ``checksums`` is false."""
    from app.core import paths
    from app.core.store import DEFAULT_MODEL, ModelStore

    dest = home / "models" / name
    shutil.copytree(paths.bundled_store_dir() / DEFAULT_MODEL, dest)
    meta = json.loads((dest / "meta.json").read_text(encoding="utf-8"))
    meta["name"] = name
    if not checksums:
        meta.pop("sha256")
    (dest / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    if activate:
        ModelStore(home=home).set_active(name)
    return dest


@pytest.fixture
def shipped_copy(digitpad_home: Path) -> Callable[..., Path]:
    """``shipped_copy(name, activate=False, checksums=True)`` -> the new entry's folder."""
    return lambda name, activate=False, checksums=True: copy_shipped(digitpad_home, name, activate,
                                                                     checksums)


@pytest.fixture(scope="session")
def saved_tiny_dir(tiny_result, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The session's tiny model written once as a store entry by ``write_model_dir``."""
    from app.core.store import write_model_dir

    return write_model_dir(tiny_result.model, tiny_result.meta("tests"),
                           tmp_path_factory.mktemp("robust-tiny") / "tiny")
