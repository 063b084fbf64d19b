"""Train the shipped default model into ``model_store/default`` (reproducible: fixed seed).

    python tools/make_pen_data.py --digits 60000 --negatives 20000 --out /tmp/pen_full.npz
    python tools/train_default.py --pen-data /tmp/pen_full.npz   # the shipped model's recipe
    python tools/train_default.py --epochs 2 --out /tmp/try   # a quick trial (shipped pen data)
    python tools/train_default.py --export-only   # rewrite the files of the trained model
                                                  # (after a change to app.core.export)
    python tools/train_default.py --recalibrate --pen-data /tmp/pen_full.npz
                                                  # fit its calibration again on its own
                                                  # validation split (after a change to
                                                  # app.core.verdict), and re-evaluate

The recipe: the "cnn-large" convnet (ten digits + "not a digit"), 95 % of the 60000
training images plus pen renderings of all of them and 20000 non-digit drawings (the
shipped ``resources/pen_data.npz`` holds half the digits: enough for the Train button),
augmentation (shifts, rotations, scale, stroke thickness), Adam with warm-up and cosine
decay, 18 epochs, seed 0; the other 5 % (and their renderings) calibrate the confidence.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.store import DEFAULT_MODEL, META_FILE, ModelEntry, write_model_dir  # noqa: E402
from app.core.training import (  # noqa: E402
    TrainConfig,
    TrainingListener,
    model_meta,
    train,
    validation_data,
)

ARCH, EPOCHS = "cnn-large", 18


class Printer(TrainingListener):
    def on_start(self, config: TrainConfig, epochs: int, steps_per_epoch: int) -> None:
        self.t0 = time.perf_counter()
        print(f"training {config.arch}: {epochs} epochs x {steps_per_epoch} steps", flush=True)

    def on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        items = " ".join(f"{k}={v:.4f}" for k, v in sorted(logs.items()))
        print(f"epoch {epoch + 1}: {time.perf_counter() - self.t0:6.0f}s {items}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default=ARCH, help=f"the architecture (default {ARCH})")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "model_store" / DEFAULT_MODEL)
    ap.add_argument("--export-only", action="store_true",
                    help="no training: save the model in --out again, with the same metadata")
    ap.add_argument("--recalibrate", action="store_true",
                    help="no training: fit the calibration of the model in --out again")
    ap.add_argument("--pen-data", type=Path, default=None, metavar="NPZ",
                    help="pen renderings to learn from (tools/make_pen_data.py --out); "
                    "default: the shipped resources/pen_data.npz")
    args = ap.parse_args(argv)
    if args.pen_data is not None:
        from app.core.pendata import use_pen_data

        use_pen_data(args.pen_data)
    cfg = TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                      learning_rate=args.lr, augment=True, validation_split=0.05, seed=args.seed)
    if args.recalibrate:
        return recalibrate(args.out, cfg)
    if args.export_only:
        old = json.loads((args.out / META_FILE).read_text(encoding="utf-8"))
        entry = ModelEntry(name=args.out.name, path=args.out, meta=old)
        meta = {k: v for k, v in old.items() if k in KEPT_ON_EXPORT}
        _replace(args.out, entry.load_keras(), meta)  # (load_keras checks the checksum)
        return 0
    result = train(cfg, Printer())
    assert result.evaluation is not None
    ev = result.evaluation
    print(f"test accuracy {ev.accuracy:.4f} ({ev.not_a_digit} called not a digit), "
          f"temperature {result.temperature}, threshold {result.threshold} in {result.seconds:.0f}s",
          flush=True)
    meta = result.meta("tools/train_default.py", title="DigitPad default convnet",
                       name=args.out.name, seed=args.seed)
    _replace(args.out, _weights_only(result.model), meta)
    return 0


def _weights_only(model: Any) -> Any:
    """The trained model without its optimizer's state (which would triple the shipped
    ``.keras`` file), as ``--export-only`` loads it."""
    from app.core.tf import import_keras

    keras = import_keras()
    bare = keras.models.clone_model(model)
    bare.set_weights(model.get_weights())
    return bare


def recalibrate(out: Path, cfg: TrainConfig) -> int:
    """Fit the temperature and threshold of the model in ``out`` on the validation split its
    training used (the same seed), evaluate it again and save its metadata."""
    from app.core.data import load_mnist
    from app.core.evaluation import evaluate_keras
    from app.core.verdict import fit_calibration

    old = json.loads((out / META_FILE).read_text(encoding="utf-8"))
    model = ModelEntry(name=out.name, path=out, meta=old).load_keras()
    dataset = load_mnist()
    cfg.arch = str(old.get("arch", cfg.arch))  # (its pen share decides the validation split)
    x_val, y_val = validation_data(cfg.resolved(), dataset)
    temperature, threshold = fit_calibration(model.predict(x_val, batch_size=1000, verbose=0), y_val)
    ev = evaluate_keras(model, *dataset[1], temperature, threshold)
    print(f"temperature {temperature}, threshold {threshold}: test accuracy {ev.accuracy:.4f}, "
          f"{ev.not_a_digit} called not a digit", flush=True)
    # the same metadata, through the one function that builds it, with the new calibration
    # and the evaluation made with it
    extra = {k: old[k] for k in ("name", "seed", "created") if k in old}
    meta = model_meta(str(old.get("arch", cfg.arch)), str(old.get("title", "")), old.get("training"),
                      float(old.get("seconds", 0.0)), old.get("history") or {}, ev,
                      str(old.get("trained_by", "tools/train_default.py")), temperature=temperature,
                      threshold=threshold, **extra)
    _replace(out, model, meta)
    return 0


# what --export-only keeps of meta.json (write_model_dir recomputes the rest)
KEPT_ON_EXPORT = ("name", "arch", "title", "training", "seed", "seconds", "history", "test_accuracy",
                  "per_class_accuracy", "confusion", "test_count", "not_a_digit", "calibration",
                  "trained_by", "created")


def _replace(out: Path, model: object, meta: dict[str, object]) -> None:
    staging = out.with_name(out.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    write_model_dir(model, meta, staging)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
