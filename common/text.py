"""A receipt's text: the PDF text layer when there is one (milliseconds), otherwise OCR."""

from __future__ import annotations

import bisect
import io
from dataclasses import dataclass

from common import log, timeline
from common.errors import IMAGE_UNREADABLE, PDF_UNREADABLE, ReceiptUnreadable
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
    with timeline.stage("decode"):
        image = _open_image(data, settings.ocr_max_side)
    pages = [_read(ocr, image)]
    return ReceiptText(_lines(pages), "ocr", tuple(p for p in pages if not isinstance(p, list)))


def _read(ocr, image):
    """The engine's page (boxes, for the id's evidence) when it gives one, else its lines."""
    with timeline.stage("ocr"):
        return ocr.read(image) if hasattr(ocr, "read") else ocr.lines(image)


def _lines(pages: list) -> list[str]:
    return [line for page in pages for line in (page if isinstance(page, list) else page.lines)]


def _open_image(data: bytes, max_side: int):
    from PIL import Image, ImageOps

    try:
        image = Image.open(io.BytesIO(data))
        ImageOps.exif_transpose(image, in_place=True)  # phone photos carry their rotation in EXIF
        image = image.convert("RGB")  # type: ignore[assignment]  # (in place: a copy of every image cost ~9 ms, tools/bench.py)
    except Exception as e:
        log.event("file_undecodable", severity="NOTICE", kind="image", error=f"{type(e).__name__}: {e}"[:300])
        raise ReceiptUnreadable("unreadable_file", IMAGE_UNREADABLE) from None
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
    with pdf_lock, timeline.stage("pdf_text_layer"):
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
        with pdf_lock, timeline.stage("pdf_render"):  # one page rendered at a time; OCR runs outside the lock
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
        log.event("file_undecodable", severity="NOTICE", kind="pdf", error=f"{type(e).__name__}: {e}"[:300])
        raise ReceiptUnreadable("unreadable_file", PDF_UNREADABLE) from None
    try:
        pages, lines = min(len(pdf), max_pages), []
        for number in range(pages):
            page = pdf[number]
            textpage = page.get_textpage()
            lines += _page_lines(textpage, page.get_height())
            textpage.close()
            page.close()
        return pages, lines
    finally:
        pdf.close()


# A gap between two characters of a line, in heights of the line's characters: wider than the
# line's usual gap between letters (letter-spaced or justified text has some) by WORD_GAP is a
# space, wider than COLUMN_GAP (a label and its value far apart) two spaces, as in OCR lines.
# Characters share a line when their baselines are closer than BASELINE_SLACK heights.
WORD_GAP = 0.2
COLUMN_GAP = 1.0
BASELINE_SLACK = 0.3
MIN_GLYPH_HEIGHT = 1.0  # points


def _page_lines(textpage, page_height: float) -> list[str]:
    """The page's lines rebuilt from where its characters are drawn, not from the order the
    content stream draws them in (which can put a wrapped value's tail above its start, or a
    value before its label): characters are grouped by baseline and ordered by x, gaps become
    spaces, and the runs between wide gaps go through the same line grouping as OCR's word
    boxes (so blocks set side by side come out column by column). Rotated characters (a margin
    note) keep the stream's order. Call with the PDFium lock held."""
    import pypdfium2.raw as pdfium

    from common.ocr import group_into_lines

    handle, box = textpage.raw, pdfium.FS_RECTF()
    get_char, get_angle = pdfium.FPDFText_GetUnicode, pdfium.FPDFText_GetCharAngle
    get_box = pdfium.FPDFText_GetLooseCharBox  # the font's box: one height for a line's characters
    glyphs, spaces, rotated = [], [], []  # glyphs: (bottom, left, right, top, char), y downwards
    for index in range(pdfium.FPDFText_CountChars(handle)):
        code = get_char(handle, index)
        if code == 10:
            rotated.append("\n")
        if code < 32 or 0xD800 <= code <= 0xDFFF:  # control characters; half of an emoji
            continue
        char = chr(code)
        if 0.01 < get_angle(handle, index) < 6.27:
            rotated.append(char)
            continue
        get_box(handle, index, box)
        if char.isspace():
            spaces.append((page_height - box.bottom, box.left))
        elif char.isprintable():
            glyphs.append((page_height - box.bottom, box.left, box.right, page_height - box.top, char))
    if sum(g[0] - g[3] < MIN_GLYPH_HEIGHT for g in glyphs) * 2 >= len(glyphs):
        # No glyphs, or glyphs with no height (Type3 or zero-size fonts): positions say nothing.
        return [line.strip() for line in textpage.get_text_range().splitlines() if line.strip()]
    lines = _baseline_groups(glyphs)
    space_xs = _spaces_by_line(lines, spaces)
    runs = []  # (four corners, text) of each run of characters between wide gaps
    for line, line_spaces in zip(lines, space_xs):
        top, bottom = min(g[3] for g in line), max(g[0] for g in line)
        height = max(bottom - top, 1e-3)
        gaps = [b[1] - a[2] for a, b in zip(line, line[1:])]
        letter_gap = max(sorted(gaps)[len(gaps) // 4], 0.0) if gaps else 0.0
        text, left = line[0][4], line[0][1]
        for previous, glyph, gap in zip(line, line[1:], gaps):
            if gap > COLUMN_GAP * height:
                runs.append((_corners(left, previous[2], top, bottom), text))
                text, left = "", glyph[1]
            elif gap > letter_gap + WORD_GAP * height or (
                line_spaces and _space_between(line_spaces, previous[2], glyph[1])
            ):
                text += " "
            text += glyph[4]
        runs.append((_corners(left, line[-1][2], top, bottom), text))
    return group_into_lines(runs) + [line.strip() for line in "".join(rotated).splitlines() if line.strip()]


def _baseline_groups(glyphs: list[tuple]) -> list[list[tuple]]:
    """Glyphs grouped by the bottom of their (font-wide) boxes, top to bottom, each group
    ordered by x."""
    groups: list[list[tuple]] = []
    for glyph in sorted(glyphs):
        if groups:
            first = groups[-1][0]
            if glyph[0] - first[0] <= BASELINE_SLACK * min(glyph[0] - glyph[3], first[0] - first[3]):
                groups[-1].append(glyph)
                continue
        groups.append([glyph])
    return [sorted(group, key=lambda g: g[1]) for group in groups]


def _spaces_by_line(lines: list[list[tuple]], spaces: list[tuple[float, float]]) -> list[list[float]]:
    """The x of each space character the PDF draws, by line (the line whose bottom is nearest)."""
    bottoms = [line[0][0] for line in lines]
    by_line: list[list[float]] = [[] for _ in lines]
    for y, x in spaces:
        index = bisect.bisect_left(bottoms, y)
        near = min(
            (i for i in (index - 1, index) if 0 <= i < len(lines)), key=lambda i: abs(bottoms[i] - y), default=None
        )
        if near is not None and abs(bottoms[near] - y) <= BASELINE_SLACK * (lines[near][0][0] - lines[near][0][3]):
            by_line[near].append(x)
    return [sorted(xs) for xs in by_line]


def _space_between(space_xs: list[float], left: float, right: float) -> bool:
    """Does the PDF draw a space character between these two x positions?"""
    index = bisect.bisect_left(space_xs, left - 0.5)
    return index < len(space_xs) and space_xs[index] <= right + 0.5


def _corners(left: float, right: float, top: float, bottom: float) -> list[list[float]]:
    return [[left, top], [right, top], [right, bottom], [left, bottom]]


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
