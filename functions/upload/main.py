"""Upload function: POST a receipt (multipart `file`, optional `pedido_id`, `expected_amount`).

202 with the new job when it is queued; 200 with the job's status when it already ran (inline
queue) or when the same bytes were uploaded before (`"duplicate": true`).
"""

import flask
import functions_framework

from common import config, http, job, services, upload
from common.errors import ApiError

http.install(flask.current_app, config.from_env())


@functions_framework.http
def upload_receipt(request: flask.Request):
    if request.method != "POST":
        raise ApiError(405, "method_not_allowed", "Use POST with a multipart/form-data body.", {"Allow": "POST"})
    if request.mimetype != "multipart/form-data":
        raise ApiError(400, "not_multipart", "The body must be multipart/form-data with a 'file' field.")
    app = services.get()
    outcome = upload.accept_upload(app, request.files, request.form)
    doc = outcome.job
    status_url = f"{app.settings.status_base_url}/jobs/{doc['job_id']}/status"
    if outcome.duplicate or doc["status"] != job.QUEUED:
        return http.json_response({**job.status_json(doc), "status_url": status_url, "duplicate": outcome.duplicate})
    body = {"job_id": doc["job_id"], "status": doc["status"], "status_url": status_url,
            "created_at": doc["created_at"], "sha256": doc["sha256"], "duplicate": False}
    return http.json_response(body, 202, {"Location": status_url})
