"""PDFium is not thread-safe: common.pdf serializes every use of it. Without that, PDFs validated
and read on several threads at once (gunicorn's threads under a load) crash the process with a
segmentation fault, so the check runs in a child process and looks at how it ended."""

import subprocess
import sys

from tests.conftest import ROOT

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


def test_pdfs_validated_and_read_on_many_threads_at_once_do_not_crash_the_process():
    child = subprocess.run([sys.executable, "-c", HAMMER], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, f"exit {child.returncode} (-11: segmentation fault)\n{child.stderr[-2000:]}"
    assert child.stdout.strip() == "done"
