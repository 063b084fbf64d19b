"""The command line: every subcommand in-process through ``main([...])``, plus one
subprocess run of ``python -m app predict`` that must not import TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from app import __version__
from app.cli import common as cli_common
from app.cli import main
from app.cli import models as cli_models
from tests.cli.conftest import assert_no_traceback, error_lines, run

ROOT = Path(__file__).resolve().parents[2]
DIGITS_DIR = ROOT / "tests" / "data" / "digits"
DIGIT_FILES = sorted(DIGITS_DIR.glob("*.png"))
SHIPPED_DEFAULT = ROOT / "model_store" / "default"



# --------------------------------------------------------------------------- global


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--version")
    assert rc == 0
    assert out.strip() == f"digitpad {__version__}"


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--help")
    assert rc == 0
    for command in ("train", "evaluate", "predict", "models", "samples", "finetune"):
        assert command in out


def test_predict_help_names_formats_not_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "predict", "--help")
    assert rc == 0
    assert "PNG, JPEG" in " ".join(out.split()) and "Pillow" not in out


@pytest.mark.parametrize("argv", [
    ["--bogus"],
    ["predict", "--bogus", "x.png"],
    ["models", "--frobnicate"],
    ["frobnicate"],
    ["predict"],  # IMAGE is required
    ["train", "--epochs", "0"],
    ["train", "--arch", "resnet"],
    ["train", "--lr", "nan"],
    ["models", "rename", "only-one"],
])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    rc, _, err = run(capsys, *argv)
    assert rc == 2
    assert "usage:" in err
    assert_no_traceback(err)


def test_gui_is_the_default(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def run_gui(argv: list[str]) -> int:
        calls.append(list(argv))
        return 7

    fake = types.ModuleType("app.ui.app")
    fake.run_gui = run_gui  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.ui.app", fake)
    assert main([]) == 7
    assert main(["--debug"]) == 7
    assert main(["-style", "fusion"]) == 7  # Qt options go to the window
    assert calls == [[], [], ["-style", "fusion"]]


def test_gui_import_failure_is_one_clear_line(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "app.ui.app", None)  # makes the import fail
    rc, _, err = run(capsys)
    assert rc == 1
    lines = error_lines(err)
    assert len(lines) == 1 and "window cannot start" in lines[0]
    assert_no_traceback(err)


def test_unexpected_exception_suggests_debug(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(args: Any) -> int:
        raise RuntimeError("kaboom\nsecond line")

    monkeypatch.setattr(cli_models, "cmd_models_list", boom)
    rc, _, err = run(capsys, "models")
    assert rc == 1
    assert err.strip().splitlines()[-1] == (
        "digitpad: error: unexpected RuntimeError: kaboom (run with --debug for the traceback)")
    assert_no_traceback(err)

    rc, _, err = run(capsys, "--debug", "models")
    assert rc == 1
    assert "Traceback" in err and "kaboom" in err
    rc, _, err = run(capsys, "models", "--debug")  # the flag also works after the command
    assert rc == 1 and "Traceback" in err


def test_streams_none_windowed_bundle(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A windowed PyInstaller bundle has no stdout/stderr: nothing may crash."""
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    assert main(["--version"]) == 0
    assert main(["--bogus"]) == 2
    assert main(["models"]) == 0
    assert main(["predict", "--model", "tiny", str(DIGIT_FILES[0])]) == 0
    assert main(["predict", "--model", "tiny", "/nonexistent/x.png"]) == 1
    assert main(["models", "use", "nope"]) == 1


# --------------------------------------------------------------------------- predict


def test_predict_good_digits_table(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(f) for f in DIGIT_FILES[:3]]
    rc, out, err = run(capsys, "predict", "--model", "tiny", *files)
    assert rc == 0, err
    assert error_lines(err) == []
    assert "model: tiny" in out
    for f in files:
        row = next(line for line in out.splitlines() if line.startswith(f))
        digit = int(row.split()[1])
        assert 0 <= digit <= 9
        # file, digit, confidence, 10 probabilities, then the verdict
        assert row.split()[13] == "digit" or row.split()[13:16] == ["not", "a", "digit"]


def test_predict_json_shape(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(f) for f in DIGIT_FILES]
    rc, out, _ = run(capsys, "predict", "--model", "tiny", "--json", *files)
    assert rc == 0
    results = json.loads(out)
    assert [r["file"] for r in results] == files
    threshold = json.loads((home / "models" / "tiny" / "meta.json").read_text())["calibration"]["threshold"]
    for r in results:
        assert {"file", "digit", "confidence", "probabilities"} <= set(r)
        assert r["error"] is None
        probs = r["probabilities"]
        assert len(probs) == 10 and all(0.0 <= p <= 1.0 for p in probs)
        assert sum(probs) == pytest.approx(1.0, abs=1e-3)
        assert r["digit"] == int(np.argmax(probs))
        assert r["confidence"] == pytest.approx(max(probs), abs=1e-5)
        assert r["verdict"] in ("digit", "not a digit") and 0.0 <= r["not_a_digit"] <= 1.0
        assert (r["verdict"] == "not a digit") == (r["not_a_digit"] >= threshold)


def test_predict_empty_image_no_digit(home: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    rc, out, _ = run(capsys, "predict", "--model", "tiny", str(blank))
    assert rc == 0
    assert "no digit found" in out
    rc, out, _ = run(capsys, "predict", "--model", "tiny", "--json", str(blank))
    assert rc == 0
    [r] = json.loads(out)
    assert r["digit"] is None and r["probabilities"] is None and r["error"] is None
    assert r["verdict"] == "empty"


@pytest.mark.parametrize("kind", ["not_an_image", "missing", "directory", "empty_file"])
def test_predict_bad_file_is_one_line(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      kind: str) -> None:
    if kind == "not_an_image":
        bad = tmp_path / "notes.png"
        bad.write_text("this is not a picture\n")
    elif kind == "missing":
        bad = tmp_path / "missing.png"
    elif kind == "directory":
        bad = tmp_path / "folder"
        bad.mkdir()
    else:
        bad = tmp_path / "empty.png"
        bad.write_bytes(b"")
    rc, _, err = run(capsys, "predict", "--model", "tiny", str(bad))
    assert rc == 1
    lines = error_lines(err)
    assert len(lines) == 1
    assert str(bad) in lines[0]
    assert_no_traceback(err)


def test_predict_mix_of_good_and_bad(home: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)  # a truncated PNG
    good1, good2 = str(DIGIT_FILES[0]), str(DIGIT_FILES[-1])
    missing = str(tmp_path / "gone.png")
    rc, out, err = run(capsys, "predict", "--model", "tiny", good1, str(junk), missing, good2)
    assert rc == 1
    assert any(line.startswith(good1) for line in out.splitlines())
    assert any(line.startswith(good2) for line in out.splitlines())
    lines = error_lines(err)
    assert len(lines) == 2
    assert str(junk) in lines[0] and missing in lines[1]
    assert_no_traceback(err)

    rc, out, err = run(capsys, "predict", "--model", "tiny", "--json", good1, str(junk), good2)
    assert rc == 1
    results = json.loads(out)
    assert [r["file"] for r in results] == [good1, str(junk), good2]
    assert results[0]["digit"] is not None and results[2]["digit"] is not None
    assert results[1]["digit"] is None and str(junk) in results[1]["error"]


def test_predict_model_by_path(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tflite = home / "models" / "tiny" / "model.tflite"
    rc, out, err = run(capsys, "predict", "--model", str(tflite), "--json", str(DIGIT_FILES[0]))
    assert rc == 0, err
    assert json.loads(out)[0]["digit"] is not None


@pytest.mark.parametrize("spec", ["nope", "/nonexistent/model.tflite", "README"])
def test_predict_unknown_model(home: Path, capsys: pytest.CaptureFixture[str], spec: str,
                               tmp_path: Path) -> None:
    if spec == "README":
        spec = str(tmp_path / "model.txt")
        Path(spec).write_text("hello")
    rc, out, err = run(capsys, "predict", "--model", spec, str(DIGIT_FILES[0]))
    assert rc == 1
    assert out == ""
    assert len(error_lines(err)) == 1
    assert_no_traceback(err)


def test_predict_corrupt_tflite(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"\x00" * 4096)
    rc, _, err = run(capsys, "predict", "--model", str(bad), str(DIGIT_FILES[0]))
    assert rc == 1
    assert len(error_lines(err)) == 1 and "broken.tflite" in err
    assert_no_traceback(err)


def test_predict_subprocess_does_not_import_tensorflow(home: Path) -> None:
    """``python -m app predict`` answers through LiteRT; TensorFlow is never imported."""
    code = (
        "import runpy, sys\n"
        "try:\n"
        "    runpy.run_module('app', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n"
        "    rc = exc.code\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules)\n"
        "assert not heavy, f'imported {heavy}'\n"
        "sys.exit(rc)\n"
    )
    env = dict(os.environ, DIGITPAD_HOME=str(home), PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", code, "predict", "--model", "tiny", "--json", str(DIGIT_FILES[0])],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    [r] = json.loads(proc.stdout)
    assert r["file"] == str(DIGIT_FILES[0]) and len(r["probabilities"]) == 10


# --------------------------------------------------------------------------- evaluate


def test_evaluate_json(home: Path, small_npz: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "evaluate", "--model", "tiny", "--data", str(small_npz), "--json")
    assert rc == 0, err
    result = json.loads(out)
    assert set(result) == {"model", "accuracy", "per_class_accuracy", "confusion", "count", "not_a_digit"}
    assert 0 <= result["not_a_digit"] <= result["count"]
    assert result["model"] == "tiny"
    assert result["count"] == 300
    assert 0.0 <= result["accuracy"] <= 1.0
    assert len(result["per_class_accuracy"]) == 10
    assert all(0.0 <= a <= 1.0 for a in result["per_class_accuracy"])
    confusion = np.array(result["confusion"])
    assert confusion.shape == (10, 10)
    assert confusion.sum() == result["count"]
    assert np.trace(confusion) / result["count"] == pytest.approx(result["accuracy"])


def test_evaluate_text_matches_store_accuracy(home: Path, small_npz: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "evaluate", "--model", "tiny", "--data", str(small_npz))
    assert rc == 0
    assert "accuracy:" in out and "confusion matrix" in out
    assert "test images: 300" in out
    assert 'wrongly called "not a digit": ' in out


def test_evaluate_keras_and_tflite_agree(home: Path, small_npz: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    results = {}
    for name in ("model.keras", "model.tflite"):
        path = home / "models" / "tiny" / name
        rc, out, err = run(capsys, "evaluate", "--model", str(path), "--data", str(small_npz), "--json")
        assert rc == 0, err
        results[name] = json.loads(out)
    assert results["model.keras"]["accuracy"] == pytest.approx(results["model.tflite"]["accuracy"],
                                                               abs=0.01)


def test_evaluate_bad_data(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "evaluate", "--model", "tiny", "--data", str(tmp_path / "none.npz"))
    assert rc == 1
    assert len(error_lines(err)) == 1 and "none.npz" in err
    assert_no_traceback(err)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    rc, _, err = run(capsys, "evaluate", "--model", "tiny", "--data", str(bad))
    assert rc == 1
    assert len(error_lines(err)) == 1
    assert_no_traceback(err)


# --------------------------------------------------------------------------- models


def test_models_use_rename_export_delete(home: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from app.core.store import ModelStore

    shutil.copytree(home / "models" / "tiny", home / "models" / "other")
    assert run(capsys, "models", "use", "other")[0] == 0
    assert ModelStore().active_name() == "other"

    rc, out, _ = run(capsys, "models", "rename", "other", "renamed")
    assert rc == 0 and "renamed" in out
    store = ModelStore()
    assert "other" not in store and store.active_name() == "renamed"

    dest = tmp_path / "exported.tflite"
    rc, out, _ = run(capsys, "models", "export", "renamed", str(dest))
    assert rc == 0 and dest.is_file()
    assert dest.read_bytes() == (home / "models" / "renamed" / "model.tflite").read_bytes()
    rc, _, _ = run(capsys, "models", "export", "renamed", str(tmp_path))  # a directory
    assert rc == 0 and (tmp_path / "renamed.tflite").is_file()

    rc, out, _ = run(capsys, "models", "delete", "renamed")
    assert rc == 0
    store = ModelStore()
    assert "renamed" not in store and store.active_name() != "renamed"

    rc, out, _ = run(capsys, "models", "list", "--json")
    assert rc == 0 and "renamed" not in [r["name"] for r in json.loads(out)]


@pytest.mark.parametrize("argv, needle", [
    (["models", "use", "nope"], "nope"),
    (["models", "delete", "nope"], "nope"),
    (["models", "rename", "nope", "other"], "nope"),
    (["models", "rename", "tiny", "bad/name"], "not a valid model name"),
    (["models", "export", "tiny", "out.txt"], ".keras or .tflite"),
    (["models", "export", "nope", "out.tflite"], "nope"),
])
def test_models_errors_are_one_line(home: Path, capsys: pytest.CaptureFixture[str],
                                    argv: list[str], needle: str) -> None:
    rc, _, err = run(capsys, *argv)
    assert rc == 1
    lines = error_lines(err)
    assert len(lines) == 1 and needle in lines[0]
    assert_no_traceback(err)


def test_models_lists_problems_as_warnings(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = home / "models" / "broken"
    broken.mkdir()
    (broken / "meta.json").write_text("{not json")
    rc, out, err = run(capsys, "models")
    assert rc == 0
    assert "tiny" in out and "broken" not in out
    assert any(line.startswith("digitpad: warning: broken:") for line in err.splitlines())


def test_models_empty_store(digitpad_home: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from app.core.store import ModelStore

    monkeypatch.setattr(cli_common, "open_store", lambda: ModelStore(bundled_dir=tmp_path / "no-store"))
    rc, out, _ = run(capsys, "models")
    assert rc == 0 and "No models" in out
    rc, out, _ = run(capsys, "models", "--json")
    assert rc == 0 and json.loads(out) == []
    rc, _, err = run(capsys, "predict", str(DIGIT_FILES[0]))
    assert rc == 1 and len(error_lines(err)) == 1
    assert_no_traceback(err)


# --------------------------------------------------------------------------- digits


def test_digit_fixtures_are_small_and_cover_0_to_9() -> None:
    assert len(DIGIT_FILES) >= 10
    assert {int(f.name[0]) for f in DIGIT_FILES} == set(range(10))
    assert sum(f.stat().st_size for f in DIGIT_FILES) < 300_000
    for f in DIGIT_FILES:
        with Image.open(f) as img:
            assert img.size == (200, 200)


@pytest.mark.skipif(not (SHIPPED_DEFAULT / "meta.json").is_file(),
                    reason="the shipped model model_store/default is not there (train it with "
                           "tools/train_default.py)")
def test_shipped_model_recognises_the_hand_drawn_digits(capsys: pytest.CaptureFixture[str]) -> None:
    from app.core.store import ModelStore

    entry = ModelStore().get("default")
    assert entry.builtin
    rc, out, err = run(capsys, "predict", "--model", "default", "--json",
                       *(str(f) for f in DIGIT_FILES))
    assert rc == 0, err
    wrong = [(Path(r["file"]).name, r["digit"]) for r in json.loads(out)
             if r["digit"] != int(Path(r["file"]).name[0])]
    assert wrong == [], f"misrecognised: {wrong}"
