"""tools/emulators.py: servers started on free ports, and started again on another port when the
one picked is taken before the server binds it (free_port picks, the server binds later: a race
`make up` and the test session's fixtures both lost once)."""

import socket

import pytest

from tests.helpers import need
from tools import emulators

pytestmark = pytest.mark.emulator


@pytest.mark.parametrize("start", ["redis", "firestore"])
def test_a_server_that_loses_its_port_at_start_is_started_on_another(tmp_path, monkeypatch, start):
    taken = socket.socket()  # another process got the first port picked (bound, not answering)
    taken.bind(("127.0.0.1", 0))
    lost = taken.getsockname()[1]
    picks = iter([lost])
    real_free_port = emulators.free_port
    monkeypatch.setattr(emulators, "free_port", lambda: next(picks, None) or real_free_port())
    spawned = []
    starter = {"redis": emulators.start_redis, "firestore": emulators.start_firestore}[start]
    try:
        server = need(lambda: starter(str(tmp_path / "logs"), on_spawn=spawned.append))
    finally:
        taken.close()
    try:
        port = int(server.host.rsplit(":", 1)[1])
        assert port != lost
        assert len(spawned) == 2 and spawned[0].poll() is not None and spawned[1] is server.process
        with open(server.log_path, errors="replace") as f:
            assert "already in use" in f.read().lower()
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        server.stop()


def test_a_server_that_fails_for_another_reason_is_not_retried(tmp_path):
    spawned = []
    with pytest.raises(RuntimeError, match="exited with") as raised:
        emulators.start_on_free_port(
            "broken",
            lambda port: (["sh", "-c", "echo no such option; exit 3"], lambda: False),
            str(tmp_path),
            on_spawn=spawned.append,
        )
    assert not isinstance(raised.value, emulators.PortLost) and len(spawned) == 1
