"""The WebSocket chat gateway: `/ws?token=<JWT>`, JSON text frames (see docs/chat.md).

Path of a message: the gateway validates it and hands it to ``domain.chat.send``, which
produces it to ``chat-messages`` (keyed by room, idempotent producer, acks=all); the sender is
acked once Kafka holds it. The chat-persist Flink job gives it the room's next seq, stores it,
and publishes it on the room's channel; every gateway process's ``Hub`` listens there and
delivers it to its subscribed sockets.

This module holds one socket's life: accept, authenticate, the read loop and its abuse limits.
``realtime.hub`` has connections and fan-out, ``realtime.handlers`` the frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from core.frames import Welcome
from domain import presence
from domain.auth import user_id_from_token
from domain.resources import Resources
from realtime.handlers import Handlers
from realtime.hub import Connection, Hub

# Which gateway process a socket landed on: shown in the welcome frame, for debugging and for
# the test that a message crosses from one process to another.
GATEWAY_ID = f"{socket.gethostname()}:{os.getpid()}"

MAX_FRAME_BYTES = 65_536
MAX_ERRORS = 50  # malformed frames tolerated per connection before it is closed as abuse
MAX_RATE_LIMITED = 50  # sends refused for the rate limit before a flood is closed as abuse

router = APIRouter()


class Gateway:
    """One per process: the hub and the handlers over the shared resources."""

    def __init__(self, res: Resources) -> None:
        self.res = res
        self.hub = Hub(res)
        self.handlers = Handlers(self.hub)

    async def close(self) -> None:
        await self.hub.close()

    async def serve(self, conn: Connection) -> None:
        hub, res = self.hub, self.res
        writer = asyncio.get_running_loop().create_task(conn.writer())
        await hub.add_user(conn)
        if await presence.socket_opened(res.redis, conn.user_id, res.settings.presence_ttl_s):
            hub.announce(conn.user_id, "online")
        # Welcome last: once a client has it, its presence and user channel are in place.
        conn.send(Welcome(user_id=conn.user_id, gateway=GATEWAY_ID))
        try:
            while True:
                text = await conn.websocket.receive_text()
                if len(text.encode()) > MAX_FRAME_BYTES:
                    await conn.websocket.close(
                        code=1009, reason=f"frames are at most {MAX_FRAME_BYTES} bytes"
                    )
                    return
                await self.handlers.handle_text(conn, text)
                if conn.errors > MAX_ERRORS:
                    await conn.websocket.close(code=1008, reason="too many malformed frames")
                    return
                if conn.rate_limited > MAX_RATE_LIMITED:
                    await conn.websocket.close(code=1008, reason="flooding past the rate limit")
                    return
        except WebSocketDisconnect:
            pass
        finally:
            for room_id in list(conn.rooms):
                await hub.part(conn, room_id)
            await hub.remove_user(conn)
            if await presence.socket_closed(res.redis, conn.user_id):
                hub.announce(conn.user_id, "offline")
            writer.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket, token: str | None = None) -> None:
    res: Resources = websocket.app.state.resources
    gateway: Gateway = websocket.app.state.gateway
    # Accept first: a close before the handshake would reach the client as an HTTP 403, and
    # the protocol promises a 1008 close it can read.
    await websocket.accept()
    user_id = user_id_from_token(res.settings, token or "")
    if user_id is None:
        await websocket.close(code=1008, reason="invalid or expired token")
        return
    await gateway.serve(Connection(websocket, user_id))
