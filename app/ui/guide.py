"""Help ▸ User guide: the README's sections on using DigitPad, offline, in a window of its own.

The text comes from README.md (a source checkout or a bundle) or, in an installed wheel,
from the package's description (the same README); pictures are left out (they are not
shipped) and links open in the browser.
"""

from __future__ import annotations

import re
from importlib import metadata

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from app.core import paths
from app.ui.screenfit import resize_within_screen

# The README's level-2 sections shown (by the start of their heading), in README order
GUIDE_SECTIONS = ("Using it", "Teach it your handwriting")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


def readme_text() -> str:
    """The README's Markdown ("" when there is none)."""
    path = paths.readme_path()
    if path is not None:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass
    try:
        return metadata.metadata("digitpad").get_payload() or ""  # type: ignore[attr-defined]
    except (metadata.PackageNotFoundError, OSError):
        return ""


def usage_markdown(readme: str) -> str:
    """The README's usage sections (GUIDE_SECTIONS with their subsections), without the
    tables of screenshots (pictures and captions) and without other pictures."""
    kept: list[str] = []
    table: list[str] = []
    keep = False
    for line in [*readme.splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table and keep and not any(_IMAGE.search(row) for row in table):
            kept += table
        table = []
        if line.startswith("## "):
            keep = line[3:].strip().startswith(GUIDE_SECTIONS)
        if keep:
            kept.append(_IMAGE.sub("", line))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return text + "\n" if text else ""


class UserGuideDialog(QDialog):
    """The usage sections of the README, readable without a network."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("userGuideDialog")
        self.setWindowTitle("User guide")
        self.browser = QTextBrowser()
        self.browser.setObjectName("userGuideText")
        self.browser.setOpenExternalLinks(True)
        text = usage_markdown(readme_text())
        self.browser.setMarkdown(text or "The user guide is not part of this copy of DigitPad: "
                                 "it is the section *Using it* of DigitPad's README.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        resize_within_screen(self, 720, 640)

    def text(self) -> str:
        """The guide as plain text (what the reader sees)."""
        return self.browser.toPlainText()
