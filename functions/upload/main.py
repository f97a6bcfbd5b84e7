"""Upload function: POST a receipt (multipart `file`, optional `pedido_id`, `expected_amount`,
`callback_url`). POST /pix-webhook/<secret>/pix takes the receiver's PSP's webhook instead
(common.confirmation: each received Pix, authenticated by the path's secret and mutual TLS in front).

202 with the new job when it is queued; 200 with the job's status when it already ran (inline
queue, or the inline fallback when the queue is down) or when the same bytes were uploaded
before (`"duplicate": true`). `processing` says which of these happened.
"""

import flask
import functions_framework

from common import auth, config, confirmation, http, job, reconcile, services, timeline, upload
from common.errors import ApiError

with config.at_start_up():  # a setting it cannot use stops it with a one-line message
    settings = config.from_env()
    auth.check_api_key_settings(settings)
http.install(flask.current_app, settings, rejection_event="upload_rejected")
http.install_cors(flask.current_app, settings, "POST")  # the status function's page uploads from its origin
reconcile.start_inline_recovery(settings)  # the embedded mode's reconciler (inline queue only)


@functions_framework.http
def upload_receipt(request: flask.Request):
    app = services.get()
    if request.path.startswith(confirmation.WEBHOOK_PREFIX):  # the PSP has no API key: see docs/psp.md
        body = request.get_json(silent=True)
        return http.json_response(
            confirmation.webhook_request(app, request.method, request.path, request.headers, body)
        )
    tenant = auth.require_tenant(request.headers, app.settings)
    if request.method != "POST":
        raise ApiError(405, "method_not_allowed", "Use POST with a multipart/form-data body.", {"Allow": "POST"})
    if request.mimetype != "multipart/form-data":
        raise ApiError(400, "not_multipart", "The body must be multipart/form-data with a 'file' field.")
    with timeline.recording("upload_timeline", size=request.content_length):
        with timeline.stage("receive"):  # multipart parsing, hashing and spooling, in one pass
            files, form = request.files, request.form
        outcome = upload.accept_upload(app, files, form, tenant)
    doc = outcome.job
    status_url = f"{app.settings.status_base_url}/jobs/{doc['job_id']}/status"
    extra = {"status_url": status_url, "duplicate": outcome.duplicate, "processing": outcome.processing}
    if outcome.processing != "queued":
        return http.json_response({**job.status_json(doc), **extra})
    body = {"job_id": doc["job_id"], "status": doc["status"], "created_at": doc["created_at"], "sha256": doc["sha256"]}
    return http.json_response({**body, **extra}, 202, {"Location": status_url})
