"""Training in a process of its own, so that TensorFlow never holds the window's Python lock.

Measured in the window (bench/bench_heartbeat.py, py-spy): loading TensorFlow holds Python's
global lock for up to ~0.6 s at a time (``ml_dtypes``' extension module registers its NumPy
loops in its init function, ~0.47 s with the lock held; other extension inits and byte-code
loading add more), tracing the first training step ~60 ms, each ``.tflite`` conversion
100-150 ms. Whatever thread runs them, the GUI thread waits. In a child process none of it
touches the window; Cancel can stop any stage, even one inside TensorFlow, by abandoning the
job (the child finishes or skips it on its own); and the window's process never grows by
TensorFlow's gigabyte.

:class:`TrainingProcess` (the parent side) starts the child on first use and keeps it for
later jobs, so a second training starts without loading anything. :meth:`~TrainingProcess.warm`
lets the child load MNIST and TensorFlow ahead of time (when the user shows intent to train).
Messages are JSON lines: jobs and cancels on the child's stdin, events on a duplicate of its
stdout (its own stdout goes to stderr, so nothing printed by a library can garble them). The
weights in training (Watch it learn) travel as ``.npz`` files of NumPy arrays, read back
with ``allow_pickle=False``.

The child runs :func:`serve` (``digitpad --training-process``); it calls the same core use
cases as the CLI (train, save, :mod:`app.core.activation`).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from app.core.errors import DigitPadError, TrainingError
from app.core.training import TrainConfig, TrainingListener

log = logging.getLogger(__name__)

CANCEL_GRACE = 0.5  # seconds the child gets to confirm a cancel before the job is abandoned
POLL = 0.03  # seconds between checks of the listener's should_stop()
FLAG = "--training-process"

# The stages a job goes through, in order (the window shows them; see ``stage`` events).
STAGES = {
    "data": "Loading MNIST…",
    "tensorflow": "Loading TensorFlow (the first time takes a few seconds)…",
    "building": "Building the model…",
    "training": "Training…",
    "evaluating": "Evaluating on the test set…",
    "saving": "Saving the model…",
}


# ------------------------------------------------------------------------- the parent side
class TrainingProcess:
    """The parent's handle on the child process (thread-safe; one job at a time)."""

    def __init__(self, beside_gui: bool = True) -> None:
        self.beside_gui = beside_gui  # the child leaves a core to the window's GUI thread
        self._proc: subprocess.Popen[bytes] | None = None
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._lock = threading.Lock()  # start/stop and writes to the child
        self._run_lock = threading.Lock()  # one job at a time
        self._ids = itertools.count(1)
        self.abandoned: set[int] = set()

    # -- the child ---------------------------------------------------------------------
    def command(self) -> list[str]:
        if getattr(sys, "frozen", False):
            return [sys.executable, FLAG]
        return [sys.executable, "-m", "app", FLAG]

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the child if it is not running."""
        with self._lock:
            if self.alive():
                return
            env = dict(os.environ)
            if not getattr(sys, "frozen", False):  # the child imports this very package
                root = str(Path(__file__).resolve().parents[2])
                env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
            if self.beside_gui:
                env["DIGITPAD_BESIDE_GUI"] = "1"
            stderr: Any = None if sys.stderr is not None else subprocess.DEVNULL
            self._events = queue.Queue()
            self._proc = subprocess.Popen(self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=stderr, env=env)
            threading.Thread(target=self._read, args=(self._proc, self._events),
                             name="digitpad-training-process-reader", daemon=True).start()

    @staticmethod
    def _read(proc: subprocess.Popen[bytes], events: queue.Queue[dict[str, Any] | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                log.warning("training process: unreadable line %r", line[:200])
                continue
            if isinstance(msg, dict):
                events.put(msg)
        events.put(None)  # the child has gone

    def _send(self, msg: dict[str, Any]) -> None:
        with self._lock:
            proc = self._proc
            if proc is None or proc.stdin is None or proc.poll() is not None:
                raise TrainingError("The training process is not running.")
            try:
                proc.stdin.write(json.dumps(msg).encode() + b"\n")
                proc.stdin.flush()
            except OSError:
                raise TrainingError("The training process stopped unexpectedly.") from None

    def warm(self) -> None:
        """Start the child and let it load MNIST and TensorFlow now (returns at once)."""
        try:
            self.start()
            self._send({"op": "warm"})
        except (OSError, DigitPadError):
            log.warning("cannot warm up the training process", exc_info=True)

    def close(self, timeout: float = 3.0) -> None:
        """Ask the child to quit; kill it if it does not within ``timeout`` seconds."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            assert proc.stdin is not None
            proc.stdin.write(b'{"op": "quit"}\n')
            proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    # -- jobs --------------------------------------------------------------------------
    def run(self, job: dict[str, Any], listener: TrainingListener,
            on_live: Callable[[Any], None] | None = None) -> dict[str, Any] | None:
        """Run ``job`` in the child, relaying its progress to ``listener`` (on this thread).

        Returns the job's result, or None when cancelled: ``listener.should_stop()`` is
        polled; the child is told, and if it has not confirmed within ``CANCEL_GRACE``
        seconds (it is inside TensorFlow) the job is abandoned; it keeps nothing. Raises
        :class:`TrainingError` (or the child's DigitPadError message) on failure.
        """
        with self._run_lock:
            self.start()
            job_id = next(self._ids)
            relay = _Relay(listener, on_live)
            self._send({"op": "run", "job": job_id, **job})
            deadline: float | None = None
            try:
                while True:
                    if deadline is None and listener.should_stop():
                        self._send({"op": "cancel", "job": job_id})
                        deadline = time.monotonic() + CANCEL_GRACE
                    if deadline is not None and time.monotonic() > deadline:
                        self.abandoned.add(job_id)
                        return None
                    try:
                        msg = self._events.get(timeout=POLL)
                    except queue.Empty:
                        continue
                    if msg is None:
                        raise TrainingError("The training process stopped unexpectedly "
                                            "(out of memory?). The model in use is unchanged.")
                    if msg.get("job") != job_id:
                        continue  # a late event of an abandoned job, or of a warm-up
                    done, value = relay.handle(msg)
                    if done:
                        return value
            finally:
                relay.close()


class _Relay:
    """Turns the child's events back into listener calls (and live weights)."""

    def __init__(self, listener: TrainingListener, on_live: Callable[[Any], None] | None) -> None:
        self.listener = listener
        self.on_live = on_live
        self.plan: Any = None
        self.config: dict[str, Any] = {}

    def handle(self, msg: dict[str, Any]) -> tuple[bool, Any]:
        ev = msg.get("ev")
        lis = self.listener
        if ev == "status":
            lis.on_status(str(msg["text"]))
            stage = getattr(lis, "on_stage", None)
            if stage is not None and msg.get("stage"):
                stage(str(msg["stage"]), msg.get("done"), msg.get("total"))
        elif ev == "start":
            lis.on_start(TrainConfig(**msg["config"]), int(msg["epochs"]), int(msg["steps"]))
        elif ev == "batch":
            lis.on_batch(int(msg["epoch"]), int(msg["step"]), int(msg["steps"]), msg["logs"])
        elif ev == "epoch":
            lis.on_epoch(int(msg["epoch"]), msg["logs"])
        elif ev == "model":
            self._plan(msg.get("config"))
        elif ev == "live":
            self._live(msg)
        elif ev == "result":
            return True, msg.get("value")
        elif ev == "cancelled":
            return True, None
        elif ev == "error":
            if msg.get("kind") == "memory":
                raise MemoryError(msg.get("message", ""))
            raise (DigitPadError if msg.get("kind") == "user" else TrainingError)(str(msg["message"]))
        return False, None

    def _plan(self, config: Any) -> None:
        self.plan = None
        if not isinstance(config, dict) or self.on_live is None:
            return
        from app.core.numpy_net import Plan, UnsupportedModel

        self.config = config
        try:
            self.plan = Plan.from_config(config)
        except UnsupportedModel:
            self.plan = None

    def _live(self, msg: dict[str, Any]) -> None:
        if self.on_live is None:
            return
        from app.core.live import LiveWeights

        path, net = None, None
        try:
            weights: dict[str, list[np.ndarray]] = {}
            with np.load(msg["npz"], allow_pickle=False) as z:
                arrays = iter([z[f"a{i}"] for i in range(len(z.files))])
                for name, count in msg["layers"]:
                    weights[str(name)] = [next(arrays) for _ in range(int(count))]
            if msg.get("tflite"):
                path = Path(msg["tflite"])
            elif self.plan is not None:
                net = self.plan.bind(weights, name="weights in training")
            else:
                return
            anatomy = self._anatomy(weights)
        except (OSError, ValueError, KeyError, StopIteration):
            log.debug("live weights could not be read", exc_info=True)
            return
        self.on_live(LiveWeights(path=path, epoch=int(msg["epoch"]), step=int(msg["step"]),
                                 steps=int(msg["steps"]), epochs=int(msg["epochs"]),
                                 epoch_end=bool(msg["epoch_end"]), seconds=float(msg["seconds"]),
                                 anatomy=anatomy, net=net))

    def _anatomy(self, weights: dict[str, list[np.ndarray]]) -> Any:
        """The layers/first-layer explanation of the weights, or None: it is optional."""
        from app.core.explain import anatomy_from_weights

        try:
            return anatomy_from_weights({"config": self.config.get("config", {})}, weights)
        except Exception:
            log.debug("no anatomy for the live weights", exc_info=True)
            return None

    def close(self) -> None:
        self.plan = None


class InlineTrainer:
    """The same jobs run in the calling thread of this process, with the same events.

    For tests that replace core functions in this process (a failing save, a slow import):
    the child process would not see their replacements. The window uses :func:`shared`.
    """

    def warm(self) -> None:
        """Nothing to warm: the job loads what it needs."""

    def run(self, job: dict[str, Any], listener: TrainingListener,
            on_live: Callable[[Any], None] | None = None) -> dict[str, Any] | None:
        relay = _Relay(listener, on_live)
        outcome: dict[str, Any] = {}

        class Loopback(_Child):
            def send(self, msg: dict[str, Any]) -> None:
                if msg.get("ev") in ("result", "cancelled", "error"):
                    outcome.update(msg)
                else:
                    relay.handle(msg)

        child = Loopback(out=sys.stderr)
        child.stop = listener.should_stop
        _run(child, {"op": "run", "job": 1, **job})
        return relay.handle(outcome)[1]


_shared: TrainingProcess | None = None
_shared_lock = threading.Lock()


def shared() -> TrainingProcess:
    """The process's one :class:`TrainingProcess` (closed when the program exits)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TrainingProcess()
            atexit.register(_shared.close)
        return _shared


# ------------------------------------------------------------------------- the child side
class _Child:
    """The child's state: the protocol stream, the cancel flags, the job queue."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.write_lock = threading.Lock()
        self.cancelled: set[int] = set()
        self.jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stop: Callable[[], bool] = lambda: False  # another way to cancel (InlineTrainer)

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
                break
            elif op in ("run", "warm"):
                self.jobs.put(msg)
        self.jobs.put(None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


class _ChildListener(TrainingListener):
    """Sends the core's progress to the parent; cancel comes from the parent's message."""

    def __init__(self, child: _Child, job: int) -> None:
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


def _run(child: _Child, msg: dict[str, Any]) -> None:
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
        listener.send("cancelled" if value is None else "result", value=value)
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
    child = _Child(out)
    threading.Thread(target=child.read_stdin, name="digitpad-job-reader", daemon=True).start()
    while True:
        msg = child.jobs.get()
        if msg is None:
            return 0
        _run(child, msg)
