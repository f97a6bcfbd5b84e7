"""Request limits per function (common.http): the status and OCR functions take small bodies only
and refuse larger ones with a JSON 413 before reading them, through functions-framework's app and
on the real server (whose worker's memory must not grow)."""

from __future__ import annotations

import hashlib
import json
import os
import socket

import pytest

from common import http
from tests.helpers import LocalFunctions, post_file

KEY = "key-for-limit-tests-0123"
DIGEST = hashlib.sha256(KEY.encode()).hexdigest()
SMALL = http.SMALL_BODY_BYTES
MIB = 1024 * 1024


def test_the_status_function_refuses_a_body_over_the_limit_before_the_api_key_check(make_client):
    client = make_client("status", REQUIRE_API_KEY="true", API_KEY_HASHES=DIGEST)
    response = client.post("/jobs/" + "a" * 32 + "/status", data=b"x" * (SMALL + 1))
    assert response.status_code == 413 and response.is_json
    assert response.get_json() == {
        "error": f"The request body is larger than {SMALL} bytes.",
        "code": "request_too_large",
    }
    # A small body gets the answers it always got: the key first, then the method.
    assert client.post("/jobs/" + "a" * 32 + "/status", data=b"x" * SMALL).status_code == 401
    assert client.post("/jobs", data=b"{}", headers={"X-API-Key": KEY}).status_code == 405


def test_the_ocr_function_refuses_a_body_over_the_limit_and_runs_small_tasks(make_client):
    client = make_client("ocr")
    padded = json.dumps({"job_id": "a" * 32, "pad": "x" * SMALL}).encode()
    response = client.post("/", data=padded, content_type="application/json")
    assert (response.status_code, response.get_json()["code"]) == (413, "request_too_large")
    small = client.post("/", json={"job_id": "a" * 32})
    assert (small.status_code, small.get_json()["code"]) == (404, "job_not_found")


def test_the_upload_function_keeps_its_upload_sized_limit(make_client):
    client = make_client("upload")
    response = client.post("/", data=b"x" * (SMALL + 1), content_type="text/plain")
    assert (response.status_code, response.get_json()["code"]) == (400, "not_multipart")


def _chunked_post(url: str, path: str, body: bytes, piece: int = 4096) -> tuple[int, dict]:
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    chunks = [body[i : i + piece] for i in range(0, len(body), piece)]
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        try:
            conn.sendall(head)
            for chunk in chunks:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while data := conn.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.fixture(scope="module")
def real_functions(tmp_path_factory):
    running = LocalFunctions(
        str(tmp_path_factory.mktemp("limits")),
        functions=("status", "ocr"),
        REQUIRE_API_KEY="true",
        API_KEY_HASHES=DIGEST,
    ).start()
    yield running
    running.stop()


def test_17_mib_posts_to_the_real_status_function_are_refused_without_its_memory_growing(real_functions):
    url, path = real_functions.urls["status"], "/jobs/" + "a" * 32 + "/status"
    assert post_file(url, 10, path=path)[0] == 401  # warm: the first request's imports are done
    before = real_functions.worker_rss_kib("status")
    for chunked in (False, True, False, True, False, True):
        status, body = post_file(url, 17 * MIB, chunked=chunked, path=path)  # unauthenticated, as in the review
        assert (status, body["code"]) == (413, "request_too_large")
    grown = real_functions.worker_rss_kib("status") - before
    print(f"status worker VmRSS grew {grown} KiB over six 17 MiB POSTs")
    assert grown < 5 * 1024  # buffering them took it from 33 MB to 155 MB
    assert post_file(url, 10, path=path, headers=f"X-API-Key: {KEY}\r\n")[0] == 405  # still serving


def test_the_real_ocr_function_stops_reading_a_chunked_body_past_the_limit(real_functions):
    url = real_functions.urls["ocr"]
    status, body = _chunked_post(url, "/", b'{"job_id": "' + b"a" * 32 + b'", "pad": "' + b"x" * (4 * MIB) + b'"}')
    assert (status, body["code"]) == (413, "request_too_large")
    status, body = _chunked_post(url, "/", b'{"job_id": "' + b"a" * 32 + b'"}')
    assert (status, body["code"]) == (404, "job_not_found")  # a small chunked task is read and run


def _upload_request(content: bytes, filename: str) -> bytes:
    body = (
        b'--B0und\r\nContent-Disposition: form-data; name="file"; filename="' + filename.encode() + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--B0und--\r\n"
    )
    head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B0und\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _read_responses(conn: socket.socket, count: int) -> list[tuple[int, dict]]:
    data, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            chunk = conn.recv(65536)
            assert chunk, f"the connection closed after {len(answers)} of {count} answers"
            data += chunk
        head_end = data.index(b"\r\n\r\n") + 4
        end = head_end + _length(data)
        answers.append((int(data.split(b" ", 2)[1]), json.loads(data[head_end:end])))
        data = data[end:]
    return answers


def _length(data: bytes) -> int:
    head = data[: data.index(b"\r\n\r\n")].decode("latin-1").lower()
    return int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])


def _noise_png(seed: int, size=(700, 600)) -> bytes:
    import io
    import random

    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3)).save(out, "PNG")
    return out.getvalue()  # noise does not compress: over a megabyte, so read from the socket in many reads


def test_bodies_read_from_the_socket_leave_a_keep_alive_connection_where_its_next_request_starts(
    upload_server, tmp_path
):
    """The upload function reads a body of declared length from gunicorn's socket directly
    (common.http._GunicornSocketBody): each body must come out whole, and the requests that follow
    it on the connection, sent after its answer or pipelined right behind it, must be read from
    their first byte."""
    large, small, other = _noise_png(1), _noise_png(2, (40, 30)), _noise_png(3)
    assert len(large) > MIB and len(other) > MIB
    with socket.create_connection(("127.0.0.1", int(upload_server.rsplit(":", 1)[1].strip("/"))), timeout=30) as conn:
        conn.sendall(_upload_request(large, "a.png"))
        ((first, _),) = _read_responses(conn, 1)
        conn.sendall(_upload_request(small, "b.png"))
        ((second, _),) = _read_responses(conn, 1)
        # Pipelined: the next request's bytes arrive with the body before it.
        conn.sendall(_upload_request(other, "c.png") + _upload_request(b"plain text", "d.txt"))
        (third, _), (fourth, refused) = _read_responses(conn, 2)
    assert {first, second, third} <= {200, 202}  # finished inline, or queued
    assert (fourth, refused["code"]) == (415, "extension_not_allowed")
    stored = sorted(name.split(".")[0] for name in os.listdir(tmp_path / "blobs") if not name.startswith("."))
    assert stored == sorted(hashlib.sha256(c).hexdigest() for c in (large, small, other))
