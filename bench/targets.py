"""The servers the chat load runs against, each behind the same small adapter.

The load generator (bench.chat_load) only knows ``Target``: how to give N users their rooms,
open one subscribed socket per user, frame a send, and read what comes back as
``(kind, client_msg_id, error_code)`` events. Everything else (clock, pacing, accounting) is
shared, so studyhub, the bare ceiling and Centrifugo are measured by the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx
import psutil

from bench.peers.centrifugo import VERSION as CENTRIFUGO_VERSION
from bench.peers.centrifugo import Centrifugo
from bench.peers.centrifugo import channel as centrifugo_channel
from bench.peers.centrifugo import token as centrifugo_token
from bench.stats import stack_process
from bench.wsclient import Step
from core.settings import REPO_ROOT, Settings
from domain.auth import create_token

# (kind, client_msg_id, error code): kind is message, ack, error or ping
Event = tuple[str, str | None, str | None]
TARGET_NAMES = ("studyhub", "bare", "centrifugo")
STACK_SERVICES = (
    "api",
    "flink-taskmanager",
    "flink-jobmanager",
    "kafka",
    "redis",
    "mariadb-0",
    "mariadb-1",
    "neo4j",
    "influxdb",
)


class Target(Protocol):
    name: str
    description: str

    async def assign_rooms(self, users: list[int], room_size: int) -> dict[int, int]:
        """Put the users in rooms of ``room_size``; returns user -> room."""
        ...

    def url(self, user: int) -> str:
        """Where ``user``'s socket connects (with its credentials)."""
        ...

    def opening(self, user: int, room: int) -> list[Step]:
        """The frames that make a fresh socket a subscribed one, each with its reply."""
        ...

    def client_spec(self) -> dict[str, Any]:
        """What a load-generator process needs to open sockets to this server (no server)."""
        ...

    def send_frame(self, room: int, client_msg_id: str, body: str) -> str: ...

    def decode(self, raw: str | bytes) -> Iterator[Event]: ...

    def processes(self) -> dict[str, psutil.Process]:
        """The server side's processes, by name (measured for CPU and memory)."""
        ...

    def gateway(self) -> str:
        """The name, in processes(), of the process that holds the sockets."""
        ...

    async def close(self) -> None: ...


def _stack_processes(settings: Settings) -> dict[str, psutil.Process]:
    found = {}
    for name in STACK_SERVICES:
        process = stack_process(settings, name)
        if process is not None:
            found[name] = process
    return found


_MESSAGE_PREFIXES = (b'{"type":"message"', b'{"type": "message"')  # pydantic's, json.dumps'


def _string_field(raw: bytes, name: bytes) -> str | None:
    """The string value of the one field ``name`` (with its quotes and colon) in a flat JSON
    object, or None if it is missing or not a plain string."""
    at = raw.find(name)
    if at < 0:
        return None
    start = at + len(name)
    while raw[start : start + 1] == b" ":
        start += 1
    if raw[start : start + 1] != b'"':
        return None
    end = raw.find(b'"', start + 1)
    if end < 0 or b"\\" in raw[start:end]:
        return None
    return raw[start + 1 : end].decode()


def _subscribed(raw: bytes) -> bool:
    frame = json.loads(raw)
    if frame.get("type") == "error":
        raise RuntimeError(f"subscribe refused: {frame}")
    return bool(frame.get("type") == "subscribed")


class StudyhubFrames:
    """studyhub's send, ack, message and error frames (the bare peer speaks them too)."""

    def opening(self, user: int, room: int) -> list[Step]:
        del user  # the socket's URL says who it is
        return [(json.dumps({"type": "subscribe", "room_id": room}), _subscribed)]

    def send_frame(self, room: int, client_msg_id: str, body: str) -> str:
        return json.dumps(
            {"type": "send", "room_id": room, "client_msg_id": client_msg_id, "body": body}
        )

    def decode(self, raw: str | bytes) -> Iterator[Event]:
        if isinstance(raw, bytes) and raw.startswith(_MESSAGE_PREFIXES):
            # Nearly every frame under load is a message, and the tally needs only its
            # client_msg_id: read it without parsing the whole frame.
            client_msg_id = _string_field(raw, b'"client_msg_id":')
            if client_msg_id is not None:
                yield "message", client_msg_id, None
                return
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind in ("message", "ack"):
            yield kind, frame.get("client_msg_id"), None
        elif kind == "error":
            yield "error", frame.get("ref"), frame.get("code", "error")


class Studyhub(StudyhubFrames):
    """The platform as `make up` runs it: REST join, /ws, Kafka, the Flink job, Redis fan-out."""

    name = "studyhub"
    description = "studyhub: gateway -> Kafka -> Flink job -> MySQL -> Redis -> gateway"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = f"http://{settings.api_host}:{settings.api_port}"
        self.tokens: dict[int, str] = {}
        self.rooms: dict[int, int] = {}  # room -> owner
        self.moderation: str | None = None  # the rooms' word-filter policy; None: the default
        self.http = httpx.AsyncClient(
            base_url=self.base,
            # Under uvicorn's 5 s keep-alive: a connection the server is closing is not reused.
            limits=httpx.Limits(max_connections=32, keepalive_expiry=2.0),
            timeout=60,
        )

    def _auth(self, user: int) -> dict[str, str]:
        if user not in self.tokens:
            self.tokens[user] = create_token(self.settings, user)[0]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def _join(self, room: int, user: int, attempts: int = 3) -> httpx.Response:
        """Join, again if the connection broke (a join is idempotent). Seen twice on a fresh
        stack as a ReadError in the middle of the room setup, which then failed `make bench`."""
        for attempt in range(attempts):
            try:
                return await self.http.post(f"/rooms/{room}/join", headers=self._auth(user))
            except httpx.TransportError:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    async def assign_rooms(self, users: list[int], room_size: int) -> dict[int, int]:
        room_of: dict[int, int] = {}
        groups = [users[i : i + room_size] for i in range(0, len(users), room_size)]
        semaphore = asyncio.Semaphore(32)

        async def fill(group: list[int]) -> None:
            # The room's first member creates it (one creation per user: no rate limit hit).
            async with semaphore:
                spec: dict[str, Any] = {"name": "load", "topic": "load", "capacity": 500}
                if self.moderation is not None:
                    spec["moderation"] = self.moderation
                created = await self.http.post("/rooms", json=spec, headers=self._auth(group[0]))
                created.raise_for_status()
            room = int(created.json()["id"])
            self.rooms[room] = group[0]
            for user in group:
                room_of[user] = room
                if user != group[0]:
                    async with semaphore:
                        joined = await self._join(room, user)
                        joined.raise_for_status()

        await asyncio.gather(*(fill(g) for g in groups))
        return room_of

    def client_spec(self) -> dict[str, Any]:
        return {}

    def url(self, user: int) -> str:
        token = self._auth(user)["Authorization"][7:]
        return f"ws://{self.settings.api_host}:{self.settings.api_port}/ws?token={token}"

    def processes(self) -> dict[str, psutil.Process]:
        return _stack_processes(self.settings)

    def gateway(self) -> str:
        return "api"

    async def close(self) -> None:
        for room, owner in self.rooms.items():
            with contextlib.suppress(httpx.HTTPError):
                await self.http.delete(f"/rooms/{room}", headers=self._auth(owner))
        await self.http.aclose()


class Bare(StudyhubFrames):
    """bench.peers.bare in its own process: the same frames, nothing behind them."""

    name = "bare"
    description = "bare: one Python process (websockets + uvloop), broadcast in memory"

    def __init__(self, settings: Settings, port: int = 8790, *, serve: bool = True) -> None:
        self.settings = settings
        self.port = port
        self._server: subprocess.Popen[bytes] | None = None
        if serve:
            self._server = subprocess.Popen(
                [sys.executable, "-m", "bench.peers.bare", "--port", str(port)], cwd=REPO_ROOT
            )
            self._wait_listening()

    @property
    def server(self) -> subprocess.Popen[bytes]:
        if self._server is None:
            raise RuntimeError("this bare target is a client: the server runs elsewhere")
        return self._server

    def client_spec(self) -> dict[str, Any]:
        return {"port": self.port}

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise SystemExit(f"error: the bare server exited with {self.server.returncode}")
            with contextlib.suppress(psutil.Error):
                for conn in psutil.Process(self.server.pid).net_connections():
                    if conn.status == psutil.CONN_LISTEN and conn.laddr.port == self.port:
                        return
            time.sleep(0.1)
        raise SystemExit(f"error: the bare server is not listening on {self.port} after 20 s")

    async def assign_rooms(self, users: list[int], room_size: int) -> dict[int, int]:
        return {user: 1 + i // room_size for i, user in enumerate(users)}

    def url(self, user: int) -> str:
        return f"ws://{self.settings.bind_host}:{self.port}/?user={user}"

    def processes(self) -> dict[str, psutil.Process]:
        return {"bare-server": psutil.Process(self.server.pid)}

    def gateway(self) -> str:
        return "bare-server"

    async def close(self) -> None:
        if self._server is not None:
            self._server.terminate()
            self._server.wait(timeout=10)


def _reply_to(command: int) -> Callable[[bytes], bool]:
    def matches(raw: bytes) -> bool:
        # Centrifugo may batch several replies into one frame, one JSON object per line.
        for line in raw.splitlines():
            reply = json.loads(line)
            if reply.get("id") == command:
                if "error" in reply:
                    raise RuntimeError(f"centrifugo refused command {command}: {reply}")
                return True
        return False

    return matches


class CentrifugoTarget:
    """Centrifugo v6 over its JSON protocol: connect, subscribe, publish; Redis engine."""

    name = "centrifugo"
    description = f"centrifugo {CENTRIFUGO_VERSION}: Go, Redis engine (history 300, recovery on)"

    def __init__(
        self,
        settings: Settings,
        port: int = 8791,
        *,
        serve: bool = True,
        secret: str | None = None,
    ) -> None:
        self.settings = settings
        self.port = port
        self._server: Centrifugo | None = None
        if serve:
            self._server = Centrifugo(settings, port).__enter__()
            self.server_url, self.secret = self._server.url, self._server.secret
        else:
            if secret is None:
                raise ValueError("a centrifugo client needs the server's token secret")
            self.server_url = Centrifugo(settings, port).url
            self.secret = secret
        self.command_id = 10
        self.pending: dict[int, str] = {}  # publish command id -> client_msg_id

    @property
    def server(self) -> Centrifugo:
        if self._server is None:
            raise RuntimeError("this centrifugo target is a client: the server runs elsewhere")
        return self._server

    def client_spec(self) -> dict[str, Any]:
        return {"port": self.port, "secret": self.secret}

    async def assign_rooms(self, users: list[int], room_size: int) -> dict[int, int]:
        return {user: 1 + i // room_size for i, user in enumerate(users)}

    def url(self, user: int) -> str:
        del user  # the connect command's token says who it is
        return self.server_url

    def opening(self, user: int, room: int) -> list[Step]:
        connect = {"id": 1, "connect": {"token": centrifugo_token(self.secret, user)}}
        subscribe = {"id": 2, "subscribe": {"channel": centrifugo_channel(room)}}
        return [(json.dumps(connect), _reply_to(1)), (json.dumps(subscribe), _reply_to(2))]

    def send_frame(self, room: int, client_msg_id: str, body: str) -> str:
        self.command_id += 1
        self.pending[self.command_id] = client_msg_id
        return json.dumps(
            {
                "id": self.command_id,
                "publish": {
                    "channel": centrifugo_channel(room),
                    "data": {"c": client_msg_id, "b": body},
                },
            }
        )

    def decode(self, raw: str | bytes) -> Iterator[Event]:
        # Centrifugo may batch several replies into one frame, one JSON object per line.
        for line in (raw.decode() if isinstance(raw, bytes) else raw).splitlines():
            reply = json.loads(line)
            if not reply:
                yield "ping", None, None  # the server's ping; the client answers {}
            elif "push" in reply:
                pub = reply["push"].get("pub")
                if pub is not None:
                    yield "message", pub["data"].get("c"), None
            elif "id" in reply:
                client_msg_id = self.pending.pop(reply["id"], None)
                if "error" in reply:
                    yield "error", client_msg_id, str(reply["error"].get("code"))
                else:
                    yield "ack", client_msg_id, None

    def processes(self) -> dict[str, psutil.Process]:
        if self.server.process is None:
            raise RuntimeError("centrifugo is not running")
        found = {"centrifugo": psutil.Process(self.server.process.pid)}
        redis = stack_process(self.settings, "redis")
        if redis is not None:
            found["redis"] = redis
        return found

    def gateway(self) -> str:
        return "centrifugo"

    async def close(self) -> None:
        if self._server is not None:
            self._server.__exit__()


def make_target(name: str, settings: Settings, client: dict[str, Any] | None = None) -> Target:
    """The target, serving (its server started here) or, given a client spec, a client only."""
    if name == "studyhub":
        return Studyhub(settings)
    if name == "bare":
        return Bare(settings, serve=False, **client) if client is not None else Bare(settings)
    if name == "centrifugo":
        if client is not None:
            return CentrifugoTarget(settings, serve=False, **client)
        return CentrifugoTarget(settings)
    raise ValueError(f"unknown target {name!r}; choose one of {', '.join(TARGET_NAMES)}")
