"""app.core._ppkernel (compiled steps of preprocessing uint8 images) agrees with the NumPy
code it stands in for: exactly for the integer steps (extremes, bounding box, stroke width,
pooled table lookup), within float32 rounding for the resampling; bad arguments raise
Python errors, never crash.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core import preprocess as pp
from tests.conftest import needs_c_compiler
from tests.core.test_preprocess_fast import pad_like, variants

K = pp._kernel
needs_kernel = pytest.mark.skipif(K is None, reason="app.core._ppkernel is not compiled here")


def test_the_kernel_is_built_where_a_compiler_is() -> None:
    """`pip install -e .` (the README's test command) compiles it where there is a C
    compiler and Python's headers, as on CI."""
    needs_c_compiler()
    assert K is not None, "app.core._ppkernel was not built: run `pip install -e .`"


def _drawings(seed: int, n: int) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    out: list[tuple[np.ndarray, str]] = []
    for _ in range(n):
        a = pad_like(rng, int(rng.choice([28, 100, 280, 281, 600])))
        out.extend(variants(a, rng))
    return out


def _numpy_stats(a: np.ndarray) -> tuple[int, int, int, int]:
    ring = pp._border(a)
    return int(ring.min()), int(ring.max()), int(a.min()), int(a.max())


@needs_kernel
def test_extremes_box_and_stroke_width_are_exact() -> None:
    rng = np.random.default_rng(5)
    for a, _ in _drawings(1, 25):
        views = [a, a[1:-1, ::2], a[::-1], np.asfortranarray(a)]  # (strided, reversed, F order)
        for v in views:
            if v.size == 0:
                continue
            assert K.stats(v) == _numpy_stats(v)
            for level in rng.uniform(-20, 280, 3):
                for above in (True, False):
                    t = pp._int_threshold(float(level), above)
                    mask = pp._compare(v, float(level), above)
                    box = K.span(v, t, above)
                    if not mask.any():
                        assert box is None
                        continue
                    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
                    assert box == (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
                    assert K.stroke_width(v, t, above) == pp._stroke_width(np.ascontiguousarray(mask))


@needs_kernel
@pytest.mark.parametrize("f", [1, 2, 3, 5, 16])
def test_pooled_table_lookup_is_exact(f: int) -> None:
    rng = np.random.default_rng(f)
    for a, _ in _drawings(f, 6):
        a = a[: a.shape[0] - int(rng.integers(0, 3)), 1:]  # partial blocks, a strided view
        offset, gain = float(rng.uniform(0, 60)), float(1 / rng.uniform(40, 255))
        paper = float(rng.uniform(-10, 270))
        fill = min(max(round(paper), 0), 255)
        h, w = a.shape
        kinds = [(0, pp._ink_table(256, 1, offset, gain), None)] if f == 1 else [
            (1, pp._ink_table(256, 1, offset, gain), "max"),
            (2, pp._ink_table(256, 1, offset, gain), "min"),
            (3, pp._ink_table(255 * f * f + 1, f * f, offset, gain), "sum")]
        for mode, table, how in kinds:
            out = np.empty((-(-h // f), -(-w // f)), np.float32)
            K.ink_map(a, f, mode, table, fill, out)
            if how is None:
                ref = table[a]
            elif how == "sum":
                ref = table[pp._pool_sums_u8(a, f, paper)]
            else:
                ref = table[pp._pool(a, f, paper, how == "max", how == "min")]
            assert np.array_equal(out, ref)


@needs_kernel
def test_resampling_agrees_with_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 160, 2))
        work = (rng.random((h, w), dtype=np.float32) * (rng.random((h, w)) < 0.3)).astype(np.float32)
        extent = (w + float(rng.uniform(0, 3)), h + float(rng.uniform(0, 3)))
        s = pp.BOX / max(extent) * float(rng.uniform(0.5, 1.0))
        mine = pp._render(work, extent, s)
        with monkeypatch.context() as m:
            m.setattr(pp, "_kernel", None)
            ref = pp._render(work, extent, s)
        assert (mine is None) == (ref is None)
        if mine is not None and ref is not None:
            assert mine.dtype == np.float32 and mine.shape == (28, 28)
            worst = max(worst, float(np.abs(mine - ref).max()))
    assert worst < 1e-5


@needs_kernel
def test_preprocess_compiled_agrees_with_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    edge = np.zeros((280, 280), np.uint8)
    edge[139:141, 20:260] = 255  # a thin line: thickened
    dot = np.zeros((280, 280), np.uint8)
    dot[140, 140] = 255
    cases = [*_drawings(3, 30), (edge, "light"), (dot, "light"), (255 - edge, "auto"),
             (np.zeros((5, 5), np.uint8), "auto"), (np.full((9, 9), 255, np.uint8), "light")]
    for a, ink in cases:
        mine = pp.preprocess(a, ink=ink)  # type: ignore[arg-type]
        with monkeypatch.context() as m:
            m.setattr(pp, "_kernel", None)
            ref = pp.preprocess(a, ink=ink)  # type: ignore[arg-type]
        assert (mine is None) == (ref is None)
        if mine is not None and ref is not None:
            assert np.abs(mine - ref).max() < 1e-5
            assert math.isclose(float(mine.max()), 1.0, abs_tol=1e-6)


@needs_kernel
def test_bad_arguments_raise() -> None:
    a = np.zeros((10, 10), np.uint8)
    with pytest.raises(ValueError, match="2-D array"):
        K.stats(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="2-D array"):
        K.stats(np.zeros((2, 10, 10), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        K.stats(np.zeros((0, 4), np.uint8))
    with pytest.raises(TypeError):
        K.span([[1, 2]], 0, True)
    assert K.stroke_width(np.zeros((0, 5), np.uint8), 0, True) == 1.0  # (as for no ink)
    assert K.stroke_width(np.zeros((5, 0), np.uint8), 0, True) == 1.0
    assert K.span(np.zeros((3, 0), np.uint8), 0, True) is None
    out = np.empty((5, 5), np.float32)
    with pytest.raises(ValueError, match="table"):
        K.ink_map(a, 2, 3, np.zeros(100, np.float32), 0, out)  # needs 255 * 4 + 1 values
    with pytest.raises(ValueError, match="shape"):
        K.ink_map(a, 2, 3, np.zeros(1021, np.float32), 0, np.empty((4, 5), np.float32))
    with pytest.raises(ValueError, match="pooling"):
        K.ink_map(a, 0, 3, np.zeros(1021, np.float32), 0, out)
    read_only = np.empty((5, 5), np.float32)
    read_only.flags.writeable = False
    with pytest.raises((BufferError, ValueError)):
        K.ink_map(a, 2, 3, np.zeros(1021, np.float32), 0, read_only)
    with pytest.raises(ValueError, match="2-D array"):
        K.render(np.zeros((4, 4)), 4.0, 4.0, 1.0, np.zeros((28, 28), np.float32))  # float64
    with pytest.raises(ValueError, match="bad output"):
        K.render(np.ones((4, 4), np.float32), 4.0, 4.0, 1.0, np.zeros((27, 28), np.float32))
