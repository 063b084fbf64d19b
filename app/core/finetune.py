"""Fine-tune a model on the user's own handwriting without forgetting MNIST (Qt-free).

The personal samples (:mod:`app.core.samples`) are split into a training part and a
held-out part (stratified by digit where a digit has at least two samples). The training
set mixes MNIST with the personal training samples, oversampled so that they make up about
``personal_fraction`` of it (the set is shuffled each epoch, so each batch holds about that
share); this teaches the model the user's style while the MNIST majority keeps it from
forgetting everything else. Training itself is :func:`app.core.training.train` with
``initial_model=`` the loaded base model and a custom ``dataset=``.

Before and after, the model is measured on the held-out personal samples and on the MNIST
test set, so the user sees whether it learned (and what it cost). TensorFlow is imported
lazily (through :func:`train` and the store's loader).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from app.core.errors import TrainingError
from app.core.evaluation import Evaluation, KerasPredictor, evaluate_keras
from app.core.models import ARCHITECTURES, DEFAULT_ARCH
from app.core.training import TrainConfig, TrainingListener, model_meta, save_model, train
from app.core.verdict import THRESHOLD

# Of the mix, this share calibrates the fine-tuned model's confidence (and its verdict).
VALIDATION = 0.05
MIN_SAMPLES = 4  # fewer personal samples than this: nothing sensible to learn or measure


@dataclass
class FineTuneConfig:
    """How to fine-tune. ``None`` fields take defaults that depend on the base architecture."""

    epochs: int = 3
    batch_size: int = 64
    learning_rate: float | None = None  # None: Adam models 1/5 of their rate, SGD models theirs
    personal_fraction: float = 0.25  # share of personal samples in the training mix
    holdout: float = 0.25  # share of each digit's samples kept aside to measure
    mnist_images: int = 6000  # MNIST training images mixed in (the "do not forget" part)
    mnist_eval: int | None = None  # MNIST test images to measure on (None = all 10000)
    augment: bool = True  # random shifts/rotations/scale/stroke width (all images)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        if not 1 <= self.epochs <= 100:
            raise TrainingError("Fine-tuning epochs must be between 1 and 100.")
        if not 1 <= self.batch_size <= 4096:
            raise TrainingError("The fine-tuning batch size must be between 1 and 4096.")
        if not 0.0 < self.personal_fraction < 1.0:
            raise TrainingError("The share of personal samples must be between 0 and 1.")
        if not 0.0 <= self.holdout < 1.0:
            raise TrainingError("The held-out share must be between 0 and 1.")
        if not 0 <= self.mnist_images <= 60000:
            raise TrainingError("The number of MNIST images must be between 0 and 60000.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise TrainingError(f"The seed must be a whole number between 0 and {2**32 - 1}.")


@dataclass
class Scores:
    """Accuracy of one model on the held-out personal samples and on MNIST test images."""

    personal: float | None  # None when nothing was held out
    personal_count: int
    personal_predictions: list[int]
    mnist: float
    mnist_count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FineTuneResult:
    model: Any  # keras.Model (fine-tuned), None when cancelled before training
    base_name: str | None
    arch: str
    config: FineTuneConfig
    train_config: TrainConfig | None
    before: Scores
    after: Scores | None = None
    evaluation: Evaluation | None = None  # MNIST test evaluation of the fine-tuned model
    train_ids: list[int] = field(default_factory=list)
    holdout_ids: list[int] = field(default_factory=list)
    holdout_labels: list[int] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)
    cancelled: bool = False
    seconds: float = 0.0
    temperature: float = 1.0  # the calibration fitted after fine-tuning
    threshold: float = THRESHOLD

    def meta(self, trained_by: str) -> dict[str, Any]:
        """Metadata for the model store (base model, personal accuracy before and after …)."""
        after = self.after
        base_title = ARCHITECTURES[self.arch].title if self.arch in ARCHITECTURES else self.arch
        return model_meta(
            self.arch, f"{base_title}, fine-tuned on your handwriting",
            self.train_config.to_dict() if self.train_config else None, self.seconds, self.history,
            self.evaluation, trained_by, temperature=self.temperature, threshold=self.threshold,
            base_model=self.base_name,
            fine_tuned=True,
            finetune=self.config.to_dict(),
            personal_accuracy=None if after is None else after.personal,
            personal_accuracy_before=self.before.personal,
            personal_holdout_count=self.before.personal_count,
            personal_train_count=len(self.train_ids),
            personal_train_ids=list(self.train_ids),  # compared on the others (app.core.activation)
            mnist_accuracy_before=self.before.mnist,
        )


def split_holdout(y: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held out): about ``fraction`` of each digit's samples held out,
    at least one for every digit with two or more samples, never a digit's last one."""
    y = np.asarray(y).astype(np.int64).ravel()
    rng = np.random.default_rng(seed)
    train_idx: list[int] = []
    test_idx: list[int] = []
    if fraction <= 0:
        return np.arange(len(y)), np.zeros(0, np.int64)
    for d in range(10):
        idx = np.flatnonzero(y == d)
        if len(idx) == 0:
            continue
        idx = rng.permutation(idx)
        k = 0 if len(idx) < 2 else min(len(idx) - 1, max(1, round(len(idx) * fraction)))
        test_idx.extend(int(i) for i in idx[:k])
        train_idx.extend(int(i) for i in idx[k:])
    return np.array(sorted(train_idx), np.int64), np.array(sorted(test_idx), np.int64)


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    return np.argmax(KerasPredictor(model).predict_batch(x), axis=1)


def score(model: Any, x_personal: np.ndarray, y_personal: np.ndarray,
          x_mnist: np.ndarray, y_mnist: np.ndarray) -> Scores:
    """Accuracy of a Keras model on personal samples and MNIST images."""
    pp = _predict(model, x_personal)
    mp = _predict(model, x_mnist)
    personal = float((pp == np.asarray(y_personal)).mean()) if len(pp) else None
    return Scores(personal=personal, personal_count=len(pp), personal_predictions=[int(v) for v in pp],
                  mnist=float((mp == np.asarray(y_mnist)).mean()) if len(mp) else 0.0,
                  mnist_count=len(mp))


def mix(x_mnist: np.ndarray, y_mnist: np.ndarray, x_personal: np.ndarray, y_personal: np.ndarray,
        fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """MNIST plus the personal samples repeated until they are ``fraction`` of the whole;
    returns (x, y, number of personal images in it). Shuffled."""
    n_m, n_p = len(x_mnist), len(x_personal)
    if n_p == 0:
        raise TrainingError("There are no personal samples to learn from.")
    target = max(n_p, round(n_m * fraction / (1.0 - fraction))) if n_m else n_p
    rng = np.random.default_rng(seed)
    reps = math.ceil(target / n_p)
    pick = np.concatenate([rng.permutation(n_p) for _ in range(reps)])[:target]
    x = np.concatenate([np.asarray(x_mnist, np.uint8), np.asarray(x_personal, np.uint8)[pick]])
    y = np.concatenate([np.asarray(y_mnist, np.uint8), np.asarray(y_personal, np.uint8)[pick]])
    order = rng.permutation(len(x))
    return x[order], y[order], target


def fine_tune(base: Any, samples: tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Any],
              listener: TrainingListener | None = None, config: FineTuneConfig | None = None,
              mnist: Any = None, base_name: str | None = None, arch: str | None = None) -> FineTuneResult:
    """Fine-tune ``base`` (a store :class:`~app.core.store.ModelEntry` or a Keras model) on
    personal ``samples`` = (x (N, 28, 28) uint8, y (N,)[, ids]) mixed with MNIST.

    ``mnist`` defaults to the bundled MNIST (a ``load_mnist`` dataset). Returns
    ``cancelled=True`` when the listener asks to stop (nothing to save then).
    """
    started = time.perf_counter()
    listener = listener or TrainingListener()
    cfg = config or FineTuneConfig()
    cfg.validate()
    x_p = np.asarray(samples[0])
    y_p = np.asarray(samples[1]).astype(np.int64)
    ids = list(samples[2]) if len(samples) > 2 else list(range(len(x_p)))
    if len(x_p) < MIN_SAMPLES:
        raise TrainingError(f"Fine-tuning needs at least {MIN_SAMPLES} personal samples (you have "
                            f"{len(x_p)}). Draw digits and press the right key when the model "
                            "gets one wrong.")
    if x_p.shape[1:] != (28, 28) or len(y_p) != len(x_p):
        raise TrainingError("The personal samples must be 28x28 images with one label each.")

    if listener.should_stop():
        return FineTuneResult(model=None, base_name=base_name, arch=arch or DEFAULT_ARCH, config=cfg,
                              train_config=None, before=Scores(None, 0, [], 0.0, 0), cancelled=True,
                              seconds=time.perf_counter() - started)
    if hasattr(base, "load_keras"):  # a ModelEntry
        base_name = base_name or base.name
        arch = arch or base.arch
        listener.on_status(f"Loading {base.name} (TensorFlow)…")
        model = base.load_keras()
    else:
        model = base
    arch = arch or DEFAULT_ARCH
    if listener.should_stop():
        return FineTuneResult(model=None, base_name=base_name, arch=arch, config=cfg, train_config=None,
                              before=Scores(None, 0, [], 0.0, 0), cancelled=True,
                              seconds=time.perf_counter() - started)

    if mnist is None:
        listener.on_status("Loading MNIST…")
        from app.core.data import load_mnist

        mnist = load_mnist()
    (x_train, y_train), (x_test, y_test) = mnist
    rng = np.random.default_rng(cfg.seed)
    if cfg.mnist_eval is not None and cfg.mnist_eval < len(x_test):
        pick = np.sort(rng.choice(len(x_test), cfg.mnist_eval, replace=False))
        x_test, y_test = x_test[pick], y_test[pick]
    m_pick = rng.choice(len(x_train), min(cfg.mnist_images, len(x_train)), replace=False)
    x_m, y_m = x_train[m_pick], y_train[m_pick]

    tr, ho = split_holdout(y_p, cfg.holdout, cfg.seed)
    x_tr, y_tr, x_ho, y_ho = x_p[tr], y_p[tr], x_p[ho], y_p[ho]

    listener.on_status("Measuring the model before fine-tuning…")
    before = score(model, x_ho, y_ho, x_test, y_test)
    mine = "" if before.personal is None else \
        f"{before.personal * 100:.0f} % of your {before.personal_count} held-out samples, "
    listener.on_status(f"Before fine-tuning: {mine}{before.mnist * 100:.2f} % of {before.mnist_count} "
                       "MNIST test images.")
    if listener.should_stop():
        return FineTuneResult(model=None, base_name=base_name, arch=arch, config=cfg, train_config=None,
                              before=before, cancelled=True, seconds=time.perf_counter() - started)

    x_mix, y_mix, _n_personal = mix(x_m, y_m, x_tr, y_tr, cfg.personal_fraction, cfg.seed)
    opt_arch = arch if arch in ARCHITECTURES else DEFAULT_ARCH
    lr = cfg.learning_rate
    if lr is None:
        a = ARCHITECTURES[opt_arch]
        lr = a.learning_rate / 5.0 if a.optimizer == "adam" else a.learning_rate
    tcfg = TrainConfig(arch=opt_arch, epochs=cfg.epochs, batch_size=cfg.batch_size, learning_rate=lr,
                       augment=cfg.augment, limit=None, validation_split=VALIDATION, seed=cfg.seed,
                       base_model=base_name)
    result = train(tcfg, listener, dataset=((x_mix, y_mix), (x_test, y_test)), initial_model=model)
    common = dict(base_name=base_name, arch=arch, config=cfg, train_config=result.config, before=before,
                  train_ids=[int(ids[i]) for i in tr], holdout_ids=[int(ids[i]) for i in ho],
                  holdout_labels=[int(v) for v in y_ho], history=result.history)
    if result.cancelled:
        return FineTuneResult(model=result.model, cancelled=True, seconds=time.perf_counter() - started,
                              **common)  # type: ignore[arg-type]
    listener.on_status("Measuring the fine-tuned model…")
    ev = result.evaluation
    after = score(result.model, x_ho, y_ho, x_test[:0], y_test[:0])
    if ev is not None:
        after.mnist, after.mnist_count = ev.accuracy, ev.count
    else:  # pragma: no cover - train() evaluates unless cancelled
        ev = evaluate_keras(result.model, x_test, y_test)
        after.mnist, after.mnist_count = ev.accuracy, ev.count
    return FineTuneResult(model=result.model, after=after, evaluation=ev, temperature=result.temperature,
                          threshold=result.threshold,
                          seconds=time.perf_counter() - started, **common)  # type: ignore[arg-type]


def fine_tuned_name(store: Any, base_name: str | None) -> str:
    """A free store name for a model fine-tuned from ``base_name``: ``<base>-mine``,
    ``<base>-mine-2``… (fine-tuning a fine-tuned model gives ``default-mine-2``, not
    ``default-mine-mine``)."""
    import re

    stem = re.sub(r"-mine(-\d+)?$", "", base_name or DEFAULT_ARCH)
    return str(store.unique_name(f"{stem}-mine"))


def save_fine_tuned(store: Any, result: FineTuneResult, trained_by: str, activate: bool = True) -> Any:
    """Save a finished fine-tuning to ``store`` under :func:`fine_tuned_name`; returns the
    :class:`~app.core.store.ModelEntry` (made active unless ``activate`` is false)."""
    if result.cancelled or result.model is None or result.after is None:
        raise TrainingError("The fine-tuning did not finish; there is nothing to save.")
    entry = save_model(store, result.model, result.meta(trained_by),
                       name=fine_tuned_name(store, result.base_name), activate=activate)
    assert entry is not None  # (no should_stop)
    return entry
