"""common.wordgaps: spaces OCR missed in a name, put back from the gaps in the box's own crop
(lines drawn in real fonts by tools/glyph_grid, the characters' x as the recognizer gives them)."""

from __future__ import annotations

import random

import pytest

from common import wordgaps
from common.ocr import CharReading
from tools import glyph_grid


def line_read_as(font: str, cap: int, printed: str, seed: int = 1, degradation: str = "plain"):
    """The crop of `printed` and the recognizer's readings of its characters (spaces aside)."""
    line = glyph_grid.render_line(
        glyph_grid.font_file(font), cap, printed, random.Random(seed), degradation=degradation, jitter=0.1
    )
    readings = [CharReading(char, 0.99, {}, x) for char, x in line.chars if not char.isspace()]
    return line.crop, readings


@pytest.mark.parametrize("font", ["Roboto", "Open Sans", "DejaVu Sans"])
def test_a_space_the_ocr_missed_is_put_back_where_the_ink_shows_one(font):
    crop, readings = line_read_as(font, 20, "Vinicius Pereira de Simoes")
    assert wordgaps._spaced_text("Vinicius Pereira deSimoes", crop, readings) == "Vinicius Pereira de Simoes"
    crop, readings = line_read_as(font, 20, "Papelaria Caderno & Cia", degradation="jpeg")
    assert wordgaps._spaced_text("Papelaria Caderno& Cia", crop, readings) == "Papelaria Caderno & Cia"


@pytest.mark.parametrize("font", ["Roboto", "Lato", "Liberation Sans"])
@pytest.mark.parametrize("cap", [9, 14, 22])
def test_letters_of_one_word_are_never_split(font, cap):
    for degradation in ("plain", "jpeg", "blur"):
        crop, readings = line_read_as(font, cap, "Antonio Magalhaes Ferreira Lima", degradation=degradation)
        spaced = wordgaps._spaced_text("Antonio Magalhaes Ferreira Lima", crop, readings)
        assert spaced in (None, "Antonio Magalhaes Ferreira Lima"), (degradation, spaced)


def test_a_line_without_a_space_the_ocr_read_is_left_as_it_is():
    crop, readings = line_read_as("Roboto", 20, "de Simoes")
    assert wordgaps._spaced_text("deSimoes", crop, readings) is None  # no space to measure against


def test_readings_that_do_not_match_the_text_change_nothing():
    crop, readings = line_read_as("Roboto", 20, "Pereira de Simoes")
    assert wordgaps._spaced_text("Pereira deSimoez", crop, readings) is None
    assert wordgaps._spaced_text("Pereira deSimoes", crop, readings[:-1]) is None


def test_the_name_keeps_its_own_letters_and_spaces():
    assert wordgaps._span("Nome Pereira de Simoes", "Pereira deSimoes") == "Pereira de Simoes"
    assert wordgaps._span("Pereira deSimoes", "Pereira de Simoes") is None  # a space is never taken away
    assert wordgaps._span("Pereira de Simoes", "Pereira de Simoes") == "Pereira de Simoes"
    assert wordgaps._span("Outra Pessoa", "Pereira de Simoes") is None


def test_without_pages_or_an_engine_that_rereads_the_name_is_unchanged():
    assert wordgaps.respace("Pereira deSimoes", []) == "Pereira deSimoes"
    assert wordgaps.respace(None, []) is None


@pytest.mark.parametrize("font", ["Roboto", "Open Sans", "DejaVu Sans"])
@pytest.mark.parametrize("degradation", ["plain", "jpeg", "blur"])
def test_a_gutter_the_detector_ran_two_cells_across_is_found_and_a_word_gap_is_not(font, degradation):
    """Two cells of a row in one box ("Luíza Barbosa Carvalho" | "Gabriel Nascimento", a
    seed-41 adversarial Sicoob receipt): the gutter is a blank far wider than any word gap."""
    printed = "Luiza Barbosa Carvalho" + " " * 5 + "Gabriel Nascimento"
    crop, readings = line_read_as(font, 20, printed, degradation=degradation)
    read = "Luiza Barbosa Carvalho Gabriel Nascimento"
    start = readings[len("LuizaBarbosaCarvalho")].x  # where the right cell's text begins
    cut = wordgaps.gutter(read, crop, readings, start)
    assert cut is not None and (cut[0], cut[2]) == ("Luiza Barbosa Carvalho", "Gabriel Nascimento")
    assert readings[len("LuizaBarbosaCarvalh")].x < cut[1] < cut[3] < start
    # One cell's own words, however long the line: no gutter.
    crop, readings = line_read_as(font, 20, read, degradation=degradation)
    assert wordgaps.gutter(read, crop, readings, start) is None
    assert wordgaps.gutter(read, crop, readings[:-1], start) is None  # readings that do not match the text
