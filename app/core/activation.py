"""Whether a new model replaces the one in use (Qt-free).

A newly trained or fine-tuned model becomes the model in use at once only when it is at
least as good as the model in use: on the MNIST test set (the whole set for both, or the
same number of its images), and on the user's personal samples where there are any (those
neither model was trained on). Otherwise it stays in
the store and the front asks ("New: MLP, 56.30 % — In use: default, 99.56 %"); the
window's default answer and the CLI's default (``--activate if-better``) keep the model
in use. Accuracies on personal samples are measured with each model's ``.tflite``
(LiteRT, no TensorFlow).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from app.core.errors import DigitPadError, ModelError

if TYPE_CHECKING:
    from app.core.store import ModelEntry, ModelStore

log = logging.getLogger(__name__)

ActivateMode = Literal["always", "if-better", "never"]
ACTIVATE_MODES: tuple[ActivateMode, ...] = ("always", "if-better", "never")
# Accuracies closer than this count as equal (float noise; a test set of 10 000 images
# moves in steps of 0.0001).
EPSILON = 1e-9
MNIST_TEST = 10_000  # images in the MNIST test set

Personal = tuple[np.ndarray, np.ndarray, list[int]]  # images (N, 28, 28), labels (N,), sample ids


@dataclass(frozen=True)
class Standing:
    """How good one model is: MNIST test accuracy and accuracy on personal samples."""

    name: str
    title: str
    mnist: float | None
    personal: float | None = None
    personal_count: int = 0
    tested: int | None = None  # MNIST test images the accuracy was measured on (None: all)

    def text(self, label: str | None = None) -> str:
        """``MLP, 56.30 %`` (+ ``, your drawings 8/10``); ``label`` replaces the title."""
        acc = "accuracy unknown" if self.mnist is None else f"{self.mnist * 100:.2f} %"
        if self.mnist is not None and self.tested is not None:
            acc += f" on {self.tested} test images"
        mine = ""
        if self.personal is not None and self.personal_count:
            right = round(self.personal * self.personal_count)
            mine = f", your drawings {right}/{self.personal_count}"
        return f"{label or self.title}, {acc}{mine}"


@dataclass(frozen=True)
class Comparison:
    new: Standing
    current: Standing | None  # None: no model was in use

    def at_least_as_good(self) -> bool:
        """True when the new model is not worse on anything both were measured on (and an
        unknown accuracy of the model in use is not evidence that the new one is better)."""
        return self.current is None or (self.comparable() and not self.looks_worse())

    def comparable(self) -> bool:
        """False when both MNIST accuracies are known but were measured on different numbers
        of test images (a fine-tune measured on a few hundred): neither is then evidence."""
        cur = self.current
        return cur is None or cur.mnist is None or self.new.mnist is None or self.new.tested == cur.tested

    def looks_worse(self) -> bool:
        """The new model scored lower on MNIST or on the user's drawings (on whatever test
        images each was measured), or nothing says it is as good."""
        cur = self.current
        if cur is None:
            return False
        if cur.mnist is not None and (self.new.mnist is None or self.new.mnist < cur.mnist - EPSILON):
            return True
        if cur.mnist is None and self.new.mnist is None:
            return True
        return cur.personal is not None and self.new.personal is not None \
            and self.new.personal < cur.personal - EPSILON

    def text(self) -> str:
        """``New: MLP, 56.30 % — In use: default, 99.56 %``."""
        cur = "none" if self.current is None else self.current.text(self.current.name)
        return f"New: {self.new.text()} — In use: {cur}"


@dataclass(frozen=True)
class Outcome:
    """What happened to a new model: made active or kept aside (with the comparison)."""

    name: str
    activated: bool
    comparison: Comparison
    mode: ActivateMode

    def text(self) -> str:
        """One sentence for the user (the CLI prints it; the window shows it)."""
        cur = self.comparison.current
        if self.activated:
            why = " (at least as good as the model in use)" if self.mode == "if-better" else ""
            return f"{self.name!r} is now the model in use{why}."
        kept = "no model" if cur is None else repr(cur.name)
        why = "" if self.mode == "never" else " because it is not as good"
        if self.mode != "never" and not self.comparison.looks_worse():
            why = " because it was measured on other test images"
        return (f"{self.name!r} is saved but not in use{why}; still using {kept}. "
                f"{self.comparison.text()}")


def check_mode(mode: str) -> ActivateMode:
    if mode not in ACTIVATE_MODES:
        raise DigitPadError(f"--activate must be one of {', '.join(ACTIVATE_MODES)} (got {mode!r}).")
    return mode


def _short_title(entry: ModelEntry) -> str:
    title = str(entry.meta.get("title") or entry.arch or entry.name)
    return re.sub(r"\s*\([^)]*\)", "", title.split(",")[0]).strip() or entry.name


def _tested(entry: ModelEntry) -> int | None:
    """How many MNIST test images the model's accuracy was measured on, when fewer than all
    (``digitpad finetune --mnist-test N``); None for the whole test set or when unknown."""
    n = entry.meta.get("test_count")
    return int(n) if isinstance(n, int) and not isinstance(n, bool) and 0 < n < MNIST_TEST else None


def _trained_on(entry: ModelEntry) -> set[int]:
    ids = entry.meta.get("personal_train_ids")
    return {int(i) for i in ids} if isinstance(ids, list) else set()


def _personal_accuracy(entry: ModelEntry, x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) == 0:
        return None
    try:
        probs = entry.predictor().predict_batch(x)
    except (DigitPadError, ValueError, OSError):
        log.warning("cannot measure %s on the personal samples", entry.name, exc_info=True)
        return None
    return float((np.argmax(probs, axis=1) == np.asarray(y)).mean())


def compare(store: ModelStore, new_name: str, current_name: str | None,
            personal: Personal | None = None) -> Comparison:
    """Measure the new model against the model in use (``current_name``; None: none).

    ``personal``: the user's samples; each model is measured on those that neither model
    was trained on (``personal_train_ids`` in their metadata).
    """
    new = store.get(new_name)
    cur = store.get(current_name) if current_name is not None and current_name in store else None
    p_new: float | None = None
    p_cur: float | None = None
    count = 0
    if personal is not None and cur is not None and len(personal[0]):
        x, y, ids = personal
        used = _trained_on(new) | _trained_on(cur)
        keep = np.array([int(i) not in used for i in ids], dtype=bool)
        if keep.any():
            xs, ys = np.asarray(x)[keep], np.asarray(y)[keep]
            p_new, p_cur = _personal_accuracy(new, xs, ys), _personal_accuracy(cur, xs, ys)
            count = int(keep.sum())
            if p_new is None or p_cur is None:
                p_new = p_cur = None
                count = 0
    new_standing = Standing(new.name, _short_title(new), new.test_accuracy, p_new, count, _tested(new))
    cur_standing = None if cur is None else Standing(cur.name, _short_title(cur), cur.test_accuracy,
                                                     p_cur, count, _tested(cur))
    return Comparison(new_standing, cur_standing)


def settle(store: ModelStore, new_name: str, mode: ActivateMode, current_name: str | None = None,
           personal: Personal | None = None) -> Outcome:
    """Make ``new_name`` the model in use if ``mode`` says so ("always"; "if-better": only when
    at least as good as ``current_name``, default the store's active model; "never")."""
    mode = check_mode(mode)
    if current_name is None:
        try:
            current_name = store.active_name()
        except ModelError:
            current_name = None
    if current_name == new_name:
        current_name = None
    comparison = compare(store, new_name, current_name, personal)
    activate = mode == "always" or (mode == "if-better" and comparison.at_least_as_good())
    if activate:
        store.set_active(new_name)
    return Outcome(new_name, activate, comparison, mode)


def settle_saved(store: ModelStore, name: str, activate: bool | ActivateMode,
                 current: str | None) -> Outcome:
    """:func:`settle` for a model just saved: ``activate`` True/False mean always/never;
    "if-better" compares on the user's personal samples too, where there are any."""
    mode: ActivateMode = activate if isinstance(activate, str) else ("always" if activate else "never")
    personal = personal_samples(store.home) if mode == "if-better" else None
    return settle(store, name, mode, current_name=current, personal=personal)


def personal_samples(home: Any = None) -> Personal | None:
    """The user's personal samples (None when there are none or they cannot be read)."""
    from app.core.samples import SampleStore

    try:
        samples = SampleStore(home)
        if len(samples) == 0:
            return None
        x, y = samples.arrays()
        return np.asarray(x), np.asarray(y), list(samples.ids())
    except DigitPadError:
        log.warning("cannot read the personal samples", exc_info=True)
        return None
