"""What a training trains on: the training/validation split of MNIST with the pen data mixed
in, and the tf.data pipeline of batches (shuffled, scaled, augmented) that feeds Keras.
TensorFlow comes in as an argument (imported by the caller, inside :func:`app.core.training.train`)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from app.core import pendata
from app.core.errors import TrainingError
from app.core.evaluation import as_float
from app.core.models import get_architecture

Dataset = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class Recipe(Protocol):
    """What the data depends on (a resolved :class:`app.core.training.TrainConfig` has it)."""

    @property
    def arch(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def limit(self) -> int | None: ...
    @property
    def validation_split(self) -> float: ...
    @property
    def batch_size(self) -> int | None: ...
    @property
    def augment(self) -> bool | None: ...


def split_indices(cfg: Recipe, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    idx = rng.permutation(n)
    if cfg.limit is not None:
        idx = idx[: cfg.limit]
    n_val = round(len(idx) * cfg.validation_split)
    return idx[:n_val], idx[n_val:]


def split(cfg: Recipe, data: Dataset, pen: bool = False) -> tuple[np.ndarray, ...]:
    """Training and validation data (uint8 training images). ``pen``: with the pen
    renderings and non-digit drawings of ``app.core.pendata`` (at most the architecture's
    ``pen_share`` per MNIST image; the renderings of validation images stay out of training)."""
    (x_train, y_train), (x_test, y_test) = data
    rng = np.random.default_rng(cfg.seed)
    val_idx, tr_idx = split_indices(cfg, len(x_train), rng)
    if len(tr_idx) == 0:
        raise TrainingError("No training images left: raise the limit or lower the validation split.")
    x_tr = x_train[tr_idx]  # uint8 stays uint8 (4x smaller); batches are scaled on the fly
    y_tr = np.asarray(y_train[tr_idx], dtype=np.int32)
    x_val, y_val = as_float(x_train[val_idx]), np.asarray(y_train[val_idx], dtype=np.int32)
    if pen:
        px, py, pvx, pvy = pendata.split(val_idx)
        share = get_architecture(cfg.arch).pen_share
        pick = rng.permutation(len(px))[: round(share * len(tr_idx))]
        px, py = px[pick], py[pick]
        pick = rng.permutation(len(pvx))[: round(share * len(val_idx))]
        pvx, pvy = pvx[pick], pvy[pick]
        if x_tr.dtype != np.uint8:
            x_tr = np.round(np.clip(x_tr, 0.0, 1.0) * 255.0).astype(np.uint8)
        x_tr, y_tr = np.concatenate([x_tr, px]), np.concatenate([y_tr, py.astype(np.int32)])
        x_val = np.concatenate([x_val, as_float(pvx)])
        y_val = np.concatenate([y_val, pvy.astype(np.int32)])
    if x_tr.dtype != np.uint8:
        x_tr = as_float(x_tr)
    return x_tr, y_tr, x_val, y_val, x_test, y_test


def batches(tf: Any, x: np.ndarray, y: np.ndarray, cfg: Recipe, one_hot: int) -> Any:
    """The training batches: a new shuffle every epoch, float32 in [0, 1], augmented if asked.

    Only the indices go through the shuffle buffer; each batch is then gathered at once
    from the (uint8) images and scaled (batch before map: per-image work in tf.data costs
    more than the small network's training step). ``one_hot``: labels as rows of this many
    classes (0: as integers).
    """
    assert cfg.batch_size is not None
    images, labels = tf.constant(x), tf.constant(y)
    scale = 1.0 / 255.0 if x.dtype == np.uint8 else 1.0

    def load(idx: Any) -> tuple[Any, Any]:
        batch = tf.cast(tf.gather(images, idx), tf.float32)
        if scale != 1.0:
            batch = batch * scale
        target = tf.gather(labels, idx)
        return batch, (tf.one_hot(target, one_hot) if one_hot else target)

    ds = tf.data.Dataset.range(len(x))
    ds = ds.shuffle(len(x), seed=cfg.seed, reshuffle_each_iteration=True)
    ds = ds.batch(cfg.batch_size).map(load)
    if cfg.augment:
        ds = ds.map(augment_fn(tf, cfg.seed), num_parallel_calls=1)
    # Endless (a new shuffle each pass), so that Keras keeps one iterator for the whole
    # fit (with steps_per_epoch): a new iterator every epoch retraces the train step.
    # No autotuning (nothing here is tunable): its background thread sleeps for up to a
    # minute between rounds, and deleting the iterator at the end of fit waited for it.
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.repeat().prefetch(2).with_options(options)


def augment_fn(tf: Any, seed: int) -> Any:
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
