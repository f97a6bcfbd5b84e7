"""Rewrite the configuration table of docs/configuration.md from common/config.py, where every
setting is declared once: `python -m tools.config_table` (tests/test_config.py checks it is current)."""

from __future__ import annotations

import os
import re

from common import config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "configuration.md")
START = "<!-- generated from common/config.py: python -m tools.config_table -->\n"
END = "<!-- end of the generated table -->\n"


def table_in(text: str) -> str:
    """The generated part of the document's text (what sits between the two markers)."""
    match = re.search(re.escape(START) + "(.*?)" + re.escape(END), text, re.S)
    if match is None:
        raise ValueError(f"{DOC} lacks the markers of the generated table")
    return match.group(1)


def rewrite(text: str) -> str:
    return text.replace(START + table_in(text) + END, START + config.markdown_table() + END)


def main() -> None:
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(rewrite(text))
    print(f"wrote the table of {len(config.variables())} variables into {os.path.relpath(DOC, ROOT)}")


if __name__ == "__main__":
    main()
