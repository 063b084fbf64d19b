"""From a model's outputs to what DigitPad shows: ten digit probabilities and a verdict.

DigitPad's models have eleven outputs: the ten digits and "not a digit" (trained on
generated non-digit drawings, see ``app.core.pendata``). Imported ten-output models have
no such output: their verdict reads the *doubt* instead, one minus the top calibrated digit
probability, against a threshold fitted on held-out digits when the model was imported
(``app.core.doubt``); without one their verdict is always "digit".

Honest confidence: the outputs are calibrated by temperature scaling (one temperature per
model, fitted on held-out data after training, kept in the model's metadata) before the
ten digit probabilities are taken (renormalised among the digits). Qt-free, NumPy only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.core.pendata import NOT_A_DIGIT

DIGIT, NOT_DIGIT, EMPTY = "digit", "not a digit", "empty"
THRESHOLD = 0.5  # calibrated P(not a digit) from which the verdict says so (at most)
DOUBT = "doubt"  # calibration "score" of a ten-output model whose verdict reads the doubt
MAX_DOUBT = 0.9  # the doubt of ten equal digit probabilities: a threshold there rejects nothing
FALSE_REJECT = 0.008  # share of held-out digits the fitted threshold may call "not a digit"
_TINY = 1e-12


def calibrate(probs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax outputs (N, K) rescaled by ``temperature`` (their logits divided by it)."""
    p = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0:
        return p
    logits = np.log(np.maximum(p, _TINY)) / temperature
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


def split(probs: np.ndarray, doubt: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated outputs (N, 10 or 11) -> (digit probabilities (N, 10), P(not a digit) (N,)).

    A ten-output model has no P(not a digit): 0, or with ``doubt`` the score that stands in
    for it, one minus the top digit probability."""
    p = np.asarray(probs, dtype=np.float64)
    digits = p[:, :10]
    total = digits.sum(axis=1, keepdims=True)
    digits = np.divide(digits, total, out=np.full_like(digits, 0.1), where=total > 0)
    if p.shape[1] > NOT_A_DIGIT:
        other = p[:, NOT_A_DIGIT]
    else:
        other = 1.0 - digits.max(axis=1) if doubt else np.zeros(len(p))
    return digits, other


def verdict_of(not_digit: float, threshold: float = THRESHOLD) -> str:
    return NOT_DIGIT if not_digit >= threshold else DIGIT


def nll(probs: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = calibrate(probs, temperature)
    picked = p[np.arange(len(labels)), np.asarray(labels, np.int64)]
    return float(-np.log(np.maximum(picked, _TINY)).mean())


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` (held-out
    data) under ``probs`` (N, K): a coarse log grid, then a golden-section refinement."""
    if len(labels) == 0:
        return 1.0
    grid = np.exp(np.linspace(math.log(0.2), math.log(5.0), 25))
    best = float(grid[int(np.argmin([nll(probs, labels, t) for t in grid]))])
    lo, hi = best / 1.15, best * 1.15
    g = (math.sqrt(5) - 1) / 2
    for _ in range(25):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(probs, labels, a) < nll(probs, labels, b):
            hi = b
        else:
            lo = a
    return round((lo + hi) / 2, 4)


def fit_threshold(calibrated: np.ndarray, labels: np.ndarray, false_reject: float = FALSE_REJECT) -> float:
    """The verdict's threshold on P(not a digit), from held-out data: the lowest that calls
    at most ``false_reject`` of the held-out digits "not a digit", and never above
    :data:`THRESHOLD` (so a drawing the model finds more likely not a digit is called so)."""
    p = np.asarray(calibrated)
    digits = np.asarray(labels) != NOT_A_DIGIT
    if p.ndim != 2 or p.shape[1] <= NOT_A_DIGIT or not digits.any():
        return THRESHOLD
    return _lowest_threshold(p[digits, NOT_A_DIGIT], THRESHOLD, false_reject)


def _lowest_threshold(digit_scores: np.ndarray, cap: float, false_reject: float = FALSE_REJECT) -> float:
    """The lowest threshold on a "not a digit" score that calls at most ``false_reject`` of
    the held-out digits (their ``digit_scores``) "not a digit", between 0.05 and ``cap``."""
    t = float(np.quantile(digit_scores, 1.0 - false_reject))
    return round(min(cap, max(0.05, t)), 4)


def fit_calibration(outputs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(temperature, threshold) fitted on a model's outputs for held-out data."""
    t = fit_temperature(outputs, labels)
    return t, fit_threshold(calibrate(outputs, t), labels)


def fit_doubt_calibration(outputs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(temperature, threshold on the doubt) for a ten-output model, from its outputs for
    held-out digits and non-digits (label :data:`NOT_A_DIGIT`): the temperature fitted on
    the digits; the threshold the lowest doubt that calls at most :data:`FALSE_REJECT` of
    the held-out digits "not a digit" (a model unsure of many digits gets a high one, and
    calls few drawings "not a digit")."""
    out, y = np.asarray(outputs), np.asarray(labels)
    digits = y != NOT_A_DIGIT
    if not digits.any():
        return 1.0, MAX_DOUBT
    t = fit_temperature(out[digits], y[digits])
    _, doubt = split(calibrate(out[digits], t), doubt=True)
    return t, _lowest_threshold(doubt, MAX_DOUBT)


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top class: the gap between confidence and
    accuracy, averaged over equal-width confidence bins weighted by their size."""
    p = np.asarray(probs, dtype=np.float64)
    if len(p) == 0:
        return 0.0
    conf = p.max(axis=1)
    right = (p.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += m.sum() * abs(conf[m].mean() - right[m].mean())
    return total / len(p)


def doubt_of(meta: dict[str, Any]) -> bool:
    """Whether a model's metadata says its verdict reads the doubt (a ten-output model
    calibrated by :func:`fit_doubt_calibration`)."""
    cal = meta.get("calibration")
    return isinstance(cal, dict) and cal.get("score") == DOUBT


def calibration_of(meta: dict[str, Any]) -> tuple[float, float]:
    """(temperature, threshold) recorded in a model's metadata (1.0 and the default if none)."""
    cal = meta.get("calibration")
    t, thr = 1.0, THRESHOLD
    if isinstance(cal, dict):
        tv, hv = cal.get("temperature"), cal.get("threshold")
        if isinstance(tv, (int, float)) and 0.05 <= tv <= 20:
            t = float(tv)
        if isinstance(hv, (int, float)) and 0 < hv < 1:
            thr = float(hv)
    return t, thr
