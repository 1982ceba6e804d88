"""The HTTP server under the app: uvicorn's h11 protocol with a bound on a request's head, and
a listening socket bound before anything says the server is up.

uvicorn answers a request head larger than h11's buffer with a 400 and closes at once; the
client, still sending the rest of its 200 KB URL, then sees its connection reset instead of
an answer. Here a request line over ``MAX_LINE`` bytes gets 414 and a head over ``MAX_HEAD``
bytes 431, and the connection is closed the way HTTP servers close on an error: the answer
sent, the sending side shut, what the client still sends read and dropped for a moment, then
closed, so the client reads the answer.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_LINE = 8 * 1024  # the request line (method, URL, version), as nginx and Apache
MAX_HEAD = 16 * 1024  # request line and header fields together, as h11's own default
LINGER_SECONDS = 2.0  # how long the rest of a refused request is read and dropped
LINGER_BYTES = 4 * 1024 * 1024


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering an oversized request head with 414 or 431."""

    refused = False

    def data_received(self, data: bytes) -> None:
        if self.refused:
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        if self.conn.their_state is h11.IDLE:  # reading a request's head
            head = self.conn.trailing_data[0] + data
            end, line = head.find(b"\r\n\r\n"), head.find(b"\r\n")
            if (line if line >= 0 else len(head)) > MAX_LINE:
                self._refuse(414)
                return
            if (end if end >= 0 else len(head)) > MAX_HEAD:
                self._refuse(431)
                return
        super().data_received(data)

    def _refuse(self, status: int) -> None:
        self.refused, self._dropped = True, 0
        self._unset_keepalive_if_required()
        reason = {414: b"URI Too Long", 431: b"Request Header Fields Too Large"}[status]
        body = {
            414: b'{"detail":"the request line is over %d bytes"}' % MAX_LINE,
            431: b'{"detail":"the request head is over %d bytes"}' % MAX_HEAD,
        }[status]
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
        # The client's end of sending (eof_received) closes sooner.
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self.transport.close)


def config(app: Any, host: str = "127.0.0.1", port: int = 8000) -> uvicorn.Config:
    """The uvicorn settings the API runs with, in production and in the tests."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=BoundedH11Protocol,
        h11_max_incomplete_event_size=MAX_HEAD + 1024,
        log_level="warning",
        server_header=False,
    )


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port; OSError if the port is taken or not allowed."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family)
