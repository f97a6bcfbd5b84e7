"""The reconciler: nothing accepted may be lost or stuck, whatever a queue or worker did.

One pass (run by Cloud Scheduler in production, in a loop on the local stack):
- a job still `queued` RECONCILE_QUEUED_AFTER_SECONDS after its last task was handed over gets a
  new task (a lost task, a Redis restart without persistence...);
- a `started` job whose lease ran out (its worker died) gets a new task, so another attempt takes
  it over; after TASK_MAX_ATTEMPTS attempts it is failed instead;
- an ended job whose webhook is still pending, and not handed to the notify queue for as long,
  gets a new notify task (the queue was down when the job ended, or the task was lost);
- jobs whose retention ran out (`expires_at`) are deleted with their index records and unused
  blobs (common.erasure; on SQLite: Firestore's TTL policy deletes them there).
- a finished job whose payment the receiver's PSP could not confirm yet (`confirmed: null`) is
  asked about again once its backoff ran out (common.confirmation); a change sends its webhook.
Duplicate tasks are harmless: only one delivery can claim a job.

With the inline queue (the embedded default of `make run`) there is no reconciler process: the
upload function runs the same pass in a thread every INLINE_RECOVERY_SECONDS, so a job whose run
was stopped (Ctrl-C, a killed process) is run again once its lease runs out.

    python -m common.reconcile [--loop SECONDS]
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import datetime, timedelta

from common import confirmation, erasure, job, log, notify, services
from common.errors import QueueUnavailable

BATCH = 500  # jobs looked at per status and pass


def reconcile_once(app: services.Services, at: datetime | None = None) -> dict[str, int]:
    at = at or job.now()
    settings, store = app.settings, app.jobs
    counts = {
        "requeued": 0,
        "taken_over": 0,
        "failed": 0,
        "notifications_requeued": 0,
        "expired": 0,
        "payments_rechecked": 0,
    }
    stale = at - timedelta(seconds=settings.reconcile_queued_after_seconds)
    try:
        for doc in store.list(status=job.QUEUED, limit=BATCH):
            if datetime.fromisoformat(doc["queued_at"]) <= stale and _hand_over(app, doc["job_id"], at):
                counts["requeued"] += 1
        for doc in store.list(status=job.STARTED, limit=BATCH):
            if not job.lease_expired(doc, at):
                continue
            if doc["attempts"] >= settings.task_max_attempts:
                message = f"Gave up after {doc['attempts']} attempts whose worker stopped before the end."
                try:
                    failed = store.update(doc["job_id"], lambda d: _fail_if_still_expired(d, at, message))
                    counts["failed"] += 1
                    notify.job_ended(app, failed)
                except job.NotClaimable:
                    pass
            elif _enqueue(app, doc["job_id"]):
                counts["taken_over"] += 1
        for doc in store.pending_notifications(limit=BATCH):
            if job.notification_stale(doc, at, settings.reconcile_queued_after_seconds):
                try:
                    store.update(doc["job_id"], lambda d: job.notification_requeued(d, at))
                except job.NotClaimable:
                    continue
                log.event("notification_requeued", job_id=doc["job_id"])
                app.notify_queue.enqueue(doc["job_id"])
                counts["notifications_requeued"] += 1
        for doc in store.pending_confirmations(limit=BATCH):
            if job.confirmation_due(doc, at):
                try:
                    confirmation.recheck(app, doc, at)
                except job.NotClaimable:
                    continue
                counts["payments_rechecked"] += 1
    except QueueUnavailable as e:
        log.event("reconcile_queue_unavailable", severity="ERROR", error=str(e))
    counts["expired"] = erasure.sweep(app, at)
    if any(counts.values()):
        log.event("reconciled", **counts)  # type: ignore[arg-type]
    return counts


def _fail_if_still_expired(doc: job.Job, at: datetime, message: str) -> job.Job:
    if not job.lease_expired(doc, at):
        raise job.NotClaimable("the job was taken over meanwhile")
    return job.fail(doc, None, "too_many_attempts", message, at)


def _hand_over(app: services.Services, job_id: str, at: datetime) -> bool:
    try:
        app.jobs.update(job_id, lambda d: job.requeued(d, at))
    except job.NotClaimable:
        return False  # it started meanwhile
    return _enqueue(app, job_id)


def _enqueue(app: services.Services, job_id: str) -> bool:
    log.event("job_requeued", job_id=job_id)
    app.queue.enqueue(job_id)
    return True


_recovery: threading.Thread | None = None
_recovery_lock = threading.Lock()


def start_inline_recovery(settings) -> threading.Thread | None:
    """With the inline queue, run a pass every INLINE_RECOVERY_SECONDS in a daemon thread of this
    process (one per process, on the current services); nothing otherwise (a reconciler runs)."""
    global _recovery
    if settings.task_queue != "inline" or not settings.inline_recovery_seconds:
        return None
    with _recovery_lock:
        if _recovery is None:
            _recovery = threading.Thread(
                target=_recover_forever, args=(settings.inline_recovery_seconds,), name="inline-recovery", daemon=True
            )
            _recovery.start()
        return _recovery


def _recover_forever(every: float) -> None:
    while True:
        time.sleep(every)  # not at start-up: a job that was just stopped is still within its lease
        # Each pass in a thread of its own: the per-thread SQLite connection it opens goes with it,
        # so no idle connection of this thread holds a lock between passes.
        one = threading.Thread(target=_recover_once, name="inline-recovery-pass", daemon=True)
        one.start()
        one.join()


def _recover_once() -> None:
    try:
        reconcile_once(services.get())
    except Exception as e:  # the next pass tries again; the process must not lose the thread
        log.event("reconcile_failed", severity="ERROR", error=repr(e)[:500])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Re-enqueue stuck jobs and fail those that keep dying.")
    parser.add_argument("--loop", type=float, metavar="SECONDS", help="run a pass every SECONDS until stopped")
    args = parser.parse_args(argv)
    app = services.get()
    while True:
        if not args.loop:
            print(reconcile_once(app))
            return 0
        try:
            reconcile_once(app)
        except Exception as e:
            # A job store down for longer than its client retries (Firestore's give up after
            # 300 s) fails this pass; the loop must outlive the outage, or nothing would rescue
            # the jobs stranded during it.
            log.event("reconcile_failed", severity="ERROR", error=repr(e)[:500])
        time.sleep(args.loop)


if __name__ == "__main__":
    raise SystemExit(main())
