"""``digitpad predict`` and ``digitpad evaluate``: a model on image files or on the MNIST test set.

A store model or ``.tflite`` file predicts with LiteRT, so neither command imports TensorFlow
unless it is given a ``.keras`` file.
"""

from __future__ import annotations

import argparse
import json
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app.cli.common import (
    Parser,
    SubParsers,
    err,
    error_line,
    native_stderr_quiet,
    open_predictor,
    out,
    pct,
    predictor_for,
    resolve_model,
)
from app.core.errors import DigitPadError
from app.core.verdict import EMPTY, NOT_DIGIT

MODEL_HELP = "a model name from the store, or a .tflite / .keras file (default: the active model)"


def cmd_predict(args: argparse.Namespace) -> int:
    from app.core.preprocess import preprocess_file

    if args.number:
        return cmd_predict_number(args)
    label, predictor = open_predictor(args.model, args.debug)

    def read(name: str) -> dict[str, Any]:
        x = preprocess_file(name)
        if x is None:
            return {"verdict": EMPTY}
        probs, other = predictor.read(x)
        digit = int(np.argmax(probs))
        return {"digit": digit, "confidence": float(probs[digit]),
                "probabilities": [round(float(p), 6) for p in probs],
                "verdict": predictor.verdict(other), "not_a_digit": round(other, 6)}

    blank = {"digit": None, "confidence": None, "probabilities": None, "verdict": None,
             "not_a_digit": None}
    results, failed = _read_each(args, blank, read)
    if args.json:
        return 1 if failed else 0
    answered = [r for r in results if r["error"] is None]
    if answered:
        width = max(4, *(len(r["file"]) for r in answered))
        out(f"model: {label}")
        head = "  ".join(f"{d:>5}" for d in range(10))
        out(f"{'file':<{width}}  digit    conf  {head}  verdict")
        for r in answered:
            if r["digit"] is None:
                out(f"{r['file']:<{width}}      -       -  no digit found (empty)")
                continue
            cells = "  ".join(f"{p:5.3f}" for p in r["probabilities"])
            verdict = r["verdict"]
            if verdict == NOT_DIGIT:
                verdict += f" ({100 * r['not_a_digit']:.0f}%)"
            out(f"{r['file']:<{width}}  {r['digit']:>5}  {100 * r['confidence']:5.1f}%  {cells}  {verdict}")
    return 1 if failed else 0


# --------------------------------------------------------------------------- evaluate


def cmd_evaluate(args: argparse.Namespace) -> int:
    from app.core.data import load_test_set
    from app.core.evaluation import evaluate_predictor

    label, entry, path = resolve_model(args.model)
    test = load_test_set(args.data)  # the training arrays stay unread
    predictor = predictor_for(entry, path, args.debug)
    with native_stderr_quiet(not args.debug):
        run = evaluate_predictor(predictor, test)
    assert run is not None  # nothing can stop it
    evaluation = run.evaluation

    if args.json:
        out(json.dumps({
            "model": label,
            "accuracy": evaluation.accuracy,
            "per_class_accuracy": evaluation.per_class,
            "confusion": evaluation.confusion,
            "count": evaluation.count,
            "not_a_digit": evaluation.not_a_digit,
        }, indent=2))
        return 0
    out(f"model: {label}")
    out(f"test images: {evaluation.count}")
    out(f"accuracy: {pct(evaluation.accuracy)}")
    share = evaluation.not_a_digit / evaluation.count if evaluation.count else 0.0
    out(f'wrongly called "not a digit": {evaluation.not_a_digit} ({pct(share)})')
    out("per-class accuracy:")
    totals = [sum(row) for row in evaluation.confusion]
    for d in range(10):
        out(f"  {d}: {pct(evaluation.per_class[d]):>8}  ({totals[d]} images)")
    out("confusion matrix (rows: true digit, columns: predicted digit):")
    cell = max(4, len(str(max((max(r) for r in evaluation.confusion), default=0))) + 1)
    out("     " + "".join(f"{d:>{cell}}" for d in range(10)))
    for d, row in enumerate(evaluation.confusion):
        out(f"  {d}: " + "".join(f"{v:>{cell}}" for v in row))
    return 0



def add_evaluate_parser(sub: SubParsers, common: Parser) -> None:
    """The ``evaluate`` command's arguments."""
    p = sub.add_parser("evaluate", parents=[common], help="accuracy of a model on the MNIST test set",
                       description="Accuracy, per-class accuracy and confusion matrix on the "
                                   "MNIST test set.")
    p.add_argument("--model", metavar="NAME|PATH", help=MODEL_HELP)
    p.add_argument("--data", metavar="PATH",
                   help="a .npz (keras layout) or a directory of MNIST IDX files (default: bundled)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_evaluate)


def _read_each(args: argparse.Namespace, blank: dict[str, Any],
               read: Callable[[str], dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """One record per image (``blank`` updated by ``read(name)``, or an error line: one bad
    file does not stop the others); printed as JSON with ``--json``. Returns the records
    and how many failed."""
    results: list[dict[str, Any]] = []
    failed = 0
    for name in args.images:
        record: dict[str, Any] = {"file": name, **blank, "error": None}
        try:
            record.update(read(name))
        except Exception as exc:
            failed += 1
            record["error"] = _file_error(name, exc, args.debug)
        results.append(record)
    if args.json:
        out(json.dumps(results, indent=2))
    return results, failed


def _file_error(name: str, exc: Exception, debug: bool) -> str:
    """One line for a file that could not be read (the traceback only with --debug)."""
    if not isinstance(exc, DigitPadError):
        if debug:
            err(traceback.format_exc().rstrip())
        exc = ValueError(f"cannot read this image ({type(exc).__name__}: {exc})")
    msg = " ".join(str(exc).split())
    if name not in msg and str(Path(name).expanduser()) not in msg:
        msg = f"{name}: {msg}"
    err(error_line(msg))
    return msg


def cmd_predict_number(args: argparse.Namespace) -> int:
    """``predict --number``: the number written side by side in each image."""
    from app.core.number import NO_DIGITS, read_number_file

    label, predictor = open_predictor(args.model, args.debug)
    blank: dict[str, Any] = {"number": None, "uncertain": False, "digits": []}
    results, failed = _read_each(args, blank, lambda name: read_number_file(name, predictor).to_dict())
    if args.json:
        return 1 if failed else 0
    answered = [r for r in results if r["error"] is None]
    if answered:
        out(f"model: {label}")
    for r in answered:
        if r["number"] is None:
            out(f"{r['file']}: {NO_DIGITS}")
            continue
        note = "  (uncertain: '?' is not a digit)" if r["uncertain"] else ""
        out(f"{r['file']}: {r['number']}{note}")
        for k, d in enumerate(r["digits"], start=1):
            shown = d["digit"] if d["verdict"] == "digit" else "?"
            box = ", ".join(str(v) for v in d["box"])
            out(f"  {k:>3}  {shown}  {100 * d['confidence']:5.1f}%  box ({box})  {d['verdict']}")
    return 1 if failed else 0


def add_predict_parser(sub: SubParsers, common: Parser) -> None:
    """The ``predict`` command's arguments."""
    p = sub.add_parser("predict", parents=[common], help="recognise the digit in image files",
                       description="Recognise the digit in each image (PNG, JPEG, BMP, GIF, TIFF, "
                                   "WebP and others; dark-on-light or light-on-dark).")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", metavar="NAME|PATH", help=MODEL_HELP)
    p.add_argument("--number", action="store_true",
                   help="read a whole number: the digits written side by side, left to right")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_predict)
