#!/bin/sh
# Install the built DigitPad bundle on Linux: the app folder, a DigitPad command, the menu
# entry (.desktop file) and the icon in four sizes.
#
#   packaging/linux/install.sh [BUNDLE_DIR]          # for you: ~/.local (default)
#   sudo PREFIX=/usr/local packaging/linux/install.sh  # for everyone
#   packaging/linux/install.sh --uninstall
#
# BUNDLE_DIR defaults to dist/DigitPad (build it with: pyinstaller --noconfirm --clean build.spec).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix=${PREFIX:-$HOME/.local}
appdir=$prefix/lib/digitpad
sizes="32 64 128 256"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 \
        && update-desktop-database -q "$prefix/share/applications" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 \
        && gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$appdir"
    rm -f "$prefix/bin/DigitPad" "$prefix/share/applications/digitpad.desktop"
    for s in $sizes; do rm -f "$prefix/share/icons/hicolor/${s}x${s}/apps/digitpad.png"; done
    refresh
    echo "DigitPad removed from $prefix (your models and settings are kept)."
    exit 0
fi

bundle=${1:-$root/dist/DigitPad}
if [ ! -x "$bundle/DigitPad" ]; then
    echo "No bundle at $bundle. Build it first: pyinstaller --noconfirm --clean build.spec" >&2
    exit 1
fi
icons=$bundle/_internal/resources/icons

mkdir -p "$prefix/lib" "$prefix/bin"
rm -rf "$appdir.new"
cp -a "$bundle" "$appdir.new"
rm -rf "$appdir"
mv "$appdir.new" "$appdir"
ln -sf "$appdir/DigitPad" "$prefix/bin/DigitPad"

for s in $sizes; do
    src=$icons/digitpad-$s.png
    [ -f "$src" ] || src=$icons/digitpad.png  # the 256 px icon
    install -D -m 644 "$src" "$prefix/share/icons/hicolor/${s}x${s}/apps/digitpad.png"
done

mkdir -p "$prefix/share/applications"
sed -e "s|^Exec=.*|Exec=$appdir/DigitPad|" -e "s|^TryExec=.*|TryExec=$appdir/DigitPad|" \
    "$here/digitpad.desktop" > "$prefix/share/applications/digitpad.desktop"
chmod 644 "$prefix/share/applications/digitpad.desktop"
refresh
echo "DigitPad installed in $appdir; run it from the applications menu or with: $prefix/bin/DigitPad"
