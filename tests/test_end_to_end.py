"""End to end with real processes: `scripts/run_local.py` (what `make run` calls) starts the
upload and status functions under functions-framework and takes a receipt through them; and the
real HTTP server refuses oversized bodies with JSON while staying up."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT
from tools import emulators, receipts


def run_local(tmp_path, path, *args, **env):
    full_env = {
        **os.environ,
        "LOCAL_BLOB_DIR": str(tmp_path / "blobs"),
        "SQLITE_PATH": str(tmp_path / "jobs.sqlite3"),
        **env,
    }
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "run_local.py"), str(path), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


def test_run_local_prints_the_finished_status_of_a_receipt(tmp_path, sample):
    path = tmp_path / "comprovante.png"
    path.write_bytes(sample["png"])
    receiver_key = sample["receipt"].receiver_pix_key
    done = run_local(tmp_path, path, "--pedido-id", "PED-1", EXPECTED_RECEIVER_PIX_KEYS=receiver_key)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["status"] == "finished" and status["pedido_id"] == "PED-1"
    assert status["result"]["data"]["amount"] == sample["receipt"].amount
    assert status["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    assert status["result"]["data"]["validacao_recebedor"]["valid"] is True


def test_run_local_reports_a_rejected_file_and_fails(tmp_path):
    path = tmp_path / "malware.exe"
    path.write_bytes(b"MZ\x90\x00")
    done = run_local(tmp_path, path)
    assert done.returncode == 1
    assert json.loads(done.stdout)["code"] == "extension_not_allowed"


def test_the_bundled_sample_is_what_the_generator_makes():
    made = receipts.render_png(receipts.sample_receipt(0, layout="nubank"), "nubank")
    with open(os.path.join(ROOT, "samples", "receipt.png"), "rb") as f:
        assert f.read() == made, "samples/ is stale: run `make samples`"


@pytest.fixture
def upload_server(tmp_path):
    port = emulators.free_port()
    env = {
        **os.environ,
        "PYTHONPATH": ROOT,
        "LOCAL_BLOB_DIR": str(tmp_path / "blobs"),
        "SQLITE_PATH": str(tmp_path / "j.db"),
    }
    argv = [
        os.path.join(os.path.dirname(sys.executable), "functions-framework"),
        "--target",
        "upload_receipt",
        "--source",
        os.path.join(ROOT, "functions", "upload", "main.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)


def post_file(url, size, chunked=False):
    """POST a multipart file of `size` bytes over a raw socket and read the answer even when the
    server stops reading and closes early (what it should do with a body over the limit)."""
    host, port = url.split("//")[1].strip("/").split(":")
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        f"Content-Type: image/png\r\n\r\n"
    ).encode()
    body = head + b"\0" * size + f"\r\n--{boundary}--\r\n".encode()
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    request = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"{framing}\r\nConnection: close\r\n\r\n"
    ).encode()
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    if chunked:
        pieces = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        try:
            conn.sendall(request)
            for piece in pieces:
                conn.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused the rest of the body; its answer is already on the way
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize(
    "size, chunked, code",
    [
        (16 * 1024 * 1024 + 1, False, "file_too_large"),
        (20 * 1024 * 1024, False, "request_too_large"),
        (20 * 1024 * 1024, True, "file_too_large"),
    ],
)
def test_the_real_server_refuses_oversized_bodies_with_json(upload_server, tmp_path, size, chunked, code):
    status, body = post_file(upload_server, size, chunked)
    assert (status, body["code"]) == (413, code)
    assert not (tmp_path / "blobs").exists() or os.listdir(tmp_path / "blobs") == []
    # ...and is still up for the next request.
    assert post_file(upload_server, 10) == (
        415,
        {"error": "The content is application/octet-stream, not a JPEG, PNG or PDF.", "code": "mime_not_allowed"},
    )
