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
import logging
import os
import socket
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from core.frames import Welcome
from domain import presence
from domain.auth import user_id_from_token
from domain.errors import Unavailable, store_unavailable
from domain.resources import Resources
from realtime.handlers import Handlers, StoreAway
from realtime.hub import Connection, Hub

# Which gateway process a socket landed on: shown in the welcome frame, for debugging and for
# the test that a message crosses from one process to another.
GATEWAY_ID = f"{socket.gethostname()}:{os.getpid()}"

MAX_FRAME_BYTES = 65_536
MAX_ERRORS = 50  # malformed frames tolerated per connection before it is closed as abuse
MAX_RATE_LIMITED = 50  # sends refused for the rate limit before a flood is closed as abuse
TRY_AGAIN_LATER = 1013  # RFC 6455's close code for a server that cannot serve for now
FLUSH_BEFORE_CLOSE_S = 1.0
T = TypeVar("T")
log = logging.getLogger(__name__)

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
        sends = asyncio.get_running_loop().create_task(self._sends(conn))
        try:
            await hub.add_user(conn)
            if await presence.socket_opened(res.redis, conn.user_id, res.settings.presence_ttl_s):
                hub.announce(conn.user_id, "online")
            # Welcome last: once a client has it, its presence and user channel are in place.
            conn.send(Welcome(user_id=conn.user_id, gateway=GATEWAY_ID))
            await self._read(conn)
        except WebSocketDisconnect:
            pass
        except StoreAway as stopped:
            await _close_unavailable(conn, stopped.error, stopped.ref)
        except Exception as error:
            down = store_unavailable(error)
            if down is None:
                raise
            await _close_unavailable(conn, down, None)
        finally:
            for room_id in list(conn.rooms):
                await _tidy(hub.part(conn, room_id))
            await _tidy(hub.remove_user(conn))
            if await _tidy(presence.socket_closed(res.redis, conn.user_id)):
                hub.announce(conn.user_id, "offline")
            for task in (sends, writer):
                task.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await task

    async def _read(self, conn: Connection) -> None:
        """Frames until the client goes, or until it is closed for abuse."""
        while conn.websocket.application_state is WebSocketState.CONNECTED:
            # (The sends task may have closed the socket: a store went away.)
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

    async def _sends(self, conn: Connection) -> None:
        """The socket's queued sends (Handlers.run_sends); a store that is away closes it."""
        try:
            await self.handlers.run_sends(conn)
        except StoreAway as stopped:
            await _close_unavailable(conn, stopped.error, stopped.ref)
        except Exception:
            log.exception("the sends of user %s failed; closing the socket", conn.user_id)
            with contextlib.suppress(Exception):
                await conn.websocket.close(code=1011, reason="internal error")


async def _tidy(step: Awaitable[T]) -> T | None:
    """A clean-up step that may meet the store that just went away: logged, never raised, so
    the socket is still closed properly (presence keys expire by themselves)."""
    try:
        return await step
    except Exception as error:
        if store_unavailable(error) is None:
            raise
        log.warning("clean-up of a socket skipped: %s", error)
        return None


async def _close_unavailable(conn: Connection, away: Unavailable, ref: str | int | None) -> None:
    """Tell the client which store is away, then close with 1013 (try again later), so that it
    backs off and resumes instead of treating a dropped socket (1006) as a bug."""
    log.warning("closing a socket of user %s: %s", conn.user_id, away.message)
    conn.error(away.code, away.message, ref)
    if conn.frame_writer is None:  # the ASGI path queues frames: let the error go out first
        deadline = asyncio.get_running_loop().time() + FLUSH_BEFORE_CLOSE_S
        while not conn.outbox.empty() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
    with contextlib.suppress(Exception):
        await conn.websocket.close(code=TRY_AGAIN_LATER, reason=f"{away.service or 'a store'} away")


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
