"""Connections and fan-out: one ``Hub`` per gateway process.

Every gateway process listens on the room and user channels (core.wire) its sockets need,
through one Redis pub/sub connection, and forwards each frame to its local sockets. The
persistence job publishes stored messages there; the domain publishes room changes, typing and
presence. The hub also announces users whose presence ran out while their socket stayed open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable

from fastapi import WebSocket
from redis.asyncio.client import PubSub

from core import wire
from core.frames import ABOUT_A_USER_PREFIXES, Error, ServerFrame
from domain import presence
from domain.resources import Resources

log = logging.getLogger(__name__)

SEND_QUEUE = 1000  # frames buffered per socket before it is dropped as too slow


class Connection:
    def __init__(self, websocket: WebSocket, user_id: int) -> None:
        self.websocket = websocket
        self.user_id = user_id
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

    def send(self, frame: ServerFrame) -> None:
        self.push(frame.to_json())

    def error(self, code: str, message: str, ref: str | int | None = None) -> None:
        self.send(Error(code=code, message=message, ref=ref))

    async def writer(self) -> None:
        while True:
            frame = await self.outbox.get()
            await self.websocket.send_text(frame)


class Hub:
    """Local subscriptions of one process, fed by one Redis pub/sub connection."""

    def __init__(self, res: Resources) -> None:
        self.res = res
        self.rooms: dict[int, set[Connection]] = {}
        self.users: dict[int, set[Connection]] = {}
        self.pubsub: PubSub = res.redis.pubsub()
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self.lapsed: set[int] = set()  # connected, but their presence expired (no heartbeat)
        self._sweeper: asyncio.Task[None] | None = None

    async def close(self) -> None:
        for task in (self._sweeper, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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
            channel = wire.Channel.parse(str(message["channel"]))
            local = self.rooms if channel.kind == "room" else self.users
            self.fan_out(local.get(channel.id, ()), str(message["data"]))

    def fan_out(self, targets: Iterable[Connection], frame: str) -> None:
        about = None  # nobody is told about their own typing or presence
        if frame.startswith(ABOUT_A_USER_PREFIXES):
            about = json.loads(frame)["user_id"]
        for conn in list(targets):
            if conn.user_id == about:
                continue
            if not conn.push(frame):
                log.warning("user %s is too slow; closing its socket", conn.user_id)
                asyncio.get_running_loop().create_task(
                    conn.websocket.close(code=1013, reason="too slow: reconnect and resume")
                )

    def _ensure_listener(self) -> None:
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def join(self, conn: Connection, room_id: int) -> None:
        async with self._lock:
            local = self.rooms.setdefault(room_id, set())
            first = not local
            local.add(conn)
            conn.rooms.add(room_id)
            if first:
                await self.pubsub.subscribe(wire.room_channel(room_id))
            self._ensure_listener()

    async def part(self, conn: Connection, room_id: int) -> None:
        async with self._lock:
            local = self.rooms.get(room_id)
            conn.rooms.discard(room_id)
            if local is None:
                return
            local.discard(conn)
            if not local:
                del self.rooms[room_id]
                await self.pubsub.unsubscribe(wire.room_channel(room_id))

    async def add_user(self, conn: Connection) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        self.lapsed.discard(conn.user_id)  # a new socket sets presence again
        async with self._lock:
            local = self.users.setdefault(conn.user_id, set())
            if not local:
                await self.pubsub.subscribe(wire.user_channel(conn.user_id))
            local.add(conn)
            self._ensure_listener()

    async def remove_user(self, conn: Connection) -> None:
        async with self._lock:
            local = self.users.get(conn.user_id)
            if local is None:
                return
            local.discard(conn)
            if not local:
                del self.users[conn.user_id]
                self.lapsed.discard(conn.user_id)
                await self.pubsub.unsubscribe(wire.user_channel(conn.user_id))

    # -- presence ----------------------------------------------------------------------------

    def announce(self, user_id: int, status: presence.Status) -> None:
        """Tell friends and rooms in the background; a failure is logged, never raised."""

        async def run() -> None:
            try:
                await presence.announce(self.res.redis, self.res.db, user_id, status)
            except Exception:
                log.exception("could not announce %s as %s", user_id, status)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def heartbeat(self, user_id: int) -> None:
        await presence.refresh(self.res.redis, user_id, self.res.settings.presence_ttl_s)
        if user_id in self.lapsed:
            self.lapsed.discard(user_id)
            self.announce(user_id, "online")

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
                    self.announce(user_id, "offline")
