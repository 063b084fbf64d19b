"""app.core.preprocess.load_image and preprocess_file: every kind of file a user may open,
and everything that can go wrong with it (one ImageError line each)."""

from __future__ import annotations

import io
import os
import resource
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core import preprocess as pp
from app.core.errors import ImageError
from app.core.preprocess import load_image, preprocess_file
from tests.core.test_preprocess import check_contract, corr, digit, ref


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def big_bilevel_png(path: Path, width: int, height: int) -> None:
    """A valid all-black 1-bit PNG of any size, a few hundred KB on disk, built without
    ever holding the pixels: rows of zeros deflated once (full flush resets the window,
    so the compressed block can simply be repeated)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    rows_per_block = 1000
    raw_block = row * rows_per_block
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(raw_block) + comp.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(height, rows_per_block)
    tail_comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = tail_comp.compress(row * rest) + tail_comp.flush(zlib.Z_FINISH)
    adler = 1
    for _ in range(full):
        adler = zlib.adler32(raw_block, adler)
    adler = zlib.adler32(row * rest, adler)
    stream = b"\x78\xda" + block * full + tail + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", stream) + _chunk(b"IEND", b"")
    )


def test_big_png_helper_makes_a_real_png(tmp_path: Path) -> None:
    path = tmp_path / "small-bilevel.png"
    big_bilevel_png(path, 1234, 2100)
    with Image.open(path) as img:
        img.load()
        assert img.size == (1234, 2100) and img.mode == "1"
        assert not np.asarray(img).any()


def test_load_image_keeps_mode_and_preprocess_file(tmp_path: Path) -> None:
    img = digit("7", ink=0, paper=255)
    cases = {
        "plain.png": img,
        "rgba.png": img.convert("RGBA"),
        "palette.png": img.convert("P"),
        "sixteen.png": Image.fromarray(np.asarray(img).astype(np.uint16) * 257),
        "cmyk.jpg": img.convert("CMYK"),
        "grey.jpg": img,
        "la.png": img.convert("LA"),
        "tiff.tif": img.convert("RGB"),
        "bilevel.bmp": img.convert("1", dither=Image.Dither.NONE),
    }
    for name, im in cases.items():
        path = tmp_path / name
        im.save(path)
        loaded = load_image(path)
        assert loaded.size == img.size
        if not name.endswith(".jpg"):
            assert loaded.mode == im.mode or (name == "sixteen.png" and "I" in loaded.mode)
        out = check_contract(preprocess_file(path))
        assert corr(out, ref("7")) > 0.98, name


def test_load_image_unicode_name_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "mes chiffres — 数字"
    folder.mkdir()
    path = folder / "ziffer sieben ü 7.png"
    digit("7").save(path)
    np.testing.assert_allclose(check_contract(preprocess_file(path)), ref("7"), atol=1e-6)
    assert load_image(str(path)).size == (200, 200)


def test_load_image_applies_exif_orientation(tmp_path: Path) -> None:
    img = digit("7", ink=0, paper=255).crop((0, 0, 200, 120))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree turn
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif)
    assert load_image(path).size == (120, 200)


def test_load_image_not_found(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"not found.*missing\.png"):
        load_image(tmp_path / "missing.png")


def test_load_image_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)


def test_load_image_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.png.*empty"):
        load_image(path)


def test_load_image_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("these are not pixels\n" * 10)
    with pytest.raises(ImageError, match=r"notes\.png.*not an image") as err:
        load_image(path)
    assert "Pillow" not in str(err.value)  # no internal library's name in a message to the user
    assert "PNG, JPEG" in str(err.value)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_load_image_truncated_png(tmp_path: Path, keep: float) -> None:
    rng = np.random.default_rng(0)
    raw = _png_bytes(Image.fromarray(rng.integers(0, 255, (300, 300), dtype=np.uint8)))
    path = tmp_path / "cut.png"
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ImageError, match=r"cut\.png.*(truncated|corrupt)"):
        load_image(path)


def test_load_image_corrupt_data(tmp_path: Path) -> None:
    raw = bytearray(_png_bytes(digit("7")))
    raw[60:90] = b"\xff" * 30  # inside the IDAT: broken CRC / stream
    path = tmp_path / "broken.png"
    path.write_bytes(bytes(raw))
    with pytest.raises(ImageError, match=r"broken\.png"):
        load_image(path)


def test_load_image_no_permission(tmp_path: Path) -> None:
    path = tmp_path / "secret.png"
    digit("7").save(path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that read any file (root)")
        with pytest.raises(ImageError, match=r"permission.*secret\.png"):
            load_image(path)
    finally:
        path.chmod(0o600)


def _max_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


@pytest.mark.parametrize(("width", "height"), [(30000, 30000), (10000, 5000)])
def test_load_image_refuses_huge_images_before_decoding(
    tmp_path: Path, width: int, height: int
) -> None:
    """30000x30000 (900 MP, Pillow's bomb error) and 10000x5000 (50 MP, above our
    40 MP limit, below Pillow's): both refused from the header, nothing allocated."""
    path = tmp_path / "huge.png"
    big_bilevel_png(path, width, height)
    assert path.stat().st_size < 2_000_000
    before = _max_rss_bytes()
    with pytest.raises(ImageError, match=r"huge\.png.*too large"):
        load_image(path)
    assert _max_rss_bytes() - before < 200_000_000


def test_max_pixels_is_forty_megapixels() -> None:
    assert pp.MAX_PIXELS == 40_000_000
