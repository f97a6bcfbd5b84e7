"""The reconciler on the embedded stack (SQLite, inline queue: a re-enqueued job runs at once)
and on RQ (a re-enqueued job is a real task in Redis)."""

import uuid
from datetime import timedelta

from common import job, reconcile, services
from tests.helpers import ROOT, queue_file


def test_a_job_queued_too_long_gets_a_new_task(sample, monkeypatch):
    monkeypatch.setenv("RECONCILE_QUEUED_AFTER_SECONDS", "60")
    services.reset()
    app = services.get()
    doc = queue_file(sample["pdf"], "application/pdf")
    assert reconcile.reconcile_once(app)["requeued"] == 0  # young: its task may still come
    later = job.now() + timedelta(seconds=61)
    assert reconcile.reconcile_once(app, at=later) == {
        "requeued": 1,
        "taken_over": 0,
        "failed": 0,
        "notifications_requeued": 0,
        "expired": 0,
        "payments_rechecked": 0,
    }
    assert app.jobs.get(doc["job_id"])["status"] == "finished"


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(sample):
    app = services.get()
    doc = queue_file(sample["pdf"], "application/pdf")
    start = job.now() - timedelta(seconds=31)
    app.jobs.update(doc["job_id"], lambda d: job.claim(d, start, 30))  # a worker that then died
    assert reconcile.reconcile_once(app, at=start + timedelta(seconds=10))["taken_over"] == 0
    assert reconcile.reconcile_once(app)["taken_over"] == 1
    done = app.jobs.get(doc["job_id"])
    assert done["status"] == "finished" and done["attempts"] == 2


def test_a_job_that_keeps_dying_is_failed_after_the_maximum(sample, monkeypatch):
    monkeypatch.setenv("TASK_MAX_ATTEMPTS", "2")
    services.reset()
    app = services.get()
    doc = queue_file(sample["pdf"], "application/pdf")
    start = job.now()
    for attempt in range(2):
        app.jobs.update(doc["job_id"], lambda d: job.claim(d, start + timedelta(seconds=31 * attempt), 30))
    counts = reconcile.reconcile_once(app, at=start + timedelta(seconds=100))
    assert counts == {
        "requeued": 0,
        "taken_over": 0,
        "failed": 1,
        "notifications_requeued": 0,
        "expired": 0,
        "payments_rechecked": 0,
    }
    failed = app.jobs.get(doc["job_id"])
    assert failed["status"] == "failed" and failed["error_code"] == "too_many_attempts"


def test_requeueing_on_rq_puts_a_task_in_redis(sample, redis_server, monkeypatch):
    import redis
    import rq

    queue_name = f"q{uuid.uuid4().hex[:8]}"
    for key, value in {
        "TASK_QUEUE": "rq",
        "REDIS_URL": f"redis://{redis_server.host}/0",
        "RQ_QUEUE_NAME": queue_name,
        "RECONCILE_QUEUED_AFTER_SECONDS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    services.reset()
    doc = queue_file(sample["pdf"], "application/pdf")
    reconcile.reconcile_once(services.get(), at=job.now() + timedelta(seconds=2))
    queue = rq.Queue(queue_name, connection=redis.Redis.from_url(f"redis://{redis_server.host}/0"))
    assert [task.args for task in queue.jobs] == [(doc["job_id"],)]


def test_the_reconciler_loop_outlives_a_pass_that_fails(tmp_path, sample):
    """A real `python -m common.reconcile --loop` process whose job store is broken (here a
    SQLite file that is not a database; on the stack, Firestore down past its client's 300 s of
    retries) keeps going, and once the store is back it rescues a stranded job."""
    import os
    import subprocess
    import sys
    import time

    broken = tmp_path / "jobs.sqlite3"
    broken.write_bytes(b"not a database" * 100)
    log_path = tmp_path / "reconciler.log"
    env = {**os.environ, "SQLITE_PATH": str(broken), "RECONCILE_QUEUED_AFTER_SECONDS": "1", "PYTHONPATH": ROOT}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "common.reconcile", "--loop", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while log_path.read_text().count('"reconcile_failed"') < 2:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        broken.unlink()  # the store is back (empty), with a job whose task was lost
        services.reset()
        doc = queue_file(sample["pdf"], "application/pdf")
        while services.get().jobs.get(doc["job_id"])["status"] != "finished":
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
    finally:
        process.kill()
        process.wait()
