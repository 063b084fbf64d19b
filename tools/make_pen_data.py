"""Make ``resources/pen_data.npz``: pen-like renderings of MNIST *training* digits and
generated non-digit drawings, as the pad would hand them to the model (28x28 uint8).

    python tools/make_pen_data.py            # the shipped file (fixed seed)

Every training recipe mixes these into MNIST (app/core/pendata.py). Rendering them once
here keeps the Train button fast: thinning and redrawing 45 000 images takes minutes.
Arrays: ``x`` (N, 28, 28) uint8, ``y`` (N,) int8 (0-9 digits, 10 = not a digit),
``source`` (N,) int32: the MNIST training image a rendering comes from (-1: none; overlaps
record the first of their two digits), so that a validation split can leave them out.
MNIST test digits are never used.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core import negatives as ng  # noqa: E402
from app.core import penrender as pr  # noqa: E402
from app.core.data import load_mnist  # noqa: E402
from app.core.pendata import NOT_A_DIGIT  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--digits", type=int, default=30000)
    ap.add_argument("--negatives", type=int, default=17000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", type=Path, default=ROOT / "resources" / "pen_data.npz")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    (x_train, y_train), _ = load_mnist()
    src = rng.choice(len(x_train), args.digits, replace=False)
    xs, ys, srcs = [], [], []
    t0 = time.perf_counter()
    for lo in range(0, len(src), 2000):
        part = src[lo: lo + 2000]
        skels = pr.skeletons(x_train[part])
        for i, sk in zip(part, skels, strict=True):
            strokes = pr.skeleton_strokes(sk)
            img = pr.pad_image(strokes, rng) if strokes else None
            if img is not None:
                xs.append(img)
                ys.append(int(y_train[i]))
                srcs.append(int(i))
        print(f"digits {lo + len(part)}/{len(src)} {time.perf_counter() - t0:.0f}s", flush=True)
    # negatives: scribbles, shapes, letters, and two digits over each other
    pool = rng.choice(len(x_train), 4000, replace=False)
    pool_strokes = [pr.skeleton_strokes(s) for s in pr.skeletons(x_train[pool])]
    kinds = (["scribble"] * 20 + ["shape"] * 20 + ["letter"] * 20 + ["stroke letter"] * 10
             + ["doodle"] * 18 + ["overlap"] * 12)
    n = 0
    while n < args.negatives:
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "overlap":
            a, b = rng.integers(len(pool), size=2)
            if not pool_strokes[a] or not pool_strokes[b]:
                continue
            strokes = ng.overlap(pool_strokes[a], pool_strokes[b], rng)
            source = int(pool[a])
        else:
            strokes = ng.KINDS[kind](rng)
            source = -1
        img = pr.pad_image(strokes, rng)
        if img is None:
            continue
        xs.append(img)
        ys.append(NOT_A_DIGIT)
        srcs.append(source)
        n += 1
    print(f"negatives {n} {time.perf_counter() - t0:.0f}s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, x=np.stack(xs), y=np.asarray(ys, np.int8), source=np.asarray(srcs, np.int32))
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
