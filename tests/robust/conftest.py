"""Fixtures shared by the robustness suite (issue 6: bad input, corrupt files, cancel/close).

Window tests use the shipped default model (``model_store/default``); store entries are
copies of it (no TensorFlow needed) unless a test needs a freshly saved one, which comes
from the session's one tiny trained model (``tiny_result`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core import paths
from app.core.store import DEFAULT_MODEL, ModelStore
from tests.conftest import model_meta

SHIPPED = paths.bundled_store_dir() / DEFAULT_MODEL


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_shipped(home: Path, name: str, activate: bool = False, checksums: bool = True) -> Path:
    """A copy of the shipped model as the user model ``name`` (with checksums in its
    metadata, as every model saved by this version has)."""
    dest = home / "models" / name
    shutil.copytree(SHIPPED, dest)
    meta = json.loads((dest / "meta.json").read_text(encoding="utf-8"))
    meta["name"] = name
    meta["files"] = {"keras": "model.keras", "tflite": "model.tflite"}
    if checksums:
        meta["sha256"] = {"keras": sha256(dest / "model.keras"), "tflite": sha256(dest / "model.tflite")}
    else:
        meta.pop("sha256", None)
    (dest / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    if activate:
        ModelStore(home=home).set_active(name)
    return dest


@pytest.fixture
def shipped_copy(digitpad_home: Path) -> Callable[..., Path]:
    """``shipped_copy(name, activate=False, checksums=True)`` -> the new entry's folder."""
    return lambda name, activate=False, checksums=True: copy_shipped(digitpad_home, name, activate,
                                                                     checksums)


@pytest.fixture(scope="session")
def saved_tiny_dir(tiny_result, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The session's tiny model written once as a store entry by ``write_model_dir``."""
    from app.core.store import write_model_dir

    return write_model_dir(tiny_result.model, model_meta(tiny_result),
                           tmp_path_factory.mktemp("robust-tiny") / "tiny")
