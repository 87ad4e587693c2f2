"""HTTP transport of the E-utilities stand-in: requests in, `Reply` bytes out.

What to answer is decided by `EutilsStandin.serve`; this module only reads requests and
writes replies, including the broken ones (a body cut short, a connection reset mid-body).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import replies

if TYPE_CHECKING:
    from .eutils import EutilsStandin


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    standin: EutilsStandin


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave together: no 40 ms delayed ACK
    server_version = "litwatch-eutils-standin"
    sys_version = ""
    server: Server

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the default prints request lines, API keys included

    def _handle(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
            body = self.rfile.read(length) if length > 0 else b""
            reply, fault = self.server.standin.serve(
                method, url.path, url.query, body, self.client_address[0]
            )
            if fault is not None and fault.kind == "truncate":
                self._send(cut(reply, fault.opts["at"]))
            elif fault is not None and fault.kind == "reset":
                self._send_then_reset(reply, fault.opts["at"])
            else:
                self._send(reply)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # the stand-in must answer, whatever it is sent
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(replies.html_error(500))

    def _headers(self, reply: replies.Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, reply: replies.Reply) -> None:
        self._headers(reply)
        self.wfile.write(reply.body)
        self.wfile.flush()

    def _send_then_reset(self, reply: replies.Reply, at: float | None) -> None:
        """Promise the whole body, send part of it, then reset the connection (RST)."""
        self._headers(reply)
        self.wfile.write(reply.body[: cut_at(reply, at)])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


def cut_at(reply: replies.Reply, at: float | None) -> int:
    """Where to cut: `at` (a fraction of the body), else the middle of the middle record."""
    if at is not None:
        return max(1, int(len(reply.body) * at))
    if reply.spans:
        start, end = reply.spans[len(reply.spans) // 2]
        return (start + end) // 2
    return max(1, len(reply.body) // 2)


def cut(reply: replies.Reply, at: float | None) -> replies.Reply:
    """The reply cut short, with a Content-Length that matches: well-formed HTTP, broken XML."""
    body = reply.body[: cut_at(reply, at)]
    return replies.Reply(reply.status, body, reply.content_type, reply.headers)
