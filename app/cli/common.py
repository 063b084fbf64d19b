"""What every command shares: output that survives missing streams, the argument types and
parser class, and opening the model store, the personal samples and a predictor.

Every write goes through :func:`write`, which does nothing when the stream is ``None`` (a
windowed PyInstaller bundle has no stdout/stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeAlias, TypeVar

from app.core.errors import ModelError

T = TypeVar("T")

PROG = "digitpad"
EXIT_INTERRUPTED = 130
MODEL_SUFFIXES = (".tflite", ".keras")


# --------------------------------------------------------------------------- output


def write(stream: Any, text: str) -> None:
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
    write(sys.stdout, text)


def err(text: str) -> None:
    write(sys.stderr, text)


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


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.2f}%"


# --------------------------------------------------------------------------- models


def open_store() -> Any:
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
    store = open_store()
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
    return label, predictor_for(entry, path, debug)


def predictor_for(entry: Any, path: Path | None, debug: bool = False) -> Any:
    with native_stderr_quiet(not debug):
        return _make_predictor(entry, path)


def _make_predictor(entry: Any, path: Path | None) -> Any:
    if entry is not None:
        return entry.predictor()
    assert path is not None
    if path.suffix.lower() == ".keras":  # needs TensorFlow
        from app.core.evaluation import KerasPredictor
        from app.core.store import load_keras_model

        return KerasPredictor(load_keras_model(path), name=str(path))
    from app.core.inference import Predictor

    return Predictor(path, name=path.stem)



def open_samples() -> Any:
    from app.core.paths import user_home
    from app.core.samples import SampleStore

    store = SampleStore(user_home())
    for problem in store.problems:
        warn(problem)
    return store



def _argument(text: str, convert: Callable[[str], T], kind: str, problem: Callable[[T], str | None]) -> T:
    """``convert(text)``, or argparse's error naming what was expected (``kind``) or ``problem``."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
    message = problem(value)
    if message is not None:
        raise argparse.ArgumentTypeError(message)
    return value


def positive_int(text: str) -> int:
    return _argument(text, int, "a whole number",
                     lambda v: None if v >= 1 else f"must be at least 1, got {v}")


def finite_float(text: str) -> float:
    return _argument(text, float, "a number",
                     lambda v: None if math.isfinite(v) else f"not a finite number: {text!r}")


class Parser(argparse.ArgumentParser):
    """argparse whose messages survive ``sys.stderr is None``."""

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            write(file if file is not None else sys.stderr, message.rstrip("\n"))

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            write(sys.stderr, message.rstrip("\n"))
        raise SystemExit(status)



# what add_subparsers() returns; each command module adds its parsers to it
SubParsers: TypeAlias = "argparse._SubParsersAction[Parser]"
