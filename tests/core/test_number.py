"""Reading a whole number: ink split into digits, each read like a single digit."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.core import segment
from app.core.data import load_mnist
from app.core.inference import Predictor
from app.core.number import NO_DIGITS, VERDICT_NOT_A_DIGIT, NumberReader, drawing_cuts, drawing_options
from app.core.paths import bundled_store_dir
from app.core.preprocess import preprocess
from tools.handwriting import DIGITS

HEIGHT = 280  # the pad's buffer height


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(bundled_store_dir() / "default" / "model.tflite")


@pytest.fixture(scope="module")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    return load_mnist()[1]


class Counting:
    """A predictor that counts the digits it was asked to read."""

    def __init__(self, inner: Predictor) -> None:
        self.inner, self.seen = inner, 0

    def predict_batch(self, x: np.ndarray) -> np.ndarray:
        self.seen += len(x)
        return self.inner.predict_batch(x)


def side_by_side(images: list[np.ndarray], gap: int, scale: int = 1) -> np.ndarray:
    """MNIST digits (cropped to their columns) in a row, ``gap`` empty columns apart."""
    parts = [np.zeros((28, gap), np.uint8)]
    for im in images:
        cols = np.flatnonzero(im.any(axis=0))
        parts += [im[:, cols[0]: cols[-1] + 1], np.zeros((28, gap), np.uint8)]
    row = np.hstack(parts)
    return np.kron(row, np.ones((scale, scale), np.uint8)) if scale > 1 else row


def _paint(strokes: list[tuple[np.ndarray, float]], width: int) -> np.ndarray:
    """Strokes (points in pixels, pen diameter) drawn with round pens on a strip HEIGHT high."""
    img = Image.new("L", (width, HEIGHT), 0)
    draw = ImageDraw.Draw(img)
    for pts, w in strokes:
        draw.line([tuple(p) for p in pts], fill=255, width=int(w), joint="curve")
        for x, y in pts[[0, -1]]:
            draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=255)
    return np.asarray(img)


def written(number: str, height: float = 0.7, advance: float = 0.62, width: float = 20.0
            ) -> tuple[np.ndarray, list[tuple[np.ndarray, float]]]:
    """``number`` written with the test digits' strokes on a strip HEIGHT pixels high:
    the pixels (PIL, round pens) and the strokes in pixels."""
    strokes = []
    for k, ch in enumerate(number):
        x0 = (0.3 + k * advance) * HEIGHT
        for line in DIGITS[ch]:
            pts = np.array([(x0 + x * height * 0.7 * HEIGHT, (0.15 + y * height) * HEIGHT)
                            for x, y in line])
            strokes.append((segment.densify(pts, 3.0), width))
    return _paint(strokes, int((0.6 + len(number) * advance) * HEIGHT)), strokes


def test_number_from_a_picture_reads_each_digit_as_the_single_digit_path_does(predictor, mnist_test):
    x, _ = mnist_test
    reader = NumberReader(predictor)
    rng = np.random.default_rng(7)
    for _ in range(20):
        images = [x[i] for i in rng.integers(0, len(x), int(rng.integers(2, 7)))]
        single = "".join(str(int(np.argmax(predictor.predict(preprocess(im))))) for im in images)
        reading = reader.read_image(side_by_side(images, gap=6, scale=4))
        assert reading.number == single
        assert len(reading.digits) == len(images)
        lefts = [d.box[0] for d in reading.digits]
        assert lefts == sorted(lefts)


def test_dark_ink_on_white_paper_reads_the_same(predictor, mnist_test):
    x, _ = mnist_test
    row = side_by_side([x[0], x[1], x[2]], gap=5, scale=3)
    reader = NumberReader(predictor)
    assert reader.read_image(Image.fromarray(255 - row)).number == reader.read_image(row).number


def test_json_shape_of_a_reading(predictor, mnist_test):
    x, _ = mnist_test
    reading = NumberReader(predictor).read_image(side_by_side([x[3], x[4]], gap=5))
    data = reading.to_dict()
    assert data["number"] == reading.number and len(data["digits"]) == 2
    first = data["digits"][0]
    assert set(first) == {"box", "digit", "confidence", "probabilities", "verdict"}
    assert len(first["probabilities"]) == 10 and abs(sum(first["probabilities"]) - 1) < 1e-3
    assert first["confidence"] == max(first["probabilities"])
    assert first["verdict"] == "digit"


@pytest.mark.parametrize("picture", [np.zeros((60, 200), np.uint8), np.full((60, 200), 200, np.uint8),
                                     Image.new("RGB", (90, 30), "white")])
def test_a_picture_without_ink_reads_no_digits(predictor, picture):
    reading = NumberReader(predictor).read_image(picture)
    assert reading.number is None and reading.digits == ()
    assert reading.message == NO_DIGITS


def test_forty_digits(predictor, mnist_test):
    x, _ = mnist_test
    images = [x[i] for i in range(40)]
    reading = NumberReader(predictor).read_image(side_by_side(images, gap=5))
    assert reading.number is not None and len(reading.number) == 40
    single = "".join(str(int(np.argmax(predictor.predict(preprocess(im))))) for im in images)
    assert sum(a == b for a, b in zip(reading.number, single, strict=True)) >= 38


def test_touching_digits_are_cut_where_the_ink_is_thin(predictor):
    pixels, _ = written("20", advance=0.4)
    pixels = pixels.copy()
    pixels[226:232, 180:266] = 255  # the 2's base runs on into the 0
    _, n = segment.label(pixels > 50)
    assert n == 1  # one piece of ink
    reading = NumberReader(predictor).read_image(pixels)
    assert len(reading.digits) == 2
    assert reading.number == "20"


def test_drawing_a_two_stroke_four_stays_one_digit(predictor):
    pixels, strokes = written("1456")
    cuts = drawing_cuts(pixels, strokes)
    assert len(cuts) == 4
    assert cuts[1].strokes == (1, 2)  # the 4's two strokes
    reading = NumberReader(predictor).read_drawing(pixels, strokes)
    assert reading.number is not None and len(reading.number) == 4
    assert reading.digits[1].strokes == (1, 2)


@pytest.mark.parametrize("apart", [0.9, 1.6])  # the L's end and the stem, in pen widths
def test_an_open_four_whose_stem_only_meets_its_corner_stays_one_digit(predictor, apart):
    """An open 4: its L, then a slightly bowed stem that meets the L's end, or all but (a
    gap under a pen width). The two overlap too little to be grouped by their extents;
    read as one, the model is sure of a 4."""
    u, w = 0.49 * HEIGHT, 20.0
    x0, top, mid, bottom = 0.75 * HEIGHT, 0.12 * HEIGHT, 0.62 * HEIGHT, 0.86 * HEIGHT
    sx = x0 + 0.7 * u
    ell = np.array([(x0 + 0.3 * u, top), (x0 + 0.05 * u, mid), (sx - apart * w, mid)])
    stem = np.array([(sx + 0.15 * u, top), (sx, mid), (sx + 0.06 * u, bottom)])
    _, ones = written("11", advance=1.3)
    strokes = [ones[0], (segment.densify(ell, 3.0), w), (segment.densify(stem, 3.0), w), ones[1]]
    pixels = _paint(strokes, int(2.4 * HEIGHT))
    cuts, joins = drawing_options(pixels, strokes)
    assert [c.strokes for c in cuts] == [(0,), (1,), (2,), (3,)]  # grouped by extents: apart
    assert [(i, c.strokes) for i, c in joins] == [(1, (1, 2))]  # they (all but) touch
    reading = NumberReader(predictor).read_drawing(pixels, strokes)
    assert reading.number == "141"
    assert reading.digits[1].strokes == (1, 2)
    assert reading.digits[1].box == joins[0][1].box


@pytest.mark.parametrize("number", ["17", "71"])
def test_touching_digits_each_sure_of_itself_are_not_joined(predictor, number):
    """Two digits whose strokes touch are read as one only when one of them alone is
    doubtful: a 7 and a touching 1 (a wide 7 to the model) stay two."""
    pixels, strokes = written(number, advance=0.28)
    cuts, joins = drawing_options(pixels, strokes)
    assert len(cuts) == 2 and [i for i, _ in joins] == [0]  # touching: the join is asked about
    assert NumberReader(predictor).read_drawing(pixels, strokes).number == number


def test_a_five_with_its_flag_written_apart_stays_one_digit(predictor):
    pixels, strokes = written("35")
    body = []
    x0 = (0.3 + 0.62) * HEIGHT  # where written() put the second digit
    for y in np.linspace(0.04, 0.45, 8):  # the 5's stem, then its belly
        body.append((x0 + (0.3 - 0.1 * y) * 0.49 * HEIGHT, (0.15 + y * 0.7) * HEIGHT))
    for a in np.linspace(-110, 150, 20):
        x = 0.5 + 0.32 * np.cos(np.radians(a))
        y = 0.68 + 0.28 * np.sin(np.radians(a))
        body.append((x0 + x * 0.49 * HEIGHT, (0.15 + y * 0.7) * HEIGHT))
    flag = [(x0 + 0.3 * 0.49 * HEIGHT, (0.15 + 0.04 * 0.7) * HEIGHT),
            (x0 + 0.8 * 0.49 * HEIGHT, (0.15 + 0.04 * 0.7) * HEIGHT)]
    strokes = [strokes[0], (segment.densify(np.array(body), 3.0), 20.0),
               (segment.densify(np.array(flag), 3.0), 20.0)]
    img = Image.new("L", (pixels.shape[1], HEIGHT), 0)
    draw = ImageDraw.Draw(img)
    for pts, w in strokes:
        draw.line([tuple(p) for p in pts], fill=255, width=int(w), joint="curve")
    cuts = drawing_cuts(np.asarray(img), strokes)
    assert [c.strokes for c in cuts] == [(0,), (1, 2)]
    assert NumberReader(predictor).read_drawing(np.asarray(img), strokes).number == "35"


def test_drawing_reads_the_number_written(predictor):
    pixels, strokes = written("2026")
    assert NumberReader(predictor).read_drawing(pixels, strokes).number == "2026"


def test_drawing_and_its_picture_read_the_same(predictor):
    pixels, strokes = written("31415")
    reader = NumberReader(predictor)
    by_strokes = reader.read_drawing(pixels, strokes)
    by_picture = NumberReader(predictor).read_image(pixels)
    assert by_strokes.number == by_picture.number
    for d, e in zip(by_strokes.digits, by_picture.digits, strict=True):
        assert np.array_equal(d.x, e.x)


def test_an_empty_drawing_and_a_speck(predictor):
    reader = NumberReader(predictor)
    assert reader.read_drawing(np.zeros((HEIGHT, 900), np.uint8), []).number is None
    pixels, strokes = written("27")
    speck = np.array([[700.0, 200.0]])
    pixels = pixels.copy()
    pixels[198:203, 698:703] = 255
    assert reader.read_drawing(pixels, [*strokes, (speck, 5.0)]).number == "27"


def test_only_the_digit_that_changed_is_read_again(predictor):
    counting = Counting(predictor)
    reader = NumberReader(counting)
    pixels, strokes = written("123456")
    assert len(reader.read_drawing(pixels, strokes).digits) == 6
    assert counting.seen == 6
    more, more_strokes = written("123457")
    reader.read_drawing(more, more_strokes)
    assert counting.seen == 7


def test_a_judge_can_say_a_digit_is_not_a_digit(predictor):
    def judge(x: np.ndarray, probs: np.ndarray) -> str:
        return VERDICT_NOT_A_DIGIT if int(np.argmax(probs)) == 0 else "digit"

    pixels, strokes = written("2026")
    reading = NumberReader(predictor, judge).read_drawing(pixels, strokes)
    assert reading.number == "2?26" and reading.uncertain
    assert reading.digits[1].to_dict()["verdict"] == VERDICT_NOT_A_DIGIT
    assert reading.digits[1].digit == 0  # the model's reading is kept


def _flood_labels(mask: np.ndarray) -> np.ndarray:
    out = np.zeros(mask.shape, int)
    n = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if out[start]:
            continue
        n += 1
        out[start] = n
        todo = deque([start])
        while todo:
            r, c = todo.popleft()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    inside = 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1]
                    if inside and mask[rr, cc] and not out[rr, cc]:
                        out[rr, cc] = n
                        todo.append((rr, cc))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_components_match_a_flood_fill(seed):
    mask = np.random.default_rng(seed).random((40, 50)) < 0.35
    labels, n = segment.label(mask)
    ref = _flood_labels(mask)
    assert n == ref.max()
    # the same partition of the pixels (labels may be numbered differently)
    pairs = set(zip(labels[mask].tolist(), ref[mask].tolist(), strict=True))
    assert len(pairs) == n
    assert (labels[~mask] == 0).all()


def drawn(lines: list[list[tuple[float, float]]], width: float = 20.0, size: tuple[int, int] = (900, HEIGHT)
          ) -> tuple[np.ndarray, list[tuple[np.ndarray, float]]]:
    """Strokes (polylines in pixels) drawn with a round pen: the pixels and the strokes."""
    strokes = [(segment.densify(np.array(line, dtype=np.float64), 3.0), width) for line in lines]
    img = Image.new("L", size, 0)
    draw = ImageDraw.Draw(img)
    for pts, w in strokes:
        draw.line([tuple(p) for p in pts], fill=255, width=int(w), joint="curve")
        for x, y in pts:
            draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=255)
    return np.asarray(img), strokes


def test_a_colon_of_dots_between_two_digits_is_not_a_digit(predictor):
    """Dots apart from the digits are specks, even two of them one above the other."""
    pixels, strokes = written("27", advance=0.9)
    x = (0.3 + 0.7 * 0.7 + 0.9) / 2 * HEIGHT  # halfway between the 2 and the 7
    dots = [[(x, 100.0), (x + 6, 104.0)], [(x, 170.0), (x + 6, 174.0)]]
    more, dot_strokes = drawn(dots, size=(pixels.shape[1], HEIGHT))
    pixels, strokes = np.maximum(pixels, more), [*strokes, *dot_strokes]
    assert [c.strokes for c in drawing_cuts(pixels, strokes)] == [(0,), (1,)]
    assert NumberReader(predictor).read_drawing(pixels, strokes).number == "27"


def test_pieces_of_a_broken_stroke_beside_a_digit_join_it():
    """A narrow column of short pieces close to a digit (a stroke broken in two) is part of it,
    not a digit of its own."""
    one = [(300.0, 40.0), (300.0, 240.0)]
    pieces = [[(335.0, 45.0), (335.0, 100.0)], [(335.0, 170.0), (335.0, 235.0)]]
    three = [[(60.0, 60.0), (150.0, 50.0), (100.0, 140.0), (160.0, 200.0), (60.0, 235.0)]]
    pixels, strokes = drawn([*three, one, *pieces])
    assert [c.strokes for c in drawing_cuts(pixels, strokes)] == [(0,), (1, 2, 3)]


def test_a_wide_digit_with_a_low_piece_at_its_side_is_not_cut():
    """Cut where the ink is thin only when both sides are as high as a digit: a 4's tick or
    a 9's dot at the end of a thin line stays with its digit."""
    ink = np.zeros((120, 160), np.uint8)
    ink[10:110, 0:60] = 255  # a digit's ink
    ink[95:101, 60:90] = 255  # a thin line on from its foot
    ink[70:105, 90:150] = 255  # a low blob at its end
    assert segment.cuts(ink) == [(0, 150)]
    ink[10:110, 90:150] = 255  # ... a digit there instead: two digits touching, cut at the line
    assert segment.cuts(ink) == [(0, 75), (75, 150)]


# a blob of ink (a digit written over and over), a thin line, another blob: all one stroke
BLOBS = [*[(x, y) for y in (40.0, 85.0, 130.0, 175.0, 230.0) for x in (30.0, 120.0)],
         *[(x, y) for y in (230.0, 185.0, 140.0, 95.0, 40.0) for x in (180.0, 270.0)]]


def _cuts_of(lines: list[list[tuple[float, float]]], with_strokes: bool = True) -> list[tuple[int, int]]:
    pixels, strokes = drawn(lines, size=(700, HEIGHT))
    return segment.cuts(pixels, strokes if with_strokes else ())


def test_touching_digits_are_cut_at_their_narrow_waist_between_their_strokes():
    """Two digits written with strokes that touch: cut at the thin place, where they meet."""
    left, right = [*BLOBS[:10], (150.0, 230.0)], [(150.0, 230.0), *BLOBS[10:]]
    columns = _cuts_of([left, right])
    assert len(columns) == 2
    (a0, a1), (b0, b1) = columns
    assert a0 <= 20 and b1 >= 280  # (the pen reaches around the points)
    assert 130 <= a1 <= 160 <= b0 + 10 <= 180  # where the two strokes meet


def test_one_stroke_is_never_cut_at_its_waist():
    """The same ink written as one stroke is one digit (a 2 whose stroke is thin in the
    middle), unless that stroke is as wide as two digits."""
    assert len(_cuts_of([BLOBS])) == 1
    assert len(_cuts_of([BLOBS], with_strokes=False)) == 2  # (a picture: the ink alone decides)
    assert len(_cuts_of([[(x * 1.8, y) for x, y in BLOBS]])) == 2
