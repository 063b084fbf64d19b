"""Packaging: the wheel's contents, the Linux .desktop file, and (slow) the PyInstaller
bundle built with build.spec, checked by running ``DigitPad --self-test`` inside it."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.packaging.conftest import bundle_exe as _exe

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "packaging" / "linux" / "digitpad.desktop"
LAUNCHER = ROOT / "packaging" / "digitpad_launcher.py"
DEFAULT_MODEL_FILES = ("model.keras", "model.tflite", "meta.json")
BUNDLE_SIZE_GOAL = 1200 * 2**20  # bytes on disk (du -s)


# --------------------------------------------------------------------------- the wheel


def _copy_source(dest: Path) -> Path:
    """What `python -m build` needs, copied so the build never writes into the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "*.new", "*.so", "*.pyd")
    for name in ("app", "resources", "model_store"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "LICENSE.txt", "MANIFEST.in"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    if not (dest / "README.md").exists():  # pyproject names it; the lead writes it
        (dest / "README.md").write_text("# DigitPad\n", encoding="utf-8")
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = _copy_source(tmp_path_factory.mktemp("wheel-src"))
    out = tmp_path_factory.mktemp("wheel-out")
    # --no-isolation: use the installed setuptools, download nothing; -x: the installed
    # setuptools may be older than the build requirement (any >= 61 builds this project).
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check",
         "--outdir", str(out), str(src)],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(out.glob("digitpad-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_has_every_module_of_app(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "app").rglob("*.py")
                if "__pycache__" not in p.parts}
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (add the package to [tool.setuptools] packages): {missing}"
    assert "app/py.typed" in names
    # nothing but the app and its metadata
    assert all(n.startswith(("app/", "digitpad-")) for n in names), sorted(names)


def test_wheel_is_pure_python(wheel: Path) -> None:
    """No compiled code of our own: one wheel for every platform and Python version."""
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    zf = zipfile.ZipFile(wheel)
    assert not [n for n in zf.namelist() if n.endswith((".so", ".pyd", ".dylib", ".c"))]
    meta = next(n for n in zf.namelist() if n.endswith(".dist-info/WHEEL"))
    assert "Root-Is-Purelib: true" in zf.read(meta).decode("utf-8")


def test_wheel_carries_resources_and_default_model(wheel: Path) -> None:
    zf = zipfile.ZipFile(wheel)
    info = {i.filename: i for i in zf.infolist()}
    wanted = {"app/_resources/mnist.npz": ROOT / "resources" / "mnist.npz",
              "app/_resources/icons/digitpad.png": ROOT / "resources" / "icons" / "digitpad.png"}
    wanted.update({f"app/_model_store/default/{f}": ROOT / "model_store" / "default" / f
                   for f in DEFAULT_MODEL_FILES})
    for name, src in wanted.items():
        assert name in info, f"{name} is not in the wheel"
        assert info[name].file_size == src.stat().st_size, f"{name} differs from {src}"
    assert not [n for n in info if n.startswith("app/_model_store/") and ".new/" in n]


def test_wheel_has_the_console_script(wheel: Path) -> None:
    zf = zipfile.ZipFile(wheel)
    ep = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
    parser = configparser.ConfigParser()
    parser.read_string(zf.read(ep).decode("utf-8"))
    assert parser.get("console_scripts", "digitpad").strip() == "app.cli:main"


# --------------------------------------------------------------------------- Linux integration


def test_desktop_file_is_valid() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    entry = parser["Desktop Entry"]
    for key in ("Name", "Exec", "Icon", "Type", "Categories"):
        assert entry.get(key), f"{key} is missing"
    assert entry["Type"] == "Application"
    assert entry["Name"] == "DigitPad"
    assert entry["Exec"].split()[0] == "DigitPad"  # the bundle's executable (install.sh makes it absolute)
    assert entry["Categories"].endswith(";")
    assert entry.get("Terminal", "false") == "false"
    # the icon name is installed from the bundle's icons (packaging/linux/install.sh)
    assert entry["Icon"] == "digitpad"
    assert (ROOT / "resources" / "icons" / "digitpad.png").is_file()
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_install_script_is_valid_shell() -> None:
    script = ROOT / "packaging" / "linux" / "install.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_linux_install_into_a_prefix(tmp_path: Path) -> None:
    """install.sh on a stand-in bundle: app folder, command, menu entry, icons; then uninstall."""
    bundle = tmp_path / "dist" / "DigitPad"
    (bundle / "_internal" / "resources").mkdir(parents=True)
    shutil.copytree(ROOT / "resources" / "icons", bundle / "_internal" / "resources" / "icons")
    exe = bundle / "DigitPad"
    exe.write_text("#!/bin/sh\necho fake\n")
    exe.chmod(0o755)
    prefix = tmp_path / "prefix"
    env = {**os.environ, "PREFIX": str(prefix)}
    script = str(ROOT / "packaging" / "linux" / "install.sh")
    subprocess.run(["sh", script, str(bundle)], env=env, check=True, capture_output=True)
    assert (prefix / "lib" / "digitpad" / "DigitPad").is_file()
    assert os.path.realpath(prefix / "bin" / "DigitPad") == str(prefix / "lib" / "digitpad" / "DigitPad")
    desktop = (prefix / "share" / "applications" / "digitpad.desktop").read_text()
    assert f"Exec={prefix}/lib/digitpad/DigitPad\n" in desktop
    for s in (32, 64, 128, 256):
        assert (prefix / "share" / "icons" / "hicolor" / f"{s}x{s}" / "apps" / "digitpad.png").is_file()
    subprocess.run(["sh", script, "--uninstall"], env=env, check=True, capture_output=True)
    assert not (prefix / "lib" / "digitpad").exists()
    assert not (prefix / "share" / "applications" / "digitpad.desktop").exists()


# --------------------------------------------------------------------------- the spec, fast


def test_spec_and_launcher_are_in_place() -> None:
    spec = (ROOT / "build.spec").read_text(encoding="utf-8")
    compile(spec, "build.spec", "exec")
    assert "console=False" in spec
    assert "digitpad_launcher.py" in spec
    assert (ROOT / "packaging" / "pyinstaller" / "tf_profiler_plugin_stub.py").is_file()
    for f in DEFAULT_MODEL_FILES:
        assert (ROOT / "model_store" / "default" / f).is_file(), f"the spec bundles model_store/default/{f}"


def test_launcher_imports_nothing_heavy() -> None:
    """Loading the launcher (not running it) pulls in neither Qt nor TensorFlow."""
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(LAUNCHER)!r}, run_name='not_main')\n"
        "heavy = ('tensorflow', 'keras', 'PySide6', 'numpy', 'ai_edge_litert')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the bundle (slow)


def _bundle_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QT_PLUGIN", "LD_PRELOAD"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["DIGITPAD_HOME"] = str(home)
    return env


def _without_stdio() -> None:  # pragma: no cover - runs in the child
    """Start the child like a windowed app: no stdout, no stderr (Python sees None)."""
    os.close(1)
    os.close(2)


@pytest.mark.slow
def test_bundle_self_test_passes_without_stdio(bundle: Path, tmp_path: Path) -> None:
    """The real window, drawing, prediction and a tiny training, all inside the bundle,
    started with stdout/stderr closed as a windowed app is (nothing may write to them)."""
    report = tmp_path / "report.txt"
    kwargs = {"preexec_fn": _without_stdio} if os.name == "posix" else {}
    proc = subprocess.run([str(_exe(bundle)), "--self-test", "--report", str(report)],
                          env=_bundle_env(tmp_path / "home"), stdin=subprocess.DEVNULL,
                          timeout=900, check=False, **kwargs)  # type: ignore[call-overload]
    text = report.read_text(encoding="utf-8") if report.is_file() else "(no report written)"
    assert proc.returncode == 0, text
    assert "ALL CHECKS PASSED" in text
    assert "running from: bundle" in text
    for check in ("window opens with the shipped model", "TensorFlow not loaded at start",
                  "draw a 7 with the mouse: predicts 7", "train a tiny model with the Train button",
                  "new model learned, saved in user folder, active", "new model predicts through LiteRT"):
        assert any(line.startswith("PASS") and check in line for line in text.splitlines()), text
    # trained by the bundle's own executable started as the training process (`--training-process`)
    trained = next(line for line in text.splitlines() if "train a tiny model with the Train button" in line)
    assert "in the training process, pid " in trained and "the bundle's executable" in trained, trained
    # the new model went to the user's folder, not into the bundle
    trained = [p.parent.name for p in (tmp_path / "home" / "models").glob("*/model.tflite")]
    assert trained
    assert not [p for p in bundle.rglob("*") if p.name in trained]


@pytest.mark.slow
def test_bundle_starts_and_predicts_without_tensorflow(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "probe.json"
    proc = subprocess.run([str(_exe(bundle)), "--startup-probe", str(out)],
                          env=_bundle_env(tmp_path / "home"), capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    probe = json.loads(out.read_text(encoding="utf-8"))
    assert probe["ok"] and probe["predicted"] == "7" and probe["frozen"] is True
    assert probe["tensorflow_loaded"] is False
    assert probe["model"] == "default"


@pytest.mark.slow
def test_bundle_contents_and_size(bundle: Path) -> None:
    if sys.platform == "darwin":
        internal = bundle / "DigitPad.app" / "Contents" / "Resources"
    else:
        internal = bundle / "DigitPad" / "_internal"
    assert (internal / "resources" / "mnist.npz").is_file()
    assert (internal / "resources" / "icons" / "digitpad.png").is_file()
    for f in DEFAULT_MODEL_FILES:
        assert (internal / "model_store" / "default" / f).is_file()
    assert (internal / "ai_edge_litert").is_dir()
    for unwanted in ("scipy", "sklearn", "IPython", "PyQt5", "PyQt6", "PySide2", "tkinter", "matplotlib",
                     "pandas", "tensorboard", "PySide6/Qt/translations", "PySide6/Qt/qml"):
        assert not (internal / unwanted).exists(), f"{unwanted} should not be bundled"
    qt_libs = {p.name.split(".")[0] for p in (internal / "PySide6" / "Qt" / "lib").glob("libQt6*")} \
        if (internal / "PySide6" / "Qt" / "lib").is_dir() else set()
    for unwanted_lib in ("libQt6WebEngineCore", "libQt6Quick", "libQt6Qml", "libQt6Pdf", "libQt6Multimedia"):
        assert unwanted_lib not in qt_libs
    broken = [str(p) for p in internal.rglob("*") if p.is_symlink() and not p.exists()]
    assert not broken, f"dangling links: {broken[:10]}"
    used = 0
    seen: set[int] = set()
    for p in bundle.rglob("*"):
        st = p.lstat()
        if st.st_ino not in seen:
            seen.add(st.st_ino)
            used += getattr(st, "st_blocks", 0) * 512 or st.st_size
    print(f"\nbundle size: {used / 2**20:.0f} MiB")
    assert used <= BUNDLE_SIZE_GOAL, f"the bundle takes {used / 2**20:.0f} MiB (goal 1200 MiB)"


def _ours(lib: str) -> bool:
    """A library that comes with the Python packages (not one the OS provides)."""
    if lib.startswith(("libQt6", "libpyside6", "libshiboken6", "libtensorflow", "libpython", "libpywrap",
                       "libLiteRt", "libicu")):
        return True
    import PySide6

    return (Path(PySide6.__file__).parent / "Qt" / "lib" / lib).exists()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux") or not shutil.which("ldd"), reason="Linux ldd")
def test_bundle_libraries_find_their_dependencies(bundle: Path) -> None:
    """After trimming Qt plugins and libraries, every library still finds the Qt, Python and
    TensorFlow libraries it links (OS libraries the build machine lacks, such as GTK or
    libxcb-icccm, are the user's system's business: the .deb's Depends, tests/packaging/test_deb.py)."""
    internal = bundle / "DigitPad" / "_internal"
    env = {**os.environ, "LD_LIBRARY_PATH": str(internal)}
    missing: list[str] = []
    libs = [p for p in internal.rglob("*.so*") if p.is_file() and not p.is_symlink()]
    for i in range(0, len(libs), 50):
        chunk = libs[i: i + 50]
        out = subprocess.run(["ldd", *map(str, chunk)], env=env, capture_output=True, text=True,
                             check=False).stdout
        current = str(chunk[0])  # ldd names each file only when given several
        for line in out.splitlines():
            if line.endswith(":") and not line.startswith("\t"):
                current = line[:-1]
            elif "not found" in line and _ours(line.split()[0]):
                missing.append(f"{Path(current).relative_to(internal)}: {line.strip()}")
    assert not missing, "\n".join(missing)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="what build.spec trims on Linux")
def test_bundle_is_trimmed(bundle: Path) -> None:
    """What build.spec leaves out on Linux: the GTK platform theme with the system
    libraries only it needed, and TensorFlow's CUDA kernels (blanked, and holes on disk)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("elf", ROOT / "packaging" / "pyinstaller" / "elf.py")
    assert spec is not None and spec.loader is not None
    elf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(elf)
    internal = bundle / "DigitPad" / "_internal"
    assert not list(internal.rglob("libqgtk3*"))
    for lib in ("libgtk-3.so.0", "libgdk-3.so.0", "libcairo.so.2", "libpango-1.0.so.0", "libatk-1.0.so.0",
                "libkrb5.so.3"):
        assert not (internal / lib).exists(), f"{lib} is only needed by what build.spec drops"
    for lib in ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2"):
        path = internal / "tensorflow" / lib
        where = elf.section(path, ".nv_fatbin")
        assert where is not None, f"{lib} has no CUDA kernels any more: drop the blanking from build.spec"
        offset, size = where
        with open(path, "rb") as fh:
            fh.seek(offset)
            assert not fh.read(size).strip(b"\0"), f"the CUDA kernels in {lib} are not blanked"
        st = path.stat()
        assert st.st_blocks * 512 < st.st_size - size // 2, f"{lib}: the zeros take disk space (no holes)"
    # the runtime hook that keeps TensorFlow off any GPU is in the bundle's executable
    assert b"rthook_cpu_only" in (bundle / "DigitPad" / "DigitPad").read_bytes()
