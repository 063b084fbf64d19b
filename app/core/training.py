"""The one training function, used by the window, the CLI and the tools.

It knows nothing of Qt. Progress goes to a :class:`TrainingListener` (per batch and per
epoch) and cancellation comes back through ``listener.should_stop()``, checked after
every batch (Keras' ``model.stop_training``), so Cancel takes effect within one batch.

TensorFlow is imported lazily, inside :func:`train` and :func:`evaluate_keras`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from app.core.errors import TrainingError
from app.core.models import DEFAULT_ARCH, get_architecture

Dataset = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# A cross-entropy this large on ten classes means the weights have blown up.
DIVERGED_LOSS = 1000.0

# Bounds on the settings a user may choose (the Retrain dialog and the CLI use these).
LIMITS = {
    "epochs": (1, 200),
    "batch_size": (1, 8192),
    "learning_rate": (1e-6, 1000.0),
    "limit": (10, 60000),
}


@dataclass
class TrainConfig:
    """What to train. ``None`` fields take the architecture's defaults."""

    arch: str = DEFAULT_ARCH
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    augment: bool | None = None
    limit: int | None = None  # use only the first N training images (shuffled subset)
    validation_split: float = 0.1
    seed: int = 0
    base_model: str | None = None  # name of a model this one was fine-tuned from

    def resolved(self) -> TrainConfig:
        """A copy with every default filled in and every value checked."""
        arch = get_architecture(self.arch)
        cfg = TrainConfig(
            arch=arch.name,
            epochs=arch.epochs if self.epochs is None else int(self.epochs),
            batch_size=arch.batch_size if self.batch_size is None else int(self.batch_size),
            learning_rate=(
                arch.learning_rate if self.learning_rate is None else float(self.learning_rate)
            ),
            augment=arch.augment if self.augment is None else bool(self.augment),
            limit=None if self.limit is None else int(self.limit),
            validation_split=float(self.validation_split),
            seed=int(self.seed),
            base_model=self.base_model,
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def check(name: str, value: float | None) -> None:
            if value is None:
                return
            lo, hi = LIMITS[name]
            if not (lo <= value <= hi) or (isinstance(value, float) and not math.isfinite(value)):
                raise TrainingError(f"{name.replace('_', ' ')} must be between {lo:g} and {hi:g} "
                                    f"(got {value:g}).")

        check("epochs", self.epochs)
        check("batch_size", self.batch_size)
        check("learning_rate", self.learning_rate)
        check("limit", self.limit)
        if not 0.0 <= self.validation_split < 0.5:
            raise TrainingError("validation split must be between 0 and 0.5.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainingListener:
    """Receives progress from :func:`train`. Subclass and override what you need.

    All methods are called on the training thread.
    """

    def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
        """Training is about to start (TensorFlow is loaded, data is ready)."""

    def on_model(self, model: Any) -> None:
        """The Keras model about to be trained (just before :meth:`on_start`); tools and
        benchmarks may evaluate it from :meth:`on_batch`. Do not change it."""

    def on_batch(self, epoch: int, step: int, steps_per_epoch: int, logs: dict[str, float]) -> None:
        """Batch ``step`` (0-based) of ``epoch`` (0-based) finished."""

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """Epoch ``epoch`` (0-based) finished; logs include val_* when validating."""

    def on_status(self, text: str) -> None:
        """A short human-readable note ("Loading TensorFlow…", "Evaluating…")."""

    def should_stop(self) -> bool:
        """Return True to cancel; checked after every batch."""
        return False


@dataclass
class Evaluation:
    accuracy: float
    per_class: list[float]
    confusion: list[list[int]]  # confusion[true][predicted]
    count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    model: Any  # keras.Model
    config: TrainConfig
    history: dict[str, list[float]] = field(default_factory=dict)
    evaluation: Evaluation | None = None
    cancelled: bool = False
    epochs_completed: int = 0
    seconds: float = 0.0


def evaluate_predictions(y_true: np.ndarray, y_pred: np.ndarray) -> Evaluation:
    """Accuracy, per-class accuracy and confusion matrix from labels (pure NumPy)."""
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    totals = confusion.sum(axis=1)
    per_class = np.divide(
        np.diag(confusion), totals, out=np.zeros(10, dtype=np.float64), where=totals > 0
    )
    acc = float((y_true == y_pred).mean()) if len(y_true) else 0.0
    return Evaluation(
        accuracy=acc,
        per_class=[float(v) for v in per_class],
        confusion=confusion.tolist(),
        count=len(y_true),
    )


def evaluate_keras(model: Any, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Evaluate a Keras model on uint8 or float images (N, 28, 28)."""
    probs = model.predict(_as_float(x), batch_size=1000, verbose=0)
    return evaluate_predictions(y, np.argmax(probs, axis=1))


def _as_float(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    return x.astype(np.float32, copy=False)


def _split(cfg: TrainConfig, data: Dataset) -> tuple[np.ndarray, ...]:
    (x_train, y_train), (x_test, y_test) = data
    rng = np.random.default_rng(cfg.seed)
    idx = rng.permutation(len(x_train))
    if cfg.limit is not None:
        idx = idx[: cfg.limit]
    n_val = round(len(idx) * cfg.validation_split)
    val_idx, tr_idx = idx[:n_val], idx[n_val:]
    if len(tr_idx) == 0:
        raise TrainingError("No training images left: raise the limit or lower the validation split.")
    x_tr = x_train[tr_idx]  # uint8 stays uint8 (4x smaller); batches are scaled on the fly
    if x_tr.dtype != np.uint8:
        x_tr = _as_float(x_tr)
    return (
        x_tr, np.asarray(y_train[tr_idx], dtype=np.int32),
        _as_float(x_train[val_idx]), np.asarray(y_train[val_idx], dtype=np.int32),
        x_test, y_test,
    )


def _batches(tf: Any, x: np.ndarray, y: np.ndarray, cfg: TrainConfig, one_hot: bool) -> Any:
    """The training batches: a new shuffle every epoch, float32 in [0, 1], augmented if asked.

    Only the indices go through the shuffle buffer; each batch is then gathered at once
    from the (uint8) images and scaled (batch before map: per-image work in tf.data costs
    more than the small network's training step). ``one_hot``: labels as (N, 10) rows.
    """
    assert cfg.batch_size is not None
    images, labels = tf.constant(x), tf.constant(y)
    scale = 1.0 / 255.0 if x.dtype == np.uint8 else 1.0

    def load(idx: Any) -> tuple[Any, Any]:
        batch = tf.cast(tf.gather(images, idx), tf.float32)
        if scale != 1.0:
            batch = batch * scale
        target = tf.gather(labels, idx)
        return batch, (tf.one_hot(target, 10) if one_hot else target)

    ds = tf.data.Dataset.range(len(x))
    ds = ds.shuffle(len(x), seed=cfg.seed, reshuffle_each_iteration=True)
    ds = ds.batch(cfg.batch_size).map(load)
    if cfg.augment:
        ds = ds.map(_augment_fn(tf, cfg.seed), num_parallel_calls=1)
    # Endless (a new shuffle each pass), so that Keras keeps one iterator for the whole
    # fit (with steps_per_epoch): a new iterator every epoch retraces the train step.
    # No autotuning (nothing here is tunable): its background thread sleeps for up to a
    # minute between rounds, and deleting the iterator at the end of fit waited for it.
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.repeat().prefetch(2).with_options(options)


def _augment_fn(tf: Any, seed: int) -> Any:
    """Random affine (shift ±2.5 px, rotation ±12°, scale 0.9–1.1) and stroke thickness."""

    def augment(x: Any, y: Any) -> tuple[Any, Any]:
        n = tf.shape(x)[0]
        angle = tf.random.uniform([n], -0.21, 0.21)
        scale = tf.random.uniform([n], 0.9, 1.1)
        tx = tf.random.uniform([n], -2.5, 2.5)
        ty = tf.random.uniform([n], -2.5, 2.5)
        cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
        c = 13.5  # rotate/scale about the centre; output->input mapping
        a0, a1 = cos, -sin
        b0, b1 = sin, cos
        a2 = c - a0 * c - a1 * c - tx
        b2 = c - b0 * c - b1 * c - ty
        zeros = tf.zeros([n])
        transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        img = x[..., None]
        img = tf.raw_ops.ImageProjectiveTransformV3(
            images=img, transforms=transforms, output_shape=[28, 28],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT",
        )
        # stroke thickness: a third thicker (dilate), a third thinner (erode), a third as is
        choice = tf.random.uniform([n, 1, 1, 1], 0, 3, dtype=tf.int32)
        thick = tf.nn.max_pool2d(img, 2, 1, "SAME")
        thin = -tf.nn.max_pool2d(-img, 2, 1, "SAME")
        img = tf.where(choice == 1, thick, tf.where(choice == 2, thin, img))
        return img[..., 0], y

    return augment


def _make_listener_callback(keras: Any, listener: TrainingListener, steps: int) -> Any:
    class ListenerCallback(keras.callbacks.Callback):
        """Reports to a Qt-free listener; stops within one batch on cancel or NaN loss."""

        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0
            self.cancelled = False
            self.nan_at: tuple[int, int] | None = None
            self.bad_loss = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch = epoch

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            clean = {k: float(v) for k, v in (logs or {}).items()}
            loss = clean.get("loss")
            if loss is not None and (not math.isfinite(loss) or loss > DIVERGED_LOSS):
                self.nan_at = (self.epoch, batch)
                self.bad_loss = loss
                self.model.stop_training = True
                return
            listener.on_batch(self.epoch, batch, steps, clean)
            if listener.should_stop():
                self.cancelled = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if self.cancelled or self.nan_at is not None:
                return
            listener.on_epoch(epoch, {k: float(v) for k, v in (logs or {}).items()})

    return ListenerCallback()


def compile_model(model: Any, cfg: TrainConfig, total_steps: int) -> None:
    keras = import_keras_lazy()
    arch = get_architecture(cfg.arch)
    assert cfg.learning_rate is not None, "call compile_model with a resolved config"
    lr: Any = cfg.learning_rate
    if arch.schedule == "cosine":
        warmup = max(1, min(total_steps // 10, 300))
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=float(cfg.learning_rate) / 10.0,
            decay_steps=max(1, total_steps - warmup),
            alpha=0.01,
            warmup_target=float(cfg.learning_rate),
            warmup_steps=warmup,
        )
    if arch.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=lr)
    else:
        opt = keras.optimizers.Adam(learning_rate=lr)
    loss: Any = "sparse_categorical_crossentropy"
    if arch.label_smoothing:  # needs one-hot labels: see _one_hot_labels
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=arch.label_smoothing)
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])


def _one_hot_labels(cfg: TrainConfig) -> bool:
    """Label smoothing (in the architecture's recipe) trains on one-hot labels."""
    return get_architecture(cfg.arch).label_smoothing > 0


def import_keras_lazy() -> Any:
    from app.core.tf import import_keras

    return import_keras()


def train(
    config: TrainConfig | None = None,
    listener: TrainingListener | None = None,
    dataset: Dataset | None = None,
    initial_model: Any = None,
) -> TrainResult:
    """Train a model; evaluate it on the test set unless cancelled.

    ``dataset`` defaults to the bundled MNIST. ``initial_model`` (a Keras model) is
    trained further instead of a fresh one (fine-tuning). Raises :class:`TrainingError`
    for bad settings or a diverging loss; returns ``cancelled=True`` when stopped.
    """
    listener = listener or TrainingListener()
    cfg = (config or TrainConfig()).resolved()
    assert cfg.epochs is not None and cfg.batch_size is not None
    started = time.perf_counter()

    if dataset is None:
        listener.on_status("Loading MNIST…")
        from app.core.data import load_mnist

        dataset = load_mnist()
    x_tr, y_tr, x_val, y_val, x_test, y_test = _split(cfg, dataset)

    listener.on_status("Loading TensorFlow…")
    from app.core.tf import import_keras, import_tf

    tf = import_tf()
    keras = import_keras()
    if listener.should_stop():
        return TrainResult(model=None, config=cfg, cancelled=True,
                           seconds=time.perf_counter() - started)
    keras.utils.set_random_seed(cfg.seed)

    steps = math.ceil(len(x_tr) / cfg.batch_size)
    one_hot = _one_hot_labels(cfg)
    ds = _batches(tf, x_tr, y_tr, cfg, one_hot)
    if one_hot:
        y_val = np.eye(10, dtype=np.float32)[y_val]
    val = (x_val, y_val) if len(x_val) else None

    model = initial_model if initial_model is not None else get_architecture(cfg.arch).builder(keras)
    compile_model(model, cfg, steps * cfg.epochs)
    cb = _make_listener_callback(keras, listener, steps)
    listener.on_model(model)
    listener.on_start(cfg, cfg.epochs, steps)
    listener.on_status("Training…")
    hist = model.fit(ds, epochs=cfg.epochs, steps_per_epoch=steps, validation_data=val, verbose=0,
                     callbacks=[cb], shuffle=False, validation_batch_size=1000)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    done = len(history.get("loss", []))
    if cb.nan_at is not None:
        e, b = cb.nan_at
        what = "became NaN" if not math.isfinite(cb.bad_loss) else f"exploded to {cb.bad_loss:.3g}"
        raise TrainingError(
            f"Training diverged: the loss {what} in epoch {e + 1}, batch {b + 1}. "
            "Try a lower learning rate. The previous model is unchanged."
        )
    if cb.cancelled:
        return TrainResult(model=model, config=cfg, history=history, cancelled=True,
                           epochs_completed=done, seconds=time.perf_counter() - started)
    listener.on_status("Evaluating on the test set…")
    evaluation = evaluate_keras(model, x_test, y_test)
    return TrainResult(model=model, config=cfg, history=history, evaluation=evaluation,
                       epochs_completed=done, seconds=time.perf_counter() - started)
