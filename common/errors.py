"""The errors that cross module boundaries, each knowing how an HTTP client should see it."""

from __future__ import annotations


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
