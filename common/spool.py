"""Where an uploaded file's bytes land while the request is parsed: hashed and size-checked as
they are written, so the SHA-256 costs no second pass and the size limit holds before the whole
body has been read."""

from __future__ import annotations

import hashlib
import tempfile

from common.errors import ApiError

IN_MEMORY_BYTES = 1024 * 1024  # larger uploads go to a temporary file


class HashingSpool(tempfile.SpooledTemporaryFile):
    def __init__(self, max_bytes: int):
        super().__init__(max_size=IN_MEMORY_BYTES, mode="w+b")
        self.max_bytes = max_bytes
        self.size = 0
        self._sha256 = hashlib.sha256()

    def write(self, data) -> int:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise ApiError(413, "file_too_large", f"The file is larger than the {self.max_bytes}-byte limit.")
        self._sha256.update(data)
        return super().write(data)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()
