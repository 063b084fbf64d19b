"""Training: the default in-app recipe (``TrainConfig()``, what the Train button does)
from start to >= 99.0 % MNIST test accuracy.

Runs the real :func:`app.core.training.train` with ``TrainConfig()`` in a fresh process
(TensorFlow's thread settings are those the window uses). A listener evaluates the model
being trained on the 10000 MNIST test images (``evaluate_keras``, as ``train()`` does at
the end) every ``--every`` seconds of training; the time spent evaluating is *not*
counted. The training clock starts when ``train()`` calls ``on_start`` (TensorFlow
loaded, data ready, model compiled: the first batch is next) and runs until the last
epoch ends; loading TensorFlow and preparing the data are reported separately. The time
to 99 % is the first checkpoint at or above 99.0 % (an upper bound: checkpoints are
``--every`` seconds apart); the final point is ``train()``'s own test evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ROOT, Figure, at_least, at_most, child_env, info, median, script_main

GOAL_SECONDS = 20.0
TARGET = 0.99


def measure(every: float, config: Any = None) -> dict[str, Any]:
    """One training in this process (``config``: default ``TrainConfig()``); returns the
    curve and the timings."""
    import numpy as np

    from app.core.data import load_mnist
    from app.core.evaluation import evaluate_keras
    from app.core.training import TrainConfig, TrainingListener, train

    _, (x_test, y_test) = load_mnist()

    class Checkpoints(TrainingListener):
        def __init__(self) -> None:
            self.model: Any = None
            self.t0 = 0.0
            self.paused = 0.0
            self.next_at = every
            self.curve: list[tuple[float, float, float]] = []  # (train s, epochs, test acc)
            self.steps = 1
            self.end = 0.0
            self.epochs = 1
            self.started_at = 0.0
            self.batches = 0

        def clock(self) -> float:
            return time.perf_counter() - self.t0 - self.paused

        def on_model(self, model: Any) -> None:
            self.model = model

        def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
            self.steps, self.epochs = steps_per_epoch, epochs
            self.started_at = time.perf_counter()
            self.t0 = time.perf_counter()

        def on_batch(self, epoch: int, step: int, steps_per_epoch: int, logs: dict[str, float]) -> None:
            self.batches += 1
            now = self.clock()
            last = epoch == self.epochs - 1 and step == steps_per_epoch - 1
            if now >= self.next_at and not last:
                p0 = time.perf_counter()
                acc = evaluate_keras(self.model, x_test, y_test).accuracy
                self.curve.append((now, epoch + (step + 1) / steps_per_epoch, acc))
                self.paused += time.perf_counter() - p0
                self.next_at = self.clock() + every

        def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
            self.end = self.clock()

    listener = Checkpoints()
    t_call = time.perf_counter()
    result = train(config if config is not None else TrainConfig(), listener)
    assert result.evaluation is not None and listener.model is not None
    cfg = result.config
    listener.curve.append((listener.end, float(cfg.epochs or 0), result.evaluation.accuracy))
    return {
        "config": cfg.to_dict(),
        "curve": listener.curve,
        "train_seconds": listener.end,
        "setup_seconds": listener.started_at - t_call,
        "final_accuracy": result.evaluation.accuracy,
        "batches": listener.batches,
        "threads": _threads(),
        "history": result.history,
        "param_count": int(np.sum([np.prod(w.shape) for w in listener.model.weights])),
    }


def _threads() -> dict[str, int]:
    from app.core.tf import import_tf

    tf = import_tf()
    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}


def time_to(curve: list[list[float]], target: float) -> float | None:
    for t, _e, acc in curve:
        if acc >= target:
            return float(t)
    return None


def accuracy_at(curve: list[list[float]], seconds: float) -> float:
    """Accuracy of the last checkpoint at or before ``seconds`` of training."""
    best = 0.0
    for t, _e, acc in curve:
        if t <= seconds:
            best = acc
    return best


def run_child(every: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="digitpad-bench-train-") as tmp:
        out = Path(tmp) / "result.json"
        env = child_env(DIGITPAD_HOME=str(Path(tmp) / "home"))
        cmd = [sys.executable, "-m", "bench.bench_training", "--child", str(out), "--every", str(every)]
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"training run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return data


def curve_text(curve: list[list[float]]) -> str:
    return ", ".join(f"{t:.1f}s/{e:.2f}ep {acc * 100:.2f}%" for t, e, acc in curve)


def run(args: argparse.Namespace) -> list[Figure]:
    runs = [run_child(args.every) for _ in range(args.runs)]
    ttt = [time_to(r["curve"], TARGET) for r in runs]
    reached = [t for t in ttt if t is not None]
    at20 = [accuracy_at(r["curve"], GOAL_SECONDS) * 100 for r in runs]
    total = [r["train_seconds"] for r in runs]
    final = [r["final_accuracy"] * 100 for r in runs]
    setup = [r["setup_seconds"] for r in runs]
    cfg = runs[0]["config"]
    value = median(reached) if len(reached) == len(runs) else None
    detail = (f"{len(runs)} run(s); recipe {cfg['arch']}, {cfg['epochs']} epoch(s), "
              f"batch {cfg['batch_size']}, lr {cfg['learning_rate']:g}, "
              f"validation {cfg['validation_split']:g}; TF threads "
              f"{runs[0]['threads']}; reached 99 % in {len(reached)}/{len(runs)} runs "
              f"({', '.join('-' if t is None else f'{t:.1f}' for t in ttt)} s); checkpoints every "
              f"{args.every:g} s of training")
    figures = [
        at_most("training: time to 99.0 % test accuracy", value, GOAL_SECONDS, "s", detail, runs=ttt),
        at_least("training: test accuracy at 20 s", median(at20), 99.0, "%", runs=at20),
        info("  whole default training (fit)", median(total), "s",
             f"final test accuracy {median(final):.2f} % (runs: {', '.join(f'{v:.2f}' for v in final)})",
             runs=total),
        info("  before training: TensorFlow, data, model", median(setup), "s",
             "train() call -> first batch (the window's 'Loading TensorFlow…')", runs=setup),
    ]
    for i, r in enumerate(runs):
        figures.append(info(f"  curve, run {i + 1}", None, "", curve_text(r["curve"]), curve=r["curve"]))
    return figures


def add_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--runs", type=int, default=3, help="trainings, each in a fresh process (default 3)")
    ap.add_argument("--every", type=float, default=1.0, help="seconds of training between test evaluations")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if "--child" in argv:
        ap = argparse.ArgumentParser()
        add_args(ap)
        args = ap.parse_args(argv)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        result = measure(args.every)
        args.child.write_text(json.dumps(result), encoding="utf-8")
        return 0
    return script_main(__doc__.splitlines()[0], run, add_args, argv)


if __name__ == "__main__":
    sys.exit(main())
