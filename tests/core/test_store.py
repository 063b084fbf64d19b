"""The model store: atomic saves, metadata, active choice, broken entries skipped."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ModelError
from app.core.store import DEFAULT_MODEL, ModelStore, load_keras_model

SHIPPED = Path(__file__).resolve().parents[2] / "model_store" / DEFAULT_MODEL


def test_save_writes_keras_tflite_and_metadata(store: ModelStore, saved, tiny_result) -> None:  # type: ignore[no-untyped-def]
    assert saved.keras_path.is_file() and saved.tflite_path.is_file()
    meta = json.loads((saved.path / "meta.json").read_text())
    for key in ("arch", "params", "training", "test_accuracy", "per_class_accuracy", "created", "files"):
        assert key in meta, key
    assert meta["arch"] == "mlp"
    assert meta["params"] == 784 * 512 + 512 + 512 * 11 + 11  # ten digits + "not a digit"
    assert meta["training"]["seed"] == 1
    assert 0.5 < meta["test_accuracy"] <= 1.0
    assert "tiny" in store.names()
    # nothing temporary is left behind
    assert [p.name for p in store.models_dir.iterdir()] == ["tiny"]


def test_active_model_persists_and_falls_back(store: ModelStore, saved, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store.set_active("tiny")
    again = ModelStore(home=tmp_path / "home")
    assert again.active_name() == "tiny"
    shutil.rmtree(saved.path)
    again.refresh()
    expected = DEFAULT_MODEL if (SHIPPED / "meta.json").exists() else None
    if expected:
        assert again.active_name() == expected
    else:
        with pytest.raises(ModelError):
            again.active_name()


def test_save_name_clash_and_invalid_names(store: ModelStore, saved, tiny_result) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="already exists"):
        store.save(tiny_result.model, tiny_result.meta("tests"), name="tiny", if_taken="error")
    # a taken name is resolved like an automatic one: nothing trained is lost
    second = store.save(tiny_result.model, tiny_result.meta("tests"), name="tiny")
    assert second.name == "tiny-2" and "tiny" in store and second.meta["name"] == "tiny-2"
    for bad in ("../evil", "a/b", "", ".hidden"):
        with pytest.raises(ModelError, match="not a valid model name"):
            store.save(tiny_result.model, tiny_result.meta("tests"), name=bad)
    auto = store.save(tiny_result.model, tiny_result.meta("tests"))
    acc = f"{tiny_result.evaluation.accuracy * 100:.2f} %"
    ep = tiny_result.config.epochs
    assert auto.name == f"Classic MLP · {ep} ep · {acc}"  # readable: title, epochs, accuracy
    again = store.save(tiny_result.model, tiny_result.meta("tests"))
    assert again.name == f"Classic MLP · {ep} ep · {acc} (2)"  # and unique
    renamed = store.rename(again.name, "Mine · 2 ep · 100 %")
    assert renamed.name in store.names() and again.name not in store.names()


def test_rename_delete_export(store: ModelStore, saved, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store.set_active("tiny")
    entry = store.rename("tiny", "renamed")
    assert store.names().count("renamed") == 1 and "tiny" not in store
    assert store.active_name() == "renamed"
    assert entry.meta["name"] == "renamed"
    out = store.export("renamed", tmp_path / "out" / "m.tflite")
    assert out.read_bytes() == entry.tflite_path.read_bytes()
    out2 = store.export("renamed", tmp_path / "m.keras")
    assert load_keras_model(out2).count_params() == entry.meta["params"]
    with pytest.raises(ModelError, match=r"\.keras or \.tflite"):
        store.export("renamed", tmp_path / "m.txt")
    store.delete("renamed")
    assert "renamed" not in store
    assert not any(store.models_dir.iterdir())


def test_broken_entries_are_reported_and_skipped(store: ModelStore, saved) -> None:  # type: ignore[no-untyped-def]
    models = store.models_dir
    shutil.copytree(saved.path, models / "malformed")
    (models / "malformed" / "meta.json").write_text("{not json")
    shutil.copytree(saved.path, models / "nometa")
    (models / "nometa" / "meta.json").unlink()
    shutil.copytree(saved.path, models / "missingfile")
    (models / "missingfile" / "model.tflite").unlink()
    shutil.copytree(saved.path, models / "escape")
    meta = json.loads((models / "escape" / "meta.json").read_text())
    meta["files"]["tflite"] = "../tiny/model.tflite"
    (models / "escape" / "meta.json").write_text(json.dumps(meta))
    store.refresh()
    names = [e for e in store.names() if e != DEFAULT_MODEL]
    assert names == ["tiny"]
    text = "\n".join(store.problems)
    for bad in ("malformed", "nometa", "missingfile", "escape"):
        assert bad in text
    assert "outside the model folder" in text


def test_failed_save_leaves_no_entry(store: ModelStore, tiny_result, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import app.core.export as export

    def disk_full(model, quantize=True):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "tflite_bytes", disk_full)
    with pytest.raises(ModelError, match="No space left"):
        store.save(tiny_result.model, tiny_result.meta("tests"), name="full")
    assert "full" not in store
    assert not store.models_dir.exists() or not any(store.models_dir.iterdir())


def test_an_int8_export_too_far_off_falls_back_to_the_float_export(  # type: ignore[no-untyped-def]
        store: ModelStore, tiny_result, monkeypatch) -> None:
    """The saved .tflite has int8 weights; should they ever be too far from the model's
    answers, the model is saved with the exact float export instead of being lost."""
    import app.core.export as export
    from app.core.models import build_model

    real = export.tflite_bytes
    other = build_model("mlp")  # untrained: its answers are nowhere near the tiny model's
    calls: list[bool] = []

    def off_when_quantised(model, quantize=True):  # type: ignore[no-untyped-def]
        calls.append(quantize)
        return real(other if quantize else model, quantize)

    monkeypatch.setattr(export, "tflite_bytes", off_when_quantised)
    entry = store.save(tiny_result.model, tiny_result.meta("tests"), name="fallback")
    assert calls == [True, False]
    x = np.random.default_rng(1).random((8, 28, 28), dtype=np.float32)
    ref = np.asarray(tiny_result.model(x, training=False))
    assert np.abs(entry.predictor().outputs_batch(x) - ref).max() < 1e-5


def test_a_failing_int8_conversion_falls_back_to_the_float_export(  # type: ignore[no-untyped-def]
        store: ModelStore, tiny_result, monkeypatch) -> None:
    import app.core.export as export

    real = export.tflite_bytes

    def quantiser_fails(model, quantize=True):  # type: ignore[no-untyped-def]
        if quantize:
            raise RuntimeError("the quantiser does not support this layer")
        return real(model, quantize)

    monkeypatch.setattr(export, "tflite_bytes", quantiser_fails)
    entry = store.save(tiny_result.model, tiny_result.meta("tests"), name="float-only")
    x = np.random.default_rng(2).random((8, 28, 28), dtype=np.float32)
    ref = np.asarray(tiny_result.model(x, training=False))
    assert np.abs(entry.predictor().outputs_batch(x) - ref).max() < 1e-5


def test_lambda_layer_is_refused(tmp_path: Path) -> None:
    from app.core.tf import import_keras

    keras = import_keras()
    inp = keras.Input((28, 28))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inp)
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(path)
    with pytest.raises(ModelError, match="Lambda"):
        load_keras_model(path)
    store = ModelStore(home=tmp_path / "home")
    with pytest.raises(ModelError):
        store.import_keras(path)
    assert store.names() == ([DEFAULT_MODEL] if DEFAULT_MODEL in store else [])


def test_import_keras_checks_shapes_and_truncation(tmp_path: Path, tiny_result) -> None:  # type: ignore[no-untyped-def]
    from app.core.tf import import_keras

    keras = import_keras()
    inp = keras.Input((28, 28))
    out = keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(inp))
    wrong = tmp_path / "five.keras"
    keras.Model(inp, out).save(wrong)
    with pytest.raises(ModelError, match="not 10 digit scores"):
        load_keras_model(wrong)
    good = tmp_path / "good.keras"
    tiny_result.model.save(good)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ModelError, match=r"truncated\.keras"):
        load_keras_model(truncated)
    store = ModelStore(home=tmp_path / "home")
    entry = store.import_keras(good, activate=True)
    assert store.active_name() == entry.name == "good"
    x = np.zeros((28, 28), np.float32)
    x[5:20, 13:15] = 1.0
    assert entry.predictor().predict(x).shape == (10,)


def test_shipped_default_model_metadata() -> None:
    if not (SHIPPED / "meta.json").exists():
        pytest.skip("model_store/default is not present")
    entry = ModelStore().get(DEFAULT_MODEL)
    assert entry.builtin
    meta = entry.meta
    assert meta["arch"] == "cnn-large"
    assert meta["test_accuracy"] >= 0.995
    assert len(meta["per_class_accuracy"]) == 10
    for key in ("params", "training", "seed", "created"):
        assert key in meta


def test_an_imported_ten_output_model_gets_a_verdict_fitted_on_held_out_data(  # type: ignore[no-untyped-def]
        tmp_path: Path, ten_output_keras: Path, tiny_result) -> None:
    from app.core.data import load_mnist
    from app.core.doubt import held_out_data
    from app.core.evaluation import evaluate_predictor
    from app.core.pendata import NOT_A_DIGIT
    from app.core.verdict import NOT_DIGIT

    store = ModelStore(home=tmp_path / "home")
    entry = store.import_keras(ten_output_keras)
    cal = entry.meta["calibration"]
    assert cal["score"] == "doubt" and 0.05 <= cal["threshold"] < 0.9 and cal["temperature"] > 0
    predictor = entry.predictor()
    x, y = held_out_data(500)
    probs, doubt = predictor.read_batch(x)
    verdicts = np.array([predictor.verdict(float(d)) for d in doubt])
    digits = y != NOT_A_DIGIT
    assert np.allclose(doubt, 1.0 - probs.max(axis=1))
    false_reject = (verdicts[digits] == NOT_DIGIT).mean()
    assert false_reject < 0.02  # about 0.5 % fitted (int8 .tflite here, float Keras there)
    # a weak judge (this model is unsure of little), but it tells the two apart
    assert (verdicts[~digits] == NOT_DIGIT).mean() > 2 * false_reject
    _, (x_test, y_test) = load_mnist()
    run = evaluate_predictor(predictor, (x_test[:1000], y_test[:1000]))
    assert run is not None and 0 < run.evaluation.not_a_digit < 100  # Evaluate counts its false rejects
    good = tmp_path / "eleven.keras"  # a model with its own "not a digit" output: no doubt
    tiny_result.model.save(good)
    assert "calibration" not in store.import_keras(good).meta
