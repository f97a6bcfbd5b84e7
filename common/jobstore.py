"""The job store port: job documents (common.job), created once per receipt and changed atomically.

Two operations carry the correctness rules:
- `create(doc)` is atomic with the duplicate check: while a job for the same bytes (sha256) is
  queued, started or finished, that job is returned instead of creating another.
- `update(job_id, change)` applies `change(doc) -> new doc` as one read-modify-write, so two
  deliveries of one task cannot both claim a job. `change` may raise to leave the job untouched.

Adapters: SQLite (embedded default) and Firestore (the same client talks to the emulator when
FIRESTORE_EMULATOR_HOST is set).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from common import job as jobs
from common.errors import BackendUnavailable

Change = Callable[[dict], dict]


class JobNotFound(Exception):
    pass


class Contended(BackendUnavailable):
    """Other writers kept changing the job while this change was tried: try again shortly."""


class BadCursor(ValueError):
    """A page cursor that this store did not hand out (or that was altered)."""


def encode_cursor(doc: dict) -> str:
    """The opaque cursor after `doc`: its place in the (created_at, job_id) order, newest first.
    Clients must not build cursors; the encoding only keeps them short and URL-safe."""
    return base64.urlsafe_b64encode(f"{doc['created_at']}|{doc['job_id']}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, job_id = raw.split("|")
        datetime.fromisoformat(created_at)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(f"not a cursor: {cursor[:80]!r}") from None
    if not jobs.is_valid_job_id(job_id):
        raise BadCursor(f"not a cursor: {cursor[:80]!r}")
    return created_at, job_id


class JobStore(Protocol):
    def create(self, doc: dict) -> tuple[dict, bool]:
        """Store a new job, or return (active job for the same sha256, False)."""

    def get(self, job_id: str) -> dict | None: ...

    def update(self, job_id: str, change: Change) -> dict: ...

    def list(self, status: str | None = None, limit: int = 50) -> list[dict]:
        """Newest first."""

    def page(
        self, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[builtins.list[dict], str | None]:
        """Newest first (created_at, then job_id, descending), `limit` jobs after `cursor`; and the
        cursor of the next page, None on the last one. Raises BadCursor for a cursor it did not make."""

    def count(self, status: str | None = None) -> int: ...

    def pending_notifications(self, limit: int = 500) -> builtins.list[dict]:
        """Jobs whose notification (webhook) is still `pending`, any order."""

    def record_transaction(self, transaction_id: str, job_id: str, pedido_id: str | None, at: str) -> dict:
        """Remember `job_id` as the first job with this id unless one already is; return the first
        record `{transaction_id, job_id, pedido_id, first_seen_at}`."""


class SqliteJobStore:
    def __init__(self, path: str):
        self.path = path
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self._local = threading.local()
        with self._connection() as db:
            # Read its answer: a PRAGMA left un-stepped keeps its lock on an idle connection (a
            # thread that then sleeps, like the inline recovery, held every writer up for 30 s).
            db.execute("PRAGMA journal_mode=WAL").fetchall()
            db.execute(
                "CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL,"
                " status TEXT NOT NULL, created_at TEXT NOT NULL, doc TEXT NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS jobs_sha256 ON jobs (sha256, status)")
            db.execute("CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS transactions (transaction_id TEXT PRIMARY KEY, job_id TEXT NOT NULL,"
                " pedido_id TEXT, first_seen_at TEXT NOT NULL)"
            )

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread; autocommit mode so each write transaction is explicit.
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._local.db = db
        return db

    def _write(self, fn):
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")  # take the write lock before reading: no lost updates
        try:
            result = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    @staticmethod
    def _save(db, doc: dict, insert: bool) -> None:
        row = (doc["sha256"], doc["status"], doc["created_at"], json.dumps(doc), doc["job_id"])
        if insert:
            db.execute("INSERT INTO jobs (sha256, status, created_at, doc, job_id) VALUES (?,?,?,?,?)", row)
        else:
            db.execute("UPDATE jobs SET sha256=?, status=?, created_at=?, doc=? WHERE job_id=?", row)

    def create(self, doc: dict) -> tuple[dict, bool]:
        def tx(db):
            row = db.execute(
                "SELECT doc FROM jobs WHERE sha256=? AND status IN (?,?,?) ORDER BY created_at DESC LIMIT 1",
                (doc["sha256"], *jobs.ACTIVE),
            ).fetchone()
            if row:
                return json.loads(row[0]), False
            self._save(db, doc, insert=True)
            return doc, True

        return self._write(tx)

    def get(self, job_id: str) -> dict | None:
        row = self._connection().execute("SELECT doc FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def update(self, job_id: str, change: Change) -> dict:
        def tx(db):
            row = db.execute("SELECT doc FROM jobs WHERE job_id=?", (job_id,)).fetchone()
            if not row:
                raise JobNotFound(job_id)
            doc = change(json.loads(row[0]))
            self._save(db, doc, insert=False)
            return doc

        return self._write(tx)

    def list(self, status: str | None = None, limit: int = 50) -> list[dict]:
        if status:
            rows = self._connection().execute(
                "SELECT doc FROM jobs WHERE status=? ORDER BY created_at DESC LIMIT ?", (status, limit)
            )
        else:
            rows = self._connection().execute("SELECT doc FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,))
        return [json.loads(r[0]) for r in rows]

    def page(
        self, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[builtins.list[dict], str | None]:
        where, params = [], []
        if status:
            where.append("status=?")
            params.append(status)
        if cursor:
            created_at, job_id = decode_cursor(cursor)
            where.append("(created_at < ? OR (created_at = ? AND job_id < ?))")
            params += [created_at, created_at, job_id]
        sql = "SELECT doc FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        # One row more than asked tells whether a next page exists without a second query.
        rows = self._connection().execute(sql + " ORDER BY created_at DESC, job_id DESC LIMIT ?", (*params, limit + 1))
        docs = [json.loads(r[0]) for r in rows]
        return docs[:limit], encode_cursor(docs[limit - 1]) if len(docs) > limit else None

    def pending_notifications(self, limit: int = 500) -> builtins.list[dict]:
        # Only ended jobs can owe a notification: the status index narrows the JSON scan to them.
        rows = self._connection().execute(
            "SELECT doc FROM jobs WHERE status IN (?,?) AND json_extract(doc, '$.notification.status')=? LIMIT ?",
            (jobs.FINISHED, jobs.FAILED, jobs.NOTIFY_PENDING, limit),
        )
        return [json.loads(r[0]) for r in rows]

    def count(self, status: str | None = None) -> int:
        if status:
            return self._connection().execute("SELECT COUNT(*) FROM jobs WHERE status=?", (status,)).fetchone()[0]
        return self._connection().execute("SELECT COUNT(*) FROM jobs").fetchone()[0]

    def record_transaction(self, transaction_id: str, job_id: str, pedido_id: str | None, at: str) -> dict:
        def tx(db):
            db.execute("INSERT OR IGNORE INTO transactions VALUES (?,?,?,?)", (transaction_id, job_id, pedido_id, at))
            row = db.execute(
                "SELECT job_id, pedido_id, first_seen_at FROM transactions WHERE transaction_id=?", (transaction_id,)
            ).fetchone()
            return {"transaction_id": transaction_id, "job_id": row[0], "pedido_id": row[1], "first_seen_at": row[2]}

        return self._write(tx)


class FirestoreJobStore:
    """Jobs in `<collection>/<job_id>`; `<collection>_by_sha256/<sha256>` points at the active job;
    `<collection>_transactions/<end-to-end id>` records the first job that showed a payment."""

    def __init__(self, project: str, database: str, collection: str, retry_seconds: int = 60):
        from google.api_core import exceptions
        from google.api_core import retry as retries
        from google.cloud import firestore

        transient = (exceptions.ServiceUnavailable, exceptions.DeadlineExceeded, exceptions.InternalServerError)
        # Reads retry transient errors for FIRESTORE_RETRY_SECONDS, then the backend counts as
        # down (503 to a caller, a retried job), not as a bug (a 500).
        self._retry = retries.Retry(
            predicate=retries.if_exception_type(*transient),
            initial=0.1,
            maximum=5.0,
            multiplier=1.3,
            timeout=retry_seconds,
        )
        self._unavailable = (*transient, exceptions.RetryError)
        self._firestore = firestore
        self._client = firestore.Client(project=project, database=database)
        self._jobs = self._client.collection(collection)
        self._by_sha = self._client.collection(f"{collection}_by_sha256")
        self._transactions = self._client.collection(f"{collection}_transactions")

    def _run(self, fn):
        from google.api_core import exceptions

        try:
            return self._firestore.transactional(fn)(self._client.transaction())
        except exceptions.Aborted as e:
            raise Contended(f"Firestore transaction contended: {e}") from e
        except ValueError as e:
            if "Failed to commit transaction" not in str(e):
                raise
            raise Contended(f"Firestore transaction contended: {e}") from e
        except self._unavailable as e:
            raise BackendUnavailable(f"Firestore unavailable: {e}") from e

    def _read(self, fn):
        try:
            return fn()
        except self._unavailable as e:
            raise BackendUnavailable(f"Firestore unavailable: {e}") from e

    def create(self, doc: dict) -> tuple[dict, bool]:
        pointer = self._by_sha.document(doc["sha256"])

        def tx(transaction):
            seen = pointer.get(transaction=transaction)
            if seen.exists:
                existing = self._jobs.document(seen.get("job_id")).get(transaction=transaction)
                if existing.exists and existing.get("status") in jobs.ACTIVE:
                    return existing.to_dict(), False
            transaction.create(self._jobs.document(doc["job_id"]), doc)
            transaction.set(pointer, {"job_id": doc["job_id"]})
            return doc, True

        return self._run(tx)

    def get(self, job_id: str) -> dict | None:
        snapshot = self._read(lambda: self._jobs.document(job_id).get(retry=self._retry))
        return snapshot.to_dict() if snapshot.exists else None

    def _stream(self, query) -> list[dict]:
        return self._read(lambda: [snapshot.to_dict() for snapshot in query.stream(retry=self._retry)])

    def update(self, job_id: str, change: Change) -> dict:
        ref = self._jobs.document(job_id)

        def tx(transaction):
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                raise JobNotFound(job_id)
            doc = change(snapshot.to_dict())
            transaction.set(ref, doc)
            return doc

        return self._run(tx)

    def _by_status(self, status: str | None):
        if status:
            return self._jobs.where(filter=self._firestore.FieldFilter("status", "==", status))
        return self._jobs

    def list(self, status: str | None = None, limit: int = 50) -> list[dict]:
        query = self._by_status(status).order_by("created_at", direction=self._firestore.Query.DESCENDING).limit(limit)
        return self._stream(query)

    def page(
        self, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[builtins.list[dict], str | None]:
        descending = self._firestore.Query.DESCENDING
        # Ordering on the document id (the job id) after created_at needs no index beyond the one
        # on (status, created_at): Firestore appends __name__ to every index in the last direction.
        query = (
            self._by_status(status)
            .order_by("created_at", direction=descending)
            .order_by("__name__", direction=descending)
        )
        if cursor:
            created_at, job_id = decode_cursor(cursor)
            query = query.start_after({"created_at": created_at, "__name__": job_id})
        docs = self._stream(query.limit(limit + 1))
        return docs[:limit], encode_cursor(docs[limit - 1]) if len(docs) > limit else None

    def pending_notifications(self, limit: int = 500) -> builtins.list[dict]:
        # An equality filter on one field: served by Firestore's automatic single-field index.
        query = self._jobs.where(filter=self._firestore.FieldFilter("notification.status", "==", jobs.NOTIFY_PENDING))
        return self._stream(query.limit(limit))

    def count(self, status: str | None = None) -> int:
        # A count() aggregation: billed per 1000 index entries, not one read per job.
        return int(self._read(lambda: self._by_status(status).count().get(retry=self._retry))[0][0].value)

    def record_transaction(self, transaction_id: str, job_id: str, pedido_id: str | None, at: str) -> dict:
        from google.api_core import exceptions

        record = {"transaction_id": transaction_id, "job_id": job_id, "pedido_id": pedido_id, "first_seen_at": at}
        ref = self._transactions.document(transaction_id)
        try:
            ref.create(record)  # a create-only write: no transaction, no contention
            return record
        except exceptions.Conflict:
            return self._read(lambda: ref.get(retry=self._retry)).to_dict()
        except self._unavailable as e:
            raise BackendUnavailable(f"Firestore unavailable: {e}") from e


def from_settings(settings) -> JobStore:
    if settings.job_store == "firestore":
        return FirestoreJobStore(
            settings.project_id, settings.firestore_database, settings.jobs_collection, settings.firestore_retry_seconds
        )
    return SqliteJobStore(settings.sqlite_path)
