"""tools/reliability.py: its numbers and report (unit), and a small real run of it on the full
local stack (the RQ one: Redis SIGKILLed while the worker runs a job, then a 20-upload load run),
where no accepted job may be lost or stuck and the report must have every scenario's row."""

import collections
import os
import uuid
from datetime import UTC, datetime

import pytest

from tests.helpers import TEST_OUTPUT, need
from tools import emulators, reliability
from tools.faultproxy import TcpProxy
from tools.reliability import Result, Upload

pytestmark = pytest.mark.slow  # fault injection on the local stack


def test_percentiles_interpolate_between_ranks():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert reliability.percentile(values, 50) == 3.0
    assert reliability.percentile(values, 0) == 1.0 and reliability.percentile(values, 100) == 5.0
    assert reliability.percentile(values, 95) == pytest.approx(4.8)
    assert reliability.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert reliability.percentile([7.0], 95) == 7.0
    assert reliability.percentile([], 50) is None


def _accepted(job_id: str) -> Upload:
    return Upload(f"{job_id}.pdf", "pdf", status=202, job_id=job_id, status_url=f"/jobs/{job_id}/status")


def test_classify_catches_double_processing_and_counts_take_overs():
    result = Result(
        "x",
        "cloudtasks",
        "none",
        [_accepted(j) for j in "abcde"] + [Upload("f.pdf", "pdf", status=503, code="backend_unavailable")],
    )
    result.finals = {
        "a": {"status": "finished", "attempts": 1},  # clean
        "b": {"status": "finished", "attempts": 2},  # taken over after a crash: legitimate
        "c": {"status": "finished", "attempts": 1},  # finished twice: a conflict
        "d": {"status": "failed", "attempts": 1, "error_code": "no_receipt_found"},  # finished, then failed
        "e": {"status": "finished", "attempts": 1},  # started twice, but only one attempt recorded
    }
    events = {
        "a": collections.Counter(job_started=1, job_finished=1),
        "b": collections.Counter(job_started=2, job_finished=1, job_failed=1, job_lease_lost=1),
        "c": collections.Counter(job_started=1, job_finished=2),
        "d": collections.Counter(job_started=1, job_finished=1, job_failed=1),
        "e": collections.Counter(job_started=2, job_finished=1),
    }
    reliability.classify(result, events)
    assert sorted(result.duplicates) == ["c", "d", "e"]
    assert result.takeovers == 1
    counts = result.counts()
    assert counts["accepted"] == 5 and counts["finished"] == 4
    assert counts["rejected"] == {"503 backend_unavailable": 1} and counts["failed"] == {"no_receipt_found": 1}
    assert not result.ok


def test_a_run_is_ok_only_with_something_accepted_and_nothing_lost_stuck_dead_or_unanswered():
    clean = Result("x", "rq", "none", [_accepted("a")], finals={"a": {"status": "finished", "attempts": 1}})
    assert clean.ok
    assert not Result("x", "rq", "none", [Upload("a.pdf", "pdf", status=503, code="queue_unavailable")]).ok
    refused = Upload("b.pdf", "pdf", status=503, code="queue_unavailable")
    assert Result("x", "rq", "none", [_accepted("a"), refused], finals={"a": {"status": "finished"}}).ok
    reset = Upload("b.pdf", "pdf", status=0, error="Connection reset by peer")  # the client cannot know
    assert not Result("x", "rq", "none", [_accepted("a"), reset], finals={"a": {"status": "finished"}}).ok
    for flaw in ({"lost": ["a"]}, {"stuck": ["a"]}, {"dead": ["worker"]}):
        assert not Result("x", "rq", "none", [_accepted("a")], **flaw).ok


def test_the_report_has_a_row_per_scenario_and_says_fail():
    good = Result("storage-crash", "cloudtasks", "a crash", [_accepted("a")], finals={"a": {"status": "finished"}})
    bad = Result("tasks-crash", "cloudtasks", "a crash", [_accepted("b")], stuck=["b"])
    load = Result("load", "cloudtasks", "none", [_accepted("c")], finals={"c": {"status": "finished"}})
    figures = {
        "upload_p50": 0.1,
        "upload_p95": 0.2,
        "upload_p99": 0.3,
        "e2e_p50": 1.0,
        "e2e_p95": 2.0,
        "upload_seconds": 1.0,
        "wall_seconds": 3.0,
        "throughput": 0.3,
        "concurrency": 16,
        "pdf": 1,
        "png": 0,
    }
    report = reliability.render_report(
        [good, bad],
        (load, figures),
        "python -m tools.reliability",
        datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        "2 CPUs",
    )
    assert "| storage-crash | cloudtasks | 1 | 1 |" in report
    assert "| tasks-crash | cloudtasks | 1 | 1 |" in report and "| load | cloudtasks | 1 | 1 |" in report
    assert "FAIL: tasks-crash: 0 lost, 1 stuck, 0 duplicates, 0 unanswered" in report and "stuck: b" in report
    assert "| 0.10 s | 0.20 s | 0.30 s | 1.00 s | 2.00 s |" in report
    assert "2026-01-02 03:04 UTC" in report and "`python -m tools.reliability`" in report


def test_the_tcp_proxy_cuts_a_real_emulator_off_and_restores_it_on_the_same_port(redis_server):
    import redis

    proxy = TcpProxy(redis_server.host)
    client = redis.Redis(host="127.0.0.1", port=proxy.port, socket_connect_timeout=2, socket_timeout=2)
    key = f"k{uuid.uuid4().hex}"
    client.set(key, "kept")
    port = proxy.port
    proxy.cut()
    with pytest.raises(redis.exceptions.ConnectionError):
        client.get(key)
    proxy.restore()
    assert proxy.port == port and client.get(key) == b"kept"  # the service kept its data
    proxy.stop()


def test_a_small_real_run_on_the_rq_stack_loses_nothing_and_writes_the_report():
    """Redis SIGKILLed while the worker runs a job (its queue is lost: the reconciler must
    re-enqueue, and the worker must survive losing Redis mid-job), then 24 uploads from 16 clients
    (more than the upload function's 8 threads)."""
    need(emulators.firestore_jar)  # a visible skip where the Firestore emulator is missing (a failure in CI)
    out = os.path.join(TEST_OUTPUT, f"reliability-{uuid.uuid4().hex[:6]}")
    report = os.path.join(out, "report.md")
    os.makedirs(out)
    code = reliability.main(
        [
            "--scenarios",
            "redis-crash",
            "--batch",
            "16",
            "--outage",
            "3",
            "--bound",
            "60",
            "--uploads",
            "24",
            "--concurrency",
            "16",
            "--load-queue",
            "rq",
            "--load-bound",
            "90",
            "--report",
            report,
            "--state-dir",
            out,
        ]
    )
    with open(report) as f:
        text = f.read()
    assert code == 0, text
    assert "PASS: every upload answered; no accepted job lost, stuck or processed twice." in text
    rows = [line for line in text.splitlines() if line.startswith(("| redis-crash | rq |", "| load | rq |"))]
    assert len(rows) == 2, text
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        accepted, lost, stuck, duplicates = int(cells[3]), cells[7], cells[8], cells[9]
        assert accepted > 0 and (lost, stuck, duplicates) == ("0", "0", "0"), row
    assert "## Load (rq)" in text and "| upload p50 |" in text
