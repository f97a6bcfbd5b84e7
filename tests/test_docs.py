"""The README stays a short front page and every link in it and in docs/ leads somewhere."""

from __future__ import annotations

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md"] + [
    f"docs/{name}.md" for name in ("api", "configuration", "deployment", "operations", "extending", "psp")
]


def read(path: str) -> str:
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_readme_is_at_most_350_lines():
    assert len(read("README.md").splitlines()) <= 350


@pytest.mark.parametrize("path", DOCS)
def test_every_relative_link_leads_to_a_file_and_heading(path):
    text = read(path)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s):, mailto:
        file, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(os.path.join(ROOT, resolved)):
            broken.append(target)
        elif anchor and resolved.endswith(".md") and anchor not in anchors(read(resolved)):
            broken.append(target)
    assert broken == []


def test_a_broken_anchor_is_noticed():
    assert "queue-modes" in anchors("## Queue modes\n")
    assert "the-local-stack" in anchors("# Ops\n## The local stack\n")
    assert "not-there" not in anchors("## Queue modes\n```\n## not there\n```\n")


@pytest.mark.parametrize("path", DOCS)
def test_every_documented_command_that_starts_a_function_listens_on_loopback(path):
    """functions-framework listens on 0.0.0.0 unless given --host; the documented commands run
    without API keys, so they must not open the functions to the network."""
    text = read(path)
    # A command, with its backslash-continued lines joined.
    commands = re.sub(r"\\\n\s*", " ", text).splitlines()
    starting = [line for line in commands if re.search(r"functions-framework\s+--", line)]
    assert all("--host 127.0.0.1" in line for line in starting), starting
