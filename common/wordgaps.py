"""Word gaps from the image, where OCR glued two words of a name ("Pereira deSimões").

The recognizer emits a space only where it saw one, and on small or recompressed text it misses
some. The box's own crop says where the ink stops: between two characters the engine read side
by side, a run of empty columns as wide as the line's other word gaps is a space. Only names are
re-spaced, and only by inserting spaces (never by moving letters): the letters stay the OCR's.
"""

from __future__ import annotations

import math
import re

# A gap between two characters is a space when it is at least SPACE_SHARE of the line's narrowest
# gap that OCR read as a space and LETTER_GAPS times the line's usual gap between letters.
SPACE_SHARE = 0.7
LETTER_GAPS = 2.5
# And at least MIN_GAP_HEIGHTS of the box's height: the characters' x (CTC frames) are coarse,
# and at small sizes a space is barely wider than a letter gap.
MIN_GAP_HEIGHTS = 0.2
MIN_SPACES = 1  # a line needs a space OCR did read, to know how wide this font's spaces are
FAINT = 0.2  # a column with any ink above this is no gap (a thin i or l at small sizes is faint)


def respace(name: str | None, pages: list) -> str | None:
    """`name` with the spaces its box's crop shows and the text lacks; `name` unchanged when no
    box holding it can be measured."""
    if not name or not pages:
        return name
    letters = re.sub(r"\s+", "", name)
    for page in pages:
        engine = getattr(page, "engine", None)
        if engine is None or not hasattr(engine, "reread") or page.image is None:
            continue
        for word in page.words:
            if letters not in re.sub(r"\s+", "", word.text) or word.chars:
                continue
            spaced = _spaced_text(word.text, *engine.reread(page, word, 0.0))
            found = _span(spaced, name) if spaced else None
            if found:
                return found
    return name


def _spaced_text(text: str, crop, readings: list) -> str | None:
    """The box's text with a space wherever the ink shows one; None when the readings do not
    match the text character for character, or the line shows no space to measure against."""
    import numpy as np  # here, not at the top: the status function imports this module without numpy

    from common import glyphs

    chars = [c for c in text if not c.isspace()]
    if crop is None or len(readings) != len(chars) or any(r.char != c for r, c in zip(readings, chars)):
        return None
    ink = glyphs._ink(crop)
    if ink is None:
        return None
    inked = ink.max(axis=0) >= FAINT
    spaced_after = _letter_gaps(text)
    gaps = [_widest_blank(inked, a.x, b.x) for a, b in zip(readings, readings[1:])]
    space_gaps = [g for g, spaced in zip(gaps, spaced_after) if spaced]
    letter_gaps = [g for g, spaced in zip(gaps, spaced_after) if not spaced]
    if len(space_gaps) < MIN_SPACES or not letter_gaps:
        return None
    threshold = max(
        SPACE_SHARE * min(space_gaps), LETTER_GAPS * float(np.median(letter_gaps)), MIN_GAP_HEIGHTS * crop.shape[0]
    )
    out = []
    for index, char in enumerate(chars):
        out.append(char)
        if index < len(spaced_after) and (spaced_after[index] or gaps[index] >= threshold):
            out.append(" ")
    return "".join(out)


def _widest_blank(inked, left: float, right: float) -> int:
    """The widest run of empty columns between two characters' centres (px)."""
    start, stop = math.ceil(left), math.floor(right) + 1
    best = run = 0
    for filled in inked[max(start, 0) : min(stop, inked.size)]:
        run = 0 if filled else run + 1
        best = max(best, run)
    return best


def _span(spaced: str, name: str) -> str | None:
    """The part of `spaced` that holds `name`'s letters in order, with its spaces; None when
    the spacing only moved (a space of the name missing here is kept: nothing is ever removed)."""
    letters = re.sub(r"\s+", "", name)
    flat = spaced.replace(" ", "")
    start = flat.find(letters)
    if start < 0:
        return None
    # Map letter offsets to positions in `spaced`.
    positions = [i for i, c in enumerate(spaced) if c != " "]
    piece = spaced[positions[start] : positions[start + len(letters) - 1] + 1]
    wanted = {i for i, c in enumerate(_letter_gaps(name)) if c}
    have = {i for i, c in enumerate(_letter_gaps(piece)) if c}
    if not wanted <= have:
        return None
    return piece if have != wanted else name


def _letter_gaps(text: str) -> list[bool]:
    """For each letter but the last: is a space after it?"""
    out: list[bool] = []
    for char in text:
        if char.isspace():
            if out:
                out[-1] = True
        else:
            out.append(False)
    return out[:-1]
