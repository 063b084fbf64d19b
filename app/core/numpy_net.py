"""A digit network's forward pass in NumPy: no TensorFlow, no LiteRT, no export (Qt-free).

"Watch it learn" predicts the drawing with the weights *being trained*. Exporting those
weights to ``.tflite`` runs TensorFlow's converter, which holds Python's global lock long
enough to stall the window; copying the weights out between two batches is cheap, and
:class:`NumpyNet` computes the network from those copies, layer by layer, exactly as Keras
does at inference (dropout off, batch-norm with its moving statistics).

It is also the network written out plainly, for a reader who wants to see what a layer
does: a dense layer is ``x @ kernel + bias``, a convolution is the same product taken over
every k×k window of the image.

Supported: a chain of layers (each one takes the previous one's output) made of
InputLayer, Reshape, Flatten, Dense, Conv2D, MaxPooling2D, AveragePooling2D,
BatchNormalization, Rescaling, Activation, ReLU, Softmax and the layers that do nothing
at inference (Dropout and friends). Anything else raises :class:`UnsupportedModel`, and
the caller falls back to a ``.tflite`` export.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.explain import activation_name, layer_list, pair
from app.core.inference import DigitPredictor, softmax_if_needed
from app.core.pendata import CLASSES


class UnsupportedModel(ValueError):
    """The model has a layer or a wiring this module does not compute."""


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


def _sigmoid(a: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(a, -60.0, 60.0)))
    return out


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda a: a,
    "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu6": lambda a: np.clip(a, 0.0, 6.0),
    "elu": lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0.0))),
    "softplus": lambda a: np.logaddexp(0.0, a),
    "softmax": _softmax,
    "gelu": lambda a: 0.5 * a * (1.0 + np.tanh(0.7978845608 * (a + 0.044715 * a ** 3))),
    "swish": lambda a: a * _sigmoid(a),
    "silu": lambda a: a * _sigmoid(a),
}

# Layers that pass their input through unchanged at inference.
_IDENTITY = {"Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D",
             "SpatialDropout2D", "ActivityRegularization"}
_INPUT_SHAPES = ((28, 28), (28, 28, 1), (784,))


@dataclass(frozen=True)
class Step:
    """One layer of the plan: what to compute, and the name its weights are kept under."""

    kind: str
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)
    weighted: bool = False


def _padding(n: int, k: int, s: int, mode: str) -> tuple[int, int, int]:
    """(output size, pad before, pad after) along one axis, as TensorFlow pads."""
    if mode == "same":
        out = math.ceil(n / s)
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2, total - total // 2
    return (n - k) // s + 1, 0, 0


def _activation(cfg: Mapping[str, Any], name: str) -> Callable[[np.ndarray], np.ndarray]:
    act = activation_name(dict(cfg)) or "linear"
    if act not in ACTIVATIONS:
        raise UnsupportedModel(f"{name}: the activation {act!r} is not supported")
    return ACTIVATIONS[act]


def _check_step(kind: str, name: str, cfg: Mapping[str, Any]) -> None:
    """Refuse now (not at the first prediction) what :meth:`NumpyNet._layer` cannot compute."""
    if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D") and \
            str(cfg.get("data_format") or "channels_last") != "channels_last":
        raise UnsupportedModel(f"{name}: channels-first layers are not supported")
    if kind == "Conv2D" and (pair(cfg.get("dilation_rate")) != (1, 1) or int(cfg.get("groups") or 1) != 1):
        raise UnsupportedModel(f"{name}: dilated or grouped convolutions are not supported")
    if kind == "AveragePooling2D" and str(cfg.get("padding", "valid")).lower() != "valid":
        raise UnsupportedModel(f"{name}: average pooling with padding is not supported")
    if kind == "BatchNormalization" and cfg.get("axis", -1) not in (-1, [-1], (-1,)):
        raise UnsupportedModel(f"{name}: batch normalisation over axis {cfg.get('axis')} is not supported")
    if kind == "ReLU" and (cfg.get("max_value") is not None or float(cfg.get("threshold") or 0.0) != 0.0):
        raise UnsupportedModel(f"{name}: ReLU with a cap or a threshold is not supported")
    if kind == "Softmax" and cfg.get("axis", -1) not in (-1, [-1]):
        raise UnsupportedModel(f"{name}: softmax over an axis other than the last is not supported")
    if kind in ("Dense", "Conv2D", "Activation"):
        _activation(cfg, name)


_SUPPORTED = {"Reshape", "Flatten", "Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D",
              "BatchNormalization", "Rescaling", "Activation", "ReLU", "Softmax"} | _IDENTITY
_WEIGHTED = {"Dense", "Conv2D", "BatchNormalization"}


def _inbound_names(node: Any) -> list[str]:
    """The layer names an inbound-nodes entry refers to (Keras 3 and Keras 2 formats)."""
    found: list[str] = []
    if isinstance(node, dict):
        history = node.get("keras_history")
        if isinstance(history, (list, tuple)) and history and isinstance(history[0], str):
            return [history[0]]
        for v in node.values():
            found += _inbound_names(v)
    elif isinstance(node, (list, tuple)):
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
            return [node[0]]  # Keras 2: [name, node index, tensor index, kwargs]
        for v in node:
            found += _inbound_names(v)
    return found


@dataclass(frozen=True)
class Plan:
    """The layers of a model, checked to be computable; bind weights to get a :class:`NumpyNet`."""

    steps: tuple[Step, ...]
    input_shape: tuple[int, ...]
    model_name: str = "model"

    @property
    def weighted_layers(self) -> list[str]:
        return [s.name for s in self.steps if s.weighted]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Plan:
        """From a model's configuration (``model.get_config()`` or a ``.keras`` config.json)."""
        try:
            layers = layer_list(dict(config))
        except ValueError as exc:
            raise UnsupportedModel(str(exc)) from None
        inner = config.get("config") if isinstance(config.get("config"), dict) else config
        sequential = str(config.get("class_name", "")) == "Sequential" or not any(
            "inbound_nodes" in lay for lay in layers)
        steps: list[Step] = []
        input_shape: tuple[int, ...] | None = None
        previous: str | None = None
        for i, lay in enumerate(layers):
            kind = str(lay.get("class_name", "?"))
            raw = lay.get("config")
            cfg: dict[str, Any] = raw if isinstance(raw, dict) else {}
            name = str(cfg.get("name") or lay.get("name") or f"layer{i}")
            if not sequential and previous is not None:
                inbound = _inbound_names(lay.get("inbound_nodes", []))
                if inbound != [previous]:
                    raise UnsupportedModel(f"{name}: the layers are not a simple chain")
            previous = name
            if kind == "InputLayer":
                if i != 0:
                    raise UnsupportedModel("more than one input")
                bs = cfg.get("batch_shape") or cfg.get("batch_input_shape")
                if not isinstance(bs, (list, tuple)):
                    raise UnsupportedModel("the input has no shape")
                input_shape = tuple(int(v) for v in bs[1:])
                continue
            if kind not in _SUPPORTED:
                raise UnsupportedModel(f"{name}: {kind} layers are not supported")
            _check_step(kind, name, cfg)
            steps.append(Step(kind, name, cfg, kind in _WEIGHTED))
        if input_shape is None and isinstance(inner, dict):  # a Sequential model's build shape
            bis = inner.get("build_input_shape")
            if isinstance(bis, (list, tuple)) and len(bis) > 1:
                input_shape = tuple(int(v) for v in bis[1:])
        if input_shape not in _INPUT_SHAPES:
            raise UnsupportedModel(f"the model takes input {input_shape}, not 28x28 images")
        if isinstance(inner, dict):
            outputs = inner.get("output_layers")
            if outputs and _inbound_names(outputs) != [previous]:
                raise UnsupportedModel("the model's output is not its last layer")
        name = str(inner.get("name", "model")) if isinstance(inner, dict) else "model"
        return cls(tuple(steps), input_shape, name)

    def bind(self, weights: Mapping[str, Sequence[np.ndarray]], name: str | None = None) -> NumpyNet:
        """A :class:`NumpyNet` computing this plan with ``weights`` (layer name -> arrays)."""
        return NumpyNet(self, weights, name=name or self.model_name)


class NumpyNet(DigitPredictor):
    """Computes a :class:`Plan` with fixed weights. Same interface as
    :class:`app.core.inference.Predictor`; immutable, so safe to share between threads.

    The layers are compiled once, when the weights are bound: each becomes a function of a
    batch. A convolution gathers every window of its (padded) input with one precomputed
    index array (im2col) and multiplies by the kernel: one matrix product per layer."""

    def __init__(self, plan: Plan, weights: Mapping[str, Sequence[np.ndarray]], name: str = "model") -> None:
        self.plan = plan
        self.name = name
        self.weights = {k: [np.asarray(a, np.float32) for a in v] for k, v in weights.items()}
        self._ops: list[Callable[[np.ndarray], np.ndarray]] = []
        shape: tuple[int, ...] = tuple(plan.input_shape)
        for step in plan.steps:
            arrays = [np.asarray(w, np.float32) for w in weights.get(step.name, ())] if step.weighted else []
            op, shape = self._compile(step, self._checked(step, arrays), shape)
            if op is not None:
                self._ops.append(op)
        if shape not in ((10,), (CLASSES,)):
            raise UnsupportedModel(f"the model gives {shape} scores, not 10")

    @staticmethod
    def _checked(step: Step, w: list[np.ndarray]) -> list[np.ndarray]:
        cfg = step.config
        if not step.weighted:
            return w
        if step.kind in ("Dense", "Conv2D"):
            use_bias = bool(cfg.get("use_bias", True))
            want = 2 if use_bias else 1
            ndim = 2 if step.kind == "Dense" else 4
            if len(w) != want or w[0].ndim != ndim or (use_bias and w[1].shape != (w[0].shape[-1],)):
                raise UnsupportedModel(f"{step.name}: unexpected weights {[a.shape for a in w]}")
        else:  # BatchNormalization: [gamma], [beta], moving mean, moving variance
            want = 2 + bool(cfg.get("scale", True)) + bool(cfg.get("center", True))
            if len(w) != want or any(a.ndim != 1 for a in w):
                raise UnsupportedModel(f"{step.name}: unexpected weights {[a.shape for a in w]}")
        return w

    # ------------------------------------------------------------------ compiling
    @staticmethod
    def _compile(step: Step, w: list[np.ndarray], shape: tuple[int, ...]
                 ) -> tuple[Callable[[np.ndarray], np.ndarray] | None, tuple[int, ...]]:
        """(the layer as a function of a batch, its output shape without the batch axis)."""
        cfg, kind, name = step.config, step.kind, step.name
        if kind in _IDENTITY:
            return None, shape
        if kind in ("Reshape", "Flatten"):
            if kind == "Flatten":
                target = [math.prod(shape)]
            else:
                target = [int(v) for v in cfg.get("target_shape", [-1])]
                if -1 in target:
                    target[target.index(-1)] = math.prod(shape) // max(1, -math.prod(target))
            out_shape = tuple(target)
            if math.prod(out_shape) != math.prod(shape):
                raise UnsupportedModel(f"{name}: cannot reshape {shape} to {out_shape}")
            return (lambda x: x.reshape((x.shape[0], *out_shape))), out_shape
        if kind == "Dense":
            if w[0].shape[0] != shape[-1]:
                raise UnsupportedModel(f"{name}: weights {w[0].shape} for input {shape}")
            act = _activation(cfg, name)
            kernel, bias = w[0], (w[1] if len(w) > 1 else None)
            if bias is None:
                return (lambda x: act(x @ kernel)), (*shape[:-1], kernel.shape[1])
            return (lambda x: act(x @ kernel + bias)), (*shape[:-1], kernel.shape[1])
        if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
            if len(shape) != 3:
                raise UnsupportedModel(f"{name}: expects images, gets {shape}")
            h, wd, c = shape
            mode = str(cfg.get("padding", "valid")).lower()
            if kind == "Conv2D":
                if w[0].shape[2] != c:
                    raise UnsupportedModel(f"{name}: weights {w[0].shape} for input {shape}")
                k = (int(w[0].shape[0]), int(w[0].shape[1]))
                s = pair(cfg.get("strides"))
            else:
                k = pair(cfg.get("pool_size"), 2)
                s = pair(cfg.get("strides") or cfg.get("pool_size"), 2)
            oh, top, _ = _padding(h, k[0], s[0], mode)
            ow, left, _ = _padding(wd, k[1], s[1], mode)
            if oh < 1 or ow < 1:
                raise UnsupportedModel(f"{name}: a {k} window does not fit in {shape}")
            # idx[p, (i, j, ch)]: where output position p's window element is in the flat
            # input; out-of-image (padding) elements point at an extra cell holding the fill.
            # axes: (output row, output column, window row, window column, channel)
            rows = (np.arange(oh) * s[0] - top)[:, None, None, None, None] \
                + np.arange(k[0])[None, None, :, None, None]
            cols = (np.arange(ow) * s[1] - left)[None, :, None, None, None] \
                + np.arange(k[1])[None, None, None, :, None]
            chan = np.arange(c)[None, None, None, None, :]
            rows, cols, chan = np.broadcast_arrays(rows, cols, chan)
            inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < wd)
            flat = np.where(inside, (rows * wd + cols) * c + chan, h * wd * c)
            size = h * wd * c
            if kind == "Conv2D":
                idx = flat.reshape(oh * ow, k[0] * k[1] * c)  # (i, j, ch) order = the kernel's
                kernel = w[0].reshape(k[0] * k[1] * c, -1)
                bias = w[1] if len(w) > 1 else np.zeros(kernel.shape[1], np.float32)
                act = _activation(cfg, name)
                filters = kernel.shape[1]

                def conv(x: np.ndarray) -> np.ndarray:
                    n = x.shape[0]
                    padded = np.empty((n, size + 1), np.float32)
                    padded[:, :size] = x.reshape(n, size)
                    padded[:, size] = 0.0
                    cols = np.take(padded, idx, axis=1).reshape(n * oh * ow, -1)  # im2col
                    return act(cols @ kernel + bias).reshape(n, oh, ow, filters)  # 2-D: BLAS

                return conv, (oh, ow, filters)
            # pooling: per channel, so the window axis is (i, j) with the channel kept apart
            idx = np.moveaxis(flat, -1, 2).reshape(oh * ow * c, k[0] * k[1])
            fill = -np.inf if kind == "MaxPooling2D" else 0.0
            use_max = kind == "MaxPooling2D"

            def pool(x: np.ndarray) -> np.ndarray:
                n = x.shape[0]
                padded = np.empty((n, size + 1), np.float32)
                padded[:, :size] = x.reshape(n, size)
                padded[:, size] = fill
                win = np.take(padded, idx, axis=1)
                out = win.max(axis=-1) if use_max else win.mean(axis=-1)
                return np.asarray(out, np.float32).reshape(n, oh, ow, c)

            return pool, (oh, ow, c)
        if kind == "BatchNormalization":
            w = list(w)
            gamma = w.pop(0) if cfg.get("scale", True) else np.ones_like(w[-1])
            beta = w.pop(0) if cfg.get("center", True) else np.zeros_like(w[-1])
            mean, var = w
            if mean.shape != (shape[-1],):
                raise UnsupportedModel(f"{name}: weights {mean.shape} for input {shape}")
            factor = gamma / np.sqrt(var + np.float32(cfg.get("epsilon", 1e-3)))
            shift = beta - mean * factor
            return (lambda x: x * factor + shift), shape
        if kind == "Rescaling":
            scale, offset = np.float32(cfg.get("scale", 1.0)), np.float32(cfg.get("offset", 0.0))
            return (lambda x: x * scale + offset), shape
        if kind == "Activation":
            return _activation(cfg, name), shape
        if kind == "ReLU":
            slope = np.float32(cfg.get("negative_slope") or 0.0)
            if slope:
                return (lambda x: np.where(x > 0, x, x * slope)), shape
            return (lambda x: np.maximum(x, np.float32(0.0))), shape
        if kind == "Softmax":
            return _softmax, shape
        raise UnsupportedModel(f"{name}: {kind} layers are not supported")  # (checked in Plan)

    # ------------------------------------------------------------------ computing
    CHUNK = 250  # im2col of a chunk stays a few MB

    def _run(self, x: np.ndarray) -> np.ndarray:
        out = np.asarray(x, np.float32).reshape((x.shape[0], *self.plan.input_shape))
        for op in self._ops:
            out = op(out)
        return softmax_if_needed(np.asarray(out, np.float32))



# ---------------------------------------------------------------------- sources of weights
def plan_of_keras(model: Any) -> Plan:
    """The plan of a live Keras model (call on the thread that owns it)."""
    return Plan.from_config({"class_name": type(model).__name__, "config": model.get_config()})


def snapshot_weights(model: Any, plan: Plan) -> dict[str, list[np.ndarray]]:
    """Copies of the weights ``plan`` needs, read from a live Keras model (between batches)."""
    wanted = set(plan.weighted_layers)
    return {layer.name: [np.array(w, np.float32) for w in layer.get_weights()]
            for layer in model.layers if layer.name in wanted}
