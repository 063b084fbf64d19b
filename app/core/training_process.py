"""Training in a process of its own, so that TensorFlow never holds the window's Python lock.

Loading TensorFlow, tracing the first training step and each ``.tflite`` conversion hold
Python's global lock for long stretches (bench/bench_heartbeat.py; figures in
bench/RESULTS.md): in the window's process its GUI thread would wait. In a child process
none of it touches the window, Cancel can stop any stage by abandoning the job, and the
window's process never grows by TensorFlow's gigabyte.

:class:`TrainingProcess` (the parent's side) starts the child on first use and keeps it warm
for later jobs (:meth:`~TrainingProcess.warm` loads MNIST and TensorFlow ahead of time).
Messages are JSON lines: jobs and cancels on the child's stdin, events on a duplicate of its
stdout; the weights in training (Watch it learn) travel as ``.npz`` files read back with
``allow_pickle=False``. The child, :func:`app.core.training_child.serve` (``digitpad
--training-process``), calls the same core use cases as the CLI.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

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


class Trainer(Protocol):
    """What runs the jobs: :class:`TrainingProcess`, or
    :class:`app.core.training_child.InlineTrainer` (the same jobs in this process)."""

    def warm(self) -> None: ...

    def run(self, job: dict[str, Any], listener: TrainingListener,
            on_live: Callable[[Any], None] | None = None) -> dict[str, Any] | None: ...


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
            relay = Relay(listener, on_live)
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


class Relay:
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
