"""The one training function: progress, cancel within one batch, NaN, bad settings."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.data import load_mnist
from app.core.errors import TrainingError
from app.core.models import ARCHITECTURES, build_model
from app.core.training import TrainConfig, TrainingListener, train


class Recorder(TrainingListener):
    def __init__(self, stop_after: int | None = None) -> None:
        self.batches: list[tuple[int, int]] = []
        self.epochs: list[dict[str, float]] = []
        self.started: tuple[int, int] | None = None
        self.stop_after = stop_after
        self.statuses: list[str] = []

    def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
        self.started = (epochs, steps_per_epoch)

    def on_batch(self, epoch: int, step: int, steps_per_epoch: int, logs: dict[str, float]) -> None:
        assert "loss" in logs and "accuracy" in logs
        self.batches.append((epoch, step))

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(logs)

    def on_status(self, text: str) -> None:
        self.statuses.append(text)

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.batches) >= self.stop_after


def test_registry_has_classic_mlp_and_default_cnn() -> None:
    mlp = ARCHITECTURES["mlp"]
    assert (mlp.epochs, mlp.batch_size, mlp.optimizer, mlp.learning_rate) == (20, 200, "sgd", 0.01)
    model = build_model("mlp")
    kinds = [(type(layer).__name__, getattr(layer, "units", None), getattr(layer, "activation", None))
             for layer in model.layers]
    dense = [(k, u, a.__name__ if a else None) for k, u, a in kinds if k == "Dense"]
    assert dense == [("Dense", 512, "sigmoid"), ("Dense", 11, "softmax")]  # + "not a digit"
    cnn = build_model("cnn")
    assert cnn.input_shape == (None, 28, 28) and cnn.output_shape == (None, 11)
    assert any(type(layer).__name__ == "Conv2D" for layer in cnn.layers)


def test_progress_per_batch_and_epoch_then_evaluation() -> None:
    rec = Recorder()
    result = train(TrainConfig(arch="cnn", epochs=2, batch_size=100, limit=1000), rec)
    # 900 MNIST training images (10 % validation) and 0.85 pen images for each, batch 100
    assert rec.started == (2, 17)
    assert rec.batches == [(e, s) for e in range(2) for s in range(17)]
    assert len(rec.epochs) == 2 and "val_accuracy" in rec.epochs[0]
    assert not result.cancelled and result.epochs_completed == 2
    ev = result.evaluation
    assert ev is not None and ev.count == 10000
    assert 0.6 < ev.accuracy <= 1.0  # a real model learned something
    assert sum(map(sum, ev.confusion)) == 10000
    assert 0 <= ev.not_a_digit < 2000  # digits it wrongly called "not a digit"
    # the confidence is calibrated on the validation split; the metadata keeps it
    assert "Calibrating…" in rec.statuses and 0.2 < result.temperature < 5.0
    assert result.meta("test")["calibration"] == {"temperature": result.temperature,
                                                  "threshold": result.threshold}
    assert 0.05 <= result.threshold <= 0.5
    assert result.meta("test")["not_a_digit"] == ev.not_a_digit
    assert "Building the model…" in rec.statuses and "Evaluating on the test set…" in rec.statuses


def test_cancel_is_honoured_within_one_batch() -> None:
    rec = Recorder(stop_after=3)
    result = train(TrainConfig(arch="cnn", epochs=3, batch_size=32, limit=2000), rec)
    assert result.cancelled
    assert len(rec.batches) == 3
    assert result.evaluation is None


def test_diverging_loss_stops_with_a_message() -> None:
    rec = Recorder()
    with pytest.raises(TrainingError, match=r"diverged.*lower learning rate"):
        train(TrainConfig(arch="mlp", epochs=3, batch_size=50, limit=1000, learning_rate=1000.0), rec)
    assert len(rec.batches) < 18  # stopped in the first epoch, not at the end


def test_nan_loss_is_caught() -> None:
    from app.core.tf import import_keras
    from app.core.training import _make_listener_callback

    keras = import_keras()
    rec = Recorder()
    cb = _make_listener_callback(keras, rec, 10)
    cb.set_model(build_model("mlp"))
    cb.on_train_batch_end(0, {"loss": float("nan"), "accuracy": 0.1})
    assert cb.nan_at == (0, 0) and cb.model.stop_training
    assert rec.batches == []


@pytest.mark.parametrize(
    "cfg, word",
    [
        (TrainConfig(epochs=0), "epochs"),
        (TrainConfig(batch_size=0), "batch size"),
        (TrainConfig(learning_rate=-1.0), "learning rate"),
        (TrainConfig(learning_rate=float("nan")), "learning rate"),
        (TrainConfig(limit=3), "limit"),
        (TrainConfig(arch="resnet"), "architecture"),
    ],
)
def test_bad_settings_are_refused(cfg: TrainConfig, word: str) -> None:
    with pytest.raises(TrainingError, match=word):
        cfg.resolved()


def test_augmentation_trains_on_varied_images() -> None:
    from app.core.tf import import_tf
    from app.core.training_data import augment_fn

    tf = import_tf()
    (x, y), _ = load_mnist()
    batch = x[:64].astype(np.float32) / 255.0
    out, labels = augment_fn(tf, 0)(tf.constant(batch), tf.constant(y[:64]))
    out = out.numpy()
    assert out.shape == batch.shape and np.array_equal(labels.numpy(), y[:64])
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
    assert np.abs(out - batch).mean() > 0.01  # images really changed
    # ink is kept: no digit is pushed off the canvas or erased (thinning removes some ink)
    ratio = out.reshape(64, -1).sum(1) / batch.reshape(64, -1).sum(1)
    assert ratio.min() > 0.15 and 0.6 < float(np.median(ratio)) < 1.6


# --------------------------------------------------------------------------- train and save


class _CancelWhileSaving(Recorder):
    """Asks to stop once "Saving the model…" was announced (Cancel in the last second)."""

    def should_stop(self) -> bool:
        return any(s.startswith("Saving") for s in self.statuses)


def test_train_and_save_stores_the_evaluated_model_with_its_metadata(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app.core.store import ModelStore
    from app.core.training import train_and_save

    store = ModelStore(home=tmp_path)
    rec = Recorder()
    saved = train_and_save(TrainConfig(arch="mlp", epochs=1, limit=300), rec, store, "tests",
                           data="bundled MNIST")
    assert saved is not None and saved.evaluation is not None
    assert rec.statuses[-1] == "Saving the model…"
    # a 1-epoch MLP is not as good as the shipped model: saved, not put in use (if-better)
    assert saved.outcome is not None and not saved.outcome.activated
    assert store.active_name() == "default" and saved.name.startswith("Classic MLP · 1 ep · ")
    entry = store.get(saved.name)
    meta = entry.meta
    assert meta["trained_by"] == "tests" and meta["data"] == "bundled MNIST"
    assert meta["title"] == ARCHITECTURES["mlp"].title and meta["training"]["epochs"] == 1
    assert meta["test_accuracy"] == saved.evaluation.accuracy == entry.test_accuracy
    assert meta["test_count"] == 10000 and len(meta["confusion"]) == 10
    assert entry.predictor().predict(np.zeros((28, 28), np.float32)).shape == (10,)


def test_train_and_save_keeps_nothing_when_cancelled(tmp_path, tiny_result, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.core.store import ModelStore
    from app.core.training import train_and_save

    store = ModelStore(home=tmp_path)
    before = store.active_name()
    assert train_and_save(TrainConfig(arch="mlp"), Recorder(stop_after=0), store, "tests") is None

    monkeypatch.setattr("app.core.training.train", lambda *a, **k: tiny_result)
    rec = _CancelWhileSaving()
    assert train_and_save(TrainConfig(arch="mlp"), rec, store, "tests") is None
    assert "Saving the model…" in rec.statuses  # it was saved, then removed again
    store.refresh()
    assert [e.name for e in store.entries() if not e.builtin] == []
    assert store.active_name() == before
    assert not any((tmp_path / "models").iterdir())  # no half-saved or hidden leftovers


def test_save_trained_refuses_an_unfinished_training(tmp_path, tiny_result) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from app.core.store import ModelStore
    from app.core.training import save_trained

    cancelled = dataclasses.replace(tiny_result, cancelled=True, evaluation=None)
    with pytest.raises(TrainingError, match="nothing to save"):
        save_trained(ModelStore(home=tmp_path), cancelled, "tests")


def test_one_metadata_builder_for_training_and_fine_tuning(tiny_result) -> None:  # type: ignore[no-untyped-def]
    from app.core.finetune import FineTuneConfig, FineTuneResult, Scores

    trained = tiny_result.meta("tests", title="t", seed=3)
    assert trained["title"] == "t" and trained["seed"] == 3 and trained["trained_by"] == "tests"
    tuned = FineTuneResult(model=None, base_name="tiny", arch="mlp", config=FineTuneConfig(),
                           train_config=tiny_result.config, before=Scores(0.5, 4, [0] * 4, 0.9, 100),
                           after=Scores(0.75, 4, [0] * 4, 0.9, 100), evaluation=tiny_result.evaluation,
                           history=tiny_result.history, seconds=2.04).meta("window")
    assert set(trained) - {"seed"} <= set(tuned)  # the same keys, and the fine-tuning's own
    assert tuned["base_model"] == "tiny" and tuned["fine_tuned"] is True and tuned["seconds"] == 2.0
    assert tuned["personal_accuracy"] == 0.75 and tuned["personal_accuracy_before"] == 0.5
    assert tuned["test_accuracy"] == tiny_result.evaluation.accuracy
