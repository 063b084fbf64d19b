"""Pen renderings: thinning, tracing, drawing strokes as the pad does, the non-digit drawings."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from app.core import negatives, pendata
from app.core import penrender as pr
from app.core.segment import label


def _bar(width: int) -> np.ndarray:
    a = np.zeros((40, 40), bool)
    a[5:35, 20 - width // 2: 20 + (width + 1) // 2] = True
    return a


def test_thinning_leaves_a_one_pixel_line_whatever_the_stroke_width() -> None:
    masks = np.stack([_bar(w) for w in (3, 6, 9)])
    skel = pr.thin(masks)
    for s in skel:
        rows = np.nonzero(s.any(axis=1))[0]
        assert (s.sum(axis=1)[rows] == 1).all()  # one pixel per row
        assert rows.max() - rows.min() >= 20  # the line keeps most of its length


def test_trace_turns_a_ring_and_a_cross_into_strokes_covering_every_pixel() -> None:
    ring = np.zeros((30, 30), np.uint8)
    yy, xx = np.mgrid[:30, :30]
    ring[(np.hypot(yy - 15, xx - 15) < 10) & (np.hypot(yy - 15, xx - 15) >= 7)] = 255
    skel = pr.thin(ring > 0)
    lines = pr.trace(skel)
    covered = {(int(r), int(c)) for line in lines for r, c in line}
    assert covered == {(int(r), int(c)) for r, c in zip(*np.nonzero(skel), strict=True)}
    cross = np.zeros((21, 21), bool)
    cross[10, :] = cross[:, 10] = True
    assert len(pr.trace(cross)) >= 2


def _holes(strokes: pr.Strokes) -> int:
    """Closed loops of the strokes drawn with a thin pen (enclosed background regions)."""
    ink = pr.render(strokes, 3, size=56) > 127
    space, n = label(~ink)
    edge = set(np.unique(np.concatenate([space[0], space[-1], space[:, 0], space[:, -1]])).tolist())
    return sum(k not in edge and (space == k).sum() >= 4 for k in range(1, n + 1))


def test_a_thick_nine_keeps_its_small_loop_in_its_strokes() -> None:
    img = Image.new("L", (28, 28), 0)
    draw = ImageDraw.Draw(img)
    draw.ellipse((8, 4, 18, 13), outline=255, width=4)  # a small loop, written with a thick pen
    draw.line((17, 8, 16, 25), fill=255, width=4)
    nine = np.asarray(img.filter(ImageFilter.GaussianBlur(1.0)))  # scanned: the loop's hole greys
    at_one_level = pr.skeleton_strokes(pr.skeletons(nine[None], 2, 0.4)[0])
    assert _holes(at_one_level) == 0  # one threshold fills the hole: the 9 becomes a stick
    strokes = pr.digit_strokes(nine[None])[0]
    assert _holes(strokes) == 1
    assert pr.redraw_error(strokes, nine) < pr.redraw_error(at_one_level, nine)
    assert pr.redraw_error([], nine) == 1.0


def test_pad_image_looks_like_the_pad_input_at_any_brush() -> None:
    rng = np.random.default_rng(0)
    stroke = [np.array([[0.2, 0.1], [0.8, 0.1], [0.4, 0.9]], np.float32)]  # a 7
    for brush in (6, 20, 40):
        img = pr.pad_image(stroke, rng, brush=brush)
        assert img is not None and img.shape == (28, 28) and img.dtype == np.uint8
        rows, cols = np.nonzero(img > 60)
        assert max(np.ptp(rows), np.ptp(cols)) in range(17, 22)  # MNIST's 20-pixel box
    thin, thick = (pr.pad_image(stroke, np.random.default_rng(1), brush=b) for b in (6, 40))
    assert thin is not None and thick is not None and (thick > 127).sum() > 2 * (thin > 127).sum()


def test_every_kind_of_negative_renders() -> None:
    rng = np.random.default_rng(3)
    for kind, gen in negatives.KINDS.items():
        for _ in range(5):
            img = pr.pad_image(gen(rng), rng)
            assert img is not None and img.max() > 200, kind
    for name, gen in negatives.SHAPES.items():
        assert pr.pad_image(gen(rng), rng) is not None, name


def test_shipped_pen_data_has_digits_and_negatives_and_no_test_digits() -> None:
    x, y, src = pendata.load_pen_data()
    assert x.shape[1:] == (28, 28) and x.dtype == np.uint8 and len(x) == len(y) == len(src)
    assert set(np.unique(y)) == set(range(11))
    assert (src[y != pendata.NOT_A_DIGIT] >= 0).all() and src.max() < 60000
    held = np.arange(0, 60000, 7)
    xt, _, xv, yv = pendata.split(held)
    assert len(xt) + len(xv) == len(x) and (yv == pendata.NOT_A_DIGIT).any()
    held_renderings = int((np.isin(src, held) & (y != pendata.NOT_A_DIGIT)).sum())
    assert held_renderings > 0 and (yv != pendata.NOT_A_DIGIT).sum() == held_renderings
    assert len(pendata.split(None)[2]) == 0  # no validation split: everything trains


def test_training_can_use_another_pen_data_file_and_go_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app.core.errors import DatasetError

    shipped = len(pendata.load_pen_data()[0])
    other = tmp_path / "pen_full.npz"
    np.savez(other, x=np.arange(3, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8),
             y=np.array([10, 1, 2], np.int8), source=np.array([-1, 4, 5], np.int32))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    try:
        pendata.use_pen_data(other)
        x, y, src = pendata.load_pen_data()
        assert len(x) == 3 and y.tolist() == [10, 1, 2] and src.tolist() == [-1, 4, 5]
        xt, yt, xv, yv = pendata.split(np.array([5]))  # image 5's rendering is held out
        assert yt.tolist() == [1] and int(xt[0, 0, 0]) == 1
        assert yv.tolist() == [10, 2] and [int(v[0, 0]) for v in xv] == [0, 2]
        pendata.use_pen_data(broken)
        with pytest.raises(DatasetError, match=r"broken\.npz"):
            pendata.load_pen_data()
    finally:
        pendata.use_pen_data(None)
    assert len(pendata.load_pen_data()[0]) == shipped
