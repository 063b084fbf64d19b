"""The terminal front of DigitPad: ``digitpad [command] ...`` (also ``python -m app``).

Without a command it opens the window. The commands use exactly the functions the window
uses: :func:`app.core.preprocess.preprocess_file` for images, :func:`app.core.training.train`
for training, :class:`app.core.store.ModelStore` for models and LiteRT
(:class:`app.core.inference.Predictor`) for predictions, so ``predict`` and ``evaluate``
of a store model never import TensorFlow.

Errors are one line on stderr (``digitpad: error: ...``, exit 1; usage errors exit 2);
``--debug`` shows the traceback. Every write goes through :func:`_write`, which does
nothing when the stream is ``None`` (a windowed PyInstaller bundle has no stdout/stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any, NoReturn

import numpy as np

from app import __version__
from app.core.errors import DigitPadError, ModelError
from app.core.training import TrainConfig, TrainingListener

PROG = "digitpad"
EXIT_INTERRUPTED = 130
MODEL_SUFFIXES = (".tflite", ".keras")


# --------------------------------------------------------------------------- output


def _write(stream: Any, text: str) -> None:
    """Write ``text`` + newline to ``stream``; no-op when the stream is ``None`` or gone."""
    if stream is None:
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except UnicodeEncodeError:
        enc = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(enc, errors="replace").decode(enc) + "\n")
        stream.flush()
    except (OSError, ValueError):  # closed pipe or closed file: nothing we can do
        pass


def out(text: str = "") -> None:
    """Print to stdout (looked up at call time, so redirection and ``None`` both work)."""
    _write(sys.stdout, text)


def err(text: str) -> None:
    _write(sys.stderr, text)


def warn(text: str) -> None:
    err(f"{PROG}: warning: {text}")


def error_line(message: object) -> str:
    """``digitpad: error: <message>`` on a single line."""
    text = " ".join(str(message).split()) or "unknown error"
    return f"{PROG}: error: {text}"


@contextlib.contextmanager
def native_stderr_quiet(enabled: bool = True) -> Iterator[None]:
    """Silence what C++ libraries write straight to file descriptor 2 (TensorFlow's absl
    and CUDA probes at import, LiteRT's "Created TensorFlow Lite XNNPACK delegate").

    Python-level writes inside the block are lost too, so keep the block small. A no-op
    when disabled (``--debug``) or when there is no descriptor 2 (windowed bundle).
    """
    if not enabled:
        yield
        return
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.2f}%"


# --------------------------------------------------------------------------- models


class _KerasPredictor:
    """A ``.keras`` file given by path (needs TensorFlow); same interface as Predictor."""

    def __init__(self, path: Path) -> None:
        from app.core.store import load_keras_model

        self.name = str(path)
        self.model = load_keras_model(path)

    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        arr = np.asarray(x)
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / np.float32(255.0)
        arr = arr.astype(np.float32, copy=False).reshape((-1, *tuple(self.model.input_shape[1:])))
        return np.asarray(self.model.predict(arr, batch_size=1000, verbose=0), dtype=np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_batch(np.asarray(x, dtype=np.float32).reshape(1, 28, 28))[0]


def _store() -> Any:
    from app.core.store import ModelStore

    store = ModelStore()
    for problem in store.problems:
        warn(problem)
    return store


def _looks_like_path(spec: str) -> bool:
    return spec.lower().endswith(MODEL_SUFFIXES) or os.sep in spec or "/" in spec


def resolve_model(spec: str | None) -> tuple[str, Any, Path | None]:
    """``(label, store entry or None, file path or None)`` for ``--model NAME|PATH``.

    No spec means the store's active model. A store name wins over a file of that name.
    """
    store = _store()
    if spec is None:
        entry = store.active()
        return entry.name, entry, None
    if spec in store:
        return spec, store.get(spec), None
    path = Path(spec).expanduser()
    if path.exists() or _looks_like_path(spec):
        if not path.exists():
            raise ModelError(f"{spec}: no such model file.")
        if path.is_dir():
            raise ModelError(f"{spec} is a directory; give a .tflite or .keras file or a model name.")
        if path.suffix.lower() not in MODEL_SUFFIXES:
            raise ModelError(f"{spec}: a model file must end in .tflite or .keras.")
        return spec, None, path
    known = ", ".join(store.names()) or "none"
    raise ModelError(f"No model named {spec!r} in the store (models: {known}).")


def open_predictor(spec: str | None, debug: bool = False) -> tuple[str, Any]:
    """A LiteRT predictor for a store model or ``.tflite`` file; a ``.keras`` file needs TF."""
    label, entry, path = resolve_model(spec)
    return label, _predictor_for(entry, path, debug)


def _predictor_for(entry: Any, path: Path | None, debug: bool = False) -> Any:
    with native_stderr_quiet(not debug):
        return _make_predictor(entry, path)


def _make_predictor(entry: Any, path: Path | None) -> Any:
    if entry is not None:
        return entry.predictor()
    assert path is not None
    if path.suffix.lower() == ".keras":
        return _KerasPredictor(path)
    from app.core.inference import Predictor

    return Predictor(path, name=path.stem)


# --------------------------------------------------------------------------- gui


def cmd_gui(rest: list[str]) -> int:
    try:
        from app.ui.app import run_gui
    except ImportError as exc:
        err(error_line(f"the window cannot start: {exc}. "
                       f"The command-line tools still work: {PROG} --help."))
        return 1
    return int(run_gui(rest) or 0)


# --------------------------------------------------------------------------- predict


def cmd_predict(args: argparse.Namespace) -> int:
    from app.core.preprocess import preprocess_file

    label, predictor = open_predictor(args.model, args.debug)
    results: list[dict[str, Any]] = []
    failed = 0
    for name in args.images:
        record: dict[str, Any] = {"file": name, "digit": None, "confidence": None,
                                  "probabilities": None, "error": None}
        try:
            x = preprocess_file(name)
            if x is not None:
                probs = np.asarray(predictor.predict(x), dtype=np.float64).reshape(10)
                digit = int(np.argmax(probs))
                record.update(digit=digit, confidence=float(probs[digit]),
                              probabilities=[round(float(p), 6) for p in probs])
        except Exception as exc:  # one bad file must not stop the others
            if not isinstance(exc, DigitPadError):
                if args.debug:
                    err(traceback.format_exc().rstrip())
                exc = ValueError(f"cannot read this image ({type(exc).__name__}: {exc})")
            failed += 1
            msg = " ".join(str(exc).split())
            if name not in msg and str(Path(name).expanduser()) not in msg:
                msg = f"{name}: {msg}"
            record["error"] = msg
            err(error_line(msg))
        results.append(record)

    if args.json:
        out(json.dumps(results, indent=2))
        return 1 if failed else 0
    answered = [r for r in results if r["error"] is None]
    if answered:
        width = max(4, *(len(r["file"]) for r in answered))
        out(f"model: {label}")
        head = "  ".join(f"{d:>5}" for d in range(10))
        out(f"{'file':<{width}}  digit    conf  {head}")
        for r in answered:
            if r["digit"] is None:
                out(f"{r['file']:<{width}}      -       -  no digit found")
                continue
            cells = "  ".join(f"{p:5.3f}" for p in r["probabilities"])
            out(f"{r['file']:<{width}}  {r['digit']:>5}  {100 * r['confidence']:5.1f}%  {cells}")
    return 1 if failed else 0


# --------------------------------------------------------------------------- evaluate


def cmd_evaluate(args: argparse.Namespace) -> int:
    from app.core.data import load_mnist
    from app.core.training import evaluate_keras, evaluate_predictions

    label, entry, path = resolve_model(args.model)
    (_x_train, _y_train), (x_test, y_test) = load_mnist(args.data)
    if path is not None and path.suffix.lower() == ".keras":
        from app.core.store import load_keras_model

        with native_stderr_quiet(not args.debug):
            model = load_keras_model(path)
        evaluation = evaluate_keras(model, x_test, y_test)
    else:
        predictor = _predictor_for(entry, path, args.debug)
        with native_stderr_quiet(not args.debug):
            probs = predictor.predict_batch(x_test)
        evaluation = evaluate_predictions(y_test, np.argmax(probs, axis=1))

    if args.json:
        out(json.dumps({
            "model": label,
            "accuracy": evaluation.accuracy,
            "per_class_accuracy": evaluation.per_class,
            "confusion": evaluation.confusion,
            "count": evaluation.count,
        }, indent=2))
        return 0
    out(f"model: {label}")
    out(f"test images: {evaluation.count}")
    out(f"accuracy: {_pct(evaluation.accuracy)}")
    out("per-class accuracy:")
    totals = [sum(row) for row in evaluation.confusion]
    for d in range(10):
        out(f"  {d}: {_pct(evaluation.per_class[d]):>8}  ({totals[d]} images)")
    out("confusion matrix (rows: true digit, columns: predicted digit):")
    cell = max(4, len(str(max((max(r) for r in evaluation.confusion), default=0))) + 1)
    out("     " + "".join(f"{d:>{cell}}" for d in range(10)))
    for d, row in enumerate(evaluation.confusion):
        out(f"  {d}: " + "".join(f"{v:>{cell}}" for v in row))
    return 0


# --------------------------------------------------------------------------- train


class ProgressListener(TrainingListener):
    """Draws a progress bar on stderr; cancels after Ctrl+C (see :func:`cmd_train`).

    On a terminal the bar is redrawn in place ('\\r', at most ~10 times a second); when
    stderr is a file or pipe, one line per epoch is written instead.
    """

    BAR = 24

    def __init__(self, stream_getter: Callable[[], IO[str] | None] = lambda: sys.stderr) -> None:
        self._stream = stream_getter
        self.stop_requested = False
        self.epochs = 0
        self.steps = 0
        self._epoch_start = 0.0
        self._last_draw = 0.0
        self._dirty = False  # a '\r' line is on screen
        self.quiet_statuses: tuple[str, ...] = ()  # status prefixes not to show

    # the TrainingListener protocol
    def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
        self.epochs, self.steps = epochs, steps_per_epoch
        self._epoch_start = time.monotonic()
        if not self._tty():
            err(f"training {config.arch}: {epochs} epoch(s) of {steps_per_epoch} batches")

    def on_batch(self, epoch: int, step: int, steps_per_epoch: int, logs: dict[str, float]) -> None:
        if step == 0:
            self._epoch_start = time.monotonic()
        if not self._tty():
            return
        now = time.monotonic()
        last = step + 1 >= steps_per_epoch
        if not last and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        done = step + 1
        elapsed = now - self._epoch_start
        eta = elapsed / done * (steps_per_epoch - done) if done else 0.0
        self._draw(self.line(epoch, done, steps_per_epoch, logs, f"ETA {_duration(eta)}"))

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        took = time.monotonic() - self._epoch_start
        line = self.line(epoch, self.steps, self.steps, logs, f"{_duration(took)}")
        val = "  ".join(f"{k} {v:.4f}" for k, v in sorted(logs.items()) if k.startswith("val_"))
        if val:
            line += f"  {val}"
        if self._tty():
            self._draw(line)
            self._end_line()
        else:
            err(line)

    def on_status(self, text: str) -> None:
        if self.quiet_statuses and text.startswith(self.quiet_statuses):
            return
        self._end_line()
        err(text)

    def should_stop(self) -> bool:
        return self.stop_requested

    # drawing
    def line(self, epoch: int, done: int, steps: int, logs: dict[str, float], tail: str) -> str:
        frac = done / steps if steps else 1.0
        filled = min(self.BAR, round(frac * self.BAR))
        bar = "#" * filled + "." * (self.BAR - filled)
        width = len(str(steps))
        parts = [f"epoch {epoch + 1}/{self.epochs}", f"[{bar}]", f"{done:>{width}}/{steps}"]
        if "loss" in logs:
            parts.append(f"loss {logs['loss']:.4f}")
        if "accuracy" in logs:
            parts.append(f"acc {logs['accuracy']:.4f}")
        parts.append(tail)
        return "  ".join(parts)

    def _tty(self) -> bool:
        stream = self._stream()
        if stream is None:
            return False
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError, OSError):
            return False

    def _draw(self, line: str) -> None:
        stream = self._stream()
        if stream is None:
            return
        try:
            stream.write("\r" + line + "\x1b[K")
            stream.flush()
            self._dirty = True
        except (OSError, ValueError):
            pass

    def _end_line(self) -> None:
        if self._dirty:
            self._dirty = False
            _write(self._stream(), "")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


class _SigintCancel:
    """While active, the first Ctrl+C asks the listener to stop after the current batch;
    a second one interrupts at once (KeyboardInterrupt)."""

    def __init__(self, listener: ProgressListener) -> None:
        self.listener = listener
        self._old: Any = None
        self._installed = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.listener.stop_requested:
            raise KeyboardInterrupt
        self.listener.stop_requested = True
        self.listener._end_line()
        err("Stopping after this batch... (press Ctrl+C again to abort at once)")

    def __enter__(self) -> _SigintCancel:
        try:
            self._old = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        except ValueError:  # not the main thread: Ctrl+C keeps its default meaning
            self._installed = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._old)


def cmd_train(args: argparse.Namespace) -> int:
    from app.core.models import get_architecture
    from app.core.store import valid_name
    from app.core.training import train

    cfg = TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                      learning_rate=args.lr, augment=args.augment, limit=args.limit,
                      seed=args.seed).resolved()
    store = _store()
    if args.name is not None:
        if not valid_name(args.name):
            raise ModelError(f"{args.name!r} is not a valid model name (letters, digits, . _ - ( ) +).")
        if args.name in store or (store.models_dir / args.name).exists():
            raise ModelError(f"A model named {args.name!r} already exists.")

    listener = ProgressListener()
    with _SigintCancel(listener):
        from app.core.data import load_mnist

        listener.on_status(f"Loading {args.data or 'MNIST'}...")
        dataset = load_mnist(args.data)
        listener.on_status("Loading TensorFlow...")
        with native_stderr_quiet(not args.debug):
            from app.core.tf import import_keras, import_tf

            import_keras()
            import_tf().config.list_physical_devices()  # probes CUDA now, quietly
        listener.quiet_statuses = ("Loading",)  # train() would announce them again
        result = train(cfg, listener, dataset=dataset)
    listener._end_line()
    if result.cancelled:
        err("Training cancelled; nothing was saved.")
        return EXIT_INTERRUPTED
    evaluation = result.evaluation
    assert evaluation is not None
    out(f"test accuracy: {_pct(evaluation.accuracy)} on {evaluation.count} images "
        f"({_duration(result.seconds)} in all)")

    arch = get_architecture(cfg.arch)
    n_images = "all" if cfg.limit is None else str(cfg.limit)
    title = args.name or (f"{arch.title}, {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}, "
                          f"{n_images} images{', augmented' if cfg.augment else ''}")
    meta = {
        "arch": cfg.arch,
        "title": title,
        "training": result.config.to_dict(),
        "data": str(args.data) if args.data is not None else "bundled MNIST",
        "seconds": round(result.seconds, 1),
        "history": result.history,
        "test_accuracy": evaluation.accuracy,
        "per_class_accuracy": evaluation.per_class,
        "confusion": evaluation.confusion,
        "trained_by": f"{PROG} train",
    }
    err("Saving the model...")
    with native_stderr_quiet(not args.debug):
        entry = store.save(result.model, meta, name=args.name, activate=not args.no_activate)
    state = "not made active" if args.no_activate else "now the active model"
    out(f"saved model {entry.name!r} ({state})")
    return 0


# --------------------------------------------------------------------------- models


def _model_row(entry: Any, active: str | None) -> dict[str, Any]:
    return {
        "name": entry.name,
        "title": entry.title,
        "arch": entry.arch,
        "test_accuracy": entry.test_accuracy,
        "created": entry.created,
        "params": entry.meta.get("params"),
        "active": entry.name == active,
        "builtin": entry.builtin,
        "path": str(entry.path),
    }


def cmd_models_list(args: argparse.Namespace) -> int:
    store = _store()
    try:
        active: str | None = store.active_name()
    except ModelError:
        active = None
    rows = [_model_row(e, active) for e in store.entries()]
    if args.json:
        out(json.dumps(rows, indent=2))
        return 0
    if not rows:
        out(f"No models. Train one with: {PROG} train")
        return 0
    wn = max(4, *(len(r["name"]) for r in rows))
    wa = max(4, *(len(r["arch"]) for r in rows))
    out(f"  {'name':<{wn}}  {'arch':<{wa}}  {'accuracy':>8}  created")
    for r in rows:
        mark = "*" if r["active"] else " "
        created = str(r["created"])[:16].replace("T", " ")
        extra = "builtin" if r["builtin"] else ""
        out(f"{mark} {r['name']:<{wn}}  {r['arch']:<{wa}}  {_pct(r['test_accuracy']):>8}  "
            f"{created:<16}  {extra}".rstrip())
    return 0


def cmd_models_use(args: argparse.Namespace) -> int:
    store = _store()
    store.set_active(args.name)
    out(f"active model: {args.name}")
    return 0


def cmd_models_delete(args: argparse.Namespace) -> int:
    store = _store()
    store.delete(args.name)
    out(f"deleted model {args.name!r}; active model: {store.active_name()}")
    return 0


def cmd_models_rename(args: argparse.Namespace) -> int:
    store = _store()
    entry = store.rename(args.old, args.new)
    out(f"renamed {args.old!r} to {entry.name!r}")
    return 0


def cmd_models_export(args: argparse.Namespace) -> int:
    store = _store()
    dest = Path(args.dest).expanduser()
    if dest.is_dir():
        dest = dest / f"{args.name}.tflite"
    written = store.export(args.name, dest)
    out(f"exported {args.name!r} to {written}")
    return 0


def cmd_models_import(args: argparse.Namespace) -> int:
    store = _store()
    entry = store.import_keras(args.file, name=args.name, activate=args.activate)
    out(f"imported {args.file} as {entry.name!r}" + (" (now active)" if args.activate else ""))
    return 0


# --------------------------------------------------------------------------- samples


def _samples() -> Any:
    from app.core.paths import user_home
    from app.core.samples import SampleStore

    store = SampleStore(user_home())
    for problem in store.problems:
        warn(problem)
    return store


def cmd_samples_list(args: argparse.Namespace) -> int:
    samples = _samples()
    counts = samples.counts()
    if args.json:
        out(json.dumps({"folder": str(samples.folder), "total": sum(counts), "per_digit": counts,
                        "samples": [{"id": s.id, "label": s.label} for s in samples.samples()]}, indent=2))
        return 0
    if not sum(counts):
        out("No personal samples yet. In the window, draw a digit and press its key (0-9) "
            "to keep it; or import a .npz with: digitpad samples import FILE")
        return 0
    out(f"{sum(counts)} personal samples in {samples.folder}")
    out("digit  " + "  ".join(f"{d:>4}" for d in range(10)))
    out("count  " + "  ".join(f"{c:>4}" for c in counts))
    if args.ids:
        for d in range(10):
            ids = [str(s.id) for s in samples.samples(d)]
            if ids:
                out(f"  {d}: " + " ".join(ids))
    return 0


def cmd_samples_export(args: argparse.Namespace) -> int:
    samples = _samples()
    written = samples.export_npz(Path(args.file).expanduser())  # (refuses an empty set)
    out(f"exported {len(samples.ids())} samples to {written}")
    return 0


def cmd_samples_import(args: argparse.Namespace) -> int:
    samples = _samples()
    added = samples.import_npz(Path(args.file).expanduser())
    out(f"imported {added} samples from {args.file}; {len(samples.ids())} in all")
    return 0


def cmd_samples_delete(args: argparse.Namespace) -> int:
    samples = _samples()
    known = set(samples.ids())
    missing = [i for i in args.ids if i not in known]
    if missing:
        raise DigitPadError(f"No personal sample with id {', '.join(map(str, missing))}; "
                            f"see: {PROG} samples list --ids")
    removed = samples.delete(args.ids)
    out(f"deleted {removed} sample(s); {len(samples.ids())} left")
    return 0


# --------------------------------------------------------------------------- finetune


def cmd_finetune(args: argparse.Namespace) -> int:
    """Fine-tune a store model on the personal samples: the same core functions as the
    window's "Train on my drawings" (fine_tune, save_fine_tuned)."""
    from app.core.finetune import MIN_SAMPLES, FineTuneConfig, fine_tune, save_fine_tuned

    samples = _samples()
    if len(samples.ids()) < MIN_SAMPLES:
        raise DigitPadError(f"Fine-tuning needs at least {MIN_SAMPLES} personal samples; there are "
                            f"{len(samples.ids())}. Keep drawings in the window (press the digit's "
                            f"key) or import some with: {PROG} samples import FILE")
    store = _store()
    base = store.get(args.model) if args.model else store.get(store.active_name())
    cfg = FineTuneConfig(learning_rate=args.lr, mnist_eval=args.mnist_test, seed=args.seed)
    if args.epochs is not None:
        cfg.epochs = args.epochs
    if args.mnist_images is not None:
        cfg.mnist_images = args.mnist_images
    cfg.validate()
    x, y = samples.arrays()
    listener = ProgressListener()
    with _SigintCancel(listener), native_stderr_quiet(not args.debug):
        result = fine_tune(base, (x, y, samples.ids()), listener, cfg)
    listener._end_line()
    if result.cancelled or result.after is None:
        err("Fine-tuning cancelled; nothing was saved.")
        return EXIT_INTERRUPTED
    before, after = result.before, result.after
    if before.personal is not None and after.personal is not None:
        out(f"your {before.personal_count} held-out samples: "
            f"{_pct(before.personal)} -> {_pct(after.personal)}")
    out(f"MNIST test ({after.mnist_count} images): {_pct(before.mnist)} -> {_pct(after.mnist)}")
    err("Saving the model...")
    with native_stderr_quiet(not args.debug):
        entry = save_fine_tuned(store, result, f"{PROG} finetune", activate=not args.no_activate)
    state = "not made active" if args.no_activate else "now the active model"
    out(f"saved model {entry.name!r} ({state}); the base model {base.name!r} is kept")
    return 0


# --------------------------------------------------------------------------- parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse whose messages survive ``sys.stderr is None``."""

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            _write(file if file is not None else sys.stderr, message.rstrip("\n"))

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            _write(sys.stderr, message.rstrip("\n"))
        raise SystemExit(status)


SUBCOMMANDS = ("train", "evaluate", "predict", "models", "samples", "finetune")


def build_parser() -> argparse.ArgumentParser:
    from app.core.models import ARCHITECTURES, DEFAULT_ARCH

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")

    parser = _Parser(
        prog=PROG,
        description="Draw digits and watch a Keras network recognise them. "
                    "Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    model_help = "a model name from the store, or a .tflite / .keras file (default: the active model)"

    p = sub.add_parser("train", parents=[common], help="train a new model and add it to the store",
                       description="Train a model on MNIST, evaluate it on the test set and save it "
                                   "to the store (Ctrl+C cancels; nothing is saved).")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCH,
                   help=f"network architecture (default: {DEFAULT_ARCH})")
    p.add_argument("--epochs", type=_positive_int, help="epochs (default: the architecture's)")
    p.add_argument("--batch-size", type=_positive_int, help="batch size (default: the architecture's)")
    p.add_argument("--lr", type=_finite_float, help="learning rate (default: the architecture's)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random shifts, rotations and stroke widths (default: the architecture's)")
    p.add_argument("--limit", type=_positive_int, help="train on only N images (quick trials)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--data", metavar="PATH",
                   help="a .npz (keras layout) or a directory of MNIST IDX files (default: bundled)")
    p.add_argument("--name", help="name in the store (default: <arch>-<date>-<time>)")
    p.add_argument("--no-activate", action="store_true",
                   help="do not make the new model the active one")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", parents=[common], help="accuracy of a model on the MNIST test set",
                       description="Accuracy, per-class accuracy and confusion matrix on the "
                                   "MNIST test set.")
    p.add_argument("--model", metavar="NAME|PATH", help=model_help)
    p.add_argument("--data", metavar="PATH",
                   help="a .npz (keras layout) or a directory of MNIST IDX files (default: bundled)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", parents=[common], help="recognise the digit in image files",
                       description="Recognise the digit in each image (any format Pillow reads; "
                                   "dark-on-light or light-on-dark).")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", metavar="NAME|PATH", help=model_help)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("models", parents=[common], help="list and manage the models in the store",
                       description="List the models (* = active); subcommands manage them.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models_list)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", parser_class=_Parser)
    q = msub.add_parser("list", parents=[common], help="list the models (the default)")
    q.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    q.set_defaults(func=cmd_models_list)
    q = msub.add_parser("use", parents=[common], help="make a model the active one")
    q.add_argument("name")
    q.set_defaults(func=cmd_models_use)
    q = msub.add_parser("delete", parents=[common], help="delete a user model")
    q.add_argument("name")
    q.set_defaults(func=cmd_models_delete)
    q = msub.add_parser("rename", parents=[common], help="rename a user model")
    q.add_argument("old")
    q.add_argument("new")
    q.set_defaults(func=cmd_models_rename)
    q = msub.add_parser("export", parents=[common],
                        help="copy a model to a .tflite or .keras file")
    q.add_argument("name")
    q.add_argument("dest", help="destination file (.tflite or .keras) or directory")
    q.set_defaults(func=cmd_models_export)
    q = msub.add_parser("import", parents=[common], help="add a .keras file to the store")
    q.add_argument("file")
    q.add_argument("--name", help="name in the store (default: the file's name)")
    q.add_argument("--activate", action="store_true", help="make it the active model")
    q.set_defaults(func=cmd_models_import)

    p = sub.add_parser("samples", parents=[common], help="your personal samples (corrected drawings)",
                       description="The drawings you kept in the window (a digit's key labels the "
                                   "drawing); subcommands export, import and delete them.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--ids", action="store_true", help="also list each digit's sample ids")
    p.set_defaults(func=cmd_samples_list)
    ssub = p.add_subparsers(dest="samples_command", metavar="ACTION", parser_class=_Parser)
    q = ssub.add_parser("list", parents=[common], help="count them per digit (the default)")
    q.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    q.add_argument("--ids", action="store_true", default=argparse.SUPPRESS, help="list the ids")
    q.set_defaults(func=cmd_samples_list)
    q = ssub.add_parser("export", parents=[common], help="write them all to a .npz file")
    q.add_argument("file")
    q.set_defaults(func=cmd_samples_export)
    q = ssub.add_parser("import", parents=[common],
                        help="add samples from a .npz (x: N 28x28 uint8 images, y: N labels)")
    q.add_argument("file")
    q.set_defaults(func=cmd_samples_import)
    q = ssub.add_parser("delete", parents=[common], help="delete samples by id")
    q.add_argument("ids", nargs="+", type=int, metavar="ID")
    q.set_defaults(func=cmd_samples_delete)

    p = sub.add_parser("finetune", parents=[common], help="fine-tune a model on your personal samples",
                       description="Fine-tune a model on your personal samples mixed with MNIST (as "
                                   "the window's Train on my drawings), show the accuracy on held-out "
                                   "samples and on MNIST before and after, and save the result as a "
                                   "new model (Ctrl+C cancels; nothing is saved).")
    p.add_argument("--model", metavar="NAME", help="the model to start from (default: the active one)")
    p.add_argument("--epochs", type=_positive_int, help="epochs (default: 3)")
    p.add_argument("--lr", type=_finite_float, help="learning rate (default: depends on the model)")
    p.add_argument("--mnist-images", type=int, metavar="N",
                   help="MNIST training images mixed in, so it does not forget (default: 6000)")
    p.add_argument("--mnist-test", type=_positive_int, metavar="N",
                   help="measure on N MNIST test images instead of all 10000 (quicker)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--no-activate", action="store_true",
                   help="do not make the new model the active one")
    p.set_defaults(func=cmd_finetune)
    return parser


def _gui_mode(argv: Sequence[str]) -> bool:
    """True when no command is given: only --debug and Qt-style options (``-style x``).

    ``--version``/``--help``, a command, an unknown ``--option`` or a stray word all go
    to argparse (which prints the version/help or a usage error).
    """
    for i, tok in enumerate(argv):
        if tok == "--debug":
            continue
        if tok in ("-h", "--help", "--version") or tok.startswith("--"):
            return False
        # First other token: a single-dash option opens the window (Qt's -style, -platform).
        return tok.startswith("-") and len(tok) > 1 and not any(t in SUBCOMMANDS for t in argv[i:])
    return True


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    if args_list[:1] == ["--self-test"]:
        from app.selftest import run_self_test

        return run_self_test(args_list[1:])
    if args_list[:1] == ["--startup-probe"]:
        from app.selftest import run_startup_probe

        return run_startup_probe(args_list[1:])
    try:
        if _gui_mode(args_list):
            return cmd_gui([t for t in args_list if t != "--debug"])
        parser = build_parser()
        try:
            args = parser.parse_args(args_list)
        except SystemExit as exc:  # --help, --version (0) and usage errors (2)
            return int(exc.code) if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        debug = bool(getattr(args, "debug", False))
        if args.command is None:
            return cmd_gui([])
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except KeyboardInterrupt:
        err(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `digitpad models | head`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, AttributeError, ValueError):
            pass
        return 1
    except DigitPadError as exc:
        if debug:
            err(traceback.format_exc().rstrip())
        err(error_line(exc))
        return 1
    except Exception as exc:
        if debug:
            err(traceback.format_exc().rstrip())
            err(error_line(f"unexpected {type(exc).__name__}: {exc}"))
        else:
            first = (str(exc).strip().splitlines() or [""])[0]
            detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
            err(error_line(f"unexpected {detail} (run with --debug for the traceback)"))
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
