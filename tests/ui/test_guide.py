"""Help ▸ User guide: the README's usage sections, offline."""

from __future__ import annotations

from app.ui.guide import readme_text, usage_markdown


def test_usage_sections_of_the_readme() -> None:
    text = usage_markdown(readme_text())
    assert text.startswith("## Using it")
    assert "## Teach it your handwriting" in text and "Correct it." in text
    assert "## How it is built" not in text and "## Performance" not in text
    assert "![" not in text and "docs/screenshots" not in text  # no pictures (not shipped)


def test_usage_markdown_keeps_tables_without_pictures() -> None:
    readme = ("# X\n\n## Using it\n\n| a | b |\n|---|---|\n| ![p](p.png) | ![q](q.png) |\n| one | two |\n\n"
              "Text.\n\n| key | does |\n|---|---|\n| Esc | clears |\n\n## Other\n\nNo.\n")
    text = usage_markdown(readme)
    assert "| Esc | clears |" in text and "Text." in text
    assert "one" not in text and "p.png" not in text and "No." not in text
    assert usage_markdown("# Nothing here\n") == ""
