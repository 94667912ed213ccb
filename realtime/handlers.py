"""The frame handlers: parse, call the domain, render its errors as error frames.

Each handler is thin: the work and the authorisation are the domain's (domain.chat,
domain.rooms). A ``DomainError`` becomes ``{"type":"error","code",...}`` with the error's code;
an invalid input is ``invalid_frame``, whatever the domain calls it. A store that is away
(``domain.errors.store_unavailable``) ends the socket: the gateway sends ``unavailable`` and
closes with 1013.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from core.frames import (
    CLIENT_FRAME,
    FRAME_TYPES,
    Ack,
    ClientFrame,
    Heartbeat,
    HeartbeatAck,
    History,
    HistoryPage,
    Resume,
    Send,
    Subscribe,
    Typing,
    Unsubscribe,
    Unsubscribed,
)
from domain import chat
from domain.errors import DomainError, Invalid, RateLimited, Unavailable, store_unavailable
from domain.rooms import require_participant
from realtime.hub import SENDS_WAITING, Connection, Hub


class StoreAway(Exception):
    """A frame met a store that is away: the gateway tells the client and closes with 1013."""

    def __init__(self, error: Unavailable, ref: str | int | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.ref = ref


class Handlers:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.res = hub.res
        self._table: dict[type, Callable[[Connection, Any], Awaitable[None]]] = {
            Subscribe: self.on_subscribe,
            Unsubscribe: self.on_unsubscribe,
            Send: self.on_send,
            Resume: self.on_resume,
            History: self.on_history,
            Typing: self.on_typing,
            Heartbeat: self.on_heartbeat,
        }

    async def on_subscribe(self, conn: Connection, frame: Subscribe) -> None:
        await require_participant(self.res, frame.room_id, conn.user_id, to="follow it")
        await self.hub.subscribe(conn, frame.room_id, frame.after_seq)

    async def on_unsubscribe(self, conn: Connection, frame: Unsubscribe) -> None:
        await self.hub.part(conn, frame.room_id)
        conn.send(Unsubscribed(room_id=frame.room_id))

    async def on_send(self, conn: Connection, frame: Send) -> None:
        """Admit the send now (body, rate) and queue it for ``run_sends``."""
        try:
            chat.admit(self.res, conn.user_id, frame.body)
        except RateLimited:
            conn.rate_limited += 1
            raise
        try:
            conn.sends.put_nowait(frame)
        except asyncio.QueueFull:
            raise DomainError(
                f"{SENDS_WAITING} sends are waiting for their acks; "
                "wait for some of them before sending more",
                code="busy",
            ) from None

    async def run_sends(self, conn: Connection) -> None:
        """A socket's sends, one at a time in the order they came, apart from its read loop.

        Each is produced once the one before it is acked, so a sender's messages keep their
        order. The read loop goes on meanwhile: while Kafka is slow or away, the socket still
        answers pings, heartbeats and typing, and a queued send is not counted against the
        rate limit again when it finally goes. Ends by raising StoreAway when a store is away.
        """
        while True:
            frame = await conn.sends.get()
            try:
                message_id = await chat.send(
                    self.res, conn.user_id, frame.room_id, frame.client_msg_id, frame.body
                )
            except DomainError as error:
                conn.error(error.code, error.message, frame.client_msg_id)
                continue
            except Exception as error:
                away = store_unavailable(error)
                if away is None:
                    raise
                raise StoreAway(away, frame.client_msg_id) from error
            conn.send(
                Ack(client_msg_id=frame.client_msg_id, message_id=message_id, room_id=frame.room_id)
            )

    async def on_resume(self, conn: Connection, frame: Resume) -> None:
        await require_participant(self.res, frame.room_id, conn.user_id, to="follow it")
        await self.hub.resume(conn, frame.room_id, frame.after_seq)

    async def on_history(self, conn: Connection, frame: History) -> None:
        page, more = await chat.history(
            self.res, conn.user_id, frame.room_id, frame.before_seq, limit=frame.limit
        )
        conn.send(HistoryPage(room_id=frame.room_id, messages=page, has_more=more))

    async def on_typing(self, conn: Connection, frame: Typing) -> None:
        await chat.typing(self.res, conn.user_id, frame.room_id)

    async def on_heartbeat(self, conn: Connection, frame: Heartbeat) -> None:
        del frame
        await self.hub.heartbeat(conn.user_id)
        conn.send(HeartbeatAck())

    async def handle_text(self, conn: Connection, text: str) -> None:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            conn.errors += 1
            conn.error("invalid_json", f"not JSON: {error.msg} at position {error.pos}")
            return
        ref = raw.get("client_msg_id") or raw.get("room_id") if isinstance(raw, dict) else None
        if not isinstance(ref, str | int) or isinstance(ref, bool):
            ref = None
        if not isinstance(raw, dict) or raw.get("type") not in FRAME_TYPES:
            conn.errors += 1
            kind = raw.get("type") if isinstance(raw, dict) else None
            conn.error(
                "unknown_type", f"unknown frame type {kind!r}; one of {', '.join(FRAME_TYPES)}", ref
            )
            return
        try:
            frame: ClientFrame = CLIENT_FRAME.validate_python(raw)
        except ValidationError as error:
            conn.errors += 1
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
            conn.error("invalid_frame", f"{where}: {first['msg']}", ref)
            return
        if not isinstance(frame, Resume):
            self.hub.close_windows(conn)
        try:
            await self._table[type(frame)](conn, frame)
        except DomainError as error:
            code = "invalid_frame" if isinstance(error, Invalid) else error.code
            conn.error(code, error.message, ref)
        except Exception as error:
            away = store_unavailable(error)
            if away is None:
                raise
            raise StoreAway(away, ref) from error
