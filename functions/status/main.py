"""Status function: GET /jobs/<job_id>/status, the original system's JSON for each job status;
GET /jobs, a page of jobs and the count per status; and the browser side: the upload page at
GET /, the jobs dashboard at GET /dashboard and their files at GET /static/<file>."""

import os
import re

import flask
import functions_framework

from common import auth, config, http, job, services, web
from common.errors import ApiError

with config.at_start_up():  # a setting it cannot use stops it with a one-line message
    settings = config.from_env()
    auth.check_api_key_settings(settings)
http.install(flask.current_app, settings)
http.install_cors(flask.current_app, settings, "GET, HEAD")

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
PAGES = {"/": "index.html", "/dashboard": "dashboard.html"}
_STATUS_PATH = re.compile(r"/jobs/(?P<job_id>.*)/status/?")


def _only_get(request: flask.Request) -> None:
    if request.method not in ("GET", "HEAD"):
        raise ApiError(405, "method_not_allowed", "Use GET.", {"Allow": "GET, HEAD"})


@functions_framework.http
def job_status(request: flask.Request):
    app = services.get()
    path = request.path
    # The pages and their files are public (a browser cannot send a header when it navigates);
    # everything they show comes from the JSON endpoints below, which need the API key.
    if path in PAGES:
        _only_get(request)
        return web.page(STATIC_DIR, PAGES[path], app.settings)
    if path.startswith("/static/"):
        _only_get(request)
        return web.static_file(STATIC_DIR, path.removeprefix("/static/"))
    auth.require_api_key(request.headers, app.settings)
    if path.rstrip("/") == "/jobs":
        _only_get(request)
        return http.json_response(web.list_jobs(app.jobs, request.args))
    match = _STATUS_PATH.fullmatch(path)
    if not match:
        raise ApiError(404, "not_found", "Unknown path; use GET /jobs/<job_id>/status.")
    _only_get(request)
    job_id = match.group("job_id")
    if not job.is_valid_job_id(job_id):
        raise ApiError(400, "invalid_job_id", "A job id is 32 lowercase hexadecimal characters.")
    doc = app.jobs.get(job_id)
    if doc is None:
        raise ApiError(404, "job_not_found", f"No job {job_id}.")
    return http.json_response(job.status_json(doc))
