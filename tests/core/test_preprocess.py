"""app.core.preprocess: MNIST-style normalisation of any digit picture (geometry, polarity,
nothing to recognise, every input type, drawings like the pad's).

Every test image is drawn here with Pillow at run time (no binary fixtures).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.core.preprocess import preprocess

# ----------------------------------------------------------------------------- helpers

# Strokes of three digits in a unit box (x, y in 0..1).
SHAPES: dict[str, list[list[tuple[float, float]]]] = {
    "1": [[(0.25, 0.2), (0.55, 0.0), (0.55, 1.0)]],
    "7": [[(0.0, 0.05), (1.0, 0.05), (0.35, 1.0)]],
    "4": [[(0.7, 1.0), (0.7, 0.0), (0.0, 0.65), (1.0, 0.65)]],
}


def digit(
    kind: str = "7",
    canvas: tuple[int, int] = (200, 200),
    box: tuple[float, float, float, float] = (60, 30, 140, 170),
    width: int = 12,
    ink: int = 255,
    paper: int = 0,
) -> Image.Image:
    """An "L" image of a digit drawn with Pillow: a "0" is an ellipse, others polylines."""
    img = Image.new("L", canvas, paper)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    if kind == "0":
        draw.ellipse(box, outline=ink, width=width)
    else:
        for stroke in SHAPES[kind]:
            pts = [(x0 + u * (x1 - x0), y0 + v * (y1 - y0)) for u, v in stroke]
            draw.line(pts, fill=ink, width=width, joint="curve")
    return img


def scaled(kind: str, k: float, width: int = 12, **kw: int) -> Image.Image:
    """The default digit with canvas, box and stroke all scaled by ``k``."""
    return digit(
        kind,
        canvas=(round(200 * k), round(200 * k)),
        box=(60 * k, 30 * k, 140 * k, 170 * k),
        width=max(1, round(width * k)),
        **kw,
    )


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a.ravel().astype(np.float64) - a.mean()
    b = b.ravel().astype(np.float64) - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[: a.shape[0], : a.shape[1]]
    total = a.sum()
    return float((a * ys).sum() / total), float((a * xs).sum() / total)


def bbox(a: np.ndarray, level: float) -> tuple[int, int]:
    """(height, width) of the pixels above ``level``."""
    rows = np.flatnonzero((a > level).any(axis=1))
    cols = np.flatnonzero((a > level).any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def check_contract(out: np.ndarray | None) -> np.ndarray:
    assert out is not None
    assert out.shape == (28, 28)
    assert out.dtype == np.float32
    assert float(out.min()) >= 0.0
    assert float(out.max()) == pytest.approx(1.0)
    return out


def ref(kind: str = "7") -> np.ndarray:
    return check_contract(preprocess(digit(kind)))


# ----------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("kind", ["0", "1", "7", "4"])
def test_contract_and_mnist_geometry(kind: str) -> None:
    out = ref(kind)
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14.0) <= 0.5 and abs(cx - 14.0) <= 0.5
    # The longer side of the digit is 20 px (placed to a sub-pixel: 20 or 21 rows touched).
    assert max(bbox(out, 0.35)) in (19, 20, 21)
    assert max(bbox(out, 0.0)) <= 21
    # Aspect ratio kept: the "0" is 80x140 -> about 11.4 x 20.
    if kind == "0":
        h, w = bbox(out, 0.35)
        assert h >= 19 and 10 <= w <= 13


@pytest.mark.parametrize("kind", ["0", "1", "7", "4"])
@pytest.mark.parametrize("k", [0.25, 0.5, 2.0, 5.0])
def test_scale_invariance(kind: str, k: float) -> None:
    """The same digit drawn small (50 px canvas) or large (1000 px) gives the same input."""
    out = check_contract(preprocess(scaled(kind, k)))
    assert corr(out, ref(kind)) > 0.9
    assert float(np.abs(out - ref(kind)).mean()) < 0.06


@pytest.mark.parametrize("kind", ["0", "1", "7", "4"])
@pytest.mark.parametrize(
    "box", [(5, 5, 45, 75), (150, 120, 190, 190), (10, 110, 60, 195), (80, 0, 120, 70)]
)
def test_position_invariance(kind: str, box: tuple[int, int, int, int]) -> None:
    """Drawn in a corner or at an edge: centred like MNIST, same as in the middle."""
    w, h = box[2] - box[0], box[3] - box[1]
    width = max(2, round(12 * h / 140))
    out = check_contract(preprocess(digit(kind, box=box, width=width)))
    middle = (100 - w / 2, 100 - h / 2, 100 + w / 2, 100 + h / 2)
    centred = check_contract(preprocess(digit(kind, box=middle, width=width)))
    assert corr(out, centred) > 0.97
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14.0) <= 0.5 and abs(cx - 14.0) <= 0.5


@pytest.mark.parametrize("kind", ["0", "7", "4"])
@pytest.mark.parametrize("width", [3, 6, 9, 16])
def test_stroke_width(kind: str, width: int) -> None:
    out = check_contract(preprocess(digit(kind, width=width)))
    assert corr(out, ref(kind)) > 0.85


@pytest.mark.parametrize("kind", ["0", "1", "7", "4"])
def test_hairline_in_a_huge_image_stays_visible(kind: str) -> None:
    """A 1 px stroke in a 3000 px image is thickened, not averaged away."""
    img = digit(kind, canvas=(3000, 3000), box=(900, 450, 2100, 2550), width=1)
    out = check_contract(preprocess(img))
    assert int((out > 0.5).sum()) >= 20  # a real stroke, not a faint trace
    assert corr(out, ref(kind)) > 0.8


@pytest.mark.parametrize("kind", ["0", "7"])
def test_tiny_digit_is_magnified(kind: str) -> None:
    out = check_contract(preprocess(digit(kind, canvas=(200, 200), box=(20, 30, 28, 44), width=2)))
    assert corr(out, ref(kind)) > 0.75
    assert max(bbox(out, 0.35)) >= 18


def test_one_pixel_dot_is_a_small_central_blob() -> None:
    pad = np.zeros((280, 280), np.uint8)
    pad[37, 250] = 255
    out = check_contract(preprocess(pad, ink="light"))
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14.0) <= 0.5 and abs(cx - 14.0) <= 0.5
    assert max(bbox(out, 0.1)) <= 12  # a blob, not a 20x20 square


def test_pen_dot_is_a_small_central_blob() -> None:
    img = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(img).ellipse((30, 200, 50, 220), fill=255)
    out = check_contract(preprocess(img, ink="light"))
    assert max(bbox(out, 0.1)) <= 14


def test_scribble_over_the_whole_canvas_is_valid() -> None:
    rng = np.random.default_rng(7)
    img = Image.new("L", (280, 280), 0)
    pts = [tuple(p) for p in rng.integers(0, 280, size=(80, 2)).tolist()]
    ImageDraw.Draw(img).line(pts, fill=255, width=18)
    check_contract(preprocess(np.asarray(img), ink="light"))
    check_contract(preprocess(img))


def test_fully_inked_pad_is_none() -> None:
    assert preprocess(np.full((280, 280), 255, np.uint8), ink="light") is None


# ----------------------------------------------------------------------------- polarity


def test_polarity_auto_light_dark_agree() -> None:
    light = digit("7")
    dark = digit("7", ink=0, paper=255)
    base = ref("7")
    np.testing.assert_allclose(check_contract(preprocess(light, ink="light")), base, atol=1e-6)
    np.testing.assert_allclose(check_contract(preprocess(dark)), base, atol=1e-6)
    np.testing.assert_allclose(check_contract(preprocess(dark, ink="dark")), base, atol=1e-6)


def test_grey_paper_and_faint_ink() -> None:
    """A grey scan (paper 200, pencil 120) looks like black on white after normalising."""
    out = check_contract(preprocess(digit("4", ink=120, paper=200)))
    np.testing.assert_allclose(out, ref("4"), atol=1e-5)
    out = check_contract(preprocess(digit("4", ink=40, paper=10)))
    np.testing.assert_allclose(out, ref("4"), atol=1e-5)


def test_noisy_photo_of_a_digit() -> None:
    rng = np.random.default_rng(3)
    img = np.asarray(digit("0", ink=40, paper=215)).astype(np.int16)
    img = np.clip(img + rng.integers(-12, 13, img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).convert("RGB").save(buf, "JPEG", quality=70)
    out = check_contract(preprocess(Image.open(io.BytesIO(buf.getvalue()))))
    assert corr(out, ref("0")) > 0.9


# ----------------------------------------------------------------------------- nothing there


def _jpeg_of_blank_page() -> Image.Image:
    rng = np.random.default_rng(0)
    page = np.clip(245 + rng.normal(0, 3, (120, 160)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, "JPEG", quality=60)
    return Image.open(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(np.zeros((280, 280), np.uint8), id="empty-pad"),
        pytest.param(np.zeros((0, 0), np.uint8), id="zero-size"),
        pytest.param(Image.new("L", (100, 80), 255), id="all-white"),
        pytest.param(Image.new("L", (100, 80), 0), id="all-black"),
        pytest.param(Image.new("RGB", (64, 64), "white"), id="white-rgb"),
        pytest.param(Image.new("RGB", (64, 64), (90, 90, 90)), id="grey"),
        pytest.param(Image.new("RGBA", (64, 64), (0, 0, 0, 0)), id="transparent"),
        pytest.param(np.ones((50, 50), np.float32), id="float-ones"),
        pytest.param(
            (250 - np.random.default_rng(1).integers(0, 8, (90, 90))).astype(np.uint8),
            id="faint-noise",
        ),
        pytest.param(digit("7", ink=240, paper=255), id="too-faint-mark"),
    ],
)
def test_nothing_to_recognise(image: Image.Image | np.ndarray) -> None:
    assert preprocess(image) is None


def test_blank_jpeg_page_is_none() -> None:
    assert preprocess(_jpeg_of_blank_page()) is None


def test_empty_pad_light_and_auto_are_none() -> None:
    pad = np.zeros((400, 400), np.uint8)
    assert preprocess(pad, ink="light") is None
    assert preprocess(pad, ink="auto") is None


# ----------------------------------------------------------------------------- input types


def _convert(img: Image.Image, mode: str) -> Image.Image:
    if mode == "1":
        return img.convert("1", dither=Image.Dither.NONE)
    if mode == "I;16 (16-bit)":
        return Image.fromarray(np.asarray(img).astype(np.uint16) * 257)
    return img.convert(mode)


@pytest.mark.parametrize(
    "mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I;16 (16-bit)", "I", "F"]
)
@pytest.mark.parametrize("polarity", ["light", "dark"])
def test_every_pil_mode_gives_the_l_result(mode: str, polarity: str) -> None:
    img = digit("4") if polarity == "light" else digit("4", ink=0, paper=255)
    base = preprocess(img)
    assert base is not None
    out = preprocess(_convert(img, mode))
    assert out is not None, mode
    np.testing.assert_allclose(out, base, atol=1e-4)


def test_alpha_transparent_background() -> None:
    """A digit on a transparent sheet: black or white ink, RGBA/LA/P, all the same."""
    shape = digit("7")  # 255 where the ink is
    zeros = Image.new("L", shape.size, 0)
    full = Image.new("L", shape.size, 255)
    base = ref("7")
    black_ink = Image.merge("RGBA", (zeros, zeros, zeros, shape))
    white_ink = Image.merge("RGBA", (full, full, full, shape))
    black_la = Image.merge("LA", (zeros, shape))
    for img in (black_ink, white_ink, black_la):
        np.testing.assert_allclose(check_contract(preprocess(img)), base, atol=1e-4)
    np.testing.assert_allclose(check_contract(preprocess(black_ink, ink="dark")), base, atol=1e-4)
    np.testing.assert_allclose(check_contract(preprocess(white_ink, ink="light")), base, atol=1e-4)

    pal = Image.new("P", shape.size, 0)
    pal.putpalette([255, 255, 255, 20, 20, 20] + [0, 0, 0] * 254)
    pal.paste(1, mask=shape)
    pal.info["transparency"] = 0
    assert corr(check_contract(preprocess(pal)), base) > 0.99


def test_alpha_opaque_picture_is_unchanged() -> None:
    img = digit("0", ink=0, paper=255).convert("RGBA")
    np.testing.assert_allclose(check_contract(preprocess(img)), ref("0"), atol=1e-4)


def test_numpy_inputs_match_pil() -> None:
    img = digit("7")
    arr = np.asarray(img)
    base = ref("7")
    inputs: dict[str, np.ndarray] = {
        "uint8": arr,
        "uint8 view": np.pad(arr, ((0, 0), (0, 24)))[:, :200],  # non-contiguous rows
        "float32 0..1": arr.astype(np.float32) / 255,
        "float64 0..1": arr / 255.0,
        "bool": arr > 127,
        "uint16": arr.astype(np.uint16) * 257,
        "int64 0..255": arr.astype(np.int64),
        "HxWx1": arr[:, :, None],
        "HxWx3": np.repeat(arr[:, :, None], 3, axis=2),
        "HxWx4 opaque": np.dstack([arr, arr, arr, np.full_like(arr, 255)]),
        "HxWx4 alpha only": np.dstack([np.zeros_like(arr)] * 3 + [arr]),
        "dark HxWx3": 255 - np.repeat(arr[:, :, None], 3, axis=2),
    }
    for name, a in inputs.items():
        out = preprocess(a)
        assert out is not None, name
        np.testing.assert_allclose(out, base, atol=2e-4, err_msg=name)
    np.testing.assert_allclose(check_contract(preprocess(arr, ink="light")), base, atol=1e-6)


def test_numpy_nan_is_background() -> None:
    a = np.asarray(digit("1")).astype(np.float32) / 255
    a[:5, :5] = np.nan
    np.testing.assert_allclose(check_contract(preprocess(a)), ref("1"), atol=1e-4)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="ink"):
        preprocess(np.zeros((10, 10), np.uint8), ink="bright")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        preprocess(np.zeros((2, 10, 10, 3), np.uint8))
    with pytest.raises(ValueError):
        preprocess(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(TypeError):
        preprocess([[0, 1], [1, 0]])  # type: ignore[arg-type]


def test_input_is_not_modified() -> None:
    arr = np.asarray(digit("0")).copy()
    before = arr.copy()
    preprocess(arr, ink="light")
    preprocess(arr)
    np.testing.assert_array_equal(arr, before)


# ----------------------------------------------------------------------------- MNIST itself


def test_bundled_mnist_digits_come_back_unchanged() -> None:
    """MNIST digits are already normalised: preprocess(x) must be (almost) x / 255."""
    from app.core.data import load_mnist

    (_, _), (x_test, _) = load_mnist()
    scores = []
    for x in x_test[:200]:
        out = check_contract(preprocess(x))
        scores.append(corr(out, x / 255.0))
        assert float(np.abs(out - x / 255.0).mean()) < 0.08
    assert float(np.mean(scores)) > 0.95
    assert min(scores) > 0.8


# ----------------------------------------------------------------------------- drawings like the pad's


SS = 4  # drawings are made at 4x and box-filtered down: antialiased edges, like the pad's


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


def test_pad_edge_cases_meet_the_contract() -> None:
    """Dots, corners, thin bars, ink on the border, odd sizes, pooled sizes, every
    polarity: a valid input or None, never an error."""
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
    huge = np.zeros((2000, 2000), np.uint8)  # pooled (by 28)
    huge[300:1700, 600:1400] = 255
    for image in (empty, dot, corner, full, faint, bar, border, odd, huge, empty[:1, :1],
                  dot[139:142, 139:142]):
        for ink in ("light", "auto", "dark"):
            for a in (image, 255 - image):
                out = preprocess(a, ink=ink)  # type: ignore[arg-type]
                if out is not None:
                    check_contract(out)
    assert preprocess(empty, ink="light") is None
    assert preprocess(faint, ink="light") is None
    assert preprocess(full, ink="light") is None
    assert preprocess(dot, ink="light") is not None
    thick_bar = check_contract(preprocess(bar, ink="light"))
    width = thick_bar.sum(axis=0)  # ink per column: the stroke's width in pixels
    assert 1.2 < float(np.median(width[width > 0])) < 2.5  # thickened like MNIST's thin strokes


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


def test_pil_l_images_and_uint8_arrays_agree() -> None:
    rng = np.random.default_rng(42)
    for _ in range(10):
        a = pad_like(rng)
        from_pil, from_array = preprocess(Image.fromarray(a)), preprocess(a)
        assert (from_pil is None) == (from_array is None)
        assert from_pil is None or np.array_equal(from_pil, from_array)
