"""Training in a child process (app.core.training_process): progress, the saved model and
its activation, live weights, cancel at once even while TensorFlow loads, and the same
job run inline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from app.core.store import ModelStore
from app.core.training import TrainConfig, TrainingListener
from app.core.training_child import InlineTrainer
from app.core.training_process import TrainingProcess

TINY = TrainConfig(arch="mlp", epochs=1, batch_size=32, limit=300, learning_rate=0.5, seed=1)


class Recorder(TrainingListener):
    def __init__(self, stop_when: Any = None) -> None:
        self.statuses: list[str] = []
        self.batches: list[tuple[int, int]] = []
        self.epochs: list[int] = []
        self.started: tuple[int, int] | None = None
        self.stop_when = stop_when

    def on_status(self, text: str) -> None:
        self.statuses.append(text)

    def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
        self.started = (epochs, steps_per_epoch)

    def on_batch(self, epoch: int, step: int, steps_per_epoch: int, logs: dict[str, float]) -> None:
        self.batches.append((epoch, step))

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)

    def should_stop(self) -> bool:
        return bool(self.stop_when and self.stop_when(self))


def job(home: Path, **extra: Any) -> dict[str, Any]:
    store = ModelStore(home=home)
    return {"kind": "train", "config": TINY.to_dict(), "home": str(home),
            "bundled_dir": str(store.bundled_dir), "current": store.active_name(), **extra}


@pytest.fixture(scope="module")
def process():  # type: ignore[no-untyped-def]
    proc = TrainingProcess(beside_gui=False)
    yield proc
    proc.close()
    assert not proc.alive()


def test_a_job_in_the_child_reports_saves_and_keeps_the_better_model(process, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rec = Recorder()
    lives: list[Any] = []
    result = process.run(job(tmp_path, watch=True), rec, on_live=lives.append)
    assert result is not None and rec.started is not None and rec.started[0] == 1
    assert len(rec.batches) == rec.started[1] > 1
    assert rec.statuses[:1] == ["Loading MNIST…"] and "Building the model…" in rec.statuses
    assert "Evaluating on the test set…" in rec.statuses and rec.statuses[-1] == "Saving the model…"
    store = ModelStore(home=tmp_path)
    assert result["name"] in store and not result["activated"]  # worse than the shipped model
    assert store.active_name() == "default"
    assert "In use: default" in result["comparison"]
    # always: in use
    forced = process.run(job(tmp_path, activate="always"), Recorder())
    assert forced is not None and forced["activated"]
    assert ModelStore(home=tmp_path).active_name() == forced["name"] != result["name"]


def test_cancel_while_the_child_is_busy_returns_within_a_second(process, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    cancel_at = [None]

    def stop(rec: Recorder) -> bool:
        if cancel_at[0] is None and rec.statuses:
            cancel_at[0] = time.monotonic()  # at the first stage
        return cancel_at[0] is not None

    result = process.run(job(tmp_path), Recorder(stop))
    assert result is None and cancel_at[0] is not None
    assert time.monotonic() - cancel_at[0] < 1.0 + 0.2, time.monotonic() - t0
    assert [e.name for e in ModelStore(home=tmp_path).entries()] == ["default"]  # nothing kept
    # the child is still usable
    again = process.run(job(tmp_path), Recorder())
    assert again is not None and again["name"] in ModelStore(home=tmp_path)


def test_inline_runs_the_same_job(tmp_path: Path) -> None:
    rec = Recorder(stop_when=lambda r: len(r.batches) >= 2)
    assert InlineTrainer().run(job(tmp_path), rec) is None and len(rec.batches) == 2
    result = InlineTrainer().run(job(tmp_path, activate="never"), Recorder())
    assert result is not None and not result["activated"]
    assert ModelStore(home=tmp_path).active_name() == "default"


def test_finetune_and_import_jobs(tmp_path: Path, tiny_result) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from app.core.samples import SampleStore

    samples = SampleStore(tmp_path)
    rng = np.random.default_rng(1)
    for i in range(12):
        samples.add(rng.integers(0, 255, (28, 28), dtype=np.uint8), i % 4)
    base = job(tmp_path)
    rec = Recorder()
    tuned = InlineTrainer().run({**base, "kind": "finetune", "base": "default",
                                 "finetune": {"epochs": 1, "mnist_images": 100, "mnist_eval": 200}}, rec)
    assert tuned is not None and tuned["name"] in ModelStore(home=tmp_path)
    assert tuned["after"]["personal_count"] > 0 and "In use: default" in tuned["comparison"]
    keras_file = tmp_path / "mine.keras"
    tiny_result.model.save(keras_file)
    imported = InlineTrainer().run({**base, "kind": "import", "path": str(keras_file)}, Recorder())
    assert imported is not None and ModelStore(home=tmp_path).active_name() == imported["name"] == "mine"
