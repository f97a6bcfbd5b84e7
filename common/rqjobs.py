"""What the RQ worker (`python worker.py`) runs for one task. RQ enqueues these by dotted path
(`common.rqjobs.run_job`), so the queue adapters in common.taskqueue never import this module and
this one may build the process's services: the dependencies point one way."""

from __future__ import annotations

import rq

from common import notify, services


class RetryLater(Exception):
    """Raised inside an RQ job so that RQ retries it with backoff."""


def _last_attempt() -> bool:
    current = rq.get_current_job()
    return current is None or not current.retries_left


def run_job(job_id: str) -> dict | None:
    """One OCR task: the job's own status stays in the job store."""
    outcome = services.get().run_job(job_id, last_attempt=_last_attempt())
    if outcome.retry:
        raise RetryLater(outcome.reason)
    return {"job_id": job_id, "status": outcome.doc["status"] if outcome.doc else None}


def run_notify(job_id: str) -> None:
    """One notify task."""
    outcome = notify.deliver(services.get(), job_id, last_attempt=_last_attempt())
    if outcome.retry:
        raise RetryLater(outcome.reason)
