"""The first TensorFlow import (app.core.tf): the shared libraries are loaded first without
the GIL, the collector is paused during the import and is back afterwards, and TensorFlow
works after it. In a fresh process, since this one may have imported TensorFlow already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

CODE = r"""
import gc, json, sys
from app.core import tf as tfmod
out = {"before": "tensorflow" in sys.modules}
paused = []
real_disable = gc.disable
gc.disable = lambda: (paused.append(1), real_disable())
loaded = tfmod._preload_libraries()
out["preloaded"] = loaded
maps = open("/proc/self/maps").read()
out["cc_mapped_before_import"] = "libtensorflow_cc" in maps and "tensorflow" not in sys.modules
tf = tfmod.import_tf()
out["paused"] = bool(paused)
out["gc_enabled_after"] = gc.isenabled()
out["frozen"] = gc.get_freeze_count()
out["sum"] = float(tf.reduce_sum(tf.constant([1.0, 2.0, 3.0])).numpy())
keras = tfmod.import_keras()
out["keras_backend"] = keras.backend.backend()
print("RESULT " + json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload is Linux-only")
def test_first_import_preloads_the_libraries_and_restores_the_collector() -> None:
    res = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    line = next(x for x in res.stdout.splitlines() if x.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    assert out["before"] is False
    assert out["preloaded"] == 3  # framework, cc and the Python extension: all found
    assert out["cc_mapped_before_import"] is True  # loaded by the preload, not by the import
    assert out["paused"] and out["gc_enabled_after"]  # paused during the import, back after
    assert out["frozen"] > 100_000  # TensorFlow's objects are out of the collector's reach
    assert out["sum"] == 6.0 and out["keras_backend"] == "tensorflow"
