"""The Debian package of the bundle: ``digitpad_<version>_<arch>.deb`` (used by tools/release.py).

What it installs: the bundle in /opt/digitpad, the ``digitpad`` command (/usr/bin, a link
to /opt/digitpad/DigitPad), the menu entry and the icon in four sizes. The menu and icon
caches are refreshed by the triggers of the packages that own them; nothing in the user's
home is touched, so removing the package leaves the user's models and settings alone.

``Depends:`` is read from the bundle itself: every library a file in it links (DT_NEEDED)
that the bundle does not carry is looked up on this machine (``ldconfig -p``, ``dpkg -S``)
and its package listed; libc6 gets the oldest version that has every glibc symbol version
the files ask for. So it lists exactly what Qt's xcb/Wayland platforms, Python and the rest
need from the system, no more (plus the data files two carried libraries read: fonts
configuration and keyboard layouts); building on a machine that lacks one of them fails
and names it (install it and build again).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "packaging" / "linux" / "debian"
DESKTOP = ROOT / "packaging" / "linux" / "digitpad.desktop"
ICON_SIZES = (32, 64, 128, 256)
PREFIX = "/opt/digitpad"
COMMAND = "/usr/bin/digitpad"


def _elf() -> Any:
    """packaging/pyinstaller/elf.py (``packaging/`` is not a package: PyPI's ``packaging`` is)."""
    spec = importlib.util.spec_from_file_location("digitpad_elf", ROOT / "packaging" / "pyinstaller"
                                                  / "elf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v))


def external_libraries(bundle: Path) -> tuple[dict[str, list[str]], str | None]:
    """({soname the bundle does not carry: [files in the bundle that link it]},
    the newest GLIBC_x.y symbol version any file needs)."""
    elf = _elf()
    carried = {p.name for p in bundle.rglob("*")}
    users: dict[str, list[str]] = {}
    glibc: str | None = None
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file() or not elf.is_elf(path):
            continue
        rel = str(path.relative_to(bundle))
        for name in elf.needed(path):
            if name not in carried:
                users.setdefault(name, []).append(rel)
        for versions in elf.version_needs(path).values():
            for v in versions:
                if v.startswith("GLIBC_") and v[6:7].isdigit() and (
                        glibc is None or _version_key(v) > _version_key(glibc)):
                    glibc = v
    return users, glibc[6:] if glibc else None


def _system_paths() -> dict[str, str]:
    """soname -> path of this machine's libraries for its own architecture (ldconfig -p)."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    arch = {"x86_64": "x86-64", "aarch64": "AArch64"}.get(os.uname().machine, "")
    paths: dict[str, str] = {}
    for line in out.splitlines()[1:]:
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m and (not arch or arch in m.group(2)):
            paths.setdefault(m.group(1), m.group(3))
    return paths


def _owner(path: str) -> str | None:
    """The package that installed ``path`` (trying the /usr-merged spelling too)."""
    candidates = [path]
    if path.startswith("/usr/lib/"):
        candidates.append(path[4:])
    elif path.startswith("/lib/"):
        candidates.append("/usr" + path)
    for p in candidates:
        proc = subprocess.run(["dpkg-query", "-S", p], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return proc.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


# Data (not libraries) that system libraries the bundle carries read from the system:
# fontconfig's configuration (or Qt finds no fonts) and the keyboard layouts (XKB).
DATA_DEPENDS = {"libfontconfig.so.1": "fontconfig-config", "libxkbcommon.so.0": "xkb-data"}


def depends(bundle: Path) -> list[str]:
    """The Depends: entries of the bundle (see the module docstring)."""
    users, glibc = external_libraries(bundle)
    paths = _system_paths()
    packages: set[str] = set()
    missing: list[str] = []
    for name, files in sorted(users.items()):
        owner = _owner(paths[name]) if name in paths else None
        if owner is None:
            missing.append(f"{name} (needed by {files[0]})")
        else:
            packages.add(owner)
    if missing:
        raise SystemExit("cannot tell which package provides these libraries (install them, then build "
                         "the .deb again):\n  " + "\n  ".join(missing))
    carried = {p.name for p in bundle.rglob("*.so*")}
    packages |= {pkg for lib, pkg in DATA_DEPENDS.items() if lib in carried}
    entries = sorted(packages - {"libc6"})
    return [f"libc6 (>= {glibc})" if glibc else "libc6", *entries]


def _disk_kib(folder: Path) -> int:
    """Installed-Size: the apparent size (dpkg writes every file whole)."""
    return sum(p.lstat().st_size for p in folder.rglob("*")) // 1024 + 1


def _maintainer() -> str:
    name, email = os.environ.get("DEBFULLNAME"), os.environ.get("DEBEMAIL")
    return f"{name or 'DigitPad developers'} <{email or 'digitpad@invalid'}>"


def deb_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def build_deb(bundle: Path, out: Path, version: str, level: int = 19) -> Path:
    """Make ``out/digitpad_<version>_<arch>.deb`` from the bundle folder ``bundle``.

    Compressed with zstd at ``level``: every system the bundle runs on (glibc 2.35+: Debian
    12, Ubuntu 22.04 and newer) has a dpkg that reads it, and dpkg unpacks it in a fraction
    of xz's time at install."""
    arch = deb_arch()
    deb = out / f"digitpad_{version}_{arch}.deb"
    with tempfile.TemporaryDirectory(prefix="digitpad-deb-", dir=out) as tmp:
        root = Path(tmp) / "root"
        app = root / PREFIX.lstrip("/")
        app.parent.mkdir(parents=True)
        try:  # hard links: the 1.2 GB bundle is read by dpkg-deb, not copied first
            shutil.copytree(bundle, app, symlinks=True, copy_function=os.link)
        except OSError:  # another file system
            shutil.rmtree(app, ignore_errors=True)
            shutil.copytree(bundle, app, symlinks=True)
        (root / "usr" / "bin").mkdir(parents=True)
        os.symlink(f"{PREFIX}/DigitPad", root / COMMAND.lstrip("/"))
        share = root / "usr" / "share"
        desktop = DESKTOP.read_text(encoding="utf-8")
        desktop = re.sub(r"(?m)^Exec=.*$", "Exec=digitpad", desktop)
        desktop = re.sub(r"(?m)^TryExec=.*$", "TryExec=digitpad", desktop)
        (share / "applications").mkdir(parents=True)
        (share / "applications" / "digitpad.desktop").write_text(desktop, encoding="utf-8")
        icons = bundle / "_internal" / "resources" / "icons"
        for s in ICON_SIZES:
            src = icons / f"digitpad-{s}.png"
            if not src.is_file():
                src = icons / "digitpad.png"  # the 256 px one
            dest = share / "icons" / "hicolor" / f"{s}x{s}" / "apps"
            dest.mkdir(parents=True)
            shutil.copyfile(src, dest / "digitpad.png")
        doc = share / "doc" / "digitpad"
        doc.mkdir(parents=True)
        shutil.copyfile(TEMPLATES / "copyright", doc / "copyright")

        control = (TEMPLATES / "control").read_text(encoding="utf-8")
        for key, value in {"VERSION": version, "ARCH": arch, "MAINTAINER": _maintainer(),
                           "INSTALLED_SIZE": str(_disk_kib(root)),
                           "DEPENDS": ", ".join(depends(bundle))}.items():
            control = control.replace(f"@{key}@", value)
        meta = root / "DEBIAN"
        meta.mkdir()
        (meta / "control").write_text(control, encoding="utf-8")
        shutil.copyfile(TEMPLATES / "postinst", meta / "postinst")
        # what this function wrote (not the bundle's own files: hard links to dist/)
        for d in [root, *(p for p in root.rglob("*") if app not in p.parents and p != app)]:
            if not d.is_symlink():
                d.chmod(0o755 if d.is_dir() else 0o644)
        (meta / "postinst").chmod(0o755)
        compression = ["-Zzstd", f"-z{level}"]
        tmp_deb = Path(tmp) / deb.name
        subprocess.run(["dpkg-deb", "--root-owner-group", *compression, "-b", str(root), str(tmp_deb)],
                       check=True, stdout=subprocess.DEVNULL)
        os.replace(tmp_deb, deb)
    return deb
