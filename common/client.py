"""A small HTTP client of the deployed (or local) functions for `python -m common.cli upload`,
`erase` and `review`: upload receipt files, optionally follow each job to its end with a progress
bar per job; erase jobs; list the review queue and review a job.

On `requests` (installed with the Google clients): multipart bodies are requests' `files=`, and
busy or unreachable servers (429, 502-504, connection errors) are retried by urllib3's `Retry`,
after Retry-After or a growing delay, a bounded number of times; any other refusal is reported as
the server's JSON error.
"""

from __future__ import annotations

import json
import mimetypes
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from common import auth

RETRIED = (429, 502, 503, 504)  # busy or a backend down: worth another try
TRANSIENT = (0, *RETRIED)  # 0: the server could not be reached at all
MAX_RETRIES = 5  # consecutive transient answers before giving up on a request or a job
MAX_WAIT = 30  # longest pause between two tries, whatever Retry-After says
ENDED = ("finished", "failed")


def _quiet(message: str) -> None:
    pass


@dataclass
class Answer:
    status: int
    body: dict
    retry_after: float | None = None


class _Retry(Retry):
    """urllib3's Retry, telling `say` how long it waits before each new try, and waiting 1, 2,
    4... s (urllib3 retries the first time at once) when the server gives no valid Retry-After."""

    def __init__(self, *args: Any, say: Callable[[str], None] = _quiet, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.say = say

    def new(self, **kw: Any) -> _Retry:
        retry = super().new(**kw)
        retry.say = self.say
        return retry

    def get_backoff_time(self) -> float:
        return float(min(self.backoff_max, self.backoff_factor * 2 ** max(0, len(self.history) - 1)))

    def get_retry_after(self, response: Any) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None  # not a number of seconds nor an HTTP date: the backoff instead

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None) -> _Retry:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)  # raises when out of tries
        wait = (retry.get_retry_after(response) if response is not None else None) or retry.get_backoff_time()
        self.say(f"{_code_of(response)}: trying again in {wait:.0f} s")
        return retry


def _code_of(response: Any) -> str:
    """What to call a transient answer: its JSON `code`, else its status; no answer: unreachable."""
    if response is None:
        return "unreachable"
    try:
        code = json.loads(response.data).get("code")  # the body is drained before the retry anyway
    except (ValueError, AttributeError):
        code = None
    return str(code or response.status)


def retrying(say: Callable[[str], None] = _quiet) -> HTTPAdapter:
    """An adapter that retries what is worth retrying, MAX_RETRIES times at most. POST too: an
    upload is idempotent (the same bytes give back the same job)."""
    retry = _Retry(
        total=MAX_RETRIES,
        backoff_factor=1,
        backoff_max=MAX_WAIT,
        status_forcelist=RETRIED,
        allowed_methods=frozenset({"GET", "HEAD", "POST", "DELETE"}),
        respect_retry_after_header=True,
        retry_after_max=MAX_WAIT,
        raise_on_status=False,  # the last busy answer is the answer
        say=say,
    )
    return HTTPAdapter(max_retries=retry)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date), None without a
    valid one; urllib3 parses it."""
    if not value:
        return None
    try:
        return float(Retry().parse_retry_after(value))
    except InvalidHeader:
        return None


def _json_or_error(status: int, raw: bytes) -> dict:
    try:
        body = json.loads(raw)
        if isinstance(body, dict):
            return body
    except ValueError:
        pass
    return {"error": f"HTTP {status}: {raw[:200].decode(errors='replace')}", "code": "bad_response"}


def _reason(error: BaseException) -> str:
    """The root cause of a failed request ("[Errno 111] Connection refused", "timed out"), not
    requests' and urllib3's wrappers around it."""
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        wrapped = getattr(error, "reason", None)  # urllib3's MaxRetryError
        if not isinstance(wrapped, BaseException):
            args = getattr(error, "args", ())
            wrapped = args[0] if args and isinstance(args[0], BaseException) else error.__cause__
        if wrapped is None:
            break
        error = wrapped
    return str(error)


def call(
    method: str,
    url: str,
    *,
    timeout: float = 600,
    retries: bool = False,
    say: Callable[[str], None] = _quiet,
    **options: Any,
) -> Answer:
    """One request (`options` are requests' `headers=`, `files=`, `data=`, `json=`...) and its
    answer; with `retries`, transient answers are tried again first, each wait told to `say`."""
    with requests.Session() as session:
        if retries:
            adapter = retrying(say)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        try:
            response = session.request(method, url, timeout=timeout, **options)
        except requests.RequestException as e:
            return Answer(0, {"error": f"could not reach {url}: {_reason(e)}", "code": "unreachable"})
        return Answer(
            response.status_code,
            _json_or_error(response.status_code, response.content),
            retry_after(response.headers.get("Retry-After")),
        )


def call_with_retries(method: str, url: str, say: Callable[[str], None] = _quiet, **options: Any) -> Answer:
    return call(method, url, retries=True, say=say, **options)


def pause(answer: Answer, tries: int) -> float:
    """How long to wait before polling again: what the server asked, else 1, 2, 4... seconds."""
    wait = answer.retry_after if answer.retry_after is not None else 2.0**tries
    return min(wait, MAX_WAIT)


def multipart(path: str, fields: dict | None = None) -> dict[str, Any]:
    """The `files=` and `data=` of a multipart POST: the file as `file`, and `fields` (pedido_id,
    expected_amount...). Reads the file now, so an unreadable one raises OSError here."""
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    with open(path, "rb") as f:
        content = f.read()
    return {"files": {"file": (os.path.basename(path), content, content_type)}, "data": dict(fields or {})}


class ProgressBoard:
    """One line per job on stderr: redrawn in place on a terminal, one line per change otherwise
    (a log file or CI output should not fill up with redraws)."""

    WIDTH = 20

    def __init__(self, names: list[str], stream=None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.names = names
        self.lines = [self._line(name, None) for name in names]
        if self.live:
            self.stream.write("\n".join(self.lines) + "\n")
            self.stream.flush()

    def _line(self, name: str, status: dict | None) -> str:
        state = (status or {}).get("status", "uploading")
        percent = {"queued": 0, "finished": 100}.get(state, (status or {}).get("progress") or 0)
        if state == "failed":
            percent = 100
        filled = round(self.WIDTH * percent / 100)
        label = f"failed: {(status or {}).get('error_code')}" if state == "failed" else state
        return f"{name[:28]:<28} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {percent:>3}% {label}"

    def update(self, index: int, status: dict) -> None:
        line = self._line(self.names[index], status)
        if line == self.lines[index]:
            return
        self.lines[index] = line
        if self.live:
            up = len(self.lines) - index
            self.stream.write(f"\x1b[{up}A\r\x1b[2K{line}\x1b[{up}B\r")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


@dataclass
class Tracked:
    index: int
    status_url: str
    status: dict
    delay: float = 0.5
    due: float = 0.0
    transient: int = 0
    result: dict | None = field(default=None)


def follow(tracked: list[Tracked], headers: dict, board: ProgressBoard, timeout: float, sleep=time.sleep) -> None:
    """Poll every job until it ends: each at its own pace (0.5 s growing 1.5 times to 5 s, or
    Retry-After), so one slow or busy job does not hold the others up."""
    deadline = time.monotonic() + timeout
    waiting = list(tracked)
    while waiting:
        now = time.monotonic()
        if now >= deadline:
            for job in waiting:
                job.result = {"error": f"gave up waiting after {timeout:.0f} s", "code": "wait_timeout", **job.status}
            return
        for job in [j for j in waiting if j.due <= now]:
            answer = call("GET", job.status_url, headers=headers)
            if answer.status == 200 and "status" in answer.body:
                job.status, job.transient = answer.body, 0
                board.update(job.index, job.status)
                if job.status["status"] in ENDED:
                    job.result = job.status
                    waiting.remove(job)
                    continue
                wait = answer.retry_after if answer.retry_after is not None else job.delay
                job.delay = min(job.delay * 1.5, 5.0)
            elif answer.status in TRANSIENT and job.transient < MAX_RETRIES:
                job.transient += 1
                wait = pause(answer, job.transient - 1)
            else:
                job.result = answer.body
                waiting.remove(job)
                continue
            job.due = time.monotonic() + min(wait, MAX_WAIT)
        if waiting:
            sleep(max(0.0, min(min(j.due for j in waiting), deadline) - time.monotonic()))


def status_url_of(answer: dict, status_base: str) -> str | None:
    """Where to poll a job: its status_url when absolute (the upload function knows the status
    function's URL, STATUS_BASE_URL); a bare path is on the status function, given here."""
    url = answer["status_url"]
    if url.startswith(("http://", "https://")):
        return url
    return urljoin(status_base.rstrip("/") + "/", url.lstrip("/")) if status_base else None


def upload(
    paths: list[str], url: str, api_key: str, wait: bool, timeout: float = 600, status_base: str = "", err=None
) -> tuple[int, list[dict]]:
    """Upload each file; with `wait`, follow its job to the end. Returns (exit code, one JSON
    document per file in order: the final status, the upload's answer, or the error)."""
    err = err or sys.stderr
    headers = {auth.API_KEY_HEADER: api_key} if api_key else {}
    names = [os.path.basename(p) for p in paths]
    board = ProgressBoard(names, err) if wait else None
    results: list[dict] = [{} for _ in paths]
    tracked: list[Tracked] = []
    for index, path in enumerate(paths):
        try:
            form = multipart(path)
        except OSError as e:
            results[index] = {"file": path, "error": f"cannot read {path}: {e.strerror}", "code": "unreadable_file"}
            continue
        answer = call_with_retries(
            "POST", url, headers=headers, say=lambda message: print(f"{names[index]}: {message}", file=err), **form
        )
        if answer.status not in (200, 202) or "job_id" not in answer.body:
            results[index] = {"file": path, **answer.body}
            continue
        if board:
            board.update(index, answer.body)
        results[index] = {"file": path, **answer.body}
        if wait:
            status_url = status_url_of(answer.body, status_base)
            if status_url is None:
                if answer.body.get("status") not in ENDED:  # else the job ended during the upload: that is its answer
                    results[index] = {
                        **results[index],
                        "error": f"status_url {answer.body['status_url']!r} is a path: "
                        "pass --status-base (the status function's URL) to follow the job",
                        "code": "no_status_base",
                    }
                continue
            tracked.append(Tracked(index, status_url, answer.body))
    if tracked and board:  # tracked only when waiting, and then there is a board
        follow(tracked, headers, board, timeout)
        for job in tracked:
            results[job.index] = {"file": paths[job.index], **(job.result or {})}
    if wait:
        ok = all(r.get("status") == "finished" for r in results)
    else:  # accepted: queued, or already finished (inline processing, a duplicate)
        ok = all("job_id" in r and r.get("status") != "failed" for r in results)
    return (0 if ok else 1), results


def erase(job_ids: list[str], status_base: str, api_key: str, err=None) -> tuple[int, list[dict]]:
    """`DELETE /jobs/<id>` on the status function for each job: the job, its index records and its
    receipt are erased. Returns (exit code, one JSON document per job: `erased` true, or the error)."""
    err = err or sys.stderr
    headers = {auth.API_KEY_HEADER: api_key} if api_key else {}
    results = []
    for job_id in job_ids:
        url = f"{status_base.rstrip('/')}/jobs/{job_id}"
        answer = call_with_retries(
            "DELETE",
            url,
            say=lambda message: print(f"{job_id}: {message}", file=err),  # noqa: B023 (called in this iteration)
            headers=headers,
        )
        if answer.status == 204:
            results.append({"job_id": job_id, "erased": True})
        else:
            results.append({"job_id": job_id, "erased": False, **answer.body})
    return (0 if all(r["erased"] for r in results) else 1), results


def review_queue(status_base: str, api_key: str, limit: int = 100, err=None) -> tuple[int, list[dict]]:
    """The review queue (`GET /jobs?needs_review=true`), oldest first, page after page up to
    `limit` jobs. Returns (exit code, the jobs' status JSON, or one error document)."""
    err = err or sys.stderr
    headers = {auth.API_KEY_HEADER: api_key} if api_key else {}
    jobs: list[dict] = []
    cursor = None
    while len(jobs) < limit:
        params = {"needs_review": "true", "limit": str(min(100, limit - len(jobs)))}
        if cursor:
            params["cursor"] = cursor
        answer = call_with_retries(
            "GET",
            f"{status_base.rstrip('/')}/jobs",
            say=lambda message: print(f"review list: {message}", file=err),
            headers=headers,
            params=params,
        )
        if answer.status != 200:
            return 1, [answer.body]
        jobs += answer.body["jobs"]
        cursor = answer.body.get("next_cursor")
        if not cursor:
            break
    return 0, jobs


def review(job_id: str, request: dict, status_base: str, api_key: str) -> tuple[int, dict]:
    """`POST /jobs/<id>/review` with `request` ({decision, data, note, reviewer}). Not retried: a
    review applied twice would be two reviews (and two webhooks). Returns (exit code, the job's
    new status JSON or the error)."""
    headers = {auth.API_KEY_HEADER: api_key} if api_key else {}
    answer = call("POST", f"{status_base.rstrip('/')}/jobs/{job_id}/review", headers=headers, json=request, timeout=60)
    return (0 if answer.status == 200 else 1), answer.body if answer.status == 200 else {
        "job_id": job_id,
        **answer.body,
    }
