"""Where one job's (or one upload's) time goes: a per-stage timeline of monotonic timestamps,
cheap enough to stay on in production (two `perf_counter` calls and a tuple per stage).

The pipeline records its stages (`stage("ocr")`, ...) into the timeline bound to the current
context, if any; without one a stage costs a context-variable read. At the end the timeline is
logged as one event (`job_timeline`, `upload_timeline`) carrying the fields bound by
common.log.context, so it sits under the job's trace in Cloud Logging beside the job's other
lines. The project exports no spans to Cloud Trace (it has no tracing stack): those log events
are its spans. tools/bench.py reads them from the worker's log and prints them.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

from common import log

_current: contextvars.ContextVar[Timeline | None] = contextvars.ContextVar("timeline", default=None)


class Timeline:
    def __init__(self) -> None:
        self._origin = time.perf_counter()
        self.stages: list[tuple[str, float, float]] = []  # (name, start s since origin, duration s)
        self.tags: dict = {}  # more fields for the event, learnt on the way (the job's trace)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages.append((name, started - self._origin, time.perf_counter() - started))

    def add(self, name: str, seconds: float) -> None:
        """A stage measured elsewhere (a wait before this timeline began): it ends at the origin."""
        self.stages.append((name, -seconds, seconds))

    def total(self) -> float:
        return time.perf_counter() - self._origin

    def fields(self) -> dict:
        """The log event's fields: each stage's start (ms from the timeline's start) and length."""
        return {
            "total_ms": round(self.total() * 1000, 2),
            "stages": [
                {"stage": name, "start_ms": round(start * 1000, 2), "ms": round(seconds * 1000, 2)}
                for name, start, seconds in sorted(self.stages, key=lambda s: s[1])
            ],
        }


@contextlib.contextmanager
def recording(event: str, **fields) -> Iterator[Timeline]:
    """Record the stages run inside the block (in this context and in contexts copied from it),
    then log them as `event` with `fields`, whether the block ended well or not."""
    timeline = Timeline()
    token = _current.set(timeline)
    try:
        yield timeline
    finally:
        _current.reset(token)
        log.event(event, **{**fields, **timeline.tags}, **timeline.fields())


def current() -> Timeline | None:
    return _current.get()


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as stage `name` of the current timeline (nothing when none is recording)."""
    timeline = _current.get()
    if timeline is None:
        yield
        return
    with timeline.stage(name):
        yield
