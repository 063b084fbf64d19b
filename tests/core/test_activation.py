"""A new model replaces the one in use only when at least as good (app.core.activation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.activation import Comparison, Outcome, Standing, compare, settle
from app.core.errors import DigitPadError
from app.core.store import ModelStore


def test_comparison_rules() -> None:
    cur = Standing("default", "CNN", 0.9956)
    assert not Comparison(Standing("new", "MLP", 0.563), cur).at_least_as_good()
    assert Comparison(Standing("new", "MLP", 0.9956), cur).at_least_as_good()  # equal is enough
    assert Comparison(Standing("new", "MLP", 0.997), cur).at_least_as_good()
    assert Comparison(Standing("new", "MLP", 0.5), None).at_least_as_good()  # nothing in use
    # personal samples count too: better on MNIST, worse on the user's drawings -> not better
    mine = Standing("mine", "CNN", 0.990, personal=0.9, personal_count=10)
    assert not Comparison(Standing("new", "CNN", 0.995, 0.5, 10), mine).at_least_as_good()
    assert Comparison(Standing("new", "CNN", 0.995, 0.9, 10), mine).at_least_as_good()
    # an unknown accuracy is no evidence either way
    assert not Comparison(Standing("new", "MLP", None), cur).at_least_as_good()
    text = Comparison(Standing("new", "MLP", 0.563), cur).text()
    assert text == "New: MLP, 56.30 % — In use: default, 99.56 %"
    # measured on 100 of the test images against all of them: not comparable, even at 100 %
    lucky = Comparison(Standing("new", "CNN", 1.0, tested=100), cur)
    assert not lucky.comparable() and not lucky.at_least_as_good()
    assert lucky.text() == "New: CNN, 100.00 % on 100 test images — In use: default, 99.56 %"
    kept = Outcome("new", False, lucky, "if-better").text()
    assert "not in use because it was measured on other test images; still using 'default'" in kept
    worse = Outcome("new", False, Comparison(Standing("new", "CNN", 0.98, tested=100), cur), "if-better")
    assert "not in use because it is not as good" in worse.text()
    few = Standing("few", "CNN", 0.99, tested=100)
    assert Comparison(Standing("new", "CNN", 0.99, tested=100), few).at_least_as_good()


def test_settle_modes(store: ModelStore, saved) -> None:  # type: ignore[no-untyped-def]
    """`saved` ("tiny", a small MLP) against the shipped default (better)."""
    assert store.active_name() == "default"
    kept = settle(store, saved.name, "if-better")
    assert not kept.activated and store.active_name() == "default"
    assert "not as good; still using 'default'" in kept.text()
    shipped = store.get("default").test_accuracy
    assert f"In use: default, {shipped * 100:.2f} %" in kept.text()
    never = settle(store, saved.name, "never")
    assert not never.activated and store.active_name() == "default"
    forced = settle(store, saved.name, "always")
    assert forced.activated and store.active_name() == saved.name
    assert forced.text() == f"{saved.name!r} is now the model in use."
    # now the worse one is in use: the shipped one is at least as good and replaces it
    back = settle(store, "default", "if-better")
    assert back.activated and store.active_name() == "default"
    with pytest.raises(DigitPadError, match="--activate"):
        settle(store, saved.name, "sometimes")  # type: ignore[arg-type]


def test_personal_samples_compared_on_those_neither_model_learned(store: ModelStore, saved,
                                                                   tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (12, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 12)
    ids = list(range(100, 112))
    c = compare(store, saved.name, "default", (x, y, ids))
    assert c.current is not None and c.new.personal_count == 12 == c.current.personal_count
    assert c.new.personal is not None and c.current.personal is not None
    assert "your drawings" in c.text()
