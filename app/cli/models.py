"""``digitpad models``: list the models in the store and use, delete, rename, export or import one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli import common
from app.cli.common import PROG, Parser, SubParsers, out, pct
from app.core.errors import ModelError


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
    store = common.open_store()
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
        out(f"{mark} {r['name']:<{wn}}  {r['arch']:<{wa}}  {pct(r['test_accuracy']):>8}  "
            f"{created:<16}  {extra}".rstrip())
    return 0


def cmd_models_use(args: argparse.Namespace) -> int:
    store = common.open_store()
    store.set_active(args.name)
    out(f"active model: {args.name}")
    return 0


def cmd_models_delete(args: argparse.Namespace) -> int:
    store = common.open_store()
    store.delete(args.name)
    out(f"deleted model {args.name!r}; active model: {store.active_name()}")
    return 0


def cmd_models_rename(args: argparse.Namespace) -> int:
    store = common.open_store()
    entry = store.rename(args.old, args.new)
    out(f"renamed {args.old!r} to {entry.name!r}")
    return 0


def cmd_models_export(args: argparse.Namespace) -> int:
    store = common.open_store()
    dest = Path(args.dest).expanduser()
    if dest.is_dir():
        dest = dest / f"{args.name}.tflite"
    written = store.export(args.name, dest)
    out(f"exported {args.name!r} to {written}")
    return 0


def cmd_models_import(args: argparse.Namespace) -> int:
    store = common.open_store()
    entry = store.import_keras(args.file, name=args.name, activate=args.activate)
    out(f"imported {args.file} as {entry.name!r}" + (" (now active)" if args.activate else ""))
    return 0



def add_models_parser(sub: SubParsers, common: Parser) -> None:
    """The ``models`` command and its actions."""
    p = sub.add_parser("models", parents=[common], help="list and manage the models in the store",
                       description="List the models (* = active); subcommands manage them.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models_list)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", parser_class=Parser)
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
