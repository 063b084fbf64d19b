"""Evaluating a model: the confusion arithmetic, any predictor in cancellable chunks, a
Keras model behind the same interface."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.evaluation import KerasPredictor, evaluate_keras, evaluate_predictions, evaluate_predictor


def test_evaluate_predictions() -> None:
    ev = evaluate_predictions(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]))
    assert ev.accuracy == pytest.approx(4 / 6)
    assert ev.per_class[:3] == [0.5, 1.0, pytest.approx(2 / 3)]
    assert ev.confusion[0][:3] == [1, 1, 0] and ev.confusion[2][:3] == [1, 0, 2]
    assert ev.count == 6


class _ByBrightness:
    """Predicts the digit written as the image's mean brightness (0..9); records its calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(len(x))
        digits = np.asarray(x, np.float64).reshape(len(x), -1).mean(axis=1).round().astype(int)
        return np.eye(10, dtype=np.float32)[digits]


def test_evaluate_predictor_in_chunks_with_the_probabilities() -> None:
    y = np.arange(1200) % 10
    x = np.repeat(y.astype(np.uint8), 784).reshape(-1, 28, 28)
    x[:100] = 0  # the first 100 images all read as 0: 90 wrong
    predictor = _ByBrightness()
    run = evaluate_predictor(predictor, (x, y), chunk=500)
    assert run is not None
    assert predictor.calls == [500, 500, 200]
    assert run.probabilities.shape == (1200, 10)
    assert run.evaluation.count == 1200 and run.evaluation.accuracy == pytest.approx(1110 / 1200)
    assert run.evaluation.confusion[3][0] == 10 and run.evaluation.confusion[0][0] == 120


def test_evaluate_predictor_stops_between_chunks() -> None:
    y = np.zeros(2000, np.int64)
    x = np.zeros((2000, 28, 28), np.uint8)
    predictor = _ByBrightness()
    run = evaluate_predictor(predictor, (x, y), should_stop=lambda: len(predictor.calls) >= 2)
    assert run is None and len(predictor.calls) == 2


def test_keras_predictor_takes_uint8_or_float_and_empty_batches(tiny_result) -> None:  # type: ignore[no-untyped-def]
    from app.core.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    keras_pred = KerasPredictor(tiny_result.model)
    as_uint8 = keras_pred.predict_batch(x_test[:20])
    as_float = keras_pred.predict_batch(x_test[:20].astype(np.float32) / 255.0)
    assert as_uint8.shape == (20, 10) and np.abs(as_uint8 - as_float).max() < 1e-5
    assert keras_pred.predict_batch(x_test[:0]).shape == (0, 10)
    assert np.abs(keras_pred.predict(x_test[0] / 255.0) - as_float[0]).max() < 1e-5
    ev = evaluate_keras(tiny_result.model, x_test[:1000], y_test[:1000])
    assert ev.count == 1000 and ev.accuracy > 0.5
