"""The API load generator's HTTP client: HTTP/1.1 keep-alive over asyncio, parsed in C.

httpx's async client costs about a millisecond of CPU per request (its transport stack, a
response model, header objects), as much as a lean server spends answering, so one httpx
process could not push the API past a few hundred requests a second and the benchmark measured
its own client. Here a connection is an ``asyncio.Protocol``; a request is one pre-formatted
``bytes`` write, and the response is parsed by httptools (llhttp, the parser uvicorn uses) into
a status and a body. One request at a time per connection, as a browser's keep-alive does.
"""

from __future__ import annotations

import asyncio
from typing import cast

import httptools


class ServerClosed(Exception):
    """The server closed the connection before the response was complete."""


class _Response:
    """httptools callbacks: the body of the response being read, and whether it is whole."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class _Protocol(asyncio.Protocol):
    """One TCP connection's life; a new one for every (re)connect."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.response = _Response()
        self.parser = httptools.HttpResponseParser(self.response)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass, but it is one in kind.
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)
        if self.response.done and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.response.body)))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ServerClosed(str(exc) if exc else "connection closed"))

    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()


class Connection:
    """One kept-alive connection; ``request`` waits for the whole response. A connection the
    server closed while idle (its keep-alive timeout) is opened again before the next request,
    as browsers do (``reconnects`` counts them); one closed during a request is an error."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.host = f"{host}:{port}".encode()
        self.reconnects = 0
        self._protocol: _Protocol | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        connection = cls(host, port)
        await connection._connect()
        return connection

    async def _connect(self) -> _Protocol:
        _, protocol = await asyncio.get_running_loop().create_connection(_Protocol, *self.address)
        self._protocol = protocol
        return protocol

    def head(self, method: str, target: str, headers: bytes, body: bytes | None = None) -> bytes:
        """The request's bytes. ``headers``: ``name: value\\r\\n`` lines."""
        lines = [f"{method} {target} HTTP/1.1\r\nhost: ".encode(), self.host, b"\r\n", headers]
        if body is not None:
            lines += [b"content-type: application/json\r\n", b"content-length: "]
            lines += [str(len(body)).encode(), b"\r\n\r\n", body]
        else:
            lines.append(b"\r\n")
        return b"".join(lines)

    async def request(
        self, method: str, target: str, headers: bytes = b"", body: bytes | None = None
    ) -> tuple[int, bytes]:
        """Send one request; returns (status, body)."""
        protocol = self._protocol
        if protocol is None or not protocol.usable():
            self.reconnects += 1
            protocol = await self._connect()
        protocol.response = _Response()
        protocol.parser = httptools.HttpResponseParser(protocol.response)
        protocol.waiter = asyncio.get_running_loop().create_future()
        if protocol.transport is None:
            raise ServerClosed("not connected")
        protocol.transport.write(self.head(method, target, headers, body))
        return await protocol.waiter

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
