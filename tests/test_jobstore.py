"""One contract, every job store adapter: SQLite and Firestore (Google's emulator)."""

import json
import random
import threading
import time
from datetime import datetime, timedelta

import pytest

from common import config, job, jobstore
from tests.conftest import PROJECT


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


def retried(change):
    """What a caller does with `Contended` (the store's word for "another transaction got there
    first", which Firestore's emulator also says when its lock waits time out on a busy machine):
    try again, after a random wait: threads that wait alike retry in step and collide again (on
    the emulator each collision is a lock wait of about 2 s, and in lockstep four writers went on
    timing out for minutes of a full run)."""
    for attempt in range(20):
        try:
            return change()
        except jobstore.Contended:
            time.sleep(random.uniform(0, 0.1 * (attempt + 1)))
    raise AssertionError("still contended after 20 attempts")


@pytest.fixture
def fresh_store(request, store):
    """The store on a database of its own: on Firestore, a named database nothing else in the
    session has used (the emulator's `(default)` can hold a transaction lock an earlier test's
    client left, which makes every writer of that document time out)."""
    if not isinstance(store, jobstore.FirestoreJobStore):
        return store
    import uuid

    env = {"JOB_STORE": "firestore", "GOOGLE_CLOUD_PROJECT": PROJECT, "FIRESTORE_DATABASE": f"t{uuid.uuid4().hex[:12]}"}
    return jobstore.from_settings(config.from_env(env))


def test_concurrent_creates_of_the_same_bytes_make_one_job(fresh_store):
    store = fresh_store
    results = []
    threads = [threading.Thread(target=lambda: results.append(retried(lambda: store.create(new())))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4  # every thread got an answer
    assert sum(created for _, created in results) == 1
    assert len({doc["job_id"] for doc, _ in results}) == 1


def test_only_one_of_concurrent_claims_wins(fresh_store):
    store = fresh_store
    doc, _ = store.create(new())
    outcomes = []

    def claim():
        try:
            outcomes.append(
                retried(lambda: store.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60)))["attempts"]
            )
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


def test_each_tenant_sees_only_its_own_jobs_and_duplicates(store):
    base = job.now()
    a, _ = store.create(new(tenant="acme", created=base))
    b, created = store.create(new(tenant="other", created=base + timedelta(seconds=1)))
    assert created and b["job_id"] != a["job_id"]  # the same bytes, another tenant: a new job
    again, created = store.create(new(tenant="acme"))
    assert not created and again["job_id"] == a["job_id"]
    assert store.get(a["job_id"], tenant="acme") == a and store.get(a["job_id"], tenant="other") is None
    assert store.get(a["job_id"]) == a  # no tenant: the OCR function and the reconciler see every job
    store.update(b["job_id"], lambda d: job.fail(d, None, "x", "broken", job.now()))
    assert [d["job_id"] for d in store.page(tenant="acme")[0]] == [a["job_id"]]
    assert [d["job_id"] for d in store.page(status=job.FAILED, tenant="other")[0]] == [b["job_id"]]
    assert store.page(status=job.FAILED, tenant="acme") == ([], None)
    assert [d["job_id"] for d in store.list(tenant="other")] == [b["job_id"]]
    assert (store.count(tenant="acme"), store.count(job.QUEUED, "acme"), store.count(job.FAILED, "acme")) == (1, 1, 0)
    assert (store.count(job.FAILED, "other"), store.count()) == (1, 2)
    assert store.page(tenant=job.DEFAULT_TENANT) == ([], None)


def test_each_tenant_has_its_own_first_job_of_a_transaction(store):
    at = "2026-01-01T00:00:00.000+00:00"
    first_a = store.record_transaction(E2E, "a" * 32, "P-A", at, tenant="acme")
    first_b = store.record_transaction(E2E, "b" * 32, "P-B", at, tenant="other")
    assert (first_a["job_id"], first_b["job_id"]) == ("a" * 32, "b" * 32)
    assert store.record_transaction(E2E, "c" * 32, "P-C", at, tenant="other") == first_b
    assert store.record_transaction(E2E, "d" * 32, None, at)["job_id"] == "d" * 32  # the default tenant's


def test_a_sqlite_database_from_before_tenants_becomes_the_default_tenants(tmp_path):
    import json
    import sqlite3

    path = str(tmp_path / "old.sqlite3")
    old = new()
    del old["tenant"]
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, status TEXT NOT NULL,"
        " created_at TEXT NOT NULL, doc TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX jobs_sha256 ON jobs (sha256, status)")
    db.execute(
        "CREATE TABLE transactions (transaction_id TEXT PRIMARY KEY, job_id TEXT NOT NULL,"
        " pedido_id TEXT, first_seen_at TEXT NOT NULL)"
    )
    db.execute(
        "INSERT INTO jobs VALUES (?,?,?,?,?)",
        (old["job_id"], old["sha256"], "queued", old["created_at"], json.dumps(old)),
    )
    db.execute("INSERT INTO transactions VALUES (?,?,?,?)", (E2E, old["job_id"], None, old["created_at"]))
    db.commit()
    db.close()
    store = jobstore.SqliteJobStore(path)
    assert store.get(old["job_id"], tenant=job.DEFAULT_TENANT) == old
    assert store.get(old["job_id"], tenant="acme") is None
    assert store.create(new())[0]["job_id"] == old["job_id"]  # still the default tenant's duplicate
    assert store.create(new(tenant="acme"))[1] is True
    assert store.record_transaction(E2E, "b" * 32, None, old["created_at"])["job_id"] == old["job_id"]
    assert store.record_transaction(E2E, "b" * 32, None, old["created_at"], tenant="acme")["job_id"] == "b" * 32
    assert [d["job_id"] for d in store.page(tenant=job.DEFAULT_TENANT)[0]] == [old["job_id"]]
    jobstore.SqliteJobStore(path)  # opening it again finds nothing left to migrate


# --- retention and erasure ----------------------------------------------------------------------


def test_a_job_carries_its_expiry_through_the_store(store):
    doc = new(retention_days=90)
    created = datetime.fromisoformat(doc["created_at"])
    assert datetime.fromisoformat(doc["expires_at"]) - created == timedelta(days=90)
    store.create(doc)
    assert store.get(doc["job_id"]) == doc  # Firestore keeps a timestamp; the store gives the string back
    claimed = store.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))
    assert claimed["expires_at"] == doc["expires_at"] == store.list()[0]["expires_at"]
    assert new()["expires_at"] is None  # no retention given: kept until erased


def finished_with_transaction(store, sha: str, transaction_id: str = E2E) -> dict:
    doc, _ = store.create(new(sha, retention_days=30))
    store.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))
    store.record_transaction(transaction_id, doc["job_id"], None, doc["created_at"], expires_at=doc["expires_at"])
    result = {"success": True, "data": {"transaction_id": transaction_id}}
    return store.update(doc["job_id"], lambda d: job.finish(d, 1, result, job.now()))


def test_delete_erases_the_job_and_its_index_records(store):
    doc = finished_with_transaction(store, "a" * 64)
    other = finished_with_transaction(store, "b" * 64, E2E.replace("s173", "s174"))
    assert store.delete(doc["job_id"]) == doc
    assert store.get(doc["job_id"]) is None
    assert store.delete(doc["job_id"]) is None  # already gone
    assert store.list() == [other] and store.count() == 1
    # The transaction record went with it: the next job showing that payment is the first one.
    assert store.record_transaction(E2E, "c" * 32, "P-3", job.iso(job.now()))["job_id"] == "c" * 32
    # So did the hash pointer: the same bytes make a new job.
    again, created = store.create(new("a" * 64))
    assert created and again["job_id"] != doc["job_id"]
    assert store.get(other["job_id"]) == other


def test_delete_leaves_the_hash_pointer_of_another_job_alone(store):
    failed, _ = store.create(new())
    store.update(failed["job_id"], lambda d: job.fail(d, None, "x", "broken", job.now()))
    active, _ = store.create(new())
    assert store.sha256_in_use("a" * 64)
    store.delete(failed["job_id"])
    assert store.sha256_in_use("a" * 64)  # the active job still refers to the bytes
    same, created = store.create(new())
    assert not created and same["job_id"] == active["job_id"]
    store.delete(active["job_id"])
    assert not store.sha256_in_use("a" * 64)


def test_the_sweep_deletes_what_expired(store):
    old = finished_with_transaction(store, "a" * 64)
    young, _ = store.create(new("b" * 64, retention_days=60))
    forever, _ = store.create(new("c" * 64))
    orphan = E2E.replace("s173", "s175")  # a record whose job is gone already
    store.record_transaction(orphan, "d" * 32, None, old["created_at"], expires_at=old["expires_at"])
    at = job.iso(datetime.fromisoformat(old["expires_at"]) + timedelta(seconds=1))
    swept = store.sweep_expired(at)
    if isinstance(store, jobstore.FirestoreJobStore):
        # Firestore's TTL policy deletes expired documents; the sweep leaves them to it.
        assert swept == [] and store.get(old["job_id"]) == old
        return
    assert swept == [old]
    assert store.get(old["job_id"]) is None
    assert store.get(young["job_id"]) == young and store.get(forever["job_id"]) == forever
    assert store.record_transaction(E2E, "e" * 32, None, at)["job_id"] == "e" * 32
    assert store.record_transaction(orphan, "f" * 32, None, at)["job_id"] == "f" * 32
    assert store.sweep_expired(at) == []


def test_an_old_sqlite_database_gains_the_expiry_column(tmp_path):
    import sqlite3

    path = str(tmp_path / "old.sqlite3")
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE transactions (transaction_id TEXT PRIMARY KEY, job_id TEXT NOT NULL,"
        " pedido_id TEXT, first_seen_at TEXT NOT NULL)"
    )
    db.execute("INSERT INTO transactions VALUES (?,?,?,?)", (E2E, "a" * 32, "P-1", "2026-01-01T00:00:00.000+00:00"))
    db.commit()
    db.close()
    store = jobstore.SqliteJobStore(path)
    assert store.record_transaction(E2E, "b" * 32, None, job.iso(job.now()))["job_id"] == "a" * 32
    assert store.sweep_expired(job.iso(job.now())) == []  # a record without expiry stays
    jobstore.SqliteJobStore(path)  # opening it again changes nothing


def test_documents_stored_before_retention_get_an_expiry(store):
    legacy, _ = store.create(new())  # no retention: as stored before expires_at existed
    store.record_transaction(E2E, legacy["job_id"], None, legacy["created_at"])
    kept, _ = store.create(new("b" * 64, retention_days=5))
    assert store.add_missing_expiry(30) >= 2
    doc = store.get(legacy["job_id"])
    assert doc["expires_at"] == job.iso(datetime.fromisoformat(legacy["created_at"]) + timedelta(days=30))
    assert store.get(kept["job_id"]) == kept  # an expiry already set stays
    assert store.add_missing_expiry(30) == 0  # nothing left without one
    at = job.iso(datetime.fromisoformat(doc["expires_at"]) + timedelta(seconds=1))
    if isinstance(store, jobstore.SqliteJobStore):
        assert {d["job_id"] for d in store.sweep_expired(at)} == {kept["job_id"], legacy["job_id"]}
        assert store.record_transaction(E2E, "c" * 32, None, at)["job_id"] == "c" * 32  # its record went too
        return
    from google.cloud import firestore

    from tests.conftest import PROJECT

    client = firestore.Client(project=PROJECT)
    for collection, name in (("jobs_transactions", E2E), ("jobs_by_sha256", "a" * 64)):
        scoped = jobstore.FirestoreJobStore.scoped_id(job.DEFAULT_TENANT, name)
        assert job.iso(client.collection(collection).document(scoped).get().get("expires_at")) == doc["expires_at"]


def test_a_pushed_pix_is_kept_by_its_end_to_end_id(store):
    assert store.get_pix(E2E) is None
    pix = {"endToEndId": E2E, "valor": "10.00", "horario": "2026-01-01T00:00:00.000Z"}
    store.record_pix(E2E, pix, "2026-01-01T00:00:01.000+00:00")
    assert store.get_pix(E2E) == pix
    store.record_pix(E2E, {**pix, "valor": "11.00"}, "2026-01-01T00:00:02.000+00:00")  # pushed again
    assert store.get_pix(E2E)["valor"] == "11.00"
    assert store.transactions(E2E) == []
    first = store.record_transaction(E2E, "a" * 32, "P-1", "2026-01-01T00:00:00.000+00:00")
    other = store.record_transaction(E2E, "b" * 32, None, "2026-01-01T00:00:00.000+00:00", tenant="acme")
    assert sorted(store.transactions(E2E), key=lambda r: r["job_id"]) == [first, other]  # each tenant's


def test_pushed_pix_are_kept_by_the_psp_that_pushed_them(store):
    """(tenant, end-to-end id): a tenant's own PSP's pushes are its alone, the PIX_* one's shared."""
    pix = {"endToEndId": E2E, "valor": "10.00", "horario": "2026-01-01T00:00:00.000Z"}
    store.record_pix(E2E, pix, "2026-01-01T00:00:01.000+00:00", tenant="acme")
    assert store.get_pix(E2E, tenant="acme") == pix
    assert store.get_pix(E2E) is None and store.get_pix(E2E, tenant="beta") is None
    store.record_pix(E2E, {**pix, "valor": "12.00"}, "2026-01-01T00:00:02.000+00:00")  # the PIX_* one's
    assert store.get_pix(E2E)["valor"] == "12.00" and store.get_pix(E2E, tenant="acme") == pix
    acme = store.record_transaction(E2E, "a" * 32, None, "2026-01-01T00:00:00.000+00:00", tenant="acme")
    beta = store.record_transaction(E2E, "b" * 32, None, "2026-01-01T00:00:00.000+00:00", tenant="beta")
    assert store.transactions(E2E, tenant="acme") == [acme] and store.transactions(E2E, tenant="beta") == [beta]
    assert store.transactions(E2E, tenant="gamma") == [] and len(store.transactions(E2E)) == 2


def test_pushed_pix_from_before_per_tenant_psps_are_the_shared_configurations(tmp_path):
    import sqlite3

    path = str(tmp_path / "old.sqlite3")
    pix = {"endToEndId": E2E, "valor": "10.00", "horario": "2026-01-01T00:00:00.000Z"}
    with sqlite3.connect(path) as db:  # the table as it was: keyed by the id alone
        db.execute(
            "CREATE TABLE pix_received (e2eid TEXT PRIMARY KEY, pix TEXT NOT NULL,"
            " received_at TEXT NOT NULL, expires_at TEXT)"
        )
        db.execute("INSERT INTO pix_received VALUES (?,?,?,?)", (E2E, json.dumps(pix), "2026-01-01T00:00:01", None))
    store = jobstore.SqliteJobStore(path)
    assert store.get_pix(E2E) == pix and store.get_pix(E2E, tenant="acme") is None
    store.record_pix(E2E, pix, "2026-01-01T00:00:02.000+00:00", tenant="acme")
    assert store.get_pix(E2E, tenant="acme") == pix


def test_a_pushed_pix_expires_like_a_job(store):
    pix = {"endToEndId": E2E, "valor": "10.00", "horario": "2026-01-01T00:00:00.000Z", "pagador": {"nome": "X"}}
    store.record_pix(E2E, pix, "2026-01-01T00:00:01.000+00:00", expires_at="2026-01-31T00:00:01.000+00:00")
    swept = store.sweep_expired("2026-02-01T00:00:00.000+00:00")
    if isinstance(store, jobstore.FirestoreJobStore):  # the TTL policy's field, a timestamp
        from google.cloud import firestore

        from tests.conftest import PROJECT

        stored = firestore.Client(project=PROJECT).collection("jobs_pix").document(E2E).get().get("expires_at")
        assert job.iso(stored) == "2026-01-31T00:00:01.000+00:00" and store.get_pix(E2E) == pix
        return
    assert swept == [] and store.get_pix(E2E) is None  # SQLite: the sweep drops it


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


# --- the review queue (issue 17) ---------------------------------------------------------------------


def finished(store, sha: str, needs_review: bool, tenant: str = job.DEFAULT_TENANT, created=None) -> dict:
    doc, _ = store.create(new(sha, tenant=tenant, created=created))
    store.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))
    result = {"success": True, "data": {"amount": 10.0, "needs_review": needs_review, "review_reasons": []}}
    return store.update(doc["job_id"], lambda d: job.finish(d, 1, result, job.now()))


def reviewed(doc: dict) -> dict:
    """What a review leaves (common.review): the flag cleared, the record kept."""
    data = {**doc["result"]["data"], "needs_review": False}
    return {**doc, "result": {**doc["result"], "data": data}, "review": {"decision": "approve", "history": []}}


def test_the_review_queue_holds_flagged_jobs_oldest_first_and_a_review_takes_them_out(store):
    base = job.now()
    flagged = [finished(store, ch * 64, True, created=base + timedelta(seconds=i)) for i, ch in enumerate("abcd")]
    finished(store, "e" * 64, False, created=base + timedelta(seconds=5))
    store.create(new("f" * 64, created=base + timedelta(seconds=6)))  # queued: no result yet
    theirs = finished(store, "a" * 64, True, tenant="other", created=base - timedelta(seconds=1))
    ids = [d["job_id"] for d in flagged]
    page, cursor = store.review_page(limit=3, tenant=job.DEFAULT_TENANT)
    assert [d["job_id"] for d in page] == ids[:3] and cursor
    rest, end = store.review_page(limit=3, cursor=cursor, tenant=job.DEFAULT_TENANT)
    assert [d["job_id"] for d in rest] == ids[3:] and end is None
    assert store.count_needs_review(tenant=job.DEFAULT_TENANT) == 4
    assert [d["job_id"] for d in store.review_page(tenant="other")[0]] == [theirs["job_id"]]
    assert [d["job_id"] for d in store.review_page()[0]] == [theirs["job_id"], *ids]  # every tenant's
    assert store.count_needs_review() == 5
    done = store.update(ids[1], reviewed)
    assert done["review"]["decision"] == "approve" and store.get(ids[1]) == done
    assert [d["job_id"] for d in store.review_page(tenant=job.DEFAULT_TENANT)[0]] == [ids[0], ids[2], ids[3]]
    assert store.count_needs_review(tenant=job.DEFAULT_TENANT) == 3
    assert store.count(job.FINISHED, tenant=job.DEFAULT_TENANT) == 5  # still finished
    with pytest.raises(jobstore.BadCursor):
        store.review_page(cursor="bm90LWEtY3Vyc29y")


def test_a_transaction_record_is_forgotten_only_for_the_job_it_names(store):
    store.record_transaction(E2E, "a" * 32, None, "2026-01-01T00:00:00.000+00:00")
    assert not store.forget_transaction(E2E, "b" * 32)  # another job's record stays
    assert not store.forget_transaction(E2E, "a" * 32, tenant="other")
    assert store.transactions(E2E)[0]["job_id"] == "a" * 32
    assert store.forget_transaction(E2E, "a" * 32)
    assert store.transactions(E2E) == []
    assert store.record_transaction(E2E, "c" * 32, None, "2026-01-02T00:00:00.000+00:00")["job_id"] == "c" * 32
