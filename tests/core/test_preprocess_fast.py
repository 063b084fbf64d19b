"""app.core.preprocess: the fast path for uint8 images (the drawing pad on every mouse
move) gives exactly the same array as the general float path, and the rewritten helpers
agree with their straightforward definitions. Each test runs twice: with the compiled
steps and with the NumPy code alone (tests/core/test_preprocess_kernel.py compares the two).

The fast path (``_process(..., lut=True)``, what :func:`preprocess` uses for uint8 input)
pools in integers and maps grey levels to ink with a lookup table; the general path
(``lut=False``) does the float32 operations on every pixel. Equality is exact
(``np.array_equal``), on pad-like drawings made here with Pillow: antialiased round
strokes of many widths and positions, dots, strokes off the edges, faint ink, grey paper.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.core import preprocess as pp
from app.core.preprocess import preprocess

SS = 4  # drawings are made at 4x and box-filtered down: antialiased edges, like the pad's


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs with the compiled steps (app/core/_ppkernel.c, when built) and
    with the NumPy code alone."""
    if request.param == "numpy":
        monkeypatch.setattr(pp, "_kernel", None)
    elif pp._kernel is None:
        pytest.skip("app.core._ppkernel is not compiled here")


def pad_like(rng: np.random.Generator, size: int = 280) -> np.ndarray:
    """A random drawing like the pad's buffer: uint8, light ink on black."""
    big = Image.new("L", (size * SS, size * SS), 0)
    draw = ImageDraw.Draw(big)
    for _ in range(int(rng.integers(1, 4))):
        width = float(rng.choice([1, 2, 4, 8, 12, 20, 30, 48])) * size / 280
        n = int(rng.choice([1, 1, 2, 3, 8, 30, 90]))  # 1 = a dot
        step = float(rng.uniform(0.003, 0.06))
        pts = [rng.uniform(-0.08, 1.08, 2)]  # (may start off the pad: ink at the edges)
        for _ in range(n - 1):
            pts.append(pts[-1] + rng.normal(0.0, step, 2))
        xy = [(float(x) * size * SS, float(y) * size * SS) for x, y in pts]
        r = width * SS / 2
        if len(xy) > 1:
            draw.line(xy, fill=255, width=max(1, round(width * SS)), joint="curve")
        for x, y in (xy[0], xy[-1]):  # round caps (and the dot)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(big.reduce(SS))


def variants(a: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, str]]:
    """The drawing as the pad makes it, and as scans and other programs would."""
    faint = (a.astype(np.float32) * rng.uniform(0.08, 1.0) + rng.uniform(0, 60)).clip(0, 255)
    return [
        (a, "light"),
        (a, "auto"),
        (255 - a, "dark"),
        (255 - a, "auto"),
        (faint.astype(np.uint8), "light"),  # grey paper, faint ink
    ]


def assert_same(image: np.ndarray, ink: pp.Ink) -> None:
    fast = preprocess(image, ink=ink)
    general = pp._process(image, 255.0, ink, lut=False)
    assert (fast is None) == (general is None)
    if fast is not None and general is not None:
        assert fast.dtype == general.dtype == np.float32
        assert np.array_equal(fast, general)


@pytest.mark.parametrize("seed", range(6))
def test_fast_path_equals_general_path_on_pad_like_drawings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        a = pad_like(rng)
        for image, ink in variants(a, rng):
            assert_same(image, ink)


@pytest.mark.parametrize("size", [28, 60, 600, 1200])
def test_fast_path_equals_general_path_at_other_sizes(size: int) -> None:
    """Other sizes reach the other branches: no pooling, pooling by 2..16 (mean, or max/min
    for thin strokes), pooling by more than 16 (no table), upsampling thin strokes."""
    rng = np.random.default_rng(size)
    for _ in range(8):
        a = pad_like(rng, size)
        for image, ink in variants(a, rng)[:3]:
            assert_same(image, ink)


def test_fast_path_edge_cases() -> None:
    empty = np.zeros((280, 280), np.uint8)
    dot = empty.copy()
    dot[140, 140] = 255
    corner = empty.copy()
    corner[:3, :3] = 200
    full = np.full((280, 280), 255, np.uint8)
    faint = empty.copy()
    faint[100:120, 100:160] = 20  # below the contrast threshold: nothing to recognise
    bar = empty.copy()
    bar[139:141, 20:260] = 255  # a thin line across: thickened
    border = empty.copy()
    border[0, :] = 255
    border[100:200, 100:110] = 255
    odd = np.zeros((281, 283), np.uint8)  # partial pooling blocks
    odd[30:270, 40:281] = np.random.default_rng(0).integers(0, 256, (240, 241))
    huge = np.zeros((2000, 2000), np.uint8)  # pooled by more than 16: no table
    huge[300:1700, 600:1400] = 255
    for image in (empty, dot, corner, full, faint, bar, border, odd, huge, empty[:1, :1],
                  dot[139:142, 139:142]):
        for ink in ("light", "auto", "dark"):
            assert_same(image, ink)  # type: ignore[arg-type]
            assert_same(255 - image, ink)  # type: ignore[arg-type]
    assert preprocess(empty, ink="light") is None
    assert preprocess(faint, ink="light") is None
    assert preprocess(dot, ink="light") is not None


def test_black_margins_do_not_matter() -> None:
    """Cropping a light-on-black drawing to its ink plus any black margin (what the pad's
    ink_pixels() does) gives the same result, as long as the ink stays off the border."""
    rng = np.random.default_rng(8)
    for _ in range(60):
        a = pad_like(rng)
        rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
        if rows.size == 0 or rows[0] == 0 or cols[0] == 0 or rows[-1] == 279 or cols[-1] == 279:
            continue  # (ink on the border: the pad hands over the whole buffer)
        top, left = (int(rng.integers(0, v)) for v in (rows[0], cols[0]))
        bottom, right = (int(rng.integers(v + 2, 281)) for v in (rows[-1], cols[-1]))
        for ink in ("light", "auto"):
            full, crop = preprocess(a, ink=ink), preprocess(a[top:bottom, left:right], ink=ink)
            assert (full is None) == (crop is None)
            assert full is None or np.array_equal(full, crop)


def test_pil_l_images_take_the_same_path() -> None:
    rng = np.random.default_rng(42)
    for _ in range(10):
        a = pad_like(rng)
        fast = preprocess(Image.fromarray(a), ink="auto")
        general = pp._process(a, 255.0, "auto", lut=False)
        assert (fast is None) == (general is None)
        if fast is not None:
            assert np.array_equal(fast, general)


# ----------------------------------------------------------------------------- helpers


def _weights_reference(n_out: int, start: float, s: float, n_src: int) -> np.ndarray:
    """The resampling weights as first written (one axis at a time)."""
    support = max(1.0, 1.0 / s)
    k = math.ceil(2.0 * support) + 2
    centres = (np.arange(n_out, dtype=np.float32) + np.float32(0.5 - start)) * np.float32(1 / s)
    x = np.arange(0.5 - k, n_src + k, dtype=np.float32)
    wts = np.subtract.outer(centres, x)
    np.abs(wts, out=wts)
    wts *= np.float32(-1.0 / support)
    wts += np.float32(1.0)
    np.maximum(wts, 0.0, out=wts)
    wts /= wts.sum(axis=1, keepdims=True)
    return wts[:, k : k + n_src]


def test_weights_of_both_axes_at_once_equal_one_axis_at_a_time() -> None:
    rng = np.random.default_rng(3)
    for _ in range(500):
        hy, hx = (int(v) for v in rng.integers(1, 300, 2))
        s = float(rng.uniform(0.3, 1.0)) * 20.0 / max(hy, hx)  # as _render: <= 20 output px
        # each axis as _render places it: starts at ``top``, covers ceil(top + n * s) pixels
        top_y, top_x = (float(v) for v in rng.uniform(0.0, 8.0, 2))
        ny = min(28, math.ceil(top_y + hy * s)) - math.floor(top_y)
        nx = min(28, math.ceil(top_x + hx * s)) - math.floor(top_x)
        sy, sx = top_y - math.floor(top_y), top_x - math.floor(top_x)
        wy, wx = pp._weights2((ny, sy, hy), (nx, sx, hx), s)
        assert np.array_equal(wy, _weights_reference(ny, sy, s, hy))
        assert np.array_equal(wx, _weights_reference(nx, sx, s, hx))


def _stroke_width_reference(m: np.ndarray) -> float:
    area = int(np.count_nonzero(m))
    if area == 0:
        return 1.0
    g = max(1, min(m.shape) // 64)
    perimeter = (
        g * int(np.count_nonzero(m[::g, 1:] != m[::g, :-1]))
        + g * int(np.count_nonzero(m[1:, ::g] != m[:-1, ::g]))
        + int(np.count_nonzero(m[0]))
        + int(np.count_nonzero(m[-1]))
        + int(np.count_nonzero(m[:, 0]))
        + int(np.count_nonzero(m[:, -1]))
    )
    return 2.0 * area / max(perimeter, 1)


def test_spans_and_stroke_width_equal_their_definitions() -> None:
    rng = np.random.default_rng(5)
    for i in range(300):
        h, w = (int(v) for v in rng.integers(1, 400, 2))
        m = rng.random((h, w)) < rng.uniform(0.0005, 0.9)
        if i % 3 == 0:
            m = m[:, ::2]  # not contiguous: the other branch
        if not m.any():
            m[rng.integers(m.shape[0]), rng.integers(m.shape[1])] = True
        rows = np.flatnonzero(m.any(axis=1))
        cols = np.flatnonzero(m.any(axis=0))
        assert pp._row_span(m) == (rows[0], rows[-1] + 1)
        assert pp._col_span(m) == (cols[0], cols[-1] + 1)
        assert pp._stroke_width(m) == _stroke_width_reference(m)


def test_integer_pooling_equals_float_pooling() -> None:
    rng = np.random.default_rng(9)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 120, 2))
        a = rng.integers(0, 256, (h, w)).astype(np.uint8)
        f = int(rng.integers(2, 17))
        fill = float(rng.choice([0.0, 255.0, rng.uniform(0, 255)]))
        sums = pp._pool_sums_u8(a, f, fill).astype(np.float32)
        sums *= np.float32(1.0 / (f * f))
        assert np.array_equal(sums, pp._pool(a, f, fill, False, False))
