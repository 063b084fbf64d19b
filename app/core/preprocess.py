"""Turn any picture of a digit into a 28x28 MNIST-style input (pure NumPy + Pillow).

MNIST was made like this: the digit's bounding box is scaled (anti-aliased, aspect ratio
kept) so that its longer side is 20 px, and the result is placed in a 28x28 field so that
its centre of mass sits at the centre (14, 14). :func:`preprocess` does the same for any
image (resampling once with an anti-aliasing triangle filter, and placing the centre of
mass to a fraction of a pixel where MNIST rounded the shift to whole pixels, so that the
live prediction does not jump while drawing), plus what real pictures need:

* any Pillow mode or NumPy array is reduced to a grey "ink" map; transparent pixels are
  background; ``ink="auto"`` decides the polarity from the border (bright paper means
  dark ink);
* the paper level is subtracted and the ink normalised, so a grey scan or a faint pencil
  drawing looks like a black-on-white one; an empty page (or JPEG noise, or a uniform
  image) gives ``None``: nothing to recognise, never a guess;
* strokes thinner than the thinnest MNIST strokes are thickened (a 1 px line in a huge
  image still comes out as a visible stroke), and magnification is limited by stroke
  width, so a dot becomes a small blob in the middle rather than a filled 20x20 square.

The GUI calls :func:`preprocess` on every mouse move with the drawing pad's uint8 array
(0 = background, 255 = ink, ``ink="light"``): that path works on the native uint8 array,
crops first, pools in integers, turns grey levels into ink with a lookup table (the float
path's own float32 steps, tabulated: the same result to the bit) and resizes only the
crop (about a quarter of a millisecond for 280x280). Black margins around light ink do not
change the result, so the pad hands over its buffer cropped to the ink.

Where ``app/core/_ppkernel.c`` was compiled (``pip install`` does it when a C compiler is
there), uint8 images go through five compiled steps instead of some forty NumPy calls:
the extremes, the bounding box, the stroke width and the pooled lookup give the same
values to the bit, the resampling the same within 1e-5 (float32 sums in another order).
A mouse move's preprocessing after an idle gap takes 0.22 ms instead of 0.59 ms. The
decisions (levels, scales, thickening) are made here, in Python, either way; without the
extension the NumPy code does everything.

:func:`load_image` opens user files with a one-line :class:`ImageError` for everything
that can go wrong (missing, directory, unreadable, empty, not an image, truncated, or
too large: refused from the header, before any pixel is decoded).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import ImageError

try:  # compiled steps for uint8 images (app/core/_ppkernel.c; optional, built by setup.py)
    import app.core._ppkernel as _kernel_module

    _kernel: Any = _kernel_module
except ImportError:  # not compiled on this machine: the NumPy code below does the same
    _kernel = None

Ink: TypeAlias = Literal["auto", "light", "dark"]

SIZE = 28  # output field
BOX = 20  # the digit's longer side
CENTRE = 14.0  # where the centre of mass goes (row, column), MNIST convention

MIN_CONTRAST = 0.1  # ink fainter than this above the paper is noise: nothing to recognise
BBOX_LEVEL = 0.2  # pixels above this fraction of the ink range define the bounding box
NOISE_FLOOR = 0.05  # ink below this (after normalising) is set to 0 (JPEG/scanner noise)
STROKE_LEVEL = 0.5  # stroke-width estimate thresholds the ink here
# Stroke widths in output pixels, from MNIST itself: 2*area/perimeter of the ink at 0.5
# is 1.0 at the 1st percentile, 1.85 at the median, 4.2 at the 99.9th percentile.
MIN_STROKE = 1.0  # thinner strokes are thickened ...
TARGET_STROKE = 1.6  # ... to this width
MAX_STROKE = 4.5  # a blob (dot) is not magnified beyond this "stroke" width ...
MIN_BOX = 10  # ... but its box stays at least this big
OVERSAMPLE = 4  # thin strokes are handled at >= 4x the output resolution

MAX_PIXELS = 40_000_000  # load_image refuses larger images (decompression-bomb guard)

_INKS = ("auto", "light", "dark")

# a.sum(), a.max(), a.min() without the Python layer of the methods (the same reductions)
_sum, _max, _min = np.add.reduce, np.maximum.reduce, np.minimum.reduce


# --------------------------------------------------------------------------- public API


def preprocess(image: Image.Image | np.ndarray, ink: Ink = "auto") -> np.ndarray | None:
    """Return the digit in ``image`` as a (28, 28) float32 array in [0, 1] (ink = 1).

    ``image``: a PIL image of any mode, or a NumPy array (H, W) or (H, W, 1|3|4)
    (uint8 0..255, uint16, bool, or float 0..1). ``ink``: ``"light"`` = high values are
    ink (the drawing pad: 0 background, 255 ink), ``"dark"`` = dark ink on light paper,
    ``"auto"`` = decide from the border. Returns ``None`` when there is nothing to
    recognise (empty, uniform, or only noise).
    """
    gray, scale = gray_levels(image, ink)
    return _process(gray, scale, ink)


def gray_levels(image: Image.Image | np.ndarray, ink: Ink = "auto") -> tuple[np.ndarray, float]:
    """The grey levels :func:`preprocess` reads from ``image`` (a 2-D array, transparency
    composited onto the paper) and the value that means white in them."""
    if ink not in _INKS:
        raise ValueError(f"ink must be one of {_INKS}, not {ink!r}")
    if isinstance(image, np.ndarray):
        if image.ndim == 2 and image.dtype == np.uint8:  # fast path: the drawing pad
            return image, 255.0
        return _gray_from_array(image, ink)
    if isinstance(image, Image.Image):
        return _gray_from_pil(image, ink)
    raise TypeError(f"expected a PIL image or a NumPy array, not {type(image).__name__}")


def backend() -> str:
    """How uint8 images are preprocessed here: "compiled" (app/core/_ppkernel.c) or "NumPy"."""
    return "compiled" if _kernel is not None else "NumPy"


def load_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open and fully decode an image file; every failure is an :class:`ImageError`.

    The image keeps its mode (16-bit, alpha, palette, CMYK...) and is turned upright
    according to its EXIF orientation. Images above :data:`MAX_PIXELS` are refused from
    their header, before any pixel is decoded.
    """
    p = Path(os.fspath(path)).expanduser()
    name = str(p)
    if not p.exists():
        raise ImageError(f"Image not found: {name}")
    if p.is_dir():
        raise ImageError(f"{name} is a directory, not an image file")
    if not os.access(p, os.R_OK):
        raise ImageError(f"No permission to read {name}")
    try:
        if p.stat().st_size == 0:
            raise ImageError(f"{name} is empty (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ImageError(_too_large(name, width, height))
                img.load()
                loaded: Image.Image = img
        return _upright(loaded)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"{name} is too large to open safely "
            f"(the limit is {MAX_PIXELS // 1_000_000} megapixels)"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name} is not an image, or not in a format DigitPad reads "
                         "(PNG, JPEG, BMP, GIF, TIFF, WebP and others)") from exc
    except FileNotFoundError as exc:
        raise ImageError(f"Image not found: {name}") from exc
    except PermissionError as exc:
        raise ImageError(f"No permission to read {name}") from exc
    except MemoryError as exc:
        raise ImageError(f"{name} is too large to load into memory") from exc
    except OSError as exc:
        raise ImageError(f"{name} is truncated or corrupt ({_first_line(exc)})") from exc
    except Exception as exc:  # Pillow's decoders raise SyntaxError, ValueError, ...
        raise ImageError(f"{name} is not a readable image ({_first_line(exc)})") from exc


def preprocess_file(path: str | os.PathLike[str], ink: Ink = "auto") -> np.ndarray | None:
    """``preprocess(load_image(path), ink)``."""
    return preprocess(load_image(path), ink)


# --------------------------------------------------------------------------- loading


def _too_large(name: str, width: int, height: int) -> str:
    return (
        f"{name} is too large: {width}x{height} pixels "
        f"(the limit is {MAX_PIXELS // 1_000_000} megapixels)"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _upright(img: Image.Image) -> Image.Image:
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not make a good image unreadable
        return img
    if orientation in (None, 1):
        return img
    try:
        return ImageOps.exif_transpose(img)
    except Exception:
        return img


# --------------------------------------------------------------------------- grey level


def _border(a: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels of a 2-D array, flattened."""
    if a.shape[0] <= 2 or a.shape[1] <= 2:
        return a.ravel()
    return np.concatenate((a[0], a[-1], a[1:-1, 0], a[1:-1, -1]))


def _value_scale(a: np.ndarray) -> float:
    """The value meaning "white" for an array whose range is not given by its dtype."""
    if a.dtype == np.uint8:
        return 255.0
    if a.size == 0:
        return 1.0
    top = float(np.max(a))
    if np.issubdtype(a.dtype, np.floating) and top <= 1.0:
        return 1.0
    for scale in (255.0, 65535.0):
        if top <= scale:
            return scale
    return top


def _gray_from_pil(img: Image.Image, ink: Ink) -> tuple[np.ndarray, float]:
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "L")
    elif mode in ("PA", "RGBa"):
        img = img.convert("RGBA")
    elif mode == "La":
        img = img.convert("LA")
    mode = img.mode

    if mode == "1":
        return np.asarray(img).view(np.uint8), 1.0
    if mode == "L":
        return np.asarray(img), 255.0
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(img)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if mode == "F" and not np.isfinite(arr).all():
            arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        return arr, _value_scale(arr)
    if mode in ("LA", "RGBA"):
        gray = img.convert("L") if mode == "RGBA" else img.getchannel("L")
        return _composite_pil(gray, img.getchannel("A"), ink), 255.0
    try:
        gray = img.convert("L") if mode == "RGB" else img.convert("RGB").convert("L")
    except ValueError:  # e.g. LAB, which Pillow cannot turn into RGB: take lightness
        gray = img.getchannel(0)
    return np.asarray(gray), 255.0


def _alpha_background(gray: np.ndarray, alpha: np.ndarray, scale: float, ink: Ink) -> float:
    """The paper colour (in ``gray``'s units) that transparent pixels stand for."""
    if ink == "light":
        return 0.0
    if ink == "dark":
        return scale
    opaque = alpha >= 0.5 * scale
    ring = _border(opaque)
    if ring.mean() >= 0.5:  # an opaque picture with holes: holes look like its border
        return float(np.median(_border(gray)[ring]))
    content = gray[opaque]
    if content.size == 0:
        return 0.0
    # A drawing on a transparent sheet: the paper is the opposite of the drawing.
    return scale if float(content.mean()) < 0.5 * scale else 0.0


def _composite_pil(gray: Image.Image, alpha: Image.Image, ink: Ink) -> np.ndarray:
    a = np.asarray(alpha)
    if int(a.min()) == 255:
        return np.asarray(gray)
    g = np.asarray(gray)
    bg = _alpha_background(g, a, 255.0, ink)
    paper = Image.new("L", gray.size, round(bg))
    return np.asarray(Image.composite(gray, paper, alpha))


def _gray_from_array(a: np.ndarray, ink: Ink) -> tuple[np.ndarray, float]:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        if a.dtype == np.bool_:
            return a.view(np.uint8), 1.0
        return _plain(a)
    if a.ndim != 3 or a.shape[2] not in (2, 3, 4):
        raise ValueError(f"expected an (H, W) or (H, W, 1|3|4) image array, got {a.shape}")
    colour, alpha = (a, None) if a.shape[2] == 3 else (a[:, :, :-1], a[:, :, -1])
    if a.dtype == np.bool_:
        colour = colour.view(np.uint8)
        scale = 1.0
    else:
        colour, scale = _plain(colour)
    if colour.ndim == 3 and colour.shape[2] == 1:
        gray = colour[:, :, 0].astype(np.float32)
    elif colour.ndim == 3:  # ITU-R 601-2 luma, as Pillow's convert("L")
        c = colour.astype(np.float32)
        gray = c[:, :, 0] * 0.299 + c[:, :, 1] * 0.587 + c[:, :, 2] * 0.114
    else:
        gray = colour.astype(np.float32)
    if alpha is None:
        return gray, scale
    alpha_f = alpha.astype(np.float32) / np.float32(scale)
    np.clip(alpha_f, 0.0, 1.0, out=alpha_f)
    if float(alpha_f.min()) >= 1.0:
        return gray, scale
    bg = _alpha_background(gray, alpha_f * np.float32(scale), scale, ink)
    return gray * alpha_f + np.float32(bg) * (1.0 - alpha_f), scale


def _plain(a: np.ndarray) -> tuple[np.ndarray, float]:
    """A numeric array without NaNs, in native byte order, and its white value."""
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"unsupported image array dtype {a.dtype}")
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("="))
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    return a, _value_scale(a)


# --------------------------------------------------------------------------- the pipeline


def _process(gray: np.ndarray, scale: float, ink: Ink, lut: bool = True) -> np.ndarray | None:
    """MNIST-style normalisation of a 2-D grey array whose white is ``scale``.

    ``lut``: uint8 input (the drawing pad, "L" images) takes the fast path: pooling sums
    integers and the grey -> ink mapping is one table lookup (a table of the same float32
    operations applied to every possible value, so the result is the same array as with
    ``lut=False``, which does those operations on every pixel).
    """
    if gray.ndim != 2 or gray.size == 0:
        return None
    compiled = _kernel is not None and gray.dtype == np.uint8
    if compiled:  # the border's and the image's extremes in one pass
        ring_lo, ring_hi, lowest, highest = (float(v) for v in _kernel.stats(gray))
        paper = (ring_lo if ring_lo == ring_hi else float(np.median(_border(gray)))) / scale
    else:
        ring = _border(gray)
        ring_hi = float(_max(ring))
        # (an unsigned ring whose maximum is 0 is all 0, like the drawing pad's: one pass less)
        ring_lo = ring_hi if ring_hi == 0.0 and gray.dtype.kind == "u" else float(_min(ring))
        paper = (ring_lo if ring_lo == ring_hi else float(np.median(ring))) / scale
    light = paper < 0.5 if ink == "auto" else ink == "light"
    # One full pass for the ink extreme; the other extreme only when the border cannot
    # already prove that the image is not uniform (empty, all white, all black).
    if light:
        top = highest if compiled else float(_max(gray, axis=None))
        if top - ring_lo >= MIN_CONTRAST * scale:
            bottom = ring_lo
        else:
            bottom = lowest if compiled else float(_min(gray, axis=None))
    else:
        bottom = lowest if compiled else float(_min(gray, axis=None))
        if ring_hi - bottom >= MIN_CONTRAST * scale:
            top = ring_hi
        else:
            top = highest if compiled else float(_max(gray, axis=None))
    if (top - bottom) / scale < MIN_CONTRAST:
        return None
    if light:  # ink(v) = (v - b) / contrast, v = gray / scale
        b = min(paper, 0.5)
        contrast = top / scale - b
        offset, gain = b * scale, 1.0 / (contrast * scale)
    else:  # ink(v) = (1 - v - b) / contrast
        b = min(1.0 - paper, 0.5)
        contrast = 1.0 - bottom / scale - b
        offset, gain = (1.0 - b) * scale, -1.0 / (contrast * scale)
    if contrast < MIN_CONTRAST:
        return None

    def level(x: float) -> float:  # the grey value where ink == x
        return offset + x / gain

    # Bounding box of the ink (in the native dtype: no full-size float copy).
    if compiled:
        box = _kernel.span(gray, _int_threshold(level(BBOX_LEVEL), light), light)
        if box is None:  # (cannot happen: the ink's extreme passes the threshold)
            return None
        r0, r1, c0, c1 = box
    else:
        mask = _compare(gray, level(BBOX_LEVEL), light)  # ink > BBOX_LEVEL
        r0, r1 = _row_span(mask)
        c0, c1 = _col_span(mask[r0:r1])
    crop = gray[r0:r1, c0:c1]
    h, w = crop.shape

    # Stroke width (2 * area / perimeter of the ink) decides magnification and thickening.
    if compiled:
        stroke = _kernel.stroke_width(crop, _int_threshold(level(STROKE_LEVEL), light), light)
    else:
        stroke = _stroke_width(_compare(crop, level(STROKE_LEVEL), light))
    s_box = BOX / max(h, w)
    s_out = max(min(s_box, MAX_STROKE / stroke), s_box * MIN_BOX / BOX)  # out px per source px
    thicken = stroke * s_out < MIN_STROKE

    # Working array: pooled when the source is much finer than needed (max-pooled when
    # strokes are thin so they survive), upsampled when thin strokes must be thickened.
    f = int(1.0 / (OVERSAMPLE * s_out))
    u = 1
    if lut and crop.dtype == np.uint8 and f <= _MAX_LUT_POOL:
        ink_map = _ink_map_u8(crop, f, thicken, light, offset, gain, level(0.0))
        src_per_work = float(f) if f >= 2 else 1.0
        if f < 2 and thicken and s_out * OVERSAMPLE > 1.0:
            u = math.ceil(s_out * OVERSAMPLE)
            ink_map = np.repeat(np.repeat(ink_map, u, axis=0), u, axis=1)
            src_per_work = 1.0 / u
    else:
        if f >= 2:
            work = _pool(crop, f, level(0.0), light and thicken, not light and thicken)
            src_per_work = float(f)
        else:
            work = crop
            src_per_work = 1.0
            if thicken and s_out * OVERSAMPLE > 1.0:
                u = math.ceil(s_out * OVERSAMPLE)
                work = np.repeat(np.repeat(work, u, axis=0), u, axis=1)
                src_per_work = 1.0 / u
        ink_map = work.astype(np.float32)  # (always a copy: ``work`` may be the caller's)
        _to_ink(ink_map, offset, gain)
    extent = (w / src_per_work, h / src_per_work)  # crop size in work pixels

    if thicken:
        work_per_out = 1.0 / (s_out * src_per_work)
        have = stroke / src_per_work + (1.0 if f >= 2 else 0.0)
        r = max(1, round((TARGET_STROKE * work_per_out - have) / 2.0))
        ink_map = _dilate(ink_map, r)
        extent = (extent[0] + 2 * r, extent[1] + 2 * r)
        s_work = BOX / max(extent)  # output px per work px
    else:
        s_work = s_out * src_per_work
    return _render(ink_map, extent, s_work)


def _to_ink(a: np.ndarray, offset: float, gain: float) -> None:
    """Grey values -> ink in [0, 1], in place (float32); noise below NOISE_FLOOR -> 0."""
    a -= np.float32(offset)
    a *= np.float32(gain)
    np.clip(a, 0.0, 1.0, out=a)
    a *= a >= NOISE_FLOOR


_MAX_LUT_POOL = 16  # f x f sums of uint8 values fit in uint16 up to f = 16


@functools.lru_cache(maxsize=32)
def _ink_table(n: int, mean_of: int, offset: float, gain: float) -> np.ndarray:
    """Ink of each value 0..n-1: grey values (``mean_of`` = 1) or sums of ``mean_of``
    grey values (a mean-pooled block), by exactly the float32 steps of the float path."""
    v = np.arange(n, dtype=np.float32)  # (integers: exact)
    if mean_of > 1:
        v *= np.float32(1.0 / mean_of)  # as _pool's mean
    _to_ink(v, offset, gain)
    v.flags.writeable = False
    return v


def _ink_map_u8(crop: np.ndarray, f: int, thicken: bool, light: bool, offset: float,
                gain: float, paper: float) -> np.ndarray:
    """The float path's ``_pool`` (when ``f`` >= 2) + grey -> ink for a uint8 crop: pooling
    in integers (max/min, or exact uint16 sums for the mean), then one table lookup."""
    if _kernel is not None:  # the same pooling and lookup, compiled
        if f < 2:
            mode, f, table = 0, 1, _ink_table(256, 1, offset, gain)
        elif thicken:
            mode, table = (1 if light else 2), _ink_table(256, 1, offset, gain)
        else:
            mode, table = 3, _ink_table(255 * f * f + 1, f * f, offset, gain)
        h, w = crop.shape
        out = np.empty((-(-h // f), -(-w // f)), dtype=np.float32)
        _kernel.ink_map(crop, f, mode, table, _paper_u8(paper), out)
        return out
    if f < 2:
        return np.take(_ink_table(256, 1, offset, gain), crop)
    if thicken:
        return np.take(_ink_table(256, 1, offset, gain), _pool(crop, f, paper, light, not light))
    return np.take(_ink_table(255 * f * f + 1, f * f, offset, gain), _pool_sums_u8(crop, f, paper))


def _paper_u8(paper: float) -> int:
    """The uint8 value that completes partial pooling blocks with paper of grey ``paper``."""
    return min(max(round(paper), 0), 255)


def _pool_sums_u8(a: np.ndarray, f: int, fill: float) -> np.ndarray:
    """Sums (uint16) of the f x f blocks of a uint8 array; partial blocks at the
    bottom/right are completed with ``fill`` (the paper), as in :func:`_pool`."""
    h, w = a.shape
    fill_u8 = _paper_u8(fill)
    if fill_u8 and (h % f or w % f):  # (on black paper the missing pixels add nothing)
        padded = np.full((h + -h % f, w + -w % f), fill_u8, dtype=np.uint8)
        padded[:h, :w] = a
        a = padded
    rows = a[0::f].astype(np.uint16)
    for k in range(1, f):
        part = a[k::f]
        np.add(rows[: part.shape[0]], part, out=rows[: part.shape[0]])
    first, second = rows[:, 0::f], rows[:, 1::f]
    if first.shape == second.shape:  # (one call less than copying the first, then adding)
        total = first + second
    else:
        total = first.copy()
        np.add(total[:, : second.shape[1]], second, out=total[:, : second.shape[1]])
    for k in range(2, f):
        part = rows[:, k::f]
        np.add(total[:, : part.shape[1]], part, out=total[:, : part.shape[1]])
    return total


def _int_range(dtype: np.dtype) -> tuple[int, int]:
    if dtype == np.uint8:
        return 0, 255
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _compare(a: np.ndarray, threshold: float, above: bool) -> np.ndarray:
    """``a > threshold`` (or ``<``) without casting an integer array to float64."""
    if a.dtype.kind in "ui":
        lo, hi = _int_range(a.dtype)
        t = math.floor(threshold) if above else math.ceil(threshold)
        if t < lo or t > hi:  # everything or nothing passes
            return np.full(a.shape, (t < lo) == above)
        return np.greater(a, a.dtype.type(t)) if above else np.less(a, a.dtype.type(t))
    return np.greater(a, threshold) if above else np.less(a, threshold)


def _int_threshold(threshold: float, above: bool) -> int:
    """The integer t with ``v > t`` (or ``v < t``) equal to ``v > threshold`` (``<``) for
    every uint8 value v (as in :func:`_compare`), clamped to -1..256."""
    t = math.floor(threshold) if above else math.ceil(threshold)
    return min(max(t, -1), 256)


def _row_span(mask: np.ndarray) -> tuple[int, int]:
    """First and last + 1 row of a (non-empty) 2-D bool mask with a True."""
    if mask.size <= 1 << 20 and mask.flags.c_contiguous:  # memchr on the bytes: ~3x faster
        raw = mask.tobytes()
        width = mask.shape[1]
        return raw.find(b"\x01") // width, raw.rfind(b"\x01") // width + 1
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[0]), int(rows[-1]) + 1


def _col_span(mask: np.ndarray) -> tuple[int, int]:
    """First and last + 1 column of a (non-empty) 2-D bool mask with a True."""
    if mask.size <= 1 << 20 and mask.flags.c_contiguous:
        # OR of the rows (elementwise, vectorised), then memchr on the result's bytes
        raw = np.bitwise_or.reduce(mask, axis=0).tobytes()
        return raw.find(b"\x01"), raw.rfind(b"\x01") + 1
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(cols[-1]) + 1


def _stroke_width(m: np.ndarray) -> float:
    """Mean stroke width of the ink mask ``m`` in pixels: 2 * area / perimeter.

    (A stroke of width w and length l has area w*l and perimeter about 2*l.) Edge
    crossings are counted on every g-th row/column of big masks: every row crosses
    every (non-horizontal) stroke, so this keeps the estimate and saves time.
    """
    area = int(np.count_nonzero(m))
    if area == 0:
        return 1.0
    g = max(1, min(m.shape) // 64)
    perimeter = (
        g * int(np.count_nonzero(m[::g, 1:] != m[::g, :-1]))
        + g * int(np.count_nonzero((m[1:] != m[:-1])[:, ::g]))  # (contiguous !=: faster)
        + int(np.count_nonzero(np.concatenate((m[0], m[-1], m[:, 0], m[:, -1]))))
    )
    return 2.0 * area / max(perimeter, 1)


def _pool(a: np.ndarray, f: int, fill: float, use_max: bool, use_min: bool) -> np.ndarray:
    """Reduce ``a`` by ``f`` in both directions (mean, or max/min to keep thin strokes).

    Partial blocks at the bottom/right are completed with ``fill`` (the paper).
    """
    h, w = a.shape
    ph, pw = -h % f, -w % f
    if ph or pw:  # (np.pad is slow for small arrays)
        if a.dtype.kind in "ui":
            lo, hi = _int_range(a.dtype)
            fill = min(max(round(fill), lo), hi)
        padded = np.full((h + ph, w + pw), fill, dtype=a.dtype)
        padded[:h, :w] = a
        a = padded
    # Rows first (contiguous memory), then columns of the f-times smaller result; strided
    # slices with in-place ufuncs are far faster than reduce over reshaped axes.
    if use_max or use_min:
        op = np.maximum if use_max else np.minimum
        rows = a[0::f].copy()
        for k in range(1, f):
            op(rows, a[k::f], out=rows)
        cols = rows[:, 0::f].copy()
        for k in range(1, f):
            op(cols, rows[:, k::f], out=cols)
        return cols
    sums = a[0::f].astype(np.float32)
    for k in range(1, f):
        np.add(sums, a[k::f], out=sums)
    total = sums[:, 0::f].copy()
    for k in range(1, f):
        np.add(total, sums[:, k::f], out=total)
    total *= np.float32(1.0 / (f * f))
    return total


def _dilate(a: np.ndarray, r: int) -> np.ndarray:
    """Grey-level dilation by ``r`` pixels, growing the array by ``r`` on every side.

    Alternates a 3x3 square with a 3x3 cross: the structuring element is an octagon,
    which keeps thickened strokes round rather than square.
    """
    out = np.zeros((a.shape[0] + 2 * r, a.shape[1] + 2 * r), dtype=a.dtype)
    out[r:-r, r:-r] = a
    for i in range(r):
        grown = out.copy()
        np.maximum(grown[1:], out[:-1], out=grown[1:])
        np.maximum(grown[:-1], out[1:], out=grown[:-1])
        src = grown.copy() if i % 2 == 0 else out  # square: rows then columns of that
        np.maximum(grown[:, 1:], src[:, :-1], out=grown[:, 1:])
        np.maximum(grown[:, :-1], src[:, 1:], out=grown[:, :-1])
        out = grown
    return out


@functools.lru_cache(maxsize=64)
def _centres(n: int) -> np.ndarray:
    """0.5, 1.5, ... n - 0.5 (float32, read-only): pixel centres."""
    a = np.arange(0.5, n, dtype=np.float32)
    a.flags.writeable = False
    return a


def _weights2(rows: tuple[int, float, int], cols: tuple[int, float, int],
              s: float) -> tuple[np.ndarray, np.ndarray]:
    """The resampling matrices (n_out, n_src) of both axes (each ``(n_out, start, n_src)``):
    a triangle filter, widened when shrinking.

    Output pixel ``j`` samples the source at ``(j + 0.5 - start) / s`` (continuous
    coordinates, pixel ``i`` covering ``[i, i + 1)``); pixels outside the source are
    paper (zero ink), so the digit's edges fade out as they would on a larger sheet.
    Both axes are computed together, one set of NumPy calls instead of two; each gives
    the same array as computing that axis alone (the one-axis definition is in
    tests/core/test_preprocess_fast.py, which checks this)."""
    (ny, start_y, hy), (nx, start_x, hx) = rows, cols
    support = max(1.0, 1.0 / s)
    k = math.ceil(2.0 * support) + 2
    steps = _steps(max(ny, nx))
    centres = np.empty(ny + nx, dtype=np.float32)
    np.add(steps[:ny], np.float32(0.5 - start_y), out=centres[:ny])
    np.add(steps[:nx], np.float32(0.5 - start_x), out=centres[ny:])
    centres *= np.float32(1 / s)
    wts = np.subtract.outer(centres, _grid(k, max(hy, hx)))
    np.abs(wts, out=wts)
    wts *= np.float32(-1.0 / support)
    wts += np.float32(1.0)
    np.maximum(wts, _zeros(wts.shape[1]), out=wts)  # (a scalar 0 takes a slow loop)
    wy = wts[:ny, : hy + 2 * k]
    wx = wts[ny:, : hx + 2 * k]
    wy /= wy.sum(axis=1, keepdims=True)
    wx /= wx.sum(axis=1, keepdims=True)
    return wy[:, k : k + hy], wx[:, k : k + hx]


@functools.lru_cache(maxsize=64)
def _zeros(n: int) -> np.ndarray:
    a = np.zeros(n, dtype=np.float32)
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=64)
def _steps(n: int) -> np.ndarray:
    a = np.arange(n, dtype=np.float32)
    a.flags.writeable = False
    return a


@functools.lru_cache(maxsize=64)
def _grid(k: int, n: int) -> np.ndarray:
    """Source pixel centres, with ``k`` pixels of paper on each side."""
    a = np.arange(0.5 - k, n + k, dtype=np.float32)
    a.flags.writeable = False
    return a


def _render(work: np.ndarray, extent: tuple[float, float], s: float) -> np.ndarray | None:
    """Resample the ink map ``work`` by ``s`` into the 28x28 field, normalised to max 1.

    The digit occupies ``[0, extent)`` (width, height) of ``work``. It is placed so that
    its centre of mass lands on pixel (14, 14), to a fraction of a pixel (MNIST rounded
    that shift to whole pixels; a sub-pixel shift keeps live predictions steady while
    drawing), and moved back inside the field if its box would stick out.
    """
    if work.dtype != np.float32:
        work = work.astype(np.float32)
    if _kernel is not None:  # the same, compiled (sums and products in another order)
        out = np.zeros((SIZE, SIZE), dtype=np.float32)
        return out if _kernel.render(work, extent[0], extent[1], s, out) else None
    row_mass = _sum(work, axis=1)
    total = float(_sum(row_mass))
    if total <= 0.0:
        return None
    col_mass = _sum(work, axis=0)
    hh, ww = work.shape
    # Centre of mass in continuous coordinates (pixel i covers [i, i + 1)).
    cy = float(row_mass @ _centres(hh)) / total
    cx = float(col_mass @ _centres(ww)) / total
    dw, dh = extent[0] * s, extent[1] * s
    top = min(max(CENTRE + 0.5 - cy * s, 0.0), SIZE - dh)
    left = min(max(CENTRE + 0.5 - cx * s, 0.0), SIZE - dw)
    r0, r1 = math.floor(top), min(SIZE, math.ceil(top + dh))
    c0, c1 = math.floor(left), min(SIZE, math.ceil(left + dw))
    wy, wx = _weights2((r1 - r0, top - r0, hh), (c1 - c0, left - c0, ww), s)
    digit = wy @ work @ wx.T  # weights and ink are >= 0
    peak = float(_max(digit, axis=None))
    if peak <= 0.0:
        return None
    digit *= np.float32(1.0 / peak)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    np.minimum(digit, 1.0, out=out[r0:r1, c0:c1])
    return out
