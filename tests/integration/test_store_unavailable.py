"""A store that goes away is not an internal error (issue 15, fault 1): REST answers 503 with
Retry-After naming the store, and the gateway sends ``unavailable`` and closes with 1013.

Redis is killed for real: the API under test runs against a Redis of its own (Debian's
redis-server on a free port), so the shared stack's Redis is never touched. MySQL's side is
checked on the errors the API's own driver raises against a port where no server listens.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from core.settings import Settings
from domain.errors import store_unavailable
from tests.utils.api import People, Person, free_port, live_api

pytestmark = pytest.mark.integration


@pytest.fixture
def own_redis() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is installed by `studyhub stack up`"
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)
    client.close()
    yield port, server
    if server.poll() is None:
        server.kill()
    server.wait()


def _owner_and_room(people: People, prefix: str, name: str) -> tuple[Person, int, str]:
    """A new user, a room of theirs, and the user's socket URL."""
    owner = people.register(prefix=prefix)
    room = owner.http.post("/rooms", json={"name": name, "topic": "faults"})
    assert room.status_code == 201, room.text
    token = owner.http.headers["Authorization"].removeprefix("Bearer ")
    ws_url = people.base_url.replace("http://", "ws://") + f"/ws?token={token}"
    return owner, int(room.json()["id"]), ws_url


def test_rest_and_the_gateway_say_redis_is_away(
    api_settings: Settings, own_redis: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, server = own_redis
    settings = api_settings.model_copy(update={"redis_port": port})
    with live_api(settings) as url:
        people = People(url, settings)
        try:
            owner, room_id, ws_url = _owner_and_room(people, "ru", "redis away")

            server.kill()  # SIGKILL: no goodbye to the API's connections
            server.wait()

            joined = owner.http.post(f"/rooms/{room_id}/join")
            assert joined.status_code == 503, joined.text
            assert joined.headers["Retry-After"] == "2"
            assert joined.json()["error"] == "unavailable"
            assert "Redis" in joined.json()["message"]

            with connect(ws_url, open_timeout=10) as ws:
                frame = ws.recv(timeout=10)
                assert '"code":"unavailable"' in str(frame), frame
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1013
        finally:
            people.close()


def test_a_mysql_server_that_is_not_there_is_unavailable_not_a_bug() -> None:
    port = free_port()  # nothing listens here

    async def attempt() -> BaseException:
        engine = create_async_engine(f"mysql+asyncmy://u:p@127.0.0.1:{port}/studyhub")
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except sqlalchemy.exc.DBAPIError as error:
            return error
        finally:
            await engine.dispose()
        raise AssertionError("connected to a port where nothing listens")

    error = asyncio.run(attempt())
    away = store_unavailable(error)
    assert away is not None
    assert away.service == "mysql"
    assert away.retry_after == 2.0
    # A statement MySQL refuses is a bug to report, not a store to wait for.
    wrong = sqlalchemy.exc.ProgrammingError("SELEC 1", {}, Exception(1064, "syntax"))
    assert store_unavailable(wrong) is None


def test_a_send_waiting_for_kafka_does_not_stop_the_socket(api_settings: Settings) -> None:
    """Found by `make faults`: while Kafka was away, a socket's read loop waited on its send's
    ack, so its pings and heartbeats went unanswered and clients dropped it (1006); when Kafka
    came back, the frames queued meanwhile hit the rate limit all at once. Sends now wait in a
    queue of their own: the socket goes on answering, and each send is acked in order."""
    settings = api_settings.model_copy(update={"kafka_port": free_port()})  # nobody there
    with live_api(settings) as url:
        people = People(url, settings)
        try:
            _, room_id, ws_url = _owner_and_room(people, "ka", "kafka away")
            with connect(ws_url, open_timeout=10) as ws:
                assert '"type":"welcome"' in str(ws.recv(timeout=10))
                for n in range(3):
                    ws.send(
                        json.dumps(
                            {
                                "type": "send",
                                "room_id": room_id,
                                "client_msg_id": f"k{n}",
                                "body": "hi",
                            }
                        )
                    )
                ws.send('{"type":"heartbeat"}')
                started = time.monotonic()
                reply = json.loads(ws.recv(timeout=5))
                assert reply["type"] == "heartbeat_ack", reply  # not an ack: Kafka is away
                assert time.monotonic() - started < 2
                ws.send(json.dumps({"type": "typing", "room_id": room_id}))
                ws.send('{"type":"heartbeat"}')
                assert json.loads(ws.recv(timeout=5))["type"] == "heartbeat_ack"
        finally:
            people.close()
