"""Where an uploaded file's bytes land while the request is parsed: hashed and size-checked as
they are written, so the SHA-256 costs no second pass and the size limit holds before the whole
body has been read. Past IN_MEMORY_BYTES they go to a named temporary file, which a local blob
store can then link into place instead of writing the bytes a second time."""

from __future__ import annotations

import hashlib
import os
import tempfile

from common.errors import ApiError

IN_MEMORY_BYTES = 1024 * 1024  # larger uploads go to a temporary file


class HashingSpool(tempfile.SpooledTemporaryFile):
    """`directory`: where the file goes past IN_MEMORY_BYTES (the local blob store's own
    directory, so linking it into place never crosses a filesystem); `on_disk`: start there at
    once (a body known to be larger), with no first megabyte copied over from memory."""

    def __init__(self, max_bytes: int, directory: str | None = None, on_disk: bool = False):
        super().__init__(max_size=IN_MEMORY_BYTES, mode="w+b")
        self.max_bytes = max_bytes
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._directory = directory
        if on_disk:
            self.rollover()

    def write(self, data) -> int:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise ApiError(413, "file_too_large", f"The file is larger than the {self.max_bytes}-byte limit.")
        self._sha256.update(data)
        return super().write(data)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def rollover(self) -> None:
        # A named file (removed on close), not the anonymous one SpooledTemporaryFile makes:
        # only a name can be hard-linked, and not every kernel links /proc/self/fd/N.
        if self._rolled:  # type: ignore[has-type]
            return
        in_memory = self._file
        position = in_memory.tell()
        self._file = tempfile.NamedTemporaryFile(mode="w+b", prefix=".upload-", dir=self._directory)
        self._file.write(in_memory.getvalue())  # type: ignore[attr-defined]
        self._file.seek(position)
        self._rolled = True

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def link_to(self, path: str) -> bool:
        """Give the spooled file the name `path` too, instead of copying its bytes there: True
        when done; False when the bytes are still in memory or `path` is on another filesystem
        (then copy). FileExistsError when `path` exists."""
        if not self._rolled:
            return False
        try:
            self._file.flush()
            os.link(self._file.name, path)
        except FileExistsError:
            raise
        except OSError:
            return False
        return True
