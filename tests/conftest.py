"""Shared fixtures: local settings in a temporary folder, the three functions as real
functions-framework apps, synthetic receipts, and the emulators (started once per session on free
ports, stopped at the end)."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from common import config, services
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, ROOT, TEST_OUTPUT, need
from tools import emulators, receipts

PROJECT = "receipts-test"
# The fixtures that start an emulator (or Redis), directly or through another: a test that uses one
# is marked `emulator`, and `make test-fast` leaves it out. Adapters picked by a fixture's
# parameter carry the mark on that parameter (tests/test_blobstore.py and the other contract suites).
EMULATOR_FIXTURES = {
    "storage_emulator",
    "firestore_emulator",
    "tasks_emulator",
    "redis_server",
    "gcs_env",
    "firestore_env",
}
SLOW_FIXTURES = {"browser"}  # tests/test_web.py: Chromium under Playwright


def pytest_collection_modifyitems(items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if EMULATOR_FIXTURES & used:
            item.add_marker(pytest.mark.emulator)
        if SLOW_FIXTURES & used:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def storage_emulator():
    emulator = need(emulators.start_storage, os.path.join(TEST_OUTPUT, "logs"), "receipts-test")
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def firestore_emulator():
    emulator = need(emulators.start_firestore, os.path.join(TEST_OUTPUT, "logs"))
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def tasks_emulator():
    emulator = need(emulators.start_tasks, os.path.join(TEST_OUTPUT, "logs"), [])
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def redis_server():
    emulator = need(emulators.start_redis, os.path.join(TEST_OUTPUT, "logs"))
    yield emulator
    emulator.stop()


@pytest.fixture
def gcs_env(storage_emulator, monkeypatch):
    """Environment for a GcsBlobStore on the emulator, in a bucket of its own."""
    from google.cloud import storage

    bucket = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{storage_emulator.host}")
    storage.Client(project=PROJECT).create_bucket(bucket)
    return {"BLOB_STORE": "gcs", "GCS_BUCKET": bucket, "GOOGLE_CLOUD_PROJECT": PROJECT}


@pytest.fixture
def firestore_env(firestore_emulator, monkeypatch):
    """Environment for a FirestoreJobStore on the emulator, emptied first."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    emulators.reset_firestore(firestore_emulator.host, PROJECT)
    return {"JOB_STORE": "firestore", "GOOGLE_CLOUD_PROJECT": PROJECT}


@pytest.fixture(autouse=True)
def local_env(tmp_path, monkeypatch):
    """The embedded default (local directory + SQLite + inline) in a temporary folder: every
    test gets its own, so none touches the repo's var/ or sees another test's jobs."""
    env = {
        "LOCAL_BLOB_DIR": str(tmp_path / "blobs"),
        "SQLITE_PATH": str(tmp_path / "jobs.sqlite3"),
        "REQUIRE_API_KEY": "false",
        # No background reconciler thread in the test process: tests that want it set it.
        "INLINE_RECOVERY_SECONDS": "0",
    }
    for name in (
        "BLOB_STORE",
        "JOB_STORE",
        "TASK_QUEUE",
        "EXPECTED_RECEIVER_NAME",
        "EXPECTED_RECEIVER_DOCUMENTS",
        "EXPECTED_RECEIVER_PIX_KEYS",
        "STATUS_BASE_URL",
        "API_KEY_HASHES",
        "OIDC_AUDIENCE",
        "OIDC_INVOKER_EMAIL",
        "WEBHOOK_SECRETS",
        "WEBHOOK_ALLOW_PRIVATE_URLS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    services.reset()
    yield env
    services.reset()


@pytest.fixture
def settings(local_env) -> config.Settings:
    return config.from_env()


@pytest.fixture
def make_client(local_env, monkeypatch):
    """A test client of one function, built by functions-framework as in production."""
    from functions_framework import create_app

    def make(name: str, **env):
        for key, value in env.items():
            monkeypatch.setenv(key, str(value))
        services.reset()
        targets = {"upload": "upload_receipt", "status": "job_status", "ocr": "run_ocr_job"}
        app = create_app(targets[name], os.path.join(ROOT, "functions", name, "main.py"))
        return app.test_client()

    return make


@pytest.fixture(scope="session")
def sample():
    """A synthetic receipt and its renderings, shared by the session."""
    receipt = receipts.sample_receipt(0, layout="nubank")
    return {
        "receipt": receipt,
        "png": receipts.render_png(receipt, "nubank"),
        "jpeg": receipts.render_jpeg(receipt, "nubank"),
        "pdf": receipts.render_pdf(receipt, "nubank"),
    }


@pytest.fixture(scope="session")
def vision_server():
    from tools.fakevision import FakeVision

    server = FakeVision().start()
    yield server
    server.stop()


@pytest.fixture
def fake_vision(vision_server):
    """The local fake of the Cloud Vision REST API, emptied of answers and recorded requests."""
    vision_server.reset()
    return vision_server


class WebhookReceiver:
    """A real HTTP server in a thread that records every POST and answers from a script per path:
    `url("flaky", [500, 500, 200])` answers 500, 500, then 200 (and the last code from then on)."""

    def __init__(self):
        import http.server
        import threading

        receiver = self
        self.requests: list[dict] = []
        self._scripts: dict[str, list[int]] = {}
        self._lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    script = receiver._scripts.get(self.path, [404])
                    code = script.pop(0) if len(script) > 1 else script[0]
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, name: str, codes: list[int]) -> str:
        path = f"/{name}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self._scripts[path] = list(codes)
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def received(self, url: str) -> list[dict]:
        path = "/" + url.split("/", 3)[3]
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    def stop(self):
        self._server.shutdown()


@pytest.fixture(scope="session")
def webhook_receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def upload_server(tmp_path):
    port = emulators.free_port()
    env = {
        **os.environ,
        "PYTHONPATH": ROOT,
        "LOCAL_BLOB_DIR": str(tmp_path / "blobs"),
        "SQLITE_PATH": str(tmp_path / "j.db"),
    }
    argv = emulators.function_argv("upload", port)
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


@pytest.fixture
def psp(tmp_path):
    """A fake PSP (tools/fakepsp.py): mutual TLS with a CA of its own, seeded with the samples' Pix."""
    from tools import fakepsp

    server = fakepsp.FakePsp(str(tmp_path / "psp")).start()
    yield server
    server.stop()


@pytest.fixture
def client(psp):
    """The API Pix adapter configured for the fake PSP."""
    from common import confirmation

    return confirmation.from_settings(config.from_env(psp.env()))


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright; missing either fails in CI and is a visible skip elsewhere."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install playwright)"
    if reason is None and not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests need it in CI: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
