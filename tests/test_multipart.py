"""The one-pass multipart reader: what werkzeug's parser gives, for any split of the body into
reads, and werkzeug's refusals (ValueError for a malformed body, 413 past the limits)."""

import io
import random

import pytest
from werkzeug.exceptions import RequestEntityTooLarge

from common import multipart

BOUNDARY = b"b0undary-x"


def body(*parts: tuple[str, bytes, str | None], close: bool = True) -> bytes:
    out = b"preamble to ignore\r\n"
    for name, content, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n"
        if filename is not None:
            out += b"Content-Type: image/png\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + (b"--" + BOUNDARY + b"--\r\nepilogue" if close else b"")


def reads_of(data: bytes, size: int):
    stream = io.BytesIO(data)
    return lambda n: stream.read(min(n, size))


def parse(data: bytes, read_size: int = 1 << 20, max_memory: int = 1 << 20, max_parts: int = 50):
    containers = []

    def factory(**kwargs):
        containers.append(kwargs)
        return io.BytesIO()

    form, files = multipart.parse(reads_of(data, read_size), BOUNDARY, factory, len(data), max_memory, max_parts)
    return form, files, containers


@pytest.mark.parametrize("read_size", [1, 7, len(BOUNDARY) + 3, 4096, 1 << 20])
def test_fields_and_a_file_come_out_whole_for_any_split_of_the_reads(read_size):
    # Content full of near-boundaries: CRLF, dashes, the boundary without its CRLF.
    content = random.Random(1).randbytes(20_000) + b"\r\n--b0undary\r\n-" + b"--" + BOUNDARY + b"tail"
    data = body(("pedido_id", b"PED-1", None), ("file", content, "r.png"), ("expected_amount", "1,50 ç".encode(), None))
    form, files, containers = parse(data, read_size)
    assert form.to_dict() == {"pedido_id": "PED-1", "expected_amount": "1,50 ç"}
    assert files["file"].read() == content and files["file"].filename == "r.png"
    assert files["file"].mimetype == "image/png"
    assert containers == [
        {"total_content_length": len(data), "filename": "r.png", "content_type": "image/png", "content_length": 0}
    ]


def test_an_empty_file_whose_delimiter_follows_its_headers_directly():
    data = b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="e.png"\r\n\r\n'
    data += b"--" + BOUNDARY + b"--\r\n"
    _, files, _ = parse(data, read_size=5)
    assert files["file"].read() == b"" and files["file"].filename == "e.png"


def test_a_part_without_a_filename_is_a_field():
    form, files, _ = parse(body(("file", b"abc", None)))
    assert form["file"] == "abc" and "file" not in files


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(body(("file", b"abc", "r.png"), close=False), id="no-closing-delimiter"),
        pytest.param(body(("file", b"abc" * 100, "r.png"))[:200], id="cut-mid-part"),
        pytest.param(b"garbage" * 100, id="garbage"),
        pytest.param(b"--" + BOUNDARY + b"\r\nno colon here\r\n\r\nx\r\n--" + BOUNDARY + b"--", id="bad-header"),
        pytest.param(b"--" + BOUNDARY + b"\r\nContent-Type: x\r\n\r\nx\r\n--" + BOUNDARY + b"--", id="no-disposition"),
        pytest.param(b"--" + BOUNDARY + b"XX", id="bad-delimiter-line"),
    ],
)
def test_malformed_bodies_are_value_errors(data):
    with pytest.raises(ValueError):
        parse(data)


def test_a_bad_boundary_is_a_value_error():
    with pytest.raises(ValueError):
        multipart.parse(io.BytesIO(b"").read, b"x" * 5000, io.BytesIO, 0, None, None)


def test_too_many_parts_or_too_large_headers_or_fields_are_413():
    with pytest.raises(RequestEntityTooLarge):
        parse(body(*[(f"f{i}", b"x", None) for i in range(5)]), max_parts=4)
    big_header = b"--" + BOUNDARY + b"\r\nX-Pad: " + b"h" * 5000 + b"\r\n\r\n"
    with pytest.raises(RequestEntityTooLarge):
        parse(big_header + b"x\r\n--" + BOUNDARY + b"--", read_size=512, max_memory=1000)
    with pytest.raises(RequestEntityTooLarge):
        parse(body(("note", b"n" * 5000, None)), read_size=512, max_memory=1000)
    form, _, _ = parse(body(("note", b"n" * 5000, "f.txt")), max_memory=1000)  # a file is not held in memory


@pytest.mark.parametrize("read_size", [*range(1, 2 * len(BOUNDARY) + 8), 4096, 1 << 20])
def test_a_file_is_handed_over_as_read_only_pieces_that_stay_valid_after_the_parse(read_size):
    """copy_until hands the container views of the bytes the reads returned, never of a buffer it
    changes later: pieces kept until the parse is over still join into the file."""
    content = b"x\r\n--b0undary-" + random.Random(2).randbytes(3000) + b"\r\n--" + BOUNDARY[:-1] + b"end\r"
    kept: list = []

    class Keeping(io.BytesIO):
        def write(self, piece):
            kept.append(piece)
            return len(piece)

    data = body(("file", content, "r.png"), ("after", b"field", None))
    form, _ = multipart.parse(reads_of(data, read_size), BOUNDARY, lambda **kw: Keeping(), len(data), 1 << 20, 50)
    assert form["after"] == "field"
    assert all(isinstance(p, bytes) or (isinstance(p, memoryview) and p.readonly) for p in kept)
    assert b"".join(kept) == content
