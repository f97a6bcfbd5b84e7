"""Personal data: erasing one job on request (`DELETE /jobs/<job_id>`), and dropping the jobs whose
retention (RETENTION_DAYS, their `expires_at`) ran out.

A job and its index records (the hash pointer, the transaction records naming it) go in one job
store transaction; then the receipt's blob, unless another job, of any tenant, still refers to the
same bytes (blobs are content-addressed: one blob serves every job of the same SHA-256).

A re-upload of the same bytes racing the erasure (between the check and the blob's deletion) gets
a job whose receipt is gone: it fails with `blob_missing` and the client uploads again.

    python -m common.erasure --backfill    # once, after upgrading: expiry for older documents
"""

from __future__ import annotations

import argparse
from datetime import datetime

from common import job, log, services


def erase_job(services, job_id: str) -> bool:
    """Erase the job, its index records and, when no other job refers to it, its blob.
    False when there is no such job (never was, or erased already)."""
    doc = services.jobs.delete(job_id)
    if doc is None:
        return False
    blob_erased = _erase_blob_if_unused(services, doc)
    log.event("job_erased", job_id=job_id, blob_erased=blob_erased)
    return True


def sweep(services, at: datetime | None = None) -> int:
    """The reconciler's pass over expired jobs: the job store deletes them (on SQLite; Firestore's
    TTL policy does it there), then their blobs no other job refers to go. The number deleted."""
    at = at or job.now()
    expired = services.jobs.sweep_expired(job.iso(at))
    erased_blobs = sum(_erase_blob_if_unused(services, doc) for doc in _one_per_blob(expired))
    if expired:
        log.event("jobs_expired", jobs=len(expired), blobs=erased_blobs)
    return len(expired)


def _one_per_blob(docs: list[dict]) -> list[dict]:
    return list({doc["blob_name"]: doc for doc in docs}.values())


def _erase_blob_if_unused(services, doc: dict) -> bool:
    if services.jobs.sha256_in_use(doc["sha256"]):
        return False
    services.blobs.delete(doc["blob_name"])
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Retention of the job store's documents.")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="give jobs and index records stored before retention existed their expires_at (RETENTION_DAYS)",
    )
    args = parser.parse_args(argv)
    if not args.backfill:
        parser.print_usage()
        return 2
    app = services.get()
    changed = app.jobs.add_missing_expiry(app.settings.retention_days)
    log.event("expiry_backfilled", documents=changed, retention_days=app.settings.retention_days)
    print(f"{changed} documents given an expiry ({app.settings.retention_days} days after creation)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
