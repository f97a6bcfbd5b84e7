"""The per-stage timeline: stages recorded in the current context (and in threads given a copy
of it), logged as one event with the fields bound around it; nothing without a recording."""

import concurrent.futures
import contextvars
import json
import time

from common import log, timeline


def events(capsys, name: str) -> list[dict]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == name]


def test_a_recording_logs_its_stages_in_order_with_their_lengths(capsys):
    with log.context(trace="projects/p/traces/abc"):
        with timeline.recording("job_timeline", job_id="j1") as recorded:
            with timeline.stage("read"):
                time.sleep(0.01)
            with timeline.stage("ocr"):
                time.sleep(0.02)
            recorded.tags["attempt"] = 1
    (event,) = events(capsys, "job_timeline")
    assert event["job_id"] == "j1" and event["attempt"] == 1
    assert event[log.TRACE_KEY] == "projects/p/traces/abc"  # under the job's trace
    read, ocr = event["stages"]
    assert (read["stage"], ocr["stage"]) == ("read", "ocr")
    assert read["ms"] >= 10 and ocr["ms"] >= 20
    assert ocr["start_ms"] >= read["start_ms"] + read["ms"]
    assert event["total_ms"] >= read["ms"] + ocr["ms"]


def test_a_stage_outside_any_recording_does_nothing(capsys):
    with timeline.stage("ocr"):
        pass
    assert timeline.current() is None
    assert events(capsys, "job_timeline") == []


def test_a_thread_given_a_copy_of_the_context_records_into_the_same_timeline(capsys):
    def work():
        with timeline.stage("in_thread"):
            pass

    with timeline.recording("job_timeline"):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(contextvars.copy_context().run, work).result()
    (event,) = events(capsys, "job_timeline")
    assert [s["stage"] for s in event["stages"]] == ["in_thread"]


def test_the_event_is_logged_when_the_block_fails_too(capsys):
    try:
        with timeline.recording("job_timeline"), timeline.stage("ocr"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    (event,) = events(capsys, "job_timeline")
    assert [s["stage"] for s in event["stages"]] == ["ocr"]


def test_a_wait_measured_elsewhere_ends_where_the_timeline_starts():
    recorded = timeline.Timeline()
    recorded.add("queue_wait", 0.25)
    (stage,) = recorded.fields()["stages"]
    assert stage == {"stage": "queue_wait", "start_ms": -250.0, "ms": 250.0}
