"""Placeholder: the glyph geometry (replaced by the real module)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    read: str
    decided: str | None
    options: tuple
    why: str


def resolve(crop, chars):
    return [Verdict(c, None, (c,), "not_measured") for c, _ in chars]
