"""uvicorn's sans-I/O WebSocket protocol with a synchronous frame writer for the fan-out.

Through ASGI, every frame to every socket is a coroutine: ``websocket.send_text`` -> Starlette
-> uvicorn's ``send`` -> websockets' framing -> ``transport.write``, plus the per-socket queue
and writer task that keep one slow socket from blocking the others. At 20 followers a message
that is twenty times that work, and it was most of the gateway's CPU under load.

This protocol puts one object in the ASGI scope, under ``scope["extensions"][FRAME_WRITER]``:
the protocol itself, with ``write_frame(data)`` that writes an already framed server message
straight to the socket's transport and returns the bytes still buffered for it. The hub frames
a message once and writes the same bytes to every follower (``realtime.hub``); a socket whose
buffer grows past its bound is closed as too slow, as the queue's bound did before. Without the
extension (another server, a test client) the hub falls back to the ASGI path.

Everything else (handshake, reads, pings, close) is uvicorn's, unchanged. Server frames are
never fragmented or compressed here (per-message deflate is off, see stack/services/api.py), so
a frame written beside the websockets state machine cannot confuse it.

Run with ``uvicorn --ws realtime.uvicorn_ws:FrameWriterProtocol``.
"""

from __future__ import annotations

import struct

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

FRAME_WRITER = "studyhub.frame_writer"


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented server TEXT frame (RFC 6455 5.2) around UTF-8 ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65_536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class FrameWriterProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The ASGI task is created but has not run yet: the scope can still be completed.
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][FRAME_WRITER] = {"writer": self}

    def write_frame(self, data: bytes) -> int:
        """Write one framed message; the bytes now buffered, or -1 if the socket is closing."""
        if not self.handshake_complete or self.close_sent or self.disconnected:
            return -1
        transport = self.transport
        if transport.is_closing():
            return -1
        transport.write(data)
        return transport.get_write_buffer_size()

    def close_now(self, code: int, reason: str) -> None:
        """Start the closing handshake without waiting for the socket to drain (too slow)."""
        if not self.handshake_complete or self.close_sent or self.transport.is_closing():
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
