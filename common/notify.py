"""Webhooks: when a job with a `callback_url` ends, POST its status JSON to that URL, signed.

Deliveries travel on their own queue (`notify`), never the OCR one, so a slow or broken receiver
cannot delay OCR. The job document records the notification (`job.notification_*`), so a task
delivered twice, a crash between two steps or a lost task (the reconciler resends) cannot lose it.

Each request carries
    X-Timestamp: <unix seconds>
    X-Delivery-Id: <the same for every attempt of one notification: receivers dedupe on it>
    X-Event: job.ended | job.reviewed | job.payment (which change the notification tells of)
    X-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + body)>
where the secret is the caller's tenant's (WEBHOOK_SECRETS, common.tenants). 2xx ends the delivery; 408, 429,
5xx, timeouts and connection errors are retried with backoff up to NOTIFY_MAX_ATTEMPTS; any other
answer (a 4xx, a redirect) fails it at once: the receiver refused it.

SSRF: unless WEBHOOK_ALLOW_PRIVATE_URLS (local development), only https URLs whose every address
is public are accepted, checked at upload and again at each delivery, and the connection goes to
the address that was checked (a DNS answer that changes in between cannot redirect it).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from common import job, jobstore, log, tenants
from common.errors import ApiError, QueueUnavailable

MAX_URL_LENGTH = 2048
RETRYABLE_STATUS = {408, 429}  # and every 5xx


class UnsafeUrl(ValueError):
    """A callback URL that may not be called (scheme, credentials, or a non-public address)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (the TLS server name and Host header)
    port: int
    path: str  # path and query
    address: str  # the checked IP address to connect to


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, max_age_seconds: int = 300) -> bool:
    """What a receiver does (docs/api.md's example uses the same three lines)."""
    fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= max_age_seconds
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


# --- checking a callback URL -------------------------------------------------------------------------
def parse_callback_url(value: str | None, settings) -> str | None:
    """The upload form's `callback_url`, checked; an ApiError 400 says what is wrong with it."""
    if value is None or not value.strip():
        return None
    url = value.strip()
    try:
        resolve(url, settings)
    except UnsafeUrl as e:
        raise ApiError(400, "invalid_callback_url", f"callback_url refused: {e}") from None
    return url


def resolve(url: str, settings) -> Target:
    """Split the URL and pick the address to connect to; UnsafeUrl when it may not be called."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise UnsafeUrl(f"not a URL of at most {MAX_URL_LENGTH} characters without spaces")
    parts = urllib.parse.urlsplit(url)
    allow_private = settings.webhook_allow_private_urls
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl(f"the scheme must be {' or '.join(schemes)}")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not allowed")
    try:
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("the port is not valid") from None
    if not host:
        raise UnsafeUrl("the URL has no host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl(f"the host {host} does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if not _public(address):
                raise UnsafeUrl(f"{host} resolves to a private, loopback or reserved address")
    path = parts.path or "/"
    return Target(parts.scheme, host, port, path + (f"?{parts.query}" if parts.query else ""), addresses[0])


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


# --- delivering ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Response:
    status_code: int | None  # None: no HTTP answer (timeout, connection refused...)
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        return self.status_code is None or self.status_code in RETRYABLE_STATUS or self.status_code >= 500


MAX_RESPONSE_BYTES = 64 * 1024  # of the answer's body read (and thrown away) before hanging up


class _Deadline:
    """Cuts one connection off when its time is up, whatever it is doing: connecting, the TLS
    handshake, sending, or waiting for the answer's headers or body. A socket timeout alone
    bounds each read, so a receiver dripping a byte a second would hold the attempt forever."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = threading.Event()
        self._lock = threading.Lock()
        self._watched: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket) -> None:
        # A duplicate of the descriptor: shutting it down ends the connection under every object
        # that wraps it (the TLS socket detaches the original one).
        with self._lock:
            self._watched = sock.dup()
            if self.expired.is_set():
                self._watched.shutdown(socket.SHUT_RDWR)

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            if self._watched is not None:
                try:
                    self._watched.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # closed already

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        with self._lock:
            if self._watched is not None:
                self._watched.close()


def post(target: Target, body: bytes, headers: dict, timeout: float) -> Response:
    """One POST to the checked address, no redirects followed, within `timeout` seconds in all
    (connect, TLS, request, the answer's status and headers, and at most MAX_RESPONSE_BYTES of its
    body, which is thrown away)."""
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port not in (80, 443):
        host_header += f":{target.port}"
    connection = http.client.HTTPConnection(target.address, target.port)
    try:
        with _Deadline(timeout) as deadline:
            try:
                sock = socket.create_connection((target.address, target.port), timeout=deadline.remaining())
                connection.sock = sock  # closed with the connection, whatever happens next
                deadline.watch(sock)
                if target.scheme == "https":
                    sock.settimeout(deadline.remaining())
                    connection.sock = ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
                connection.sock.settimeout(deadline.remaining())  # each operation's bound; the deadline the total's
                connection.request("POST", target.path, body=body, headers={**headers, "Host": host_header})
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as e:
                if deadline.expired.is_set() or isinstance(e, TimeoutError):
                    return Response(None, f"timed out: no answer within {timeout:g} s")
                return Response(None, _without_receiver(f"{type(e).__name__}: {e}", target)[:300])
            try:  # the answer is its status; a body that drips or breaks off changes nothing
                response.read(MAX_RESPONSE_BYTES)
            except (OSError, http.client.HTTPException):
                pass
            return Response(response.status)
    finally:
        connection.close()


def _without_receiver(error: str, target: Target) -> str:
    """The error without the receiver's host, address or port (webhook URLs are never logged, and
    urllib3 names its connection pool in every error)."""
    error = re.sub(r"HTTPS?Connection(Pool)?\([^)]*\)", "the receiver", error)
    error = re.sub(r"<urllib3\.[^>]*>", "the connection", error)
    for secret in {target.host, target.address, f"{target.address}:{target.port}", f"{target.host}:{target.port}"}:
        error = error.replace(secret, "<receiver>")
    return error


def deliver(services, job_id: str, last_attempt: bool = False) -> job.Outcome:
    """One delivery attempt of the job's notification, if one is due and nobody else is at it."""
    settings = services.settings
    store: jobstore.JobStore = services.jobs  # typed here: common.services imports this module
    lease = settings.notify_timeout_seconds + 30
    try:
        doc = store.update(job_id, lambda d: job.notification_attempt(d, job.now(), lease))
    except (job.JobEnded, jobstore.JobNotFound):
        return job.Outcome()  # delivered or failed already, nothing to notify, or the job was erased
    except job.JobBusy as e:
        return job.Outcome(retry_after=max(1.0, e.retry_after), reason=str(e))
    with log.context(trace=doc.get("trace")):  # the upload's trace covers its webhook too
        return _deliver_claimed(services, doc, last_attempt)


def _deliver_claimed(services, doc: job.Job, last_attempt: bool) -> job.Outcome:
    settings, job_id = services.settings, doc["job_id"]
    store: jobstore.JobStore = services.jobs
    note = doc["notification"]
    assert note is not None  # job.notification_attempt claimed it
    attempt = note["attempts"]
    last_attempt = last_attempt or attempt >= settings.notify_max_attempts
    started = time.monotonic()
    response = _send(doc, note["delivery_id"], settings)
    fields: dict[str, Any] = {
        "job_id": job_id,
        "attempt": attempt,
        "status_code": response.status_code,
        "duration_ms": int((time.monotonic() - started) * 1000),
    }
    if response.delivered:
        status = job.NOTIFY_DELIVERED
        log.event("notification_delivered", **fields)
    elif response.retryable and not last_attempt:
        status = job.NOTIFY_PENDING
        log.event("notification_retry", severity="WARNING", error=response.error, **fields)
    else:
        status = job.NOTIFY_FAILED
        log.event("notification_failed", severity="WARNING", error=response.error, **fields)
    try:
        store.update(
            job_id,
            lambda d: job.notification_outcome(d, attempt, status, response.status_code, response.error, job.now()),
        )
    except (job.NotClaimable, jobstore.JobNotFound):
        return job.Outcome()  # our lease ran out and a newer attempt owns it, or the job was erased
    if status == job.NOTIFY_PENDING:
        return job.Outcome(
            retry_after=backoff(settings, attempt), reason=response.error or f"HTTP {response.status_code}"
        )
    return job.Outcome()


def _send(doc: job.Job, delivery_id: str, settings) -> Response:
    secret = tenants.signing_secret(settings, doc)
    if secret is None:
        return Response(None, "no webhook secret is configured for this job's tenant")
    try:
        target = resolve(doc["callback_url"] or "", settings)  # a job owes a notification only with one
    except UnsafeUrl as e:
        return Response(None, f"callback_url refused: {e}")
    body = json.dumps(job.webhook_json(doc), ensure_ascii=False, separators=(",", ":")).encode()
    note = doc["notification"]
    event = (note.get("event") if note else None) or job.EVENT_ENDED
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "pix-receipts-webhook/1",
        "X-Timestamp": timestamp,
        "X-Delivery-Id": delivery_id,
        "X-Event": event,
        "X-Signature": sign(secret, timestamp, body),
    }
    return post(target, body, headers, settings.notify_timeout_seconds)


def backoff(settings, attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: NOTIFY_BACKOFF_SECONDS, doubling, at most an hour."""
    return float(min(3600, settings.notify_backoff_seconds * 2 ** (attempt - 1)))


def retry_intervals(settings) -> list[int]:
    return [int(backoff(settings, attempt)) for attempt in range(1, settings.notify_max_attempts)]


def deliver_with_retries(services, job_id: str) -> None:
    """The inline queue's delivery: every attempt in this thread, sleeping the backoff between."""
    while True:
        outcome = deliver(services, job_id)
        if not outcome.retry:
            return
        time.sleep(outcome.retry_after or 0)


def run_in_background(services, job_id: str) -> None:
    threading.Thread(
        target=deliver_with_retries, args=(services, job_id), daemon=True, name=f"notify-{job_id[:8]}"
    ).start()


def job_ended(services, doc: job.Job) -> None:
    """Hand the notification of a job that just ended to the notify queue. If the queue is down
    the notification stays pending in the job and the reconciler hands it over later."""
    note = doc.get("notification") if doc else None
    if not note or note["status"] != job.NOTIFY_PENDING:
        return
    try:
        services.notify_queue.enqueue(doc["job_id"])
        log.event("notification_queued", job_id=doc["job_id"])
    except QueueUnavailable as e:
        log.event("notification_queue_unavailable", severity="WARNING", job_id=doc["job_id"], error=str(e))
