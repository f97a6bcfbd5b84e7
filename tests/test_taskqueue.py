"""One contract, every task queue adapter: inline, Cloud Tasks (the emulator dispatching to a
real OCR function over HTTP) and RQ (a real Redis and a real RQ worker)."""

import json
import threading
import time
import uuid

import pytest

from common import config, job, services, taskqueue
from tests.helpers import queue_file
from tools import emulators

ROOT_LOCATION = "projects/receipts-test/locations/us-central1"


@pytest.fixture
def ocr_server(make_client, monkeypatch):
    """The OCR function served over real HTTP from a thread of this process."""
    from werkzeug.serving import make_server

    app = make_client("ocr").application
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


class Adapter:
    """How a test reaches one adapter: its settings, and how to let queued tasks run."""

    def __init__(self, env: dict, drain):
        self.env, self.drain = env, drain


WEBHOOKS = {
    "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "WEBHOOK_SECRETS": "*=contract-test-secret",
    "NOTIFY_MAX_ATTEMPTS": "3",
    "NOTIFY_BACKOFF_SECONDS": "0",
}


@pytest.fixture(
    params=[
        "inline",
        pytest.param("cloudtasks", marks=pytest.mark.emulator),
        pytest.param("rq", marks=pytest.mark.emulator),
    ]
)
def adapter(request, monkeypatch):
    name = request.param
    if name == "inline":
        adapter = Adapter({"TASK_QUEUE": "inline", **WEBHOOKS}, lambda job_id: None)
    elif name == "cloudtasks":
        emulator = request.getfixturevalue("tasks_emulator")
        url = request.getfixturevalue("ocr_server")
        queue = f"q{uuid.uuid4().hex[:10]}"
        env = {
            "TASK_QUEUE": "cloudtasks",
            "TASKS_EMULATOR_HOST": emulator.host,
            "OCR_FUNCTION_URL": url,
            "GOOGLE_CLOUD_PROJECT": "receipts-test",
            "TASKS_QUEUE_NAME": queue,
            "NOTIFY_QUEUE_NAME": f"n{queue}",
            **WEBHOOKS,
        }
        client = taskqueue.CloudTasksQueue(config.from_env(env))._client
        for name in (queue, f"n{queue}"):
            client.create_queue(parent=ROOT_LOCATION, queue={"name": f"{ROOT_LOCATION}/queues/{name}"})
        adapter = Adapter(env, wait_until_ended)
    else:
        redis_server = request.getfixturevalue("redis_server")
        queue = f"q{uuid.uuid4().hex[:10]}"
        env = {
            "TASK_QUEUE": "rq",
            "REDIS_URL": f"redis://{redis_server.host}/0",
            "RQ_QUEUE_NAME": queue,
            "RQ_NOTIFY_QUEUE_NAME": f"n{queue}",
            **WEBHOOKS,
        }
        adapter = Adapter(env, lambda job_id: run_rq_worker(env))
    for key, value in adapter.env.items():
        monkeypatch.setenv(key, value)
    services.reset()
    return adapter


def wait_until_ended(job_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while services.get().jobs.get(job_id)["status"] not in (job.FINISHED, job.FAILED):
        assert time.monotonic() < deadline, "the job did not end in time"
        time.sleep(0.1)


def run_rq_worker(env: dict) -> None:
    import redis
    import rq

    connection = redis.Redis.from_url(env["REDIS_URL"])
    queues = [rq.Queue(env[name], connection=connection) for name in ("RQ_QUEUE_NAME", "RQ_NOTIFY_QUEUE_NAME")]
    rq.SimpleWorker(queues, connection=connection).work(burst=True)


def test_an_enqueued_job_runs_to_the_end(adapter, sample):
    doc = queue_file(sample["pdf"], "application/pdf")
    services.get().queue.enqueue(doc["job_id"])
    adapter.drain(doc["job_id"])
    done = services.get().jobs.get(doc["job_id"])
    assert done["status"] == "finished"
    assert done["result"]["data"]["transaction_id"] == sample["receipt"].transaction_id


def test_a_task_enqueued_twice_runs_the_job_once(adapter, sample):
    doc = queue_file(sample["pdf"], "application/pdf")
    services.get().queue.enqueue(doc["job_id"])
    services.get().queue.enqueue(doc["job_id"])
    adapter.drain(doc["job_id"])
    time.sleep(0.5)  # let a second delivery, if any, land
    done = services.get().jobs.get(doc["job_id"])
    assert done["status"] == "finished" and done["attempts"] == 1


def wait_until_notified(adapter, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        adapter.drain(job_id)  # RQ: run what is queued now (a retry is queued again at once)
        doc = services.get().jobs.get(job_id)
        if doc["notification"] and doc["notification"]["status"] != job.NOTIFY_PENDING:
            return doc
        assert time.monotonic() < deadline, f"the notification is still pending: {doc['notification']}"
        time.sleep(0.1)


@pytest.mark.parametrize(
    "script, status, attempts",
    [
        ([200], "delivered", 1),
        ([500, 503, 200], "delivered", 3),
        ([503], "failed", 3),
        ([400, 200], "failed", 1),
    ],
    ids=["ok", "fails-twice", "always-fails", "refused"],
)
def test_a_job_with_a_callback_notifies_it_through_the_notify_queue(
    adapter, sample, webhook_receiver, script, status, attempts
):
    url = webhook_receiver.url("contract", script)
    doc = queue_file(sample["pdf"], "application/pdf")
    services.get().jobs.update(doc["job_id"], lambda d: {**d, "callback_url": url, "callback_key": "*"})
    services.get().queue.enqueue(doc["job_id"])
    done = wait_until_notified(adapter, doc["job_id"])
    assert done["status"] == "finished"
    assert (done["notification"]["status"], done["notification"]["attempts"]) == (status, attempts)
    time.sleep(0.3)  # a stray extra delivery, if any, would land now
    requests = webhook_receiver.received(url)
    assert len(requests) == attempts
    assert json.loads(requests[-1]["body"]) == job.webhook_json(done)


@pytest.mark.parametrize(
    "env",
    [
        {
            "TASK_QUEUE": "cloudtasks",
            "OCR_FUNCTION_URL": "http://127.0.0.1:9/",
            "TASKS_EMULATOR_HOST": "127.0.0.1:{port}",
        },
        {"TASK_QUEUE": "rq", "REDIS_URL": "redis://127.0.0.1:{port}/0"},
    ],
    ids=["cloudtasks", "rq"],
)
def test_an_unreachable_queue_raises_queue_unavailable(env):
    port = emulators.free_port()  # nothing listens there
    settings = config.from_env({k: v.format(port=port) for k, v in env.items()})
    queue = taskqueue.from_settings(settings, run=None)
    started = time.monotonic()
    with pytest.raises(taskqueue.QueueUnavailable):
        queue.enqueue(job.new_job_id())
    assert time.monotonic() - started < 15


def test_cloud_tasks_requests_carry_only_the_job_id_and_an_oidc_token_in_production():
    settings = config.from_env(
        {
            "TASK_QUEUE": "cloudtasks",
            "OCR_FUNCTION_URL": "https://ocr.example.run.app",
            "TASKS_SERVICE_ACCOUNT": "invoker@p.iam.gserviceaccount.com",
        }
    )
    task = taskqueue.http_task(settings, "a" * 32)
    request = task["http_request"]
    assert request["body"] == b'{"job_id": "' + b"a" * 32 + b'"}'
    assert request["headers"] == {"Content-Type": "application/json"}
    assert request["oidc_token"] == {
        "service_account_email": "invoker@p.iam.gserviceaccount.com",
        "audience": "https://ocr.example.run.app",
    }
    assert task["dispatch_deadline"]["seconds"] == 360


def test_the_task_is_a_valid_cloud_tasks_message():
    from google.cloud import tasks_v2

    settings = config.from_env({"TASK_QUEUE": "cloudtasks", "OCR_FUNCTION_URL": "https://ocr.example.run.app"})
    task = tasks_v2.Task(taskqueue.http_task(settings, "b" * 32))
    assert task.http_request.http_method == tasks_v2.HttpMethod.POST
    assert task.http_request.url == "https://ocr.example.run.app"
    assert not task.http_request.oidc_token.service_account_email
