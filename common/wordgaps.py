"""Word gaps from the image, where OCR glued two words of a name ("Pereira deSimões"), and
gutters, where the detector joined two cells of a row into one box.

The recognizer emits a space only where it saw one, and on small or recompressed text it misses
some. The box's own crop says where the ink stops: between two characters the engine read side
by side, a run of empty columns as wide as the line's other word gaps is a space. Only names are
re-spaced, and only by inserting spaces (never by moving letters): the letters stay the OCR's.
A space whose blank is far wider than any word gap is a gutter between two columns (`gutter`).
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
# A gutter between two cells is a blank at least GUTTER_HEIGHTS of the box's height (a word gap is
# about a quarter of it) and GUTTER_SPACES times the box's widest other word gap.
GUTTER_HEIGHTS = 0.6
GUTTER_SPACES = 2.0
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

    inked = _inked_columns(text, crop, readings)
    if inked is None:
        return None
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
    for index, char in enumerate(c for c in text if not c.isspace()):
        out.append(char)
        if index < len(spaced_after) and (spaced_after[index] or gaps[index] >= threshold):
            out.append(" ")
    return "".join(out)


def gutter(text: str, crop, readings: list, x: float) -> tuple[str, float, str, float] | None:
    """A box's text cut at the gutter nearest crop x: (the text before it, where the ink before
    it ends, the text after it, where the ink after it starts), crop px. A gutter is a space
    OCR read whose blank is far wider than a word gap (GUTTER_HEIGHTS, GUTTER_SPACES); None
    when there is none, or the readings do not match the text character for character."""
    inked = _inked_columns(text, crop, readings)
    if inked is None:
        return None
    spaces = [k for k, spaced in enumerate(_letter_gaps(text)) if spaced]
    blanks = {k: _blank_run(inked, readings[k].x, readings[k + 1].x) for k in spaces}
    widths = {k: stop - start for k, (start, stop) in blanks.items()}
    wide = [
        k
        for k in spaces
        if widths[k] >= GUTTER_HEIGHTS * crop.shape[0]
        and all(widths[k] >= GUTTER_SPACES * w for j, w in widths.items() if j != k)
    ]
    if not wide:
        return None
    k = min(wide, key=lambda j: abs(blanks[j][1] - x))
    words, count = text.split(), spaces.index(k) + 1  # each space ends a word
    return " ".join(words[:count]), float(blanks[k][0]), " ".join(words[count:]), float(blanks[k][1])


def _inked_columns(text: str, crop, readings: list):
    """Which columns of the box's crop hold ink; None when the readings do not match the text's
    characters one for one (their x would not say where each one is) or the crop has no ink."""
    from common import glyphs

    chars = [c for c in text if not c.isspace()]
    if crop is None or len(readings) != len(chars) or any(r.char != c for r, c in zip(readings, chars)):
        return None
    ink = glyphs._ink(crop)
    return None if ink is None else ink.max(axis=0) >= FAINT


def _widest_blank(inked, left: float, right: float) -> int:
    """The widest run of empty columns between two characters' centres (px)."""
    start, stop = _blank_run(inked, left, right)
    return stop - start


def _blank_run(inked, left: float, right: float) -> tuple[int, int]:
    """(first, one past the last) empty column of the widest empty run between two characters'
    centres (crop px); (0, 0) when there is none."""
    start, stop = math.ceil(left), math.floor(right) + 1
    best, run_start = (0, 0), None
    for column in range(max(start, 0), min(stop, inked.size)):
        if inked[column]:
            run_start = None
            continue
        run_start = column if run_start is None else run_start
        if column + 1 - run_start > best[1] - best[0]:
            best = (run_start, column + 1)
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
