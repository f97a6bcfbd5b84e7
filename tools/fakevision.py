"""A loopback fake of the Cloud Vision REST API, so tests run the real `google-cloud-vision`
client (REST transport) against the network boundary instead of mocking it.

    fake = FakeVision().start()
    fake.answer([("Valor", (40, 300, 80, 28)), ("R$ 19,50", (560, 300, 120, 28))])
    client = vision.ImageAnnotatorClient(
        transport="rest", credentials=AnonymousCredentials(), client_options={"api_endpoint": fake.url})
    ...
    fake.requests[-1].body  # the JSON the client sent
    fake.stop()

It answers `POST /v1/images:annotate` and `POST /v1/files:annotate` in Vision's JSON format
(camelCase; `fullTextAnnotation` pages -> blocks -> paragraphs -> words -> symbols with
`property.detectedBreak`, plus `textAnnotations`). Each configured line is one block with one
paragraph, as Vision reports a label and the value printed far to its right: separate blocks on
one baseline. A line's text may hold "\\n" for a paragraph of several lines. Images get pixel
`vertices`; PDF pages get `normalizedVertices` (0..1) like the real service.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Box = tuple[float, float, float, float]  # left, top, width, height in pixels
PAGE_SIZE = (720, 1280)  # what a phone screenshot measures; PDF pages are scaled to 0..1 from it

HTTP_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # without the query string
    query: str
    headers: dict
    body: dict | None  # the parsed JSON body


class FakeVision:
    def __init__(self):
        self.requests: list[Received] = []
        self._lines: list[tuple[str, Box]] = []
        self._pages: list[list[tuple[str, Box]]] | None = None
        self._error: dict | None = None
        self._faults: list[int] = []  # HTTP statuses for the next requests, in order
        self._lock = threading.Lock()
        self._connections: set = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self):
                super().finish()
                with fake._lock:
                    fake._connections.discard(self.connection)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                with fake._lock:
                    fake.requests.append(Received("POST", url.path, url.query, dict(self.headers), body))
                    status = fake._faults.pop(0) if fake._faults else None
                if status:
                    self._send(status, _status_body(status, f"Injected failure (HTTP {status})."))
                elif body is None:
                    self._send(400, _status_body(400, "Invalid JSON payload received."))
                elif url.path == "/v1/images:annotate":
                    self._send(200, {"responses": [fake._image_response(r) for r in body.get("requests", [])]})
                elif url.path == "/v1/files:annotate":
                    self._send(200, {"responses": [fake._file_response(r) for r in body.get("requests", [])]})
                else:
                    self._send(404, _status_body(404, f"Method not found: {url.path}"))

            def do_GET(self):
                self._send(404, _status_body(404, "Not found"))

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeVision:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:  # kept-alive connections too, so a stopped fake refuses like a dead host
            for connection in list(self._connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    # -- what to answer -------------------------------------------------------------------------

    def answer(self, lines: list, pages: list[list] | None = None) -> None:
        """Read `lines` on every image (and every requested PDF page), or `pages[i]` on PDF page
        i + 1. A line is (text, (left, top, width, height)) or just text (stacked down the page)."""
        with self._lock:
            self._lines = _placed(lines)
            self._pages = [_placed(page) for page in pages] if pages is not None else None
            self._error = None

    def answer_error(self, code: int = 3, message: str = "Bad image data.") -> None:
        """Give every image (and every file) this per-response error, as Vision does for content it
        cannot use: the HTTP call itself succeeds."""
        with self._lock:
            self._error = {"code": code, "message": message}

    def fail(self, times: int, status: int = 503) -> None:
        """Answer the next `times` requests with HTTP `status` and Google's JSON error body."""
        with self._lock:
            self._faults += [status] * times

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._lines, self._pages, self._error, self._faults = [], None, None, []

    # -- responses ------------------------------------------------------------------------------

    def _image_response(self, request: dict) -> dict:
        with self._lock:
            error, lines = self._error, list(self._lines)
        if error:
            return {"error": error}
        return _annotation(lines, normalized=False) if lines else {}

    def _file_response(self, request: dict) -> dict:
        with self._lock:
            error, lines, pages = self._error, list(self._lines), self._pages
        config = request.get("inputConfig", {})
        if error:
            return {"error": error, "inputConfig": {"mimeType": config.get("mimeType", "")}}
        wanted = request.get("pages") or [1, 2, 3, 4, 5]
        total = len(pages) if pages is not None else len(wanted)
        responses = []
        for number in wanted:
            if number > total:
                continue
            page_lines = pages[number - 1] if pages is not None else lines
            response = _annotation(page_lines, normalized=True) if page_lines else {}
            response["context"] = {"pageNumber": number}
            responses.append(response)
        return {"inputConfig": {"mimeType": config.get("mimeType", "")}, "responses": responses, "totalPages": total}


def _status_body(status: int, message: str) -> dict:
    return {"error": {"code": status, "message": message, "status": HTTP_STATUS_NAMES.get(status, "UNKNOWN")}}


def _placed(lines: list) -> list[tuple[str, Box]]:
    placed, top = [], 40.0
    for line in lines:
        if isinstance(line, str):
            line = (line, (40.0, top, 14.0 * len(line), 28.0))
        text, box = line
        placed.append((text, tuple(float(v) for v in box)))
        top = max(top, box[1] + box[3] + 12)
    return placed


def _poly(left: float, top: float, width: float, height: float, normalized: bool) -> dict:
    corners = [(left, top), (left + width, top), (left + width, top + height), (left, top + height)]
    if normalized:
        w, h = PAGE_SIZE
        return {"normalizedVertices": [{"x": round(x / w, 6), "y": round(y / h, 6)} for x, y in corners]}
    # Vision's JSON drops zero coordinates (proto3 defaults); the client must cope.
    return {"vertices": [{k: v for k, v in (("x", round(x)), ("y", round(y))) if v} for x, y in corners]}


def _annotation(lines: list[tuple[str, Box]], normalized: bool) -> dict:
    """One image's DOCUMENT_TEXT_DETECTION answer for `lines`."""
    blocks, words_flat, text = [], [], ""
    for line_text, (left, top, width, height) in lines:
        rows = [row for row in line_text.split("\n") if row.strip()]
        row_height = height / len(rows)
        words_out = []
        for r, row in enumerate(rows):
            y = top + r * row_height
            tokens = row.split()
            chars = sum(len(t) for t in tokens) + len(tokens) - 1
            advance = width / max(chars, 1)
            x = left
            for t, token in enumerate(tokens):
                last_in_row = t == len(tokens) - 1
                last_of_all = last_in_row and r == len(rows) - 1
                symbols = []
                for c, char in enumerate(token):
                    symbol = {
                        "text": char,
                        "boundingBox": _poly(x + c * advance, y, advance, row_height, normalized),
                        "confidence": 0.999,
                    }  # Vision's symbols carry their own confidence
                    if c == len(token) - 1:
                        kind = "LINE_BREAK" if last_of_all else "EOL_SURE_SPACE" if last_in_row else "SPACE"
                        symbol["property"] = {"detectedBreak": {"type": kind}}
                    symbols.append(symbol)
                box = _poly(x, y, advance * len(token), row_height, normalized)
                words_out.append({"boundingBox": box, "symbols": symbols, "confidence": 0.98})
                words_flat.append({"description": token, "boundingPoly": box})
                x += advance * (len(token) + 1)
            text += row + "\n"
        box = _poly(left, top, width, height, normalized)
        paragraph = {"boundingBox": box, "words": words_out, "confidence": 0.98}
        blocks.append({"boundingBox": box, "paragraphs": [paragraph], "blockType": "TEXT", "confidence": 0.98})
    width, height = PAGE_SIZE
    page = {
        "property": {"detectedLanguages": [{"languageCode": "pt", "confidence": 0.9}]},
        "width": width,
        "height": height,
        "blocks": blocks,
        "confidence": 0.98,
    }
    response = {"fullTextAnnotation": {"pages": [page], "text": text}}
    if not normalized:  # files:annotate answers carry only the full text annotation
        everything = _poly(0, 0, width, height, normalized)
        response["textAnnotations"] = [{"locale": "pt", "description": text, "boundingPoly": everything}] + words_flat
    return response


def receipt_lines(receipt, layout: str) -> list[tuple[str, Box]]:
    """The lines Vision would read on `tools.receipts.render_png(receipt, layout)`, with their
    pixel boxes from the renderer's own layout: a label and its right-aligned value are two
    blocks on one baseline, as on a real screenshot."""
    from tools import receipts

    items, _ = receipts._layout(receipt, layout)
    lines = []
    for item in items:
        if not isinstance(item, receipts.Text):
            continue
        shown = receipts.displayed(item.text)
        width = receipts._font(item.size).getlength(shown)
        left = {"left": item.x, "right": item.x - width, "center": item.x - width / 2}[item.align]
        lines.append((shown, (left, item.y - item.size * 0.75, width, item.size)))
    return lines
