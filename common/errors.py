"""The errors that cross module boundaries, each knowing how an HTTP client should see it."""

from __future__ import annotations

# What a client is told about a file its decoder refuses; the decoder's own words (object
# addresses, parser internals) go to the log only.
IMAGE_UNREADABLE = "The image could not be decoded: the file is damaged or not a complete JPEG or PNG."
PDF_UNREADABLE = "The PDF could not be read: the file is damaged or not a complete PDF."


class ApiError(Exception):
    """A request the pipeline refuses: becomes `{"error": message, "code": code}` with `status`."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": self.message, "code": self.code}


class QueueUnavailable(Exception):
    """The queue could not take the task (backend down or timing out)."""


class BackendUnavailable(Exception):
    """A store or service we depend on is down or timing out: worth retrying later."""


class ReceiptUnreadable(Exception):
    """The stored file cannot give a receipt (no text, no PIX data): retrying will not help."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
