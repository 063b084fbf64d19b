"""Fixtures shared by the core tests: a model store in a fresh home, and a tiny trained model
saved in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.store import ModelStore


@pytest.fixture()
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(home=tmp_path / "home")


@pytest.fixture()
def saved(store: ModelStore, tiny_result):  # type: ignore[no-untyped-def]
    return store.save(tiny_result.model, tiny_result.meta("tests"), name="tiny")
