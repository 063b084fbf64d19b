"""Turn any picture of a digit into a 28x28 MNIST-style input (NumPy and Pillow).

As MNIST was made: the digit's bounding box is scaled (anti-aliased, aspect ratio kept) so
that its longer side is 20 px, and placed so that its centre of mass sits at (14, 14) — here
to a fraction of a pixel, so the live prediction does not jump while drawing. Real pictures
also need: any mode or polarity reduced to an "ink" map, the paper level removed and faint
ink normalised (an empty or noise-only page gives ``None``, never a guess), hairlines
thickened and dots not blown up. The window calls :func:`preprocess` on every mouse move
with the pad's uint8 buffer, so the work is done on the ink's crop only.

:func:`load_image` opens user files with a one-line :class:`ImageError` for everything that
can go wrong (missing, unreadable, not an image, truncated, too large: refused from the
header, before any pixel is decoded).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import ImageError

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


def _process(gray: np.ndarray, scale: float, ink: Ink) -> np.ndarray | None:
    """MNIST-style normalisation of a 2-D grey array whose white is ``scale``."""
    if gray.ndim != 2 or gray.size == 0:
        return None
    # Paper: the border's grey (its median unless it is uniform); its side decides "auto".
    ring = _border(gray)
    ring_lo, ring_hi = float(ring.min()), float(ring.max())
    paper = (ring_lo if ring_lo == ring_hi else float(np.median(ring))) / scale
    light = paper < 0.5 if ink == "auto" else ink == "light"
    top, bottom = float(gray.max()), float(gray.min())
    if (top - bottom) / scale < MIN_CONTRAST:  # uniform: empty, all white, all black
        return None
    # ink = (v - offset) * gain maps the paper to 0 and the strongest ink to 1.
    if light:
        b = min(paper, 0.5)
        contrast = top / scale - b
        offset, gain = b * scale, 1.0 / (contrast * scale)
    else:
        b = min(1.0 - paper, 0.5)
        contrast = 1.0 - bottom / scale - b
        offset, gain = (1.0 - b) * scale, -1.0 / (contrast * scale)
    if contrast < MIN_CONTRAST:
        return None

    def level(x: float) -> float:  # the grey value where ink == x
        return offset + x / gain

    # Everything after this works on the ink's bounding box only.
    mask = _compare(gray, level(BBOX_LEVEL), light)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape

    # Stroke width decides magnification (a dot is not blown up) and thickening.
    stroke = _stroke_width(_compare(crop, level(STROKE_LEVEL), light))
    s_box = BOX / max(h, w)
    s_out = max(min(s_box, MAX_STROKE / stroke), s_box * MIN_BOX / BOX)  # out px per source px
    thicken = stroke * s_out < MIN_STROKE

    # The ink map at about OVERSAMPLE x the output resolution: pooled when the source is
    # finer (max-pooled when strokes are thin, so they survive), upsampled when thin
    # strokes are to be thickened.
    f = int(1.0 / (OVERSAMPLE * s_out))
    if f >= 2:
        ink_map = _to_ink(_pool(crop, f, level(0.0), light and thicken, not light and thicken),
                          offset, gain)
        src_per_work = float(f)
    else:
        ink_map = _to_ink(crop, offset, gain)
        src_per_work = 1.0
        if thicken and s_out * OVERSAMPLE > 1.0:
            u = math.ceil(s_out * OVERSAMPLE)
            ink_map = np.repeat(np.repeat(ink_map, u, axis=0), u, axis=1)
            src_per_work = 1.0 / u
    extent = (w / src_per_work, h / src_per_work)  # the crop's size in ink-map pixels

    if thicken:
        work_per_out = 1.0 / (s_out * src_per_work)
        have = stroke / src_per_work + (1.0 if f >= 2 else 0.0)
        r = max(1, round((TARGET_STROKE * work_per_out - have) / 2.0))
        ink_map = _dilate(ink_map, r)
        extent = (extent[0] + 2 * r, extent[1] + 2 * r)
        s_work = BOX / max(extent)  # output px per ink-map px
    else:
        s_work = s_out * src_per_work
    return _render(ink_map, extent, s_work)


def _to_ink(grey: np.ndarray, offset: float, gain: float) -> np.ndarray:
    """Grey values -> ink in [0, 1] (a new float32 array); noise below NOISE_FLOOR -> 0."""
    a = (grey.astype(np.float32) - np.float32(offset)) * np.float32(gain)
    np.clip(a, 0.0, 1.0, out=a)
    a *= a >= NOISE_FLOOR
    return a


def _compare(a: np.ndarray, threshold: float, above: bool) -> np.ndarray:
    """``a > threshold`` (or ``<``); an integer array is compared with an integer (no
    float copy of the whole image)."""
    if a.dtype.kind in "ui":
        info = np.iinfo(a.dtype)
        t = math.floor(threshold) if above else math.ceil(threshold)
        if not info.min <= t <= info.max:  # everything or nothing passes
            return np.full(a.shape, (t < info.min) == above)
        threshold = a.dtype.type(t)
    return np.greater(a, threshold) if above else np.less(a, threshold)


def _stroke_width(m: np.ndarray) -> float:
    """Mean stroke width of the ink mask ``m`` in pixels: 2 * area / perimeter.

    (A stroke of width w and length l has area w*l and perimeter about 2*l.) On big masks
    edges are counted on every g-th row and column only: as good an estimate, faster.
    """
    area = int(np.count_nonzero(m))
    if area == 0:
        return 1.0
    g = max(1, min(m.shape) // 64)
    perimeter = (
        g * int(np.count_nonzero(m[::g, 1:] != m[::g, :-1]))
        + g * int(np.count_nonzero((m[1:] != m[:-1])[:, ::g]))
        + int(np.count_nonzero(m[0]) + np.count_nonzero(m[-1])
              + np.count_nonzero(m[:, 0]) + np.count_nonzero(m[:, -1]))
    )
    return 2.0 * area / max(perimeter, 1)


def _pool(a: np.ndarray, f: int, fill: float, use_max: bool, use_min: bool) -> np.ndarray:
    """Reduce ``a`` by ``f`` in both directions: the mean of each f x f block (float32), or
    its max/min to keep thin strokes. Partial blocks at the bottom/right are completed with
    ``fill`` (the paper)."""
    h, w = a.shape
    if h % f or w % f:
        if a.dtype.kind in "ui":
            info = np.iinfo(a.dtype)
            fill = min(max(round(fill), int(info.min)), int(info.max))
        padded = np.full((h + -h % f, w + -w % f), fill, dtype=a.dtype)
        padded[:h, :w] = a
        a = padded
    # Rows, then columns: the f strided slices combined elementwise (reducing a reshaped
    # (h/f, f, w/f, f) array over two axes is far slower).
    if use_max or use_min:
        op = np.maximum if use_max else np.minimum
        rows = functools.reduce(op, [a[k::f] for k in range(f)])
        return functools.reduce(op, [rows[:, k::f] for k in range(f)])
    sums = functools.reduce(np.add, [a[k::f].astype(np.float32) for k in range(f)])
    total = functools.reduce(np.add, [sums[:, k::f] for k in range(f)])
    return total * np.float32(1.0 / (f * f))


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


def _weights(n_out: int, start: float, n_src: int, s: float) -> np.ndarray:
    """Resampling matrix (n_out, n_src) of one axis: a triangle filter, widened when shrinking.

    Output pixel ``j`` samples the source at ``(j + 0.5 - start) / s`` (pixel ``i`` covers
    ``[i, i + 1)``). Pixels outside the source are paper (zero ink): the filter is
    normalised over a sheet ``k`` pixels larger on each side, so edges fade out.
    """
    support = max(1.0, 1.0 / s)
    k = math.ceil(2.0 * support) + 2
    centres = (np.arange(n_out, dtype=np.float32) + np.float32(0.5 - start)) * np.float32(1 / s)
    sheet = np.arange(0.5 - k, n_src + k, dtype=np.float32)
    wts = np.maximum(np.float32(1.0) - np.abs(centres[:, None] - sheet) * np.float32(1.0 / support),
                     np.float32(0.0))
    wts /= wts.sum(axis=1, keepdims=True)
    return wts[:, k:k + n_src]


def _render(ink: np.ndarray, extent: tuple[float, float], s: float) -> np.ndarray | None:
    """Resample the ink map by ``s`` into the 28x28 field, normalised to a maximum of 1.

    The digit occupies ``[0, extent)`` (width, height) of ``ink``. Its centre of mass lands
    on pixel (14, 14) to a fraction of a pixel (MNIST rounded to whole pixels); it is moved
    back inside the field if its box would stick out.
    """
    row_mass, col_mass = ink.sum(axis=1), ink.sum(axis=0)
    total = float(row_mass.sum())
    if total <= 0.0:
        return None
    hh, ww = ink.shape
    cy = float(row_mass @ (np.arange(hh, dtype=np.float32) + np.float32(0.5))) / total
    cx = float(col_mass @ (np.arange(ww, dtype=np.float32) + np.float32(0.5))) / total
    dw, dh = extent[0] * s, extent[1] * s
    top = min(max(CENTRE + 0.5 - cy * s, 0.0), SIZE - dh)
    left = min(max(CENTRE + 0.5 - cx * s, 0.0), SIZE - dw)
    r0, r1 = math.floor(top), min(SIZE, math.ceil(top + dh))
    c0, c1 = math.floor(left), min(SIZE, math.ceil(left + dw))
    digit = _weights(r1 - r0, top - r0, hh, s) @ ink @ _weights(c1 - c0, left - c0, ww, s).T
    peak = float(digit.max())
    if peak <= 0.0:
        return None
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    np.minimum(digit * np.float32(1.0 / peak), 1.0, out=out[r0:r1, c0:c1])
    return out
