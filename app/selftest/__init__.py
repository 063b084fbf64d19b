"""``DigitPad --self-test``: check that this installation really works, end to end.

It opens the real main window (offscreen unless ``QT_QPA_PLATFORM`` says otherwise), draws
digits on the pad with real mouse events, checks the live prediction, trains a tiny model
through the window's Train button (TensorFlow and Keras inside the bundle), and checks that
the new model is saved in the user's folder, made active and predicts through LiteRT.

The user's data is not touched: unless ``DIGITPAD_HOME`` is set, a temporary DigitPad home
is used and removed afterwards. One line per check (PASS/FAIL/SKIP and its time) goes to
stdout when there is one and always to a report file (``--report PATH``; by default
``$DIGITPAD_HOME/selftest-report.txt`` when ``DIGITPAD_HOME`` is set, else
``<temp dir>/digitpad-selftest-report.txt``), since a windowed bundle has no stdout.
Exit status 0 when every check passed, 1 otherwise (2 for a usage error).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import APP_NAME, __version__
from app.selftest.driving import (
    CheckFailed,
    application,
    check_drawn,
    click,
    draw_and_read,
    environment,
    find_widget,
    open_window,
    process_events,
    say,
)

if TYPE_CHECKING:
    from app.ui.progress import JobOutcome

REPORT_NAME = "selftest-report.txt"
DEFAULT_TIMEOUT = 600.0  # seconds allowed for the tiny training (TensorFlow start included)
# The tiny training: the classic MLP on 600 images, 2 epochs (seconds once TensorFlow is up).
# It must learn something (MIN_ACCURACY on the MNIST test set), which shows that the
# bundled TensorFlow really trains, not merely that it imports.
TINY_TRAINING_ARGS = {"arch": "mlp", "epochs": 4, "batch_size": 32, "learning_rate": 0.5,
                      "limit": 600, "seed": 1}
MIN_ACCURACY = 0.5

# The widgets the self-test drives, by objectName (the window's public contract).
WIDGETS = ("drawingPad", "probabilityView", "topDigitLabel", "trainButton", "trainProgress",
           "cancelButton")



@dataclass
class Check:
    name: str
    status: str  # PASS, FAIL or SKIP
    seconds: float
    detail: str = ""

    def line(self) -> str:
        text = f"{self.status:4}  {self.name:<48} {self.seconds:7.2f} s"
        return f"{text}  {self.detail}" if self.detail else text


class Report:
    """Runs checks in order; after a failed *required* check the rest are skipped."""

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.header: list[str] = []
        self.t0 = time.perf_counter()
        self.blocked: str | None = None

    def check(self, name: str, fn: Callable[[], str | None], required: bool = True) -> bool:
        if self.blocked is not None:
            self._add(Check(name, "SKIP", 0.0, f"after: {self.blocked}"))
            return False
        t = time.perf_counter()
        try:
            detail = fn() or ""
            status = "PASS"
        except CheckFailed as exc:
            status, detail = "FAIL", str(exc)
        except Exception as exc:
            status = "FAIL"
            detail = f"{type(exc).__name__}: {exc}"
            tb = traceback.format_exc().rstrip().splitlines()
            detail += "\n        " + "\n        ".join(tb[-8:])
        self._add(Check(name, status, time.perf_counter() - t, detail))
        if status == "FAIL" and required:
            self.blocked = name
        return status == "PASS"

    def skip(self, name: str, why: str) -> None:
        self._add(Check(name, "SKIP", 0.0, why))

    def _add(self, c: Check) -> None:
        self.checks.append(c)
        say(c.line())

    @property
    def ok(self) -> bool:
        """No check failed and at least one ran (a skipped check is not a failure)."""
        statuses = [c.status for c in self.checks]
        return "PASS" in statuses and "FAIL" not in statuses

    def text(self) -> str:
        total = time.perf_counter() - self.t0
        failed = [c.name for c in self.checks if c.status == "FAIL"]
        skipped = sum(c.status == "SKIP" for c in self.checks)
        if self.ok:
            verdict = "ALL CHECKS PASSED" + (f", {skipped} skipped" if skipped else "")
        else:
            verdict = "SELF-TEST FAILED: " + ("; ".join(failed) or "no check ran")
        lines = [*self.header, "", *(c.line() for c in self.checks), "",
                 f"{verdict} ({len(self.checks)} checks, {total:.1f} s)"]
        return "\n".join(lines) + "\n"



# --------------------------------------------------------------------------- the checks


def _describe_install() -> list[str]:
    from app._frozen import bundle_dir
    from app.core import paths

    where = f"bundle {bundle_dir()}" if bundle_dir() else f"python package {Path(__file__).resolve().parent}"
    return [
        f"{APP_NAME} {__version__} self-test, {time.strftime('%Y-%m-%d %H:%M:%S')}",
        f"running from: {where}",
        f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPU(s)",
        f"Qt platform: {os.environ.get('QT_QPA_PLATFORM', '(default)')}",
        f"resources: {paths.resources_dir()}",
        f"shipped models: {paths.bundled_store_dir()}",
        f"user data (DIGITPAD_HOME): {paths.user_home()}",
    ]


def _check_resources() -> str:
    from app.core import paths

    missing = [str(p) for p in (paths.bundled_mnist_path(),
                                paths.resources_dir() / "icons" / "digitpad.png",
                                paths.bundled_store_dir() / "default" / "model.tflite",
                                paths.bundled_store_dir() / "default" / "model.keras",
                                paths.bundled_store_dir() / "default" / "meta.json")
               if not p.is_file()]
    if missing:
        raise CheckFailed("missing: " + ", ".join(missing))
    mb = paths.bundled_mnist_path().stat().st_size / 1e6
    return f"MNIST ({mb:.1f} MB), icons and the default model are there"


def trained_where(results: list[JobOutcome]) -> str:
    """Which process trained (from the job's outcome): the separate training process, and in
    a bundle the bundle's own executable; training in the window's process fails the check."""
    pid = results[-1].pid if results else None
    if pid is None:
        raise CheckFailed("the training result does not say which process trained")
    if pid == os.getpid():
        raise CheckFailed(f"the model was trained in the window's own process (pid {pid}), "
                          "not in the training process")
    frozen = bool(getattr(sys, "frozen", False))
    if frozen and not results[-1].frozen:
        raise CheckFailed(f"the training process (pid {pid}) is not the bundle's executable")
    tf = "loaded" if "tensorflow" in sys.modules else "not loaded"
    return (f"in the training process, pid {pid}" + (", the bundle's executable" if frozen else "")
            + f"; TensorFlow {tf} in the window's process")


class _Run:
    """State shared by the checks of one self-test run."""

    def __init__(self, home: Path, timeout: float, digits: list[str]) -> None:
        self.home = home
        self.timeout = timeout
        self.digits = digits
        self.app: Any = None
        self.window: Any = None
        self.new_model: str | None = None

    def open_window(self) -> str:
        self.app = application()
        self.window = open_window()
        for name in WIDGETS:
            find_widget(self.window, name)
        if self.window.live.predictor is None:
            raise CheckFailed(f"no model loaded ({self.window.last_error or 'no error shown'})")
        return f"model {self.window.models.current_name()!r}, all {len(WIDGETS)} widgets found"

    def tf_not_loaded(self) -> str:
        if "tensorflow" in sys.modules:
            raise CheckFailed("TensorFlow was imported before any training (slow start)")
        from app.core.inference import backend_name

        return f"predicting with {backend_name()}"

    def draw(self, digit: str) -> str:
        return check_drawn(self.window, digit)

    def train(self) -> str:
        from PySide6.QtCore import QEventLoop, QTimer

        from app.core.training import TrainConfig

        w = self.window
        tiny = TrainConfig(**TINY_TRAINING_ARGS)  # type: ignore[arg-type]
        w.training.config = tiny
        loop = QEventLoop()
        finished: list[object] = []

        def done(name: object) -> None:
            finished.append(name)
            loop.quit()

        from app.ui.progress import JobOutcome

        results: list[JobOutcome] = []  # the training job's outcome (which process trained)

        def started(worker: Any) -> None:
            worker.signals.returned.connect(
                lambda r: results.append(r) if isinstance(r, JobOutcome) else None)

        w.training.finished.connect(done)
        w.training.started.connect(started)
        button = find_widget(w, "trainButton")
        if not button.isEnabled():
            raise CheckFailed("the Train button is disabled")
        t = time.perf_counter()
        click(button)
        if not finished:  # (a training that failed at once has already finished)
            if not w.training.is_running():
                why = w.last_error or "no error shown"
                raise CheckFailed(f"clicking Train did not start training ({why})")
            if not find_widget(w, "cancelButton").isEnabled():
                raise CheckFailed("the Cancel button is not enabled while training")
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)
        timer.start(int(self.timeout * 1000))
        if not finished:
            loop.exec()
        timer.stop()
        with contextlib.suppress(RuntimeError, TypeError):
            w.training.finished.disconnect(done)
            w.training.started.disconnect(started)
        if not finished:
            w.training.cancel()
            self._wait_idle(60.0)
            raise CheckFailed(f"training did not finish within {self.timeout:.0f} s")
        name = finished[0]
        if not name:
            raise CheckFailed(f"training ended without a model: {w.last_error or 'cancelled?'}")
        self.new_model = str(name)
        question = w.training.question
        if question is not None:  # not as good as the shipped model: the window asks; use it
            click(find_widget(question, "useNewModelButton"))
            process_events(50)
        progress = find_widget(w, "trainProgress")
        if progress.value() != progress.maximum():
            raise CheckFailed(f"progress bar at {progress.value()}/{progress.maximum()} after training")
        return f"model {name!r} in {time.perf_counter() - t:.1f} s ({trained_where(results)})"

    def _wait_idle(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while self.window.training.is_running() and time.perf_counter() < end:
            process_events(50)

    def new_model_active(self) -> str:
        from app.core import paths
        from app.core.store import ModelStore

        w = self.window
        name = self.new_model
        if w.models.current_name() != name:
            raise CheckFailed(f"the window uses {w.models.current_name()!r}, not the new {name!r}")
        store = ModelStore()
        if store.active_name() != name:
            raise CheckFailed(f"the store's active model is {store.active_name()!r}, not {name!r}")
        entry = store.get(str(name))
        home = paths.user_home().resolve()
        if home not in entry.path.resolve().parents:
            raise CheckFailed(f"the new model was saved in {entry.path}, outside {home}")
        bundle = getattr(sys, "_MEIPASS", None)
        if bundle and Path(bundle).resolve() in entry.path.resolve().parents:
            raise CheckFailed(f"the new model was saved inside the bundle ({entry.path})")
        acc = entry.test_accuracy
        if acc is None or acc < MIN_ACCURACY:
            raise CheckFailed(f"the new model did not learn: test accuracy {acc} "
                              f"(expected at least {MIN_ACCURACY})")
        return f"saved in {entry.path}, test accuracy {acc * 100:.1f} %"

    def new_model_predicts(self) -> str:
        from app.core.inference import Predictor, backend_name, litert_expected

        w = self.window
        pred = w.live.predictor
        if not isinstance(pred, Predictor):
            raise CheckFailed(f"the window's predictor is {type(pred).__name__}, not a LiteRT Predictor")
        entry = w.models.entry
        if entry is None or pred.path.resolve() != entry.tflite_path.resolve():
            raise CheckFailed(f"the predictor runs {pred.path}, not the new model's .tflite")
        interp = pred.interpreter_module
        if litert_expected() and not interp.startswith("ai_edge_litert"):
            raise CheckFailed(f"the interpreter comes from {interp}, not LiteRT")
        digit = self.digits[0]
        label, probs, _moves = draw_and_read(w, digit)
        if probs is None or abs(sum(probs) - 1.0) > 1e-3 or not label:
            raise CheckFailed(f"no valid prediction from the new model (label {label!r}, {probs})")
        return f"{backend_name()} ({interp}); a drawn {digit} reads as {label}"

    def close(self) -> None:
        w = self.window
        if w is None:
            return
        with contextlib.suppress(Exception):
            if w.training.is_running():
                w.training.cancel()
                self._wait_idle(120.0)
        with contextlib.suppress(Exception):
            w.shutdown()
        with contextlib.suppress(Exception):
            w.close()
            w.deleteLater()
        with contextlib.suppress(Exception):
            process_events(20)
        self.window = None


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=f"{APP_NAME} --self-test",
        description="Check this DigitPad installation: window, drawing, live prediction, training.")
    ap.add_argument("--report", type=Path, help="write the report here (default: see below)")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="seconds allowed for the tiny training (default %(default)s)")
    ap.add_argument("--quick", action="store_true", help="skip the training (no TensorFlow)")
    ap.add_argument("--keep-home", action="store_true", help="keep the temporary DigitPad home")
    ap.add_argument("--visible", action="store_true",
                    help="use the real display instead of Qt's offscreen platform")
    ap.epilog = (f"The report goes to --report, else $DIGITPAD_HOME/{REPORT_NAME} when DIGITPAD_HOME "
                 f"is set, else {Path(tempfile.gettempdir()) / ('digitpad-' + REPORT_NAME)}.")
    return ap


def _report_path(args: argparse.Namespace) -> Path:
    if args.report is not None:
        return Path(args.report).expanduser()
    env = os.environ.get("DIGITPAD_HOME")
    if env:
        return Path(env).expanduser() / REPORT_NAME
    return Path(tempfile.gettempdir()) / f"digitpad-{REPORT_NAME}"


def run_self_test(argv: list[str] | None = None) -> int:
    """Run the self-test; 0 when every check passed, 1 otherwise (2 for bad arguments)."""
    try:
        args = _parser().parse_args(list(argv or []))
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 2
    report_path = _report_path(args)
    report = Report()
    digits = ["7", "1"]
    with environment(offscreen=not args.visible, keep_home=args.keep_home) as (home, temporary):
        report.header = _describe_install()
        if temporary:
            report.header.append("(a temporary DigitPad home, "
                                 + ("kept afterwards)" if args.keep_home else "removed afterwards)"))
        for line in report.header:
            say(line)
        say("")
        run = _Run(home, args.timeout, digits)
        try:
            report.check("bundled resources present", _check_resources)
            report.check("window opens with the shipped model", run.open_window)
            # Required where LiteRT comes with DigitPad: there a TensorFlow import at start is a bug.
            from app.core.inference import litert_expected

            report.check("TensorFlow not loaded at start", run.tf_not_loaded, required=litert_expected())
            for d in digits:
                report.check(f"draw a {d} with the mouse: predicts {d}", functools.partial(run.draw, d),
                             required=False)
            if args.quick:
                report.skip("train a tiny model with the Train button", "--quick")
            else:
                if report.check("train a tiny model with the Train button", run.train):
                    report.check("new model learned, saved in user folder, active", run.new_model_active)
                    report.check("new model predicts through LiteRT", run.new_model_predicts)
        finally:
            run.close()
    text = report.text()
    say(text.rstrip().splitlines()[-1])
    try:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(text, encoding="utf-8")
        say(f"report: {report_path}")
    except OSError as exc:
        say(f"cannot write the report to {report_path}: {exc}")
        return 1
    return 0 if report.ok else 1

