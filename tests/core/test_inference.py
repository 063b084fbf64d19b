"""LiteRT inference agrees with Keras; corrupt or wrong models are refused clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.data import load_mnist
from app.core.errors import ModelError
from app.core.inference import Predictor
from app.core.store import ModelStore
from app.core.verdict import split


@pytest.fixture()
def entry(tiny_result, tmp_path: Path):  # type: ignore[no-untyped-def]
    return ModelStore(home=tmp_path).save(tiny_result.model, tiny_result.meta("tests"), name="tiny")


def test_float_export_matches_keras_on_real_test_digits(tiny_result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.core.export import export_tflite

    (_, _), (x_test, _) = load_mnist()
    x = x_test[:200].astype(np.float32) / 255.0
    keras_probs = np.asarray(tiny_result.model(x, training=False))
    lite = Predictor(export_tflite(tiny_result.model, tmp_path / "float.tflite", quantize=False))
    one_by_one = np.stack([lite.predict(img) for img in x[:50]])
    batched = lite.outputs_batch(x)
    assert batched.shape == (200, 11)  # ten digits and "not a digit"
    assert np.abs(batched - keras_probs).max() < 1e-5
    # predict: the ten digit probabilities, renormalised among the digits
    assert np.abs(one_by_one - split(keras_probs[:50])[0]).max() < 1e-5
    assert np.allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def _weight_types(path: Path) -> set[str]:
    from app.core.inference import _interpreter_class

    interp = _interpreter_class()(model_path=str(path))
    return {np.dtype(t["dtype"]).name for t in interp.get_tensor_details()}


def test_saved_tflite_has_int8_weights_and_agrees_with_keras(tiny_result, entry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.core.export import export_tflite

    assert "int8" in _weight_types(entry.tflite_path)
    float_file = export_tflite(tiny_result.model, tmp_path / "float.tflite", quantize=False)
    assert "int8" not in _weight_types(float_file)
    assert entry.tflite_path.stat().st_size < float_file.stat().st_size / 3
    (_, _), (x_test, _) = load_mnist()
    x = x_test[:200].astype(np.float32) / 255.0
    keras_probs = np.asarray(tiny_result.model(x, training=False))
    lite = entry.predictor()
    batched = lite.outputs_batch(x)
    one_by_one = np.stack([lite.predict(img) for img in x[:50]])
    assert np.abs(batched - keras_probs).max() < 0.02
    assert (batched.argmax(axis=1) == keras_probs.argmax(axis=1)).mean() >= 0.99
    # (the activations are quantised per image: the same answer alone or in a batch)
    assert np.abs(one_by_one - lite.predict_batch(x[:50])).max() < 1e-6
    assert np.allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def test_shipped_model_litert_agrees_with_keras() -> None:
    store = ModelStore()
    if "default" not in store:
        pytest.skip("model_store/default is not present")
    entry = store.get("default")
    assert "int8" in _weight_types(entry.tflite_path)
    (_, _), (x_test, _) = load_mnist()
    x = x_test[:300].astype(np.float32) / 255.0
    ref = np.asarray(entry.load_keras()(x, training=False))
    lite = entry.predictor().outputs_batch(x)
    assert np.abs(lite - ref).max() < 0.05  # (0.048 at most over the 10000 test digits)
    assert (lite.argmax(axis=1) == ref.argmax(axis=1)).all()


def test_predict_batch_accepts_uint8(entry) -> None:  # type: ignore[no-untyped-def]
    (_, _), (x_test, _) = load_mnist()
    p = entry.predictor()
    assert np.allclose(p.predict_batch(x_test[:10]), p.predict_batch(x_test[:10] / 255.0), atol=1e-6)


def test_corrupt_tflite_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 10)
    with pytest.raises(ModelError, match=r"bad\.tflite"):
        Predictor(bad)
    bad.write_bytes(b"not a flatbuffer at all, but long enough" * 10)
    with pytest.raises(ModelError, match=r"not a valid \.tflite"):
        Predictor(bad)
    with pytest.raises(ModelError, match="cannot read"):
        Predictor(tmp_path / "missing.tflite")


def test_truncated_tflite_is_refused(entry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = entry.tflite_path.read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError):
        Predictor(cut)


def test_wrong_input_size_is_refused(tmp_path: Path) -> None:
    from app.core.export import export_tflite
    from app.core.tf import import_keras

    keras = import_keras()
    inp = keras.Input((32, 32))
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inp))
    path = export_tflite(keras.Model(inp, out), tmp_path / "wrong.tflite")
    with pytest.raises(ModelError, match="not 28x28"):
        Predictor(path)
