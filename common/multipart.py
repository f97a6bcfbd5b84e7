"""A multipart/form-data body of declared length, read in one pass: each read of the body is
searched for the next boundary in place, and a file's bytes go from that buffer straight into
its spool (common.spool, which hashes them as it writes), so they are copied once, from the
server's read into the buffer, instead of three times in werkzeug's parser (its buffer, its
slices, its events). Measured under functions-framework on a 5 MB upload: see docs/operations.md.

What it accepts and refuses is werkzeug's: a malformed body raises ValueError (the request's
form and files are then empty: `missing_file`), more parts than MAX_FORM_PARTS, or part headers
or a text field larger than MAX_FORM_MEMORY_SIZE, raise RequestEntityTooLarge (413).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header

READ_BYTES = 960 * 1024  # as common.http reads werkzeug's multipart bodies
MAX_BOUNDARY = 200  # RFC 2046 says 70; browsers send about 40
_CHARSETS = {"ascii", "us-ascii", "utf-8", "iso-8859-1"}  # werkzeug's list for text fields


def parse(
    read: Callable[[int], bytes],
    boundary: bytes,
    stream_factory: Callable[..., IO[bytes]],
    total_length: int | None,
    max_memory: int | None,
    max_parts: int | None,
) -> tuple[MultiDict, MultiDict]:
    """(form, files) of the body `read(n)` returns, `boundary` from its Content-Type.
    `stream_factory` makes each file's container, with werkzeug's keyword arguments."""
    if not boundary or len(boundary) > MAX_BOUNDARY:
        raise ValueError("bad boundary")
    body = _Body(read, max_memory)
    delimiter = b"--" + boundary
    body.skip_to(delimiter)  # the preamble
    fields: list[tuple[str, str]] = []
    files: list[tuple[str, FileStorage]] = []
    parts = 0
    while True:
        after = body.take(2)
        if after == b"--":  # the closing delimiter: the epilogue is left unread
            return MultiDict(fields), MultiDict(files)
        if after != b"\r\n":
            raise ValueError("bad delimiter line")
        parts += 1
        if max_parts is not None and parts > max_parts:
            raise RequestEntityTooLarge()
        headers = _headers(body.until(b"\r\n\r\n"))
        disposition, options = parse_options_header(headers.get("content-disposition"))
        if disposition != "form-data" or "name" not in options:
            raise ValueError("a part without a form-data name")
        # The data ends at CRLF + delimiter; an empty part's may share its CRLF with the headers'.
        end = delimiter if body.starts_with(delimiter) else b"\r\n" + delimiter
        if "filename" in options:
            container = stream_factory(
                total_content_length=total_length,
                filename=options["filename"],
                content_type=headers.get("content-type"),
                content_length=0,
            )
            body.copy_until(end, container.write)
            container.seek(0)
            name, filename = options["name"], options["filename"]
            files.append((name, FileStorage(container, filename, name, headers=headers)))
        else:
            value = body.until(end)
            charset = parse_options_header(headers.get("content-type"))[1].get("charset", "").lower()
            fields.append((options["name"], value.decode(charset if charset in _CHARSETS else "utf-8", "replace")))


def _headers(block: bytes) -> Headers:
    headers = Headers()
    for line in block.decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError("bad part header")
        headers.add(name.strip(), value.strip())
    return headers


class _Body:
    """The unread rest of the body: `buffer` holds what was read and not consumed yet."""

    def __init__(self, read: Callable[[int], bytes], max_memory: int | None):
        self._read, self._max = read, max_memory
        self.buffer = bytearray()

    def _more(self) -> None:
        data = self._read(READ_BYTES)
        if not data:
            raise ValueError("the body ended inside a part")
        self.buffer += data

    def starts_with(self, marker: bytes) -> bool:
        while len(self.buffer) < len(marker):
            data = self._read(READ_BYTES)
            if not data:
                return False
            self.buffer += data
        return self.buffer.startswith(marker)

    def take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._more()
        out = bytes(self.buffer[:n])
        del self.buffer[:n]  # from the front: CPython moves the start, not the bytes
        return out

    def skip_to(self, marker: bytes) -> None:
        """Consume everything up to and including `marker`."""
        while (at := self.buffer.find(marker)) < 0:
            del self.buffer[: max(0, len(self.buffer) - len(marker) + 1)]
            self._more()
        del self.buffer[: at + len(marker)]

    def until(self, marker: bytes) -> bytes:
        """The bytes before `marker` (consumed with it), at most the memory limit of them."""
        start = 0
        while (at := self.buffer.find(marker, start)) < 0:
            if self._max is not None and len(self.buffer) > self._max + len(marker):
                raise RequestEntityTooLarge()
            start = max(0, len(self.buffer) - len(marker) + 1)
            self._more()
        if self._max is not None and at > self._max:
            raise RequestEntityTooLarge()
        out = bytes(self.buffer[:at])
        del self.buffer[: at + len(marker)]
        return out

    def copy_until(self, marker: bytes, write: Callable[[Any], Any]) -> None:
        """Hand the bytes before `marker` to `write` as they arrive, keeping back only what could
        be the start of the marker. `write` gets read-only views of the bytes objects the server's
        reads returned: no read is appended to a buffer first, and nothing is copied but the few
        kept-back bytes (the views stay valid after the parse, too)."""
        m = len(marker)
        tail, data = b"", bytes(self.buffer)  # tail: at most m - 1 bytes, already scanned
        self.buffer = bytearray()
        while True:
            if tail and len(data) < m:  # a short read: scan it with the tail (a few bytes)
                tail, data = b"", tail + data
            at = (tail + data[: m - 1]).find(marker) if tail else -1
            if 0 <= at < len(tail):  # the marker starts in the tail
                if at:
                    write(tail[:at])
                self.buffer = bytearray(memoryview(data)[at + m - len(tail) :])
                return
            if tail:
                write(tail)
            at = data.find(marker)
            if at >= 0:
                if at:
                    write(memoryview(data)[:at])
                self.buffer = bytearray(memoryview(data)[at + m :])
                return
            cut = max(0, len(data) - (m - 1))
            if cut:
                write(memoryview(data)[:cut])
            tail = data[cut:]
            data = self._read(READ_BYTES)
            if not data:
                raise ValueError("the body ended inside a part")
            if not isinstance(data, bytes):
                data = bytes(data)
