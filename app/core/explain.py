"""Why did the model say that? Saliency, first-layer activations, the layers (Qt-free, no TF).

* :func:`occlusion_saliency`: hide one small patch of the 28x28 input at a time (set it to
  the background, 0) and measure how much the evidence for the predicted digit (its
  log-odds) drops.
  All the variants go through the model in one LiteRT batch. It is model-agnostic and
  honest: it only reports what the real model does with the real input. Patches that are
  background already do not change the input, so they are not run (their drop is exactly
  0): a typical digit needs 60–100 of the 169 variants.
* :func:`read_anatomy`: the layers (type, output shape, parameters) and the first weighted
  layer's weights, read from the ``.keras`` file itself (a zip with ``config.json`` and
  ``model.weights.h5``) with :mod:`zipfile`, :mod:`json` and h5py, without TensorFlow.
  :func:`anatomy_from_keras` does the same for a live Keras model (during training).
* :func:`first_layer_activations`: that first layer (a Conv2D or a Dense layer after
  Flatten) computed in NumPy from its weights: the feature maps / hidden units the model
  computes for the drawing.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PATCH = 4
STRIDE = 2
EPS = 1e-30  # probabilities are clipped here before taking logs

# Layers that do not change the shape of what flows through them.
_SAME_SHAPE = {
    "Dropout", "BatchNormalization", "LayerNormalization", "Activation", "ReLU", "LeakyReLU", "ELU",
    "Softmax", "GaussianNoise", "GaussianDropout", "SpatialDropout2D", "Rescaling", "Normalization",
    "ActivityRegularization", "PReLU", "UnitNormalization", "AlphaDropout",
}
# Layers allowed between the input and the first weighted layer (they only reshape/pass through).
_PASS_THROUGH = {"InputLayer", "Reshape", "Flatten", "Dropout", "GaussianNoise", "GaussianDropout",
                 "ActivityRegularization", "AlphaDropout", "SpatialDropout2D"}

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda a: a,
    "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-np.clip(a, -60, 60))),
    "tanh": np.tanh,
    "relu6": lambda a: np.clip(a, 0.0, 6.0),
    "elu": lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))),
    "softplus": lambda a: np.logaddexp(0.0, a),
}


# --------------------------------------------------------------------------- saliency
@dataclass
class Saliency:
    """How much hiding each pixel's neighbourhood lowers the top class' probability."""

    map: np.ndarray  # (28, 28) float32, drop of the log-odds; > 0: evidence for it, < 0: against
    digit: int
    probability: float
    variants: int  # occluded inputs run through the model
    seconds: float

    def hot_pixels(self, fraction: float = 0.5) -> np.ndarray:
        """Boolean (28, 28): pixels whose saliency is at least ``fraction`` of the maximum."""
        top = float(self.map.max())
        if top <= 0:
            return np.zeros((28, 28), bool)
        return self.map >= fraction * top


def _log_odds(probs: np.ndarray, digit: int) -> np.ndarray:
    """log P(digit) - log P(not digit) per row; the complement is summed (not 1 - p: float32
    rounds a confident p to exactly 1)."""
    p = np.asarray(probs, np.float64)
    others = np.delete(p, digit, axis=1).sum(axis=1)
    return np.log(np.maximum(p[:, digit], EPS)) - np.log(np.maximum(others, EPS))


def occlusion_saliency(predict_batch: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                       patch: int = PATCH, stride: int = STRIDE, fill: float = 0.0,
                       digit: int | None = None) -> Saliency:
    """Occlusion saliency of ``x`` ((28, 28) float in [0, 1]) for ``digit`` (default: the top one).

    Each pixel gets the mean, over the patches covering it, of the drop in the log-odds of
    ``digit`` (log P(digit) − log P(any other digit)) when the patch is hidden. Log-odds, so
    that a confident 99.99 % still shows where its evidence is: the probability itself would
    barely move, the odds against it move by orders of magnitude.

    ``predict_batch`` maps (N, 28, 28) float32 to (N, 10) probabilities (e.g.
    ``Predictor.predict_batch``); it is called twice: once for ``x``, once for all variants.
    """
    t0 = time.perf_counter()
    img = np.asarray(x, dtype=np.float32).reshape(28, 28)
    base = np.asarray(predict_batch(img[None]))[0]
    top = int(np.argmax(base)) if digit is None else int(digit)
    positions = [(r, c) for r in range(0, 28 - patch + 1, stride) for c in range(0, 28 - patch + 1, stride)]
    changed: list[tuple[int, int]] = []
    variants: list[np.ndarray] = []
    for r, c in positions:
        window = img[r:r + patch, c:c + patch]
        if np.all(window == fill):
            continue  # hiding background changes nothing: drop 0, no need to run it
        v = img.copy()
        v[r:r + patch, c:c + patch] = fill
        variants.append(v)
        changed.append((r, c))
    heat = np.zeros((28, 28), np.float64)
    count = np.zeros((28, 28), np.float64)
    for r, c in positions:
        count[r:r + patch, c:c + patch] += 1.0
    if variants:
        probs = np.asarray(predict_batch(np.stack(variants)))
        drops = _log_odds(base[None], top)[0] - _log_odds(probs, top)
        for (r, c), d in zip(changed, drops, strict=True):
            heat[r:r + patch, c:c + patch] += d
    sal = (heat / np.maximum(count, 1.0)).astype(np.float32)
    return Saliency(map=sal, digit=top, probability=float(base[top]), variants=len(variants),
                    seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- anatomy
@dataclass
class LayerInfo:
    name: str
    kind: str  # the Keras class name
    output_shape: tuple[int | None, ...] | None  # without the batch axis; None = unknown
    params: int
    activation: str | None = None

    @property
    def shape_text(self) -> str:
        if self.output_shape is None:
            return "?"
        return "×".join("?" if v is None else str(v) for v in self.output_shape)


@dataclass
class FirstLayer:
    """The first layer with weights, as NumPy arrays (enough to compute it on an input)."""

    name: str
    kind: str  # "conv" or "dense"
    kernel: np.ndarray  # conv: (kh, kw, 1, filters); dense: (784, units)
    bias: np.ndarray | None
    activation: str
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    through: tuple[str, ...] = ()  # the batch normalisation and activation folded in after it

    @property
    def units(self) -> int:
        return int(self.kernel.shape[-1])

    @property
    def output_name(self) -> str:
        """The layer whose output :func:`first_layer_activations` computes."""
        return self.through[-1] if self.through else self.name

    def describe(self) -> str:
        names = " → ".join((self.name, *self.through))
        if self.kind == "conv":
            kh, kw = self.kernel.shape[:2]
            s = f", stride {self.strides[0]}" if self.strides != (1, 1) else ""
            return f"{names}: {self.units} filters {kh}×{kw}{s}, {self.activation}"
        return f"{names}: {self.units} units, {self.activation}"


@dataclass
class Anatomy:
    layers: list[LayerInfo] = field(default_factory=list)
    first: FirstLayer | None = None
    note: str = ""  # why the first layer cannot be shown, if it cannot

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)


def _snake(name: str) -> str:
    """Keras' naming.to_snake_case (how weights are keyed inside model.weights.h5)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def pair(v: Any, default: int = 1) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[1] if len(v) > 1 else v[0]))
    if v is None:
        return (default, default)
    return (int(v), int(v))


def _conv_out(n: int | None, k: int, s: int, padding: str) -> int | None:
    if n is None:
        return None
    if padding == "same":
        return math.ceil(n / s)
    return (n - k) // s + 1


def activation_name(cfg: dict[str, Any]) -> str | None:
    act = cfg.get("activation")
    if act is None:
        return None
    if isinstance(act, str):
        return act
    if isinstance(act, dict):  # a serialised activation object
        inner = act.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return str(inner["name"])
        return str(act.get("class_name", "?"))
    return str(act)


def _next_shape(kind: str, cfg: dict[str, Any], shape: tuple[int | None, ...] | None
                ) -> tuple[int | None, ...] | None:
    """The output shape (no batch axis) of a layer given its input shape; None if unknown."""
    if kind == "InputLayer":
        bs = cfg.get("batch_shape") or cfg.get("batch_input_shape")
        return tuple(bs[1:]) if isinstance(bs, (list, tuple)) else None
    if shape is None:
        return None
    if kind in _SAME_SHAPE:
        return shape
    if kind == "Reshape":
        target = list(cfg.get("target_shape") or [])
        if -1 in target and all(v is not None for v in shape):
            known = math.prod(v for v in target if v != -1)
            target[target.index(-1)] = math.prod(shape) // max(1, known)  # type: ignore[arg-type]
        return tuple(target)
    if kind == "Flatten":
        return (None,) if any(v is None for v in shape) else (math.prod(shape),)  # type: ignore[arg-type]
    if kind == "Dense":
        return (*shape[:-1], int(cfg.get("units", 0)))
    if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D", "DepthwiseConv2D", "SeparableConv2D"):
        if len(shape) != 3:
            return None
        padding = str(cfg.get("padding", "valid")).lower()
        if kind.endswith("Pooling2D"):
            k = pair(cfg.get("pool_size"), 2)
            s = pair(cfg.get("strides") or cfg.get("pool_size"), 2)
            ch: int | None = shape[2]
        else:
            k = pair(cfg.get("kernel_size"))
            s = pair(cfg.get("strides"))
            if kind == "DepthwiseConv2D":
                ch = None if shape[2] is None else shape[2] * int(cfg.get("depth_multiplier", 1))
            else:
                ch = int(cfg.get("filters", 0))
        return (_conv_out(shape[0], k[0], s[0], padding), _conv_out(shape[1], k[1], s[1], padding), ch)
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        return (shape[-1],)
    return None


def layer_list(config: dict[str, Any]) -> list[dict[str, Any]]:
    inner = config.get("config") if isinstance(config.get("config"), dict) else config
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list):
        raise ValueError("no layer list in the model's configuration")
    return [lay for lay in layers if isinstance(lay, dict)]


def _build_anatomy(config: dict[str, Any], weights_of: Callable[[int, dict[str, Any]], list[np.ndarray]]
                   ) -> Anatomy:
    anatomy = Anatomy()
    shape: tuple[int | None, ...] | None = None
    first_found = False
    folding = False  # a linear first layer takes in the batch normalisation and activation after it
    blocked = ""
    for i, lay in enumerate(layer_list(config)):
        kind = str(lay.get("class_name", "?"))
        cfg = lay.get("config") if isinstance(lay.get("config"), dict) else {}
        assert isinstance(cfg, dict)
        name = str(cfg.get("name") or lay.get("name") or kind)
        try:
            weights = weights_of(i, lay)
        except Exception:  # unreadable weights: count them as unknown
            weights = []
        shape = _next_shape(kind, cfg, shape)
        anatomy.layers.append(LayerInfo(name=name, kind=kind, output_shape=shape,
                                        params=int(sum(w.size for w in weights)),
                                        activation=activation_name(cfg)))
        if first_found:
            if folding and anatomy.first is not None:
                folding = _fold(anatomy.first, name, kind, cfg, weights)
            continue
        if weights:
            first_found = True
            if blocked:
                anatomy.note = f"the layers before {name} ({blocked}) cannot be computed here"
                continue
            anatomy.first, anatomy.note = _first_layer(name, kind, cfg, weights)
            folding = anatomy.first is not None and anatomy.first.activation == "linear"
        elif kind not in _PASS_THROUGH:
            blocked = kind
    if not first_found and not anatomy.note:
        anatomy.note = "the model has no layer with weights"
    return anatomy


def _fold(first: FirstLayer, name: str, kind: str, cfg: dict[str, Any], weights: list[np.ndarray]) -> bool:
    """Take the layer after a linear first layer into it when it is its batch normalisation
    (a per-filter scale and shift: folded into the kernel and bias) or its activation, so
    that the maps shown are what the network passes on. True while more may follow."""
    if kind == "BatchNormalization" and not first.through and len(weights) == 4 \
            and cfg.get("axis", -1) in (-1, 3 if first.kind == "conv" else 1, [-1]) \
            and cfg.get("center", True) and cfg.get("scale", True):
        gamma, beta, mean, var = (np.asarray(w, np.float64) for w in weights)
        if gamma.shape != (first.units,):
            return False
        scale = gamma / np.sqrt(var + float(cfg.get("epsilon", 1e-3)))
        bias = first.bias if first.bias is not None else np.zeros(first.units)
        first.kernel = np.asarray(first.kernel * scale, np.float32)
        first.bias = np.asarray((bias - mean) * scale + beta, np.float32)
        first.through += (name,)
        return True
    act = activation_name(cfg) if kind == "Activation" else "relu" if kind == "ReLU" and not any(
        cfg.get(k) for k in ("max_value", "negative_slope", "threshold")) else None
    if act in _ACTIVATIONS and act != "linear":
        first.activation = str(act)
        first.through += (name,)
    return False


def _first_layer(name: str, kind: str, cfg: dict[str, Any], weights: list[np.ndarray]
                 ) -> tuple[FirstLayer | None, str]:
    act = activation_name(cfg) or "linear"
    if act not in _ACTIVATIONS:
        return None, f"{name}'s activation {act!r} is not supported here"
    kernel = np.asarray(weights[0], np.float32)
    bias = np.asarray(weights[1], np.float32) if len(weights) > 1 and cfg.get("use_bias", True) else None
    if kind == "Conv2D" and kernel.ndim == 4 and kernel.shape[2] == 1:
        if pair(cfg.get("dilation_rate")) != (1, 1) or int(cfg.get("groups", 1)) != 1:
            return None, f"{name} uses dilation or groups, which are not supported here"
        if str(cfg.get("data_format", "channels_last")) != "channels_last":
            return None, f"{name} is channels-first, which is not supported here"
        return FirstLayer(name, "conv", kernel, bias, act, pair(cfg.get("strides")),
                          str(cfg.get("padding", "valid")).lower()), ""
    if kind == "Dense" and kernel.ndim == 2 and kernel.shape[0] == 784:
        return FirstLayer(name, "dense", kernel, bias, act), ""
    return None, f"the first layer ({kind} {name}) is not a 28x28 convolution or a dense layer on 784 pixels"


def read_anatomy(keras_path: str | os.PathLike[str]) -> Anatomy:
    """The layers and first-layer weights of a ``.keras`` file, without TensorFlow.

    Raises ``ValueError`` with a short reason when the file cannot be read."""
    p = Path(keras_path)
    try:
        with zipfile.ZipFile(p) as z:
            config = json.loads(z.read("config.json"))
            weights_blob = z.read("model.weights.h5") if "model.weights.h5" in z.namelist() else None
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ValueError(f"{p.name}: cannot read the model file ({exc})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{p.name}: unexpected model configuration")
    h5: Any = None
    if weights_blob is not None:
        try:
            import h5py

            h5 = h5py.File(io.BytesIO(weights_blob), "r")
        except Exception:  # h5py missing or a broken file: the layer list without weights
            h5 = None
    used: dict[str, int] = {}
    keys: list[str] = []
    for lay in layer_list(config):
        base = _snake(str(lay.get("class_name", "layer")))
        if base in used:
            used[base] += 1
            keys.append(f"{base}_{used[base]}")
        else:
            used[base] = 0
            keys.append(base)

    def weights_of(i: int, _lay: dict[str, Any]) -> list[np.ndarray]:
        if h5 is None:
            return []
        group = h5.get(f"layers/{keys[i]}/vars")
        if group is None:
            return []
        return [np.asarray(group[k][()]) for k in sorted(group.keys(), key=int)]

    try:
        anatomy = _build_anatomy(config, weights_of)
    finally:
        if h5 is not None:
            h5.close()
    if h5 is None:
        anatomy.first = None
        anatomy.note = "the weights cannot be read (no model.weights.h5, or h5py is missing)"
    return anatomy


def anatomy_from_keras(model: Any) -> Anatomy:
    """The same for a live Keras model (e.g. while it trains; call on its thread)."""
    return anatomy_from_weights({"config": model.get_config()},
                                {layer.name: layer.get_weights() for layer in model.layers})


def anatomy_from_weights(config: dict[str, Any], weights: Mapping[str, Sequence[np.ndarray]]) -> Anatomy:
    """The same from a model's configuration and copies of its weights (layer name -> arrays;
    layers missing from ``weights`` count as having none)."""

    def weights_of(_i: int, lay: dict[str, Any]) -> list[np.ndarray]:
        cfg = lay.get("config") or {}
        return [np.asarray(w) for w in weights.get(str(cfg.get("name") or lay.get("name")), ())]

    return _build_anatomy(config, weights_of)


def first_layer_activations(first: FirstLayer, x: np.ndarray) -> np.ndarray:
    """The first layer's output for one (28, 28) input: conv (filters, H, W); dense (units,)."""
    img = np.asarray(x, np.float32).reshape(28, 28)
    act = _ACTIVATIONS[first.activation]
    if first.kind == "dense":
        out = img.reshape(784) @ first.kernel
        if first.bias is not None:
            out = out + first.bias
        return np.asarray(act(out), np.float32)
    kh, kw = first.kernel.shape[:2]
    sh, sw = first.strides
    if first.padding == "same":
        oh, ow = math.ceil(28 / sh), math.ceil(28 / sw)
        ph = max((oh - 1) * sh + kh - 28, 0)
        pw = max((ow - 1) * sw + kw - 28, 0)
        img = np.pad(img, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
    windows = np.lib.stride_tricks.sliding_window_view(img, (kh, kw))[::sh, ::sw]
    out = np.tensordot(windows, first.kernel[:, :, 0, :], axes=([2, 3], [0, 1]))  # (oh, ow, filters)
    if first.bias is not None:
        out = out + first.bias
    return np.ascontiguousarray(np.moveaxis(np.asarray(act(out), np.float32), -1, 0))


def summary_rows(anatomy: Anatomy) -> Sequence[tuple[str, str, str, str]]:
    """(name, type, output shape, parameters) per layer, for a table (long type names
    shortened, so that a narrow panel still shows every cell whole)."""
    return [(lay.name, _kind_text(lay), lay.shape_text, f"{lay.params:,}".replace(",", " "))
            for lay in anatomy.layers]


_SHORT_KINDS = {"BatchNormalization": "Norm", "LayerNormalization": "Norm"}


def _kind_text(lay: LayerInfo) -> str:
    """The layer's type as the table shows it: an Activation layer by its function."""
    if lay.kind == "Activation" and lay.activation:
        return "ReLU" if lay.activation == "relu" else lay.activation
    return _SHORT_KINDS.get(lay.kind, lay.kind)
