"""server.corked_http: a response leaves in one write, and closing or an upgrade loses nothing.

uvicorn's own protocol class runs here over a recording transport (no socket, no stack): the
bytes it would send, write by write."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from server.corked_http import CorkedHttpToolsProtocol, CorkedTransport


class Recorder:
    """Enough of an asyncio transport for uvicorn's HTTP protocol; records every write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.protocol: Any = None

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol


async def _app(scope: dict[str, Any], _receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body = f"hello {scope['path']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def _serve(requests: bytes) -> Recorder:
    config = Config(app=_app, lifespan="off", log_level="warning")
    loop = asyncio.get_running_loop()
    protocol = CorkedHttpToolsProtocol(
        config=config, server_state=ServerState(), app_state={}, _loop=loop
    )
    transport = Recorder()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(requests)
    await _turns(20)
    protocol.connection_lost(None)
    return transport


def test_a_response_leaves_in_one_write() -> None:
    transport = asyncio.run(_serve(b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n"))
    assert len(transport.writes) == 1
    head, body = transport.writes[0].split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 8" in head
    assert body == b"hello /a"


def test_pipelined_requests_get_every_response_in_order() -> None:
    requests = b"".join(f"GET /{n} HTTP/1.1\r\nhost: x\r\n\r\n".encode() for n in range(3))
    transport = asyncio.run(_serve(requests))
    sent = b"".join(transport.writes)
    assert sent.count(b"HTTP/1.1 200 OK") == 3
    assert sent.index(b"hello /0") < sent.index(b"hello /1") < sent.index(b"hello /2")
    assert len(transport.writes) <= 3


def test_writes_in_one_turn_are_joined_and_close_sends_what_is_held() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes], bool]:
        raw = Recorder()
        corked = CorkedTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        corked.write(b"head ")
        corked.write(b"")
        corked.write(b"body")
        assert raw.writes == []  # held until the turn ends
        assert corked.get_write_buffer_size() == 9
        await _turns()
        first = list(raw.writes)
        corked.write(b"last words")
        corked.close()  # before the turn ends: sent first, then closed
        await _turns()
        return first, raw.writes[1:], raw.closed

    first, after, closed = asyncio.run(scenario())
    assert first == [b"head body"]
    assert after == [b"last words"]
    assert closed


def test_abort_and_a_closed_connection_drop_what_is_held() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        loop = asyncio.get_running_loop()
        raw = Recorder()
        corked = CorkedTransport(raw, loop)  # type: ignore[arg-type]
        corked.write(b"never sent")
        corked.abort()
        await _turns()
        gone = Recorder()
        late = CorkedTransport(gone, loop)  # type: ignore[arg-type]
        late.write(b"too late")
        gone.closed = True  # the peer went away before the turn ended
        await _turns()
        return raw.writes, gone.writes

    aborted, late = asyncio.run(scenario())
    assert aborted == []
    assert late == []


def test_a_websocket_upgrade_gets_the_real_transport() -> None:
    async def scenario() -> tuple[Recorder, Any]:
        config = Config(
            app=_app,
            lifespan="off",
            log_level="warning",
            ws="realtime.uvicorn_ws:FrameWriterProtocol",
        )
        loop = asyncio.get_running_loop()
        protocol = CorkedHttpToolsProtocol(
            config=config, server_state=ServerState(), app_state={}, _loop=loop
        )
        transport = Recorder()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(
            b"GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
            b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
        )
        await _turns()
        return transport, protocol

    transport, protocol = asyncio.run(scenario())
    assert protocol.transport is transport
    assert transport.protocol is not None
    assert type(transport.protocol).__name__ == "FrameWriterProtocol"
    assert transport.protocol.transport is transport
