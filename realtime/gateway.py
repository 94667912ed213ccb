"""The WebSocket chat gateway: `/ws?token=<JWT>`, JSON text frames (see docs/chat.md).

Path of a message: the gateway validates it and produces it to ``chat-messages`` (keyed by
room, idempotent producer, acks=all) and acks the sender once Kafka holds it. The chat-persist
Flink job gives it the room's next seq, stores it, and publishes it on ``room:{id}:messages``;
every gateway process listens there and delivers it to its subscribed sockets.

A resend with the same client_msg_id gets the first ack back and is not produced again
(``chat:ack:{room}:{user}:{client_msg_id}`` in Redis; the job's unique key catches the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from redis.asyncio.client import PubSub

from api.actions.chat import last_seq, messages_after, messages_before
from api.deps import Resources
from api.security import user_id_from_token
from core.events import ChatMessageSent
from realtime import presence
from realtime.frames import (
    CLIENT_FRAME,
    FRAME_TYPES,
    ClientFrame,
    Heartbeat,
    History,
    Resume,
    Send,
    Subscribe,
    Typing,
    Unsubscribe,
)
from realtime.presence import user_channel

log = logging.getLogger(__name__)

# Which gateway process a socket landed on: shown in the welcome frame, for debugging and for
# the test that a message crosses from one process to another.
GATEWAY_ID = f"{socket.gethostname()}:{os.getpid()}"

router = APIRouter()

MAX_FRAME_BYTES = 65_536
MAX_ERRORS = 50  # malformed frames tolerated per connection before it is closed as abuse
MAX_RATE_LIMITED = 50  # sends refused for the rate limit before a flood is closed as abuse
RESUME_PAGE = 500
SEND_QUEUE = 1000  # frames buffered per socket before it is dropped as too slow
ACK_KEY_TTL_S = 24 * 3600
PENDING_TTL_S = 30


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TokenBucket:
    """Per-user send limit: ``rate`` messages a second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 if allowed, else the seconds until a token is free."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Connection:
    def __init__(self, websocket: WebSocket, user_id: int, bucket: TokenBucket) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.bucket = bucket
        self.rooms: set[int] = set()
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=SEND_QUEUE)
        self.errors = 0
        self.rate_limited = 0

    def push(self, frame: str) -> bool:
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    def send(self, payload: dict[str, Any]) -> None:
        self.push(json.dumps(payload, separators=(",", ":")))

    def error(self, code: str, message: str, ref: object = None) -> None:
        self.send({"type": "error", "code": code, "message": message, "ref": ref})

    async def writer(self) -> None:
        while True:
            frame = await self.outbox.get()
            await self.websocket.send_text(frame)


class Gateway:
    """One per process: local subscriptions, fed by one Redis pub/sub connection."""

    def __init__(self, res: Resources) -> None:
        self.res = res
        self.rooms: dict[int, set[Connection]] = {}
        self.users: dict[int, set[Connection]] = {}
        self.buckets: dict[int, TokenBucket] = {}
        self.pubsub: PubSub = res.redis.pubsub()
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self.lapsed: set[int] = set()  # connected, but their presence expired (no heartbeat)
        self._sweeper: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    async def _listen(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except Exception:  # the connection dropped: resubscribe and go on
                log.exception("pub/sub listener failed; resubscribing")
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            kind, key, _ = str(message["channel"]).split(":", 2)
            local = self.rooms if kind == "room" else self.users
            self.fan_out(local.get(int(key), ()), str(message["data"]))

    def fan_out(self, targets: Iterable[Connection], frame: str) -> None:
        about = None  # nobody is told about their own typing or presence
        if frame.startswith(('{"type":"typing"', '{"type":"presence"')):
            about = json.loads(frame)["user_id"]
        for conn in list(targets):
            if conn.user_id == about:
                continue
            if not conn.push(frame):
                log.warning("user %s is too slow; closing its socket", conn.user_id)
                asyncio.get_running_loop().create_task(
                    conn.websocket.close(code=1013, reason="too slow: reconnect and resume")
                )

    async def join(self, conn: Connection, room_id: int) -> None:
        async with self._lock:
            local = self.rooms.setdefault(room_id, set())
            first = not local
            local.add(conn)
            conn.rooms.add(room_id)
            if first:
                await self.pubsub.subscribe(f"room:{room_id}:messages")
            if self._listener is None:
                self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def part(self, conn: Connection, room_id: int) -> None:
        async with self._lock:
            local = self.rooms.get(room_id)
            conn.rooms.discard(room_id)
            if local is None:
                return
            local.discard(conn)
            if not local:
                del self.rooms[room_id]
                await self.pubsub.unsubscribe(f"room:{room_id}:messages")

    async def add_user(self, conn: Connection) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        self.lapsed.discard(conn.user_id)  # a new socket sets presence again
        async with self._lock:
            local = self.users.setdefault(conn.user_id, set())
            if not local:
                await self.pubsub.subscribe(user_channel(conn.user_id))
            local.add(conn)
            if self._listener is None:
                self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def remove_user(self, conn: Connection) -> None:
        async with self._lock:
            local = self.users.get(conn.user_id)
            if local is None:
                return
            local.discard(conn)
            if not local:
                del self.users[conn.user_id]
                self.lapsed.discard(conn.user_id)
                await self.pubsub.unsubscribe(user_channel(conn.user_id))

    def _announce(self, user_id: int, status: presence.Status) -> None:
        async def run() -> None:
            try:
                await presence.announce(self.res.redis, self.res.db, user_id, status)
            except Exception:
                log.exception("could not announce %s as %s", user_id, status)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def bucket(self, user_id: int) -> TokenBucket:
        settings = self.res.settings
        if user_id not in self.buckets:
            self.buckets[user_id] = TokenBucket(settings.chat_rate_per_s, settings.chat_burst)
        return self.buckets[user_id]

    # -- frames ------------------------------------------------------------------------

    async def _require_member(self, conn: Connection, room_id: int) -> None:
        if not await self.res.rooms.is_participant(room_id, conn.user_id):
            raise FrameError(
                "not_participant", f"join room {room_id} first (POST /rooms/{room_id}/join)"
            )

    async def on_subscribe(self, conn: Connection, frame: Subscribe) -> None:
        await self._require_member(conn, frame.room_id)
        await self.join(conn, frame.room_id)
        conn.send(
            {
                "type": "subscribed",
                "room_id": frame.room_id,
                "last_seq": await last_seq(self.res, frame.room_id),
            }
        )

    async def on_unsubscribe(self, conn: Connection, frame: Unsubscribe) -> None:
        await self.part(conn, frame.room_id)
        conn.send({"type": "unsubscribed", "room_id": frame.room_id})

    async def on_send(self, conn: Connection, frame: Send) -> None:
        if not frame.body.strip():
            raise FrameError("invalid_frame", "body: a message cannot be empty")
        await self._require_member(conn, frame.room_id)
        wait = conn.bucket.take()
        if wait:
            conn.rate_limited += 1
            raise FrameError(
                "rate_limited",
                f"at most {self.res.settings.chat_rate_per_s:g} messages/s; retry in {wait:.1f}s",
            )
        redis = self.res.redis
        key = f"chat:ack:{frame.room_id}:{conn.user_id}:{frame.client_msg_id}"
        if not await redis.set(key, "pending", nx=True, ex=PENDING_TTL_S):
            existing = await redis.get(key)
            if existing and existing != "pending":
                self._ack(conn, frame, int(existing))
                return
            raise FrameError("in_flight", "this client_msg_id is being sent; wait for its ack")
        message_id = self.res.ids.next_id()
        event = ChatMessageSent(
            room_id=frame.room_id,
            message_id=message_id,
            sender_id=conn.user_id,
            client_msg_id=frame.client_msg_id,
            body=frame.body,
        )
        try:
            await self.res.publisher.publish_and_wait(event)
        except Exception as error:
            await redis.delete(key)
            raise FrameError("unavailable", "the message was not sent; send it again") from error
        await redis.set(key, message_id, ex=ACK_KEY_TTL_S)
        self._ack(conn, frame, message_id)

    @staticmethod
    def _ack(conn: Connection, frame: Send, message_id: int) -> None:
        conn.send(
            {
                "type": "ack",
                "client_msg_id": frame.client_msg_id,
                "message_id": message_id,
                "room_id": frame.room_id,
            }
        )

    async def on_resume(self, conn: Connection, frame: Resume) -> None:
        await self._require_member(conn, frame.room_id)
        if frame.room_id not in conn.rooms:
            await self.join(conn, frame.room_id)  # live messages from now on; no gap
        up_to = frame.after_seq
        while True:
            page = await messages_after(self.res, frame.room_id, up_to, limit=RESUME_PAGE)
            for message in page:
                conn.send(message)
            if page:
                up_to = int(page[-1]["seq"])
            if len(page) < RESUME_PAGE:
                break
        conn.send({"type": "resumed", "room_id": frame.room_id, "up_to_seq": up_to})

    async def on_history(self, conn: Connection, frame: History) -> None:
        await self._require_member(conn, frame.room_id)
        page = await messages_before(self.res, frame.room_id, frame.before_seq, limit=frame.limit)
        conn.send(
            {
                "type": "history",
                "room_id": frame.room_id,
                "messages": page,
                "has_more": bool(page) and int(page[0]["seq"]) > 1,
            }
        )

    async def on_typing(self, conn: Connection, frame: Typing) -> None:
        await self._require_member(conn, frame.room_id)
        payload = json.dumps(
            {"type": "typing", "room_id": frame.room_id, "user_id": conn.user_id},
            separators=(",", ":"),
        )
        # Through pub/sub, so participants on every gateway see it; clients expire it (~5 s).
        await self.res.redis.publish(f"room:{frame.room_id}:messages", payload)

    async def on_heartbeat(self, conn: Connection, frame: Heartbeat) -> None:
        del frame
        await presence.refresh(self.res.redis, conn.user_id, self.res.settings.presence_ttl_s)
        if conn.user_id in self.lapsed:
            self.lapsed.discard(conn.user_id)
            self._announce(conn.user_id, "online")
        conn.send({"type": "heartbeat_ack"})

    async def _sweep(self) -> None:
        """Announce users whose presence ran out (no heartbeat) while their socket is open."""
        interval = max(0.5, self.res.settings.presence_ttl_s / 10)
        while True:
            await asyncio.sleep(interval)
            users = [u for u in self.users if u not in self.lapsed]
            if not users:
                continue
            try:
                found = await presence.statuses(self.res.redis, users)
            except Exception:  # Redis away for a moment: try again next round
                log.exception("presence sweep failed")
                continue
            for user_id, status in found.items():
                if status == "offline":
                    self.lapsed.add(user_id)
                    self._announce(user_id, "offline")

    async def dispatch(self, conn: Connection, frame: ClientFrame) -> None:
        handlers: dict[type, Callable[[Connection, Any], Awaitable[None]]] = {
            Subscribe: self.on_subscribe,
            Unsubscribe: self.on_unsubscribe,
            Send: self.on_send,
            Resume: self.on_resume,
            History: self.on_history,
            Typing: self.on_typing,
            Heartbeat: self.on_heartbeat,
        }
        await handlers[type(frame)](conn, frame)

    async def serve(self, conn: Connection) -> None:
        writer = asyncio.get_running_loop().create_task(conn.writer())
        await self.add_user(conn)
        if await presence.socket_opened(
            self.res.redis, conn.user_id, self.res.settings.presence_ttl_s
        ):
            self._announce(conn.user_id, "online")
        # Welcome last: once a client has it, its presence and user channel are in place.
        conn.send({"type": "welcome", "user_id": conn.user_id, "gateway": GATEWAY_ID})
        try:
            while True:
                text = await conn.websocket.receive_text()
                if len(text.encode()) > MAX_FRAME_BYTES:
                    await conn.websocket.close(
                        code=1009, reason=f"frames are at most {MAX_FRAME_BYTES} bytes"
                    )
                    return
                await self.handle_text(conn, text)
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
                await self.part(conn, room_id)
            await self.remove_user(conn)
            if await presence.socket_closed(self.res.redis, conn.user_id):
                self._announce(conn.user_id, "offline")
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def handle_text(self, conn: Connection, text: str) -> None:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            conn.errors += 1
            conn.error("invalid_json", f"not JSON: {error.msg} at position {error.pos}")
            return
        ref = raw.get("client_msg_id") or raw.get("room_id") if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or raw.get("type") not in FRAME_TYPES:
            conn.errors += 1
            kind = raw.get("type") if isinstance(raw, dict) else None
            conn.error(
                "unknown_type", f"unknown frame type {kind!r}; one of {', '.join(FRAME_TYPES)}", ref
            )
            return
        try:
            frame = CLIENT_FRAME.validate_python(raw)
        except ValidationError as error:
            conn.errors += 1
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
            conn.error("invalid_frame", f"{where}: {first['msg']}", ref)
            return
        try:
            await self.dispatch(conn, frame)
        except FrameError as error:
            conn.error(error.code, error.message, ref)


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
    await gateway.serve(Connection(websocket, user_id, gateway.bucket(user_id)))
