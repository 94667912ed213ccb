"""uvicorn's httptools protocol with each response leaving in one send.

uvicorn writes a response's status line and headers, then its body, as two
``transport.write`` calls, and uvloop sends each at once: two ``send`` syscalls and two
segments on the wire for every response, and two wake-ups of the client reading them. Under
the API benchmark those writes were a seventh of a worker's CPU (py-spy, bench/README.md).

Here the protocol hands uvicorn a transport that holds what is written within one turn of the
event loop and sends it with one write at the end of the turn: the head and body of a
response, and any responses to pipelined requests finished in the same turn. Nothing else
changes: closing sends what is held first, and a WebSocket upgrade gets the real transport
(the chat's fan-out writes frames itself, realtime/uvicorn_ws.py).

Run with ``uvicorn --http server.corked_http:CorkedHttpToolsProtocol``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CorkedTransport:
    """A transport whose writes within one turn of the event loop leave as one write."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        """Send what is held, if the connection is still open."""
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools), writing through a ``CorkedTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw_transport = transport
        corked: Any = CorkedTransport(transport, self.loop)
        super().connection_made(corked)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol writes to the socket itself; nothing of HTTP is held here
        # before an upgrade's reply, but send it first if there were.
        self.transport.flush()  # type: ignore[attr-defined]
        self.transport = self._raw_transport
        super().handle_websocket_upgrade()
