"""A loopback HTTP proxy that injects failures in front of a real service (an emulator), so
tests can break the network boundary while the real client libraries stay in the loop.

    proxy = FaultProxy("127.0.0.1:9023").start()
    proxy.fail(times=1, status=503, when=lambda method, path: "alt=media" in path)
    ...  # point the client at proxy.url
    proxy.stop()
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self._faults: list[list] = []  # [times left, status, predicate]
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = proxy._injected(self.command, self.path)
                if status:
                    payload = b'{"error": {"code": %d, "message": "injected fault"}}' % status
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                else:
                    status = self._forward(body)
                with proxy._lock:
                    proxy.requests.append((self.command, self.path, status))

            def _forward(self, body: bytes) -> int:
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()
                return answer.status

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, times: int, status: int = 503, when: Callable[[str, str], bool] = lambda m, p: True) -> None:
        """Answer the next `times` matching requests with `status` instead of forwarding them."""
        with self._lock:
            self._faults.append([times, status, when])

    def _injected(self, method: str, path: str) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault[0] > 0 and fault[2](method, path):
                    fault[0] -= 1
                    return fault[1]
        return None


class TcpProxy:
    """A loopback TCP relay in front of a service that speaks anything over TCP (the Firestore
    emulator's gRPC, Redis). `cut()` closes every open connection and stops listening, so clients
    see their connections drop and new ones refused, as if the service had crashed, while the
    service itself (an in-memory emulator) keeps its data; `restore()` listens again on the same
    port, so clients reconnect on their own.

    proxy = TcpProxy("127.0.0.1:8080")   # then point clients at proxy.host
    proxy.cut(); ...; proxy.restore()
    """

    def __init__(self, upstream: str):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.port = 0
        self._lock = threading.Lock()
        self._sockets: set = set()
        self._listener = None
        self._listen()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def _listen(self) -> None:
        import socket

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        import socket

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    continue
                self._sockets |= {client, upstream}
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source, target) -> None:
        import socket

        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._lock:
            for s in (source, target):
                if s in self._sockets:
                    self._sockets.discard(s)
                    s.close()

    def cut(self) -> None:
        import socket

        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets = list(self._sockets)
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in its thread
            except OSError:
                pass
            listener.close()
        for s in open_sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self) -> None:
        if self._listener is None:
            self._listen()

    def stop(self) -> None:
        self.cut()
