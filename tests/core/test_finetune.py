"""Fine-tuning pieces that need no TensorFlow: the stratified hold-out, the MNIST mix, the
checks before any work. (Fine-tuning itself, with the accuracy rising on held-out personal
samples, is tested through the window in tests/ui/test_learning.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import TrainingError
from app.core.finetune import MIN_SAMPLES, FineTuneConfig, fine_tune, mix, split_holdout
from app.core.training import TrainingListener


def test_holdout_is_stratified_and_keeps_every_digit_in_training() -> None:
    y = np.array([0] * 8 + [1] * 4 + [2] * 2 + [3] * 1 + [7] * 5)
    tr, ho = split_holdout(y, 0.25, seed=3)
    assert sorted(np.concatenate([tr, ho]).tolist()) == list(range(len(y)))
    assert np.bincount(y[ho], minlength=10).tolist() == [2, 1, 1, 0, 0, 0, 0, 1, 0, 0]
    assert set(y[tr].tolist()) == {0, 1, 2, 3, 7}  # no digit loses all its training samples
    tr2, ho2 = split_holdout(y, 0.25, seed=3)
    assert tr2.tolist() == tr.tolist() and ho2.tolist() == ho.tolist()  # reproducible
    assert len(split_holdout(y, 0.0)[1]) == 0


def test_mix_oversamples_personal_samples_to_the_chosen_share() -> None:
    xm, ym = np.zeros((600, 28, 28), np.uint8), np.zeros(600, np.uint8)
    xp = np.full((7, 28, 28), 255, np.uint8)
    yp = np.arange(1, 8, dtype=np.uint8)
    x, y, n = mix(xm, ym, xp, yp, 0.25, seed=0)
    assert n == 200 and len(x) == 800
    personal = x[:, 0, 0] == 255
    assert personal.sum() == 200 and abs(personal.mean() - 0.25) < 1e-9
    counts = np.bincount(y[personal], minlength=10)[1:8]
    assert counts.min() >= 28 and counts.max() <= 29  # each sample repeated evenly
    assert not np.all(personal[:200])  # shuffled, not appended


def test_too_few_samples_or_cancel_stop_before_any_work() -> None:
    x = np.zeros((MIN_SAMPLES - 1, 28, 28), np.uint8)
    with pytest.raises(TrainingError, match="at least"):
        fine_tune(object(), (x, np.zeros(len(x))), config=FineTuneConfig())

    class Stop(TrainingListener):
        def should_stop(self) -> bool:
            return True

    x = np.zeros((8, 28, 28), np.uint8)
    res = fine_tune(object(), (x, np.arange(8) % 4), Stop(), FineTuneConfig())
    assert res.cancelled and res.model is None
    with pytest.raises(TrainingError):
        FineTuneConfig(personal_fraction=1.0).validate()


def test_a_fine_tuned_model_keeps_its_not_a_digit_output_and_is_calibrated_again(tiny_result) -> None:  # type: ignore[no-untyped-def]
    """Fine-tuning mixes in the pen data too (so "not a digit" is not forgotten) and fits a
    new temperature; the metadata keeps it. Personal samples are digits, whatever the
    model said about them."""
    from app.core.data import load_mnist
    from app.core.tf import import_keras

    base = import_keras().models.clone_model(tiny_result.model)  # (the fixture stays as it is)
    base.set_weights(tiny_result.model.get_weights())
    (x_train, y_train), (x_test, y_test) = load_mnist()
    mnist = ((x_train[:400], y_train[:400]), (x_test[:300], y_test[:300]))
    x_p, y_p = x_train[1000:1040], y_train[1000:1040]
    res = fine_tune(base, (x_p, y_p), config=FineTuneConfig(epochs=1, mnist_images=400),
                    mnist=mnist, base_name="tiny", arch="mlp")
    assert not res.cancelled and res.model.output_shape == (None, 11)
    meta = res.meta("test")
    assert meta["calibration"]["temperature"] == res.temperature and 0.2 < res.temperature < 5.0
    assert 0 <= meta["not_a_digit"] <= 300
