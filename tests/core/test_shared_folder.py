"""Two DigitPads on one folder, as real processes: nothing lost, nothing mixed up.

Each test starts real processes (the samples calls the window makes: keep a drawing, delete
one; the CLI) against one DIGITPAD_HOME at the same moment, then counts every sample and
model afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from app.core.samples import SampleStore
from app.core.store import ModelStore
from tests.conftest import ROOT

# What the window does when the user presses a digit key: SampleStore.add with the drawing's
# 28x28 input and strokes. Each drawing's strokes encode the value painted in its image, so a
# sample carrying another drawing's strokes is seen.
_CORRECTOR = r"""
import sys, time
from pathlib import Path
import numpy as np
from app.core.samples import SampleStore

home, base, count, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
while not go.exists():
    time.sleep(0.01)
for k in range(count):
    value = base + k
    image = np.full((28, 28), value, np.uint8)
    strokes = [(((value / 1000.0, 0.5), (0.5, 0.5)), 0.05)]
    SampleStore(home).add(image, value % 10, strokes)
print("DONE", flush=True)
"""


# What the Personal samples window does when the user selects a sample and presses Delete.
_DELETER = r"""
import sys, time
from pathlib import Path
from app.core.samples import SampleStore

home, go, ids = sys.argv[1], Path(sys.argv[2]), [int(a) for a in sys.argv[3:]]
while not go.exists():
    time.sleep(0.01)
for sid in ids:
    assert SampleStore(home).delete([sid]) == 1, sid
print("DONE", flush=True)
"""


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, DIGITPAD_HOME=str(home), PYTHONPATH=str(ROOT))


def _wait(procs: list[subprocess.Popen[str]], timeout: float) -> list[tuple[int, str, str]]:
    deadline = time.monotonic() + timeout
    results = []
    for p in procs:
        out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
        results.append((p.returncode, out, err))
    return results


def _check_consistent(store: SampleStore) -> None:
    """Every sample carries its own drawing's strokes."""
    for s in store.samples():
        value = int(s.image[0, 0])
        assert s.label == value % 10
        assert s.strokes is not None and round(s.strokes[0][0][0][0] * 1000) == value, s.id


def test_two_windows_correcting_at_once_lose_nothing(tmp_path: Path) -> None:
    home, go = tmp_path / "home", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _CORRECTOR, str(home), str(base), "25", str(go)],
                              cwd=ROOT, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for base in (0, 100)]
    time.sleep(1.0)
    go.touch()
    for rc, out, err in _wait(procs, 240):
        assert rc == 0 and "DONE" in out, err
    store = SampleStore(home)
    assert len(store) == 50 and store.problems == []
    assert sorted(int(s.image[0, 0]) for s in store.samples()) == [*range(25), *range(100, 125)]
    _check_consistent(store)


def test_deleting_while_another_digitpad_adds_loses_and_revives_nothing(tmp_path: Path) -> None:
    home, go = tmp_path / "home", tmp_path / "go"
    store = SampleStore(home)
    kept = [store.add(np.full((28, 28), 200 + k, np.uint8), (200 + k) % 10,
                      [((((200 + k) / 1000.0, 0.5), (0.5, 0.5)), 0.05)]).id for k in range(30)]
    doomed = kept[::2]
    procs = [subprocess.Popen([sys.executable, "-c", _CORRECTOR, str(home), "0", "25", str(go)],
                              cwd=ROOT, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True),
             subprocess.Popen([sys.executable, "-c", _DELETER, str(home), str(go), *map(str, doomed)],
                              cwd=ROOT, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)]
    time.sleep(1.0)
    go.touch()
    for rc, out, err in _wait(procs, 240):
        assert rc == 0 and "DONE" in out, err
    store = SampleStore(home)
    assert len(store) == 30 - 15 + 25 and store.problems == []
    assert not set(doomed) & set(store.ids())  # no deleted sample came back
    assert sorted(int(s.image[0, 0]) for s in store.samples()) == sorted(
        [*range(25), *(200 + k for k in range(1, 30, 2))])
    _check_consistent(store)


def test_two_cli_imports_at_once_lose_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    five = tmp_path / "five.npz"
    np.savez_compressed(five, x_train=np.zeros((5, 28, 28), np.uint8), y_train=np.arange(5, dtype=np.uint8))
    loop = f'for i in 1 2 3 4 5 6; do "{sys.executable}" -m app samples import "{five}" || exit 1; done'
    procs = [subprocess.Popen(["bash", "-c", loop], cwd=ROOT, env=_env(home), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for rc, _out, err in _wait(procs, 300):
        assert rc == 0, err
    store = SampleStore(home)
    assert len(store) == 60 and len(set(store.ids())) == 60
    assert store.counts() == [12] * 5 + [0] * 5


def test_two_finetunes_at_once_both_save_their_model(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rng = np.random.default_rng(0)
    from app.core.data import load_mnist

    (x, y), _ = load_mnist()
    pick = rng.choice(len(x), 12, replace=False)
    samples = SampleStore(home)
    for i in pick:
        samples.add(x[i], int(y[i]))
    # (--activate always: a score on 100 test images is not compared with the model in
    # use's on all 10 000; which of the two ends up in use is what is tested)
    argv = [sys.executable, "-m", "app", "finetune", "--epochs", "1", "--mnist-images", "100",
            "--mnist-test", "100", "--activate", "always"]
    procs = [subprocess.Popen(argv, cwd=ROOT, env=_env(home), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = _wait(procs, 600)
    for rc, _out, err in results:
        assert rc == 0, err
        assert "epoch 1/1" in err  # fine-tuning shows its progress, as train does
    store = ModelStore(home=home)
    mine = sorted(n for n in store.names() if n.startswith("default-mine"))
    assert mine == ["default-mine", "default-mine-2"], store.problems
    saved = sorted(out.split("saved model ")[1].split()[0].strip("'") for _rc, out, _err in results)
    assert saved == mine
    assert store.active_name() in mine
