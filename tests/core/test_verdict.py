"""Calibration and verdict: temperature scaling, ECE, the split into digits and "not a digit"."""

from __future__ import annotations

import numpy as np

from app.core.verdict import (
    DIGIT,
    FALSE_REJECT,
    NOT_DIGIT,
    calibrate,
    calibration_of,
    doubt_of,
    ece,
    fit_doubt_calibration,
    fit_temperature,
    fit_threshold,
    split,
    verdict_of,
)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _overconfident(n: int = 4000, true_t: float = 2.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Outputs whose labels are drawn from softmax(logits / true_t), shown as softmax(logits)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, 11))
    honest = _softmax(logits / true_t)
    labels = np.array([rng.choice(11, p=p) for p in honest])
    return _softmax(logits), labels


def test_fit_temperature_recovers_the_overconfidence_and_lowers_ece() -> None:
    probs, labels = _overconfident()
    t = fit_temperature(probs, labels)
    assert 2.1 < t < 2.9
    before, after = ece(probs, labels), ece(calibrate(probs, t), labels)
    assert after < before / 2


def test_temperature_one_changes_nothing_and_keeps_the_order() -> None:
    probs, _ = _overconfident(50)
    assert np.array_equal(calibrate(probs, 1.0), probs)
    warm = calibrate(probs, 3.0)
    assert np.allclose(warm.sum(axis=1), 1.0)
    assert np.array_equal(warm.argmax(axis=1), probs.argmax(axis=1))
    assert (warm.max(axis=1) < probs.max(axis=1)).all()


def test_split_renormalises_the_digits_and_reads_the_eleventh_output() -> None:
    p = np.array([[0.1, 0.1] + [0.0] * 8 + [0.8], [0.5, 0.5] + [0.0] * 8 + [0.0]])
    digits, other = split(p)
    assert np.allclose(digits[0, :2], [0.5, 0.5]) and np.allclose(digits.sum(axis=1), 1.0)
    assert other.tolist() == [0.8, 0.0]
    ten = np.eye(10)[:3]
    d10, o10 = split(ten)  # a ten-output model never says "not a digit"
    assert np.array_equal(d10, ten) and o10.tolist() == [0.0, 0.0, 0.0]
    assert verdict_of(0.8) == NOT_DIGIT and verdict_of(0.2) == DIGIT


def test_calibration_of_reads_the_metadata_and_ignores_nonsense() -> None:
    assert calibration_of({}) == (1.0, 0.5)
    assert calibration_of({"calibration": {"temperature": 0.7, "threshold": 0.6}}) == (0.7, 0.6)
    assert calibration_of({"calibration": {"temperature": -3, "threshold": "x"}}) == (1.0, 0.5)
    assert calibration_of({"calibration": "hot"}) == (1.0, 0.5)


def test_fit_threshold_keeps_the_held_out_digits_false_rejects_to_the_target() -> None:
    rng = np.random.default_rng(4)
    n = 2000
    other = np.concatenate([rng.beta(1, 30, n), rng.beta(30, 2, 500)])  # digits, then non-digits
    labels = np.concatenate([rng.integers(0, 10, n), np.full(500, 10)])
    p = np.zeros((len(labels), 11))
    p[:, 10] = other
    p[np.arange(len(labels)), np.minimum(labels, 9)] += 1 - other
    t = fit_threshold(p, labels, false_reject=0.01)
    assert 0.05 <= t < 0.5
    assert (other[:n] >= t).mean() <= 0.011  # about 1 % of the digits called "not a digit"
    assert (other[n:] >= t).mean() > 0.99
    assert fit_threshold(p[:, :10], labels) == 0.5  # a ten-output model: the default
    assert fit_threshold(p[n:], labels[n:]) == 0.5  # no digits held out: the default


def test_a_ten_output_model_reads_its_doubt_only_when_calibrated_for_it() -> None:
    p = np.array([[0.9, 0.1] + [0.0] * 8, [0.3, 0.3, 0.4] + [0.0] * 7])
    assert split(p)[1].tolist() == [0.0, 0.0]  # no doubt: never "not a digit"
    digits, doubt = split(p, doubt=True)
    assert np.allclose(doubt, [0.1, 0.6]) and np.array_equal(digits, p)
    eleven = np.array([[0.1] * 10 + [0.0]])
    eleven[0, 10], eleven[0, 0] = 0.7, 0.0
    assert split(eleven, doubt=True)[1].tolist() == [0.7]  # an 11th output is read as it is
    assert doubt_of({"calibration": {"temperature": 1.2, "threshold": 0.3, "score": "doubt"}})
    assert not doubt_of({"calibration": {"temperature": 1.2, "threshold": 0.3}}) and not doubt_of({})


def test_fit_doubt_calibration_separates_unsure_non_digits_from_sure_digits() -> None:
    rng = np.random.default_rng(5)
    n, m = 3000, 600
    labels = np.concatenate([rng.integers(0, 10, n), np.full(m, 10)])
    logits = rng.normal(0, 0.5, (n + m, 10))  # non-digits: no clear winner
    winner = np.where(rng.random(n) < 0.03, rng.integers(0, 10, n), labels[:n])  # 3 % misread
    logits[np.arange(n), winner] += rng.uniform(4, 10, n)  # digits: one clear winner
    out = _softmax(logits)
    t, thr = fit_doubt_calibration(out, labels)
    assert 0.2 < t < 5 and 0.05 <= thr < 0.9
    _, doubt = split(calibrate(out, t), doubt=True)
    assert (doubt[:n] >= thr).mean() <= FALSE_REJECT + 0.001  # at most that share of the digits rejected
    assert (doubt[n:] >= thr).mean() > 0.9  # most unsure drawings rejected
