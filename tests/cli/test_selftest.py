"""``DigitPad --self-test`` and ``--startup-probe`` from the source tree, and the frozen-app
helpers (null streams for a windowed app). Every run is a subprocess through the real
launcher (packaging/digitpad_launcher.py), so Qt and TensorFlow state never leak between
tests; the bundle itself is tested in test_packaging.py."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import _frozen
from app.selftest import REPORT_NAME, Report, run_self_test

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "packaging" / "digitpad_launcher.py"


def _env(home: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("DIGITPAD_HOME", None)
    if home is not None:
        env["DIGITPAD_HOME"] = str(home)
    return env


def _launch(*args: str, home: Path | None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LAUNCHER), *args], env=_env(home), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _lines(report: str, status: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith(status + " ")]


def test_self_test_end_to_end_from_source(tmp_path: Path) -> None:
    """The full self-test: window, drawing with the mouse, live prediction, a tiny training
    through the Train button, the new model active and predicting through LiteRT."""
    report = tmp_path / "report.txt"
    proc = _launch("--self-test", "--report", str(report), home=None, timeout=600)
    text = report.read_text(encoding="utf-8")
    assert proc.returncode == 0, text + proc.stderr[-3000:]
    assert "ALL CHECKS PASSED" in proc.stdout and "ALL CHECKS PASSED" in text
    assert len(_lines(text, "PASS")) == 8 and not _lines(text, "FAIL") and not _lines(text, "SKIP")
    assert "running from: python package" in text
    # the tiny model was trained by the separate training process, not the window's
    trained = next(line for line in text.splitlines() if "train a tiny model with the Train button" in line)
    assert "in the training process, pid " in trained and "TensorFlow not loaded in the window" in trained
    # without DIGITPAD_HOME it used (and removed) a temporary home: the user's data is untouched
    home_line = next(line for line in text.splitlines() if line.startswith("user data"))
    tmp_home = Path(home_line.split(": ", 1)[1])
    assert "digitpad-selftest-" in tmp_home.name and not tmp_home.exists()


def test_quick_self_test_uses_the_given_home_and_writes_the_report_there(tmp_path: Path) -> None:
    proc = _launch("--self-test", "--quick", home=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    text = (tmp_path / REPORT_NAME).read_text(encoding="utf-8")
    assert f"user data (DIGITPAD_HOME): {tmp_path}" in text
    assert "PASS  draw a 7 with the mouse: predicts 7" in text
    assert "PASS  TensorFlow not loaded at start" in text
    assert _lines(text, "SKIP") and not _lines(text, "FAIL")
    # the verdict agrees with the exit status (it said "SELF-TEST FAILED: no checks")
    verdict = text.rstrip().splitlines()[-1]
    assert verdict.startswith("ALL CHECKS PASSED, 1 skipped ("), verdict
    assert "FAILED" not in text and verdict in proc.stdout


def test_quick_self_test_passes_with_a_samples_file_announcing_730_gib(tmp_path: Path) -> None:
    """It stopped with "unexpected MemoryError: Unable to allocate 730 GiB"."""
    from bench.hostile import lying_header_npz

    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "samples.npz").write_bytes(lying_header_npz(tmp_path / "lie.npz").read_bytes())
    proc = _launch("--self-test", "--quick", home=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "ALL CHECKS PASSED" in proc.stdout and "MemoryError" not in proc.stdout + proc.stderr
    assert "samples.npz" in proc.stderr and "moved to samples.npz.unreadable-" in proc.stderr
    assert list((tmp_path / "samples").glob("samples.npz.unreadable-*"))


def test_self_test_reports_a_wrong_prediction(tmp_path: Path) -> None:
    """A model that always answers 3: the drawing checks fail, the exit status is 1, and the
    report says what was drawn and what the window showed."""
    report = tmp_path / "report.txt"
    code = (
        "import sys, numpy as np\n"
        "from app.core import inference\n"
        "inference.Predictor._run = lambda self, x: np.tile(np.eye(10, dtype=np.float32)[3], (len(x), 1))\n"
        "from app.selftest import run_self_test\n"
        f"sys.exit(run_self_test(['--quick', '--report', {str(report)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path / "home"), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    text = report.read_text(encoding="utf-8")
    failed = _lines(text, "FAIL")
    assert any("draw a 7" in line and "the window says '3'" in line for line in failed), text
    assert "SELF-TEST FAILED: draw a 7 with the mouse: predicts 7" in text


def test_digitpad_command_runs_the_self_test(tmp_path: Path) -> None:
    """`digitpad --self-test` (python -m app) reaches the same self-test."""
    report = tmp_path / "report.txt"
    proc = subprocess.run([sys.executable, "-m", "app", "--self-test", "--quick", "--report", str(report)],
                          env=_env(tmp_path / "home"), cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "PASS  draw a 7 with the mouse: predicts 7" in report.read_text(encoding="utf-8")


def test_report_verdict() -> None:
    """Skipped checks do not fail the report; a report where nothing ran does."""
    report = Report()
    assert not report.ok and "SELF-TEST FAILED: no check ran" in report.text()
    report.skip("train", "--quick")
    assert not report.ok
    report.check("something", lambda: None)
    assert report.ok and "ALL CHECKS PASSED, 1 skipped" in report.text()
    report.check("broken", lambda: 1 / 0, required=False)
    assert not report.ok and "SELF-TEST FAILED: broken" in report.text()


def test_self_test_usage_error() -> None:
    assert run_self_test(["--no-such-option"]) == 2


def test_startup_probe_from_source(tmp_path: Path) -> None:
    out = tmp_path / "probe.json"
    proc = _launch("--startup-probe", str(out), home=tmp_path / "home", timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    probe = json.loads(out.read_text(encoding="utf-8"))
    assert probe["ok"] and probe["predicted"] == "7"
    assert probe["tensorflow_loaded"] is False and probe["frozen"] is False
    assert probe["window_shown_at"] <= probe["predicted_at"]


@pytest.mark.skipif(os.name != "posix", reason="closes file descriptors 1 and 2")
def test_launcher_survives_without_stdout_and_stderr(tmp_path: Path) -> None:
    """Like a windowed bundle: Python starts with sys.stdout and sys.stderr set to None."""
    out = tmp_path / "probe.json"

    def close_stdio() -> None:  # pragma: no cover - runs in the child
        os.close(1)
        os.close(2)

    proc = subprocess.run([sys.executable, str(LAUNCHER), "--startup-probe", str(out)],
                          env=_env(tmp_path / "home"), cwd=ROOT, timeout=120, check=False,
                          stdin=subprocess.DEVNULL, preexec_fn=close_stdio)
    assert proc.returncode == 0
    assert json.loads(out.read_text(encoding="utf-8"))["predicted"] == "7"


def test_fix_stdio_replaces_missing_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "__stdout__", None)
    keep_err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", keep_err)
    replaced = _frozen.fix_stdio()
    try:
        assert replaced == ["stdout"]
        assert sys.stdout is not None
        print("nobody reads this")  # must not raise
        sys.stdout.flush()
        assert sys.stderr is keep_err  # working streams are left alone
    finally:
        if sys.stdout is not None:
            sys.stdout.close()


def test_crash_log_keeps_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITPAD_HOME", str(tmp_path))
    seen: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, exc, tb: seen.append(kind))
    _frozen.install_crash_log()
    try:
        raise ValueError("boom in the bundle")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    assert seen == [ValueError]  # the previous hook still runs
    log = (tmp_path / _frozen.CRASH_LOG).read_text(encoding="utf-8")
    assert "ValueError: boom in the bundle" in log


def test_not_frozen_from_source() -> None:
    assert not _frozen.is_frozen()
    assert _frozen.bundle_dir() is None


def test_the_training_check_fails_unless_the_training_process_trained() -> None:
    """The self-test's training check reads which process ran the job from its outcome."""
    from app.selftest import trained_where
    from app.selftest.driving import CheckFailed
    from app.ui.progress import JobOutcome

    other = JobOutcome.of({"name": "m", "process": {"pid": os.getpid() + 1, "frozen": False}})
    assert trained_where([other]).startswith(f"in the training process, pid {os.getpid() + 1}")
    with pytest.raises(CheckFailed, match="window's own process"):
        trained_where([JobOutcome.of({"name": "m", "process": {"pid": os.getpid(), "frozen": False}})])
    with pytest.raises(CheckFailed, match="does not say"):
        trained_where([JobOutcome.of({"name": "m"})])
    with pytest.raises(CheckFailed, match="does not say"):
        trained_where([])
