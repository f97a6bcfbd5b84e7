"""The status function's browser side: the upload page and the jobs dashboard (plain files under
functions/status/static/, no build step, nothing from a CDN) and the `GET /jobs` listing that the
dashboard reads."""

from __future__ import annotations

import hashlib
import html
import mimetypes
import os
import re
from typing import Any
from urllib.parse import urlsplit

import flask

from common import job, jobstore
from common.errors import ApiError

# One flat folder; a name may not start with a dot and has no slash, so no path leaves it.
_STATIC_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
DEFAULT_LIMIT, MAX_LIMIT = 20, 100


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _file_response(data: bytes, mimetype: str) -> flask.Response:
    response = flask.Response(data, mimetype=mimetype)
    # Revalidate every time, by content: deployed zips carry one fixed timestamp, so a date-based
    # validator would never change. The files are small; a 304 costs almost nothing.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    return response.make_conditional(flask.request)  # type: ignore[return-value]


# The review page shows the receipt it fetched (GET /jobs/<id>/file, with the API key, so as a
# blob: URL): an image in an <img>, a PDF in an <iframe> (the browser's own viewer). Only that
# page may show blob: images and frames; no page may show anything from elsewhere.
RECEIPT_VIEWER_PAGES = {"review.html"}


def page(static_dir: str, name: str, settings) -> flask.Response:
    """An HTML page with the upload function's URL filled in (empty: the page says uploads are off)."""
    with open(os.path.join(static_dir, name), encoding="utf-8") as f:
        text = f.read().replace("{{UPLOAD_URL}}", html.escape(settings.upload_url, quote=True))
    response = _file_response(text.encode(), "text/html")
    connect = " ".join(o for o in ("'self'", _origin(settings.upload_url)) if o)
    viewer = name in RECEIPT_VIEWER_PAGES
    images = "'self' data: blob:" if viewer else "'self' data:"
    frames = "frame-src blob:; " if viewer else ""
    # Only our own files run; the page talks to nothing but its own function and the upload.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; {frames}connect-src {connect}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def static_file(static_dir: str, name: str) -> flask.Response:
    path = os.path.join(static_dir, name)
    if not _STATIC_NAME.fullmatch(name) or not os.path.isfile(path):
        raise ApiError(404, "not_found", f"No static file {name[:100]!r}.")
    with open(path, "rb") as f:
        data = f.read()
    extension = os.path.splitext(name)[1].lower()
    return _file_response(data, _TYPES.get(extension) or mimetypes.guess_type(name)[0] or "application/octet-stream")


def receipt_file(blobs, doc: job.Job) -> flask.Response:
    """`GET /jobs/<id>/file`: the receipt itself, for a reviewer to see beside its fields. Shown in
    the browser, never stored by it, never sniffed into something else, and nothing in it runs (a
    PDF's scripts, an SVG's): the CSP allows no source at all and sandboxes the document."""
    from common.blobstore import BlobNotFound

    try:
        data = blobs.get(doc["blob_name"])
    except BlobNotFound:
        raise ApiError(404, "file_not_found", "The receipt's file is gone (erased or expired).") from None
    response = flask.Response(data, mimetype=doc["content_type"])
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def list_jobs(store: jobstore.JobStore, args, tenant: str) -> dict[str, Any]:
    """`GET /jobs?status=&needs_review=&limit=&cursor=`: one page of the tenant's jobs (newest
    first, as their status JSON; with `needs_review=true` the review queue, oldest first), the
    cursor of the next page (null on the last) and the number of its jobs in each status and
    awaiting review."""
    status = args.get("status", "")
    needs_review = args.get("needs_review", "")
    if needs_review not in ("", "true"):
        raise ApiError(400, "invalid_needs_review", "needs_review must be true (or left out).")
    if status and status not in job.STATUSES:
        raise ApiError(400, "invalid_status", f"status must be one of {', '.join(job.STATUSES)}.")
    raw_limit = args.get("limit", "")
    if raw_limit and not (raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT):
        raise ApiError(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    limit = int(raw_limit) if raw_limit else DEFAULT_LIMIT
    cursor = args.get("cursor") or None
    docs: list[job.Job]
    try:
        if needs_review and status not in ("", job.FINISHED):
            docs, next_cursor = [], None  # only finished jobs await a review
            if cursor:
                jobstore.decode_cursor(cursor)  # a bad one is refused all the same
        elif needs_review:
            docs, next_cursor = store.review_page(limit, cursor, tenant=tenant)
        else:
            docs, next_cursor = store.page(status or None, limit, cursor, tenant=tenant)
    except jobstore.BadCursor:
        raise ApiError(400, "invalid_cursor", "cursor must be a next_cursor this endpoint returned.") from None
    return {
        "jobs": [job.status_json(doc) for doc in docs],
        "next_cursor": next_cursor,
        "counts": {
            **{s: store.count(s, tenant=tenant) for s in job.STATUSES},
            "needs_review": store.count_needs_review(tenant=tenant),
        },
    }
