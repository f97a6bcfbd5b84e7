"""PDF text layers: PDFium is not thread-safe, and lines come from where characters are drawn.

PDFium is not thread-safe: common.pdf serializes every use of it. Without that, PDFs validated
and read on several threads at once (gunicorn's threads under a load) crash the process with a
segmentation fault, so the check runs in a child process and looks at how it ended."""

import subprocess
import sys

import pytest

from tests.helpers import ROOT

HAMMER = """
import io, threading
from common import config, text, validation
from tools import receipts

settings = config.from_env({})
pdfs = [receipts.render_pdf(receipts.sample_receipt(seed, "nubank"), "nubank") for seed in range(8)]
scanned = io.BytesIO()
page = receipts.render_png(receipts.sample_receipt(9, "nubank"), "nubank", receipts.LOW_RES_SCALE)
from PIL import Image
Image.open(io.BytesIO(page)).convert("RGB").save(scanned, "PDF")

class NoOcr:  # renders every page of a scanned PDF, as OCR would ask, without the model
    def lines(self, image):
        return [f"{image.size}"]

errors = []
def work(i):
    try:
        for _ in range(60):
            validation.validate_decodable(io.BytesIO(pdfs[i]), "application/pdf", settings.max_image_pixels, 20)
            assert text.extract_text(pdfs[i], "application/pdf", NoOcr(), settings).source == "pdf_text"
            assert text.extract_text(scanned.getvalue(), "application/pdf", NoOcr(), settings).source == "ocr"
    except Exception as e:
        errors.append(repr(e))

threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors
print("done")
"""


@pytest.mark.slow  # a child process hammering PDFium from many threads
def test_pdfs_validated_and_read_on_many_threads_at_once_do_not_crash_the_process():
    child = subprocess.run([sys.executable, "-c", HAMMER], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, f"exit {child.returncode} (-11: segmentation fault)\n{child.stderr[-2000:]}"
    assert child.stdout.strip() == "done"


# -- The text layer, rebuilt into lines from where the characters are drawn -----------------------


def text_pdf(items: list[tuple], height: float = 400) -> bytes:
    """A one-page PDF drawing `items` in the order given: (x, y from the top, text) or
    (x, y, text, text operators: b"2 Tc" spaces letters, a `Tm` of its own places the text)."""
    from tools.receipts import _pdf_string, pdf_page

    ops = []
    for x, y, text, *extra in items:
        operators = extra[0] if extra else b""
        position = b"" if b"Tm" in operators else b"1 0 0 1 %.2f %.2f Tm" % (x, height - y)
        ops.append(b"BT /F1 12 Tf %s %s %s Tj ET" % (operators, position, _pdf_string(text)))
    return pdf_page(b"\n".join(ops) + b"\n", 600, height)


def pdf_lines(items: list[tuple]) -> list[str]:
    from common import config, text

    class NoOcr:
        def lines(self, image):
            raise AssertionError("a PDF with a text layer must not be OCR'd")

    result = text.extract_text(text_pdf(items), "application/pdf", NoOcr(), config.from_env({}))
    assert result.source == "pdf_text"
    return result.lines


def test_lines_come_from_character_positions_not_stream_order():
    # Drawn value first, the wrapped tail of a value above its start, the label last.
    lines = pdf_lines(
        [
            (220, 122, "S.A.)"),
            (220, 60, "Maria Teste"),
            (220, 106, "Banco Exemplo (Instituição de"),
            (40, 106, "Instituição"),
            (40, 60, "Nome"),
            (40, 30, "Comprovante de Pix"),
        ]
    )
    assert lines == ["Comprovante de Pix", "Nome  Maria Teste", "Instituição  Banco Exemplo (Instituição de", "S.A.)"]


def test_words_drawn_apart_get_one_space_and_letter_spacing_none():
    lines = pdf_lines([(40, 30, "Valor"), (74, 30, "pago"), (40, 60, "NU PAGAMENTOS", b"2 Tc")])
    assert lines == ["Valor pago", "NU PAGAMENTOS"]


def test_rotated_text_keeps_stream_order_and_stays_out_of_the_lines():
    note = b"0 1 -1 0 580 100 Tm"  # a note up the right margin, beside both lines
    lines = pdf_lines([(40, 300, "Valor R$ 10,00"), (0, 0, "Autenticacao 123", note), (40, 330, "Data 03/06/2025")])
    assert lines == ["Valor R$ 10,00", "Data 03/06/2025", "Autenticacao 123"]


def test_glyphs_without_height_are_read_in_stream_order():
    tiny = b"/F1 0.01 Tf"  # (a zero-size font, as Type3 fonts without metrics come out)
    assert pdf_lines([(40, 30, "Valor R$ 10,00 Pix", tiny), (40, 60, "Data 03/06/2025", tiny)]) == [
        "Valor R$ 10,00 Pix",
        "Data 03/06/2025",
    ]
