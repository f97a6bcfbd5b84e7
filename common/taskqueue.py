"""The task queue port: hand a job id to whatever will run it.

Only the job id travels; the job store holds everything else. The inline adapter is the original
system's synchronous mode: it runs the job inside the upload request. Later adapters: Cloud Tasks
and RQ on Redis.
"""

from __future__ import annotations

from typing import Callable, Protocol


class TaskQueue(Protocol):
    runs_inline: bool  # True when enqueue() returns only after the job has run

    def enqueue(self, job_id: str) -> None: ...


class InlineQueue:
    runs_inline = True

    def __init__(self, run: Callable[[str], object]):
        self._run = run

    def enqueue(self, job_id: str) -> None:
        self._run(job_id)


def from_settings(settings, run: Callable[[str], object]) -> TaskQueue:
    return InlineQueue(run)
