"""HTTP glue shared by the three functions: JSON responses, JSON errors for every failure
(never an HTML page or a stack trace), request limits enforced while the body is read, and CORS
for the functions a browser page calls."""

from __future__ import annotations

import io
import os
import traceback
from collections.abc import Callable
from typing import Any

import flask
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser

from common import auth, log, multipart
from common.errors import ApiError, BackendUnavailable
from common.spool import IN_MEMORY_BYTES, HashingSpool

# Codes for the errors Flask/werkzeug raise before our code runs.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


# Werkzeug reads multipart bodies 64 KiB at a time; each such read from gunicorn's read-ahead
# buffer (up to 1 MiB) copies what is left of that buffer again. Measured (tools/bench.py, 5 MB,
# local stores, one run): 64 KiB reads 63 ms, 512 KiB 21 ms, 960 KiB 18 ms. They must stay under
# MAX_FORM_MEMORY_SIZE (1 MiB), which werkzeug applies to its parser's buffer: the margin holds
# what the parser keeps back between reads (a part's headers, a possible boundary).
MULTIPART_READ_BYTES = 960 * 1024


# The status and OCR functions take no uploads: a GET, a task's {"job_id": ...}, the scheduler's
# {}. Their bodies are refused past this many bytes, before they are read.
SMALL_BODY_BYTES = 8 * 1024


class _MultipartInLargeReads(FormDataParser):
    def _parse_multipart(self, stream, mimetype, content_length, options):
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        if isinstance(stream, _Bounded):  # a body of declared length: in one pass (common.multipart)
            limits = (self.max_form_memory_size, self.max_form_parts)
            form, files = multipart.parse(stream.read, boundary, self.stream_factory, content_length, *limits)
            return stream, form, files
        parser = MultiPartParser(
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            cls=self.cls,
            buffer_size=MULTIPART_READ_BYTES,
        )
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class _Bounded:
    """The first `length` bytes of the server's input stream, read as they come: what werkzeug's
    LimitedStream gives, without its two copies of every read (measured under functions-framework,
    5 MB: 2.8 ms of a 9.4 ms read and hash)."""

    def __init__(self, stream, length: int):
        self._stream, self._left = stream, length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._stream.read(self._left if size is None or size < 0 else min(size, self._left))
        self._left = self._left - len(data) if data else 0  # the client went away: end here
        return data

    def readable(self) -> bool:
        return True


class _GunicornSocketBody:
    """A request body gunicorn has not started reading, read from the connection's socket
    directly: gunicorn's Body and Unreader copy each read of a large body about six times over
    (BytesIO buffers and slices), 2.7 to 3.2 ms of a 5 MB body where the socket's own reads take
    1.4 to 1.6 ms (a bare gthread server on this machine, alternating). gunicorn's bookkeeping
    stays as its own reads keep it: what it read ahead with the headers comes first, no read goes
    past the body's end, every byte is counted off its LengthReader (so its drain of an unread
    rest, and the next request on the connection, start where they should), and a failed read
    marks the body failed (it then closes the connection). Any other shape: None, and
    gunicorn's own reads."""

    @classmethod
    def of(cls, stream, length: int) -> _GunicornSocketBody | None:
        try:
            from gunicorn.http.body import Body, LengthReader
            from gunicorn.http.unreader import SocketUnreader
        except ImportError:
            return None
        reader = getattr(stream, "reader", None)
        if type(stream) is not Body or type(reader) is not LengthReader:
            return None
        unreader = getattr(reader, "unreader", None)
        buffers = (getattr(stream, "buf", None), getattr(unreader, "buf", None))
        if type(unreader) is not SocketUnreader or not all(isinstance(b, io.BytesIO) for b in buffers):
            return None
        if stream.buf.tell() or reader.length != length or not hasattr(unreader, "sock"):
            return None  # some of the body was read already, through gunicorn
        return cls(stream, reader, unreader)

    def __init__(self, body, reader, unreader):
        self._body, self._reader, self._socket = body, reader, unreader.sock
        ahead = unreader.buf.getvalue()  # read with the headers; may run past the body (pipelining)
        unreader.buf = io.BytesIO()
        self._head = ahead[: reader.length]
        if len(ahead) > len(self._head):
            unreader.unread(ahead[len(self._head) :])  # the next request's: gunicorn's again
        reader.length -= len(self._head)

    def read(self, size: int) -> bytes:
        if self._head:
            out, self._head = self._head[:size], self._head[size:]
            return out
        want = min(size, self._reader.length)
        if want <= 0:
            return b""
        try:
            data = self._socket.recv(want)
        except BaseException:
            self._body.failed = True
            raise
        if not data:  # the client went away inside the body
            self._body.failed = True
        self._reader.length -= len(data)
        return data


class UploadRequest(flask.Request):
    """Spools each uploaded file into a HashingSpool: SHA-256 and size limit while reading, in
    one pass over the body (multipart parsing, hashing and the spool's write)."""

    max_file_bytes = 16 * 1024 * 1024
    spool_dir: str | None = None  # the local blob store's directory, when it is the blob store
    form_data_parser_class = _MultipartInLargeReads

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        large = (total_content_length or 0) > IN_MEMORY_BYTES
        return HashingSpool(self.max_file_bytes, self.spool_dir, on_disk=large)

    def _get_stream_for_parsing(self):
        # A body of declared length within the limit (checked before the request got here):
        # read straight from the server's stream, which ends with the body.
        length, limit = self.content_length, self.max_content_length
        plain = "chunked" not in self.environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        unread = getattr(self, "_cached_data", None) is None  # get_data() has not read it yet
        if plain and unread and length is not None and (limit is None or length <= limit):
            # Also the request's stream from now on: a parse cut short (a 413) leaves the rest of
            # the body to whoever reads it next (the framework's drain), from where it stopped.
            raw = self.environ["wsgi.input"]
            raw = _GunicornSocketBody.of(raw, length) or raw
            self.__dict__["stream"] = bounded = _Bounded(raw, length)
            return bounded
        return super()._get_stream_for_parsing()


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> flask.Response:
    return json_response({"error": message, "code": code}, status, headers)


def _log_rejection(status: int, code: str) -> None:
    # The upload function names its refusals upload_rejected (a log-based metric counts them).
    name = flask.current_app.config.get("REJECTION_EVENT", "request_rejected")
    log.event(name, severity="NOTICE", code=code, status=status, path=flask.request.path)


def _on_api_error(e: ApiError):
    if e.status < 500:
        _log_rejection(e.status, e.code)
    return error_response(e.status, e.code, e.message, e.headers)


def _on_backend_unavailable(e: BackendUnavailable):
    log.event("backend_unavailable", severity="WARNING", error=str(e), path=flask.request.path)
    return error_response(
        503, "backend_unavailable", "A storage backend is unavailable; try again shortly.", {"Retry-After": "10"}
    )


def _on_http_exception(e: HTTPException):
    code = _HTTP_CODES.get(e.code or 0, "http_error")
    if e.code and e.code < 500:
        _log_rejection(e.code, code)
    return error_response(e.code or 500, code, e.description or e.name)


def _on_unexpected(e: Exception):
    if isinstance(e, HTTPException):
        return _on_http_exception(e)
    log.event("unhandled_error", severity="ERROR", error=repr(e), stack=traceback.format_exc(), path=flask.request.path)
    return error_response(500, "internal_error", "Internal error; the failure was logged.")


def _refuse_large_bodies(app: flask.Flask, limit: int, read_streamed: bool) -> None:
    """413 for a body over `limit` before any other check (an unauthenticated request too):
    from its Content-Length, without reading it; a body without one (chunked), when
    `read_streamed`, is read here up to one byte past the limit and no further."""

    def refuse() -> ApiError:
        # Close: the rest of the body is never read, so the connection cannot carry another request.
        message = f"The request body is larger than {limit} bytes."
        return ApiError(413, "request_too_large", message, {"Connection": "close"})

    @app.before_request
    def check_body_size():
        request = flask.request
        length = request.content_length
        if length is not None and length > limit:
            raise refuse()
        environ = request.environ
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if read_streamed and length is None and chunked and environ.get("wsgi.input_terminated"):
            # The server ends the chunked stream; werkzeug's own read stops at the limit without
            # telling a body of exactly `limit` bytes from a longer one, so read one byte more.
            data = environ["wsgi.input"].read(limit + 1)
            if len(data) > limit:
                raise refuse()
            environ["wsgi.input"] = io.BytesIO(data)  # what the handler reads, now of known length
            environ["CONTENT_LENGTH"] = str(len(data))
            environ.pop("HTTP_TRANSFER_ENCODING", None)


def _drain_within_limits(response: flask.Response) -> flask.Response:
    """functions-framework's `read_request` hook, minus its crash on a body over the limit.

    The framework reads the rest of every request body after the response so the connection
    stays usable. For a body over MAX_CONTENT_LENGTH that read raises again and turns our 413
    into a 500; there we close the connection instead of reading megabytes we refused.
    """
    if not response.is_streamed:
        try:
            flask.request.get_data()
        except RequestEntityTooLarge:
            response.headers["Connection"] = "close"
    return response


def _swap_framework_drain(app: flask.Flask) -> None:
    # The framework registers its hook after our module is imported; intercept that registration.
    register = app.after_request

    def after_request(hook):
        if getattr(hook, "__module__", "") == "functions_framework" and hook.__name__ == "read_request":
            hook = _drain_within_limits
        return register(hook)

    app.after_request = after_request  # type: ignore[method-assign]


def _route_static_to_function(app: flask.Flask) -> None:
    # Flask gives every app a /static/<path> route over <working directory>/static, matched before
    # the function's catch-all: it would serve whatever lies there. Hand those requests to the
    # function like any other path (the status function serves its page's files itself).
    def static(filename):
        return app.view_functions["run"](f"static/{filename}")

    app.view_functions["static"] = static


def _install_trace(app: flask.Flask, project: str) -> None:
    """Bind the request's Cloud Trace id to every log line written while it is handled."""

    @app.before_request
    def bind_trace():
        trace = log.trace_from_header(flask.request.headers.get(log.TRACE_HEADER), project)
        if trace:
            scope = log.context(trace=trace)
            scope.__enter__()
            flask.g.trace_scope = scope

    @app.teardown_request
    def unbind_trace(_error):
        scope = flask.g.pop("trace_scope", None)
        if scope is not None:
            scope.__exit__(None, None, None)


def _install_metrics(app: flask.Flask, settings, caller_check) -> None:
    """GET /metrics in Prometheus' text format (METRICS_ENABLED; the local stack only: in
    production the log-based metrics of terraform/metrics.tf count the same events), to the
    callers the function's own check lets in: the API key, or the OCR function's OIDC token."""
    from common import metrics, services

    metrics.enable(queue_depth=lambda: services.get().jobs.count("queued"))

    @app.before_request
    def serve_metrics():
        if flask.request.method == "GET" and flask.request.path == "/metrics":
            caller_check(flask.request.headers, settings)  # 401/403 as for the function's own routes
            body, content_type = metrics.exposition()
            return flask.Response(body, content_type=content_type)
        return None


def install(
    app: flask.Flask,
    settings,
    rejection_event: str = "request_rejected",
    max_body_bytes: int | None = None,
    caller_check: Callable[[Any, Any], object] = auth.require_api_key,
) -> None:
    """Configure a functions-framework app; call it at import, where `flask.current_app` is it.
    `rejection_event`: the log event of a refused (4xx) request. `max_body_bytes`: the largest
    request body (default: an upload's, `settings.max_request_bytes`; SMALL_BODY_BYTES for the
    functions that take no files). `caller_check(headers, settings)`: who may read GET /metrics
    (raises ApiError 401/403 for anyone else)."""
    log.set_level(settings.log_level)
    app.config["REJECTION_EVENT"] = rejection_event
    _install_trace(app, settings.project_id)
    limit = settings.max_request_bytes if max_body_bytes is None else max_body_bytes
    _refuse_large_bodies(app, limit, read_streamed=max_body_bytes is not None)
    if settings.metrics_enabled:
        _install_metrics(app, settings, caller_check)
    app.config["MAX_CONTENT_LENGTH"] = limit  # checked as the body is read
    # Werkzeug applies this to its parser's buffer of any part, files included, so it must stay
    # well above its 64 KiB read size; text fields larger than this are refused with a 413.
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.config["MAX_FORM_PARTS"] = 50
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the seed's field order in status bodies
    spool_dir = None
    if settings.blob_store == "local":  # spooled uploads are then linked into place, never copied
        spool_dir = os.path.abspath(settings.local_blob_dir)
        os.makedirs(spool_dir, exist_ok=True)
    app.request_class = type(
        "UploadRequest", (UploadRequest,), {"max_file_bytes": settings.max_upload_bytes, "spool_dir": spool_dir}
    )
    _swap_framework_drain(app)
    _route_static_to_function(app)
    app.register_error_handler(ApiError, _on_api_error)
    app.register_error_handler(BackendUnavailable, _on_backend_unavailable)
    app.register_error_handler(HTTPException, _on_http_exception)
    app.register_error_handler(500, _on_unexpected)
    app.register_error_handler(Exception, _on_unexpected)


CORS_ALLOW_HEADERS = ("X-API-Key", "Content-Type")
CORS_EXPOSE_HEADERS = ("Location", "Retry-After")  # the page reads the status URL and the retry delay
CORS_MAX_AGE_SECONDS = 600


def _allowed_origin(origin: str, allowed: tuple[str, ...]) -> bool:
    # CORS_ALLOWED_ORIGINS is lower-cased when read (common.config); "*" only when set explicitly,
    # which is safe here: the API key travels in a header, never in a cookie.
    return bool(origin) and ("*" in allowed or origin.lower() in allowed)


def install_cors(app: flask.Flask, settings, methods: str) -> None:
    """Let pages on CORS_ALLOWED_ORIGINS call this function. flask-cors marks every response to an
    allowed origin, errors included (so the page can read a refusal's JSON too), and fills in the
    preflight's answer. functions-framework hands every method to the function, OPTIONS too, so
    a preflight is answered here, before any API key check (browsers never send credentials on a
    preflight): 204 for an allowed origin, a 403 JSON error for any other."""
    allowed = settings.cors_allowed_origins

    @app.before_request
    def preflight():
        request = flask.request
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        if not _allowed_origin(request.headers.get("Origin", ""), allowed):
            log.event("cors_refused", severity="NOTICE", origin=request.headers.get("Origin", ""), path=request.path)
            return error_response(403, "origin_not_allowed", "This origin is not in CORS_ALLOWED_ORIGINS.")
        return flask.Response(status=204)  # flask-cors adds the Access-Control-Allow-* headers

    if not allowed:
        return
    import flask_cors  # only the functions a page calls need it (functions/upload, functions/status)

    flask_cors.CORS(
        app,
        origins=list(allowed),
        methods=methods,
        allow_headers=list(CORS_ALLOW_HEADERS),
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=CORS_MAX_AGE_SECONDS,
        send_wildcard=True,  # "*" configured: answer "*", not the origin
        always_send=False,  # no Origin, no CORS headers
        vary_header=False,  # below, for every answer: flask-cors adds it only for several origins
        intercept_exceptions=False,  # error answers pass through after_request already
    )

    @app.after_request
    def vary(response: flask.Response) -> flask.Response:
        response.vary.add("Origin")  # the answer differs per origin: caches must keep them apart
        return response
