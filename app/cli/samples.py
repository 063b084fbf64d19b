"""``digitpad samples``: the personal samples (drawings kept in the window): list, export,
import and delete them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.cli import common
from app.cli.common import PROG, Parser, SubParsers, out
from app.core.errors import DigitPadError


def cmd_samples_list(args: argparse.Namespace) -> int:
    samples = common.open_samples()
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
    samples = common.open_samples()
    written = samples.export_npz(Path(args.file).expanduser())  # (refuses an empty set)
    out(f"exported {len(samples.ids())} samples to {written}")
    return 0


def cmd_samples_import(args: argparse.Namespace) -> int:
    samples = common.open_samples()
    added = samples.import_npz(Path(args.file).expanduser())
    out(f"imported {added} samples from {args.file}; {len(samples.ids())} in all")
    return 0


def cmd_samples_delete(args: argparse.Namespace) -> int:
    samples = common.open_samples()
    known = set(samples.ids())
    missing = [i for i in args.ids if i not in known]
    if missing:
        raise DigitPadError(f"No personal sample with id {', '.join(map(str, missing))}; "
                            f"see: {PROG} samples list --ids")
    removed = samples.delete(args.ids)
    out(f"deleted {removed} sample(s); {len(samples.ids())} left")
    return 0



def add_samples_parser(sub: SubParsers, common: Parser) -> None:
    """The ``samples`` command and its actions."""
    p = sub.add_parser("samples", parents=[common], help="your personal samples (corrected drawings)",
                       description="The drawings you kept in the window (a digit's key labels the "
                                   "drawing); subcommands export, import and delete them.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--ids", action="store_true", help="also list each digit's sample ids")
    p.set_defaults(func=cmd_samples_list)
    ssub = p.add_subparsers(dest="samples_command", metavar="ACTION", parser_class=Parser)
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
