"""``digitpad predict --number``: the number written side by side in image files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.core.data import load_mnist
from app.core.inference import Predictor
from app.core.paths import bundled_store_dir
from app.core.preprocess import preprocess


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.fixture(scope="module")
def number_png(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """MNIST test digits 2, 0, 2, 6 (ones the shipped model reads right) side by side,
    dark ink on white paper, 3x their size, saved as a PNG."""
    (_, _), (x, y) = load_mnist()
    predictor = Predictor(bundled_store_dir() / "default" / "model.tflite")
    parts = [np.zeros((28, 6), np.uint8)]
    for digit in (2, 0, 2, 6):
        for i in np.flatnonzero(y == digit)[5:]:
            if int(np.argmax(predictor.predict(preprocess(x[i])))) == digit:
                break
        cols = np.flatnonzero(x[i].any(axis=0))
        parts += [x[i][:, cols[0]: cols[-1] + 1], np.zeros((28, 6), np.uint8)]
    row = np.kron(np.hstack(parts), np.ones((3, 3), np.uint8))
    path = tmp_path_factory.mktemp("numbers") / "2026.png"
    Image.fromarray(255 - row).save(path)
    return path, "2026"


def test_json_has_the_number_and_each_digit(number_png, capsys) -> None:
    path, number = number_png
    rc, out, err = _run(capsys, "predict", "--number", "--model", "default", "--json", str(path))
    assert rc == 0, err
    (record,) = json.loads(out)
    assert record["file"] == str(path) and record["error"] is None
    assert record["number"] == number and record["uncertain"] is False
    assert [d["digit"] for d in record["digits"]] == [int(c) for c in number]
    lefts = [d["box"][0] for d in record["digits"]]
    assert lefts == sorted(lefts) and len(set(lefts)) == 4
    for d in record["digits"]:
        assert len(d["probabilities"]) == 10 and d["verdict"] == "digit"
        assert d["confidence"] == pytest.approx(max(d["probabilities"]))


def test_text_output(number_png, capsys) -> None:
    path, number = number_png
    rc, out, _ = _run(capsys, "predict", "--number", "--model", "default", str(path))
    assert rc == 0
    assert f"{path}: {number}" in out
    assert len([line for line in out.splitlines() if "box (" in line]) == 4


def test_an_image_without_ink_says_no_digits_found(tmp_path: Path, capsys) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 80), 255).save(blank)
    rc, out, err = _run(capsys, "predict", "--number", "--model", "default", str(blank))
    assert rc == 0 and "Traceback" not in err
    assert f"{blank}: no digits found" in out
    rc, out, _ = _run(capsys, "predict", "--number", "--model", "default", "--json", str(blank))
    assert json.loads(out)[0]["number"] is None and json.loads(out)[0]["digits"] == []


def test_a_bad_file_is_one_line_and_the_others_are_read(number_png, tmp_path: Path, capsys) -> None:
    path, number = number_png
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    rc, out, err = _run(capsys, "predict", "--number", "--model", "default", "--json",
                        str(junk), str(path))
    assert rc == 1
    assert len(err.strip().splitlines()) == 1 and "junk.png" in err and "Traceback" not in err
    records = json.loads(out)
    assert records[0]["error"] and records[0]["number"] is None
    assert records[1]["number"] == number
