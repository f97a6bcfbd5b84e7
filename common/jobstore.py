"""The job store port: job documents (common.job), created once per receipt and changed atomically.

Every job belongs to a tenant (its `tenant` field, common.tenants), and so do the content and
transaction indexes: the reads that serve a caller (`get`, `page`, `count`) take its tenant and
see nothing of another's; `tenant=None` (the OCR function, the reconciler) sees every job.

Two operations carry the correctness rules:
- `create(doc)` is atomic with the duplicate check: while a job of the same tenant for the same
  bytes (sha256) is queued, started or finished, that job is returned instead of creating another.
- `update(job_id, change)` applies `change(doc) -> new doc` as one read-modify-write, so two
  deliveries of one task cannot both claim a job. `change` may raise to leave the job untouched.
- `delete(job_id)` erases a job with its index records (hash pointer, transaction records), and
  every job and record carries `expires_at` (RETENTION_DAYS): Firestore's TTL policy deletes what
  expired, `sweep_expired` does on SQLite (common.erasure decides about the blob).

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
from datetime import datetime, timedelta
from typing import Any, Protocol, TypedDict

from common import job as jobs
from common.errors import BackendUnavailable

Change = Callable[[jobs.Job], jobs.Job]


SHARED_PSP = "*"  # the pushed Pix of the PIX_* configuration (common.tenants.SHARED_PSP)


class FirstSeen(TypedDict):
    """The transaction index's record: the first job that showed an end-to-end id."""

    transaction_id: str
    job_id: str
    pedido_id: str | None
    first_seen_at: str


class JobNotFound(Exception):
    pass


class Contended(BackendUnavailable):
    """Other writers kept changing the job while this change was tried: try again shortly."""


class BadCursor(ValueError):
    """A page cursor that this store did not hand out (or that was altered)."""


def encode_cursor(doc: jobs.Job) -> str:
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
    def create(self, doc: jobs.Job) -> tuple[jobs.Job, bool]:
        """Store a new job, or return (active job of the same tenant for the same sha256, False)."""

    def get(self, job_id: str, tenant: str | None = None) -> jobs.Job | None:
        """The job; None when unknown or, with `tenant`, another tenant's."""

    def update(self, job_id: str, change: Change) -> jobs.Job: ...

    def list(self, status: str | None = None, limit: int = 50, tenant: str | None = None) -> list[jobs.Job]:
        """Newest first."""

    def page(
        self, status: str | None = None, limit: int = 50, cursor: str | None = None, tenant: str | None = None
    ) -> tuple[builtins.list[jobs.Job], str | None]:
        """Newest first (created_at, then job_id, descending), `limit` jobs after `cursor`; and the
        cursor of the next page, None on the last one. Raises BadCursor for a cursor it did not make."""

    def count(self, status: str | None = None, tenant: str | None = None) -> int: ...

    def review_page(
        self, limit: int = 50, cursor: str | None = None, tenant: str | None = None
    ) -> tuple[builtins.list[jobs.Job], str | None]:
        """The review queue: finished jobs whose `result.data.needs_review` is true, oldest first
        (created_at, then job_id, ascending), `limit` after `cursor`; and the next page's cursor.
        A review (common.review) clears the flag through `update`, which takes the job out."""

    def count_needs_review(self, tenant: str | None = None) -> int:
        """How many jobs the review queue holds."""

    def pending_notifications(self, limit: int = 500) -> builtins.list[jobs.Job]:
        """Jobs whose notification (webhook) is still `pending`, any order."""

    def record_transaction(
        self,
        transaction_id: str,
        job_id: str,
        pedido_id: str | None,
        at: str,
        tenant: str = jobs.DEFAULT_TENANT,
        expires_at: str | None = None,
    ) -> FirstSeen:
        """Remember `job_id` as the tenant's first job with this id unless one already is; return
        the first record `{transaction_id, job_id, pedido_id, first_seen_at}`. The record is
        dropped at `expires_at` (the job's) or with its job."""

    def forget_transaction(self, transaction_id: str, job_id: str, tenant: str = jobs.DEFAULT_TENANT) -> bool:
        """Drop the tenant's record of this id if it names `job_id` (a review corrected that job's
        id: it never showed this payment); whether one was dropped."""

    def delete(self, job_id: str) -> jobs.Job | None:
        """Erase the job, the transaction records naming it and the hash pointer to it, at once;
        return the erased document, None when there was no such job."""

    def sha256_in_use(self, sha256: str) -> bool:
        """Whether any job (of any tenant, in any status) still refers to these bytes, so to their blob."""

    def sweep_expired(self, at: str, limit: int = 500) -> builtins.list[jobs.Job]:
        """Delete up to `limit` jobs whose `expires_at` is at or before `at` (ISO 8601), with their
        records, and the expired transaction records; return the deleted jobs. A store whose
        backend expires documents itself (Firestore's TTL policy) deletes nothing here."""

    def add_missing_expiry(self, retention_days: int) -> int:
        """Give every job and index record stored without `expires_at` (before retention existed)
        one: its creation + `retention_days`; a hash pointer gets its job's. The number changed."""

    def transactions(self, transaction_id: str, tenant: str | None = None) -> builtins.list[FirstSeen]:
        """Each tenant's first job's record for this end-to-end id (none when no job showed it),
        only `tenant`'s when given: a Pix a PSP pushed is news for the tenants it serves."""

    def pending_confirmations(self, limit: int = 500) -> builtins.list[jobs.Job]:
        """Finished jobs whose payment confirmation is still `pending` (common.confirmation), any order."""

    def record_pix(
        self, e2eid: str, pix: dict, at: str, expires_at: str | None = None, tenant: str = SHARED_PSP
    ) -> None:
        """Keep a Pix a PSP pushed (its webhook), keyed by (the PSP configuration's tenant, its
        end-to-end id): `tenant` is common.tenants.psp_owner, a tenant's name for its own PSP,
        SHARED_PSP for the PIX_* one. A second push replaces it. It holds the payer's name and
        document: dropped at `expires_at` like a job."""

    def get_pix(self, e2eid: str, tenant: str = SHARED_PSP) -> dict | None:
        """The Pix with this end-to-end id that `tenant`'s PSP pushed, None when it pushed none."""


def _visible(doc: jobs.Job | None, tenant: str | None) -> jobs.Job | None:
    return doc if doc is not None and (tenant is None or jobs.tenant_of(doc) == tenant) else None


def _expiry(created_at: str, retention_days: int) -> str:
    return jobs.iso(datetime.fromisoformat(created_at) + timedelta(days=retention_days))


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
                " status TEXT NOT NULL, created_at TEXT NOT NULL, doc TEXT NOT NULL,"
                f" tenant TEXT NOT NULL DEFAULT '{jobs.DEFAULT_TENANT}')"
            )
            self._migrate(db)
            db.execute("CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at)")
            db.execute("CREATE INDEX IF NOT EXISTS jobs_tenant_sha256 ON jobs (tenant, sha256, status)")
            db.execute("CREATE INDEX IF NOT EXISTS jobs_tenant_status ON jobs (tenant, status, created_at)")
            db.execute("CREATE INDEX IF NOT EXISTS jobs_tenant_created ON jobs (tenant, created_at)")
            review = f"jobs_tenant_review ON jobs (tenant, {_SQLITE_NEEDS_REVIEW}, created_at)"
            db.execute(f"CREATE INDEX IF NOT EXISTS {review}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS transactions (tenant TEXT NOT NULL, transaction_id TEXT NOT NULL,"
                " job_id TEXT NOT NULL, pedido_id TEXT, first_seen_at TEXT NOT NULL, expires_at TEXT,"
                " PRIMARY KEY (tenant, transaction_id))"
            )
            self._migrate_pix(db)
            db.execute(_SQLITE_PIX_RECEIVED.format(name="pix_received", exists="IF NOT EXISTS "))
            self._add_expiry(db)

    @staticmethod
    def _add_expiry(db) -> None:
        """Retention (RETENTION_DAYS): the sweep finds expired jobs by their documents' `expires_at`
        and expired transaction records by their column (added to a database made before it)."""
        if "expires_at" not in {row[1] for row in db.execute("PRAGMA table_info(transactions)")}:
            try:
                db.execute("ALTER TABLE transactions ADD COLUMN expires_at TEXT")
            except sqlite3.OperationalError as e:
                if "duplicate column" not in str(e):  # another process added it meanwhile
                    raise
        db.execute(f"CREATE INDEX IF NOT EXISTS jobs_expires_at ON jobs ({_SQLITE_EXPIRES_AT})")
        db.execute("CREATE INDEX IF NOT EXISTS transactions_job_id ON transactions (job_id)")
        db.execute("CREATE INDEX IF NOT EXISTS transactions_expires_at ON transactions (expires_at)")

    @staticmethod
    def _migrate(db) -> None:
        """A database from before tenants: its jobs and transactions become the default tenant's."""

        def columns(table: str) -> set[str]:
            return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}

        def stale() -> bool:  # a table without a tenant column (no transactions table yet is fine)
            return "tenant" not in columns("jobs") or "tenant" not in (columns("transactions") or {"tenant"})

        if not stale():
            return
        db.execute("BEGIN IMMEDIATE")  # another process may be migrating too: look again under the lock
        if not stale():
            db.execute("COMMIT")
            return
        if "tenant" not in columns("jobs"):
            db.execute(f"ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT '{jobs.DEFAULT_TENANT}'")
            db.execute("DROP INDEX IF EXISTS jobs_sha256")
        old = columns("transactions")
        if old and "tenant" not in old:  # its primary key was the id alone: rebuild the table
            db.execute("ALTER TABLE transactions RENAME TO transactions_before_tenants")
            db.execute(
                "CREATE TABLE transactions (tenant TEXT NOT NULL, transaction_id TEXT NOT NULL,"
                " job_id TEXT NOT NULL, pedido_id TEXT, first_seen_at TEXT NOT NULL,"
                " PRIMARY KEY (tenant, transaction_id))"
            )
            db.execute(
                "INSERT INTO transactions SELECT ?, transaction_id, job_id, pedido_id, first_seen_at"
                " FROM transactions_before_tenants",
                (jobs.DEFAULT_TENANT,),
            )
            db.execute("DROP TABLE transactions_before_tenants")
        db.execute("COMMIT")

    @staticmethod
    def _migrate_pix(db) -> None:
        """Pushed Pix from before each tenant could have its own PSP (keyed by the id alone): they
        came from the PIX_* configuration, whose key is SHARED_PSP."""

        def stale() -> bool:
            found = {row[1] for row in db.execute("PRAGMA table_info(pix_received)")}
            return bool(found) and "tenant" not in found

        if not stale():
            return
        db.execute("BEGIN IMMEDIATE")  # another process may be migrating too: look again under the lock
        if stale():
            db.execute("ALTER TABLE pix_received RENAME TO pix_received_before_tenants")
            db.execute(_SQLITE_PIX_RECEIVED.format(name="pix_received", exists=""))
            db.execute(
                "INSERT INTO pix_received SELECT ?, e2eid, pix, received_at, expires_at"
                " FROM pix_received_before_tenants",
                (SHARED_PSP,),
            )
            db.execute("DROP TABLE pix_received_before_tenants")
        db.execute("COMMIT")

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
    def _save(db, doc: jobs.Job, insert: bool) -> None:
        row = (jobs.tenant_of(doc), doc["sha256"], doc["status"], doc["created_at"], json.dumps(doc), doc["job_id"])
        if insert:
            db.execute("INSERT INTO jobs (tenant, sha256, status, created_at, doc, job_id) VALUES (?,?,?,?,?,?)", row)
        else:
            db.execute("UPDATE jobs SET tenant=?, sha256=?, status=?, created_at=?, doc=? WHERE job_id=?", row)

    def create(self, doc: jobs.Job) -> tuple[jobs.Job, bool]:
        def tx(db):
            row = db.execute(
                "SELECT doc FROM jobs WHERE tenant=? AND sha256=? AND status IN (?,?,?)"
                " ORDER BY created_at DESC LIMIT 1",
                (jobs.tenant_of(doc), doc["sha256"], *jobs.ACTIVE),
            ).fetchone()
            if row:
                return json.loads(row[0]), False
            self._save(db, doc, insert=True)
            return doc, True

        return self._write(tx)

    def get(self, job_id: str, tenant: str | None = None) -> jobs.Job | None:
        row = self._connection().execute("SELECT doc FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        return _visible(json.loads(row[0]) if row else None, tenant)

    @staticmethod
    def _where(status: str | None, tenant: str | None) -> tuple[builtins.list[str], builtins.list[str]]:
        where, params = [], []
        if tenant is not None:
            where.append("tenant=?")
            params.append(tenant)
        if status:
            where.append("status=?")
            params.append(status)
        return where, params

    def update(self, job_id: str, change: Change) -> jobs.Job:
        def tx(db):
            row = db.execute("SELECT doc FROM jobs WHERE job_id=?", (job_id,)).fetchone()
            if not row:
                raise JobNotFound(job_id)
            doc = change(json.loads(row[0]))
            self._save(db, doc, insert=False)
            return doc

        return self._write(tx)

    def list(self, status: str | None = None, limit: int = 50, tenant: str | None = None) -> list[jobs.Job]:
        where, params = self._where(status, tenant)
        sql = "SELECT doc FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._connection().execute(sql + " ORDER BY created_at DESC LIMIT ?", (*params, limit))
        return [json.loads(r[0]) for r in rows]

    def page(
        self, status: str | None = None, limit: int = 50, cursor: str | None = None, tenant: str | None = None
    ) -> tuple[builtins.list[jobs.Job], str | None]:
        where, params = self._where(status, tenant)
        if cursor:
            created_at, job_id = decode_cursor(cursor)
            where.append("(created_at < ? OR (created_at = ? AND job_id < ?))")
            params += [created_at, created_at, job_id]
        sql = "SELECT doc FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        # One row more than asked tells whether a next page exists without a second query.
        rows = self._connection().execute(sql + " ORDER BY created_at DESC, job_id DESC LIMIT ?", (*params, limit + 1))
        docs = [json.loads(r[0]) for r in rows]
        return docs[:limit], encode_cursor(docs[limit - 1]) if len(docs) > limit else None

    @staticmethod
    def _review_where(tenant: str | None) -> tuple[builtins.list[str], builtins.list[Any]]:
        where: builtins.list[str] = [f"{_SQLITE_NEEDS_REVIEW} = 1"]  # JSON true reads as 1
        params: builtins.list[Any] = []
        if tenant is not None:
            where.insert(0, "tenant=?")
            params.append(tenant)
        return where, params

    def review_page(
        self, limit: int = 50, cursor: str | None = None, tenant: str | None = None
    ) -> tuple[builtins.list[jobs.Job], str | None]:
        where, params = self._review_where(tenant)
        if cursor:
            created_at, job_id = decode_cursor(cursor)
            where.append("(created_at > ? OR (created_at = ? AND job_id > ?))")
            params += [created_at, created_at, job_id]
        sql = "SELECT doc FROM jobs WHERE " + " AND ".join(where) + " ORDER BY created_at, job_id LIMIT ?"
        docs = [json.loads(r[0]) for r in self._connection().execute(sql, (*params, limit + 1))]
        return docs[:limit], encode_cursor(docs[limit - 1]) if len(docs) > limit else None

    def count_needs_review(self, tenant: str | None = None) -> int:
        where, params = self._review_where(tenant)
        sql = "SELECT COUNT(*) FROM jobs WHERE " + " AND ".join(where)
        return self._connection().execute(sql, params).fetchone()[0]

    def pending_notifications(self, limit: int = 500) -> builtins.list[jobs.Job]:
        # Only ended jobs can owe a notification: the status index narrows the JSON scan to them.
        rows = self._connection().execute(
            "SELECT doc FROM jobs WHERE status IN (?,?) AND json_extract(doc, '$.notification.status')=? LIMIT ?",
            (jobs.FINISHED, jobs.FAILED, jobs.NOTIFY_PENDING, limit),
        )
        return [json.loads(r[0]) for r in rows]

    def count(self, status: str | None = None, tenant: str | None = None) -> int:
        where, params = self._where(status, tenant)
        sql = "SELECT COUNT(*) FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        return self._connection().execute(sql, params).fetchone()[0]

    def record_transaction(
        self,
        transaction_id: str,
        job_id: str,
        pedido_id: str | None,
        at: str,
        tenant: str = jobs.DEFAULT_TENANT,
        expires_at: str | None = None,
    ) -> FirstSeen:
        def tx(db):
            db.execute(
                "INSERT OR IGNORE INTO transactions"
                " (tenant, transaction_id, job_id, pedido_id, first_seen_at, expires_at) VALUES (?,?,?,?,?,?)",
                (tenant, transaction_id, job_id, pedido_id, at, expires_at),
            )
            row = db.execute(
                "SELECT job_id, pedido_id, first_seen_at FROM transactions WHERE tenant=? AND transaction_id=?",
                (tenant, transaction_id),
            ).fetchone()
            return {"transaction_id": transaction_id, "job_id": row[0], "pedido_id": row[1], "first_seen_at": row[2]}

        return self._write(tx)

    def forget_transaction(self, transaction_id: str, job_id: str, tenant: str = jobs.DEFAULT_TENANT) -> bool:
        def tx(db):
            return db.execute(
                "DELETE FROM transactions WHERE tenant=? AND transaction_id=? AND job_id=?",
                (tenant, transaction_id, job_id),
            ).rowcount

        return bool(self._write(tx))

    def delete(self, job_id: str) -> jobs.Job | None:
        def tx(db):
            row = db.execute("SELECT doc FROM jobs WHERE job_id=?", (job_id,)).fetchone()
            if not row:
                return None
            db.execute("DELETE FROM jobs WHERE job_id=?", (job_id,))
            db.execute("DELETE FROM transactions WHERE job_id=?", (job_id,))
            return json.loads(row[0])

        return self._write(tx)

    def sha256_in_use(self, sha256: str) -> bool:
        return self._connection().execute("SELECT 1 FROM jobs WHERE sha256=? LIMIT 1", (sha256,)).fetchone() is not None

    def sweep_expired(self, at: str, limit: int = 500) -> builtins.list[jobs.Job]:
        def tx(db):
            rows = db.execute(
                f"SELECT job_id, doc FROM jobs WHERE {_SQLITE_EXPIRES_AT} <= ? LIMIT ?", (at, limit)
            ).fetchall()
            for job_id, _doc in rows:
                db.execute("DELETE FROM jobs WHERE job_id=?", (job_id,))
                db.execute("DELETE FROM transactions WHERE job_id=?", (job_id,))
            db.execute("DELETE FROM transactions WHERE expires_at <= ?", (at,))
            db.execute("DELETE FROM pix_received WHERE expires_at <= ?", (at,))
            return [json.loads(doc) for _job_id, doc in rows]

        return self._write(tx)

    def add_missing_expiry(self, retention_days: int) -> int:
        def tx(db):
            rows = db.execute(f"SELECT doc FROM jobs WHERE {_SQLITE_EXPIRES_AT} IS NULL").fetchall()
            for (raw,) in rows:
                doc = json.loads(raw)
                self._save(db, {**doc, "expires_at": _expiry(doc["created_at"], retention_days)}, insert=False)
            records = db.execute(
                "SELECT tenant, transaction_id, first_seen_at FROM transactions WHERE expires_at IS NULL"
            ).fetchall()
            for tenant, transaction_id, first_seen_at in records:
                db.execute(
                    "UPDATE transactions SET expires_at=? WHERE tenant=? AND transaction_id=?",
                    (_expiry(first_seen_at, retention_days), tenant, transaction_id),
                )
            return len(rows) + len(records)

        return self._write(tx)

    def transactions(self, transaction_id: str, tenant: str | None = None) -> builtins.list[FirstSeen]:
        where, params = "transaction_id=?", [transaction_id]
        if tenant is not None:
            where, params = where + " AND tenant=?", [*params, tenant]
        rows = self._connection().execute(
            f"SELECT job_id, pedido_id, first_seen_at FROM transactions WHERE {where}", params
        )
        return [
            {"transaction_id": transaction_id, "job_id": r[0], "pedido_id": r[1], "first_seen_at": r[2]} for r in rows
        ]

    def pending_confirmations(self, limit: int = 500) -> builtins.list[jobs.Job]:
        rows = self._connection().execute(
            "SELECT doc FROM jobs WHERE status=? AND json_extract(doc, '$.confirmation.status')=? LIMIT ?",
            (jobs.FINISHED, jobs.CONFIRM_PENDING, limit),
        )
        return [json.loads(r[0]) for r in rows]

    def record_pix(
        self, e2eid: str, pix: dict, at: str, expires_at: str | None = None, tenant: str = SHARED_PSP
    ) -> None:
        self._write(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO pix_received (tenant, e2eid, pix, received_at, expires_at) VALUES (?,?,?,?,?)",
                (tenant, e2eid, json.dumps(pix), at, expires_at),
            )
        )

    def get_pix(self, e2eid: str, tenant: str = SHARED_PSP) -> dict | None:
        row = (
            self._connection()
            .execute("SELECT pix FROM pix_received WHERE tenant=? AND e2eid=?", (tenant, e2eid))
            .fetchone()
        )
        return json.loads(row[0]) if row else None


# Pushed Pix, by the PSP configuration that pushed them (common.tenants.psp_owner) and end-to-end id.
_SQLITE_PIX_RECEIVED = (
    "CREATE TABLE {exists}{name} (tenant TEXT NOT NULL, e2eid TEXT NOT NULL, pix TEXT NOT NULL,"
    " received_at TEXT NOT NULL, expires_at TEXT, PRIMARY KEY (tenant, e2eid))"
)

# The expression of the jobs_expires_at index: a query uses the index only when it is written alike.
_SQLITE_EXPIRES_AT = "json_extract(doc, '$.expires_at')"
# The review queue's flag (the jobs_tenant_review index), set by extraction and cleared by a review.
_SQLITE_NEEDS_REVIEW = "json_extract(doc, '$.result.data.needs_review')"


# Where a finished job's review flag is (common.extraction sets it, common.review clears it).
NEEDS_REVIEW_FIELD = "result.data.needs_review"


def _to_firestore(data: dict) -> dict:
    """`expires_at` as a Firestore timestamp: the TTL policy (terraform/firestore.tf) acts only on those."""
    at = data.get("expires_at")
    return {**data, "expires_at": datetime.fromisoformat(at)} if isinstance(at, str) else data


def _from_firestore(data: dict[str, Any]) -> Any:
    """The plain document back: `expires_at` as the ISO 8601 string every store keeps."""
    at = data.get("expires_at")
    return {**data, "expires_at": jobs.iso(at)} if isinstance(at, datetime) else data


class FirestoreJobStore:
    """Jobs in `<collection>/<job_id>`; `<collection>_by_sha256/<tenant>:<sha256>` points at the
    tenant's active job for those bytes; `<collection>_transactions/<tenant>:<end-to-end id>` records
    the tenant's first job that showed a payment. Index documents carry their `tenant` too.
    `<collection>_pix/<end-to-end id>` keeps the Pix the PIX_* configuration's PSP pushed (the
    layout from before tenants had PSPs of their own), `<collection>_pix/<tenant>:<end-to-end id>`
    those a tenant's own PSP pushed."""

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
        self._pix = self._client.collection(f"{collection}_pix")

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

    @staticmethod
    def scoped_id(tenant: str, key: str) -> str:
        """The id of a tenant's index document (a content hash or an end-to-end id): tenant names
        and digests hold no `:`, so no two tenants' ids meet."""
        return f"{tenant}:{key}"

    def _sha_pointer(self, doc: jobs.Job):
        return self._by_sha.document(self.scoped_id(jobs.tenant_of(doc), doc["sha256"]))

    def _transaction_ref(self, tenant: str, transaction_id: str):
        return self._transactions.document(self.scoped_id(tenant, transaction_id))

    def create(self, doc: jobs.Job) -> tuple[jobs.Job, bool]:
        pointer = self._sha_pointer(doc)
        tenant = jobs.tenant_of(doc)

        def tx(transaction):
            seen = pointer.get(transaction=transaction)
            if seen.exists:
                existing = self._jobs.document(seen.get("job_id")).get(transaction=transaction)
                if (
                    existing.exists
                    and existing.get("status") in jobs.ACTIVE
                    and jobs.tenant_of(existing.to_dict()) == tenant
                ):
                    return _from_firestore(existing.to_dict()), False
            transaction.create(self._jobs.document(doc["job_id"]), _to_firestore(doc))
            pointer_doc = {"job_id": doc["job_id"], "tenant": tenant, "expires_at": doc.get("expires_at")}
            transaction.set(pointer, _to_firestore(pointer_doc))
            return doc, True

        return self._run(tx)

    def get(self, job_id: str, tenant: str | None = None) -> jobs.Job | None:
        snapshot = self._read(lambda: self._jobs.document(job_id).get(retry=self._retry))
        return _visible(_from_firestore(snapshot.to_dict()) if snapshot.exists else None, tenant)

    def _stream(self, query) -> list[jobs.Job]:
        return self._read(lambda: [_from_firestore(snapshot.to_dict()) for snapshot in query.stream(retry=self._retry)])

    def update(self, job_id: str, change: Change) -> jobs.Job:
        ref = self._jobs.document(job_id)

        def tx(transaction):
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                raise JobNotFound(job_id)
            doc = change(_from_firestore(snapshot.to_dict()))
            transaction.set(ref, _to_firestore(doc))
            return doc

        return self._run(tx)

    def _where(self, status: str | None, tenant: str | None):
        # Each combination of these equality filters, ordered by created_at, has its composite
        # index in terraform/firestore.tf (tests/test_terraform.py checks them against this code).
        query: Any = self._jobs
        if tenant is not None:
            query = query.where(filter=self._firestore.FieldFilter("tenant", "==", tenant))
        if status:
            query = query.where(filter=self._firestore.FieldFilter("status", "==", status))
        return query

    def list(self, status: str | None = None, limit: int = 50, tenant: str | None = None) -> list[jobs.Job]:
        query = self._where(status, tenant).order_by("created_at", direction=self._firestore.Query.DESCENDING)
        return self._stream(query.limit(limit))

    def page(
        self, status: str | None = None, limit: int = 50, cursor: str | None = None, tenant: str | None = None
    ) -> tuple[builtins.list[jobs.Job], str | None]:
        descending = self._firestore.Query.DESCENDING
        # Ordering on the document id (the job id) after created_at needs no index beyond the ones
        # on (..., created_at): Firestore appends __name__ to every index in the last direction.
        query = (
            self._where(status, tenant)
            .order_by("created_at", direction=descending)
            .order_by("__name__", direction=descending)
        )
        if cursor:
            created_at, job_id = decode_cursor(cursor)
            query = query.start_after({"created_at": created_at, "__name__": job_id})
        docs = self._stream(query.limit(limit + 1))
        return docs[:limit], encode_cursor(docs[limit - 1]) if len(docs) > limit else None

    def _review_where(self, tenant: str | None):
        # The review queue's filters, ordered by created_at oldest first: each combination has its
        # composite index in terraform/firestore.tf (tests/test_terraform.py checks them).
        query: Any = self._jobs
        if tenant is not None:
            query = query.where(filter=self._firestore.FieldFilter("tenant", "==", tenant))
        return query.where(filter=self._firestore.FieldFilter(NEEDS_REVIEW_FIELD, "==", True))

    def review_page(
        self, limit: int = 50, cursor: str | None = None, tenant: str | None = None
    ) -> tuple[builtins.list[jobs.Job], str | None]:
        ascending = self._firestore.Query.ASCENDING
        query = self._review_where(tenant).order_by("created_at", direction=ascending)
        query = query.order_by("__name__", direction=ascending)
        if cursor:
            created_at, job_id = decode_cursor(cursor)
            query = query.start_after({"created_at": created_at, "__name__": job_id})
        docs = self._stream(query.limit(limit + 1))
        return docs[:limit], encode_cursor(docs[limit - 1]) if len(docs) > limit else None

    def count_needs_review(self, tenant: str | None = None) -> int:
        return int(self._read(lambda: self._review_where(tenant).count().get(retry=self._retry))[0][0].value)

    def pending_notifications(self, limit: int = 500) -> builtins.list[jobs.Job]:
        # An equality filter on one field: served by Firestore's automatic single-field index.
        query = self._jobs.where(filter=self._firestore.FieldFilter("notification.status", "==", jobs.NOTIFY_PENDING))
        return self._stream(query.limit(limit))

    def count(self, status: str | None = None, tenant: str | None = None) -> int:
        # A count() aggregation: billed per 1000 index entries, not one read per job.
        return int(self._read(lambda: self._where(status, tenant).count().get(retry=self._retry))[0][0].value)

    def record_transaction(
        self,
        transaction_id: str,
        job_id: str,
        pedido_id: str | None,
        at: str,
        tenant: str = jobs.DEFAULT_TENANT,
        expires_at: str | None = None,
    ) -> FirstSeen:
        from google.api_core import exceptions

        record: FirstSeen = {
            "transaction_id": transaction_id,
            "job_id": job_id,
            "pedido_id": pedido_id,
            "first_seen_at": at,
        }
        ref = self._transaction_ref(tenant, transaction_id)
        try:
            # A create-only write: no transaction, no contention.
            ref.create(_to_firestore({**record, "tenant": tenant, "expires_at": expires_at}))
            return record
        except exceptions.Conflict:
            first = self._read(lambda: ref.get(retry=self._retry)).to_dict()
            return FirstSeen(
                transaction_id=first["transaction_id"],
                job_id=first["job_id"],
                pedido_id=first["pedido_id"],
                first_seen_at=first["first_seen_at"],
            )  # without the stored tenant and expiry
        except self._unavailable as e:
            raise BackendUnavailable(f"Firestore unavailable: {e}") from e

    def forget_transaction(self, transaction_id: str, job_id: str, tenant: str = jobs.DEFAULT_TENANT) -> bool:
        ref = self._transaction_ref(tenant, transaction_id)

        def tx(transaction):
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists or snapshot.get("job_id") != job_id:
                return False
            transaction.delete(ref)
            return True

        return bool(self._run(tx))

    def delete(self, job_id: str) -> jobs.Job | None:
        ref = self._jobs.document(job_id)
        # The records naming the job: a single-field equality, served by the automatic index.
        named = self._transactions.where(filter=self._firestore.FieldFilter("job_id", "==", job_id))

        def tx(transaction):
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return None
            doc = _from_firestore(snapshot.to_dict())
            pointer = self._sha_pointer(doc)
            seen = pointer.get(transaction=transaction)
            records = list(named.stream(transaction=transaction))
            transaction.delete(ref)
            if seen.exists and seen.get("job_id") == job_id:
                transaction.delete(pointer)
            for record in records:
                transaction.delete(record.reference)
            return doc

        return self._run(tx)

    def sha256_in_use(self, sha256: str) -> bool:
        query = self._jobs.where(filter=self._firestore.FieldFilter("sha256", "==", sha256)).limit(1)
        return bool(self._stream(query))

    def sweep_expired(self, at: str, limit: int = 500) -> builtins.list[jobs.Job]:
        # The TTL policy on `expires_at` (terraform/firestore.tf) deletes expired documents, usually
        # within a day of their expiry; the emulator has no TTL, and a sweep here would need the
        # field indexed, which Google advises against for TTL fields.
        return []

    def add_missing_expiry(self, retention_days: int) -> int:
        # Firestore cannot query for a missing field: every document is read once. A one-off, for
        # documents written before retention existed (python -m common.erasure --backfill).
        changed = 0
        for collection, created in ((self._jobs, "created_at"), (self._transactions, "first_seen_at")):
            for snapshot in self._read(lambda c=collection: list(c.stream(retry=self._retry))):
                if _field(snapshot, created) and not _field(snapshot, "expires_at"):
                    expires = datetime.fromisoformat(_expiry(_field(snapshot, created), retention_days))
                    self._read(lambda s=snapshot, e=expires: s.reference.update({"expires_at": e}))
                    changed += 1
        for pointer in self._read(lambda: list(self._by_sha.stream(retry=self._retry))):
            if _field(pointer, "expires_at"):
                continue
            job_id = _field(pointer, "job_id")
            target = self.get(job_id) if job_id else None
            # A pointer to a job that is gone expires now: the TTL policy removes it.
            until = datetime.fromisoformat((target.get("expires_at") if target else None) or jobs.iso(jobs.now()))
            self._read(lambda p=pointer, u=until: p.reference.update({"expires_at": u}))
            changed += 1
        return changed

    def transactions(self, transaction_id: str, tenant: str | None = None) -> builtins.list[FirstSeen]:
        if tenant is not None:  # the tenant's own record, by its id
            snapshot = self._read(lambda: self._transaction_ref(tenant, transaction_id).get(retry=self._retry))
            records = [snapshot.to_dict()] if snapshot.exists else []
        else:  # a single-field equality over every tenant's records: served by the automatic index
            query = self._transactions.where(filter=self._firestore.FieldFilter("transaction_id", "==", transaction_id))
            records = self._read(lambda: [snapshot.to_dict() for snapshot in query.stream(retry=self._retry)])
        return [
            FirstSeen(
                transaction_id=r["transaction_id"],
                job_id=r["job_id"],
                pedido_id=r["pedido_id"],
                first_seen_at=r["first_seen_at"],
            )
            for r in records
        ]

    def pending_confirmations(self, limit: int = 500) -> builtins.list[jobs.Job]:
        query = self._jobs.where(filter=self._firestore.FieldFilter("confirmation.status", "==", jobs.CONFIRM_PENDING))
        return self._stream(query.limit(limit))

    def _pix_ref(self, tenant: str, e2eid: str):
        return self._pix.document(e2eid if tenant == SHARED_PSP else self.scoped_id(tenant, e2eid))

    def record_pix(
        self, e2eid: str, pix: dict, at: str, expires_at: str | None = None, tenant: str = SHARED_PSP
    ) -> None:
        record = _to_firestore(  # expires_at: the TTL policy's field
            {"pix": pix, "tenant": tenant, "received_at": at, "expires_at": expires_at}
        )
        self._read(lambda: self._pix_ref(tenant, e2eid).set(record, retry=self._retry))

    def get_pix(self, e2eid: str, tenant: str = SHARED_PSP) -> dict | None:
        snapshot = self._read(lambda: self._pix_ref(tenant, e2eid).get(retry=self._retry))
        return snapshot.to_dict()["pix"] if snapshot.exists else None


def _field(snapshot, name: str):
    data = snapshot.to_dict() or {}
    return data.get(name)


def from_settings(settings) -> JobStore:
    if settings.job_store == "firestore":
        return FirestoreJobStore(
            settings.project_id, settings.firestore_database, settings.jobs_collection, settings.firestore_retry_seconds
        )
    return SqliteJobStore(settings.sqlite_path)
