"""tools/second_engine.py: Tesseract's hOCR symbols parsed with their confidences, a second
reading aligned to the true id past a dropped or extra character, and a clear exit when the
binary is missing. The measurement itself needs Tesseract and the labelled sets (see the docs)."""

from __future__ import annotations

from common import evidence, ocr
from tools import second_engine

HOCR = (
    "<span class='ocrx_word' id='word_1_1' title='bbox 10 4 300 30; x_wconf 93'>"
    "<span class='ocrx_cinfo' title='x_bboxes 10 4 20 30; x_conf 99.1'>E</span>"
    "<span class='ocrx_cinfo' title='x_bboxes 21 4 30 30; x_conf 87.25'>l</span>"
    "<span class='ocrx_cinfo' title='x_bboxes 31 4 40 30; x_conf 42'>&amp;</span>"
    "</span>"
)


def test_symbols_keep_each_character_and_its_confidence():
    read = second_engine.symbols(HOCR)
    assert [(r.char, round(r.prob * 100, 2)) for r in read] == [("E", 99.1), ("l", 87.25), ("&", 42.0)]
    assert second_engine.symbols("<div class='ocr_page'></div>") == []


def test_symbols_align_to_the_true_id_past_a_lost_character():
    # The tool aligns Tesseract's symbols with common.evidence's own alignment.
    truth = "E123xIlZ"
    read = evidence._align([ocr.CharReading(c, 0.99, {}, 0.0) for c in "E13xIIZ"], truth)  # lost the 2, l read I
    assert read[0].char == "E" and read[1].char == "1"
    assert read[2] is None  # the lost character stands for nothing
    assert read[5].char == "I" and read[6].char == "I"  # a swap keeps its place
    assert read[7].char == "Z"


def test_missing_binary_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(second_engine.shutil, "which", lambda name: None)
    assert second_engine.main(["var/none"]) == 2
    assert "apt-get install tesseract-ocr" in capsys.readouterr().err
