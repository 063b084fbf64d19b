"""The command line's long jobs: ``train`` (progress, Ctrl+C, bad settings found before
TensorFlow loads, a read-only store found before training, a diverged result refused), the
progress bar, personal ``samples`` and ``finetune``, in-process through ``main([...])``."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.cli.train import ProgressListener
from tests.cli.conftest import assert_no_traceback, error_lines, run

ROOT = Path(__file__).resolve().parents[2]
DIGITS_DIR = ROOT / "tests" / "data" / "digits"
DIGIT_FILES = sorted(DIGITS_DIR.glob("*.png"))
SHIPPED_DEFAULT = ROOT / "model_store" / "default"



# --------------------------------------------------------------------------- train


def test_train_then_models_lists_it_active(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "train", "--arch", "mlp", "--epochs", "1", "--limit", "300",
                       "--name", "quick", "--seed", "3", "--activate", "always")
    assert rc == 0, err
    assert "test accuracy:" in out
    assert "'quick' is now the model in use." in out
    assert "epoch 1/1" in err  # stderr is not a TTY here: one line per epoch
    assert "\r" not in err

    rc, out, _ = run(capsys, "models", "--json")
    assert rc == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["quick"]["active"] is True
    assert rows["quick"]["arch"] == "mlp"
    assert rows["tiny"]["active"] is False
    assert 0.0 <= rows["quick"]["test_accuracy"] <= 1.0

    from app.core.store import ModelStore

    meta = ModelStore().get("quick").meta
    for key in ("arch", "title", "training", "seconds", "history", "test_accuracy",
                "per_class_accuracy", "confusion"):
        assert key in meta, key
    assert meta["training"]["limit"] == 300 and meta["training"]["seed"] == 3
    assert np.array(meta["confusion"]).sum() == 10000

    rc, out, _ = run(capsys, "models")
    assert rc == 0
    active = [line for line in out.splitlines() if line.startswith("*")]
    assert len(active) == 1 and "quick" in active[0]


def test_train_keeps_a_better_model_in_use_unless_told(home: Path, small_npz: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The default (--activate if-better): a worse new model is saved, not put in use, and
    the output says so with both accuracies; its name is readable."""
    from app.core.store import ModelStore

    before = ModelStore().active()
    assert before.test_accuracy is not None and before.test_accuracy > 0.9
    rc, out, err = run(capsys, "train", "--arch", "mlp", "--epochs", "1", "--limit", "40",
                       "--batch-size", "8", "--data", str(small_npz))
    assert rc == 0, err
    store = ModelStore()
    assert store.active_name() == before.name
    new = [e for e in store.entries() if not e.builtin and e.name != "tiny"]
    assert len(new) == 1
    name = new[0].name
    assert name.startswith("Classic MLP · 1 ep · ") and name.endswith(" %"), name
    assert f"{name!r} is saved but not in use because it is not as good; still using {before.name!r}." in out
    assert f"— In use: {before.name}, " in out and f"{before.test_accuracy * 100:.2f} %" in out
    assert f"models use {name!r}" in out


def test_train_no_activate_and_data(home: Path, small_npz: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from app.core.store import ModelStore

    ModelStore().set_active("tiny")
    rc, _, err = run(capsys, "train", "--arch", "mlp", "--epochs", "1", "--limit", "40",
                       "--batch-size", "8", "--data", str(small_npz), "--no-activate")
    assert rc == 0, err
    store = ModelStore()
    assert store.active_name() == "tiny"
    new = [e for e in store.entries() if e.name != "tiny" and not e.builtin]
    assert len(new) == 1 and new[0].arch == "mlp"
    assert new[0].meta["confusion"] and np.array(new[0].meta["confusion"]).sum() == 300


@pytest.mark.parametrize("argv, needle", [
    (["--batch-size", "1000000"], "batch size"),
    (["--name", "bad/name"], "not a valid model name"),
    (["--name", "tiny"], "already exists"),
    (["--data", "/nonexistent/mnist.npz"], "mnist.npz"),
])
def test_train_bad_settings_fail_before_training(home: Path, capsys: pytest.CaptureFixture[str],
                                                 argv: list[str], needle: str) -> None:
    rc, _, err = run(capsys, "train", "--arch", "mlp", "--epochs", "1", "--limit", "300", *argv)
    assert rc == 1
    lines = error_lines(err)
    assert len(lines) == 1 and needle in lines[0]
    assert "epoch 1/1" not in err
    assert_no_traceback(err)


def test_a_bad_seed_fails_before_tensorflow_loads(digitpad_home: Path) -> None:
    code = ("import sys; from app.cli import main; rc = main(['train', '--seed', '-1']); "
            "print('TF', 'tensorflow' in sys.modules); sys.exit(rc)")
    env = dict(os.environ, DIGITPAD_HOME=str(digitpad_home), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert ("digitpad: error: the seed must be a whole number between 0 and 4294967295 (got -1)."
            in proc.stderr)
    assert "TF False" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [["train", "--arch", "mlp", "--epochs", "1", "--limit", "100"],
                                     ["finetune", "--epochs", "1"]])
def test_a_read_only_store_is_found_before_training(capsys: pytest.CaptureFixture[str], monkeypatch,
                                                    digitpad_home: Path, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    from app.core.samples import SampleStore

    samples = SampleStore()
    for d in range(4):
        samples.add(np.zeros((28, 28), np.float32), d)
    real_mkdir = Path.mkdir

    def read_only(self, *a, **k):  # type: ignore[no-untyped-def]  # (root ignores chmod)
        if self.name.startswith(".tmp-"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(self, *a, **k)

    def never(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("trained although nothing could be saved")

    import app.core.finetune  # noqa: F401  (imported now, it binds the real train, not the stub)

    monkeypatch.setattr(Path, "mkdir", read_only)
    monkeypatch.setattr("app.core.training.train", never)
    monkeypatch.setattr("app.core.finetune.fine_tune", never)
    rc, _out, err = run(capsys, *command)
    assert rc == 1 and "Models cannot be saved in" in err and "Read-only file system" in err


def test_a_one_batch_divergence_is_refused_by_its_result(capsys: pytest.CaptureFixture[str],
                                                        digitpad_home: Path) -> None:
    from app.core.store import ModelStore

    rc, _out, err = run(capsys, "train", "--arch", "mlp", "--lr", "1000", "--batch-size", "8192",
                        "--limit", "600", "--epochs", "1")
    assert rc == 1 and "Training diverged" in err and "guessing" in err, err
    assert [e.name for e in ModelStore().entries() if not e.builtin] == []

def test_train_ctrl_c_cancels_and_saves_nothing(home: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    original = ProgressListener.on_batch

    def on_batch(self: ProgressListener, *args: Any) -> None:
        original(self, *args)
        if not self.stop_requested:
            signal.raise_signal(signal.SIGINT)  # what Ctrl+C does

    monkeypatch.setattr(ProgressListener, "on_batch", on_batch)
    before = sorted(p.name for p in (home / "models").iterdir())
    rc, out, err = run(capsys, "train", "--arch", "mlp", "--epochs", "3", "--limit", "2000",
                       "--batch-size", "10", "--name", "cancelled")
    assert rc == 130
    assert "cancelled" in err.lower() and "nothing was saved" in err
    assert "test accuracy" not in out
    assert sorted(p.name for p in (home / "models").iterdir()) == before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert_no_traceback(err)


class _FakeTTY:
    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core.training import TrainConfig

    tty = _FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    listener = ProgressListener()
    listener.on_start(TrainConfig(arch="mlp"), 2, 5)
    for step in range(5):
        listener._last_draw = 0.0  # no throttling in the test
        listener.on_batch(0, step, 5, {"loss": 1.5, "accuracy": 0.25})
    listener.on_epoch(0, {"loss": 1.2, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": 0.6})
    text = tty.text
    assert "\r" in text
    assert "epoch 1/2" in text and "5/5" in text and "loss 1.5000" in text and "acc 0.2500" in text
    assert "ETA" in text and "val_accuracy 0.6000" in text
    assert text.endswith("\n")
    monkeypatch.setattr(sys, "stderr", None)  # the bundle case: drawing is a no-op
    listener.on_batch(1, 0, 5, {"loss": 1.0})
    listener.on_epoch(1, {"loss": 1.0})
    listener.on_status("done")


# --------------------------------------------------------------------------- samples, finetune


def _personal_npz(tmp_path: Path, per_digit: int = 4) -> Path:
    from tools.handwriting import personal_set

    x, y, _strokes = personal_set(per_digit=per_digit)
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=y)
    return path


def test_samples_import_list_export_delete(capsys: pytest.CaptureFixture[str], digitpad_home: Path,
                                           tmp_path: Path) -> None:
    from app.core.samples import SampleStore, load_sample_npz

    rc, out, _ = run(capsys, "samples")
    assert rc == 0 and "No personal samples yet" in out
    rc, out, _ = run(capsys, "samples", "import", str(_personal_npz(tmp_path, per_digit=2)))
    assert rc == 0 and "imported 20 samples" in out
    rc, out, _ = run(capsys, "samples", "list")
    assert rc == 0 and "20 personal samples" in out
    assert out.splitlines()[-1].split() == ["count"] + ["2"] * 10
    rc, out, _ = run(capsys, "samples", "--json")
    listing = json.loads(out)
    assert listing["total"] == 20 and listing["per_digit"] == [2] * 10
    sevens = [s["id"] for s in listing["samples"] if s["label"] == 7]
    rc, out, _ = run(capsys, "samples", "delete", str(sevens[0]))
    assert rc == 0 and "deleted 1 sample(s); 19 left" in out
    assert SampleStore(digitpad_home).counts()[7] == 1  # what the window would show
    rc, out, _ = run(capsys, "samples", "list", "--ids")
    assert f"  7: {sevens[1]}" in out
    dest = tmp_path / "out.npz"
    rc, out, _ = run(capsys, "samples", "export", str(dest))
    assert rc == 0 and "exported 19 samples" in out
    x, y = load_sample_npz(dest)
    assert x.shape == (19, 28, 28) and sorted(np.bincount(y, minlength=10)) == [1] + [2] * 9


def test_samples_bad_input_is_one_clear_line(capsys: pytest.CaptureFixture[str], digitpad_home: Path,
                                             tmp_path: Path) -> None:
    rc, _, stderr = run(capsys, "samples", "export", str(tmp_path / "x.npz"))
    assert rc == 1 and error_lines(stderr) == ["digitpad: error: There are no personal samples to export."]
    evil = tmp_path / "evil.npz"
    np.savez(evil, x=np.array([object()], dtype=object), y=np.array([1]))
    rc, _, stderr = run(capsys, "samples", "import", str(evil))
    assert rc == 1 and "refuses to unpickle" in stderr
    assert_no_traceback(stderr)
    rc, _, stderr = run(capsys, "samples", "delete", "12345")
    assert rc == 1 and "No personal sample with id 12345" in stderr
    rc, _, stderr = run(capsys, "finetune")
    assert rc == 1 and "at least 4 personal samples" in stderr
    assert_no_traceback(stderr)


def test_finetune_from_the_terminal(capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path) -> None:
    """The same core as the window's Train on my drawings: scores before/after, a new model
    saved next to the base one and made active."""
    from app.core.store import ModelStore

    assert run(capsys, "samples", "import", str(_personal_npz(tmp_path, per_digit=4)))[0] == 0
    rc, out, stderr = run(capsys, "finetune", "--model", "tiny", "--epochs", "1", "--mnist-images", "300",
                          "--mnist-test", "300", "--activate", "always")
    assert rc == 0, stderr
    assert_no_traceback(stderr)
    assert "held-out samples:" in out and "MNIST test (300 images):" in out
    assert "saved model 'tiny-mine' (the base model 'tiny' is kept)" in out
    assert "'tiny-mine' is now the model in use." in out
    store = ModelStore()
    assert store.active_name() == "tiny-mine" and "tiny" in store
    meta = store.get("tiny-mine").meta
    assert meta["fine_tuned"] and meta["base_model"] == "tiny" and meta["trained_by"] == "digitpad finetune"
    assert meta["personal_holdout_count"] == 10 and meta["personal_train_count"] == 30
    # again, from the fine-tuned one, without making it active: the name does not pile up
    rc, out, _ = run(capsys, "finetune", "--epochs", "1", "--mnist-images", "0", "--mnist-test", "200",
                     "--no-activate")
    assert rc == 0 and "'tiny-mine-2' is saved but not in use; still using 'tiny-mine'." in out
    assert ModelStore().active_name() == "tiny-mine"
    # measured on 200 test images, the model in use on 300: not evidence that it is as good
    rc, out, _ = run(capsys, "finetune", "--epochs", "1", "--mnist-images", "0", "--mnist-test", "200")
    assert rc == 0 and "'tiny-mine-3' is saved but not in use" in out and "% on 200 test images" in out
    assert ModelStore().active_name() == "tiny-mine"
