"""The training process's side: :func:`serve` (``digitpad --training-process``) reads jobs
(JSON lines) from stdin and runs them with the core use cases the CLI uses (train and save,
fine-tune, import; :mod:`app.core.activation` decides what is put in use); its events go back
on a duplicate of stdout. :class:`InlineTrainer` runs the same jobs in the calling process.
The parent's side is :mod:`app.core.training_process`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from app.core.errors import DigitPadError, TrainingError
from app.core.training import TrainConfig, TrainingListener
from app.core.training_process import STAGES, Relay

log = logging.getLogger(__name__)


class Child:
    """The child's state: the protocol stream, the cancel flags, the job queue."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.write_lock = threading.Lock()
        self.cancelled: set[int] = set()
        self.jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stop: Callable[[], bool] = lambda: False  # another way to cancel (InlineTrainer)
        self.folders: set[Path] = set()  # temporary folders of the running job

    def send(self, msg: dict[str, Any]) -> None:
        line = json.dumps(msg, default=_jsonable)
        with self.write_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def read_stdin(self) -> None:
        for line in sys.stdin:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            op = msg.get("op") if isinstance(msg, dict) else None
            if op == "cancel":
                self.cancelled.add(int(msg.get("job", 0)))
            elif op == "quit":
                self.quit_now()
            elif op in ("run", "warm"):
                self.jobs.put(msg)
        self.jobs.put(None)

    def quit_now(self) -> None:
        """End the process at once, even inside TensorFlow's import or a job: a quit comes
        when the window's process ends, after it gave up every job. Saves are atomic; a
        killed one leaves a hidden folder the store removes later."""
        for folder in list(self.folders):
            shutil.rmtree(folder, ignore_errors=True)
        os._exit(0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


class _ChildListener(TrainingListener):
    """Sends the core's progress to the parent; cancel comes from the parent's message."""

    def __init__(self, child: Child, job: int) -> None:
        self.child, self.job = child, job
        self.steps = 1

    def send(self, ev: str, **fields: Any) -> None:
        self.child.send({"job": self.job, "ev": ev, **fields})

    def on_status(self, text: str) -> None:
        stage = next((k for k, v in STAGES.items() if v.split("…")[0].split(" (")[0] in text), None)
        self.send("status", text=text, stage=stage)

    def on_model(self, model: Any) -> None:
        try:
            config = {"class_name": type(model).__name__, "config": model.get_config()}
            self.send("model", config=json.loads(json.dumps(config, default=_jsonable)))
        except Exception:  # watching must never break training
            log.debug("cannot describe the model", exc_info=True)

    def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
        self.steps = steps_per_epoch
        self.send("start", config=config.to_dict(), epochs=epochs, steps=steps_per_epoch)

    def on_batch(self, epoch: int, step: int, steps_per_epoch: int, logs: dict[str, float]) -> None:
        self.send("batch", epoch=epoch, step=step, steps=steps_per_epoch, logs=logs)

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self.send("epoch", epoch=epoch, logs=logs)

    def should_stop(self) -> bool:
        return self.job in self.child.cancelled or self.child.stop()


class _LiveFiles:
    """Hands the live weights to the parent as .npz files (the last few kept)."""

    KEEP = 4

    def __init__(self, listener: _ChildListener) -> None:
        self.listener = listener
        self.folder = Path(tempfile.mkdtemp(prefix="digitpad-live-npz-"))
        listener.child.folders.add(self.folder)
        self.files: list[Path] = []
        self.count = 0
        self.source: Any = None  # the LiveExportListener (its model, for the .tflite fallback)

    def __call__(self, lw: Any) -> None:
        fields = dict(epoch=lw.epoch, step=lw.step, steps=lw.steps, epochs=lw.epochs,
                      epoch_end=lw.epoch_end, seconds=lw.seconds)
        weights = lw.net.weights if lw.net is not None else self._all_weights()
        self.count += 1
        path = self.folder / f"w{self.count}.npz"
        layers: list[list[Any]] = []
        arrays: list[np.ndarray] = []
        for name, ws in weights.items():
            layers.append([name, len(ws)])
            arrays.extend(ws)
        named_arrays: dict[str, Any] = {f"a{i}": a for i, a in enumerate(arrays)}
        np.savez(path, **named_arrays)
        self.files.append(path)
        while len(self.files) > self.KEEP:
            self.files.pop(0).unlink(missing_ok=True)
        tflite = None if lw.path is None else str(lw.path)
        self.listener.send("live", npz=str(path), layers=layers, tflite=tflite, **fields)

    def _all_weights(self) -> dict[str, list[np.ndarray]]:
        """Every layer's weights (for the explanation, when LiteRT computes the network)."""
        model = getattr(self.source, "model", None)
        if model is None:
            return {}
        return {layer.name: [np.array(w, np.float32) for w in layer.get_weights()] for layer in model.layers}

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.listener.child.folders.discard(self.folder)


def _warm(listener: TrainingListener | None = None) -> None:
    from app.core.data import load_mnist
    from app.core.tf import import_keras, tf_loaded

    load_mnist()
    if not tf_loaded() and listener is not None:
        listener.on_status(STAGES["tensorflow"])
    import_keras()


def _run_train(job: dict[str, Any], listener: _ChildListener) -> dict[str, Any] | None:
    from app.core.store import ModelStore
    from app.core.training import train_and_save

    inner: TrainingListener = listener
    live: _LiveFiles | None = None
    if job.get("watch"):
        from app.core.live import LiveExportListener

        live = _LiveFiles(listener)
        inner = live.source = LiveExportListener(listener, live)
    store = ModelStore(home=Path(job["home"]), bundled_dir=Path(job["bundled_dir"]))
    try:
        listener.on_status(STAGES["data"])
        from app.core.data import load_mnist

        dataset = load_mnist()
        if listener.should_stop():
            return None
        _warm(listener)
        saved = train_and_save(TrainConfig(**job["config"]), inner, store,
                               job.get("trained_by", "DigitPad window"), dataset=dataset,
                               activate=job.get("activate", "if-better"), current=job.get("current"))
    finally:
        close = getattr(inner, "close", None)
        if close is not None:
            close()
        if live is not None:
            live.close()
    if saved is None or saved.outcome is None:
        return None
    outcome = saved.outcome
    return {"name": saved.name, "activated": outcome.activated, "outcome": outcome.text(),
            "comparison": outcome.comparison.text(),
            "accuracy": None if saved.evaluation is None else saved.evaluation.accuracy}


def _run_finetune(job: dict[str, Any], listener: _ChildListener) -> dict[str, Any] | None:
    """Fine-tune ``job["base"]`` on the personal samples in ``job["home"]`` (as the CLI does)."""
    from app.core.activation import settle_saved
    from app.core.finetune import FineTuneConfig, fine_tune, save_fine_tuned
    from app.core.samples import SampleStore
    from app.core.store import ModelStore

    store = ModelStore(home=Path(job["home"]), bundled_dir=Path(job["bundled_dir"]))
    store.check_writable()  # a read-only store is found out now, not after fine-tuning
    samples = SampleStore(store.home)
    x, y = samples.arrays()
    cfg = FineTuneConfig(**job.get("finetune", {}))
    _warm(listener)
    result = fine_tune(store.get(job["base"]), (x, y, samples.ids()), listener, cfg)
    if result.cancelled or result.after is None or listener.should_stop():
        return None
    listener.on_status(STAGES["saving"])
    entry = save_fine_tuned(store, result, job.get("trained_by", "DigitPad window"), activate=False)
    if listener.should_stop():
        with contextlib.suppress(DigitPadError):
            store.delete(entry.name)
        return None
    # compared on the samples neither model learned from (the held-out ones, at least)
    outcome = settle_saved(store, entry.name, job.get("activate", "if-better"), job.get("current"))
    return {"name": entry.name, "activated": outcome.activated, "outcome": outcome.text(),
            "comparison": outcome.comparison.text(), "accuracy": result.after.mnist,
            "before": result.before.to_dict(), "after": result.after.to_dict(),
            "holdout_ids": list(result.holdout_ids), "holdout_labels": list(result.holdout_labels),
            "train_count": len(result.train_ids), "seconds": result.seconds}


def _run_import(job: dict[str, Any], listener: _ChildListener) -> dict[str, Any] | None:
    """Add a user's ``.keras`` file to the store (loading it needs TensorFlow)."""
    from app.core.store import ModelStore

    _warm(listener)
    store = ModelStore(home=Path(job["home"]), bundled_dir=Path(job["bundled_dir"]))
    if listener.should_stop():
        return None
    listener.on_status(STAGES["saving"])
    entry = store.import_keras(job["path"], activate=bool(job.get("activate_import", True)))
    return {"name": entry.name, "activated": bool(job.get("activate_import", True))}


_KINDS: dict[str, Callable[[dict[str, Any], _ChildListener], dict[str, Any] | None]] = {
    "train": _run_train, "finetune": _run_finetune, "import": _run_import,
}


def run_message(child: Child, msg: dict[str, Any]) -> None:
    job = int(msg.get("job", 0))
    listener = _ChildListener(child, job)
    if msg["op"] == "warm":
        with contextlib.suppress(Exception):
            _warm()
        return
    if job in child.cancelled:
        listener.send("cancelled")
        return
    try:
        kind = str(msg.get("kind"))
        if kind not in _KINDS:
            raise TrainingError(f"unknown job {kind!r}")
        value = _KINDS[kind](msg, listener)
    except DigitPadError as exc:
        listener.send("error", kind="user", message=str(exc))
    except MemoryError:
        listener.send("error", kind="memory", message="out of memory")
    except Exception as exc:
        log.exception("training job failed")
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        listener.send("error", kind="bug",
                      message=f"Unexpected error ({type(exc).__name__}){': ' + text if text else ''}"[:500])
    else:
        if value is None:
            listener.send("cancelled")
        else:  # which process did the job (the self-test checks it was the training process)
            process = {"pid": os.getpid(), "frozen": bool(getattr(sys, "frozen", False))}
            listener.send("result", value={**value, "process": process})
    finally:
        child.cancelled.discard(job)


def serve() -> int:
    """The child's main loop: run jobs from stdin until it closes or says quit."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # whatever prints goes to stderr
    sys.stdout = sys.stderr
    if os.environ.get("DIGITPAD_BESIDE_GUI") == "1":
        from app.core.tf import reserve_core_for_gui

        reserve_core_for_gui()
    child = Child(out)
    threading.Thread(target=child.read_stdin, name="digitpad-job-reader", daemon=True).start()
    while True:
        msg = child.jobs.get()
        if msg is None:
            return 0
        run_message(child, msg)


class InlineTrainer:
    """The same jobs run in the calling thread of this process, with the same events.

    For tests that replace core functions in this process (a failing save, a slow import):
    the child process would not see their replacements. The window uses :func:`shared`.
    """

    def warm(self) -> None:
        """Nothing to warm: the job loads what it needs."""

    def run(self, job: dict[str, Any], listener: TrainingListener,
            on_live: Callable[[Any], None] | None = None) -> dict[str, Any] | None:
        relay = Relay(listener, on_live)
        outcome: dict[str, Any] = {}

        class Loopback(Child):
            def send(self, msg: dict[str, Any]) -> None:
                if msg.get("ev") in ("result", "cancelled", "error"):
                    outcome.update(msg)
                else:
                    relay.handle(msg)

        child = Loopback(out=sys.stderr)
        child.stop = listener.should_stop
        run_message(child, {"op": "run", "job": 1, **job})
        return relay.handle(outcome)[1]
