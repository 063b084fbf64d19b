"""Training: the one training function and the train-and-save use case.

It knows nothing of Qt. Progress goes to a :class:`TrainingListener` (per batch and per
epoch) and cancellation comes back through ``listener.should_stop()``, checked after
every batch (Keras' ``model.stop_training``), so Cancel takes effect within one batch.

TensorFlow is imported lazily, inside :func:`train`. :func:`train_and_save` is the use case
the window and the tools call: train, evaluate, build the metadata (:func:`model_meta`,
the one place that does) and save to the store. What it trains on (the split, the pen data
mixed in, the batches) is :mod:`app.core.training_data`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core import training_data
from app.core.errors import DigitPadError, TrainingError
from app.core.evaluation import Evaluation, evaluate_keras
from app.core.models import DEFAULT_ARCH, get_architecture
from app.core.pendata import CLASSES
from app.core.training_data import Dataset
from app.core.verdict import THRESHOLD, fit_calibration

if TYPE_CHECKING:
    from app.core.activation import ActivateMode, Outcome
    from app.core.store import ModelEntry, ModelStore

# A cross-entropy this large on ten classes means the weights have blown up.
DIVERGED_LOSS = 1000.0
# Judging the result: guessing scores a cross-entropy of ln 10 and 10 % accuracy; a trained
# model far worse than that on held-out images has diverged, whatever each batch said.
CHANCE_LOSS = math.log(10.0)
DIVERGED_RESULT_LOSS = 3.0 * CHANCE_LOSS
DIVERGED_RESULT_ACCURACY = 0.05
MAX_SEED = 2**32 - 1

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
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise TrainingError(f"the seed must be a whole number between 0 and {MAX_SEED} "
                                f"(got {self.seed!r}).")

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
class TrainResult:
    model: Any  # keras.Model
    config: TrainConfig
    history: dict[str, list[float]] = field(default_factory=dict)
    evaluation: Evaluation | None = None
    cancelled: bool = False
    epochs_completed: int = 0
    seconds: float = 0.0
    temperature: float = 1.0  # fitted on the validation split (1.0 without one)
    threshold: float = THRESHOLD  # the verdict's, fitted on the validation split

    def meta(self, trained_by: str, title: str | None = None, **extra: Any) -> dict[str, Any]:
        """The model store's metadata for this model; ``title`` defaults to the architecture's."""
        return model_meta(self.config.arch, title or get_architecture(self.config.arch).title,
                          self.config.to_dict(), self.seconds, self.history, self.evaluation,
                          trained_by, temperature=self.temperature, threshold=self.threshold,
                          **extra)


def diverged_result(history: dict[str, list[float]], evaluation: Evaluation) -> str | None:
    """Why a finished training is no model at all (its held-out loss or accuracy far worse
    than guessing), or None. Catches what per-batch checks miss: a run of one batch whose
    loss was fine before the step that blew the weights up."""
    val = history.get("val_loss") or []
    checks: list[tuple[str, float | None]] = [("validation loss", val[-1] if val else None),
                                              ("test loss", evaluation.loss)]
    for what, value in checks:
        if value is not None and (not math.isfinite(value) or value > DIVERGED_RESULT_LOSS):
            return f"the {what} is {value:.3g} after training (guessing scores {CHANCE_LOSS:.2f})"
    if evaluation.count and evaluation.accuracy < DIVERGED_RESULT_ACCURACY:
        return (f"it recognises only {100 * evaluation.accuracy:.1f} % of the test images "
                "(guessing scores 10 %)")
    return None


def model_meta(arch: str, title: str, training: dict[str, Any] | None, seconds: float,
               history: dict[str, list[float]], evaluation: Evaluation | None, trained_by: str,
               temperature: float = 1.0, threshold: float = THRESHOLD,
               **extra: Any) -> dict[str, Any]:
    """The one place that builds a trained model's metadata (``meta.json``; the store adds
    name, dates, checksums and sizes). ``extra`` holds what only some models have.
    ``temperature``, ``threshold``: the calibration of the model's confidence and verdict."""
    meta: dict[str, Any] = {
        "arch": arch,
        "title": title,
        "training": training,
        "seconds": round(seconds, 1),
        "history": history,
        "calibration": {"temperature": temperature, "threshold": threshold},
        **extra,
        "trained_by": trained_by,
    }
    if evaluation is not None:
        meta.update({"test_accuracy": evaluation.accuracy, "per_class_accuracy": evaluation.per_class,
                     "confusion": evaluation.confusion, "test_count": evaluation.count,
                     "not_a_digit": evaluation.not_a_digit})
    return meta


def validation_data(cfg: TrainConfig, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The validation split (with its pen images) that :func:`train` calibrates an
    11-output model on, for ``cfg`` (resolved) and ``dataset``."""
    _, _, x_val, y_val, _, _ = training_data.split(cfg, dataset, pen=True)
    return x_val, y_val


def validation_indices(cfg: TrainConfig, n: int) -> np.ndarray:
    """The indices of the ``n`` training images that :func:`train` holds out for ``cfg``
    (resolved): neither they nor their pen renderings are trained on."""
    return training_data.split_indices(cfg, n, np.random.default_rng(cfg.seed))[0]


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


def _one_hot_labels(cfg: TrainConfig, classes: int) -> int:
    """Label smoothing (in the architecture's recipe) trains on one-hot labels."""
    return classes if get_architecture(cfg.arch).label_smoothing > 0 else 0


def _outputs(model: Any) -> int:
    return int(model.outputs[0].shape[-1])


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

    from app.core.tf import import_keras, import_tf, tf_loaded

    if not tf_loaded():
        listener.on_status("Loading TensorFlow (the first time takes a few seconds)…")
    tf = import_tf()
    keras = import_keras()
    if listener.should_stop():
        return TrainResult(model=None, config=cfg, cancelled=True,
                           seconds=time.perf_counter() - started)
    listener.on_status("Building the model…")
    keras.utils.set_random_seed(cfg.seed)
    model = initial_model if initial_model is not None else get_architecture(cfg.arch).builder(keras)
    classes = _outputs(model)
    # Models with a "not a digit" output learn from the pen data too.
    x_tr, y_tr, x_val, y_val, x_test, y_test = training_data.split(cfg, dataset, pen=classes == CLASSES)

    steps = math.ceil(len(x_tr) / cfg.batch_size)
    one_hot = _one_hot_labels(cfg, classes)
    ds = training_data.batches(tf, x_tr, y_tr, cfg, one_hot)
    y_val_int = y_val
    if one_hot:
        y_val = np.eye(classes, dtype=np.float32)[y_val]
    val = (x_val, y_val) if len(x_val) else None

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
    temperature, threshold = 1.0, THRESHOLD
    if len(x_val):
        listener.on_status("Calibrating…")
        outputs = model.predict(x_val, batch_size=1000, verbose=0)
        temperature, threshold = fit_calibration(outputs, y_val_int)
    listener.on_status("Evaluating on the test set…")
    evaluation = evaluate_keras(model, x_test, y_test, temperature, threshold)
    why = diverged_result(history, evaluation)
    if why is not None:
        raise TrainingError(f"Training diverged: {why}. Try a lower learning rate or a smaller "
                            "batch size. The previous model is unchanged.")
    return TrainResult(model=model, config=cfg, history=history, evaluation=evaluation,
                       epochs_completed=done, seconds=time.perf_counter() - started,
                       temperature=temperature, threshold=threshold)


@dataclass(frozen=True)
class SavedModel:
    """A trained model now in the store."""

    name: str
    meta: dict[str, Any]  # as saved (with the store's additions)
    evaluation: Evaluation | None
    outcome: Outcome | None = None  # put in use or not, and why (app.core.activation)


def save_model(store: ModelStore, model: Any, meta: dict[str, Any], name: str | None = None,
               activate: bool = True, should_stop: Callable[[], bool] | None = None) -> ModelEntry | None:
    """Save ``model`` in ``store`` (atomically, with checksums) and make it active if asked.

    When ``should_stop()`` turns true while saving (Cancel pressed in the last second),
    the new entry is removed again and None is returned: a cancel keeps nothing.
    """
    entry = store.save(model, meta, name=name)
    if should_stop is not None and should_stop():
        with contextlib.suppress(DigitPadError):
            store.delete(entry.name)
        return None
    if activate:
        store.set_active(entry.name)
    return entry


def save_trained(store: ModelStore, result: TrainResult, trained_by: str, *, name: str | None = None,
                 title: str | None = None, activate: bool | ActivateMode = "if-better",
                 current: str | None = None, should_stop: Callable[[], bool] | None = None,
                 **extra: Any) -> SavedModel | None:
    """Save a finished training with its metadata (:meth:`TrainResult.meta`) and put it in
    use as ``activate`` says (default: only if at least as good as ``current``, the model in
    use; :func:`app.core.activation.settle`). None if stopped while saving (see :func:`save_model`)."""
    from app.core.activation import settle_saved

    if result.cancelled or result.model is None or result.evaluation is None:
        raise TrainingError("The training did not finish; there is nothing to save.")
    if current is None:
        with contextlib.suppress(DigitPadError):
            current = store.active_name()
    entry = save_model(store, result.model, result.meta(trained_by, title, **extra), name=name,
                       activate=False, should_stop=should_stop)
    if entry is None:
        return None
    outcome = settle_saved(store, entry.name, activate, current)
    return SavedModel(entry.name, dict(entry.meta), result.evaluation, outcome)


def train_and_save(config: TrainConfig | None, listener: TrainingListener | None, store: ModelStore,
                   trained_by: str, *, dataset: Dataset | None = None, name: str | None = None,
                   title: str | None = None, activate: bool | ActivateMode = "if-better",
                   current: str | None = None, **extra: Any) -> SavedModel | None:
    """Train (:func:`train`), evaluate and save in ``store``: the window's and the tools' use
    case. Returns None when the listener cancelled; nothing is saved then."""
    listener = listener or TrainingListener()
    store.check_writable()  # a read-only store is found out now, not after training
    result = train(config, listener, dataset=dataset)
    if result.cancelled or listener.should_stop():
        return None
    listener.on_status("Saving the model…")
    return save_trained(store, result, trained_by, name=name, title=title, activate=activate,
                        current=current, should_stop=listener.should_stop, **extra)
