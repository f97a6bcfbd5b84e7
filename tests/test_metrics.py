"""Prometheus metrics: counted from the log events, scraped over real HTTP from a real worker.py
(RQ on a real Redis) and from the functions' GET /metrics."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from common import config, log, metrics, services
from tools import emulators

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sample_value(text: str, name: str, labels: str = "") -> float | None:
    """The value of `name{labels}` in a Prometheus text exposition, None if absent."""
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def scrape_text() -> str:
    return metrics.exposition()[0].decode()


def test_log_events_are_counted_as_the_log_based_metrics_count_them(capsys):
    metrics.enable()
    before = scrape_text()

    def delta(name, labels=""):
        return (sample_value(scrape_text(), name, labels) or 0) - (sample_value(before, name, labels) or 0)

    log.event("job_queued", job_id="a" * 32)
    log.event("job_started", job_id="a" * 32, attempt=1)
    log.event("job_finished", job_id="a" * 32, attempt=1, duration_ms=1500)
    log.event("job_failed", severity="WARNING", job_id="b" * 32, attempt=1, error_code="timeout", duration_ms=9)
    log.event("upload_rejected", severity="NOTICE", code="mime_mismatch", status=415)
    assert delta("receipts_jobs_queued_total") == 1
    assert delta("receipts_jobs_started_total") == 1
    assert delta("receipts_jobs_finished_total") == 1
    assert delta("receipts_job_duration_seconds_count") == 1
    assert delta("receipts_job_duration_seconds_sum") == pytest.approx(1.5)
    assert delta("receipts_jobs_failed_total", 'error_code="timeout"') == 1
    assert delta("receipts_uploads_rejected_total", 'code="mime_mismatch"') == 1
    log.event("notification_retry", severity="WARNING", job_id="a" * 32, attempt=1, status_code=503)
    log.event("notification_delivered", job_id="a" * 32, attempt=2, status_code=200)
    assert delta("receipts_notification_attempts_total", 'outcome="retry"') == 1
    assert delta("receipts_notification_attempts_total", 'outcome="delivered"') == 1
    assert delta("receipts_notification_attempts_total", 'outcome="failed"') == 0


def test_metrics_are_off_unless_configured():
    assert config.from_env({}).metrics_port == 0
    assert config.from_env({}).metrics_enabled is False
    settings = config.from_env({"METRICS_PORT": "9109", "METRICS_ENABLED": "true"})
    assert (settings.metrics_port, settings.metrics_enabled) == (9109, True)


def test_a_function_without_metrics_enabled_has_no_metrics_route(make_client):
    response = make_client("status").get("/metrics")
    assert response.status_code != 200 or b"receipts_jobs" not in response.data


def test_the_upload_function_serves_metrics_when_enabled(make_client, sample):
    client = make_client("upload", METRICS_ENABLED="true")
    before = client.get("/metrics").data.decode()
    response = client.post("/", data={"file": (io.BytesIO(sample["png"]), "r.png")}, content_type="multipart/form-data")
    assert response.get_json()["status"] == "finished"  # the inline queue ran it
    scraped = client.get("/metrics")
    assert scraped.status_code == 200 and scraped.content_type.startswith("text/plain")
    text = scraped.data.decode()
    assert (
        sample_value(text, "receipts_jobs_finished_total")
        == (sample_value(before, "receipts_jobs_finished_total") or 0) + 1
    )
    assert sample_value(text, "receipts_queue_depth") == 0  # no job left queued in this job store


def test_with_keys_required_metrics_need_the_key_too(make_client):
    import hashlib

    key = "metrics-key-0123456789"
    env = {
        "METRICS_ENABLED": "true",
        "REQUIRE_API_KEY": "true",
        "API_KEY_HASHES": hashlib.sha256(key.encode()).hexdigest(),
    }
    for name in ("upload", "status"):
        client = make_client(name, **env)
        missing, wrong = client.get("/metrics"), client.get("/metrics", headers={"X-API-Key": "nope"})
        assert (missing.status_code, missing.get_json()["code"]) == (401, "missing_api_key"), name
        assert (wrong.status_code, wrong.get_json()["code"]) == (403, "invalid_api_key"), name
        right = client.get("/metrics", headers={"X-API-Key": key})
        assert right.status_code == 200 and b"receipts_jobs_queued_total" in right.data, name


def test_the_ocr_functions_metrics_need_its_oidc_token_when_it_checks_tokens(make_client):
    assert make_client("ocr", METRICS_ENABLED="true").get("/metrics").status_code == 200  # local: no tokens
    ocr = make_client("ocr", METRICS_ENABLED="true", OIDC_AUDIENCE="https://ocr.example.run.app")
    refused = ocr.get("/metrics")
    assert (refused.status_code, refused.get_json()["code"]) == (401, "missing_token")


def listening_addresses(port: int) -> set[str]:
    """The local addresses a socket LISTENs on for `port`, read from /proc/net/tcp{,6} (hex)."""
    import ipaddress

    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(ordered if width == 32 else ordered[:4])))
    return found


def test_metrics_are_served_on_loopback_unless_another_address_is_given():
    assert config.from_env({}).metrics_host == "127.0.0.1"
    port = emulators.free_port()
    server = metrics.serve(port)
    try:
        assert listening_addresses(port) == {"127.0.0.1"}
        assert "receipts_jobs" in _scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.shutdown()
        server.server_close()


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def test_the_rq_worker_serves_metrics_after_a_job(make_client, sample, redis_server, tmp_path):
    queue = f"metrics-{os.getpid()}-{time.monotonic_ns()}"
    port = emulators.free_port()
    env = {"TASK_QUEUE": "rq", "REDIS_URL": f"redis://{redis_server.host}/0", "RQ_QUEUE_NAME": queue}
    upload = make_client("upload", **env)
    response = upload.post("/", data={"file": (io.BytesIO(sample["png"]), "r.png")}, content_type="multipart/form-data")
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]

    worker_env = {**os.environ, **env, "PYTHONPATH": ROOT, "METRICS_PORT": str(port)}
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log_file:
        worker = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "worker.py")],
            cwd=ROOT,
            env=worker_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while services.get().jobs.get(job_id)["status"] not in ("finished", "failed"):
            assert worker.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the worker did not finish the job in time"
            time.sleep(0.2)
        assert services.get().jobs.get(job_id)["status"] == "finished"
        text = _scrape(f"http://127.0.0.1:{port}/metrics")
        assert listening_addresses(port) == {"127.0.0.1"}  # METRICS_HOST's default: loopback only
        assert f"http://127.0.0.1:{port}/metrics" in log_path.read_text()
        assert sample_value(text, "receipts_jobs_started_total") == 1
        assert sample_value(text, "receipts_jobs_finished_total") == 1
        assert sample_value(text, "receipts_job_duration_seconds_count") == 1
        assert sample_value(text, "receipts_queue_depth") == 0
        assert "receipts_jobs_failed_total" in text
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(10)
