"""Watch it learn: hand out the weights being trained, now and then, for live prediction (Qt-free).

:class:`LiveExportListener` wraps the training listener. Between batches (on the training
thread) it takes the weights of the model in training every ``every_batches`` batches and
at the end of every epoch but the last, and hands a :class:`LiveWeights` to ``on_export``;
the window then predicts the drawing with those weights.

Two ways to hand them out:

* **NumPy** (every architecture DigitPad trains): copy the weights (a millisecond or two)
  and compute the network with :class:`app.core.numpy_net.NumpyNet`. Cheap enough to do
  twice a second, and it never stalls the window.
* **``.tflite`` export** (the fallback, for a model NumPyNet cannot compute): TensorFlow's
  converter costs a second or two and holds Python's global lock meanwhile, so exports
  are spaced at least ``EXPORT_MIN_INTERVAL`` seconds and three export durations apart.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.training import TrainConfig, TrainingListener

log = logging.getLogger(__name__)

EVERY_BATCHES = 20  # NumPy snapshots: at most every this many batches ...
MIN_INTERVAL = 0.5  # ... and this many seconds apart
EXPORT_EVERY_BATCHES = 300  # .tflite exports (the fallback)
EXPORT_MIN_INTERVAL = 5.0  # seconds between the end of one export and the start of the next
KEEP_FILES = 3


@dataclass
class LiveWeights:
    path: Path | None  # the exported .tflite (deleted when training ends); None with ``net``
    epoch: int  # 0-based
    step: int  # 0-based batch within the epoch (the last one at an epoch's end)
    steps: int  # batches per epoch
    epochs: int
    epoch_end: bool
    seconds: float  # how long the export took
    anatomy: Any = None  # app.core.explain.Anatomy of the weights, if it could be read
    net: Any = None  # app.core.numpy_net.NumpyNet computing these weights (or None: use ``path``)

    def predictor(self) -> Any:
        """Something with ``predict``/``predict_batch`` for these weights (the NumPy network,
        or LiteRT on the exported file; raises ModelError when the file is gone)."""
        if self.net is not None:
            return self.net
        from app.core.inference import Predictor

        assert self.path is not None
        return Predictor(self.path, name="weights in training")

    def describe(self) -> str:
        if self.epoch_end:
            return f"epoch {self.epoch + 1} done"
        return f"epoch {self.epoch + 1}, batch {self.step + 1}"


class LiveExportListener(TrainingListener):
    """Forwards everything to ``inner`` and hands out the weights in training now and then."""

    def __init__(self, inner: TrainingListener, on_export: Callable[[LiveWeights], None],
                 every_batches: int | None = None, min_interval: float | None = None,
                 enabled: Callable[[], bool] = lambda: True, use_numpy: bool = True) -> None:
        self.inner = inner
        self.on_export = on_export
        self._every_batches, self._min_interval = every_batches, min_interval
        self.use_numpy = use_numpy
        self.every = 1
        self.min_interval = 0.0
        self.enabled = enabled
        self.model: Any = None
        self.plan: Any = None  # app.core.numpy_net.Plan of the model (None: export .tflite)
        self._config: dict[str, Any] = {}
        self.epochs = 1
        self.exports = 0
        self.failed = False
        self._last_end = float("-inf")
        self._last_cost = 0.0
        self._folder: Path | None = None
        self._files: list[Path] = []

    # -- forwarding ----------------------------------------------------------------
    def on_model(self, model: Any) -> None:
        self.model = model
        self.plan = None
        if self.use_numpy:
            from app.core.numpy_net import UnsupportedModel, plan_of_keras

            try:
                self.plan = plan_of_keras(model)
                self._config = {"config": model.get_config()}
            except UnsupportedModel as exc:
                log.info("watching with .tflite exports: %s", exc)
            except Exception:  # watching must never break training
                log.exception("cannot plan the NumPy network; watching with .tflite exports")
        numpy_mode = self.plan is not None
        every = (EVERY_BATCHES if numpy_mode else EXPORT_EVERY_BATCHES) if self._every_batches is None \
            else self._every_batches
        interval = (MIN_INTERVAL if numpy_mode else EXPORT_MIN_INTERVAL) if self._min_interval is None \
            else self._min_interval
        self.every, self.min_interval = max(1, int(every)), float(interval)
        self.inner.on_model(model)

    def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
        self.epochs = max(1, epochs)
        self._last_end = time.perf_counter()  # the first export comes after some training
        self.inner.on_start(config, epochs, steps_per_epoch)

    def on_batch(self, epoch: int, step: int, steps_per_epoch: int, logs: dict[str, float]) -> None:
        self.inner.on_batch(epoch, step, steps_per_epoch, logs)
        if (step + 1) % self.every == 0 and step + 1 < steps_per_epoch:
            self._maybe_export(epoch, step, steps_per_epoch, epoch_end=False)

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self.inner.on_epoch(epoch, logs)
        if epoch + 1 < self.epochs:  # the last epoch's weights become the saved model anyway
            steps = getattr(self.inner, "steps", 0) or 1
            self._maybe_export(epoch, steps - 1, steps, epoch_end=True)

    def on_status(self, text: str) -> None:
        self.inner.on_status(text)

    def should_stop(self) -> bool:
        return self.inner.should_stop()

    # -- exporting -----------------------------------------------------------------
    def _maybe_export(self, epoch: int, step: int, steps: int, epoch_end: bool) -> None:
        if self.model is None or self.failed or not self.enabled() or self.should_stop():
            return
        now = time.perf_counter()
        if now - self._last_end < max(self.min_interval, 3.0 * self._last_cost):
            return
        hand_out = self._copy if self.plan is not None else self._export
        try:
            path, net, anatomy = hand_out()
        except Exception:  # watching must never break training
            log.exception("handing out the weights in training failed; live view off")
            self.failed = True
            return
        finally:
            end = time.perf_counter()
            self._last_cost, self._last_end = end - now, end
        self.exports += 1
        self.on_export(LiveWeights(path=path, epoch=epoch, step=step, steps=steps, epochs=self.epochs,
                                   epoch_end=epoch_end, seconds=self._last_cost, anatomy=anatomy, net=net))

    def _copy(self) -> tuple[Path | None, Any, Any]:
        """NumPy: copies of the weights, computed by a NumpyNet. (path, net, anatomy)"""
        from app.core.explain import anatomy_from_weights
        from app.core.numpy_net import snapshot_weights

        weights = snapshot_weights(self.model, self.plan)
        net = self.plan.bind(weights, name="weights in training")
        anatomy = _optional(lambda: anatomy_from_weights(self._config, weights))
        return None, net, anatomy

    def _export(self) -> tuple[Path | None, Any, Any]:
        """The fallback: a temporary .tflite (the last KEEP_FILES are kept). (path, net, anatomy)"""
        from app.core.explain import anatomy_from_keras
        from app.core.export import export_tflite

        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="digitpad-live-"))
        path = self._folder / f"live-{self.exports + 1}.tflite"
        export_tflite(self.model, path, quantize=False)  # (exact, and a faster conversion)
        anatomy = _optional(lambda: anatomy_from_keras(self.model))
        self._files.append(path)
        while len(self._files) > KEEP_FILES:
            self._files.pop(0).unlink(missing_ok=True)
        return path, None, anatomy

    def close(self) -> None:
        """Delete the exported files (call when training is over)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
            self._files = []


def _optional(explain: Callable[[], Any]) -> Any:
    """The layers/first-layer explanation of the weights, or None: it is optional."""
    try:
        return explain()
    except Exception:
        log.debug("no anatomy for the live weights", exc_info=True)
        return None
