"""The blob store port: receipts' bytes, written once under their content address.

Names are `<sha256>.<ext>`, so writing the same receipt twice is harmless and a name can never
point outside the store. Adapters: a local directory (embedded default) and Cloud Storage (the
same client talks to `gcp-storage-emulator` when STORAGE_EMULATOR_HOST is set).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import BinaryIO, Protocol

from common.errors import BackendUnavailable

_NAME = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{1,5}")


class BlobNotFound(Exception):
    pass


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a content-addressed blob name: {name!r}")
    return name


class BlobStore(Protocol):
    def put(self, name: str, data: BinaryIO, content_type: str) -> None:
        """Store the whole stream (from its start) under `name`; a no-op if the name exists."""

    def get(self, name: str) -> bytes: ...

    def exists(self, name: str) -> bool: ...

    def names(self) -> list[str]: ...

    def delete(self, name: str) -> None:
        """Erase the blob, every stored version of it included; a no-op if there is none."""


class LocalBlobStore:
    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, check_name(name))

    def put(self, name: str, data: BinaryIO, content_type: str) -> None:
        path = self._path(name)
        if os.path.exists(path):
            return
        # An upload spooled to disk (common.spool) is named in place: no second write of its bytes.
        link_to = getattr(data, "link_to", None)
        try:
            if link_to is not None and link_to(path):
                return
        except FileExistsError:
            return  # the same bytes arrived concurrently: the name is content-addressed
        # Write beside the target, then rename: a reader never sees half a receipt.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".partial-")
        data.seek(0)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(data, out, 1024 * 1024)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def get(self, name: str) -> bytes:
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise BlobNotFound(name) from None

    def exists(self, name: str) -> bool:
        return os.path.exists(self._path(name))

    def names(self) -> list[str]:
        return sorted(n for n in os.listdir(self.directory) if _NAME.fullmatch(n))

    def delete(self, name: str) -> None:
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            pass


def _transient_errors():
    from google.api_core import exceptions
    from google.auth.exceptions import TransportError

    # OSError covers the connection errors of requests (the client's HTTP library); RetryError is
    # what the client raises when its own retries (STORAGE_RETRY_SECONDS) run out on those.
    return exceptions.ServerError, exceptions.TooManyRequests, exceptions.RetryError, TransportError, OSError


class GcsBlobStore:
    def __init__(self, bucket: str, project: str, retry_seconds: int):
        from google.cloud import storage  # type: ignore[attr-defined]
        from google.cloud.storage.retry import DEFAULT_RETRY

        self._client = storage.Client(project=project)
        self._bucket = self._client.bucket(bucket)
        # The client's own retries absorb blips; past this, the task queue retries the job.
        self._retry = DEFAULT_RETRY.with_timeout(retry_seconds) if retry_seconds else None

    def put(self, name: str, data: BinaryIO, content_type: str) -> None:
        from google.api_core import exceptions

        blob = self._bucket.blob(check_name(name))
        data.seek(0)
        try:
            # if_generation_match=0: create only; an existing object already holds these bytes.
            blob.upload_from_file(data, content_type=content_type, if_generation_match=0, retry=self._retry)
        except exceptions.PreconditionFailed:
            return
        except _transient_errors() as e:
            raise BackendUnavailable(f"Cloud Storage write failed: {e}") from e

    def get(self, name: str) -> bytes:
        from google.api_core import exceptions

        try:
            return self._bucket.blob(check_name(name)).download_as_bytes(retry=self._retry)
        except exceptions.NotFound:
            raise BlobNotFound(name) from None
        except _transient_errors() as e:
            raise BackendUnavailable(f"Cloud Storage read failed: {e}") from e

    def exists(self, name: str) -> bool:
        return self._bucket.blob(check_name(name)).exists()

    def names(self) -> list[str]:
        return sorted(b.name for b in self._client.list_blobs(self._bucket))

    def delete(self, name: str) -> None:
        """The bucket is versioned: deleting the live object only makes it noncurrent (kept for
        noncurrent_retention_days), so erasure deletes each generation of the name. Cloud Storage's
        soft delete still holds deleted bytes for its retention (7 days by default)."""
        from google.api_core import exceptions

        check_name(name)
        try:
            versions = [b for b in self._client.list_blobs(self._bucket, prefix=name, versions=True) if b.name == name]
            for version in versions:
                try:
                    self._bucket.delete_blob(name, generation=version.generation, retry=self._retry)
                except exceptions.NotFound:
                    pass  # deleted meanwhile
        except _transient_errors() as e:
            raise BackendUnavailable(f"Cloud Storage delete failed: {e}") from e


def from_settings(settings) -> BlobStore:
    if settings.blob_store == "gcs":
        return GcsBlobStore(settings.gcs_bucket, settings.project_id, settings.storage_retry_seconds)
    return LocalBlobStore(settings.local_blob_dir)
