import hashlib

import pytest

from common.errors import ApiError
from common.spool import HashingSpool


def test_hash_and_size_are_computed_while_writing():
    spool = HashingSpool(max_bytes=3_000_000)
    chunks = [b"a" * 700_000, b"b" * 700_000, b"c" * 5]  # crosses the in-memory threshold
    for chunk in chunks:
        spool.write(chunk)
    assert spool.size == 1_400_005
    assert spool.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()
    spool.seek(0)
    assert spool.read() == b"".join(chunks)


def test_the_limit_is_enforced_at_the_first_byte_too_many():
    spool = HashingSpool(max_bytes=10)
    spool.write(b"x" * 10)
    with pytest.raises(ApiError) as caught:
        spool.write(b"y")
    assert (caught.value.status, caught.value.code) == (413, "file_too_large")
