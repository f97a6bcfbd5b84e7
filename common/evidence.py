"""How sure the extractor is of the end-to-end id it read, character by character.

OCR reads `l` as `I`, `0` as `O`, `z` as `Z` with a line score of 0.9999, and a wrong id sent out
as certain is the worst thing this product can do. So every character of the id gets evidence:
- the recognizer's own per-character probabilities (RapidOCR's CTC output from its pass over the
  page, Cloud Vision's symbol confidences) and, where a look-alike is still open, a second
  reading of the id's box padded (the same text at another scale for the model): they must agree;
- the glyphs' geometry on the box's crop (common.glyphs): cap height, x-height and digit width
  measured on the id's known part (`E` + 20 digits) decide `I`/`l`/`1`, `O`/`0`/`o` and case pairs;
- the id's structure: position 1 is `E` or `D`, positions 2-21 are digits; a known ISPB and the
  payment time the receipt prints vouch for the digits they show.
A look-alike the evidence does not settle makes the id ambiguous: the caller flags it for review
and lists `transaction_id_candidates`, the likeliest readings first.
"""

from __future__ import annotations

import itertools
import re
import string
from dataclasses import dataclass, field
from datetime import UTC

from common import pix

TAIL = 21  # the first position of the 11-character random tail
# Characters OCR swaps for one another in an id's tail: upper/lower case pairs that differ only in
# size, and the bars and rounds.
LOOKALIKE_CLASSES = [frozenset(group) for group in ("Il1", "O0o", "cC", "sS", "uU", "vV", "wW", "xX", "zZ")]
LOOKALIKES = {char: group for group in LOOKALIKE_CLASSES for char in group}
# One probability floor per kind of position (measured on the real and adversarial sets, see
# tools/accuracy.py): below it, a character is not settled by the recognizer alone.
SETTLED_PROB = 0.9  # any character
SETTLED_LOOKALIKE_PROB = 0.995  # a look-alike the geometry did not decide
REFUTED_PROB = 0.02  # the recognizer contradicts a geometric decision
MAX_CANDIDATES = 5
# `I` and `l` are the same bare stem in most UI fonts, told apart only by a height difference of
# 1-7% of the cap height that the recognizer's 48 px line barely holds: its confidence between
# them is a guess from the neighbours' case (an `l` after "TLZ" read `I` at 0.998 on a photo of a
# screen, seed-11 adversarial set). Only the glyph geometry settles them.
BARE_STEMS = frozenset("Il")

_FOLD = str.maketrans("oqdil|szbg", "0001115286")


def _fold(text: str) -> str:
    """A form in which look-alikes compare equal: how the id is found among the boxes."""
    return re.sub(r"\s+", "", text).lower().translate(_FOLD)


def _alphabet(position: int) -> str:
    if position == 0:
        return "ED"
    if position < TAIL:
        return string.digits
    return string.ascii_letters + string.digits


@dataclass
class Position:
    read: str
    probs: dict = field(default_factory=dict)  # char -> combined probability (allowed chars only)
    readings: int = 0  # how many readings saw this position
    agree: bool = True  # the readings' best characters are the same
    geometry: str | None = None  # what the glyph geometry decided, if anything
    confirmed: bool = False  # settled by other evidence on the receipt (its printed time, the ISPB table)

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.probs.items(), key=lambda item: -item[1])


@dataclass(frozen=True)
class IdCheck:
    transaction_id: str
    candidates: list[str]  # the likeliest readings, best first (just the id when settled)
    ambiguous: list[int]  # positions not settled by the evidence
    confidence: float
    source: str  # "ocr_evidence" (per-character evidence) or "none" (there was none to be had)

    @property
    def settled(self) -> bool:
        return not self.ambiguous


def check_id(e2e_id: str, pages: list, shown: tuple | None = None) -> IdCheck:
    """Evidence for `e2e_id` as read on `pages` (common.ocr.OcrPage). Without per-character
    evidence, look-alikes in the tail are unsettled. `shown`: (moment, has a time of day), the
    payment time the receipt prints (read apart from the id): the stamp's digits it agrees with
    are settled by it, and so is an ISPB of a known institution."""
    positions = [Position(char) for char in e2e_id]
    for index in _confirmed_by_structure(e2e_id, shown):
        positions[index].confirmed = True
    found = False
    for page in pages:
        parts = []
        for word, span in _boxes_holding(e2e_id, page.words):
            reading = _box_reading(page, word)
            if reading is not None:
                found = True
                crop, readings = reading
                parts.append((word, span, crop, _add(positions, span[0], e2e_id[span[0] : span[1]], readings)))
        _add_geometry(positions, e2e_id, page, parts)
        for word, span, _, _ in parts:
            _add_second_reading(positions, e2e_id, page, word, span)
    if not found:
        return _without_evidence(e2e_id)
    for position in positions:
        if position.readings:
            position.probs = {c: p / position.readings for c, p in position.probs.items()}
    return _decide(e2e_id, positions)


def _boxes_holding(e2e_id: str, words: list) -> list[tuple]:
    """(box, (first id position, one past the last)) for the boxes the id was read from: one
    box, or two when a narrow screen wrapped the id over two lines."""
    target = _fold(e2e_id)
    folded = [_fold(word.text) for word in words]
    for word, text in zip(words, folded):
        if target in text:
            return [(word, (0, len(e2e_id)))]
    # Wrapped: one box ends with the id's first part, another starts with the rest. A rest of
    # a few characters ("ee") could start any box: it must be the whole box, on the next line.
    best: list[tuple] = []
    for word, text in zip(words, folded):
        for cut in range(8, len(target)):
            if text.endswith(target[:cut]):
                rest = target[cut:]
                short = len(rest) < SHORT_REST
                for other, other_text in zip(words, folded):
                    if other is word or not other_text.startswith(rest):
                        continue
                    if not short or (other_text == rest and _next_line(word, other)):
                        return [(word, (0, cut)), (other, (cut, len(target)))]
                best = best or [(word, (0, cut))]
    return best


SHORT_REST = 4  # characters: a wrapped id's second part this short is matched with care


def _next_line(first, second) -> bool:
    """Does box `second` sit on the line right under box `first`, starting at its left?"""
    ys = [p[1] for p in first.quad]
    height = max(ys) - min(ys)
    below = min(p[1] for p in second.quad) - max(ys)
    left = min(p[0] for p in second.quad) - min(p[0] for p in first.quad)
    return -0.2 * height <= below <= 1.5 * height and abs(left) <= height


def _box_reading(page, word) -> tuple | None:
    """(the box's grayscale crop or None, its CharReadings): the engine's own per-character
    confidences (Cloud Vision's symbols), or the box read again by an engine that can (RapidOCR:
    its first pass's CTC output); None when there is no per-character evidence to be had."""
    if word.chars:
        return _given(page, word, list(word.chars))
    engine = page.engine
    if engine is not None and hasattr(engine, "reread"):
        return engine.reread(page, word, 0.0)
    return None


def _add_geometry(positions: list[Position], e2e_id: str, page, parts: list) -> None:
    """The glyph geometry of the id's crop (or of its two lines' crops, wrapped on a narrow
    screen), when the boxes hold the whole id and every character was found in the reading."""
    spans = [span for _, span, _, _ in parts]
    whole = spans == [(0, len(e2e_id))] or (len(spans) == 2 and spans[0][0] == 0 and spans[0][1] == spans[1][0])
    if not whole or any(crop is None or None in aligned for _, _, crop, aligned in parts):
        return
    from common import glyphs  # OpenCV: only where a box was re-read, so RapidOCR is there too

    lines = [
        (crop, [(e2e_id[first + i], r.x) for i, r in enumerate(aligned)]) for _, (first, _), crop, aligned in parts
    ]
    wrapped = lines[1] if len(lines) == 2 else None
    verdicts = glyphs.resolve(*lines[0], wrapped=wrapped)
    if any(v.why == "no_ascender_reference" for v in verdicts):
        rise = _ascender_rise(page, [word for word, _, _, _ in parts])
        if rise is not None:
            verdicts = glyphs.resolve(*lines[0], ascender_rise=rise, wrapped=wrapped)
    for position, verdict in zip(positions, verdicts):
        if verdict.read in LOOKALIKES or (verdict.decided is not None and verdict.decided != verdict.read):
            position.geometry = verdict.decided


def _add_second_reading(positions: list[Position], e2e_id: str, page, word, span: tuple) -> None:
    """Only where a look-alike is still open or a character unsure: a second reading of the box
    padded (another scale for the model), when the engine can re-read it."""
    first, last = span
    rereads = not word.chars and page.engine is not None and hasattr(page.engine, "reread")
    if rereads and any(_open(first + i, p) for i, p in enumerate(positions[first:last])):
        _add(positions, first, e2e_id[first:last], page.engine.reread(page, word, 0.3)[1])


ASCENDER_LINES = 3  # other lines of the receipt measured for whether its font's ascenders rise


def _ascender_rise(page, id_words: list):
    """The median rise of ascenders over capitals on a few other lines of the page that show
    both (labels like "Dados do Pagador", names like "Will Bank"), or None."""
    from common import glyphs

    rises = []
    for word in page.words:
        if any(word is id_word for id_word in id_words) or not glyphs.may_show_ascender_rise(word.text):
            continue
        reading = _box_reading(page, word)
        if reading is None or reading[0] is None:
            continue
        crop, readings = reading
        rise = glyphs.ascender_rise(crop, [(r.char, r.x) for r in readings], word.text)
        if rise is not None:
            rises.append(rise)
        if len(rises) == ASCENDER_LINES:
            break
    return sorted(rises)[len(rises) // 2] if rises else None


def _open(index: int, position: Position) -> bool:
    """Would a second reading matter here: a look-alike the geometry left open, or a character
    read below the floor?"""
    if position.confirmed:
        return False
    ranked = position.ranked()
    if not ranked or ranked[0][1] / max(position.readings, 1) < SETTLED_PROB:
        return True
    lookalike = index >= TAIL and (position.read in LOOKALIKES or ranked[0][0] in LOOKALIKES)
    return lookalike and position.geometry is None


def _add(positions: list[Position], first: int, expected: str, readings: list) -> list:
    """Add one reading's probabilities (summed; averaged once all readings are in)."""
    aligned = _align(readings, expected)
    for offset, reading in enumerate(aligned):
        position = positions[first + offset]
        if reading is None:  # lost in this reading: no evidence either way
            continue
        allowed = _alphabet(first + offset)
        raw = {reading.char: reading.prob, **reading.alternatives}
        probs = {c: p for c, p in raw.items() if c in allowed}
        # Rivals the id's structure rules out give their share back; unknown mass stays unknown,
        # but no more of it can be an allowed rival than the weakest runner-up listed, for each
        # allowed character not listed (the engine ranks them all: the rest scored lower).
        total = max(1.0 - sum(p for c, p in raw.items() if c not in allowed), 1e-6)
        if reading.alternatives:
            weakest = min(reading.alternatives.values())
            total = min(total, sum(probs.values()) + weakest * len(set(allowed) - set(raw)))
        best = max(probs, key=lambda char: probs[char]) if probs else None
        if position.readings and position.ranked() and best != position.ranked()[0][0]:
            position.agree = False
        for char, p in probs.items():
            position.probs[char] = position.probs.get(char, 0.0) + p / total
        position.readings += 1
    return aligned


def _given(page, word, readings: list) -> tuple:
    """The box's crop and the engine's own readings, their x moved into the crop's frame."""
    from common.ocr import CharReading, crop_box

    if page.image is None:
        return None, readings
    crop, x0 = crop_box(page.image, word.quad)
    left = min(p[0] for p in word.quad)
    return crop, [CharReading(r.char, r.prob, r.alternatives, r.x + left - x0) for r in readings]


def _align(readings: list, expected: str) -> list:
    """The reading of each character of `expected`: the same character, or another one read in
    its place (a disagreement); None where the re-read lost it or read more."""
    import difflib

    got, want = _fold("".join(r.char for r in readings)), _fold(expected)
    start = got.find(want)
    if start >= 0:
        return [readings[start + i] for i in range(len(expected))]
    out = [None] * len(expected)
    for tag, a0, a1, b0, b1 in difflib.SequenceMatcher(None, got, want, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and a1 - a0 == b1 - b0):
            for k in range(b1 - b0):
                out[b0 + k] = readings[a0 + k]
    return out


def _decide(e2e_id: str, positions: list[Position]) -> IdCheck:
    choice, options, ambiguous, confidence = [], [], [], 1.0
    for index, position in enumerate(positions):
        best, p, opts = _settle(index, position)
        choice.append(best)
        confidence *= p
        if opts:
            ambiguous.append(index)
            options.append((index, opts))
    chosen = "".join(choice)
    if pix.normalize(chosen) != chosen:  # the evidence cannot make an invalid id; keep the reading
        chosen = e2e_id
    candidates = _candidates(chosen, positions, options) if ambiguous else [chosen]
    if ambiguous:
        confidence = min(confidence, 0.5)
    return IdCheck(chosen, candidates, ambiguous, round(min(confidence, 0.99), 3), "ocr_evidence")


def _confirmed_by_structure(e2e_id: str, shown) -> list[int]:
    """Positions of the id that other evidence on the receipt vouches for: the ISPB when it is a
    known institution's, and each digit of the UTC stamp that the printed date (+3 h) shows; the
    hour and minute only when the receipt prints a time of day. `shown`: (moment, timed)."""
    confirmed = list(range(1, 9)) if pix.institution(e2e_id) else []
    moment, timed = shown or (None, False)
    if moment is not None:
        stamp = moment.astimezone(UTC).strftime("%Y%m%d%H%M")
        digits = range(12) if timed else range(8)  # yyyyMMdd[HHmm]
        confirmed += [9 + i for i in digits if stamp[i] == e2e_id[9 + i]]
    return confirmed


def _settle(index: int, position: Position) -> tuple[str, float, list[str]]:
    """(the character to keep, how sure, the options when it is not settled)."""
    ranked = position.ranked()
    if position.confirmed:
        return position.read, max(dict(ranked).get(position.read, 0.0), 0.999), []
    if not ranked:  # no reading saw this character: only the id's structure speaks for it
        lookalike = index >= TAIL and position.read in LOOKALIKES
        return position.read, 0.5 if lookalike else 0.9, sorted(LOOKALIKES[position.read]) if lookalike else []
    best, p = ranked[0]
    others = [c for c, q in ranked[1:] if q >= 0.001]
    if index >= TAIL and (position.read in LOOKALIKES or best in LOOKALIKES):
        group = LOOKALIKES.get(best) or LOOKALIKES[position.read]
        geometric = position.geometry
        if geometric is not None and _support(position, geometric) >= REFUTED_PROB:
            return geometric, max(p, 0.99), []
        if geometric is None and position.agree and p >= SETTLED_LOOKALIKE_PROB and best not in BARE_STEMS:
            return best, p, []
        members = [c for c, _ in ranked if c in group] + sorted(group - {c for c, _ in ranked})
        if geometric is not None:  # geometry and the recognizer disagree: both are options
            members = [geometric] + [c for c in members if c != geometric]
        return members[0], min(p, 0.5), members[:3]
    if position.agree and p >= SETTLED_PROB:
        return best, p, []
    return best, p, [best] + others[:2]


def _support(position: Position, char: str) -> float:
    """How much the recognizer's reading allows `char`. Between the bare stems it has no say
    (BARE_STEMS): an `l` the glyphs proved taller than the cap line, read `I` at 0.99, is not
    refuted; the recognizer still refutes a stem where it reads a `1` or another character."""
    same = BARE_STEMS if char in BARE_STEMS else {char}
    return sum(position.probs.get(c, 0.0) for c in same)


def _candidates(chosen: str, positions: list[Position], options: list[tuple[int, list[str]]]) -> list[str]:
    """The likeliest valid ids over the unsettled positions' options, best first."""
    scored = []
    for combo in itertools.product(*[opts for _, opts in options[:6]]):
        chars = list(chosen)
        score = 1.0
        for (index, _), char in zip(options, combo):
            chars[index] = char
            score *= positions[index].probs.get(char, 0.0) + 0.01
        text = "".join(chars)
        if pix.normalize(text) == text:
            scored.append((score, text))
    ranked = [text for _, text in sorted(scored, key=lambda item: -item[0])]
    return list(dict.fromkeys([chosen] + ranked))[:MAX_CANDIDATES]


def _without_evidence(e2e_id: str) -> IdCheck:
    """No box to re-read (an engine without per-character output, or the id assembled from
    pieces): the tail's look-alikes are unsettled."""
    positions = [Position(char) for char in e2e_id]
    options = [
        (i, sorted(LOOKALIKES[c], key=lambda o: o != c)) for i, c in enumerate(e2e_id) if i >= TAIL and c in LOOKALIKES
    ]
    if not options:
        return IdCheck(e2e_id, [e2e_id], [], 0.9, "none")
    return IdCheck(e2e_id, _candidates(e2e_id, positions, options), [i for i, _ in options], 0.5, "none")


def amount_settled(amount: float, pages: list) -> bool | None:
    """Is every digit of the amount, in some box that shows it, read with a clear margin?
    None when no box could be re-read (no per-character evidence to be had)."""
    shown = {f"{amount:.2f}".replace(".", "")}
    if amount == int(amount):
        shown.add(str(int(amount)))  # banks that print no cents
    verdicts = []
    for page in pages:
        for word in page.words:
            if re.sub(r"\D", "", word.text) not in shown:
                continue
            if not word.chars and _every_character_clear(word):
                return True
            reading = _box_reading(page, word)
            if reading is None:
                continue
            digits = [r for r in reading[1] if r.char.isdigit()]
            if digits and all(_digit_prob(r) >= SETTLED_PROB for r in digits):
                return True  # one clear showing is enough (banks print the amount two or three times)
            verdicts.append(False)
    return False if verdicts else None


def _every_character_clear(word) -> bool:
    """The engine's score for a box is the mean of its characters' probabilities, so each one is
    at least 1 - n * (1 - mean): when that clears the floor, no character can be unsure."""
    length = len(re.sub(r"\s", "", word.text))
    return word.score < 1.0 and 1.0 - length * (1.0 - word.score) >= SETTLED_PROB


def _digit_prob(reading) -> float:
    """A digit's probability among digits (a `,` or `R` runner-up is no rival for it)."""
    probs = {c: p for c, p in {reading.char: reading.prob, **reading.alternatives}.items() if c.isdigit()}
    return probs[reading.char] / (sum(probs.values()) or 1.0)
