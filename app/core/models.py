"""The registry of network architectures DigitPad can train.

Each architecture takes a (N, 28, 28) float32 batch in [0, 1] and returns (N, 11)
softmax probabilities (ten digits, then "not a digit"), so every model DigitPad makes has
the same interface.

TensorFlow/Keras is imported only inside :func:`build_model`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.pendata import CLASSES

DEFAULT_ARCH = "cnn-fast"  # what the Train button, TrainConfig() and `digitpad train` use


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    description: str
    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str  # "sgd" or "adam"
    schedule: str  # "constant" or "cosine"
    augment: bool
    builder: Callable[[Any], Any]  # keras module -> uncompiled keras.Model
    label_smoothing: float = 0.0  # cross-entropy against (1 - s) * one-hot + s / 10
    pen_share: float = 0.85  # pen images mixed in per MNIST training image, at most


def _build_mlp(keras: Any) -> Any:
    """The classic Keras MNIST network: 784 -> Dense 512 sigmoid -> Dense 10 softmax."""
    inputs = keras.Input(shape=(28, 28), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(512, activation="sigmoid", name="hidden")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mlp")


def _build_cnn(keras: Any) -> Any:
    """A small, fast convnet: strided convolutions instead of pooling, then a dense layer."""
    L = keras.layers
    inputs = keras.Input(shape=(28, 28), name="image")
    x = L.Reshape((28, 28, 1), name="add_channel")(inputs)
    x = L.Conv2D(16, 5, strides=2, padding="same", activation="relu", name="conv1")(x)  # 14x14
    x = L.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)  # 14x14
    x = L.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="conv3")(x)  # 7x7
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(128, activation="relu", name="dense")(x)
    x = L.Dropout(0.25, name="dropout")(x)
    outputs = L.Dense(CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="cnn")


def _build_fast_cnn(keras: Any) -> Any:
    """The default: a smaller convnet, sized by measurement (bench/RESULTS.md) to pass 99 %
    on the MNIST test set in three short epochs on two CPU cores: two strided
    convolutions (a fifth of the MACs of "cnn"), no dropout (a short recipe needs none)."""
    L = keras.layers
    inputs = keras.Input(shape=(28, 28), name="image")
    x = L.Reshape((28, 28, 1), name="add_channel")(inputs)
    x = L.Conv2D(16, 5, strides=2, padding="same", activation="relu", name="conv1")(x)  # 14x14
    x = L.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv2")(x)  # 7x7
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(128, activation="relu", name="dense")(x)
    outputs = L.Dense(CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="cnn_fast")


def _build_large_cnn(keras: Any) -> Any:
    """A larger convnet: five 3x3 convolutions (two with stride 2 instead of pooling),
    each normalised (batch-norm) before its ReLU, then Dense 128 and dropout. About five
    times the multiply-adds of "cnn", for the strokes people draw with a mouse."""
    L = keras.layers
    inputs = keras.Input(shape=(28, 28), name="image")
    x = L.Reshape((28, 28, 1), name="add_channel")(inputs)
    for i, (filters, stride) in enumerate(((32, 1), (32, 2), (64, 1), (64, 2), (128, 1)), 1):
        x = L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = L.BatchNormalization(name=f"norm{i}")(x)
        x = L.Activation("relu", name=f"relu{i}")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(128, activation="relu", name="dense")(x)
    x = L.Dropout(0.3, name="dropout")(x)
    outputs = L.Dense(CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="cnn_large")


ARCHITECTURES: dict[str, Architecture] = {
    "cnn-fast": Architecture(
        name="cnn-fast",
        title="Fast convnet (default)",
        description="Two strided convolutions (5x5 with 16 filters, 3x3 with 32), Dense 128, "
        "softmax. Three epochs of Adam (warm-up, then cosine decay from 0.01) with label "
        "smoothing: about 99.1-99.2 % on MNIST in some 15 seconds on two CPU cores.",
        epochs=3,
        batch_size=128,
        learning_rate=1e-2,
        optimizer="adam",
        schedule="cosine",
        augment=False,
        builder=_build_fast_cnn,
        label_smoothing=0.1,
    ),
    "mlp": Architecture(
        name="mlp",
        title="Classic MLP (Dense 512 sigmoid)",
        description="The classic Keras MNIST example: Dense 512 sigmoid -> Dense 10 softmax, "
        "plain SGD (learning rate 0.01), batch 200, 20 epochs; about 89 % on MNIST.",
        epochs=20,
        batch_size=200,
        learning_rate=0.01,
        optimizer="sgd",
        schedule="constant",
        augment=False,
        builder=_build_mlp,
    ),
    "cnn": Architecture(
        name="cnn",
        title="Convnet (three convolutions)",
        description="Three convolutions (two with stride 2 instead of pooling), Dense 128, "
        "softmax. Adam with a warm-up and cosine learning-rate "
        "schedule; about 99.0 % in three epochs (some 45 s on two CPU cores).",
        epochs=3,
        batch_size=128,
        learning_rate=3e-3,
        optimizer="adam",
        schedule="cosine",
        augment=False,
        builder=_build_cnn,
    ),
    "cnn-large": Architecture(
        name="cnn-large",
        title="Larger convnet (five convolutions)",
        description="Five 3x3 convolutions (32, 32, 64, 64, 128 filters, two with stride 2) "
        "with batch normalisation, Dense 128, dropout, softmax: the shipped model's layers; "
        "about five times the work of the Convnet. Adam with a warm-up and cosine schedule, "
        "augmented, on all the pen-like renderings of the digits and the non-digit drawings.",
        epochs=3,
        batch_size=128,
        learning_rate=3e-3,
        optimizer="adam",
        schedule="cosine",
        augment=True,
        builder=_build_large_cnn,
        pen_share=1.5,
    ),
}


def short_title(title: str) -> str:
    """A title without its details: "Fast convnet (default)" -> "Fast convnet" (for names
    and labels where the details do not fit)."""
    return re.sub(r"\s*\([^)]*\)", "", title.split(",")[0])


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        from app.core.errors import TrainingError

        raise TrainingError(f"Unknown architecture {name!r}; choose one of: {known}.") from None


def build_model(name: str) -> Any:
    """Build the (uncompiled) Keras model of architecture ``name``."""
    arch = get_architecture(name)
    from app.core.tf import import_keras

    return arch.builder(import_keras())
