"""Image files that go wrong, through File > Open image… (``open_image``), drag and drop onto
the window (real QDragEnterEvent/QDropEvent) and ``digitpad predict``.

Already covered elsewhere (not repeated here):
* core ``load_image``: not an image, zero bytes, truncated, corrupt, directory, missing, 30000x30000
  and 10000x5000 refused before decoding (RSS), all Pillow modes, non-ASCII name:
  tests/core/test_load_image.py
* CLI: not an image / missing / directory / zero bytes:
  tests/cli/test_cli.py::test_predict_bad_file_is_one_line;
  a truncated PNG among good files: test_predict_mix_of_good_and_bad; all-white -> "no digit found":
  test_predict_empty_image_no_digit; white-on-black and black-on-white fixtures:
  test_shipped_model_recognises_the_hand_drawn_digits
* window: white-on-black and black-on-white fixtures: tests/ui/test_predict.py::test_open_image_file;
  a broken PNG: test_a_broken_image_file_is_reported
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from tests import ui_helpers
from tests.conftest import ROOT
from tests.core.test_load_image import big_bilevel_png
from tests.ui_helpers import draw_digit, drop_file, needs_default_model

window = ui_helpers.window
no_threads_left = ui_helpers.no_threads_left

pytestmark = needs_default_model

DIGITS = ROOT / "tests" / "data" / "digits"
SEVEN = DIGITS / "7_small_offcentre.png"  # black on white
FOUR_INVERTED = DIGITS / "4_inverted.png"  # white on black


# --------------------------------------------------------------------------- helpers


def _open(window, path: Path, how: str) -> None:  # type: ignore[no-untyped-def]
    if how == "menu":
        window.ask_open_image_path = lambda: str(path)
        window.open_action.trigger()  # File > Open image…
    else:
        assert drop_file(window, path), "the window must accept any dropped local file and say what is wrong"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err and 'File "' not in err
    return [line for line in err.splitlines() if line.startswith("digitpad: error:")]


def _make_not_an_image(d: Path) -> Path:
    p = d / "notes.png"
    p.write_text("these are not pixels\n" * 20)
    return p


def _make_zero_bytes(d: Path) -> Path:
    p = d / "empty.png"
    p.write_bytes(b"")
    return p


def _make_truncated(d: Path) -> Path:
    raw = SEVEN.read_bytes()
    p = d / "cut.png"
    p.write_bytes(raw[: len(raw) // 2])
    return p


def _make_directory(d: Path) -> Path:
    p = d / "a folder.png"
    p.mkdir()
    return p


def _make_huge(d: Path) -> Path:
    p = d / "huge.png"
    big_bilevel_png(p, 30000, 30000)
    return p


def _make_missing(d: Path) -> Path:
    return d / "gone.png"


BAD: dict[str, tuple[Callable[[Path], Path], str]] = {
    # kind: (maker, words the message must contain)
    "not_an_image": (_make_not_an_image, "not an image"),
    "zero_bytes": (_make_zero_bytes, "empty"),
    "truncated_png": (_make_truncated, "truncated"),
    "directory": (_make_directory, "directory"),
    "huge_30000x30000": (_make_huge, "too large"),
    "missing": (_make_missing, "not found"),
}


# --------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(("kind", "how"), [(k, h) for k in BAD for h in ("menu", "drop")
                                            if (k, h) != ("missing", "drop")])  # cannot drag a missing file
def test_bad_image_file_in_the_window(window, qtbot, tmp_path: Path, kind: str, how: str) -> None:  # type: ignore[no-untyped-def]
    maker, words = BAD[kind]
    path = maker(tmp_path)
    draw_digit(window.pad, "1")
    qtbot.waitUntil(lambda: window.top_digit_label.text() == "1")
    model = window.models.current_name()
    _open(window, path, how)
    assert window.last_error is not None
    assert path.name in window.last_error and words in window.last_error.lower(), window.last_error
    assert "Traceback" not in window.last_error
    assert "Pillow" not in window.last_error and "PIL" not in window.last_error  # no internal library
    assert window.message_box is not None and window.message_box.isVisible()
    # nothing changed: the drawing, its prediction and the model
    assert len(window.pad.strokes()) == 1 and not window.pad.has_background()
    assert window.top_digit_label.text() == "1"
    assert window.models.current_name() == model
    draw_digit(window.pad, "7", size=0.3, center=(0.2, 0.2))  # still drawing and predicting
    qtbot.waitUntil(lambda: window.probability_view.probabilities() is not None)


@pytest.mark.parametrize("how", ["menu", "drop", "cli"])
@pytest.mark.parametrize("mode", ["open_denied", "access_denied"])
def test_unreadable_file(window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                         capsys: pytest.CaptureFixture[str], how: str, mode: str) -> None:
    """As root reads everything, no permission is simulated: Pillow's open raising
    PermissionError, or ``os.access`` saying no."""
    import PIL.Image

    secret = tmp_path / "secret.png"
    secret.write_bytes(SEVEN.read_bytes())
    if mode == "open_denied":
        real_open = PIL.Image.open

        def denied(fp, *a, **k):  # type: ignore[no-untyped-def]
            if str(fp) == str(secret):
                raise PermissionError(13, "Permission denied", str(fp))
            return real_open(fp, *a, **k)

        monkeypatch.setattr(PIL.Image, "open", denied)
    else:
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if str(p) == str(secret)
                            else real_access(p, m, *a, **k))
    if how == "cli":
        rc, out, err = _cli(capsys, "predict", str(secret))
        assert rc == 1 and out == ""
        [line] = _error_lines(err)
        assert "permission" in line.lower() and "secret.png" in line
        return
    _open(window, secret, how)
    assert window.last_error is not None
    assert "permission" in window.last_error.lower() and "secret.png" in window.last_error
    assert not window.pad.has_background()


def test_huge_image_does_not_blow_up_memory_in_the_window_or_the_cli(tmp_path: Path) -> None:
    """30000x30000 (a 300 KB file, 900 MB decoded): refused from the header by the window and
    by ``digitpad predict``; the process's peak RSS hardly moves (measured in a fresh process)."""
    huge = _make_huge(tmp_path)
    code = r"""
import json, resource, sys, io, contextlib
from app.ui.app import create_application
app = create_application([])
from app.ui import MainWindow
from app.cli import main
small, huge = sys.argv[1], sys.argv[2]
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
w = MainWindow(); w.show(); app.processEvents()
assert w.live.open_image(small)
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main(["predict", small])  # everything is loaded now
before = rss()
ok = w.live.open_image(huge)
window_error = w.last_error
err = io.StringIO()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
    rc = main(["predict", huge])
after = rss()
print(json.dumps({"ok": ok, "window_error": window_error, "rc": rc, "err": err.getvalue(),
                  "growth": after - before}))
w.close()
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DIGITPAD_HOME=str(tmp_path / "home"))
    run = subprocess.run([sys.executable, "-c", code, str(SEVEN), str(huge)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert res["ok"] is False and "too large" in res["window_error"]
    assert res["rc"] == 1
    [line] = _error_lines(res["err"])
    assert "huge.png" in line and "too large" in line
    assert res["growth"] < 100_000_000, res["growth"]  # decoding would take 900 MB


# --------------------------------------------------------------------------- good files


def _variants(d: Path) -> dict[str, Path]:
    """The same black-on-white 7 in several modes, plus a white-on-black 4."""
    img = Image.open(SEVEN).convert("L")
    a = np.asarray(img)
    out: dict[str, Image.Image] = {
        "sixteen_bit.png": Image.fromarray(a.astype(np.uint16) * 257),
        "palette.png": img.convert("P"),
        "palette_transparent.gif": img.convert("P"),
        "cmyk.jpg": img.convert("CMYK"),
        "grey_alpha.png": img.convert("LA"),
    }
    # ink on a transparent sheet: opaque black strokes, fully transparent paper
    rgba = np.zeros((*a.shape, 4), np.uint8)
    rgba[..., 3] = 255 - a
    out["transparent_background.png"] = Image.fromarray(rgba, "RGBA")
    paths = {}
    for name, im in out.items():
        p = d / name
        if name.endswith(".gif"):
            im.save(p, transparency=int(np.asarray(im)[0, 0]))
        else:
            im.save(p)
        paths[name] = p
    return paths


@pytest.mark.parametrize("how", ["menu", "drop"])
def test_image_modes_in_the_window(window, tmp_path: Path, how: str) -> None:  # type: ignore[no-untyped-def]
    for name, path in _variants(tmp_path).items():
        window.last_error = None
        _open(window, path, how)
        assert window.last_error is None, (name, window.last_error)
        assert window.pad.has_background(), name
        assert window.top_digit_label.text() == "7", name
    _open(window, FOUR_INVERTED, how)  # white on black
    assert window.top_digit_label.text() == "4"


def test_dropped_files_are_judged_by_content_not_name(window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A PNG without an extension is opened; a text file dropped by mistake gets a message
    (it used to be refused silently at drag-enter)."""
    no_suffix = tmp_path / "scan_0001"
    no_suffix.write_bytes(SEVEN.read_bytes())
    assert drop_file(window, no_suffix)
    assert window.last_error is None and window.top_digit_label.text() == "7"
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list")
    assert drop_file(window, notes)
    assert window.last_error is not None and "notes.txt" in window.last_error
    assert "not an image" in window.last_error
    assert window.top_digit_label.text() == "7"  # the opened image stays


def test_image_modes_with_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [*map(str, _variants(tmp_path).values()), str(FOUR_INVERTED)]
    rc, out, err = _cli(capsys, "predict", "--json", *files)
    assert rc == 0, err
    digits = [r["digit"] for r in json.loads(out)]
    assert digits == [7] * (len(files) - 1) + [4]


@pytest.mark.parametrize("how", ["menu", "drop"])
@pytest.mark.parametrize("colour", [255, 0], ids=["all_white", "all_black"])
def test_blank_image_says_no_digit_not_a_guess(window, tmp_path: Path, how: str, colour: int) -> None:  # type: ignore[no-untyped-def]
    blank = tmp_path / "blank page.png"
    Image.new("RGB", (300, 200), (colour, colour, colour)).save(blank)
    _open(window, blank, how)
    assert window.last_error is None
    assert window.pad.has_background()
    assert window.probability_view.probabilities() is None
    assert window.top_digit_label.text() == "" and window.confidence_label.text() == ""
    assert window.hint_label.isVisible() and "Nothing to recognise" in window.hint_label.text()
    assert "no digit found" in window.statusBar().currentMessage()


def test_all_black_image_with_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    black = tmp_path / "black.png"
    Image.new("L", (64, 64), 0).save(black)
    rc, out, _ = _cli(capsys, "predict", "--json", str(black))
    assert rc == 0
    [r] = json.loads(out)
    assert r["digit"] is None and r["probabilities"] is None and r["error"] is None


def test_name_with_spaces_and_non_ascii(window, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mes chiffres — 数字"
    folder.mkdir()
    path = folder / "ziffer sieben ü 7 (copie).png"
    path.write_bytes(SEVEN.read_bytes())
    assert window.live.open_image(path)
    assert window.top_digit_label.text() == "7"
    window.pad.clear()
    assert drop_file(window, path)
    assert window.top_digit_label.text() == "7"
    assert window.prefs.last_directory() == folder
    rc, out, err = _cli(capsys, "predict", str(path))
    assert rc == 0, err
    assert str(path) in out
    # a bad file with such a name is named correctly in the messages
    bad = folder / "ça ne va pas 数字.png"
    bad.write_text("nope")
    assert not window.live.open_image(bad)
    assert window.last_error is not None and bad.name in window.last_error
    rc, _, err = _cli(capsys, "predict", str(bad))
    assert rc == 1 and bad.name in _error_lines(err)[0]
