"""The OCR port: line grouping (pure) and the RapidOCR adapter on a rendered receipt."""

import io

from PIL import Image

from common import ocr
from tools import receipts


def box(x, y, w=100, h=20):
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def test_words_on_one_baseline_form_one_line_left_to_right():
    words = [(box(300, 101), "R$ 19,50"), (box(20, 100), "Valor"), (box(20, 150), "Pix")]
    assert ocr.group_into_lines(words) == ["Valor  R$ 19,50", "Pix"]


def test_rapidocr_reads_a_rendered_receipt(sample):
    lines = ocr.RapidOcrEngine().lines(Image.open(io.BytesIO(sample["png"])).convert("RGB"))
    text = "\n".join(lines)
    assert sample["receipt"].transaction_id in text.replace(" ", "")
    assert receipts.format_brl(sample["receipt"].amount).replace("R$", "").strip() in text
