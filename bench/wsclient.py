"""The load generator's WebSocket client: picows, frames parsed and masked in C.

A pure-Python client (websockets' asyncio one: a parser generator, a receive queue and a task
wake-up per frame) cost the generator as much CPU per delivered frame as the gateway spent
sending it, so at a few thousand messages/s the generator was the limit it must not be. Here a
frame is one synchronous callback with its payload as bytes; nothing is queued.

``open_socket`` connects and runs the target's opening (for studyhub a subscribe and its
reply; for Centrifugo a connect and a subscribe), each step waiting for its reply, and hands
every later text frame to ``on_text`` with its arrival time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

# A step of a socket's opening: the frame to send, and whether a received frame is its reply
# (raising if the server refused).
Step = tuple[str, Callable[[bytes], bool]]
OnText = Callable[[bytes, float], None]


class SocketClosed(Exception):
    """The server closed the socket; ``code`` is its close code, None if there was no frame."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed {code}" if code is not None else "closed")
        self.code = code


class Socket(WSListener):
    def __init__(self, on_text: OnText, steps: int) -> None:
        self.transport: WSTransport | None = None
        self.on_text = on_text
        self.close_code: int | None = None
        self.closed = False
        self._reply: tuple[Callable[[bytes], bool], asyncio.Future[None]] | None = None
        self._steps_left = steps
        self._opening = steps > 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.TEXT:
            data: bytes = frame.get_payload_as_bytes()
            if self._opening:
                if self._reply is None:
                    return  # between steps: still the opening's
                matches, done = self._reply
                try:
                    if matches(data):
                        self._reply = None
                        self._steps_left -= 1
                        self._opening = self._steps_left > 0  # the next frame is the load's
                        done.set_result(None)
                except (RuntimeError, ValueError) as error:  # refused, or not JSON
                    self._reply = None
                    done.set_exception(error)
            else:
                self.on_text(data, time.perf_counter())
        elif kind == WSMsgType.CLOSE:
            self.close_code = frame.get_close_code().value
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        del transport
        self.closed = True
        if self._reply is not None and not self._reply[1].done():
            self._reply[1].set_exception(SocketClosed(self.close_code))

    def send(self, text: str) -> None:
        if self.closed or self.transport is None:
            raise SocketClosed(self.close_code)
        self.transport.send(WSMsgType.TEXT, text.encode())

    async def step(self, frame: str, matches: Callable[[bytes], bool], timeout: float) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reply = (matches, done)
        self.send(frame)
        await asyncio.wait_for(done, timeout)

    async def close(self) -> None:
        if self.transport is None or self.closed:
            return
        self.transport.send_close()
        self.transport.disconnect()
        await self.transport.wait_disconnected()


async def open_socket(
    url: str, opening: Sequence[Step], on_text: OnText, timeout: float = 30
) -> Socket:
    """A connected socket with its opening done; every text frame after it goes to ``on_text``
    (the frames before and between the steps' replies are the opening's, and dropped)."""
    _, socket = await ws_connect(
        lambda: Socket(on_text, len(opening)),
        url,
        websocket_handshake_timeout=timeout,
        max_frame_size=2**20,
    )
    if not isinstance(socket, Socket):
        raise TypeError(f"picows returned {type(socket).__name__}, not the listener asked for")
    for frame, matches in opening:
        await socket.step(frame, matches, timeout)
    return socket
