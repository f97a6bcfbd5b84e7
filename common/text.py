"""A receipt's text: the PDF text layer when there is one (milliseconds), otherwise OCR."""

from __future__ import annotations

import io
from dataclasses import dataclass

from common.errors import ReceiptUnreadable
from common.pdf import LOCK as pdf_lock

MIN_TEXT_LAYER_CHARS = 20  # fewer than this: a scanned PDF, OCR its pages instead
PDF_RENDER_SCALE = 2  # 144 dpi: small print on bank PDFs stays legible to OCR


@dataclass(frozen=True)
class ReceiptText:
    lines: list[str]
    source: str  # "pdf_text" or "ocr"
    pages: tuple = ()  # OCR only: each image's common.ocr.OcrPage, when the engine gives them


    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def extract_text(data: bytes, mime: str, ocr, settings, progress=lambda done: None) -> ReceiptText:
    """`progress(fraction)` is called as pages are read, for jobs' progress reports."""
    if mime == "application/pdf":
        return _pdf_text(data, ocr, settings, progress)
    pages = [_read(ocr, _open_image(data, settings.ocr_max_side))]
    return ReceiptText(_lines(pages), "ocr", tuple(p for p in pages if not isinstance(p, list)))


def _read(ocr, image):
    """The engine's page (boxes, for the id's evidence) when it gives one, else its lines."""
    return ocr.read(image) if hasattr(ocr, "read") else ocr.lines(image)


def _lines(pages: list) -> list[str]:
    return [line for page in pages for line in (page if isinstance(page, list) else page.lines)]


def _open_image(data: bytes, max_side: int):
    from PIL import Image, ImageOps

    try:
        image = Image.open(io.BytesIO(data))
        ImageOps.exif_transpose(image, in_place=True)  # phone photos carry their rotation in EXIF
        image = image.convert("RGB")  # (in place: a copy of every image cost ~9 ms, tools/bench.py)
    except Exception as e:
        raise ReceiptUnreadable("unreadable_file", f"The image could not be decoded: {e}") from None
    return _fit(image, max_side)


def _fit(image, max_side: int):
    from PIL import Image

    if max(image.size) > max_side:  # OCR cost grows with pixels; receipts stay legible at this size
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _render_scale(page, max_pixels: int) -> float:
    """PDF_RENDER_SCALE, lowered for a page so large (a huge MediaBox in a tiny file) that its
    bitmap would exceed the pixel limit images have: a PDF must not be a decompression bomb."""
    width, height = page.get_size()
    area = max(width * height, 1.0)
    return min(PDF_RENDER_SCALE, (max_pixels / area) ** 0.5)


def _pdf_text(data: bytes, ocr, settings, progress) -> ReceiptText:
    with pdf_lock:
        pages, lines = _pdf_text_layer(data, settings.max_pdf_pages)
    if sum(len(line) for line in lines) >= MIN_TEXT_LAYER_CHARS:
        return ReceiptText(lines, "pdf_text")
    if hasattr(ocr, "pages_from_pdf"):  # an engine that reads the PDF itself, in one request
        read = ocr.pages_from_pdf(data, pages)
        if read is not None:  # None: too big for that, read page by page below
            progress(1.0)
            return ReceiptText(_lines(read), "ocr", tuple(read))
    read = []
    for number in range(pages):
        with pdf_lock:  # one page rendered at a time; OCR runs outside the lock
            image = _render_page(data, number, settings.max_image_pixels)
        read.append(_read(ocr, _fit(image, settings.ocr_max_side)))
        progress((number + 1) / pages)
    return ReceiptText(_lines(read), "ocr", tuple(p for p in read if not isinstance(p, list)))


def _pdf_text_layer(data: bytes, max_pages: int) -> tuple[int, list[str]]:
    """(pages to read, the text layer's lines). Call with the PDFium lock held."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as e:
        raise ReceiptUnreadable("unreadable_file", f"The PDF could not be read: {e}") from None
    try:
        pages, lines = min(len(pdf), max_pages), []
        for number in range(pages):
            page = pdf[number]
            textpage = page.get_textpage()
            lines += [line.strip() for line in textpage.get_text_range().splitlines() if line.strip()]
            textpage.close()
            page.close()
        return pages, lines
    finally:
        pdf.close()


def _render_page(data: bytes, number: int, max_pixels: int):
    """Page `number` as an RGB image (a copy that owns its pixels). Call with the PDFium lock held."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(data)
    try:
        page = pdf[number]
        bitmap = page.render(scale=_render_scale(page, max_pixels))
        image = bitmap.to_pil().convert("RGB")
        bitmap.close()
        page.close()
        return image
    finally:
        pdf.close()
