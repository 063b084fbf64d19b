"""Measuring a model on labelled images: accuracy, per-class accuracy and confusion matrix.

One implementation for every front: :func:`evaluate_predictor` runs any
:class:`~app.core.inference.DigitPredictor` (LiteRT :class:`~app.core.inference.Predictor`,
the NumPy network, or a Keras model wrapped in :class:`KerasPredictor`) over a test set, in
chunks so that a caller can cancel between them; the digit read is the most probable of
the ten (calibrated), and the digits its verdict calls "not a digit" are counted.
TensorFlow is needed only for a Keras model, never imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from app.core.inference import DigitPredictor, softmax_if_needed
from app.core.verdict import NOT_DIGIT, THRESHOLD

CHUNK = 500  # images per predict_batch call: cancel takes effect within one chunk


class BatchPredictor(Protocol):
    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        """(N, 28, 28) images, uint8 0..255 or float 0..1 -> (N, 10) probabilities.
        (A DigitPredictor's ``read_batch`` and ``verdict`` are used when it has them.)"""
        ...


@dataclass
class Evaluation:
    accuracy: float
    per_class: list[float]
    confusion: list[list[int]]  # confusion[true][predicted]
    count: int
    loss: float | None = None  # mean cross-entropy, where the probabilities were at hand
    not_a_digit: int = 0  # digits the model called "not a digit"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvaluationRun:
    """An :class:`Evaluation` and the probabilities behind it (one row per test image)."""

    evaluation: Evaluation
    probabilities: np.ndarray  # (N, 10) float32


def as_float(x: np.ndarray) -> np.ndarray:
    """Images as float32 in [0, 1] (uint8 images are scaled)."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    return x.astype(np.float32, copy=False)


class KerasPredictor(DigitPredictor):
    """A Keras model behind the predictor interface (the caller has TensorFlow)."""

    CHUNK = 10000

    def __init__(self, model: Any, name: str = "") -> None:
        self.model = model
        self.name = name

    def _run(self, x: np.ndarray) -> np.ndarray:
        arr = x.reshape((-1, *tuple(self.model.input_shape[1:])))
        return softmax_if_needed(np.asarray(self.model.predict(arr, batch_size=1000, verbose=0),
                                             dtype=np.float32))


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


def evaluate_predictor(predictor: BatchPredictor, dataset: tuple[np.ndarray, np.ndarray],
                       should_stop: Callable[[], bool] | None = None,
                       chunk: int = CHUNK) -> EvaluationRun | None:
    """Evaluate ``predictor`` on ``dataset`` = (images (N, 28, 28), labels (N,)).

    Returns None when ``should_stop()`` turns true between two chunks.
    """
    x, y = dataset
    parts, others = [], []
    for i in range(0, len(x), chunk):
        if should_stop is not None and should_stop():
            return None
        if isinstance(predictor, DigitPredictor):
            probs, other = predictor.read_batch(x[i:i + chunk])
            others.append(np.asarray(other))
        else:
            probs = predictor.predict_batch(x[i:i + chunk])
        parts.append(np.asarray(probs, dtype=np.float32))
    probs = np.concatenate(parts) if parts else np.zeros((0, 10), np.float32)
    evaluation = evaluate_predictions(y, np.argmax(probs, axis=1))
    evaluation.loss = cross_entropy(probs, y)
    if isinstance(predictor, DigitPredictor) and others:
        evaluation.not_a_digit = sum(predictor.verdict(float(o)) == NOT_DIGIT
                                     for o in np.concatenate(others))
    return EvaluationRun(evaluation, probs)


def cross_entropy(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of (N, 10) outputs (probabilities, or logits turned into them);
    NaN when the outputs are not finite."""
    p = np.asarray(probs, dtype=np.float64).reshape(len(y), -1)
    if len(p) == 0:
        return 0.0
    if not np.all(np.isfinite(p)):
        return float("nan")
    if p.min() < 0.0 or np.abs(p.sum(axis=1) - 1.0).max() > 1e-3:
        e = np.exp(p - p.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    picked = p[np.arange(len(p)), np.asarray(y).astype(np.int64).ravel()]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


def evaluate_keras(model: Any, x: np.ndarray, y: np.ndarray, temperature: float = 1.0,
                   threshold: float = THRESHOLD) -> Evaluation:
    """Evaluate a Keras model on uint8 or float images (N, 28, 28), its confidence and
    verdict calibrated with ``temperature`` and ``threshold``."""
    run = evaluate_predictor(KerasPredictor(model).calibrated(temperature, threshold), (x, y),
                             chunk=max(1, len(x)))
    assert run is not None  # nothing can stop it
    return run.evaluation
