"""OCR function: the task handler. POST {"job_id": ...} runs that job (safe to deliver twice)."""

import flask
import functions_framework

from common import config, http, job, services
from common.errors import ApiError

http.install(flask.current_app, config.from_env())


@functions_framework.http
def run_ocr_job(request: flask.Request):
    if request.method != "POST":
        raise ApiError(405, "method_not_allowed", "Use POST.", {"Allow": "POST"})
    body = request.get_json(silent=True)
    job_id = body.get("job_id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job.is_valid_job_id(job_id):
        # 2xx-free but permanent: a task with a malformed body can never succeed.
        raise ApiError(400, "invalid_task", 'The body must be JSON {"job_id": "<32 hex chars>"}.')
    app = services.get()
    doc = app.jobs.get(job_id)
    if doc is None:
        raise ApiError(404, "job_not_found", f"No job {job_id}.")
    finished = app.run_job(job_id)
    doc = finished or app.jobs.get(job_id)
    return http.json_response(job.status_json(doc))
