"""Explanations (app.core.explain): occlusion saliency, the layers and the first layer read
from a .keras file without TensorFlow, and that NumPy first layer against Keras itself."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from app.core import paths
from app.core.data import load_mnist
from app.core.explain import (
    first_layer_activations,
    occlusion_saliency,
    read_anatomy,
    summary_rows,
)
from app.core.inference import Predictor
from tests.conftest import needs_default_model

DEFAULT = paths.bundled_store_dir() / "default"


def _dilate(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= out[:, :-1].copy()
    out[:, :-1] |= out[:, 1:].copy()
    return out


@needs_default_model
def test_occlusion_saliency_is_on_the_ink_in_one_batch() -> None:
    predictor = Predictor(DEFAULT / "model.tflite")
    calls: list[int] = []

    def batch(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return predictor.predict_batch(x)

    _, (x_test, y_test) = load_mnist()
    for i in range(4):
        x = x_test[i].astype(np.float32) / 255.0
        calls.clear()
        s = occlusion_saliency(batch, x)
        assert s.digit == y_test[i] and s.probability > 0.9
        assert len(calls) == 2 and calls[0] == 1 and 0 < calls[1] == s.variants < 169
        ink = x > 0.2
        hot = s.hot_pixels(0.5)
        assert hot.any()
        assert (hot & _dilate(ink)).sum() >= 0.9 * hot.sum()  # evidence sits on the strokes
        far = ~_dilate(_dilate(_dilate(x > 0)))  # a 4x4 patch reaches 3 pixels from any ink
        assert np.all(s.map[far] == 0)  # hiding background changes nothing
        assert np.unravel_index(int(np.argmax(s.map)), (28, 28)) in set(zip(*np.nonzero(_dilate(ink)),
                                                                             strict=True))


@needs_default_model
def test_read_anatomy_without_tensorflow() -> None:
    code = f"""
import sys, json
from app.core.explain import read_anatomy
a = read_anatomy({str(DEFAULT / "model.keras")!r})
print(json.dumps({{"layers": [[l.name, l.kind, l.shape_text, l.params] for l in a.layers],
                  "total": a.total_params, "first": a.first.describe(), "kernel": list(a.first.kernel.shape),
                  "tf": sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))}}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=paths.bundled_store_dir().parent)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["tf"] == []
    meta = json.loads((DEFAULT / "meta.json").read_text())
    assert out["total"] == meta["params"]
    assert out["kernel"] == [3, 3, 1, 32]
    # (the batch normalisation and ReLU after it are folded in: the maps the network passes on)
    assert out["first"] == "conv1 → norm1 → relu1: 32 filters 3×3, relu"
    shapes = {name: shape for name, _k, shape, _p in out["layers"]}
    assert shapes["conv1"] == "28×28×32" and shapes["flatten"] == "6272" and shapes["probabilities"] == "11"
    assert len(summary_rows(read_anatomy(DEFAULT / "model.keras"))) == len(out["layers"])


@needs_default_model
def test_numpy_first_layer_matches_keras() -> None:
    from app.core.explain import anatomy_from_keras
    from app.core.store import load_keras_model
    from app.core.tf import import_keras

    keras = import_keras()
    model = load_keras_model(DEFAULT / "model.keras")
    anatomy = read_anatomy(DEFAULT / "model.keras")
    assert anatomy.first is not None
    _, (x_test, _y) = load_mnist()
    x = x_test[:3].astype(np.float32) / 255.0
    assert anatomy.first.output_name == "relu1"
    probe = keras.Model(model.input, model.get_layer(anatomy.first.output_name).output)
    ref = np.asarray(probe(x, training=False))
    for i in range(3):
        mine = first_layer_activations(anatomy.first, x[i])
        assert mine.shape == (32, 28, 28)
        np.testing.assert_allclose(np.moveaxis(ref[i], -1, 0), mine, atol=1e-4)
    live = anatomy_from_keras(model)  # the same from the model in memory (while training)
    assert [(a.name, a.shape_text, a.params) for a in live.layers] == \
        [(a.name, a.shape_text, a.params) for a in anatomy.layers]
    assert live.first is not None and np.array_equal(live.first.kernel, anatomy.first.kernel)


def test_dense_first_layer_and_unreadable_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app.core.explain import FirstLayer

    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(784, 8)).astype(np.float32), rng.normal(size=8).astype(np.float32)
    x = rng.random((28, 28), dtype=np.float32)
    out = first_layer_activations(FirstLayer("hidden", "dense", w, b, "sigmoid"), x)
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-(x.reshape(784) @ w + b))), rtol=1e-5)
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read"):
        read_anatomy(bad)
