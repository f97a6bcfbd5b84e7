"""The id's per-character evidence (common.evidence) and every review reason extraction gives.

The decisions are tested on the recognizer's output as data (CharReadings), so each rule is
pinned down; `test_a_rendered_look_alike_*` runs the real RapidOCR engine on a rendered receipt.
"""

import io

import numpy
import pytest
from PIL import Image

from common import evidence, extraction, ocr
from common.ocr import CharReading, OcrPage, Word

E2E = "E18236120202506040125s0a1B2c3D4e"
ROW = ["Valor  R$ 19,50", "Data  03/06/2025  22:25", f"ID  {E2E}", "Para", "Nome  Maria Souza", "CPF  ***.123.456-**"]


class Recognizer:
    """Stands in for the engine's second look at a box: returns the readings it is given, one
    list per call (the as-detected reading, then the padded one)."""

    def __init__(self, *readings):
        self.readings = list(readings)
        self.calls = 0

    def reread(self, page, word, pad=0.0):
        reading = self.readings[min(self.calls, len(self.readings) - 1)]
        self.calls += 1
        return None, reading


def readings(text, probs=None):
    """One CharReading per character, 0.9999 sure unless `probs` says otherwise
    ({position: (prob, {alternative: prob})})."""
    probs = probs or {}
    out = []
    for i, char in enumerate(text):
        prob, alternatives = probs.get(i, (0.9999, {}))
        out.append(CharReading(char, prob, alternatives, 10.0 * i))
    return out


def page_with(text, engine):
    return OcrPage([Word(text, ((0, 0), (320, 0), (320, 20), (0, 20)))], None, engine)


def test_a_clear_reading_settles_the_id():
    engine = Recognizer(readings(E2E))
    check = evidence.check_id(E2E, [page_with(E2E, engine)])
    assert check.settled and check.transaction_id == E2E and check.candidates == [E2E]
    assert check.confidence >= 0.95


def test_a_look_alike_the_recognizer_hesitates_on_is_ambiguous_with_its_candidates():
    # Position 22 ("0") read with 12% for "O": not settled without geometry.
    hesitant = readings(E2E, {22: (0.88, {"O": 0.12})})
    check = evidence.check_id(E2E, [page_with(E2E, Recognizer(hesitant))])
    assert not check.settled and check.ambiguous == [22]
    assert check.candidates[0] == E2E and E2E[:22] + "O" + E2E[23:] in check.candidates
    assert check.confidence <= 0.5


def test_two_readings_that_disagree_leave_the_character_open():
    other = E2E[:25] + "b" + E2E[26:]  # "B" read as "b" at another scale
    check = evidence.check_id(E2E, [page_with(E2E, Recognizer(readings(E2E), readings(other)))])
    assert 25 in check.ambiguous and other in check.candidates


def test_a_non_look_alike_below_the_floor_is_ambiguous_too():
    shaky = readings(E2E, {26: (0.6, {"8": 0.4})})  # "c"? or "8"?
    check = evidence.check_id(E2E, [page_with(E2E, Recognizer(shaky))])
    assert check.ambiguous == [26] and E2E[:26] + "8" + E2E[27:] in check.candidates


def test_mass_the_engine_spread_over_characters_it_ranked_below_every_runner_up_is_no_rival():
    # Position 25 ("B", no look-alike) at 0.8: the rest went to characters the engine ranked
    # below its three runners-up (a 0.0005 each at most, 61 allowed ones): at most 3.8%.
    spread = readings(E2E, {25: (0.8, {"8": 0.0009, "R": 0.0007, "å": 0.0005})})
    assert evidence.check_id(E2E, [page_with(E2E, Recognizer(spread))]).settled
    # The same 0.8 with a runner-up that could be it: open.
    rival = readings(E2E, {25: (0.8, {"8": 0.15, "R": 0.0007, "å": 0.0005})})
    assert evidence.check_id(E2E, [page_with(E2E, Recognizer(rival))]).ambiguous == [25]
    # Without runners-up there is no bound: the unknown 20% stays unknown.
    alone = readings(E2E, {25: (0.8, {})})
    assert evidence.check_id(E2E, [page_with(E2E, Recognizer(alone))]).ambiguous == [25]


def test_digits_where_the_id_must_have_digits_ignore_letter_rivals():
    # An "O" runner-up in the date part is no rival: positions 2-21 are digits.
    check = evidence.check_id(E2E, [page_with(E2E, Recognizer(readings(E2E, {12: (0.7, {"O": 0.3})})))])
    assert check.settled


def test_an_id_wrapped_over_two_boxes_is_checked_in_both():
    head, tail = E2E[:20], E2E[20:]
    # The head is clear at once; the tail's unsure character asks for its second reading.
    engine = Recognizer(readings(head), readings(tail, {3: (0.7, {"A": 0.3})}))
    page = OcrPage(
        [Word(head, ((0, 0), (200, 0), (200, 20), (0, 20))), Word(tail, ((0, 30), (200, 30), (200, 50), (0, 50)))],
        None,
        engine,
    )
    check = evidence.check_id(E2E, [page])
    assert check.ambiguous == [23] and engine.calls == 3


def box(text, x0, y0, x1, y1):
    return Word(text, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def test_an_id_wrapped_with_only_a_few_characters_on_its_second_line_is_found_in_both_boxes():
    head, rest = E2E[:30], E2E[30:]
    under = [box(head, 0, 0, 300, 20), box(rest, 2, 30, 22, 50)]
    assert [span for _, span in evidence._boxes_holding(E2E, under)] == [(0, 30), (30, 32)]
    # A box that merely starts with those characters, or sits elsewhere, is not the rest.
    elsewhere = [box(head, 0, 0, 300, 20), box(rest, 200, 300, 220, 320), box(rest + "x", 2, 30, 30, 50)]
    assert [span for _, span in evidence._boxes_holding(E2E, elsewhere)] == [(0, 30)]


def test_without_per_character_evidence_look_alikes_in_the_tail_are_open():
    check = evidence.check_id(E2E, [OcrPage([Word(E2E, ((0, 0), (1, 0), (1, 1), (0, 1)))])])
    assert check.source == "none" and not check.settled
    assert {i for i in check.ambiguous} == {i for i, c in enumerate(E2E) if i >= 21 and c in evidence.LOOKALIKES}
    no_lookalikes = "E18236120202506040125eR4tHa7dNm"
    assert evidence.check_id(no_lookalikes, []).settled


def test_visions_symbol_confidences_are_the_evidence():
    confident = Word(E2E, ((0, 0), (1, 0), (1, 1), (0, 1)), chars=tuple(readings(E2E)))
    assert evidence.check_id(E2E, [OcrPage([confident])]).settled
    unsure = Word(E2E, ((0, 0), (1, 0), (1, 1), (0, 1)), chars=tuple(readings(E2E, {30: (0.8, {})})))
    assert evidence.check_id(E2E, [OcrPage([unsure])]).ambiguous == [30]  # "4"? 0.8, of no rival


def test_the_amount_is_settled_only_when_its_digits_are_clear():
    def page(probs):
        return OcrPage(
            [Word("R$ 19,50", ((0, 0), (90, 0), (90, 20), (0, 20)))], None, Recognizer(readings("R$19,50", probs))
        )

    assert evidence.amount_settled(19.5, [page({})]) is True
    assert evidence.amount_settled(19.5, [page({3: (0.55, {"8": 0.45})})]) is False
    assert evidence.amount_settled(19.5, []) is None


# -- every review reason -------------------------------------------------------------------------


def fields(lines, **checks):
    return extraction.extract_fields(lines, **checks)


def test_a_clean_receipt_has_no_review_reason():
    data = fields(ROW)
    assert data["review_reasons"] == [] and data["needs_review"] is False
    assert "transaction_id_candidates" not in data


@pytest.mark.parametrize(
    "reason, lines, checks",
    [
        ("amount_missing", [line for line in ROW if "Valor" not in line], {}),
        ("amount_uncertain", ROW, {"amount_check": lambda amount: False}),
        ("id_missing", [line for line in ROW if "ID" not in line], {}),
        (
            "id_ambiguous",
            ROW,
            {
                "id_check": lambda e2e_id, shown_at: evidence.IdCheck(
                    e2e_id, [e2e_id, e2e_id[:-1] + "E"], [31], 0.4, "ocr_evidence"
                )
            },
        ),
        ("id_minute_mismatch", [line.replace("22:25", "19:02") for line in ROW], {}),
        ("paid_at_missing", [line for line in ROW if "Data" not in line], {}),
        ("receiver_missing", ROW[:3], {}),
    ],
)
def test_each_review_reason_flags_the_receipt(reason, lines, checks):
    data = fields(lines, **checks)
    assert reason in data["review_reasons"], data["review_reasons"]
    assert data["needs_review"] is True
    assert set(data["review_reasons"]) <= set(extraction.REVIEW_REASONS)


def test_an_ambiguous_id_comes_with_its_candidates_and_a_low_confidence():
    candidates = [E2E, E2E[:-1] + "E"]
    data = fields(
        ROW, id_check=lambda e2e_id, shown_at: evidence.IdCheck(e2e_id, candidates, [31], 0.4, "ocr_evidence")
    )
    assert data["transaction_id_candidates"] == candidates and data["confidence"]["transaction_id"] <= 0.4


def test_the_evidence_may_correct_a_look_alike_and_the_payment_time_follows():
    corrected = E2E[:21] + "S" + E2E[22:]
    data = fields(
        ROW, id_check=lambda e2e_id, shown_at: evidence.IdCheck(corrected, [corrected], [], 0.97, "ocr_evidence")
    )
    assert data["transaction_id"] == corrected and data["review_reasons"] == []


def test_a_rendered_look_alike_is_settled_right_or_flagged_with_the_truth_among_candidates(sample):
    """The real engine on the bundled sample: the id is right, or it is flagged and the right
    id is a candidate. Never a wrong id unflagged."""
    engine = ocr.RapidOcrEngine()
    page = engine.read(Image.open(io.BytesIO(sample["png"])).convert("RGB"))
    truth = sample["receipt"].transaction_id
    data = extraction.extract_fields(
        page.lines, id_check=lambda e2e_id, shown_at: evidence.check_id(e2e_id, [page], shown_at)
    )
    assert data["transaction_id"] == truth or (data["needs_review"] and truth in data["transaction_id_candidates"])


def test_visions_look_alikes_are_settled_by_the_glyphs_on_the_image():
    """Cloud Vision gives symbols with boxes and confidences: a look-alike it is unsure of
    (0.9) is settled by the glyph geometry on the image itself, in the right case."""
    from PIL import ImageDraw, ImageFont

    from tools import hard_receipts

    e2e = "E18236120202506040125xKvwazsucpa"  # case pairs only, and an ascender (K)
    font = ImageFont.truetype(str(hard_receipts.font_file("Roboto-Regular.ttf", "fonts-roboto-unhinted")), 30)
    image = Image.new("RGB", (900, 60), "white")
    ImageDraw.Draw(image).text((20, 12), e2e, font=font, fill="black")
    xs, left = [], 20
    for i, char in enumerate(e2e):
        before = font.getlength(e2e[:i])
        xs.append(left + before + font.getlength(char) / 2)
    unsure = {i for i in range(21, 32)}
    chars = tuple(CharReading(c, 0.9 if i in unsure else 0.999, {}, x - 20) for i, (c, x) in enumerate(zip(e2e, xs)))
    bbox = ImageDraw.Draw(image).textbbox((20, 12), e2e, font=font)
    word = Word(e2e, ((bbox[0], bbox[1]), (bbox[2], bbox[1]), (bbox[2], bbox[3]), (bbox[0], bbox[3])), chars=chars)
    page = OcrPage([word], numpy.asarray(image.convert("L")))
    check = evidence.check_id(e2e, [page])
    assert check.settled and check.transaction_id == e2e
    without_image = evidence.check_id(e2e, [OcrPage([word])])
    assert not without_image.settled  # the same confidences, no pixels: unsettled


def test_an_id_a_narrow_screen_wrapped_is_settled_by_the_glyphs_of_both_lines():
    """The id over two lines (E + 20 digits + one tail character, then the rest): the second
    line is measured against the first one's scale, so its look-alikes are settled too."""
    from PIL import ImageDraw, ImageFont

    from tools import hard_receipts

    e2e = "E18236120202506040125xKvwzXsucnk"  # case pairs; K, z, X, n, k give the 2nd line's feet
    font = ImageFont.truetype(str(hard_receipts.font_file("Roboto-Regular.ttf", "fonts-roboto-unhinted")), 30)
    image = Image.new("RGB", (560, 130), "white")
    draw = ImageDraw.Draw(image)
    words = []
    for text, first, (left, top) in ((e2e[:22], 0, (20, 12)), (e2e[22:], 22, (23, 71))):
        draw.text((left, top), text, font=font, fill="black")
        chars = tuple(
            CharReading(c, 0.9 if first + i >= 21 else 0.999, {}, font.getlength(text[:i]) + font.getlength(c) / 2)
            for i, c in enumerate(text)
        )
        x0, y0, x1, y1 = draw.textbbox((left, top), text, font=font)
        words.append(Word(text, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), chars=chars))
    page = OcrPage(words, numpy.asarray(image.convert("L")))
    check = evidence.check_id(e2e, [page])
    assert check.settled and check.transaction_id == e2e
    assert not evidence.check_id(e2e, [OcrPage(words)]).settled  # the same confidences, no pixels


def test_the_printed_time_vouches_for_the_stamp_but_a_date_alone_not_for_the_minute():
    # Every stamp digit read at 0.6 (with a rival): only what the receipt prints settles it.
    shaky = readings(E2E, {i: (0.6, {"8": 0.4}) for i in range(9, 21)})
    engine = Recognizer(shaky)
    from datetime import datetime, timedelta, timezone

    printed = datetime(2025, 6, 3, 22, 25, tzinfo=timezone(timedelta(hours=-3)))  # = 2025-06-04 01:25 UTC
    with_time = evidence.check_id(E2E, [page_with(E2E, engine)], (printed, True))
    assert not [i for i in with_time.ambiguous if 9 <= i <= 20]
    date_only = evidence.check_id(E2E, [page_with(E2E, Recognizer(shaky))], (printed, False))
    assert [i for i in date_only.ambiguous if 9 <= i <= 20] == [17, 18, 19, 20]  # HHmm: not printed


def test_a_stem_ocr_read_as_a_bar_in_the_tail_is_an_open_look_alike_and_no_id_in_exact_text():
    barred = E2E[:24] + "|" + E2E[25:]  # position 24 ("1") read as "|"
    lines = [line.replace(E2E, barred) for line in ROW]
    as_read = E2E[:24] + "l" + E2E[25:]
    # The recognizer put its mass on "|", which no id holds: I, l and 1 are left to the evidence.
    engine = Recognizer(readings(barred, {24: (0.93, {"l": 0.03, "I": 0.02, "1": 0.02})}))
    data = fields(lines, id_check=lambda e2e_id, shown: evidence.check_id(e2e_id, [page_with(barred, engine)], shown))
    assert data["transaction_id"] in (as_read, E2E) and "id_ambiguous" in data["review_reasons"]
    assert {as_read, E2E} <= set(data["transaction_id_candidates"])
    # A PDF's text layer is exact: a "|" there is no id character.
    assert fields(lines)["transaction_id"] is None


@pytest.mark.parametrize("stem", ["I", "l"])
def test_the_recognizer_alone_never_settles_a_bare_stem_between_I_and_l(stem):
    """In most UI fonts I and l are the same stem but for 1-7% of height: the recognizer's
    confidence between them is a guess (an l after "TLZ" read I at 0.998 on a photo), so without
    the glyphs' verdict the position stays open, with both as candidates."""
    e2e = E2E[:29] + stem + E2E[30:]
    check = evidence.check_id(e2e, [page_with(e2e, Recognizer(readings(e2e)))])
    twin = "l" if stem == "I" else "I"
    assert check.ambiguous == [29] and {e2e, e2e[:29] + twin + e2e[30:]} <= set(check.candidates)
    # A 1, whose flag the recognizer does see, is settled by it as before.
    one = E2E[:29] + "1" + E2E[30:]
    assert evidence.check_id(one, [page_with(one, Recognizer(readings(one)))]).settled


def test_between_the_bare_stems_the_recognizer_cannot_refute_the_glyphs_but_it_can_for_a_1():
    """The glyphs proved an l (taller than the cap line) that the recognizer read I at 0.99: its
    I/l guess is no refutation (a screenshot in DejaVu Sans, seed-11 adversarial set). A stem the
    recognizer reads as a 1 with almost all of its mass is still refuted and left open."""
    read_as_i = evidence.Position("I", {"I": 0.9875, "l": 0.0097, "1": 0.0021}, readings=1, geometry="l")
    assert evidence._settle(25, read_as_i)[::2] == ("l", [])
    read_as_one = evidence.Position("1", {"1": 0.995, "I": 0.003, "l": 0.002}, readings=1, geometry="l")
    char, _, options = evidence._settle(25, read_as_one)
    assert options and set(options) <= {"I", "l", "1"} and "l" in options
