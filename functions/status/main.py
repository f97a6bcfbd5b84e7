"""Status function: GET /jobs/<job_id>/status, the original system's JSON for each job status;
DELETE /jobs/<job_id>, erasing a job and its receipt (common.erasure); GET /jobs, a page of jobs
(or the review queue) and the count per status; GET /jobs/<job_id>/file, the receipt itself, and
POST /jobs/<job_id>/review, a person's decision on it (common.review); and the browser side: the
upload page at GET /, the jobs dashboard at GET /dashboard, the review page at GET /review and
their files at GET /static/<file>."""

import os
import re

import flask
import functions_framework

from common import auth, config, erasure, http, job, review, services, web
from common.errors import ApiError

with config.at_start_up():  # a setting it cannot use stops it with a one-line message
    settings = config.from_env()
    auth.check_api_key_settings(settings)
http.install(flask.current_app, settings, max_body_bytes=http.SMALL_BODY_BYTES)
http.install_cors(flask.current_app, settings, "GET, HEAD, POST, DELETE")

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
PAGES = {"/": "index.html", "/dashboard": "dashboard.html", "/review": "review.html"}
_STATUS_PATH = re.compile(r"/jobs/(?P<job_id>.*)/status/?")
_JOB_PATH = re.compile(r"/jobs/(?P<job_id>[^/]*)/?")
_FILE_PATH = re.compile(r"/jobs/(?P<job_id>[^/]*)/file/?")
_REVIEW_PATH = re.compile(r"/jobs/(?P<job_id>[^/]*)/review/?")


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
    tenant = auth.require_tenant(request.headers, app.settings)
    if path.rstrip("/") == "/jobs":
        _only_get(request)
        return http.json_response(web.list_jobs(app.jobs, request.args, tenant))
    match = _STATUS_PATH.fullmatch(path)
    if match:
        _only_get(request)
        return http.json_response(job.status_json(_visible_job(app, match.group("job_id"), tenant)))
    match = _FILE_PATH.fullmatch(path)
    if match:
        _only_get(request)
        return web.receipt_file(app.blobs, _visible_job(app, match.group("job_id"), tenant))
    match = _REVIEW_PATH.fullmatch(path)
    if match:
        if request.method != "POST":
            raise ApiError(405, "method_not_allowed", "Use POST to review the job.", {"Allow": "POST"})
        doc = _visible_job(app, match.group("job_id"), tenant)
        body = request.get_json(silent=True) if request.mimetype == "application/json" else None
        if body is None:
            raise ApiError(400, "invalid_review", "Send the review as a JSON object (Content-Type: application/json).")
        caller = review.caller_name(auth.require_api_key(request.headers, app.settings))
        return http.json_response(job.status_json(review.review_job(app, doc, body, caller)))
    match = _JOB_PATH.fullmatch(path)
    if not match:
        raise ApiError(404, "not_found", "Unknown path; use GET /jobs/<job_id>/status.")
    if request.method != "DELETE":
        raise ApiError(405, "method_not_allowed", "Use DELETE to erase the job.", {"Allow": "DELETE"})
    doc = _visible_job(app, match.group("job_id"), tenant)
    if not erasure.erase_job(app, doc["job_id"]):
        raise ApiError(404, "job_not_found", f"No job {doc['job_id']}.")  # erased meanwhile
    return flask.Response(status=204, headers={"Cache-Control": "no-store"})


def _visible_job(app, job_id: str, tenant: str) -> dict:
    """The tenant's job, else a 404 just like an unknown job's: the one place that decides what
    the caller may see, for reading its status and for erasing it."""
    if not job.is_valid_job_id(job_id):
        raise ApiError(400, "invalid_job_id", "A job id is 32 lowercase hexadecimal characters.")
    doc = app.jobs.get(job_id, tenant=tenant)
    if doc is None:  # another tenant's job too: indistinguishable from a missing one
        raise ApiError(404, "job_not_found", f"No job {job_id}.")
    return doc
