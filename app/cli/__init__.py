"""The terminal front of DigitPad: ``digitpad [command] ...`` (also ``python -m app``).

Without a command it opens the window. The commands use exactly the functions the window
uses: :func:`app.core.preprocess.preprocess_file` for images, :func:`app.core.training.train`
for training, :class:`app.core.store.ModelStore` for models and LiteRT
(:class:`app.core.inference.Predictor`) for predictions, so ``predict`` and ``evaluate``
of a store model never import TensorFlow.

Errors are one line on stderr (``digitpad: error: ...``, exit 1; usage errors exit 2);
``--debug`` shows the traceback. Every write goes through :func:`app.cli.common.write`,
which does nothing when the stream is ``None`` (a windowed PyInstaller bundle has no
stdout/stderr). One module per command family; this one holds the parser and :func:`main`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from app import __version__
from app.cli import models, predict, samples, train
from app.cli.common import EXIT_INTERRUPTED, PROG, Parser, err, error_line
from app.core.errors import DigitPadError


def cmd_gui(rest: list[str]) -> int:
    try:
        from app.ui.app import run_gui
    except ImportError as exc:
        err(error_line(f"the window cannot start: {exc}. "
                       f"The command-line tools still work: {PROG} --help."))
        return 1
    return int(run_gui(rest) or 0)


SUBCOMMANDS = ("train", "evaluate", "predict", "models", "samples", "finetune")


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")

    parser = Parser(
        prog=PROG,
        description="Draw digits and watch a Keras network recognise them. "
                    "Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    train.add_train_parser(sub, common)
    predict.add_evaluate_parser(sub, common)
    predict.add_predict_parser(sub, common)
    models.add_models_parser(sub, common)
    samples.add_samples_parser(sub, common)
    train.add_finetune_parser(sub, common)
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
    if args_list[:1] == ["--training-process"]:  # the window's trainer (app.core.training_process)
        from app.core.training_child import serve

        return serve()
    if args_list[:1] == ["--startup-probe"]:
        from app.selftest.probe import run_startup_probe

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
