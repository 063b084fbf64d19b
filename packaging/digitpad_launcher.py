"""Entry point of the DigitPad desktop bundle (``build.spec``); also runs from source.

    DigitPad                       open the window (any other arguments go to the CLI)
    DigitPad --self-test [...]     check the bundle: window, drawing, prediction, training
    DigitPad --startup-probe FILE  open the window, predict once, write timings to FILE, quit

Nothing heavy is imported here: the standard streams are fixed first (a windowed bundle
has none), then the app's own modules load Qt and LiteRT. TensorFlow is never imported
here; the app loads it lazily when it trains.
"""

from __future__ import annotations

import sys

from app._frozen import prepare

prepare()  # before anything that might print


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--self-test"]:
        from app.selftest import run_self_test

        return run_self_test(args[1:])
    if args[:1] == ["--startup-probe"]:
        from app.selftest.probe import run_startup_probe

        return run_startup_probe(args[1:])
    from app.cli import main as cli_main

    return int(cli_main(args) or 0)


if __name__ == "__main__":
    if getattr(sys, "frozen", False):
        import multiprocessing

        multiprocessing.freeze_support()
    sys.exit(main())
