"""Connections and fan-out: one ``Hub`` per gateway process.

Every gateway process listens on the room and user channels (core.wire) its sockets need,
through one Redis pub/sub connection, and forwards each frame to its local sockets. The
persistence job publishes stored messages there; the domain publishes room changes, typing and
presence. The hub also announces users whose presence ran out while their socket stayed open.

Each socket follows a room through a ``Feed``: the highest seq it has been sent, and, while a
backlog is read from MySQL, the live frames held back. The recovery (subscribe with after_seq,
resume) is:
1. hold the room's live frames for this socket;
2. subscribe the process to the room's channel and wait for Redis to confirm it: from then on
   every frame the job publishes reaches the hold;
3. read the backlog after the socket's position from MySQL and send it;
4. release the hold in order, dropping what the backlog covered.
A frame published before step 2 took effect was committed before it, so step 3 finds it: no
gap, no duplicate, one order. A gap seen later in the live stream (the pub/sub connection
dropped for a moment) is filled the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from fastapi import WebSocket
from redis.asyncio.client import PubSub

from core import wire
from core.frames import (
    ABOUT_A_USER_PREFIXES,
    MASKED_SUFFIX,
    Error,
    Resumed,
    Send,
    SeqRange,
    ServerFrame,
    Subscribed,
)
from domain import chat, presence
from domain.errors import Unavailable
from domain.monitoring import timings
from domain.resources import Resources
from realtime.uvicorn_ws import FRAME_WRITER, text_frame

log = logging.getLogger(__name__)

SEND_QUEUE = 1000  # frames queued (or held) per socket before it is dropped as too slow
SENDS_WAITING = 200  # a socket's sends queued for their acks (20 s at the rate limit)
MAX_BUFFERED_BYTES = 1 << 20  # bytes the transport buffers for a socket before it is too slow
TOO_SLOW = "too slow: reconnect and resume"
BACKLOG_PAGE = 500
CONFIRM_TIMEOUT_S = 5.0
ANNOUNCE_GATHER_S = 0.02  # presence changes gathered this long into one batch
ANNOUNCE_BATCH = 200
MESSAGE_PREFIX = '{"type":"message"'


@dataclass
class Feed:
    """One socket's view of one room."""

    delivered: int = 0  # the highest seq sent, or the position the socket starts after
    live_from: int = 0  # every seq after this one has been sent, in order
    held: list[tuple[int | None, str]] | None = field(default_factory=list)  # None: live
    window: asyncio.TimerHandle | None = None  # a plain subscribe waiting for a resume
    fresh: bool = True  # no position yet

    def start_after(self, seq: int) -> None:
        self.delivered = self.live_from = seq
        self.fresh = False


def message_seq(frame: str) -> int | None:
    """The seq of a message frame, None for every other frame on a room channel."""
    if not frame.startswith(MESSAGE_PREFIX):
        return None
    return int(json.loads(frame)["seq"])


def masked_author(frame: str) -> int | None:
    """The author of a masked message frame (they are sent their own words instead)."""
    return int(json.loads(frame)["user_id"]) if frame.endswith(MASKED_SUFFIX) else None


def _room_frame(frame: str) -> tuple[int | None, int | None, int | None, str | None]:
    """What the fan-out needs of a room frame, parsed once however many follow the room: a
    message's seq, the user a frame is about (not sent to them), a masked message's author
    and a message's ``created_at``."""
    if frame.startswith(MESSAGE_PREFIX):
        message = json.loads(frame)
        author = int(message["user_id"]) if frame.endswith(MASKED_SUFFIX) else None
        return int(message["seq"]), None, author, str(message["created_at"])
    if frame.startswith(ABOUT_A_USER_PREFIXES):
        return None, int(json.loads(frame)["user_id"]), None, None
    return None, None, None, None


def _ms_since(wire_time: str | None) -> float:
    """Milliseconds from a frame's ``created_at`` (core.frames.wire_time) to now."""
    if wire_time is None:
        return 0.0
    return (time.time() - datetime.fromisoformat(wire_time).timestamp()) * 1000


def plan(after_seq: int, last_seq: int, limit: int) -> tuple[int, SeqRange | None]:
    """Where a recovery starts, and the range it leaves out (more than ``limit`` behind)."""
    if last_seq - after_seq <= limit:
        return after_seq, None
    start = last_seq - limit
    return start, SeqRange(from_seq=after_seq + 1, to_seq=start)


class FrameWriter(Protocol):
    """What realtime.uvicorn_ws puts in the scope: synchronous writes of framed messages."""

    def write_frame(self, data: bytes) -> int: ...

    def close_now(self, code: int, reason: str) -> None: ...


class Connection:
    """One socket. Frames go out through the server's frame writer when it offers one (one
    ``transport.write`` of bytes framed once per message, however many follow it), otherwise
    through a bounded queue and a writer task on the ASGI path."""

    def __init__(self, websocket: WebSocket, user_id: int) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.rooms: set[int] = set()
        self.feeds: dict[int, Feed] = {}
        extension = (websocket.scope.get("extensions") or {}).get(FRAME_WRITER)
        self.frame_writer: FrameWriter | None = extension["writer"] if extension else None
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=SEND_QUEUE)
        self.sends: asyncio.Queue[Send] = asyncio.Queue(maxsize=SENDS_WAITING)
        self.errors = 0
        self.rate_limited = 0
        self.closing = False

    def push(self, frame: str, data: bytes | None = None) -> bool:
        """Queue or write one frame (``data``: it already framed); False if it is too slow."""
        if self.frame_writer is not None:
            buffered = self.frame_writer.write_frame(data or text_frame(frame.encode()))
            return buffered <= MAX_BUFFERED_BYTES  # -1: closing, nothing more to deliver
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    def send(self, frame: ServerFrame) -> None:
        self.push(frame.to_json())

    def error(self, code: str, message: str, ref: str | int | None = None) -> None:
        self.send(Error(code=code, message=message, ref=ref))

    def close_slow(self) -> None:
        if self.closing:
            return
        self.closing = True
        log.warning("user %s is too slow; closing its socket", self.user_id)
        if self.frame_writer is not None:
            self.frame_writer.close_now(1013, TOO_SLOW)
        else:
            asyncio.get_running_loop().create_task(self.websocket.close(code=1013, reason=TOO_SLOW))

    async def writer(self) -> None:
        """The ASGI path's writer (returns at once when frames are written directly)."""
        if self.frame_writer is not None:
            return
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
        self._confirmed: dict[str, asyncio.Event] = {}  # channel -> Redis confirmed it
        self._announcements: dict[int, presence.Status] = {}
        self._announce_wanted = asyncio.Event()
        self._announcer: asyncio.Task[None] | None = None

    async def close(self) -> None:
        for task in (self._sweeper, self._listener, self._announcer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # untyped before redis 8.2

    async def _listen(self) -> None:
        failing_since: float | None = None
        while True:
            try:
                message = await self.pubsub.get_message(timeout=1.0)
            except Exception as error:  # the connection dropped: resubscribe and go on
                # Once per outage with the traceback, not every half second while Redis is away.
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.exception("pub/sub listener failed; resubscribing every 0.5 s")
                else:
                    log.debug("pub/sub listener still failing: %s", error)
                await asyncio.sleep(0.5)
                continue
            if failing_since is not None:
                log.warning("pub/sub listener back after %.1f s", time.monotonic() - failing_since)
                failing_since = None
            if message is None:
                continue
            name = str(message["channel"])
            if message["type"] == "subscribe":
                self._confirmed.setdefault(name, asyncio.Event()).set()
                continue
            if message["type"] != "message":
                continue
            channel = wire.Channel.parse(name)
            frame = str(message["data"])
            if channel.kind == "room":
                self.fan_out_room(channel.id, frame)
            else:
                self.fan_out(self.users.get(channel.id, ()), frame)

    def _deliver(self, conn: Connection, frame: str, data: bytes | None = None) -> None:
        if not conn.push(frame, data):
            conn.close_slow()

    def fan_out(self, targets: Iterable[Connection], frame: str) -> None:
        about = None  # nobody is told about their own typing or presence
        if frame.startswith(ABOUT_A_USER_PREFIXES):
            about = json.loads(frame)["user_id"]
        data = text_frame(frame.encode())
        for conn in list(targets):
            if conn.user_id != about:
                self._deliver(conn, frame, data)

    def fan_out_room(self, room_id: int, frame: str) -> None:
        """A room frame to each follower: in seq order, each seq once, holds respected. A
        message's live deliveries, their latency (from the gateway's accept, ``created_at``)
        and the ones a socket was too slow for go to the monitor (domain.monitoring.timings)."""
        seq, about, author, accepted = _room_frame(frame)
        data = text_frame(frame.encode())  # framed once, written to every follower
        delivered = dropped = 0
        for conn in list(self.rooms.get(room_id, ())):
            feed = conn.feeds.get(room_id)
            if feed is None or conn.user_id == about:
                continue
            if conn.closing:  # closed as too slow: its reader misses this one and must resume
                dropped += seq is not None
                continue
            if feed.held is not None:
                if len(feed.held) >= SEND_QUEUE:
                    conn.close_slow()  # cannot hold more: treat as too slow
                    dropped += seq is not None
                    continue
                feed.held.append((seq, frame))
            elif seq is None:
                self._deliver(conn, frame, data)
            elif seq <= feed.delivered:
                continue  # a replay after a job restore: the socket has it
            elif seq == feed.delivered + 1 and conn.user_id != author:
                feed.delivered = seq
                if conn.push(frame, data):
                    delivered += 1
                else:
                    dropped += 1
                    conn.close_slow()
            else:
                # A gap (the pub/sub connection dropped a moment), or the author of a masked
                # message, whose own words are in MySQL: read from there, in order.
                feed.held = [(seq, frame)]
                self._spawn(self._backfill(conn, room_id, feed))
        self._record(accepted, delivered, dropped)

    def _record(self, accepted: str | None, delivered: int, dropped: int) -> None:
        if delivered:
            self.res.timings.count(timings.DELIVERED, delivered)
            self.res.timings.observe(timings.DELIVERY, _ms_since(accepted), delivered)
        if dropped:
            self.res.timings.count(timings.DROPPED, dropped)

    def _deliver_held(self, conn: Connection, frame: str) -> None:
        """A held live message, released: counted as a delivery, its wait included."""
        accepted = _room_frame(frame)[3]
        if conn.push(frame):
            self._record(accepted, 1, 0)
        else:
            self._record(accepted, 0, 1)
            conn.close_slow()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- following rooms ---------------------------------------------------------------------

    async def subscribe(self, conn: Connection, room_id: int, after_seq: int | None) -> None:
        """Follow a room; with after_seq, first the stored messages after it (see module)."""
        feed = await self._feed(conn, room_id)
        last = await chat.last_seq(self.res, room_id)
        if after_seq is None:
            if not feed.fresh:  # already following: say where it stands, change nothing
                conn.send(Subscribed(room_id=room_id, last_seq=max(last, feed.delivered)))
                return
            feed.start_after(last)
            conn.send(Subscribed(room_id=room_id, last_seq=last))
            self._open_window(conn, room_id, feed)
            return
        start, missing = plan(after_seq, last, self.res.settings.chat_recovery_limit)
        conn.send(
            Subscribed(room_id=room_id, last_seq=last, recovered=missing is None, missing=missing)
        )
        await self._recover(conn, room_id, feed, start)

    async def resume(self, conn: Connection, room_id: int, after_seq: int) -> None:
        """The older protocol: subscribe (or not), then resume; ends with ``resumed``."""
        feed = await self._feed(conn, room_id)
        last = await chat.last_seq(self.res, room_id)
        start, missing = plan(after_seq, last, self.res.settings.chat_recovery_limit)
        await self._recover(conn, room_id, feed, start)
        conn.send(Resumed(room_id=room_id, up_to_seq=feed.delivered, missing=missing))

    async def _feed(self, conn: Connection, room_id: int) -> Feed:
        feed = conn.feeds.get(room_id)
        if feed is None:
            feed = conn.feeds[room_id] = Feed()  # holding from the start
            try:
                await self.join(conn, room_id)
            except BaseException:
                conn.feeds.pop(room_id, None)
                raise
        return feed

    async def _recover(self, conn: Connection, room_id: int, feed: Feed, start: int) -> None:
        if feed.window is not None:  # a plain subscribe's hold: nothing sent yet
            feed.window.cancel()
            feed.window = None
            feed.start_after(start)
        elif feed.fresh:
            feed.start_after(start)
        elif feed.held is None:  # live already
            if start < feed.live_from:
                # Older than what has gone out live: sent now, each once, after the newer ones.
                await self._send_range(conn, room_id, start, feed.live_from)
                feed.live_from = start
            return
        # (A backfill already under way is harmless: each seq is sent once, in order.)
        await self._backfill(conn, room_id, feed)

    async def _send_range(self, conn: Connection, room_id: int, after: int, up_to: int) -> None:
        while after < up_to:
            page = await chat.messages_after(
                self.res,
                room_id,
                after,
                limit=min(BACKLOG_PAGE, up_to - after),
                viewer=conn.user_id,
            )
            for message in page:
                if message.seq <= up_to:
                    conn.send(message)
            if len(page) < min(BACKLOG_PAGE, up_to - after):
                return
            after = page[-1].seq

    async def _backfill(self, conn: Connection, room_id: int, feed: Feed, tries: int = 3) -> None:
        """Send what MySQL has after the feed's position, then release its hold in order."""
        try:
            while conn.feeds.get(room_id) is feed:
                page = await chat.messages_after(
                    self.res, room_id, feed.delivered, limit=BACKLOG_PAGE, viewer=conn.user_id
                )
                for message in page:
                    if message.seq > feed.delivered:
                        feed.delivered = message.seq
                        conn.send(message)
                if len(page) < BACKLOG_PAGE:
                    break
        except Exception:
            log.exception("could not read room %s after seq %s", room_id, feed.delivered)
            conn.error(
                "unavailable",
                f"messages after seq {feed.delivered} could not be read; "
                f"subscribe again with after_seq={feed.delivered}",
                room_id,
            )
            tries = 0
        if conn.feeds.get(room_id) is feed:
            self._release(conn, room_id, feed, tries - 1)

    def _release(self, conn: Connection, room_id: int, feed: Feed, tries: int = 0) -> None:
        held, feed.held = feed.held or [], None
        for index, (seq, frame) in enumerate(held):
            if seq is None:
                self._deliver(conn, frame)
            elif seq <= feed.delivered:
                continue
            elif tries <= 0 or (seq == feed.delivered + 1 and conn.user_id != masked_author(frame)):
                feed.delivered = seq
                self._deliver_held(conn, frame)
            else:  # a gap inside the hold (or the author's masked message): read it, then on
                feed.held = held[index:]
                self._spawn(self._backfill(conn, room_id, feed, tries))
                return

    def _open_window(self, conn: Connection, room_id: int, feed: Feed) -> None:
        window_s = self.res.settings.chat_resume_window_ms / 1000
        if window_s <= 0:
            self._release(conn, room_id, feed)
            return

        def close() -> None:
            if conn.feeds.get(room_id) is feed and feed.window is not None:
                feed.window = None
                self._release(conn, room_id, feed)

        feed.window = asyncio.get_running_loop().call_later(window_s, close)

    def close_windows(self, conn: Connection) -> None:
        """The client sent something other than a resume: it is not going to send one."""
        for room_id, feed in list(conn.feeds.items()):
            if feed.window is not None:
                feed.window.cancel()
                feed.window = None
                self._release(conn, room_id, feed)

    def _ensure_listener(self) -> None:
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def join(self, conn: Connection, room_id: int) -> None:
        """Add the socket to the room; returns once Redis has confirmed the subscription."""
        channel = wire.room_channel(room_id)
        async with self._lock:
            local = self.rooms.setdefault(room_id, set())
            first = not local
            local.add(conn)
            conn.rooms.add(room_id)
            if first:
                self._confirmed[channel] = asyncio.Event()
                await self.pubsub.subscribe(channel)
            self._ensure_listener()
        confirmed = self._confirmed.get(channel)
        if confirmed is not None and not confirmed.is_set():
            try:
                await asyncio.wait_for(confirmed.wait(), CONFIRM_TIMEOUT_S)
            except TimeoutError:
                await self.part(conn, room_id)
                raise Unavailable("the room's live channel is not available; try again") from None

    async def part(self, conn: Connection, room_id: int) -> None:
        feed = conn.feeds.pop(room_id, None)
        if feed is not None and feed.window is not None:
            feed.window.cancel()
        async with self._lock:
            local = self.rooms.get(room_id)
            conn.rooms.discard(room_id)
            if local is None:
                return
            local.discard(conn)
            if not local:
                del self.rooms[room_id]
                channel = wire.room_channel(room_id)
                self._confirmed.pop(channel, None)
                await self.pubsub.unsubscribe(channel)

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
        """Tell friends and rooms soon, in the background; a failure is logged, never raised.

        Changes are gathered for a moment and announced in batches (``presence.announce_many``:
        one query per database for the whole batch), so a reconnect storm costs the handshakes
        almost nothing. The latest status of a user wins within a batch.
        """
        self._announcements[user_id] = status
        self._announce_wanted.set()
        if self._announcer is None:
            self._announcer = asyncio.get_running_loop().create_task(self._announce_batches())

    async def _announce_batches(self) -> None:
        while True:
            await self._announce_wanted.wait()
            await asyncio.sleep(ANNOUNCE_GATHER_S)
            batch: dict[int, presence.Status] = {}
            for user_id in list(self._announcements)[:ANNOUNCE_BATCH]:
                batch[user_id] = self._announcements.pop(user_id)
            if not self._announcements:
                self._announce_wanted.clear()
            try:
                await presence.announce_many(self.res.redis, self.res.db, batch)
            except Exception:
                log.exception("could not announce %d presence changes", len(batch))

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
