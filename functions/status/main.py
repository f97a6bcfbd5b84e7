"""Status function: GET /jobs/<job_id>/status, the original system's JSON for each job status."""

import re

import flask
import functions_framework

from common import auth, config, http, job, services
from common.errors import ApiError

settings = config.from_env()
http.install(flask.current_app, settings)
auth.check_api_key_settings(settings)

_STATUS_PATH = re.compile(r"/jobs/(?P<job_id>.*)/status/?")


@functions_framework.http
def job_status(request: flask.Request):
    auth.require_api_key(request.headers, services.get().settings)
    match = _STATUS_PATH.fullmatch(request.path)
    if not match:
        raise ApiError(404, "not_found", "Unknown path; use GET /jobs/<job_id>/status.")
    if request.method not in ("GET", "HEAD"):
        raise ApiError(405, "method_not_allowed", "Use GET.", {"Allow": "GET, HEAD"})
    job_id = match.group("job_id")
    if not job.is_valid_job_id(job_id):
        raise ApiError(400, "invalid_job_id", "A job id is 32 lowercase hexadecimal characters.")
    doc = services.get().jobs.get(job_id)
    if doc is None:
        raise ApiError(404, "job_not_found", f"No job {job_id}.")
    return http.json_response(job.status_json(doc))
