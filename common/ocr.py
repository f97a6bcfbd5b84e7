"""The OCR engine port: an image in, lines of text out (top to bottom, left to right).

RapidOCR is the local engine (its default models ship in the wheel: no download). It is loaded
once per process, lazily, because loading costs seconds and hundreds of MB. Cloud Vision
(`VisionOcrEngine`, OCR_ENGINE=vision) is the production engine; it also reads a whole scanned PDF
in one request (`lines_from_pdf`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from common import config, extraction
from common.errors import BackendUnavailable, ReceiptUnreadable


class OcrEngine(Protocol):
    def lines(self, image) -> list[str]:
        """`image` is a PIL RGB image."""

    def read(self, image) -> OcrPage:
        """The same reading with its boxes, for the evidence the id check needs (optional)."""

    def warm(self) -> None:
        """Load now what the first job would otherwise wait for."""


# Measured on the labelled real receipts (tools/accuracy.py, 2 cores): text detection on at most
# 1600 px instead of RapidOCR's default (the short side raised to 736, so a 1080x4000 screenshot
# was detected at full size), and no text-direction classifier (screenshots are upright), read
# the same fields in about two thirds of the time (median 1.36 s -> 0.93 s per image).
RAPIDOCR_PARAMS = {
    "Global.log_level": "warning",
    "Global.use_cls": False,
    "Det.limit_type": "max",
    "Det.limit_side_len": 1600,
}


@dataclass(frozen=True)
class Word:
    """One box the engine read: its text, four corner points (x, y) and the engine's score."""

    text: str
    quad: tuple
    score: float = 1.0
    chars: tuple = ()  # CharReadings the engine gave with the box (Cloud Vision's symbols), if any


@dataclass(frozen=True)
class CharReading:
    """One character of a re-read box: what the recognizer read, its probability, those of the
    characters it could also be, and where it sits (x centre in the box's crop)."""

    char: str
    prob: float
    alternatives: dict  # char -> probability, the likeliest few besides `char`
    x: float


@dataclass
class OcrPage:
    """What the engine read on one image: its boxes, and the image itself so a box can be read
    again (the id's evidence); `engine` is the engine that can re-read it (None: it cannot)."""

    words: list[Word]
    image: Any = None
    engine: Any = field(default=None, repr=False)
    frames: dict = field(default_factory=dict, repr=False)  # text -> the recognizer's CTC output for it

    @property
    def lines(self) -> list[str]:
        return group_into_lines([(list(w.quad), w.text) for w in self.words], cut=self._gutter)

    def _gutter(self, index: int, x: float):
        """Box `index` cut at a gutter near page x (see wordgaps.gutter), when its crop can be
        measured: (left text, where its ink ends, right text, where its ink starts), page px."""
        word = self.words[index]
        if word.chars or self.image is None or self.engine is None or not hasattr(self.engine, "reread"):
            return None
        from common import wordgaps

        left = min(p[0] for p in word.quad)
        crop, readings = self.engine.reread(self, word, 0.0)
        cut = wordgaps.gutter(word.text, crop, readings, x - left)
        return None if cut is None else (cut[0], cut[1] + left, cut[2], cut[3] + left)


class _KeptFrames:
    """RapidOCR's CTC decoder, keeping each line's per-frame probabilities for the thread that
    is reading a page: the id's evidence then costs no second pass of the recognizer."""

    def __init__(self, decode, kept: threading.local):
        self._decode, self._kept = decode, kept

    def __getattr__(self, name):
        return getattr(self._decode, name)

    def __call__(self, preds, return_word_box=False, **kwargs):
        lines, words = self._decode(preds, return_word_box, **kwargs)
        frames = getattr(self._kept, "frames", None)
        if frames is not None:
            for row, (text, _) in enumerate(lines):
                frames.setdefault(text, []).append((preds[row], kwargs.get("max_wh_ratio", 1.0)))
        return lines, words


def thread_params(threads: int) -> dict:
    """RapidOCR's parameters that give its onnxruntime sessions `threads` intra-op threads (and
    one inter-op thread: the models run one at a time)."""
    return {
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }


class RapidOcrEngine:
    """`threads`: onnxruntime's intra-op threads (OCR_THREADS; None: all the cores of this
    process's CPU affinity). Two engines on one machine that together ask for more threads than it
    has cores only take turns on them, each one slower (see docs/operations.md)."""

    def __init__(self, params: dict | None = None, threads: int | None = None):
        self.threads = threads or config.available_cores()
        self._params = {**RAPIDOCR_PARAMS, **thread_params(self.threads), **(params or {})}
        self._engine = None
        self._lock = threading.Lock()
        self._kept = threading.local()

    def _loaded(self):
        with self._lock:
            if self._engine is None:
                from rapidocr import RapidOCR

                engine = RapidOCR(params=self._params)
                recognizer = engine._load_rec_model()
                recognizer.postprocess_op = _KeptFrames(recognizer.postprocess_op, self._kept)
                self._engine = engine
            return self._engine

    def warm(self) -> None:
        self._loaded()

    def lines(self, image) -> list[str]:
        return self.read(image).lines

    def read(self, image) -> OcrPage:
        import numpy

        # RapidOCR expects OpenCV's BGR channel order.
        bgr = numpy.ascontiguousarray(numpy.asarray(image)[:, :, ::-1])
        engine = self._loaded()
        self._kept.frames = {}
        try:
            output = engine(bgr)
            frames = self._kept.frames
        finally:
            self._kept.frames = None
        if output.boxes is None:
            return OcrPage([], bgr, self)
        words = [
            Word(text, tuple(map(tuple, box)), float(score))
            for box, text, score in zip(output.boxes.tolist(), output.txts, output.scores)
            if text.strip()
        ]
        return OcrPage(words, bgr, self, frames)

    def reread(self, page: OcrPage, word: Word, pad: float = 0.0) -> tuple[Any, list[CharReading]]:
        """Read one box again, keeping the recognizer's per-frame probabilities (CTC): returns
        the box's crop (grayscale) and one CharReading per character. `pad` adds that fraction
        of the box's height above and below (in the background's colour): the same text at
        another scale for the model, a second reading that agrees or not."""
        import cv2
        import numpy
        from rapidocr.utils.process_img import get_rotate_crop_image

        recognizer = self._loaded()._load_rec_model()
        crop = get_rotate_crop_image(page.image, numpy.array(word.quad, dtype=numpy.float32))
        height = crop.shape[0]
        kept = page.frames.get(word.text, [])
        if not pad and len(kept) == 1:  # the first pass's own probabilities (a text seen once)
            probs, ratio = kept[0]
            charset = recognizer.postprocess_op.character
            return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), _decoded(probs, charset, ratio * height / probs.shape[0])
        if pad:
            border = max(1, int(round(height * pad)))
            colour = [int(c) for c in numpy.median(numpy.concatenate([crop[0], crop[-1]]), axis=0)]
            crop = cv2.copyMakeBorder(crop, border, border, 0, 0, cv2.BORDER_CONSTANT, value=colour)
        readings = _ctc_readings(recognizer, crop)
        gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        if pad:  # the caller's geometry wants the box itself
            gray = gray[border:-border]
        return gray, readings


def _ctc_readings(recognizer, crop) -> list[CharReading]:
    """Greedy CTC decoding of one crop, as RapidOCR does, but keeping every character's
    probability, its runners-up and its x position (frames are evenly spaced over the input)."""
    import numpy

    height, width = crop.shape[:2]
    _, input_height, input_width = recognizer.rec_image_shape
    ratio = max(width / height, input_width / input_height)
    norm = recognizer.resize_norm_img(crop, ratio)[numpy.newaxis].astype(numpy.float32)
    probs = recognizer.session(norm)[0]
    # One frame's width in crop pixels: the input (the crop's height scaled to the model's) is
    # cut into evenly spaced frames.
    return _decoded(probs, recognizer.postprocess_op.character, norm.shape[3] / probs.shape[0] * height / input_height)


def _decoded(probs, charset, frame_px: float) -> list[CharReading]:
    import numpy

    frames = probs.shape[0]
    best = probs.argmax(axis=1)
    readings, start = [], 0
    # A character is a run of frames with one best index; its evidence is the run's peak (its
    # runners-up may peak on another frame of the run than the character itself).
    for end in range(1, frames + 1):
        if end < frames and best[end] == best[start]:
            continue
        index = best[start]
        if index:
            run = probs[start:end].max(axis=0)
            ranked = [j for j in numpy.argsort(run)[::-1][:4] if j and j != index][:3]
            alternatives = {charset[j]: float(run[j]) for j in ranked}
            readings.append(CharReading(charset[index], float(run[index]), alternatives, (start + end) / 2 * frame_px))
        start = end
    return [r for r in readings if r.char != " "]


class _Box(NamedTuple):
    centre: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    text: str
    source: int = -1  # its place in group_into_lines' `words`


# Column blocks: a row of section headings side by side ("De" | "Para") opens one; it goes on
# while every row's boxes sit in those columns, each column's text starting under its heading
# (within COLUMN_ALIGN_HEIGHTS box heights), with no gap above a row wider than
# COLUMN_GAP_HEIGHTS heights. A label and a value far apart on one row stay one line: a label is
# no section heading, and a right-aligned value does not start under one.
COLUMN_ALIGN_HEIGHTS = 0.75
COLUMN_OVERLAP_HEIGHTS = 0.25  # how far a column's box may reach into the next one's (box padding)
# ...or up to this far when the next column's own box sits beside it on the row: a photo's blur
# pads both boxes of two neighbouring cells (a payer's long name 0.35 heights into the receiver's).
COLUMN_NEIGHBOUR_OVERLAP_HEIGHTS = 0.5
COLUMN_GAP_HEIGHTS = 2.5
COLUMN_GAP_GROWTH = 1.8  # ...or, after two rows, no gap wider than this many times the widest so far
COLUMN_MIN_ROWS = 2  # rows under the headings, one of them with text in two columns


def group_into_lines(words: list[tuple[list, str]], cut=None) -> list[str]:
    """Join word boxes that share a baseline, so a label and its value end up on one line; but
    where the receipt sets blocks side by side (payer | receiver, each with its heading), emit
    each column's lines as a block, left column first, instead of mixing the two in each line.

    `words` holds (four corner points, text). Two boxes are on one line when their vertical
    centres are closer than half the smaller box's height. `cut(index, x)`: where the detector
    gave the two cells of a row as one box, its two parts at a gutter near x (left text, its
    right edge, right text, its left edge), or None (OcrPage measures it on the image).
    """
    boxes = []
    for index, (corners, text) in enumerate(words):
        ys = [p[1] for p in corners]
        xs = [p[0] for p in corners]
        boxes.append(
            _Box((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), max(xs), min(ys), max(ys), text.strip(), index)
        )
    rows = _rows(boxes)
    lines: list[str] = []
    index = 0
    while index < len(rows):
        end, columns = _column_block(rows, index, cut)
        if columns:
            for column in columns:
                lines += [_joined(row) for row in _rows(column)]
        else:
            lines.append(_joined(rows[index]))
        index = end
    return lines


def _rows(boxes: list[_Box]) -> list[list[_Box]]:
    rows: list[list[_Box]] = []
    for box in sorted(boxes):
        last = rows[-1][-1] if rows else None
        if last and abs(box.centre - last.centre) < min(box.height, last.height) / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return rows


def _joined(row: list[_Box]) -> str:
    return "  ".join(b.text for b in sorted(row, key=lambda b: b.left))


def _column_block(rows: list[list[_Box]], start: int, cut=None) -> tuple[int, list[list[_Box]] | None]:
    """(index of the row after the block, the boxes of each column) if rows[start] opens a
    block of columns; else (start + 1, None)."""
    # The headings; a box with no letter or digit between them (an arrow "→") is decoration.
    headings = sorted((b for b in rows[start] if any(c.isalnum() for c in b.text)), key=lambda b: b.left)
    if len(headings) < 2 or start + 1 == len(rows):
        return start + 1, None
    starts = [b.left for b in headings]
    height = sorted(b.height for b in headings)[len(headings) // 2]
    # Geometry first: it is cheap, and most rows of two boxes are a label and its value.
    if _in_columns(rows[start + 1], starts, height, cut) is None or not all(
        extraction.is_section_heading(b.text) for b in headings
    ):
        return start + 1, None
    columns: list[list[_Box]] = [[b] for b in headings]
    end, bottom, side_by_side = start + 1, max(b.bottom for b in headings), False
    gaps: list[float] = []
    while end < len(rows):
        parts = _in_columns(rows[end], starts, height, cut)
        gap = min(b.top for b in rows[end]) - bottom
        # A gap much wider than the block's own line spacing starts the next part of the receipt.
        too_far = gap > COLUMN_GAP_HEIGHTS * height or (len(gaps) >= 2 and gap > COLUMN_GAP_GROWTH * max(gaps))
        if parts is None or too_far:
            break
        gaps.append(max(gap, 0.0))
        for column, part in zip(columns, parts):
            column += part
        side_by_side = side_by_side or sum(1 for part in parts if part) >= 2
        bottom = max(b.bottom for b in rows[end])
        end += 1
    if end - start - 1 < COLUMN_MIN_ROWS or not side_by_side:
        return start + 1, None
    return end, columns


def _in_columns(row: list[_Box], starts: list[float], height: float, cut=None) -> list[list[_Box]] | None:
    """The row's boxes split by column, or None if the row does not fit the columns: a box left
    of the first column or running into the next one (unless `cut` finds the gutter in it), or
    a column whose text does not start under its heading. `height`: the headings' box height."""
    tolerance, overlap = COLUMN_ALIGN_HEIGHTS * height, COLUMN_OVERLAP_HEIGHTS * height
    neighbour_overlap = COLUMN_NEIGHBOUR_OVERLAP_HEIGHTS * height
    parts: list[list[_Box]] = [[] for _ in starts]
    pending = sorted(row, key=lambda b: b.left)
    while pending:
        box = pending.pop(0)
        column = max((i for i, x in enumerate(starts) if box.left >= x - tolerance), default=None)
        if column is None:
            return None
        # Running into the next column: well past where its text starts (detectors pad their
        # boxes, so two columns with a narrow gutter overlap a little; more when that column's
        # own box is there beside it, both padded).
        if column + 1 < len(starts) and box.right > starts[column + 1] + overlap:
            nxt = starts[column + 1]
            beside = any(other is not box and abs(other.left - nxt) <= tolerance for other in row)
            if not beside or box.right > nxt + neighbour_overlap:
                # One box over two cells ("Luíza Barbosa Carvalho Gabriel Nascimento"): the
                # detector joined them across a narrow gutter, which the image still shows.
                pieces = cut(box.source, nxt) if cut is not None and box.source >= 0 else None
                if pieces is None or abs(pieces[3] - nxt) > tolerance:
                    return None
                left_text, right_edge, right_text, left_edge = pieces
                box, rest = (
                    box._replace(right=right_edge, text=left_text),
                    box._replace(left=left_edge, text=right_text, source=-1),
                )
                pending.insert(0, rest)
        parts[column].append(box)
    texts = [[b for b in part if any(c.isalnum() for c in b.text)] for part in parts]
    if any(part and abs(part[0].left - x) > tolerance for part, x in zip(texts, starts)):
        return None
    return parts


_engines: dict[tuple[str, str], OcrEngine] = {}


def from_settings(settings) -> OcrEngine:
    # One engine per process, shared by every job this process runs.
    vision, threads = settings.ocr_engine == "vision", settings.engine_threads
    key = (settings.ocr_engine, settings.vision_endpoint if vision else threads)
    if key not in _engines:
        _engines[key] = VisionOcrEngine(settings.vision_endpoint) if vision else RapidOcrEngine(threads=threads)
    return _engines[key]


# -- Cloud Vision ---------------------------------------------------------------------------------

VISION_TIMEOUT_SECONDS = 60.0  # one call; the job's own limit (JOB_TIMEOUT_SECONDS) bounds the whole
VISION_RETRY_SECONDS = 2.0  # in-call retries of a blip; longer outages go back to the task queue
VISION_PDF_PAGES = 5  # the most pages the synchronous files:annotate accepts in one request
VISION_LANGUAGE_HINTS = ["pt"]
VISION_MAX_PNG_BYTES = 6 * 1024 * 1024  # Vision takes JSON requests of up to 10 MB; base64 adds a third
VISION_MAX_PDF_BYTES = 7 * 1024 * 1024
# google.rpc codes of a per-image error worth retrying: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
# ABORTED, INTERNAL, UNAVAILABLE. Any other (INVALID_ARGUMENT "Bad image data", ...) is the file's.
_TRANSIENT_RPC_CODES = {4, 8, 10, 13, 14}


class VisionOcrEngine:
    """Cloud Vision DOCUMENT_TEXT_DETECTION, one request per image (or per PDF, up to 5 pages).

    `endpoint` (VISION_API_ENDPOINT) points the client at another server, e.g. a local fake at
    `http://127.0.0.1:PORT`: then it speaks REST with anonymous credentials. Without it, the
    default client with Application Default Credentials, as in production.
    """

    def __init__(self, endpoint: str = ""):
        self.endpoint = endpoint
        self._client = None
        self._lock = threading.Lock()

    def _loaded(self):
        with self._lock:
            if self._client is None:
                from google.cloud import vision

                if self.endpoint:
                    from google.auth.credentials import AnonymousCredentials

                    self._client = vision.ImageAnnotatorClient(
                        transport="rest",
                        credentials=AnonymousCredentials(),
                        client_options={"api_endpoint": self.endpoint},
                    )
                else:
                    self._client = vision.ImageAnnotatorClient()
            return self._client

    def warm(self) -> None:
        self._loaded()

    def lines(self, image) -> list[str]:
        return self.read(image).lines

    def read(self, image) -> OcrPage:
        content = _encoded(image)
        response = self._call(
            lambda client, options: client.document_text_detection(
                {"content": content}, image_context={"language_hints": VISION_LANGUAGE_HINTS}, **options
            )
        )
        _raise_for(response.error)
        page = _vision_page(response)
        page.image = _gray(image)  # the symbols' boxes are in its pixels: the id's glyph geometry
        return page

    def lines_from_pdf(self, data: bytes, max_pages: int) -> list[str] | None:
        pages = self.pages_from_pdf(data, max_pages)
        return None if pages is None else [line for page in pages for line in page.lines]

    def pages_from_pdf(self, data: bytes, max_pages: int) -> list[OcrPage] | None:
        """The text of a PDF's first min(5, max_pages) pages, in page order, in one request.
        None when the PDF is too big for one request: render its pages and call `read` instead."""
        from google.cloud import vision

        if len(data) > VISION_MAX_PDF_BYTES:
            return None
        request = {
            "input_config": {"content": data, "mime_type": "application/pdf"},
            "features": [{"type_": vision.Feature.Type.DOCUMENT_TEXT_DETECTION}],
            "image_context": {"language_hints": VISION_LANGUAGE_HINTS},
            "pages": list(range(1, min(VISION_PDF_PAGES, max_pages) + 1)),
        }
        batch = self._call(lambda client, options: client.batch_annotate_files(requests=[request], **options))
        answer = batch.responses[0]
        _raise_for(answer.error)
        pages = sorted(answer.responses, key=lambda page: page.context.page_number)
        for page in pages:
            _raise_for(page.error)
        return [_vision_page(page) for page in pages]

    def _call(self, send):
        """Run one Vision call with a short bounded retry, mapping failures onto the pipeline's
        errors: transient ones raise BackendUnavailable (the task is retried later)."""
        from google.api_core import exceptions, retry
        from google.auth.exceptions import TransportError

        options = {
            "timeout": VISION_TIMEOUT_SECONDS,
            "retry": retry.Retry(
                initial=0.2,
                maximum=1.0,
                multiplier=2.0,
                timeout=VISION_RETRY_SECONDS,
                predicate=retry.if_exception_type(exceptions.ServiceUnavailable, exceptions.DeadlineExceeded),
            ),
        }
        try:
            return send(self._loaded(), options)
        except exceptions.MethodNotImplemented:
            raise
        except (
            exceptions.ServerError,
            exceptions.TooManyRequests,
            exceptions.Aborted,
            exceptions.RetryError,
            TransportError,
            OSError,
        ) as e:
            cause = e.cause if isinstance(e, exceptions.RetryError) and e.cause else e
            raise BackendUnavailable(f"Cloud Vision unavailable: {cause}") from e
        except exceptions.BadRequest as e:
            raise ReceiptUnreadable("unreadable_file", f"Cloud Vision refused the file: {e.message}") from None


def _gray(image):
    import numpy

    return numpy.asarray(image.convert("L"))


def crop_box(gray, quad, pad: int = 2):
    """The axis-aligned crop of a box (four corner points) from a grayscale image, `pad` pixels
    more on each side; its x origin is the box's left edge minus `pad`."""
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    x0, y0 = max(int(min(xs)) - pad, 0), max(int(min(ys)) - pad, 0)
    return gray[y0 : int(max(ys)) + pad + 1, x0 : int(max(xs)) + pad + 1], x0


def _encoded(image) -> bytes:
    """PNG (lossless, what screenshots are); a photo whose PNG would be too big for Vision's
    JSON request limit (base64 adds a third) goes as JPEG instead."""
    import io

    out = io.BytesIO()
    image.save(out, "PNG")
    if out.tell() > VISION_MAX_PNG_BYTES:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=92)
    return out.getvalue()


def _raise_for(status) -> None:
    """A per-image or per-file error inside a successful response."""
    if not status.code:
        return
    if status.code in _TRANSIENT_RPC_CODES:
        raise BackendUnavailable(f"Cloud Vision: {status.message} (code {status.code})")
    raise ReceiptUnreadable("unreadable_file", f"Cloud Vision could not read the file: {status.message}")


def _vision_lines(response) -> list[str]:
    return _vision_page(response).lines


def _vision_page(response) -> OcrPage:
    """Vision's lines (words joined by their detected breaks), each with the box of its words,
    regrouped by baseline so a label and the value printed far to its right share a line; each
    line keeps its symbols' confidences, the id's per-character evidence."""
    from google.cloud import vision

    kinds = vision.TextAnnotation.DetectedBreak.BreakType
    ends_line = {kinds.EOL_SURE_SPACE, kinds.LINE_BREAK, kinds.HYPHEN}
    entries: list[Word] = []
    for page in response.full_text_annotation.pages:
        scale = (page.width or 1, page.height or 1)
        for block in page.blocks:
            for paragraph in block.paragraphs:
                text, points, chars = "", [], []
                for word in paragraph.words:
                    points += _points(word.bounding_box, scale)
                    for symbol in word.symbols:
                        text += symbol.text
                        xs = [p[0] for p in _points(symbol.bounding_box, scale)]
                        chars.append((symbol.text, symbol.confidence, sum(xs) / len(xs) if xs else 0.0))
                        kind = symbol.property.detected_break.type_
                        if kind in (kinds.SPACE, kinds.SURE_SPACE):
                            text += " "
                        elif kind in ends_line:
                            text += "-" if kind == kinds.HYPHEN else ""
                            _add_line(entries, text, points, chars)
                            text, points, chars = "", [], []
                _add_line(entries, text, points, chars)
    if entries:
        return OcrPage(entries)
    if response.text_annotations:
        lines = [line.strip() for line in response.text_annotations[0].description.splitlines() if line.strip()]
        return OcrPage([Word(line, ((0, i), (1, i), (1, i + 1), (0, i + 1))) for i, line in enumerate(lines)])
    return OcrPage([])


def _points(poly, scale) -> list[tuple[float, float]]:
    if poly.vertices:
        return [(v.x, v.y) for v in poly.vertices]
    # PDF pages come with coordinates relative to the page (0..1).
    return [(v.x * scale[0], v.y * scale[1]) for v in poly.normalized_vertices]


def _add_line(entries: list, text: str, points: list, chars: list) -> None:
    if not text.strip() or not points:
        return
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    corners = ((min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys)))
    readings = tuple(CharReading(char, confidence, {}, x - min(xs)) for char, confidence, x in chars if char.strip())
    entries.append(Word(text.strip(), corners, chars=readings))
