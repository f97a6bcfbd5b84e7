"""The adapters this process uses, chosen by configuration, each built once on first use (clients
are costly to build, and a function only builds the ones it touches)."""

from __future__ import annotations

import threading
from functools import cached_property

from common import blobstore, config, confirmation, jobstore, notify, ocr, processing, taskqueue, tenants


class Services:
    def __init__(self, settings: config.Settings):
        self.settings = settings
        self._psps: dict[str, confirmation.PaymentConfirmation | None] = {}
        self._psps_lock = threading.Lock()

    @cached_property
    def blobs(self) -> blobstore.BlobStore:
        return blobstore.from_settings(self.settings)

    @cached_property
    def jobs(self) -> jobstore.JobStore:
        return jobstore.from_settings(self.settings)

    @cached_property
    def ocr(self) -> ocr.OcrEngine:
        return ocr.from_settings(self.settings)

    @cached_property
    def psp(self) -> confirmation.PaymentConfirmation | None:
        return confirmation.from_settings(self.settings)

    def psp_of(self, owner: str) -> confirmation.PaymentConfirmation | None:
        """The adapter of one PSP configuration (common.tenants.psp_owner: a tenant's own, or the
        PIX_* one), built once: each keeps its own OAuth2 token, for its own credentials."""
        if owner == tenants.SHARED_PSP:
            return self.psp
        with self._psps_lock:
            if owner not in self._psps:
                own = tenants.own_psp(self.settings, owner)
                self._psps[owner] = confirmation.for_tenant(self.settings, own) if own else None
            return self._psps[owner]

    @cached_property
    def queue(self) -> taskqueue.TaskQueue:
        return taskqueue.from_settings(self.settings, self.run_job)

    @cached_property
    def notify_queue(self) -> taskqueue.TaskQueue:
        return taskqueue.notify_from_settings(
            self.settings,
            lambda job_id: notify.run_in_background(self, job_id),
            notify.retry_intervals(self.settings),
        )

    def run_job(self, job_id: str, last_attempt: bool = False, current=None) -> processing.Outcome:
        return processing.run_job(self, job_id, last_attempt=last_attempt, current=current)


_current: Services | None = None
_lock = threading.Lock()


def get() -> Services:
    global _current
    with _lock:
        if _current is None:
            _current = Services(config.from_env())
        return _current


def reset() -> None:
    """Forget the built adapters so the next get() reads the environment again (tests, reloads)."""
    global _current
    with _lock:
        _current = None
