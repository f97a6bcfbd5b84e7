"""Look-alike characters of a PIX end-to-end id, decided from the glyphs' geometry.

OCR confuses characters of the id's 11-character tail that look alike (`I/l/1`, `O/0/o`, and
letters whose two cases differ only in size) and scores them ~0.9999 all the same. This module
looks at the pixels instead. Its one entry point, `resolve(crop, chars)`, takes the crop of the
text line holding the id and the 32 characters the OCR read there (each with its approximate x
centre), and says for each tail look-alike which member of its class the glyph supports, or
None when the evidence is not clear. A wrong answer is far worse than None: every decision needs
a margin over what the measurements can err by, on this very line and on the grid of rendered
lines in tools/glyph_grid.py (several fonts, sizes and degradations) where the limits were
measured.

How:
1. Ink: Otsu splits paper from ink (the crop's border tells the polarity); the crop becomes an
   ink image in [0, 1], so that 0.5 is the edge of a stroke at any contrast.
2. Glyphs: connected components, joined when one lies over another (the dot of an i, a stroke
   broken by JPEG). Edges are measured to a fraction of a pixel where the ink crosses 0.5,
   from each glyph's own pixels; a glyph cut by the crop's border is not measured.
3. Alignment: dynamic programming matches the 32 characters to the glyphs by their x centres,
   allowing glyphs that touch (one glyph, 2-3 characters), split glyphs, lost characters and a
   label before or after the id, each at a price. A character keeps its glyph only if every
   matching that gives it anything else costs clearly more (min-marginals).
4. References from the known part (E/D and 20 digits): a baseline and the slope over all of
   them (a slightly tilted crop), the cap line through the top of E/D (some fonts' digits are
   shorter than their capitals), the noise (the scatter of flat digit edges), the stroke width
   (the stem of E/D), and real `0` and `1` glyphs in the same font and size (the year 202x
   always has a 0). In the tail, plain lowercase letters (a e m n r) give the x-height and
   ascender letters (b d h k) how far this font's ascenders rise above the cap line. An id a
   narrow screen wrapped over two lines keeps the first line's scale; the second line gets its
   own baseline and slope from its flat-footed glyphs (each box is cropped on its own).
5. Decisions (none on a line set in a monospaced font, whose centres stay on one grid even
   through an I, l, r or m: there l and 1 share flags and feet and O is as wide as 0):
   - `I/l/1`: a glyph like the known part's 1 (same width, same ink within a small difference)
     is 1; a bare stem well above the cap line is l. A stem at cap height is I only if the line
     shows that its ascenders rise (a b/d/h/k, or an l already decided, which then is the
     reference: it overrules b/d/h/k that measured low and another line's rise): in
     Helvetica-like fonts l is no taller than I, and then neither is decided. Another line's ascenders prove it only
     when the rise is clearly more than the pixel JPEG can take off an l's top. An upright
     stem with a bar reaching out to both sides at both ends is a serifed I (Noto Sans,
     Verdana, Tahoma): no l or 1 is drawn so.
   - `O/0/o`: x-height is o; at cap height, O's side strokes are further apart than the 0's
     (>= 1.2x) and its ink clearly differs from them, a 0 matches them.
   - `c/C s/S u/U v/V w/W x/X z/Z`: height against the x-height and the cap height.
   - `k/K`: between the x-height and the cap height k shows only its stem, K its arm as well.
   - `p/P`: p descends below the baseline, P sits on it.
   - Touching glyphs (one glyph, 2-3 characters: blur, a tight font): where the matching is sure
     of the group (a glyph of its own on either side), the glyph is cut apart at a higher ink
     level (the contact is a fringe of partial ink) and each core takes back its nearest pixels.
     A part is measured on the columns no other part reaches, and only if both its halves
     reach its top (a neighbour's arm over one side is not its own). Parts decide case pairs
     and x-height o by height only: their sides and width are not their own. Otherwise, when
     every character in the glyph has a plain x-height lowercase form and the whole glyph
     stays at x-height, its look-alikes are lowercase.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from common import pix

_CLASSES = ("Il1", "O0o", "cC", "sS", "uU", "vV", "wW", "xX", "zZ", "kK", "pP")
AMBIGUOUS: dict[str, frozenset[str]] = {char: frozenset(members) for members in _CLASSES for char in members}

ID_LENGTH = 32
KNOWN = 21  # E/D + ISPB + UTC minute: not look-alikes once digit-corrected
_FLAT_DIGIT_TOPS = set("57")  # digits whose top is a flat cut (no overshoot, no point)
_FLAT_BOTTOMS = set("ED12")
_X_HEIGHT_LETTERS = set("aemnr")  # lowercase, not look-alikes, no ascender or descender
_ASCENDER_LETTERS = set("bdhk")

EDGE = 0.5  # the ink level taken as a glyph's edge
COMPONENT = 0.5  # the ink level that makes a pixel part of a component
# Characters whose foot is a flat cut on the baseline (no overshoot, no descender in any case):
# a wrapped id's second line finds its baseline from them, MIN_FEET at least.
_FLAT_FEET = set("BDEFHIKLMNRTXZhiklmnrxz1247")
MIN_FEET = 3
# A second line's baseline is extrapolated at most this many cap heights beyond its feet.
FEET_REACH = 3.0
MIN_REFERENCES = 12  # known glyphs (E/D and digits) a line's references are measured from
NEAR_BEST = 2.0  # alignments within this cost (squared pitches) of the best are also plausible
# The widest and narrowest a character's ink can be, in cap heights (measured over Roboto, Open
# Sans, Lato, Noto Sans, DejaVu Sans, Liberation Sans and Nimbus Sans, regular and bold, plus a
# little). A glyph outside them for its character holds more (touching glyphs) or less (a broken
# one) than that character.
_WIDEST = {
    **dict.fromkeys("W", 1.5),
    **dict.fromkeys("wmM", 1.3),
    **dict.fromkeys("Il1ijrftJ", 0.8),
    **dict.fromkeys("cC", 1.02),
    **dict.fromkeys("sSzZuU", 0.95),
    **dict.fromkeys("vVxXkK", 1.1),
    **dict.fromkeys("oO0", 1.1),
    **dict.fromkeys("pP", 0.9),
}
_NARROWEST = {
    **dict.fromkeys("W", 1.1),
    **dict.fromkeys("wmM", 0.88),
    **dict.fromkeys("Ilij", 0.1),
    **dict.fromkeys("J1rtf", 0.33),
}
# How two glyphs' ink differs (see _difference): overall, and in the worst 2x2 pixels. Measured on
# the grid of tools/glyph_grid.py: a 1 or a 0 against those of its own line stays under 0.09 and
# 1.0 even at cap height 10 with JPEG; Noto Sans' serifed I against its 1s, and O against 0 in
# every font, over 0.11 and 0.87. A round is one of its line's 0s up to SAME_DIFFERENCE; it is
# clearly not one from both OTHER_ values.
SAME_DIFFERENCE = 0.05
OTHER_DIFFERENCE = 0.1
OTHER_LOCAL = 1.1
# A glyph as wide as the known part's 1 is a 1 up to both of these: over the glyph grid (7 fonts
# and 8 other weights or widths, cap heights 12-60, 18 seeds) true 1s differed from their line's
# by 0.08 and 1.14 at most, stems as wide as them (serifed I) by 0.12 and 1.5 at least; on the
# adversarial and real sets 1s reached 0.088 and 0.91 (a 1 beside an a on a dark screenshot:
# 0.045 and 0.69, over the 0.6 this once took).
ONE_DIFFERENCE = 0.07
ONE_LOCAL = 0.95
# O against 0: the distance between the centres of their side strokes, O's over 0's (over 1.22
# in every font measured; a 0 against its own line's 0s, under 1.18).
O_WIDER = 1.2
ZERO_WIDER = 1.08
# Heights from the baseline, in cap heights: x-height glyphs measure up to 0.84, cap-height ones
# from 0.943 (even at cap height 10, blurred; x-heights of common UI fonts stay under 0.8).
LOWER_MOST = 0.865
UPPER_LEAST = 0.915
# Letters far narrower or wider than a digit in a proportional font; a line whose glyph centres
# stay on one grid through them, within this share of the pitch, is monospaced (_monospaced).
_OFF_DIGIT_WIDTH = set("IijlrtfmwMW")
MONOSPACED_RESIDUAL = 0.15
# px: how far the top and bottom rows of the leading E/D reach left of its stem's middle rows. A
# serif font's E has feet there (0.36 px at the least from cap height 13 on, over DejaVu,
# Liberation and Noto Serif, FreeSerif and Nimbus Roman), a sans-serif's a straight stem (0.11 at
# most over 10 fonts, JPEG, blur and resampling included).
SERIF_REACH = 0.25
IRREGULAR = 3.0  # the cost of a touching or split glyph, or a glyph left over: they are rare


# Another line of the receipt proves that this font's ascenders rise when they clear its capitals
# by this share of the cap height (l rises 3-7% in fonts that draw it taller than I).
MIN_ASCENDER_RISE = 0.025
MAX_ASCENDER_RISE = 0.1  # no UI font's l rises that far (1-7%): such a line was measured wrong
BORROWED_EROSION = 1.0  # px: how much of an l's rise JPEG may hide, against another line's ascenders
FLAT_CAPITALS = set("BDEFHLMNRT")  # no lowercase twin of the same shape, no overshoot
# Capitals with flat tops that do have a lowercase twin: one counts where the text makes it a
# capital, opening a word of lowercase letters ("Will", "Pereira", "Vinícius").
_INITIAL_CAPITALS = set("KPUVWXYZ")
_MIN_CAP_PX = 10  # below this, a 3% rise is under a third of a pixel


@dataclass(frozen=True)
class Verdict:
    read: str  # what the OCR read at this position
    decided: str | None  # the member the geometry supports, None when it cannot tell
    options: tuple[str, ...]  # the members still possible, most likely first
    why: str  # short machine reason


@dataclass
class _Glyph:
    x0: int
    x1: int  # exclusive
    y0: int
    y1: int  # exclusive
    labels: tuple[int, ...]
    area: int
    top: float = 0.0  # sub-pixel edges (pixel centres at integer coordinates)
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0
    patch: Any = None  # the glyph's own ink, with a 1 px frame (an ndarray once measured)
    own: Any = None  # which pixels of the patch are the glyph's components
    origin: tuple[int, int] = (0, 0)  # crop coordinates of patch[0, 0]
    clipped_top: bool = False  # its ink reaches that border of the crop: the edge is lost
    clipped_bottom: bool = False
    clipped_side: bool = False
    touching: bool = False  # cut out of glyphs that touch (see _split): its sides are not its own

    @property
    def clipped(self) -> bool:
        return self.clipped_top or self.clipped_bottom or self.clipped_side

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1 - 1) / 2

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


class _Merged(str):
    """Why a character has no glyph of its own, "merged": it touches its neighbours in `glyph`
    (2-3 characters in one glyph); the glyph's height still speaks for all of them."""

    glyph: _Glyph

    def __new__(cls, glyph: _Glyph) -> _Merged:
        merged = super().__new__(cls, "merged")
        merged.glyph = glyph
        return merged


# Characters whose lowercase form is a plain x-height one (no ascender, descender or dot): a
# merged glyph of such characters at x-height holds lowercase ones only.
_X_HEIGHT_LOWER = set("acemnorsuvwxz")
_LOWERCASE_OF = {**{c: c.lower() for c in "cCsSuUvVwWxXzZ"}, "o": "o", "O": "o", "0": "o"}


@dataclass
class _Line:
    slope: float
    base0: float  # baseline at x = 0 (px, crop coordinates, y down)
    cap0: float  # cap line at x = 0: through the top of E/D
    noise: float  # px: scatter of the known glyphs' edges around the lines
    stroke: float  # px
    zeros: list  # reference glyphs of 0 and 1 from the known part
    ones: list
    x_height: float | None = None  # fraction of the cap height, measured in the tail
    ascender: float | None = None  # px above the cap line, measured in the tail
    borrowed: bool = False  # the ascender was measured on another line of the receipt
    low_ascenders: bool = False  # the tail's own b/d/h/k rise no more than an I can measure
    x_min: float = -np.inf  # where the fit of a wrapped id's second line has glyphs (px)
    x_max: float = np.inf

    @property
    def cap_height(self) -> float:
        return self.base0 - self.cap0

    @property
    def margin(self) -> float:
        """px: three standard deviations of the difference of two edges (a glyph's and E's)."""
        return 3 * np.sqrt(2) * self.noise

    @property
    def highest_i(self) -> float:
        """px above the cap line: the most an I's top can measure (a stem's end measures up to
        2.5% of the cap height above E's flat top), plus the noise."""
        return 0.025 * self.cap_height + self.margin

    def baseline(self, x: float) -> float:
        return self.base0 + self.slope * x

    def capline(self, x: float) -> float:
        return self.cap0 + self.slope * x


def resolve(
    crop: np.ndarray,
    chars: list[tuple[str, float]],
    ascender_rise: float | None = None,
    wrapped: tuple[np.ndarray, list[tuple[str, float]]] | None = None,
) -> list[Verdict]:
    """crop: uint8 grayscale (H x W) of one text line holding the id, dark on light or light on
    dark; chars: the id's 32 characters as read, each with its approximate x centre in crop
    pixels. One Verdict per id position. `wrapped`: (crop, chars) of the id's second line when a
    narrow screen wrapped it; `chars` then holds the first line's characters, the known part
    at least, and the second line is measured against the first one's scale."""
    parts = [(crop, chars)] + ([wrapped] if wrapped else [])
    read = [char for _, line_chars in parts for char, _ in line_chars]
    if len(read) != ID_LENGTH:
        raise ValueError(f"an end-to-end id has {ID_LENGTH} characters, got {len(read)}")
    verdicts = [Verdict(char, char, (char,), "known" if i < KNOWN else "unambiguous") for i, char in enumerate(read)]
    wanted = [i for i in range(KNOWN, ID_LENGTH) if read[i] in AMBIGUOUS]
    if not wanted:
        return verdicts
    cut = len(chars)
    # A wrap inside the known part leaves the first line enough of it to measure when it keeps
    # MIN_REFERENCES of its characters: the second line then continues that line's scale.
    first_known = min(cut, KNOWN)
    too_short = first_known < (MIN_REFERENCES if wrapped is not None else KNOWN)
    mapping = "wrapped_in_known_part" if too_short else _mapped(crop, read[:cut], [x for _, x in chars], first_known)
    if isinstance(mapping, str):
        return _replaced(verdicts, {i: _undecided(read[i], mapping) for i in wanted})
    if _monospaced(mapping, read):
        return _replaced(verdicts, {i: _undecided(read[i], "monospaced_font") for i in wanted})
    if _serifed(mapping[0]):
        return _replaced(verdicts, {i: _undecided(read[i], "serif_font") for i in wanted})
    known = read[0] + "".join(read[1:first_known]).translate(pix.DIGIT_LOOKALIKES)
    line = _references(known, mapping[:first_known])
    if line is None:
        return _replaced(verdicts, {i: _undecided(read[i], "no_references") for i in wanted})
    lines = [line] * cut
    if wrapped is not None:
        second_crop, second_chars = wrapped
        second = _mapped(second_crop, read[cut:], [x for _, x in second_chars], len(second_chars))
        second_line = None
        if not isinstance(second, str):
            scale = _digit_scale(mapping[1:first_known], second[: KNOWN - first_known])
            feet = _digit_feet(line, known, mapping[:first_known])
            second_line = _continued(line, read[cut:], second, scale, feet) if scale is not None else None
        if second_line is None:
            why = second if isinstance(second, str) else "no_second_line_references"
            second, second_line = [why] * len(second_chars), line
        else:  # glyphs far beyond the fit's reach would extrapolate its slope
            reach = (
                second_line.x_min - FEET_REACH * second_line.cap_height,
                second_line.x_max + FEET_REACH * second_line.cap_height,
            )
            second = [
                g if not isinstance(g, _Glyph) or reach[0] <= g.cx <= reach[1] else "beyond_second_line_feet"
                for g in second
            ]
        mapping += second
        lines += [second_line] * len(second_chars)
    _tail_references(lines, read, mapping)
    borrow = line.ascender is None and not line.low_ascenders
    if borrow and ascender_rise is not None and ascender_rise >= MIN_ASCENDER_RISE:
        # The tail shows no ascender, another line of the receipt did (see ascender_rise).
        for each in lines:
            each.ascender, each.borrowed = ascender_rise * line.cap_height, True
    decided = {i: _decide(read[i], mapping[i], lines[i]) for i in wanted}
    decided.update(_merged_lowercase(read, mapping, lines, wanted))
    # A clear l shows how tall this line's l is: stems left undecided get a second look against
    # the lowest one, over another line's rise and over b/d/h/k that measured no taller than an
    # I (their tops wear like any stem's; this l already cleared what an I can measure).
    tall = [lines[i].capline(mapping[i].cx) - mapping[i].top for i in wanted if decided[i].decided == "l"]
    if tall and (line.ascender is None or line.borrowed):
        for each in {id(each): each for each in lines}.values():
            each.ascender, each.borrowed, each.low_ascenders = min(tall), False, False
        for i in wanted:
            if decided[i].why in ("no_ascender_reference", "low_ascenders", "close_to_cap"):
                decided[i] = _decide(read[i], mapping[i], lines[i])
    return _replaced(verdicts, decided)


def _mapped(crop: np.ndarray, read: list[str], centres: list[float], anchor: int) -> list | str:
    """Each character's measured glyph (or why it has none) on one line's crop; `anchor`: how
    many leading characters must sit where their glyphs are (see _align); "no_contrast" when
    the crop has no ink to measure."""
    ink = _ink(crop)
    if ink is None:
        return "no_contrast"
    glyphs, labels = _segment(ink)
    xs = np.array(centres, dtype=float)
    mapping = _align(glyphs, read, xs, anchor)
    measured = [g.glyph if isinstance(g, _Merged) else g for g in mapping]
    for glyph in {id(g): g for g in measured if isinstance(g, _Glyph)}.values():
        _measure(glyph, ink, labels)
    return _split_merged(mapping, ink, labels, xs)


def _split_merged(mapping: list, ink: np.ndarray, labels: np.ndarray, xs: np.ndarray) -> list:
    """Each glyph the matching gave to 2-3 characters (touching: blur, a tight font) cut into
    that many parts where its ink says where (see _split); parts are marked `touching`. Only
    where the matching is sure of the group's ends (a glyph of its own on either side) and each
    part sits where its character was read."""
    out = list(mapping)
    groups: dict[int, list[int]] = {}
    for i, g in enumerate(mapping):
        if isinstance(g, _Merged):
            groups.setdefault(id(g.glyph), []).append(i)
    pitch = (xs[-1] - xs[0]) / max(len(xs) - 1, 1)
    for members in groups.values():
        first, last = members[0], members[-1]
        if members != list(range(first, last + 1)):
            continue
        ends = [mapping[i] for i in (first - 1, last + 1) if 0 <= i < len(mapping)]
        if not all(type(g) is _Glyph for g in ends):
            continue
        parts = _split(mapping[first].glyph, len(members), ink, labels)
        if parts is None or any(abs(part.cx - xs[i]) > 0.5 * pitch for i, part in zip(members, parts)):
            continue
        for i, part in zip(members, parts):
            out[i] = part
    return out


SPLIT_LEVELS = (0.65, 0.75, 0.85, 0.95)  # ink levels tried as the cores of touching glyphs


def _split(glyph: _Glyph, count: int, ink: np.ndarray, labels: np.ndarray) -> list[_Glyph] | None:
    """`count` glyphs out of one whose characters touch: the contact between two glyphs is a
    fringe of partial ink, so at a higher ink level they come apart; each core then takes back
    the pixels nearest to it within the glyph (a geodesic growth). None unless some level gives
    exactly `count` cores side by side."""
    y0, y1, x0, x1 = glyph.y0, glyph.y1, glyph.x0, glyph.x1
    mask = np.isin(labels[y0:y1, x0:x1], glyph.labels)
    sub = ink[y0:y1, x0:x1]
    height = y1 - y0
    for level in SPLIT_LEVELS:
        _, cores, stats, _ = cv2.connectedComponentsWithStats(((sub >= level) & mask).astype(np.uint8), connectivity=4)
        # Pieces one over another (an s broken at its spine) are one core.
        kept = [c for c in _joined_stacked(stats) if c.y1 - c.y0 >= 0.3 * height]  # not specks of a peak
        if len(kept) > count:
            return None  # the strokes themselves break up: no level will part glyphs cleanly
        if len(kept) < count:
            continue
        grown = np.zeros(sub.shape, dtype=np.int32)
        for j, core in enumerate(kept, start=1):
            grown[np.isin(cores, core.labels)] = j
        for _ in range(height + (x1 - x0)):
            free = mask & (grown == 0)
            if not free.any():
                break
            spread = cv2.dilate(grown.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
            step = free & (spread > 0)
            if not step.any():
                break
            grown[step] = spread[step]
        columns_of = [np.flatnonzero((grown == j).any(axis=0)) for j in range(1, count + 1)]
        spans = [(int(c[0]), int(c[-1]) + 1) for c in columns_of]
        guard = max(1, round(0.1 * height))  # px beside a contact: ink there may be the neighbour's
        parts = []
        for j, (c0, c1) in enumerate(spans, start=1):
            # Its height from the columns no other part reaches (and not right beside them): a
            # capital's arm over a lowercase neighbour must not make it tall.
            alone = np.ones(x1 - x0, dtype=bool)
            alone[:c0] = alone[c1:] = False
            for k, (d0, d1) in enumerate(spans, start=1):
                if k != j:
                    alone[max(d0 - guard, 0) : d1 + guard] = False
            if alone.sum() < 2:
                return None
            own = np.zeros(labels.shape, dtype=bool)
            own[y0:y1, x0:x1] = grown == j
            ys, xs = np.nonzero(own[y0:y1, x0:x1])
            part = _Glyph(
                x0 + int(xs.min()),
                x0 + int(xs.max()) + 1,
                y0 + int(ys.min()),
                y0 + int(ys.max()) + 1,
                glyph.labels[:1],
                int(own.sum()),
                touching=True,
            )
            _measure(part, ink, labels, own)
            columns = np.arange(part.patch.shape[1]) + part.origin[1] - x0
            inside = (columns >= 0) & (columns < x1 - x0)
            keep = np.zeros(columns.size, dtype=bool)
            keep[inside] = alone[columns[inside]]
            top, bottom = _edges(np.where(keep, part.patch, 0.0).max(axis=1))
            part.top, part.bottom = part.origin[0] + top, part.origin[0] + bottom
            # Both halves of it must reach that high (x, v, w and u by their two arms, c, s, z and
            # o across): a neighbour's arm reaching over one side only makes the top not its own.
            kept_columns = np.flatnonzero(keep)
            middle = (kept_columns[0] + kept_columns[-1]) / 2 if kept_columns.size else 0
            tops = [
                _edges(np.where(keep & side, part.patch, 0.0).max(axis=1))[0]
                for side in (np.arange(keep.size) <= middle, np.arange(keep.size) > middle)
            ]
            if kept_columns.size < 4 or abs(tops[0] - tops[1]) > 0.5 + 0.06 * height:
                part.clipped_top = True
            # The core reaches as high as the part, less what the blur spreads (its foot tells
            # how much): pixels grown far above it are a neighbour's (a K's arm over a z).
            rows = np.flatnonzero(np.isin(cores, kept[j - 1].labels).any(axis=1))
            spread = part.bottom - (y0 + rows[-1])
            if abs((y0 + rows[0]) - part.top - spread) > 1.0 + 0.05 * height:
                return None
            parts.append(part)
        return parts
    return None


def _monospaced(mapping: list, read: list[str]) -> bool:
    """Is the line set in a monospaced font? Its glyphs' centres all sit on one pitch grid, even
    through letters much narrower or wider than the tabular digits (in a proportional font an
    I, l, r or m shifts every centre after it: the largest residual is 0.11 of a pitch at the
    least over the grid's fonts, 0.13 at most in DejaVu Sans Mono, Liberation Mono and Nimbus
    Mono PS). There I, l and 1 carry the same flags and feet, O is as wide as 0 and capitals
    are drawn to the cell: the rules here were measured on proportional fonts, and decided
    wrong on those (the glyph grid: 10 wrong in 480 lines)."""
    centred = [(i, (g.left + g.right) / 2) for i, g in enumerate(mapping) if isinstance(g, _Glyph) and not g.touching]
    # The letter must have glyphs after it: they are what it shifts in a proportional font.
    telling = [i for i, _ in centred[:-2] if i >= KNOWN and read[i] in _OFF_DIGIT_WIDTH]
    if len(centred) < MIN_REFERENCES or not telling:
        return False
    index, centre = np.array([i for i, _ in centred], dtype=float), np.array([x for _, x in centred])
    pitch, start = np.polyfit(index, centre, 1)
    return pitch > 0 and float(np.abs(centre - (start + pitch * index)).max()) < MONOSPACED_RESIDUAL * pitch


def _serifed(lead) -> bool:
    """Is the line set in a serif font? Its leading E (or D) has feet: the stem's top and bottom
    rows reach further left than its middle ones. There l carries a flag and feet like 1, and
    serifs widen x, v and w: the rules here were measured on sans-serif fonts, and decided wrong
    on serif ones (the glyph grid over five serif fonts: 13 l or I taken for 1 in 640 lines)."""
    if not isinstance(lead, _Glyph) or lead.patch is None:
        return False
    top, bottom = lead.top - lead.origin[0], lead.bottom - lead.origin[0]
    height = bottom - top

    def leftmost(start: float, end: float) -> float:
        rows = range(
            max(int(np.ceil(top + start * height)), 0), min(int(top + end * height), lead.patch.shape[0] - 1) + 1
        )
        lefts = [_edges(lead.patch[r])[0] for r in rows if lead.patch[r].max() >= EDGE]
        return min(lefts) if lefts else np.nan

    # Middles and feet averaged: a stem leaning on a photo moves both feet, one each way.
    middle = (leftmost(0.25, 0.4) + leftmost(0.6, 0.75)) / 2  # between the arms: the stem alone
    feet = (leftmost(0.0, 0.12) + leftmost(0.88, 1.0)) / 2
    return bool(middle - feet > SERIF_REACH)  # False when a band has no ink (nan)


def _digit_scale(first: list, second: list) -> float | None:
    """How much taller the second line's known digits are than the first line's (each box is
    cropped and straightened on its own, so their scales may differ by a few percent): 1.0
    when the wrap left the second line no known digit, None when they cannot say (fewer than
    one whole digit on the second line, or digits of unequal heights)."""
    if not second:
        return 1.0

    def heights(glyphs: list) -> list[float]:
        return [g.height for g in glyphs if isinstance(g, _Glyph) and not g.clipped_top and not g.clipped_bottom]

    near, far = heights(first), heights(second)
    if not far or len(near) < 3:
        return None
    if np.ptp(far) > 0.12 * float(np.median(far)):
        return None
    return float(np.median(far) / np.median(near))


def _digit_feet(line: _Line, known: str, mapping: list) -> dict[str, float]:
    """px below the baseline that each digit of the first line's known part reaches (a round
    foot overshoots it): on a wrapped id's second line, those digits are feet too, once their
    own overshoot is taken off."""
    drops: dict[str, list[float]] = {}
    for char, glyph in zip(known[1:], mapping[1:]):
        if isinstance(glyph, _Glyph) and not glyph.clipped_bottom:
            drops.setdefault(char, []).append(glyph.bottom - line.baseline(glyph.cx))
    return {char: float(np.median(values)) for char, values in drops.items() if char not in _FLAT_FEET}


def _continued(
    line: _Line, read: list[str], mapping: list, scale: float = 1.0, digit_feet: dict | None = None
) -> _Line | None:
    """The line of a wrapped id's second part: the first line's scale (cap height, stroke,
    reference glyphs; times `scale`, see _digit_scale), its own baseline and slope from its
    flat-footed glyphs and the digits of `digit_feet` (see _digit_feet; each box is cropped and
    straightened on its own). The fit's scatter adds to the noise; None with fewer than
    MIN_FEET such glyphs, or feet that do not line up."""
    drops = {**(digit_feet or {}), **dict.fromkeys(_FLAT_FEET, 0.0)}
    feet = np.array(
        [
            (g.cx, g.bottom - drops[c] * scale)
            for c, g in zip(read, mapping)
            if isinstance(g, _Glyph) and c in drops and not g.clipped_bottom
        ]
    ).reshape(-1, 2)
    cap_height = line.cap_height * scale
    if len(feet) < MIN_FEET or np.ptp(feet[:, 0]) < cap_height:
        return None
    slope, base0 = (float(v) for v in np.polyfit(feet[:, 0], feet[:, 1], 1))
    residuals = feet[:, 1] - (base0 + slope * feet[:, 0])
    if np.max(np.abs(residuals)) > 0.06 * cap_height:
        return None
    scatter = 1.4826 * float(np.median(np.abs(residuals)))
    noise = float(np.hypot(line.noise, max(scatter, line.noise)))
    return replace(
        line,
        slope=slope,
        base0=base0,
        cap0=base0 - cap_height,
        noise=noise,
        stroke=line.stroke * scale,
        x_min=float(feet[:, 0].min()),
        x_max=float(feet[:, 0].max()),
    )


def _decide(read: str, glyph, line: _Line) -> Verdict:
    if isinstance(glyph, str):
        return _undecided(read, glyph)
    if glyph.clipped:
        return _undecided(read, "clipped")
    members = AMBIGUOUS[read]
    if glyph.touching and members & WIDTH_DECIDED:
        # Cut out of touching glyphs: its height is its own, its sides and width are not.
        lower = "o" in members and _on_baseline(glyph, line) and _lowercase_height(_relative_height(glyph, line), line)
        return Verdict(read, "o", ("o",), "touching_x_height") if lower else _undecided(read, "touching")
    if "I" in members:
        choice, options, why = _stem_or_one(glyph, line)
    elif "0" in members:
        choice, options, why = _round(glyph, line)
    elif "k" in members:
        choice, options, why = _k(glyph, line)
    elif "p" in members:
        choice, options, why = _p(glyph, line)
    else:
        choice, options, why = _case(glyph, line, read.lower())
        why = f"touching_{why}" if glyph.touching else why
    if choice is None:
        return Verdict(read, None, options, why)
    return Verdict(read, choice, (choice,), why)


WIDTH_DECIDED = frozenset("Il1O0okKpP")  # classes told apart by width or shape, not by height alone


MERGED_WIDTH = 0.7  # of the characters' narrowest widths summed: touching glyphs overlap a little


def _merged_lowercase(read: list[str], mapping: list, lines: list, wanted: list[int]) -> dict[int, Verdict]:
    """Look-alikes inside a merged glyph that stays at x-height: every character in it has a
    plain x-height lowercase form (as read) and the whole glyph is that low, so each is
    lowercase ("xz", "vo"). A taller merged glyph says nothing of which one is the capital."""
    if any(g in ("no_glyph", "unaligned", "split") for g in mapping):
        return {}  # characters the matching lost or doubted may have shifted the others
    groups: dict[int, list[int]] = {}
    for i, g in enumerate(mapping):
        if isinstance(g, _Merged):
            groups.setdefault(id(g.glyph), []).append(i)
    out = {}
    for members in groups.values():
        glyph, line = mapping[members[0]].glyph, lines[members[0]]
        if not all(read[i].lower() in _X_HEIGHT_LOWER or read[i] == "0" for i in members):
            continue
        if glyph.clipped or not _on_baseline(glyph, line) or not _lowercase_height(_relative_height(glyph, line), line):
            continue
        # Too narrow to hold them all: the matching gave these characters a sliver of one of
        # them (an m's first stem for "mS" at cap height 10), not the glyph they make.
        if glyph.width < MERGED_WIDTH * line.cap_height * sum(_NARROWEST.get(read[i], 0.5) for i in members):
            continue
        for i in members:
            if i in wanted and read[i] in _LOWERCASE_OF:
                lower = _LOWERCASE_OF[read[i]]
                out[i] = Verdict(read[i], lower, (lower,), "merged_at_x_height")
    return out


def _undecided(read: str, why: str) -> Verdict:
    return Verdict(read, None, (read, *sorted(AMBIGUOUS[read] - {read})), why)


def _replaced(verdicts: list[Verdict], new: dict[int, Verdict]) -> list[Verdict]:
    return [new.get(i, v) for i, v in enumerate(verdicts)]


# --- ink and glyphs ---------------------------------------------------------------------------


def _ink(crop: np.ndarray) -> np.ndarray | None:
    """Ink in [0, 1] (1 = full ink) whatever the polarity; None when there is no contrast."""
    gray = np.asarray(crop, dtype=np.uint8)
    if gray.ndim != 2 or min(gray.shape) < 6:
        return None
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    values = gray.astype(np.float32)
    dark_text = np.median(border) > threshold
    paper_side = values[values > threshold] if dark_text else values[values <= threshold]
    ink_side = values[values <= threshold] if dark_text else values[values > threshold]
    if paper_side.size == 0 or ink_side.size == 0:
        return None
    paper = float(np.median(paper_side))
    # Small text rarely reaches full ink: the strongest tenth of the ink side stands for it.
    full = float(np.percentile(ink_side, 10 if dark_text else 90))
    if abs(paper - full) < 40:
        return None
    return np.clip((values - paper) / (full - paper), 0.0, 1.0)


def _segment(ink: np.ndarray) -> tuple[list[_Glyph], np.ndarray]:
    mask = (ink >= COMPONENT).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    glyphs = _joined_stacked(stats)
    if not glyphs:
        return [], labels
    # Specks (JPEG noise, a label's period) are far smaller than any glyph of the id.
    tall = np.median([g.y1 - g.y0 for g in glyphs])
    return [g for g in glyphs if g.y1 - g.y0 >= 0.3 * tall or g.x1 - g.x0 >= 0.3 * tall], labels


def _joined_stacked(stats: np.ndarray) -> list[_Glyph]:
    """Components (cv2 stats rows, 0 the background) left to right, those one over another (the
    dot of an i, a stroke broken by JPEG) joined into one glyph."""
    parts = [_Glyph(x, x + w, y, y + h, (k,), area) for k, (x, y, w, h, area) in enumerate(stats) if k > 0]
    parts.sort(key=lambda g: g.x0)
    glyphs: list[_Glyph] = []
    for part in parts:
        host = next((g for g in reversed(glyphs[-3:]) if _stacked(g, part)), None)
        if host is None:
            glyphs.append(part)
        else:
            host.x0, host.x1 = min(host.x0, part.x0), max(host.x1, part.x1)
            host.y0, host.y1 = min(host.y0, part.y0), max(host.y1, part.y1)
            host.labels += part.labels
            host.area += part.area
    return glyphs


def _stacked(a: _Glyph, b: _Glyph) -> bool:
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    return overlap >= 0.6 * min(a.x1 - a.x0, b.x1 - b.x0)


def _measure(glyph: _Glyph, ink: np.ndarray, labels: np.ndarray, part: np.ndarray | None = None) -> None:
    """Sub-pixel edges from the glyph's own ink (neighbours' pixels masked out). `part`: the
    crop's pixels that are this glyph's, for one cut out of touching glyphs."""
    y0, y1 = max(glyph.y0 - 2, 0), min(glyph.y1 + 2, ink.shape[0])
    x0, x1 = max(glyph.x0 - 2, 0), min(glyph.x1 + 2, ink.shape[1])
    window = labels[y0:y1, x0:x1]
    if part is not None:
        own = part[y0:y1, x0:x1]
        window = np.where(own, glyph.labels[0], np.where(window == glyph.labels[0], -1, window))
    else:
        own = window == glyph.labels[0]
    for label in glyph.labels[1:]:
        own |= window == label
    near = cv2.dilate(own.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    near &= (window == 0) | own
    patch = np.where(near, ink[y0:y1, x0:x1], 0.0).astype(np.float32)
    glyph.patch, glyph.own, glyph.origin = patch, own, (y0, x0)
    top, bottom = _edges(patch.max(axis=1))
    left, right = _edges(patch.max(axis=0))
    glyph.top, glyph.bottom, glyph.left, glyph.right = y0 + top, y0 + bottom, x0 + left, x0 + right
    glyph.clipped_top, glyph.clipped_bottom = glyph.top < 0, glyph.bottom > ink.shape[0] - 1
    glyph.clipped_side = glyph.left < 0 or glyph.right > ink.shape[1] - 1


def _edges(profile: np.ndarray) -> tuple[float, float]:
    """Where the profile first rises through EDGE and last falls through it (sub-pixel)."""
    above = np.flatnonzero(profile >= EDGE)
    if above.size == 0:
        return 0.0, 0.0
    return _rise(profile, int(above[0])), _fall(profile, int(above[-1]))


def _rise(profile: np.ndarray, first: int) -> float:
    if first == 0:
        return -0.5
    return first - 1 + (EDGE - profile[first - 1]) / (profile[first] - profile[first - 1])


def _fall(profile: np.ndarray, last: int) -> float:
    if last == profile.size - 1:
        return last + 0.5
    return last + (profile[last] - EDGE) / (profile[last] - profile[last + 1])


# --- alignment --------------------------------------------------------------------------------


def _align(glyphs: list[_Glyph], read: list[str], xs: np.ndarray, anchor: int = KNOWN) -> list:
    """Each id position's glyph, or why it has none ("merged", "split", "unaligned").

    Dynamic programming over (characters matched, glyphs used): a character takes a glyph of
    its own, shares one with its neighbours (touching glyphs), or takes two (a split glyph);
    glyphs before and after the id (a label) are skipped for free, inside it at a price. The
    cost is how far each character's x centre is from where its glyph puts it. A character
    keeps its glyph only if every matching that gives it anything else costs at least
    NEAR_BEST more (min-marginals: the forward plus the backward cost around each step)."""
    n, count = len(xs), len(glyphs)
    pitch = (xs[-1] - xs[0]) / (n - 1)
    if pitch <= 0 or count < min(anchor, KNOWN, n - 2):
        return ["unaligned"] * n
    steps = _step_costs(glyphs, read, xs, pitch)
    skip = steps.pop("skip")
    width = count + 1  # glyph positions 0..count (all used)
    forward = np.full((n + 4, count + 3), np.inf)
    forward[0, 0] = 0.0
    for i in range(n + 1):
        row = forward[i]
        # Skips stay on the row: row[g] = min over j <= g of row[j] + the skip costs from j to g.
        run = np.concatenate([[0.0], np.cumsum(skip[i])])
        row[:width] = run + np.minimum.accumulate(row[:width] - run)
        if i < n:
            for (takes, uses), cost in steps.items():
                target = forward[i + takes, uses : uses + width]
                np.minimum(target, row[:width] + cost[i], out=target)
    backward = np.full((n + 4, count + 3), np.inf)
    backward[n, count] = 0.0
    for i in range(n, -1, -1):
        row = backward[i]
        if i < n:
            for (takes, uses), cost in steps.items():
                np.minimum(row[:width], cost[i] + backward[i + takes, uses : uses + width], out=row[:width])
        run = np.concatenate([[0.0], np.cumsum(skip[i])])
        row[:width] = np.minimum.accumulate((row[:width] + run)[::-1])[::-1] - run
    best = forward[n, count]
    # Each character's cheapest complete matching through each way of covering it.
    options: list[list[tuple[float, str, int]]] = [[] for _ in range(n)]
    for (takes, uses), cost in steps.items():
        kind = {(1, 1): "one", (1, 2): "split", (1, 0): "no_glyph"}.get((takes, uses), "merged")
        totals = forward[:n, :width] + cost + backward[takes : n + takes, uses : uses + width]
        for i, g in zip(*np.nonzero(totals < best + NEAR_BEST)):
            for t in range(takes):
                if i + t < n:
                    options[i + t].append((float(totals[i, g]), kind, int(g)))
    out: list = []
    for i in range(n):
        ranked = sorted(options[i])
        total, kind, g = ranked[0]
        if kind == "merged":  # its glyph only when no other matching comes close
            out.append(_Merged(glyphs[g]) if len(ranked) == 1 else kind)
        elif kind != "one":
            out.append(kind)
        elif len(ranked) > 1 or abs(xs[i] - glyphs[g].cx) > 0.9 * pitch:
            out.append("unaligned")
        else:
            out.append(glyphs[g])
    # The known part (`anchor` leading characters) anchors everything: x centres far from its
    # glyphs mean the x centres do not belong to this crop (another scale, another line).
    offsets = [abs(xs[i] - g.cx) / pitch for i, g in enumerate(out[:anchor]) if isinstance(g, _Glyph)]
    if not offsets or np.median(offsets) > 0.45:
        return ["unaligned"] * n
    return out


def _step_costs(glyphs: list[_Glyph], read: list[str], xs: np.ndarray, pitch: float) -> dict:
    """Cost tables [character, glyph] for each step (characters taken, glyphs used), and for
    skipping a glyph ("skip", [characters matched so far, glyph])."""
    n, count = len(xs), len(glyphs)
    cap = float(np.median([g.y1 - g.y0 for g in glyphs]))
    widest = np.array([max(_WIDEST.get(m, 1.15) for m in AMBIGUOUS.get(c, c)) * cap + 1.5 for c in read])
    narrowest = np.array([min(_NARROWEST.get(m, 0.5) for m in AMBIGUOUS.get(c, c)) * cap - 1.5 for c in read])
    x0 = np.array([g.x0 for g in glyphs], dtype=float) - 0.5
    x1 = np.array([g.x1 for g in glyphs], dtype=float) - 0.5
    width = x1 - x0
    x = xs[:, None]
    steps: dict = {}
    one = ((x - (x0 + x1) / 2) / pitch) ** 2
    one[(width[None, :] > widest[:, None]) | (width[None, :] < narrowest[:, None])] = np.inf
    steps[(1, 1)] = one
    for takes in (2, 3):
        cost = np.full((n, count), np.inf)
        for i in range(n - takes + 1):
            slots = x0 + (np.arange(takes)[:, None] + 0.5) * width / takes
            cost[i] = np.sum(((xs[i : i + takes, None] - slots) / pitch) ** 2, axis=0) + (takes - 1) * IRREGULAR
        steps[(takes, 1)] = cost
    split = np.full((n, count), np.inf)
    if count > 1:
        union = x1[1:] - x0[:-1]
        split[:, :-1] = ((x - (x0[:-1] + x1[1:]) / 2) / pitch) ** 2 + IRREGULAR
        split[:, :-1][(union[None, :] > widest[:, None]) | (union[None, :] < narrowest[:, None])] = np.inf
    steps[(1, 2)] = split
    # Every table gets a column for "all glyphs used"; a lost character (one with no glyph at
    # all, as in a long chain of touching ones) can be anywhere, at a price.
    steps = {key: np.concatenate([cost, np.full((n, 1), np.inf)], axis=1) for key, cost in steps.items()}
    steps[(1, 0)] = np.full((n, count + 1), 2 * IRREGULAR)
    skip = np.full((n + 1, count), IRREGULAR)
    skip[0, x1 < xs[0] - 0.5 * pitch] = 0.0  # before the id: a label
    skip[n, x0 > xs[-1] + 0.5 * pitch] = 0.0  # after it
    steps["skip"] = skip
    return steps


# --- references -------------------------------------------------------------------------------


def _references(known: str, mapping: list) -> _Line | None:
    """Lines and reference glyphs from the known characters that have a glyph of their own;
    None without the leading E/D (its top is the cap line, its stem the stroke) or with too few
    of them. Edges cut off by the crop's border are left out."""
    pairs = [(char, glyph) for char, glyph in zip(known, mapping) if isinstance(glyph, _Glyph)]
    if (
        len(pairs) < MIN_REFERENCES
        or pairs[0][1] is not mapping[0]
        or known[0] not in "ED"
        or mapping[0].clipped_top
        or mapping[0].clipped_side
    ):
        return None
    known = "".join(char for char, _ in pairs)
    glyphs = [glyph for _, glyph in pairs]
    x = np.array([g.cx for g in glyphs])
    tops = np.array([np.nan if g.clipped_top else g.top for g in glyphs])
    bottoms = np.array([np.nan if g.clipped_bottom else g.bottom for g in glyphs])
    heights = bottoms - tops
    whole = np.isfinite(heights)
    if whole.sum() < 8 or np.median(heights[whole]) < 5:
        return None
    # The known glyphs must be alike in height: otherwise the match is wrong or glyphs touch.
    if np.any(np.abs(heights[whole] - np.median(heights[whole])) > 0.12 * np.median(heights[whole])):
        return None
    slope = _common_slope(x[whole], tops[whole], bottoms[whole])
    flat_top = np.array([c in _FLAT_DIGIT_TOPS for c in known]) & np.isfinite(tops)
    flat_bottom = np.array([c in _FLAT_BOTTOMS for c in known]) & np.isfinite(bottoms)
    if not flat_bottom.any():
        return None
    top_rest = tops - slope * x
    bottom_rest = bottoms - slope * x
    # The cap line goes through E/D alone: some fonts' digits are shorter than their capitals.
    cap0 = float(top_rest[0])
    base0 = float(np.median(bottom_rest[flat_bottom]))
    residuals = np.concatenate(
        [top_rest[flat_top] - np.median(top_rest[flat_top]) if flat_top.any() else [], bottom_rest[flat_bottom] - base0]
    )
    noise = max(0.08, 1.4826 * float(np.median(np.abs(residuals))))
    if residuals.size < 4:
        noise = max(noise, 0.25)
    stroke = _stem_width(glyphs[0], base0 + slope * glyphs[0].cx)
    if stroke is None:
        return None
    # Three of each are enough to compare with (and ISPBs like 00000000 would make it slow).
    zeros = [g for c, g in zip(known, glyphs) if c == "0" and not (g.clipped or g.touching)][:3]
    ones = [g for c, g in zip(known, glyphs) if c == "1" and not (g.clipped or g.touching)][:3]
    return _Line(slope, base0, cap0, noise, stroke, zeros, ones)


def _common_slope(x: np.ndarray, tops: np.ndarray, bottoms: np.ndarray) -> float:
    """One slope for the tops and the bottoms (each with its own offset), least squares after
    dropping the worst outliers (round digits overshoot a little)."""
    keep = np.ones(x.size * 2, dtype=bool)
    xx = np.concatenate([x, x]) - x.mean()
    yy = np.concatenate([tops - tops.mean(), bottoms - bottoms.mean()])
    slope = 0.0
    for _ in range(2):
        slope = float(np.sum(xx[keep] * yy[keep]) / max(np.sum(xx[keep] ** 2), 1e-9))
        residual = yy - slope * xx
        residual[: x.size] -= np.median(residual[: x.size])
        residual[x.size :] -= np.median(residual[x.size :])
        keep = np.abs(residual) <= max(3 * 1.4826 * np.median(np.abs(residual)), 0.3)
    return slope


def _stem_width(glyph: _Glyph, baseline: float) -> float | None:
    """The stroke: the width of E's (or D's) left stem between its bars."""
    top = glyph.top - glyph.origin[0]
    height = baseline - glyph.top
    widths = []
    for fraction in (0.22, 0.3, 0.38, 0.62, 0.7, 0.78):
        row = int(round(top + fraction * height))
        run = _first_run(glyph.patch[row]) if 0 <= row < glyph.patch.shape[0] else None
        if run:
            widths.append(run)
    return float(np.median(widths)) if widths else None


def _first_run(row: np.ndarray) -> float | None:
    """The width of the leftmost run of ink in a row (sub-pixel)."""
    above = np.flatnonzero(row >= EDGE)
    if above.size == 0:
        return None
    gaps = np.flatnonzero(np.diff(above) > 1)
    last = int(above[gaps[0]]) if gaps.size else int(above[-1])
    return _fall(row, last) - _rise(row, int(above[0]))


def _tail_references(lines: list[_Line], read: list[str], mapping: list) -> None:
    """The x-height from plain lowercase letters of the tail; the ascenders' rise above the cap
    line from its b/d/h/k. The rise counts only when it clears the highest an I can measure:
    else this font's l may be no taller than its I (Helvetica). `lines`: each position's line
    (two for a wrapped id); the font's references are the same on both."""
    heights, rises = [], []
    for char, glyph, line in zip(read[KNOWN:], mapping[KNOWN:], lines[KNOWN:]):
        if not isinstance(glyph, _Glyph) or glyph.clipped or not _on_baseline(glyph, line):
            continue
        height = _relative_height(glyph, line)
        if char in _X_HEIGHT_LETTERS and 0.6 <= height <= 0.86:
            heights.append(height)
        if char in _ASCENDER_LETTERS:
            rises.append((line.capline(glyph.cx) - glyph.top, line.highest_i))
    rise, highest_i = (float(np.median([r[k] for r in rises])) for k in (0, 1)) if rises else (0.0, 0.0)
    for line in {id(each): each for each in lines}.values():
        if heights:
            line.x_height = float(np.median(heights))
        if rises and rise > highest_i:
            line.ascender = rise
        # This font's l is no taller than its I (Inter, Helvetica): no other line can say otherwise.
        line.low_ascenders = bool(rises) and rise <= highest_i


# --- decisions --------------------------------------------------------------------------------


def _on_baseline(glyph: _Glyph, line: _Line) -> bool:
    return abs(glyph.bottom - line.baseline(glyph.cx)) <= 0.08 * line.cap_height + 3 * line.noise


def _relative_height(glyph: _Glyph, line: _Line) -> float:
    return (line.baseline(glyph.cx) - glyph.top) / line.cap_height


def _stem_or_one(glyph: _Glyph, line: _Line):
    if len(glyph.labels) > 1:
        return None, ("I", "l", "1"), "not_one_piece"
    if not _on_baseline(glyph, line):
        return None, ("I", "l", "1"), "off_baseline"
    one = None  # the verdict against the known part's 1, for a glyph as wide as it
    if line.ones:
        # Same font, same size: the 1 of the known part is 2-4 stems wide (its flag).
        ratio = glyph.width / float(np.median([g.width for g in line.ones]))
        if 0.85 <= ratio <= 1.15:
            one = _one(glyph, line)
            if one[0] is not None:
                return one
    if glyph.width > 1.6 * line.stroke and _barred_both_ends(glyph, line):
        return "I", ("I",), "serifed_I"
    if one is not None:
        return one
    if line.ones:
        if ratio > 0.6 or glyph.width > 1.6 * line.stroke:  # stems measure up to 1.53 strokes
            return None, ("1", "I", "l"), "width_unlike_stem_and_1"
    elif glyph.width > 1.3 * line.stroke:
        return None, ("1", "I", "l"), "no_reference_1"
    if _has_gap(glyph):
        return None, ("l", "I"), "dotted"
    if _relative_height(glyph, line) < 0.9:
        return None, ("I", "l"), "shorter_than_cap"
    rise = line.capline(glyph.cx) - glyph.top
    highest_i = line.highest_i
    if rise > 0.15 * line.cap_height:  # no l rises that far (they rise 3-7%)
        return None, ("l", "I"), "too_tall"
    if rise > highest_i:
        return "l", ("l",), "taller_than_cap"
    ascender = line.ascender
    drop = glyph.bottom - line.baseline(glyph.cx)
    allowance = _stem_end_allowance(glyph.width)
    # Another line's ascenders are not eroded like this line's stems: a chat app's JPEG took up
    # to a pixel off an l's top here (measured on the adversarial set), so only more will do.
    eroded = max(allowance, BORROWED_EROSION) if line.borrowed else allowance
    # A stem whose foot JPEG or blur wore above the baseline lost as much of its top: count it back.
    worn = max(0.0, -drop)
    if ascender is not None and rise + worn < ascender - line.margin - eroded and drop <= allowance:
        return "I", ("I",), "at_cap_height"
    if line.low_ascenders:
        why = "low_ascenders"
    else:
        why = "close_to_cap" if ascender is not None else "no_ascender_reference"
    return None, ("l", "I") if rise > highest_i / 2 else ("I", "l"), why


def _barred_both_ends(glyph: _Glyph, line: _Line) -> bool:
    """An I with serifs (Noto Sans, Verdana, Tahoma, IBM Plex Sans): an upright stem whose top
    and bottom ends both carry a bar reaching out to either side about equally. No l or 1 of a
    sans font is drawn so: an l is a bare stem or has a foot on one side, a 1 a flag to the
    left; a Z's middle is no upright stem."""
    patch = glyph.patch
    top, bottom = glyph.top - glyph.origin[0], glyph.bottom - glyph.origin[0]
    height, stroke = bottom - top, line.stroke
    if height < 0.9 * line.cap_height or line.capline(glyph.cx) - glyph.top > line.highest_i or stroke <= 0:
        return False  # not at cap height

    def run(row_from: float, row_to: float) -> tuple[float, float] | None:
        rows = patch[int(round(row_from)) : int(round(row_to)) + 1]
        if rows.size == 0:
            return None
        left, right = _edges(rows.max(axis=0))
        return (left, right) if right > left else None

    band = max(0.12 * height, 1.0)
    middle = [m for m in (run(top + f * height, top + f * height) for f in (0.35, 0.5, 0.65)) if m is not None]
    if len(middle) < 3 or any(m[1] - m[0] > 1.6 * stroke for m in middle):
        return False
    centres = [(m[0] + m[1]) / 2 for m in middle]
    if max(centres) - min(centres) > 0.4 * stroke:  # not upright: a diagonal
        return False
    centre = float(np.mean(centres))
    for ends in (run(top, top + band), run(bottom - band, bottom)):
        if ends is None:
            return False
        reach_left, reach_right = centre - ends[0], ends[1] - centre
        if min(reach_left, reach_right) < stroke or abs(reach_left - reach_right) > 0.35 * max(reach_left, reach_right):
            return False
    return True


def _stem_end_allowance(width: float) -> float:
    """px: how far below the line's other ascenders the top of an l this wide (px) can measure,
    JPEG and blur eating the ends of thin stems (measured over the grid: up to 0.62 for stems
    of 1.3 px, 0.47 up to 1.6 px, 0.36 up to 2 px, 0.29 beyond). An I must be further down, and
    sit on the baseline at least this closely (an eroded stem does not)."""
    return float(np.clip(1.0 - 0.3 * width, 0.35, 0.65))


def _has_gap(glyph: _Glyph) -> bool:
    """A merged i (or j) dot shows as weaker ink between the dot and the stem."""
    profile = glyph.patch.max(axis=1)
    top, bottom = glyph.top - glyph.origin[0], glyph.bottom - glyph.origin[0]
    inner = profile[int(np.ceil(top + 1.0)) : int(np.floor(bottom - 1.0)) + 1]
    return inner.size > 2 and float(inner.min()) < 0.7 * float(np.median(inner))


def _one(glyph: _Glyph, line: _Line):
    top = float(np.median([g.top - line.capline(g.cx) for g in line.ones]))
    if abs(glyph.top - line.capline(glyph.cx) - top) > max(0.06 * line.cap_height, line.margin):
        return None, ("1", "I", "l"), "unlike_reference_1"
    for difference, local in (_difference(glyph, ref) for ref in line.ones):
        if difference <= ONE_DIFFERENCE and local <= ONE_LOCAL:
            return "1", ("1",), "like_reference_1"
    return None, ("1", "I", "l"), "unlike_reference_1"


def _round(glyph: _Glyph, line: _Line):
    if not _on_baseline(glyph, line):
        return None, ("O", "0", "o"), "off_baseline"
    height = _relative_height(glyph, line)
    if _lowercase_height(height, line):
        return "o", ("o",), "x_height"
    if not _cap_height(height, line):
        return None, ("o", "O", "0") if height < (LOWER_MOST + UPPER_LEAST) / 2 else ("O", "0", "o"), "height_between"
    spans = [span for span in (_stroke_span(g, line) for g in line.zeros) if span]
    span = _stroke_span(glyph, line)
    if not spans or not span:
        return None, ("O", "0"), "no_reference_0"
    ratio = span / float(np.median(spans))
    outer = glyph.width / float(np.median([g.width for g in line.zeros]))
    if ratio > 1.8 or outer > ratio + 0.1:  # wider than any O, or not one round glyph
        return None, ("O", "0"), "not_one_round_glyph"
    if ratio >= O_WIDER and all(
        d >= OTHER_DIFFERENCE and local >= OTHER_LOCAL for d, local in (_difference(glyph, ref) for ref in line.zeros)
    ):
        return "O", ("O",), "wider_than_0"
    if ratio <= ZERO_WIDER and any(_same_round(glyph, ref) for ref in line.zeros):
        return "0", ("0",), "like_reference_0"
    return None, ("O", "0") if ratio > (O_WIDER + ZERO_WIDER) / 2 else ("0", "O"), "width_between_0_and_O"


def _stroke_span(glyph: _Glyph, line: _Line) -> float | None:
    """px between the centres of a round glyph's left and right strokes at mid-height, from its
    own pixels: blur widens strokes symmetrically, and a close neighbour's fringe is not its own."""
    top, bottom = glyph.top - glyph.origin[0], glyph.bottom - glyph.origin[0]
    rows = slice(int(round(top + 0.35 * (bottom - top))), int(round(top + 0.65 * (bottom - top))) + 1)
    ink = np.where(glyph.own[rows], glyph.patch[rows], 0.0).sum(axis=0)
    columns = np.arange(ink.size)
    middle = (glyph.left + glyph.right) / 2 - glyph.origin[1]
    left, right = ink * (columns < middle), ink * (columns > middle)
    if left.sum() <= 0 or right.sum() <= 0:
        return None
    return float((right @ columns) / right.sum() - (left @ columns) / left.sum())


def _lowercase_height(height: float, line: _Line) -> bool:
    """Is a glyph this tall (a fraction of the cap height, from the baseline) an x-height one?"""
    limit = LOWER_MOST - _extra_margin(line)
    if line.x_height is not None:  # a font with a low x-height leaves more room
        limit = min(limit, (line.x_height + 1) / 2 - 0.03)
    return 0.55 <= height <= limit


def _cap_height(height: float, line: _Line) -> bool:
    return UPPER_LEAST + _extra_margin(line) <= height <= 1.12


def _extra_margin(line: _Line) -> float:
    """Wider limits for a line whose known glyphs scatter more than usual."""
    return max(0.0, 3 * line.noise / line.cap_height - 0.03)


def _case(glyph: _Glyph, line: _Line, lower: str):
    upper = lower.upper()
    if not _on_baseline(glyph, line):
        return None, (lower, upper), "off_baseline"
    height = _relative_height(glyph, line)
    if _lowercase_height(height, line):
        return lower, (lower,), "x_height"
    if _cap_height(height, line):
        return upper, (upper,), "cap_height"
    return None, (lower, upper) if height < (LOWER_MOST + UPPER_LEAST) / 2 else (upper, lower), "height_between"


def _k(glyph: _Glyph, line: _Line):
    if not _on_baseline(glyph, line):
        return None, ("k", "K"), "off_baseline"
    if len(glyph.labels) > 1:  # a broken arm would hide from the band below
        return None, ("k", "K"), "not_one_piece"
    # Rows between the x-height and the cap height: k has only its stem there.
    base = line.baseline(glyph.cx) - glyph.origin[0]
    rows = [int(round(base - f * line.cap_height)) for f in (0.86, 0.92)]
    widths = []
    for row in rows:
        if 0 <= row < glyph.patch.shape[0]:
            left, right = _edges(glyph.patch[row])
            widths.append(right - left)
    if len(widths) < 2:
        return None, ("k", "K"), "no_band"
    band = max(widths)
    if band <= 1.6 * line.stroke and glyph.width >= 3 * line.stroke:
        return "k", ("k",), "stem_only_above_x_height"
    if min(widths) >= 2.5 * line.stroke:
        return "K", ("K",), "arm_above_x_height"
    return None, ("k", "K"), "band_between"


def _p(glyph: _Glyph, line: _Line):
    drop = glyph.bottom - line.baseline(glyph.cx)
    height = _relative_height(glyph, line)
    margin = 0.04 * line.cap_height + 3 * line.noise
    if drop >= 0.15 * line.cap_height and _lowercase_height(height, line):
        return "p", ("p",), "descender"
    if abs(drop) <= margin and _cap_height(height, line):
        return "P", ("P",), "on_baseline_cap_height"
    return None, ("p", "P") if drop > 0.07 * line.cap_height else ("P", "p"), "height_between"


def _same_round(a: _Glyph, b: _Glyph) -> bool:
    """A round as narrow as the line's 0s is one of them when its ink differs as little overall:
    an O differs from a 0 by over 0.11 in every font measured, even where JPEG leaves a few
    pixels that differ more than 0.6 (a 0 against its own line's 0s at cap height 12)."""
    return _difference(a, b)[0] <= SAME_DIFFERENCE


def _difference(a: _Glyph, b: _Glyph) -> tuple[float, float]:
    """How two glyphs of the same font and size differ, aligned on their ink centroids and then
    on the best sub-pixel shift: the share of ink that differs, and the most ink that differs
    within any 2x2 pixels (a serif, a flag or a bar is a small area of strong difference)."""
    h, w = max(a.patch.shape[0], b.patch.shape[0]) + 4, max(a.patch.shape[1], b.patch.shape[1]) + 4
    first = _centred(a.patch, h, w, 0.0, 0.0)
    if first is None:
        return np.inf, np.inf
    best, residual = np.inf, None
    for dx in np.arange(-0.75, 0.76, 0.25):
        for dy in np.arange(-0.5, 0.51, 0.25):
            second = _centred(b.patch, h, w, dx, dy)
            if second is None:
                return np.inf, np.inf
            difference = float(np.sum((first - second) ** 2) / (0.5 * np.sum(first**2 + second**2)))
            if difference < best:
                best, residual = difference, np.abs(first - second)
    if residual is None:
        return best, np.inf
    return best, float(cv2.boxFilter(residual, -1, (2, 2), normalize=False).max())


def _centred(patch: np.ndarray, h: int, w: int, dx: float, dy: float) -> np.ndarray | None:
    m = cv2.moments(patch)
    if m["m00"] <= 0:
        return None
    shift = np.array(
        [[1, 0, w / 2 - m["m10"] / m["m00"] + dx], [0, 1, h / 2 - m["m01"] / m["m00"] + dy]], dtype=np.float32
    )
    return cv2.warpAffine(patch, shift, (w, h), flags=cv2.INTER_LINEAR)


def ascender_rise(crop: np.ndarray, chars: list[tuple[str, float]], text: str = "") -> float | None:
    """How far this line's ascenders (b d h k, and an l inside a lowercase word) rise above its
    flat capitals, in cap heights; None when the line cannot say (fewer than two clean capitals
    or no clean ascender, too small, capitals that disagree, or a rise no font has). Any text
    line of the receipt will do, e.g. a label or a name: apps draw their receipts in one font,
    so it tells whether the id's `l` must clear its `I`. `text`: the line as OCR read it, with
    its spaces (per-character readings have none), which say where words start."""
    ink = _ink(crop)
    if ink is None:
        return None
    glyphs, labels = _segment(ink)
    chars = [(char, x) for char, x in chars if char != " "]
    read = "".join(char for char, _ in chars)
    if text.replace(" ", "") != read:
        text = read  # without spaces, no word starts but the first: the flat capitals count
    owners: dict[int, list] = {}
    for role, (_, x) in zip(_reference_roles(text), chars):
        hits = [g for g in glyphs if g.x0 <= x < g.x1]
        if len(hits) == 1:
            owners.setdefault(id(hits[0]), []).append((role, hits[0]))
    capitals: list[_Glyph] = []
    ascenders: list[_Glyph] = []
    for owned in owners.values():
        if len(owned) != 1:
            continue  # touching glyphs: whose edge is it?
        role, glyph = owned[0]
        if role is None:
            continue
        _measure(glyph, ink, labels)
        if not glyph.clipped:
            (capitals if role == "capital" else ascenders).append(glyph)
    if len(capitals) < 2 or not ascenders:
        return None
    # Lines through the capitals' tops and bottoms (a crop may be slightly tilted).
    xs = np.array([g.cx for g in capitals])
    tops, bottoms = np.array([g.top for g in capitals]), np.array([g.bottom for g in capitals])
    slope = float(np.polyfit(xs, tops, 1)[0]) if np.ptp(xs) > 0 else 0.0
    cap0 = float(np.median(tops - slope * xs))
    base0 = float(np.median(bottoms - slope * xs))
    cap_height = base0 - cap0
    if cap_height < _MIN_CAP_PX or float(np.ptp(tops - slope * xs)) > 0.04 * cap_height:
        return None
    rise = float(np.median([(cap0 + slope * g.cx - g.top) / cap_height for g in ascenders]))
    return rise if rise <= MAX_ASCENDER_RISE else None


def _reference_roles(text: str) -> list[str | None]:
    """What each character of a line's text other than its spaces can measure: "capital",
    "ascender" or None. A capital with a lowercase twin counts only opening a lowercase word, an
    `l` only after a lowercase letter: there the text rules out its twin."""
    roles: list[str | None] = []
    for index, char in enumerate(text):
        if char == " ":
            continue
        before = text[index - 1] if index else " "
        after = text[index + 1] if index + 1 < len(text) else " "
        if char in FLAT_CAPITALS or (char in _INITIAL_CAPITALS and not before.isalpha() and after.islower()):
            roles.append("capital")
        elif char in _ASCENDER_LETTERS or (char == "l" and before.islower()):
            roles.append("ascender")
        else:
            roles.append(None)
    return roles


def may_show_ascender_rise(text: str) -> bool:
    """Could ascender_rise measure a line with this text: two capitals and an ascender?"""
    roles = _reference_roles(text)
    return roles.count("capital") >= 2 and "ascender" in roles
