"""The NumPy forward pass (app.core.numpy_net) against Keras and LiteRT, what it refuses, and
the live listener that hands the weights in training to the window (app.core.live)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from app.core import paths
from app.core.data import load_mnist
from app.core.inference import Predictor
from app.core.live import LiveExportListener, LiveWeights
from app.core.models import ARCHITECTURES, build_model
from app.core.numpy_net import Plan, UnsupportedModel, plan_of_keras, snapshot_weights
from app.core.training import TrainingListener
from app.core.verdict import split
from tests.conftest import needs_default_model

DEFAULT = paths.bundled_store_dir() / "default"


def _digits(n: int = 64) -> np.ndarray:
    (_, _), (x, _) = load_mnist()
    return x[:n].astype(np.float32) / 255.0


def _jiggle(model: Any, seed: int = 0, scale: float = 0.05) -> None:
    """Non-trivial weights (fresh biases are zeros; a BN's moving statistics are 0 and 1)."""
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, scale, w.shape).astype(np.float32) for w in model.get_weights()])


def _numpy_of(model: Any) -> Any:
    plan = plan_of_keras(model)
    return plan.bind(snapshot_weights(model, plan))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_matches_keras(arch: str) -> None:
    model = build_model(arch)
    _jiggle(model)
    x = _digits()
    expected = model(x, training=False).numpy()
    net = _numpy_of(model)
    got = net.outputs_batch(x)
    assert got.shape == (len(x), 11)
    assert np.abs(got - expected).max() < 1e-5
    assert np.array_equal(got.argmax(1), expected.argmax(1))
    one = net.predict(x[3])  # the ten digit probabilities
    assert one.shape == (10,) and np.abs(one - split(expected)[0][3]).max() < 1e-5
    uint8 = net.outputs_batch((x[:8] * 255).round().astype(np.uint8))  # the store's test images
    assert np.abs(uint8 - expected[:8]).max() < 1e-2


def test_other_layers_match_keras() -> None:
    """Pooling (valid and same), batch norm with real statistics, rescaling, activations,
    a bias-free dense layer, a valid convolution, a separate softmax: all as Keras computes
    them at inference (dropout off)."""
    from app.core.tf import import_keras

    keras = import_keras()
    L = keras.layers
    inputs = keras.Input(shape=(28, 28, 1))
    x = L.Rescaling(2.0, offset=-1.0)(inputs)
    x = L.Conv2D(6, 3, padding="valid", activation="tanh")(x)  # 26x26
    x = L.BatchNormalization()(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)  # 13x13
    x = L.Conv2D(8, (2, 3), strides=(1, 2), padding="same")(x)
    x = L.ReLU(negative_slope=0.1)(x)
    x = L.AveragePooling2D(2)(x)  # valid
    x = L.MaxPooling2D(2, padding="valid")(x)
    x = L.SpatialDropout2D(0.3)(x)
    x = L.Flatten()(x)
    x = L.Dense(20, use_bias=False, activation="sigmoid")(x)
    x = L.Dropout(0.5)(x)
    x = L.Activation("elu")(x)
    x = L.Dense(10)(x)
    outputs = L.Softmax()(x)
    model = keras.Model(inputs, outputs)
    _jiggle(model, seed=1)
    # moving statistics that are not the initial 0/1
    bn = next(layer for layer in model.layers if isinstance(layer, L.BatchNormalization))
    gamma, beta, _mean, _var = bn.get_weights()
    bn.set_weights([gamma, beta, np.linspace(-0.3, 0.4, 6).astype(np.float32),
                    np.linspace(0.2, 2.0, 6).astype(np.float32)])
    x28 = _digits(32)
    expected = model(x28[..., None], training=False).numpy()
    got = _numpy_of(model).outputs_batch(x28)
    assert np.abs(got - expected).max() < 1e-5


def test_sequential_model_on_flat_pixels_and_logits() -> None:
    """A Sequential model taking 784 pixels and ending in logits: probabilities come out."""
    from app.core.tf import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    _jiggle(model, seed=2, scale=0.2)
    x = _digits(16)
    logits = model(x.reshape(-1, 784), training=False).numpy()
    got = _numpy_of(model).predict_batch(x)
    e = np.exp(logits - logits.max(1, keepdims=True))
    assert np.abs(got - e / e.sum(1, keepdims=True)).max() < 1e-5
    assert np.allclose(got.sum(1), 1.0, atol=1e-5)


def test_what_it_cannot_compute_is_refused_up_front() -> None:
    from app.core.tf import import_keras

    keras = import_keras()
    L = keras.layers
    inputs = keras.Input(shape=(28, 28))
    flat = L.Flatten()(inputs)
    a, b = L.Dense(16)(flat), L.Dense(16)(flat)
    branched = keras.Model(inputs, L.Dense(10, activation="softmax")(L.Add()([a, b])))
    with pytest.raises(UnsupportedModel, match=r"not a simple chain|not supported"):
        plan_of_keras(branched)

    ran: list[int] = []

    def side_effect(t: Any) -> Any:
        ran.append(1)
        return t

    lam = keras.Sequential([keras.Input(shape=(28, 28)), L.Lambda(side_effect), L.Flatten(),
                            L.Dense(10, activation="softmax")])
    ran.clear()
    with pytest.raises(UnsupportedModel, match="Lambda"):
        plan_of_keras(lam)
    assert not ran  # refused from its configuration: nothing from the model was run

    big = keras.Sequential([keras.Input(shape=(32, 32)), L.Flatten(), L.Dense(10, activation="softmax")])
    with pytest.raises(UnsupportedModel, match="28x28"):
        plan_of_keras(big)
    eight = keras.Sequential([keras.Input(shape=(28, 28)), L.Flatten(), L.Dense(8, activation="softmax")])
    with pytest.raises(UnsupportedModel, match="not 10"):
        _numpy_of(eight)
    odd = keras.Sequential([keras.Input(shape=(28, 28)), L.Flatten(),
                            L.Dense(10, activation="hard_silu")])
    with pytest.raises(UnsupportedModel, match="activation"):
        plan_of_keras(odd)
    with pytest.raises(UnsupportedModel, match="no layer list"):
        Plan.from_config({"config": {}})
    plan = plan_of_keras(build_model("mlp"))
    with pytest.raises(UnsupportedModel, match="unexpected weights"):
        plan.bind({"hidden": [np.zeros((784, 512), np.float32)]})  # the bias is missing


@needs_default_model
def test_shipped_model_agrees_with_keras_and_litert() -> None:
    """The shipped convnet's weights, snapshotted as Watch it learn does, give what Keras
    gives (and what LiteRT gives for its int8 .tflite, within the quantisation's error)."""
    from app.core.store import load_keras_model

    x = _digits(200)
    model = load_keras_model(DEFAULT / "model.keras")
    mine = _numpy_of(model).outputs_batch(x)
    keras_probs = np.asarray(model(x, training=False))
    assert np.abs(mine - keras_probs).max() < 1e-5
    lite = Predictor(DEFAULT / "model.tflite").outputs_batch(x)
    assert np.abs(mine - lite).max() < 0.05
    assert (mine.argmax(axis=1) == lite.argmax(axis=1)).all()


# ---------------------------------------------------------------------------- the live listener
class _Inner(TrainingListener):
    def __init__(self) -> None:
        self.batches = 0
        self.steps = 10

    def on_batch(self, epoch: int, step: int, steps_per_epoch: int, logs: dict[str, float]) -> None:
        self.batches += 1


def test_live_listener_hands_out_copies_of_the_weights_as_they_are_now() -> None:
    model = build_model("cnn-fast")
    _jiggle(model, seed=3)
    got: list[LiveWeights] = []
    inner = _Inner()
    listener = LiveExportListener(inner, got.append, every_batches=5, min_interval=0.0)
    listener.on_model(model)
    assert listener.plan is not None  # NumPy mode: no .tflite export
    listener.on_start(None, 2, 10)  # type: ignore[arg-type]
    for step in range(10):
        listener.on_batch(0, step, 10, {})
    assert inner.batches == 10  # everything is forwarded
    assert [(w.epoch, w.step, w.epoch_end, w.path) for w in got] == [(0, 4, False, None)]
    x = _digits(16)
    before = model(x, training=False).numpy()
    assert np.abs(got[0].predictor().outputs_batch(x) - before).max() < 1e-5
    assert got[0].anatomy is not None and got[0].anatomy.first is not None
    assert np.array_equal(got[0].anatomy.first.kernel, model.get_layer("conv1").get_weights()[0])
    # training goes on: the handed-out weights stay as they were; the next ones are new
    model.set_weights([w * 0.5 for w in model.get_weights()])
    assert np.abs(got[0].net.outputs_batch(x) - before).max() < 1e-5
    time.sleep(3 * got[0].seconds)  # hand-outs are spaced by three times their cost
    listener.on_epoch(0, {})
    assert len(got) == 2 and got[1].epoch_end and got[1].describe() == "epoch 1 done"
    after = model(x, training=False).numpy()
    assert np.abs(got[1].net.outputs_batch(x) - after).max() < 1e-5
    listener.on_epoch(1, {})  # the last epoch: its weights become the saved model anyway
    assert len(got) == 2


def test_live_listener_spacing_and_switch() -> None:
    model = build_model("mlp")
    got: list[LiveWeights] = []
    watching = [False]
    listener = LiveExportListener(_Inner(), got.append, every_batches=1, min_interval=3600.0,
                                  enabled=lambda: watching[0])
    listener.on_model(model)
    assert (listener.every, listener.min_interval) == (1, 3600.0)
    listener.on_start(None, 1, 100)  # type: ignore[arg-type]
    listener._last_end = float("-inf")  # as if the last snapshot was long ago
    for step in range(5):
        listener.on_batch(0, step, 100, {})
    assert got == []  # switched off
    watching[0] = True
    for step in range(5, 10):
        listener.on_batch(0, step, 100, {})
    assert len(got) == 1  # then at most one per min_interval
    defaults = LiveExportListener(_Inner(), got.append)
    defaults.on_model(model)
    import app.core.live as live

    assert (defaults.every, defaults.min_interval) == (live.EVERY_BATCHES, live.MIN_INTERVAL)
    exporting = LiveExportListener(_Inner(), got.append, use_numpy=False)
    exporting.on_model(model)
    assert exporting.plan is None
    assert (exporting.every, exporting.min_interval) == (live.EXPORT_EVERY_BATCHES, live.EXPORT_MIN_INTERVAL)
