"""One contract, every job store adapter: SQLite and Firestore (Google's emulator)."""

import threading
from datetime import timedelta

import pytest

from common import config, job, jobstore


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store(request, local_env):
    env = dict(local_env)
    if request.param == "firestore":
        env.update(request.getfixturevalue("firestore_env"))
    return jobstore.from_settings(config.from_env(env))


def new(sha: str = "a" * 64, **fields) -> dict:
    return job.new_job(sha256=sha, blob_name=f"{sha}.png", content_type="image/png", size=10, **fields)


def test_create_then_get_round_trips_the_document(store):
    doc = new(pedido_id="P-1", expected_amount=12.5)
    stored, created = store.create(doc)
    assert created and stored == doc
    assert store.get(doc["job_id"]) == doc
    assert store.get(job.new_job_id()) is None


@pytest.mark.parametrize("status", [job.QUEUED, job.STARTED, job.FINISHED])
def test_same_bytes_while_active_return_the_existing_job(store, status):
    first, _ = store.create(new())
    at = job.now()
    if status != job.QUEUED:
        store.update(first["job_id"], lambda d: job.claim(d, at, 60))
    if status == job.FINISHED:
        store.update(first["job_id"], lambda d: job.finish(d, 1, {"success": True, "data": {}}, at))
    again, created = store.create(new())
    assert not created
    assert again["job_id"] == first["job_id"] and again["status"] == status


def test_same_bytes_after_a_failed_job_make_a_new_job(store):
    first, _ = store.create(new())
    store.update(first["job_id"], lambda d: job.fail(d, None, "x", "broken", job.now()))
    second, created = store.create(new())
    assert created and second["job_id"] != first["job_id"]
    third, created = store.create(new())
    assert not created and third["job_id"] == second["job_id"]


def test_different_bytes_make_different_jobs(store):
    a, created_a = store.create(new("a" * 64))
    b, created_b = store.create(new("b" * 64))
    assert created_a and created_b and a["job_id"] != b["job_id"]


def test_concurrent_creates_of_the_same_bytes_make_one_job(store):
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.create(new()))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(created for _, created in results) == 1
    assert len({doc["job_id"] for doc, _ in results}) == 1


def test_only_one_of_concurrent_claims_wins(store):
    doc, _ = store.create(new())
    outcomes = []

    def claim():
        try:
            outcomes.append(store.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))["attempts"])
        except job.NotClaimable:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == [1, "refused", "refused", "refused"]
    assert store.get(doc["job_id"])["attempts"] == 1


def test_a_refused_change_leaves_the_job_untouched(store):
    doc, _ = store.create(new())
    store.update(doc["job_id"], lambda d: job.fail(d, None, "x", "broken", job.now()))
    before = store.get(doc["job_id"])
    with pytest.raises(job.NotClaimable):
        store.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))
    assert store.get(doc["job_id"]) == before


def test_an_expired_lease_can_be_taken_over(store):
    doc, _ = store.create(new())
    start = job.now()
    store.update(doc["job_id"], lambda d: job.claim(d, start, 60))
    with pytest.raises(job.NotClaimable):
        store.update(doc["job_id"], lambda d: job.claim(d, start + timedelta(seconds=30), 60))
    taken = store.update(doc["job_id"], lambda d: job.claim(d, start + timedelta(seconds=61), 60))
    assert taken["attempts"] == 2 and taken["started_at"] == job.iso(start)


def test_update_of_an_unknown_job_raises_job_not_found(store):
    with pytest.raises(jobstore.JobNotFound):
        store.update(job.new_job_id(), lambda d: d)


def test_list_filters_by_status_newest_first(store):
    base = job.now()
    docs = [store.create(new(ch * 64, created=base + timedelta(seconds=i)))[0] for i, ch in enumerate("abc")]
    store.update(docs[1]["job_id"], lambda d: job.fail(d, None, "x", "broken", job.now()))
    assert [d["job_id"] for d in store.list()] == [docs[2]["job_id"], docs[1]["job_id"], docs[0]["job_id"]]
    assert [d["job_id"] for d in store.list(status=job.QUEUED)] == [docs[2]["job_id"], docs[0]["job_id"]]
    assert [d["job_id"] for d in store.list(status=job.FAILED)] == [docs[1]["job_id"]]
    assert len(store.list(limit=1)) == 1


E2E = "E18236120202506040125s173f4b96d4"


def test_the_first_job_to_show_a_transaction_is_remembered(store):
    first = store.record_transaction(E2E, "a" * 32, "P-1", "2026-01-01T00:00:00.000+00:00")
    assert first == {
        "transaction_id": E2E,
        "job_id": "a" * 32,
        "pedido_id": "P-1",
        "first_seen_at": "2026-01-01T00:00:00.000+00:00",
    }
    assert store.record_transaction(E2E, "a" * 32, "P-1", "2026-01-02T00:00:00.000+00:00") == first  # a retry
    assert store.record_transaction(E2E, "b" * 32, "P-2", "2026-01-03T00:00:00.000+00:00") == first
    other = store.record_transaction(E2E.replace("s173", "s174"), "b" * 32, None, "2026-01-03T00:00:00.000+00:00")
    assert other["job_id"] == "b" * 32 and other["pedido_id"] is None


def test_concurrent_jobs_with_one_transaction_agree_on_the_first(store):
    results = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(store.record_transaction(E2E, f"{i:032x}", f"P-{i}", job.iso(job.now())))
        )
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r["job_id"] for r in results}) == 1


def test_pages_walk_every_job_newest_first_with_ties_broken_by_job_id(store):
    base = job.now()
    # Two jobs share each creation time: the cursor must not skip or repeat either of them.
    docs = [store.create(new(f"{i:064x}", created=base + timedelta(seconds=i // 2)))[0] for i in range(7)]
    expected = [d["job_id"] for d in sorted(docs, key=lambda d: (d["created_at"], d["job_id"]), reverse=True)]
    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = store.page(limit=3, cursor=cursor)
        seen += [d["job_id"] for d in page]
        pages += 1
        if cursor is None:
            break
        assert len(page) == 3
    assert seen == expected and pages == 3
    everything, cursor = store.page(limit=7)
    assert len(everything) == 7 and cursor is None  # a last page that is exactly full has no next cursor


def test_pages_filter_by_status_and_counts_per_status(store):
    base = job.now()
    docs = [store.create(new(f"{i:064x}", created=base + timedelta(seconds=i)))[0] for i in range(5)]
    for doc in docs[:3]:
        store.update(doc["job_id"], lambda d: job.fail(d, None, "x", "broken", job.now()))
    first, cursor = store.page(status=job.FAILED, limit=2)
    second, last = store.page(status=job.FAILED, limit=2, cursor=cursor)
    assert [d["job_id"] for d in first + second] == [docs[2]["job_id"], docs[1]["job_id"], docs[0]["job_id"]]
    assert last is None and all(d["status"] == job.FAILED for d in first + second)
    assert store.page(status=job.STARTED) == ([], None)
    assert {s: store.count(s) for s in job.STATUSES} == {"queued": 2, "started": 0, "finished": 0, "failed": 3}
    assert store.count() == 5


@pytest.mark.parametrize(
    "cursor",
    [
        "x",
        "!!!",
        "YWJj",
        jobstore.encode_cursor({"created_at": "yesterday", "job_id": "a" * 32}),
        jobstore.encode_cursor({"created_at": "2026-01-01T00:00:00.000+00:00", "job_id": "../x"}),
    ],
)
def test_a_cursor_the_store_did_not_make_is_refused(store, cursor):
    with pytest.raises(jobstore.BadCursor):
        store.page(cursor=cursor)


def test_firestore_down_longer_than_its_retries_is_a_backend_failure(local_env, monkeypatch, make_client):
    """Nothing listens at the Firestore host: once reads have retried for FIRESTORE_RETRY_SECONDS
    the store counts as down (BackendUnavailable: a 503, a retried job), not as a bug (a 500)."""
    import socket

    from common.errors import BackendUnavailable
    from common.jobstore import FirestoreJobStore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections to it are refused
    env = {
        "JOB_STORE": "firestore",
        "GOOGLE_CLOUD_PROJECT": "receipts-test",
        "FIRESTORE_RETRY_SECONDS": "1",
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{port}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    store = jobstore.from_settings(config.from_env())
    assert isinstance(store, FirestoreJobStore)
    for read in (
        lambda: store.get("a" * 32),
        lambda: store.list("queued"),
        lambda: store.page(None, 5),
        lambda: store.count("failed"),
        lambda: store.pending_notifications(),
    ):
        with pytest.raises(BackendUnavailable):
            read()
    status = make_client("status", **env)
    response = status.get(f"/jobs/{'a' * 32}/status")
    assert (response.status_code, response.get_json()["code"]) == (503, "backend_unavailable")
    assert response.headers["Retry-After"]


def test_a_pushed_pix_is_kept_by_its_end_to_end_id(store):
    assert store.get_pix(E2E) is None
    pix = {"endToEndId": E2E, "valor": "10.00", "horario": "2026-01-01T00:00:00.000Z"}
    store.record_pix(E2E, pix, "2026-01-01T00:00:01.000+00:00")
    assert store.get_pix(E2E) == pix
    store.record_pix(E2E, {**pix, "valor": "11.00"}, "2026-01-01T00:00:02.000+00:00")  # pushed again
    assert store.get_pix(E2E)["valor"] == "11.00"
    assert store.transaction(E2E) is None
    first = store.record_transaction(E2E, "a" * 32, "P-1", "2026-01-01T00:00:00.000+00:00")
    assert store.transaction(E2E) == first


def test_pending_confirmations_are_the_finished_jobs_whose_payment_is_unknown(store):
    at = job.now()
    docs = [store.create(new(sha))[0] for sha in ("1" * 64, "2" * 64)]
    for doc in docs:
        store.update(doc["job_id"], lambda d: job.claim(d, at, 60))
        store.update(doc["job_id"], lambda d: job.finish(d, 1, {"success": True, "data": {}}, at))
    unknown = {"confirmed": None, "reason": "PSP unavailable"}
    store.update(docs[0]["job_id"], lambda d: job.payment_unknown(d, unknown, at, 60, 3))
    (pending,) = store.pending_confirmations()
    assert pending["job_id"] == docs[0]["job_id"] and not job.confirmation_due(pending, at)
    assert job.confirmation_due(pending, at + timedelta(seconds=60))
    known = {**pending["result"]["data"], "validacao_pagamento": {"confirmed": True}}
    store.update(docs[0]["job_id"], lambda d: job.payment_known(d, known, at))
    assert store.pending_confirmations() == []
