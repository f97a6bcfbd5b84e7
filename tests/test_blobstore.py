"""One contract, every blob store adapter: a local directory and Cloud Storage (emulator)."""

import hashlib
import io
import threading

import pytest

from common import blobstore, config


@pytest.fixture(params=["local", pytest.param("gcs", marks=pytest.mark.emulator)])
def store(request, local_env, monkeypatch):
    env = dict(local_env)
    if request.param == "gcs":
        env.update(request.getfixturevalue("gcs_env"))
    return blobstore.from_settings(config.from_env(env))


def name_of(data: bytes, ext: str = "png") -> str:
    return f"{hashlib.sha256(data).hexdigest()}.{ext}"


def test_put_then_get_returns_the_same_bytes(store):
    data = b"\x89PNG\r\n" + bytes(range(256)) * 300
    name = name_of(data)
    assert not store.exists(name)
    store.put(name, io.BytesIO(data), "image/png")
    assert store.exists(name)
    assert store.get(name) == data
    assert store.names() == [name]


def test_put_stores_the_whole_stream_whatever_its_position(store):
    stream = io.BytesIO(b"whole payload")
    stream.seek(6)
    name = name_of(b"whole payload")
    store.put(name, stream, "image/png")
    assert store.get(name) == b"whole payload"


def test_writing_the_same_content_twice_keeps_one_object(store):
    data = b"%PDF-1.4 same bytes"
    name = name_of(data, "pdf")
    store.put(name, io.BytesIO(data), "application/pdf")
    store.put(name, io.BytesIO(data), "application/pdf")
    assert store.names() == [name]
    assert store.get(name) == data


def test_concurrent_writes_of_one_blob_leave_it_whole(store):
    data = b"x" * 3_000_000
    name = name_of(data)
    threads = [threading.Thread(target=store.put, args=(name, io.BytesIO(data), "image/png")) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(name) == data


def test_missing_blob_raises_blob_not_found(store):
    with pytest.raises(blobstore.BlobNotFound):
        store.get(name_of(b"never stored"))


@pytest.mark.parametrize("bad", ["../etc/passwd", "a" * 64 + ".png/../../x", "ABC.png", "", "a" * 64])
def test_names_that_are_not_content_addresses_are_refused(store, bad):
    with pytest.raises(ValueError):
        store.put(bad, io.BytesIO(b"x"), "image/png")
    with pytest.raises(ValueError):
        store.get(bad)


def test_the_local_store_links_a_spooled_upload_instead_of_copying_it(tmp_path):
    import os

    from common.spool import HashingSpool

    store = blobstore.LocalBlobStore(str(tmp_path / "blobs"))
    data = os.urandom(1_500_000)
    spool = HashingSpool(max_bytes=2_000_000)
    spool.write(data)
    spool.seek(0)
    store.put(name_of(data, "pdf"), spool, "application/pdf")
    assert os.stat(tmp_path / "blobs" / name_of(data, "pdf")).st_nlink == 2  # linked, not written again
    spool.close()
    assert store.get(name_of(data, "pdf")) == data
    store.put(name_of(data, "pdf"), io.BytesIO(data), "application/pdf")  # again: a no-op


def test_cloud_storage_down_longer_than_the_client_retries_is_a_backend_failure(local_env, monkeypatch):
    """Nothing listens at the storage host: once the client's own retries (STORAGE_RETRY_SECONDS)
    run out it raises RetryError, which must count as the backend being down (an upload answers
    503 and a job is retried), not as a bug (a 500, a job failed for good)."""
    import socket

    from common.errors import BackendUnavailable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections to it are refused
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    store = blobstore.from_settings(config.from_env({**local_env, "BLOB_STORE": "gcs", "STORAGE_RETRY_SECONDS": "1"}))
    data = b"%PDF-1.4 unreachable"
    with pytest.raises(BackendUnavailable):
        store.put(name_of(data, "pdf"), io.BytesIO(data), "application/pdf")
    with pytest.raises(BackendUnavailable):
        store.get(name_of(data, "pdf"))


def test_delete_erases_the_blob_and_is_idempotent(store):
    data, other = b"receipt to erase", b"receipt to keep"
    store.put(name_of(data), io.BytesIO(data), "image/png")
    store.put(name_of(other), io.BytesIO(other), "image/png")
    store.delete(name_of(data))
    assert not store.exists(name_of(data))
    with pytest.raises(blobstore.BlobNotFound):
        store.get(name_of(data))
    assert store.names() == [name_of(other)]
    store.delete(name_of(data))  # nothing left to delete: no error
    store.put(name_of(data), io.BytesIO(data), "image/png")  # the same bytes can come back
    assert store.get(name_of(data)) == data


def test_delete_refuses_a_name_that_is_not_content_addressed(store):
    with pytest.raises(ValueError):
        store.delete("../jobs.sqlite3")
