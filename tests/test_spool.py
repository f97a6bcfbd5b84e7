import hashlib
import os

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


def test_a_spool_on_disk_is_linked_into_place_not_copied(tmp_path):
    spool = HashingSpool(max_bytes=5_000_000)
    spool.write(b"z" * 2_000_000)  # past the in-memory threshold: a named temporary file
    target = tmp_path / "blob"
    assert spool.link_to(str(target))
    assert os.stat(target).st_nlink == 2  # the spool's name and the blob's: one copy of the bytes
    spool.close()
    assert target.read_bytes() == b"z" * 2_000_000 and os.stat(target).st_nlink == 1


def test_a_spool_still_in_memory_is_not_linked(tmp_path):
    spool = HashingSpool(max_bytes=100)
    spool.write(b"small")
    assert not spool.link_to(str(tmp_path / "blob"))
    assert not (tmp_path / "blob").exists()


def test_a_body_known_to_be_large_is_spooled_on_disk_from_its_first_byte_in_the_given_directory(tmp_path):
    spool = HashingSpool(max_bytes=5_000_000, directory=str(tmp_path), on_disk=True)
    spool.write(memoryview(b"q" * 10))  # views of the parser's buffer are written as they are
    (name,) = os.listdir(tmp_path)
    assert name.startswith(".upload-")  # not a blob name: the blob store's listings skip it
    assert spool.link_to(str(tmp_path / "blob")) and spool.sha256 == hashlib.sha256(b"q" * 10).hexdigest()
    spool.close()
    assert os.listdir(tmp_path) == ["blob"]
