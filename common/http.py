"""HTTP glue shared by the three functions: JSON responses, JSON errors for every failure
(never an HTML page or a stack trace), and request limits enforced while the body is read."""

from __future__ import annotations

import traceback

import flask
from werkzeug.exceptions import HTTPException

from common import log
from common.errors import ApiError
from common.spool import HashingSpool

# Codes for the errors Flask/werkzeug raise before our code runs.
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
               413: "request_too_large", 415: "unsupported_media_type"}


class UploadRequest(flask.Request):
    """Spools each uploaded file into a HashingSpool: SHA-256 and size limit while reading."""

    max_file_bytes = 16 * 1024 * 1024

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return HashingSpool(self.max_file_bytes)


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> flask.Response:
    return json_response({"error": message, "code": code}, status, headers)


def _on_api_error(e: ApiError):
    if e.status < 500:
        log.event("request_rejected", severity="NOTICE", code=e.code, status=e.status, path=flask.request.path)
    return error_response(e.status, e.code, e.message, e.headers)


def _on_http_exception(e: HTTPException):
    code = _HTTP_CODES.get(e.code, "http_error")
    return error_response(e.code or 500, code, e.description or e.name)


def _on_unexpected(e: Exception):
    if isinstance(e, HTTPException):
        return _on_http_exception(e)
    log.event("unhandled_error", severity="ERROR", error=repr(e), stack=traceback.format_exc(), path=flask.request.path)
    return error_response(500, "internal_error", "Internal error; the failure was logged.")


def install(app: flask.Flask, settings) -> None:
    """Configure a functions-framework app; call it at import, where `flask.current_app` is it."""
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes  # checked as the body is read
    app.config["MAX_FORM_MEMORY_SIZE"] = 64 * 1024  # one non-file field
    app.config["MAX_FORM_PARTS"] = 50
    app.json.sort_keys = False  # keep the seed's field order in status bodies
    app.request_class = type("UploadRequest", (UploadRequest,), {"max_file_bytes": settings.max_upload_bytes})
    app.register_error_handler(ApiError, _on_api_error)
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(500, _on_unexpected)
    app.register_error_handler(Exception, _on_unexpected)
