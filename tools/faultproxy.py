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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

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

    def start(self) -> "FaultProxy":
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
