"""Webhooks (common.notify): signing, the SSRF checks of callback URLs, and delivery with its
retries and its record on the job, against a real HTTP receiver. The queue adapters' part is in
tests/test_taskqueue.py; the full local stack's in tests/test_stack.py."""

import hashlib
import io
import json
import time

import pytest

from common import config, job, notify, services
from tests.helpers import documented_receiver, nothing_stored, post, queue_file, wait_for_notification

SECRET = "s3cret-for-webhook-tests"
KEY_A, KEY_B = "key-a-0123456789", "key-b-0123456789"
DIGEST_A, DIGEST_B = (hashlib.sha256(k.encode()).hexdigest() for k in (KEY_A, KEY_B))


def test_a_signature_verifies_and_any_change_breaks_it():
    body, now = b'{"job_id":"x"}', str(int(time.time()))
    signature = notify.sign(SECRET, now, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert notify.verify(SECRET, now, body, signature)
    assert not notify.verify(SECRET, now, body + b" ", signature)
    assert not notify.verify("another-secret-123", now, body, signature)
    assert not notify.verify(SECRET, str(int(now) + 1), body, signature)
    old = str(int(time.time()) - 3600)
    assert not notify.verify(SECRET, old, body, notify.sign(SECRET, old, body))  # replayed later


DEPLOYED = config.from_env({})  # WEBHOOK_ALLOW_PRIVATE_URLS defaults to false
LOCAL = config.from_env({"WEBHOOK_ALLOW_PRIVATE_URLS": "true"})


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.1/",
        "https://192.168.0.10:8443/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[fd00::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://localhost/hook",
        "https://224.0.0.1/",
        "https://2130706433/",  # 127.0.0.1 as one decimal number
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused_in_deployed_mode(url):
    with pytest.raises(notify.UnsafeUrl):
        notify.resolve(url, DEPLOYED)


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://93.184.216.34/hook", "scheme"),
        ("ftp://93.184.216.34/", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("https://user:pw@93.184.216.34/", "credentials"),
        ("https://93.184.216.34:99999/", "port"),
        ("https:///nohost", "host"),
        ("https://no-such-host.invalid/", "resolve"),
        ("https://a b/", "spaces"),
        ("https://93.184.216.34/" + "a" * 2100, "characters"),
    ],
)
def test_malformed_callback_urls_are_refused(url, reason):
    with pytest.raises(notify.UnsafeUrl, match=reason):
        notify.resolve(url, DEPLOYED)


def test_a_public_https_address_is_accepted_and_is_where_the_connection_goes():
    target = notify.resolve("https://93.184.216.34:8443/hooks/pix?x=1", DEPLOYED)
    assert (target.scheme, target.host, target.port, target.path, target.address) == (
        "https",
        "93.184.216.34",
        8443,
        "/hooks/pix?x=1",
        "93.184.216.34",
    )


def test_local_mode_allows_http_to_loopback():
    assert notify.resolve("http://127.0.0.1:8080/hook", LOCAL).address == "127.0.0.1"
    with pytest.raises(notify.UnsafeUrl):
        notify.resolve("ftp://127.0.0.1/", LOCAL)


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/hook",
        "https://169.254.169.254/computeMetadata/v1/",
        "https://localhost:8443/",
        "http://127.0.0.1:9000/hook",
    ],
)
def test_the_deployed_upload_function_refuses_a_private_callback_url_and_stores_nothing(make_client, sample, url):
    client = make_client("upload", REQUIRE_API_KEY="true", API_KEY_HASHES=DIGEST_A, WEBHOOK_SECRETS=f"*={SECRET}")
    response = client.post(
        "/",
        data={"file": (io.BytesIO(sample["png"]), "r.png"), "callback_url": url},
        content_type="multipart/form-data",
        headers={"X-API-Key": KEY_A},
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_callback_url"
    assert nothing_stored()


def test_a_callback_url_without_a_webhook_secret_is_refused(make_client, sample):
    client = make_client("upload", WEBHOOK_ALLOW_PRIVATE_URLS="true")
    response = post(client, "r.png", sample["png"], callback_url="http://127.0.0.1:9/hook")
    assert (response.status_code, response.get_json()["code"]) == (400, "webhooks_not_configured")
    assert nothing_stored()


def inline_upload(make_client, sample, url, key=None, **env):
    settings = {
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "NOTIFY_BACKOFF_SECONDS": "0",
        "NOTIFY_MAX_ATTEMPTS": "3",
        "WEBHOOK_SECRETS": f"*={SECRET}",
        **env,
    }
    client = make_client("upload", **settings)
    headers = {"X-API-Key": key} if key else {}
    response = client.post(
        "/",
        data={"file": (io.BytesIO(sample["pdf"]), "r.pdf"), "callback_url": url},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_webhook_carries_the_status_json_signed_with_the_callers_key_secret(make_client, sample, webhook_receiver):
    url = webhook_receiver.url("ok", [200])
    body = inline_upload(
        make_client,
        sample,
        url,
        KEY_B,
        REQUIRE_API_KEY="true",
        API_KEY_HASHES=f"{DIGEST_A},{DIGEST_B}",
        WEBHOOK_SECRETS=f"{DIGEST_A}=secret-of-key-a-000,{DIGEST_B}=secret-of-key-b-000",
    )
    doc = wait_for_notification(body["job_id"])
    [request] = webhook_receiver.received(url)
    headers = request["headers"]
    assert notify.verify("secret-of-key-b-000", headers["X-Timestamp"], request["body"], headers["X-Signature"])
    assert not notify.verify("secret-of-key-a-000", headers["X-Timestamp"], request["body"], headers["X-Signature"])
    assert headers["X-Delivery-Id"] == doc["notification"]["delivery_id"]
    assert json.loads(request["body"]) == job.webhook_json(doc)
    assert json.loads(request["body"])["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id
    note = job.status_json(doc)["notification"]
    assert note["status"] == "delivered" and note["attempts"] == 1 and note["last_status_code"] == 200
    assert note["delivered_at"] >= doc["ended_at"]


def test_a_receiver_failing_twice_gets_three_attempts_with_one_delivery_id(make_client, sample, webhook_receiver):
    url = webhook_receiver.url("flaky", [500, 429, 204])
    doc = wait_for_notification(inline_upload(make_client, sample, url)["job_id"])
    requests = webhook_receiver.received(url)
    assert len(requests) == 3
    assert len({r["headers"]["X-Delivery-Id"] for r in requests}) == 1
    assert doc["notification"]["status"] == "delivered" and doc["notification"]["attempts"] == 3
    assert doc["notification"]["last_status_code"] == 204


def test_a_receiver_that_always_fails_ends_failed_after_the_maximum_and_the_job_is_unaffected(
    make_client, sample, webhook_receiver
):
    url = webhook_receiver.url("down", [503])
    doc = wait_for_notification(inline_upload(make_client, sample, url)["job_id"])
    assert len(webhook_receiver.received(url)) == 3
    assert doc["notification"]["status"] == "failed" and doc["notification"]["last_status_code"] == 503
    assert doc["status"] == "finished" and doc["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id


def test_a_refusal_other_than_429_is_not_retried(make_client, sample, webhook_receiver):
    url = webhook_receiver.url("gone", [410, 200])
    doc = wait_for_notification(inline_upload(make_client, sample, url)["job_id"])
    assert len(webhook_receiver.received(url)) == 1
    assert (doc["notification"]["status"], doc["notification"]["last_status_code"]) == ("failed", 410)


def test_an_unreachable_receiver_is_retried_and_recorded_without_a_status_code(make_client, sample, capsys):
    from tools import emulators

    port = emulators.free_port()
    url = f"http://127.0.0.1:{port}/nobody"
    doc = wait_for_notification(inline_upload(make_client, sample, url)["job_id"])
    note = doc["notification"]
    assert (note["status"], note["attempts"], note["last_status_code"]) == ("failed", 3, None)
    assert "Error" in note["last_error"] and "refused" in note["last_error"].lower()
    # Webhook URLs are never logged: neither the host nor the port, in the retries' log lines either.
    logged = capsys.readouterr().out
    assert '"notification_retry"' in logged
    for line in logged.splitlines() + [note["last_error"]]:
        assert "127.0.0.1" not in line and str(port) not in line, line


def test_a_failed_job_is_notified_too(make_client, webhook_receiver):
    url = webhook_receiver.url("failed-job", [200])
    client = make_client("upload", WEBHOOK_ALLOW_PRIVATE_URLS="true", WEBHOOK_SECRETS=f"*={SECRET}")
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(blank, "PNG")
    response = post(client, "blank.png", blank.getvalue(), callback_url=url)
    assert response.get_json()["status"] == "failed"
    doc = wait_for_notification(response.get_json()["job_id"])
    [request] = webhook_receiver.received(url)
    assert json.loads(request["body"])["error_code"] == doc["error_code"] == "no_receipt_found"


def ended_job_owing_a_webhook(sample, url, monkeypatch):
    """(the app, a job that ended with `url` as its callback and whose notify task was never sent)."""
    for key, value in {"WEBHOOK_ALLOW_PRIVATE_URLS": "true", "WEBHOOK_SECRETS": f"*={SECRET}"}.items():
        monkeypatch.setenv(key, value)
    services.reset()
    app = services.get()
    doc = queue_file(sample["pdf"], "application/pdf")
    app.jobs.update(doc["job_id"], lambda d: {**d, "callback_url": url, "callback_key": "*"})
    app.jobs.update(doc["job_id"], lambda d: job.claim(d, job.now(), 60))
    ended = app.jobs.update(doc["job_id"], lambda d: job.fail(d, 1, "x", "x", job.now()))
    assert ended["notification"]["status"] == "pending"
    return app, ended


def test_duplicate_deliveries_of_a_notify_task_post_once(sample, webhook_receiver, monkeypatch):
    url = webhook_receiver.url("once", [200])
    app, doc = ended_job_owing_a_webhook(sample, url, monkeypatch)
    outcomes = [notify.deliver(app, doc["job_id"]) for _ in range(3)]
    assert not any(o.retry for o in outcomes)
    assert len(webhook_receiver.received(url)) == 1


def test_a_pending_notification_whose_task_was_lost_is_resent_by_the_reconciler(sample, webhook_receiver, monkeypatch):
    from datetime import timedelta

    from common import reconcile

    url = webhook_receiver.url("lost", [200])
    app, doc = ended_job_owing_a_webhook(sample, url, monkeypatch)
    assert reconcile.reconcile_once(app)["notifications_requeued"] == 0  # young: its task may still come
    later = job.now() + timedelta(seconds=app.settings.reconcile_queued_after_seconds + 1)
    assert reconcile.reconcile_once(app, at=later)["notifications_requeued"] == 1
    assert wait_for_notification(doc["job_id"])["notification"]["status"] == "delivered"
    assert len(webhook_receiver.received(url)) == 1


def test_the_documented_receiver_accepts_a_real_delivery_and_refuses_a_forged_one():
    client = documented_receiver(SECRET)
    body = json.dumps({"job_id": "a" * 32, "status": "finished"}).encode()
    timestamp = str(int(time.time()))
    headers = {
        "X-Timestamp": timestamp,
        "X-Signature": notify.sign(SECRET, timestamp, body),
        "X-Delivery-Id": "d" * 32,
        "Content-Type": "application/json",
    }
    assert client.post("/pix-webhook", data=body, headers=headers).status_code == 204
    assert client.post("/pix-webhook", data=body.replace(b"finished", b"failed"), headers=headers).status_code == 401
    stale = str(int(time.time()) - 3600)
    old = {**headers, "X-Timestamp": stale, "X-Signature": notify.sign(SECRET, stale, body)}
    assert client.post("/pix-webhook", data=body, headers=old).status_code == 401


def test_a_receiver_that_never_answers_times_out_each_attempt(make_client, sample):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are accepted by the kernel; nothing ever answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hangs"
        doc = wait_for_notification(
            inline_upload(make_client, sample, url, NOTIFY_TIMEOUT_SECONDS="1", NOTIFY_MAX_ATTEMPTS="2")["job_id"]
        )
    finally:
        silent.close()
    note = doc["notification"]
    assert (note["status"], note["attempts"], note["last_status_code"]) == ("failed", 2, None)
    assert "timed out" in note["last_error"].lower()


class DripReceiver:
    """A real TCP server in a thread that reads the request, then sends `answer`: its first
    `at_once` bytes at once, the rest one byte every `interval` seconds (a receiver slow on
    purpose, or a stuck proxy). `https`-free: the TLS case uses a listener that says nothing."""

    def __init__(self, answer: bytes, at_once: int, interval: float = 1.0):
        import socket
        import threading

        self.answer, self.at_once, self.interval = answer, at_once, interval
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/drip"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            try:
                conn.recv(65536)  # the request (small: its headers and the JSON fit in one read)
                conn.sendall(self.answer[: self.at_once])
                for i in range(self.at_once, len(self.answer)):
                    if self.stopped.wait(self.interval):
                        return
                    conn.sendall(self.answer[i : i + 1])
            except OSError:
                return  # the client hung up: what it should do at its deadline

    def stop(self):
        self.stopped.set()
        self.listener.close()


DRIP_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Slow: " + b"a" * 20 + b"\r\n\r\n"
DRIP_BODY_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n"


def timed_post(url: str, timeout: float) -> tuple[notify.Response, float]:
    started = time.monotonic()
    response = notify.post(notify.resolve(url, LOCAL), b"{}", {"Content-Type": "application/json"}, timeout)
    return response, time.monotonic() - started


def test_a_receiver_dripping_its_headers_is_cut_off_at_the_deadline():
    receiver = DripReceiver(DRIP_HEADERS, at_once=0)  # about 60 s at one byte a second
    try:
        response, elapsed = timed_post(receiver.url, timeout=2)
    finally:
        receiver.stop()
    assert elapsed < 8  # the deadline (2 s) and a generous margin; each read alone never times out
    assert response.status_code is None and response.retryable
    assert "timed out" in response.error


def test_a_receiver_dripping_its_body_is_cut_off_at_the_deadline_and_its_status_counts():
    receiver = DripReceiver(DRIP_BODY_HEAD + b"x" * 20, at_once=len(DRIP_BODY_HEAD))  # 20 s of body
    try:
        response, elapsed = timed_post(receiver.url, timeout=2)
    finally:
        receiver.stop()
    assert elapsed < 8
    assert response.status_code == 200 and response.delivered  # the body is thrown away anyway


def test_an_endless_answer_body_is_read_no_further_than_the_cap():
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    sent = []

    def flood():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")  # no length: until close
            total = 0
            try:
                while total < 1024 * 1024 * 1024:
                    total += conn.send(b"x" * 65536)
            except OSError:
                pass
            sent.append(total)

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        response, elapsed = timed_post(f"http://127.0.0.1:{listener.getsockname()[1]}/flood", timeout=20)
        thread.join(20)
    finally:
        listener.close()
    assert response.status_code == 200
    assert elapsed < 8  # it stopped reading long before its deadline
    # The client read at most the cap; the rest is what the kernel buffers took before it hung up.
    assert sent and sent[0] < 64 * 1024 * 1024


def test_an_https_receiver_that_never_completes_the_handshake_is_cut_off_at_the_deadline():
    import socket

    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel does), never speaks TLS
    try:
        started = time.monotonic()
        target = notify.resolve(f"https://127.0.0.1:{silent.getsockname()[1]}/tls", LOCAL)
        response = notify.post(target, b"{}", {}, timeout=2)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert elapsed < 8
    assert response.status_code is None and "timed out" in response.error


def test_a_dripping_receiver_holds_a_delivery_attempt_no_longer_than_notify_timeout(make_client, sample):
    receiver = DripReceiver(DRIP_HEADERS, at_once=0)
    try:
        started = time.monotonic()
        body = inline_upload(make_client, sample, receiver.url, NOTIFY_TIMEOUT_SECONDS="2", NOTIFY_MAX_ATTEMPTS="1")
        doc = wait_for_notification(body["job_id"])
        elapsed = time.monotonic() - started
    finally:
        receiver.stop()
    note = doc["notification"]
    assert (note["status"], note["attempts"], note["last_status_code"]) == ("failed", 1, None)
    assert "timed out" in note["last_error"]
    assert elapsed < 15  # the upload and its OCR (a PDF's text layer), and one 2 s attempt
