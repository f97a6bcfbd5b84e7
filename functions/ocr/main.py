"""OCR function: the task handler. POST {"job_id": ...} runs that job; POST /notify with the same
body delivers that job's webhook (the `notify` queue); POST /reconcile runs one pass of the
reconciler (Cloud Scheduler). Both only with the invoker's OIDC token when
OIDC_AUDIENCE is configured.

Answers 200 when the delivery is done with (the job ended now or before: Cloud Tasks stops),
503 with Retry-After when it should come again (a transient failure, or another attempt holds
the job's lease). `X-CloudTasks-TaskRetryCount` tells the last attempt, which must end the job.
"""

import flask
import functions_framework

from common import auth, config, http, job, notify, reconcile, services
from common.errors import ApiError

with config.at_start_up():  # a setting it cannot use stops it with a one-line message
    http.install(
        flask.current_app, config.from_env(), max_body_bytes=http.SMALL_BODY_BYTES, caller_check=auth.verify_oidc
    )


@functions_framework.http
def run_ocr_job(request: flask.Request):
    app = services.get()
    auth.verify_oidc(request.headers, app.settings)
    if request.method != "POST":
        raise ApiError(405, "method_not_allowed", "Use POST.", {"Allow": "POST"})
    path = request.path.rstrip("/")
    if path == "/reconcile":
        return http.json_response(reconcile.reconcile_once(app))
    if path not in ("", "/notify"):
        raise ApiError(404, "not_found", "POST / runs a job, /notify delivers its webhook, /reconcile reconciles.")
    body = request.get_json(silent=True)
    job_id = body.get("job_id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job.is_valid_job_id(job_id):
        raise ApiError(400, "invalid_task", 'The body must be JSON {"job_id": "<32 hex chars>"}.')
    current = app.jobs.get(job_id)
    if current is None:
        raise ApiError(404, "job_not_found", f"No job {job_id}.")
    retries = request.headers.get("X-CloudTasks-TaskRetryCount", "")
    if path == "/notify":
        last_attempt = retries.isdigit() and int(retries) + 1 >= app.settings.notify_max_attempts
        delivery = notify.deliver(app, job_id, last_attempt=last_attempt)
        if delivery.retry:
            raise ApiError(
                503,
                "notification_pending",
                "The webhook delivery is not done; try again later.",
                {"Retry-After": str(int(delivery.retry_after + 0.999))},
            )
        return _status_of(app.jobs.get(job_id), job_id)
    last_attempt = retries.isdigit() and int(retries) + 1 >= app.settings.task_max_attempts
    outcome = app.run_job(job_id, last_attempt=last_attempt, current=current)
    if outcome.retry:
        raise ApiError(
            503,
            outcome.code,
            "The job could not be run now; try again later.",
            {"Retry-After": str(int(outcome.retry_after + 0.999))},
        )
    return _status_of(outcome.doc, job_id)


def _status_of(doc: dict | None, job_id: str):
    if doc is None:  # erased (DELETE /jobs/<id>) while this delivery ran
        raise ApiError(404, "job_not_found", f"No job {job_id}.")
    return http.json_response(job.status_json(doc))
