"""``digitpad train`` and ``digitpad finetune``: long jobs with a progress bar on stderr that
Ctrl+C cancels (nothing is saved), calling the same core functions as the window.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import IO, Any

from app.cli import common
from app.cli.common import (
    EXIT_INTERRUPTED,
    PROG,
    Parser,
    SubParsers,
    err,
    finite_float,
    native_stderr_quiet,
    out,
    pct,
    positive_int,
    write,
)
from app.core.errors import DigitPadError, ModelError
from app.core.training import TrainConfig, TrainingListener


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
        self._draw(self.line(epoch, done, steps_per_epoch, logs, f"ETA {duration(eta)}"))

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        took = time.monotonic() - self._epoch_start
        line = self.line(epoch, self.steps, self.steps, logs, f"{duration(took)}")
        val = "  ".join(f"{k} {v:.4f}" for k, v in sorted(logs.items()) if k.startswith("val_"))
        if val:
            line += f"  {val}"
        if self._tty():
            self._draw(line)
            self.end_line()
        else:
            err(line)

    def on_status(self, text: str) -> None:
        if self.quiet_statuses and text.startswith(self.quiet_statuses):
            return
        self.end_line()
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

    def end_line(self) -> None:
        if self._dirty:
            self._dirty = False
            write(self._stream(), "")


def duration(seconds: float) -> str:
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
        self.listener.end_line()
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


def _load_tensorflow(listener: ProgressListener, debug: bool) -> None:
    """Import TensorFlow with its native chatter on stderr silenced (unless ``debug``);
    the training that follows then reports its progress on a normal stderr."""
    listener.on_status("Loading TensorFlow...")
    with native_stderr_quiet(not debug):
        from app.core.tf import import_keras, import_tf

        import_keras()
        import_tf().config.list_physical_devices()  # probes CUDA now, quietly
    listener.quiet_statuses = ("Loading TensorFlow",)  # train() would announce it again


def cmd_train(args: argparse.Namespace) -> int:
    from app.core.models import get_architecture
    from app.core.store import NAME_RULE, valid_name
    from app.core.training import save_trained, train

    cfg = TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                      learning_rate=args.lr, augment=args.augment, limit=args.limit,
                      seed=args.seed).resolved()
    store = common.open_store()
    store.check_writable()  # a read-only store is found out now, not after training
    if args.name is not None:
        if not valid_name(args.name):
            raise ModelError(f"{args.name!r} is not a valid model name ({NAME_RULE}).")
        if args.name in store or (store.models_dir / args.name).exists():
            raise ModelError(f"A model named {args.name!r} already exists.")

    listener = ProgressListener()
    with _SigintCancel(listener):
        from app.core.data import load_mnist

        listener.on_status(f"Loading {args.data or 'MNIST'}...")
        dataset = load_mnist(args.data)
        _load_tensorflow(listener, args.debug)
        result = train(cfg, listener, dataset=dataset)
    listener.end_line()
    if result.cancelled:
        err("Training cancelled; nothing was saved.")
        return EXIT_INTERRUPTED
    evaluation = result.evaluation
    assert evaluation is not None
    out(f"test accuracy: {pct(evaluation.accuracy)} on {evaluation.count} images "
        f"({duration(result.seconds)} in all)")

    arch = get_architecture(cfg.arch)
    n_images = "all" if cfg.limit is None else str(cfg.limit)
    title = args.name or (f"{arch.title}, {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}, "
                          f"{n_images} images{', augmented' if cfg.augment else ''}")
    err("Saving the model...")
    with native_stderr_quiet(not args.debug):
        saved = save_trained(store, result, f"{PROG} train", name=args.name, title=title,
                             activate=args.activate,
                             data=str(args.data) if args.data is not None else "bundled MNIST")
    # (no should_stop: a Ctrl+C while saving is the second one)
    assert saved is not None and saved.outcome is not None
    out(f"saved model {saved.name!r}")
    _say(saved.outcome, args)
    return 0


def _say(outcome: Any, args: argparse.Namespace) -> None:
    """What ``--activate`` did with the new model."""
    out(outcome.text())
    if not outcome.activated and args.activate == "if-better":
        out(f"to use it anyway: {PROG} models use {outcome.name!r}")



def cmd_finetune(args: argparse.Namespace) -> int:
    """Fine-tune a store model on the personal samples: the same core functions as the
    window's "Train on my drawings" (fine_tune, save_fine_tuned)."""
    from app.core.finetune import MIN_SAMPLES, FineTuneConfig, fine_tune, save_fine_tuned

    samples = common.open_samples()
    if len(samples.ids()) < MIN_SAMPLES:
        raise DigitPadError(f"Fine-tuning needs at least {MIN_SAMPLES} personal samples; there are "
                            f"{len(samples.ids())}. Keep drawings in the window (press the digit's "
                            f"key) or import some with: {PROG} samples import FILE")
    store = common.open_store()
    base = store.get(args.model) if args.model else store.get(store.active_name())
    store.check_writable()
    cfg = FineTuneConfig(learning_rate=args.lr, mnist_eval=args.mnist_test, seed=args.seed)
    if args.epochs is not None:
        cfg.epochs = args.epochs
    if args.mnist_images is not None:
        cfg.mnist_images = args.mnist_images
    cfg.validate()
    x, y = samples.arrays()
    listener = ProgressListener()
    with _SigintCancel(listener):
        _load_tensorflow(listener, args.debug)  # quietly; the progress itself must be seen
        result = fine_tune(base, (x, y, samples.ids()), listener, cfg)
    listener.end_line()
    if result.cancelled or result.after is None:
        err("Fine-tuning cancelled; nothing was saved.")
        return EXIT_INTERRUPTED
    before, after = result.before, result.after
    if before.personal is not None and after.personal is not None:
        out(f"your {before.personal_count} held-out samples: "
            f"{pct(before.personal)} -> {pct(after.personal)}")
    out(f"MNIST test ({after.mnist_count} images): {pct(before.mnist)} -> {pct(after.mnist)}")
    err("Saving the model...")
    with native_stderr_quiet(not args.debug):
        current = store.active_name()
        entry = save_fine_tuned(store, result, f"{PROG} finetune", activate=False)
    out(f"saved model {entry.name!r} (the base model {base.name!r} is kept)")
    from app.core.activation import settle_saved

    _say(settle_saved(store, entry.name, args.activate, current), args)
    return 0



def add_train_parser(sub: SubParsers, common: Parser) -> None:
    """The ``train`` command's arguments."""
    from app.core.models import ARCHITECTURES, DEFAULT_ARCH

    p = sub.add_parser("train", parents=[common], help="train a new model and add it to the store",
                       description="Train a model on MNIST, evaluate it on the test set and save it "
                                   "to the store (Ctrl+C cancels; nothing is saved).")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCH,
                   help=f"network architecture (default: {DEFAULT_ARCH})")
    p.add_argument("--epochs", type=positive_int, help="epochs (default: the architecture's)")
    p.add_argument("--batch-size", type=positive_int, help="batch size (default: the architecture's)")
    p.add_argument("--lr", type=finite_float, help="learning rate (default: the architecture's)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random shifts, rotations and stroke widths (default: the architecture's)")
    p.add_argument("--limit", type=positive_int, help="train on only N images (quick trials)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--data", metavar="PATH",
                   help="a .npz (keras layout) or a directory of MNIST IDX files (default: bundled)")
    p.add_argument("--name", help="name in the store (default: e.g. \"Fast convnet · 3 ep · 99.04 %%\")")
    _activate_args(p)
    p.set_defaults(func=cmd_train)


def add_finetune_parser(sub: SubParsers, common: Parser) -> None:
    """The ``finetune`` command's arguments."""
    p = sub.add_parser("finetune", parents=[common], help="fine-tune a model on your personal samples",
                       description="Fine-tune a model on your personal samples mixed with MNIST (as "
                                   "the window's Train on my drawings), show the accuracy on held-out "
                                   "samples and on MNIST before and after, and save the result as a "
                                   "new model (Ctrl+C cancels; nothing is saved).")
    p.add_argument("--model", metavar="NAME", help="the model to start from (default: the active one)")
    p.add_argument("--epochs", type=positive_int, help="epochs (default: 3)")
    p.add_argument("--lr", type=finite_float, help="learning rate (default: depends on the model)")
    p.add_argument("--mnist-images", type=int, metavar="N",
                   help="MNIST training images mixed in, so it does not forget (default: 6000)")
    p.add_argument("--mnist-test", type=positive_int, metavar="N",
                   help="measure on N MNIST test images instead of all 10000 (quicker)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    _activate_args(p)
    p.set_defaults(func=cmd_finetune)


def _activate_args(p: argparse.ArgumentParser) -> None:
    from app.core.activation import ACTIVATE_MODES

    p.add_argument("--activate", choices=ACTIVATE_MODES, default="if-better",
                   help="put the new model in use: always, only if at least as good as the model "
                        "in use on MNIST and on your personal samples (if-better, the default), "
                        "or never")
    p.add_argument("--no-activate", dest="activate", action="store_const", const="never",
                   help="the same as --activate never")
