"""Architecture rules import-linter cannot check: TensorFlow is imported only inside functions,
the start/predict path runs without it, the tools and benchmarks never lean on the tests,
and no module or class grows past what a newcomer can read.
(The layers, such as a Qt-free core, are import-linter contracts in pyproject.toml, run by
.ci/run.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "app" / "core"


def test_core_and_ui_import_tensorflow_only_inside_functions() -> None:
    """A module-level `import tensorflow`/`keras` would put TF on the start-up path."""
    bad = []
    fronts = [*(ROOT / "app" / "ui").rglob("*.py"), *(ROOT / "app" / "cli").rglob("*.py")]
    for p in [*CORE.rglob("*.py"), *fronts]:
        if not p.exists():
            continue
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in tree.body:  # top level only
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            if any(m.split(".")[0] in {"tensorflow", "keras"} for m in mods):
                bad.append(str(p.relative_to(ROOT)))
    assert bad == []


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (function-level imports included)."""
    mods: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            mods.add(node.module)
    return mods


def test_tools_bench_and_app_never_import_the_tests() -> None:
    """The tests use the tools and the app, never the other way round (a tool that needed a
    test helper would break in a checkout or wheel without tests/)."""
    files = [*(ROOT / "tools").rglob("*.py"), *(ROOT / "bench").rglob("*.py"), *(ROOT / "app").rglob("*.py")]
    assert len(files) > 50
    bad = sorted(f"{p.relative_to(ROOT)}: {m}" for p in files for m in _imported_modules(p)
                 if m == "tests" or m.startswith("tests."))
    assert bad == []


MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 400


def test_modules_and_classes_stay_small() -> None:
    """A module a newcomer can read: at most 500 lines, no class over 400 (app, tools, bench
    and the tests themselves)."""
    files = [p for d in ("app", "tools", "bench", "tests") for p in (ROOT / d).rglob("*.py")]
    long_modules, long_classes = [], []
    for p in files:
        text = p.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            long_modules.append(f"{p.relative_to(ROOT)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                n = node.end_lineno - node.lineno + 1
                if n > MAX_CLASS_LINES:
                    long_classes.append(f"{p.relative_to(ROOT)}::{node.name}: {n} lines")
    assert long_modules == [] and long_classes == []


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_import_app_and_predict_without_tensorflow(tiny_result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.core.store import ModelStore

    store = ModelStore(home=tmp_path)
    entry = store.save(tiny_result.model, tiny_result.meta("tests"), name="tiny")
    code = f"""
import sys
import numpy as np
import app, app.core.paths, app.core.preprocess, app.core.inference, app.core.store, app.core.data
from app.core.store import ModelStore
from app.core.preprocess import preprocess
from app.core.data import load_mnist
store = ModelStore(home={str(tmp_path)!r})
pred = store.get("tiny").predictor()
(_, _), (x, y) = load_mnist()
p = pred.predict(preprocess(x[0], ink="light"))
assert p.shape == (10,) and abs(float(p.sum()) - 1) < 1e-4
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print("TF-MODULES", loaded)
assert not loaded, loaded
"""
    res = _run(code)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "TF-MODULES []" in res.stdout
    assert entry.tflite_path.is_file()
