"""What several test files share: paths, the emulator and tool guards, upload helpers, and the
two functions as real processes. Fixtures live in conftest.py; plain functions and classes here."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from common import blobstore, config, job, jobstore, services, validation
from tools import emulators

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_OUTPUT = os.path.join(ROOT, "test-output")
TF_DIR = os.path.join(ROOT, "terraform")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")  # Debian's; Playwright downloads none here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need(emulator_start, *args):
    """Start an emulator; a missing one fails in CI and is a visible skip elsewhere."""
    try:
        return emulator_start(*args)
    except emulators.EmulatorUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(f"emulator missing in CI: {e}")
        pytest.skip(f"emulator not installed: {e}")


def missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI (scripts/setup.sh installs it)")
    pytest.skip(f"{what} is not installed (scripts/setup.sh installs it)")


# --- uploads ---


def post(client, filename=None, content=b"", **fields):
    data = dict(fields)
    if filename is not None:
        data["file"] = (io.BytesIO(content), filename)
    return client.post("/", data=data, content_type="multipart/form-data")


def nothing_stored() -> bool:
    settings = config.from_env()
    return blobstore.from_settings(settings).names() == [] and jobstore.from_settings(settings).list() == []


def queue_file(data: bytes, mime: str) -> dict:
    """A queued job whose blob is stored, as the upload leaves it with a non-inline queue."""
    app = services.get()
    sha = validation.calculate_file_hash(io.BytesIO(data))
    name = validation.generate_secure_filename(sha, mime)
    app.blobs.put(name, io.BytesIO(data), mime)
    doc, _ = app.jobs.create(job.new_job(sha256=sha, blob_name=name, content_type=mime, size=len(data)))
    return doc


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


def blank_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, "PNG")
    return out.getvalue()


# --- the functions as real processes ---


class LocalFunctions:
    """The upload and status functions under functions-framework on free loopback ports, sharing
    one SQLite file and blob folder (inline processing), as `make run` starts them."""

    def __init__(self, workdir: str, **env: str):
        self.ports = {"upload": emulators.free_port(), "status": emulators.free_port()}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.sqlite_path = os.path.join(workdir, "jobs.sqlite3")
        self.env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "REQUIRE_API_KEY": "false",
            "TASK_QUEUE": "inline",
            "JOB_STORE": "sqlite",
            "BLOB_STORE": "local",
            "SQLITE_PATH": self.sqlite_path,
            "LOCAL_BLOB_DIR": os.path.join(workdir, "blobs"),
            "UPLOAD_URL": self.urls["upload"] + "/",
            "CORS_ALLOWED_ORIGINS": self.urls["status"],
            **env,
        }
        self.logs = os.path.join(TEST_OUTPUT, "logs")
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self) -> LocalFunctions:
        os.makedirs(self.logs, exist_ok=True)
        framework = os.path.join(os.path.dirname(sys.executable), "functions-framework")
        targets = {"upload": "upload_receipt", "status": "job_status"}
        for name, port in self.ports.items():
            with open(os.path.join(self.logs, f"web-{name}.log"), "ab") as log:
                self.processes[name] = subprocess.Popen(
                    [
                        framework,
                        "--target",
                        targets[name],
                        "--source",
                        os.path.join(ROOT, "functions", name, "main.py"),
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    env=self.env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        for name, url in self.urls.items():
            self._wait_until_up(name, url)
        return self

    def _wait_until_up(self, name: str, url: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.processes[name].poll() is None, (
                f"the {name} function exited; see test-output/logs/web-{name}.log"
            )
            try:
                urllib.request.urlopen(url + "/", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the {name} function did not come up")

    def store(self) -> jobstore.SqliteJobStore:
        return jobstore.SqliteJobStore(self.sqlite_path)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
