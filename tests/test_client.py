"""common/client.py against a real HTTP server on loopback (werkzeug's, parsing the multipart
body as the functions do): urllib3's retries, Retry-After, the backoff, and the error answers."""

from __future__ import annotations

import json
import socket
import threading
import time
from email.utils import formatdate

import pytest
import werkzeug
from werkzeug.serving import make_server

from common import client


class Server:
    """Answers each request with the next scripted (status, body, headers); records what came."""

    def __init__(self):
        self.script: list[tuple[int, object, dict]] = []
        self.seen: list[dict] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _app(self, environ, start_response):
        request = werkzeug.Request(environ)
        upload = request.files.get("file")
        self.seen.append(
            {
                "at": time.monotonic(),
                "method": request.method,
                "form": dict(request.form),
                "file": (upload.filename, upload.mimetype, upload.read()) if upload else None,
                "api_key": request.headers.get("X-API-Key"),
            }
        )
        status, body, headers = self.script.pop(0) if self.script else (200, {"ok": True}, {})
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = werkzeug.Response(data, status, headers, content_type="application/json")
        return response(environ, start_response)

    def gaps(self) -> list[float]:
        return [round(b["at"] - a["at"], 1) for a, b in zip(self.seen, self.seen[1:])]

    def stop(self):
        self._server.shutdown()


@pytest.fixture
def server():
    running = Server()
    yield running
    running.stop()


BUSY = (503, {"error": "busy", "code": "backend_unavailable"}, {})


def test_a_multipart_upload_carries_the_file_its_type_and_the_fields(server, tmp_path):
    receipt = tmp_path / 'pix "março".png'
    receipt.write_bytes(b"\x89PNG...")
    answer = client.call(
        "POST", server.url, headers={"X-API-Key": "k-1"}, **client.multipart(str(receipt), {"pedido_id": "P-7"})
    )
    assert answer.status == 200 and answer.body == {"ok": True}
    (seen,) = server.seen
    assert seen["method"] == "POST" and seen["api_key"] == "k-1" and seen["form"] == {"pedido_id": "P-7"}
    assert seen["file"] == ('pix "março".png', "image/png", b"\x89PNG...")


def test_an_unreadable_file_raises_before_anything_is_sent(server, tmp_path):
    with pytest.raises(OSError):
        client.multipart(str(tmp_path / "missing.png"))
    assert server.seen == []


def test_busy_answers_are_retried_after_retry_after_and_each_wait_is_told(server):
    server.script = [
        (429, {"error": "slow down", "code": "rate_limited"}, {"Retry-After": "1"}),
        (503, {"error": "busy", "code": "backend_unavailable"}, {"Retry-After": formatdate(time.time() + 3)}),
        (200, {"job_id": "j"}, {}),
    ]
    said: list[str] = []
    answer = client.call_with_retries("GET", server.url, say=said.append)
    assert answer.status == 200 and answer.body == {"job_id": "j"}
    assert said[0] == "rate_limited: trying again in 1 s" and said[1].startswith("backend_unavailable: trying again in")
    first, second = server.gaps()
    assert 0.95 <= first < 1.6 and 0.9 <= second < 2.6  # the date was 3 s ahead when scripted, 1 s ago; whole seconds


def test_without_retry_after_the_waits_grow_1_2_seconds(server):
    server.script = [BUSY, BUSY, (200, {"done": True}, {})]
    said: list[str] = []
    assert client.call_with_retries("POST", server.url, say=said.append).body == {"done": True}
    assert said == ["backend_unavailable: trying again in 1 s", "backend_unavailable: trying again in 2 s"]
    first, second = server.gaps()
    assert 0.95 <= first < 1.6 and 1.95 <= second < 2.6


def test_a_malformed_retry_after_falls_back_to_the_backoff(server):
    server.script = [(503, {"code": "backend_unavailable"}, {"Retry-After": "soon"}), (200, {}, {})]
    said: list[str] = []
    assert client.call_with_retries("GET", server.url, say=said.append).status == 200
    assert said == ["backend_unavailable: trying again in 1 s"] and 0.95 <= server.gaps()[0] < 1.6


def test_retry_after_is_capped_at_max_wait(server, monkeypatch):
    monkeypatch.setattr(client, "MAX_WAIT", 1)
    server.script = [(429, {"code": "rate_limited"}, {"Retry-After": "3600"}), (200, {}, {})]
    said: list[str] = []
    assert client.call_with_retries("GET", server.url, say=said.append).status == 200
    assert said == ["rate_limited: trying again in 1 s"] and server.gaps()[0] < 1.6


def test_after_max_retries_the_last_busy_answer_is_the_answer(server, monkeypatch):
    monkeypatch.setattr(client, "MAX_RETRIES", 2)
    server.script = [(503, {"code": "backend_unavailable"}, {"Retry-After": "1"})] * 3 + [(200, {}, {})]
    answer = client.call_with_retries("GET", server.url)
    assert answer.status == 503 and answer.body == {"code": "backend_unavailable"} and answer.retry_after == 1.0
    assert len(server.seen) == 3  # the first try and two retries


def test_refusals_are_not_retried_and_a_body_that_is_not_json_is_reported(server):
    server.script = [(415, {"error": "not a receipt", "code": "extension_not_allowed"}, {}), (502, b"<html>", {})]
    said: list[str] = []
    refused = client.call_with_retries("POST", server.url, say=said.append)
    assert refused.status == 415 and refused.body["code"] == "extension_not_allowed" and said == []
    garbled = client.call("GET", server.url)  # one try: 502 comes back as it is
    assert garbled.status == 502 and garbled.body == {"error": "HTTP 502: <html>", "code": "bad_response"}
    assert len(server.seen) == 2


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_is_retried_then_reported_with_the_reason(monkeypatch):
    monkeypatch.setattr(client, "MAX_RETRIES", 1)
    url = f"http://127.0.0.1:{closed_port()}/"
    said: list[str] = []
    started = time.monotonic()
    answer = client.call_with_retries("GET", url, say=said.append)
    assert time.monotonic() - started >= 0.95
    assert said == ["unreachable: trying again in 1 s"]
    assert answer.status == 0 and answer.body == {
        "error": f"could not reach {url}: [Errno 111] Connection refused",
        "code": "unreachable",
    }


def test_retry_after_reads_seconds_and_http_dates():
    assert client.retry_after("7") == 7.0 and client.retry_after(" 2 ") == 2.0
    assert 55 <= (client.retry_after(formatdate(time.time() + 60, usegmt=True)) or 0) <= 60
    assert client.retry_after(formatdate(time.time() - 60, usegmt=True)) == 0.0  # in the past: at once
    assert client.retry_after("soon") is None and client.retry_after(None) is None and client.retry_after("") is None
