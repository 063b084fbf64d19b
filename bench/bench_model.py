"""The shipped default model: MNIST test accuracy through LiteRT (as the window predicts).

Loads ``model_store/default`` through :class:`app.core.store.ModelStore` and predicts the
10000 MNIST test images with its ``.tflite`` file (:class:`app.core.inference.Predictor`,
no TensorFlow), then compares with the accuracy recorded in its ``meta.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import Figure, at_least, info, script_main

GOAL_PERCENT = 99.5


def measure() -> dict[str, object]:
    import numpy as np

    from app.core.data import load_mnist
    from app.core.evaluation import evaluate_predictions
    from app.core.store import DEFAULT_MODEL, ModelStore

    with tempfile.TemporaryDirectory(prefix="digitpad-bench-model-") as home:
        store = ModelStore(home=Path(home))
        entry = store.get(DEFAULT_MODEL)
        predictor = entry.predictor()
        _, (x_test, y_test) = load_mnist()
        t0 = time.perf_counter()
        probs = predictor.predict_batch(x_test)
        seconds = time.perf_counter() - t0
        ev = evaluate_predictions(y_test, np.argmax(probs, axis=1))
        return {
            "accuracy": ev.accuracy,
            "recorded": entry.test_accuracy,
            "arch": entry.arch,
            "params": entry.meta.get("params"),
            "trained": entry.meta.get("training"),
            "seconds": seconds,
            "tensorflow_loaded": "tensorflow" in sys.modules,
            "count": ev.count,
        }


def run(args: argparse.Namespace) -> list[Figure]:
    r = measure()
    acc = float(r["accuracy"]) * 100  # type: ignore[arg-type]
    recorded = r["recorded"]
    detail = (f"{r['count']} test images through LiteRT (TensorFlow loaded: {r['tensorflow_loaded']}); "
              f"arch {r['arch']}, {r['params']} parameters; meta.json records "
              f"{'-' if recorded is None else f'{float(recorded) * 100:.2f} %'}")  # type: ignore[arg-type]
    return [
        at_least("shipped default model, MNIST test", acc, GOAL_PERCENT, "%", detail),
        info("  LiteRT throughput (10000 images, 1 thread)", float(r["seconds"]), "s"),  # type: ignore[arg-type]
    ]


if __name__ == "__main__":
    sys.exit(script_main(__doc__.splitlines()[0], run))
