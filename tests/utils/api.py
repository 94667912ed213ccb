"""A real uvicorn server for the API tests, and helpers to act as users through HTTP."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn
from confluent_kafka import Consumer, TopicPartition

from core.events import Event, parse_event
from core.settings import Settings
from domain.auth import create_token
from ingest.kafka import make_consumer
from server.app import create_app
from server.serve import HTTP_PROTOCOL, WS_PROTOCOL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_api(settings: Settings, *, ws: str = WS_PROTOCOL) -> Iterator[str]:
    """Serve the app on a free loopback port in a thread; yields its base URL.

    ``ws`` is the WebSocket protocol: the gateway's own by default, as `make up` runs it;
    uvicorn's plain ``websockets-sansio`` exercises the ASGI fallback of the fan-out.
    """
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        # uvloop would become the process-wide policy and then own the test's own asyncio.run loops.
        loop="asyncio",
        http=HTTP_PROTOCOL,  # as `make up` serves it
        ws=ws,
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API did not start; see the log above")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Person:
    id: int
    username: str
    http: httpx.Client

    def close(self) -> None:
        self.http.close()


@dataclass
class People:
    """Registers people through the API and remembers their clients for cleanup."""

    base_url: str
    settings: Settings
    made: list[Person] = field(default_factory=list)

    def register(self, *, prefix: str = "t", **fields: object) -> Person:
        username = f"{prefix}{uuid.uuid4().hex[:12]}"
        body = {"username": username, "password": "correct horse", "display_name": username}
        body.update(fields)  # type: ignore[arg-type]
        with httpx.Client(base_url=self.base_url) as anonymous:
            created = anonymous.post("/auth/register", json=body)
            assert created.status_code == 201, created.text
            token = anonymous.post(
                "/auth/token", data={"username": username, "password": body["password"]}
            )
            assert token.status_code == 200, token.text
        person = Person(
            id=created.json()["id"],
            username=username,
            http=httpx.Client(
                base_url=self.base_url,
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                timeout=30,
            ),
        )
        self.made.append(person)
        return person

    def token_for(self, user_id: int) -> str:
        """A valid token for an id that has no row: enough for room joins in load tests."""
        return create_token(self.settings, user_id)[0]

    def close(self) -> None:
        for person in self.made:
            person.close()


class EventTap:
    """Reads a topic from the offsets it had when the tap was made, to find emitted events."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = topic
        self.consumer: Consumer = make_consumer(settings, group_id=f"tap-{uuid.uuid4()}")
        metadata = self.consumer.list_topics(topic, timeout=10)
        partitions = []
        for partition in metadata.topics[topic].partitions:
            _, high = self.consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=10
            )
            partitions.append(TopicPartition(topic, partition, high))
        self.consumer.assign(partitions)
        self.seen: list[Event] = []

    def wait_for(self, match: Callable[[Event], bool], timeout: float = 15.0) -> Event:
        for event in self.seen:
            if match(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            value = message.value()
            if value is None:
                continue
            event = parse_event(self.topic, value)
            self.seen.append(event)
            if match(event):
                return event
        raise AssertionError(f"no matching event on {self.topic} within {timeout}s")

    def close(self) -> None:
        self.consumer.close()
