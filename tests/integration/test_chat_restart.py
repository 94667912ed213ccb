"""No acked message is lost or duplicated when the persistence job dies mid-stream and is
restored from an earlier snapshot: acked, stored and delivered must match exactly.

The job under test is a second instance of pipelines.chat.persist on a topic of its own, so
the platform's chat-persist job is never touched. Messages are produced the way the gateway
produces them (idempotent, acks=all, an ack is Kafka's delivery report), and delivery is read
through a real gateway WebSocket.

The crash: a snapshot is taken mid-stream, the job goes on storing and broadcasting messages
after it, then it stops, and a new job restores from the *earlier* snapshot. That is exactly
what recovery after a crash sees (state and Kafka offsets roll back, the sink has already
seen what follows), without cancelling a PyFlink job under traffic, which in Flink 2.2.1 can
take the whole TaskManager down (see stack.services.flink_jobs.stop_job).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy import text
from websockets.sync.client import ClientConnection

from core import wire
from core.db.sharding import ShardRouter
from core.events import ChatMessageSent
from core.ids import IdGenerator
from core.settings import Settings
from ingest.kafka import make_producer, produce_sync
from stack.services.flink_jobs import (
    ChatPersistJob,
    job_state,
    stop_job,
    submit_job,
    submitted_job_id,
    trigger_savepoint,
)
from tests.conftest import require
from tests.integration.test_chat_gateway import send, socket, until
from tests.utils.api import People
from tests.utils.chat import stored_count

pytestmark = [pytest.mark.integration, pytest.mark.flink]

MESSAGES = 300
ids = IdGenerator(904)


def _wait(check: object, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def topic(settings: Settings) -> Iterator[str]:
    require(settings, "flink-jobmanager", "flink-taskmanager", "kafka")
    name = f"test-chat-restart-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for future in admin.create_topics([NewTopic(name, 4, 1)]).values():
        future.result()
    yield name
    for future in admin.delete_topics([name]).values():
        future.result()


def test_restore_from_an_earlier_snapshot_loses_and_duplicates_nothing(
    settings: Settings, api_url: str, people: People, mysql: ShardRouter, topic: str
) -> None:
    job_name = f"persist-{topic}"
    args = ["--topic", topic, "--name", job_name]
    first = submitted_job_id(submit_job(settings, "pipelines.chat.persist", args))
    jobs = [first]
    alice = people.register()
    room_id = int(alice.http.post("/rooms", json={"name": "r", "topic": "t"}).json()["id"])
    engine = mysql.engine_for_room(room_id)

    def stored() -> int:
        return stored_count(engine, room_id)

    acked: list[int] = []
    producer = make_producer(settings)
    # The sender waits at half-way for the snapshot, and a little past the snapshot for the
    # job to be down: the snapshot and the restart land mid-stream, however long a savepoint
    # takes on a cold stack.
    snapshot_taken, job_down = threading.Event(), threading.Event()
    pause_at = [MESSAGES]

    def sender() -> None:
        for n in range(MESSAGES):
            if n == MESSAGES // 2:
                snapshot_taken.wait(timeout=120)
            if n == pause_at[0]:
                job_down.wait(timeout=120)
            event = ChatMessageSent(
                room_id=room_id,
                message_id=ids.next_id(),
                sender_id=alice.id,
                client_msg_id=f"restart-{n}",
                body=f"message {n}",
            )
            produce_sync(producer, event, topic=topic)  # returns once Kafka holds it: the ack
            acked.append(event.message_id)
            time.sleep(0.03)  # ~10 s of sending: the stop lands well inside it

    try:
        _wait(lambda: job_state(settings, first) == "RUNNING", "the job to run")
        with socket(api_url, alice) as ws:
            send(ws, type="subscribe", room_id=room_id)
            until(ws, {"type": "subscribed"})
            thread = threading.Thread(target=sender)
            thread.start()
            # Mid-stream: some stored, a snapshot taken, more stored after it, more coming.
            _wait(lambda: stored() >= MESSAGES // 4, "a quarter of the messages to be stored")
            snapshot = trigger_savepoint(settings, first)
            stored_at_snapshot = stored()
            pause_at[0] = max(len(acked), stored_at_snapshot) + 40
            snapshot_taken.set()
            _wait(lambda: stored() >= stored_at_snapshot + 20, "messages stored after the snapshot")
            stop_job(settings, first)  # the job ends; what it did after the snapshot is "lost"
            _wait(lambda: job_state(settings, first) == "FINISHED", "the job to stop")
            stored_while_down = stored()
            job_down.set()
            restored = submitted_job_id(
                submit_job(settings, "pipelines.chat.persist", args, savepoint=snapshot)
            )
            jobs.append(restored)
            thread.join(timeout=120)
            assert len(acked) == MESSAGES
            _wait(lambda: stored() >= MESSAGES, "every acked message to be stored", timeout=120)
            # Delivered: every seq reached the subscriber (replays may repeat a seq).
            delivered: dict[int, int] = {}
            deadline = time.monotonic() + 60
            while len(delivered) < MESSAGES and time.monotonic() < deadline:
                frame = until(ws, {"type": "message", "room_id": room_id})
                delivered.setdefault(frame["seq"], frame["message_id"])

        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT seq, message_id FROM chat_messages WHERE room_id = :r ORDER BY seq"),
                {"r": room_id},
            ).all()
        assert stored_while_down < MESSAGES  # the restart really happened mid-stream
        assert [seq for seq, _ in rows] == list(range(1, MESSAGES + 1))  # one order, no gap
        assert sorted(m for _, m in rows) == sorted(acked)  # nothing lost, nothing twice
        assert delivered == {int(row[0]): int(row[1]) for row in rows}
        # Per sender, Kafka order is send order, so the room's order is the acked order.
        assert [m for _, m in rows] == acked
    finally:
        snapshot_taken.set()
        job_down.set()
        for job in jobs:
            if job_state(settings, job) == "RUNNING":
                stop_job(settings, job)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM chat_messages WHERE room_id = :r"), {"r": room_id})


def test_a_checkpoint_flushes_the_open_bundle_before_its_barrier(
    settings: Settings, people: People, mysql: ShardRouter, redis_conn: object, topic: str
) -> None:
    """With bundles that would stay open for an hour, a savepoint still finds every message
    it covers stored and broadcast: the bundle is flushed before the barrier, so Kafka offsets
    are never committed ahead of MySQL."""
    job_name = f"flush-{topic}"
    args = ["--topic", topic, "--name", job_name]
    args += ["--bundle-time-ms", "3600000", "--checkpoint-interval-ms", "3600000"]
    job = submitted_job_id(submit_job(settings, "pipelines.chat.persist", args))
    alice = people.register()
    room_id = int(alice.http.post("/rooms", json={"name": "r", "topic": "t"}).json()["id"])
    engine = mysql.engine_for_room(room_id)

    def stored() -> int:
        return stored_count(engine, room_id)

    pubsub = redis_conn.pubsub()  # type: ignore[attr-defined]
    try:
        _wait(lambda: job_state(settings, job) == "RUNNING", "the job to run")
        pubsub.subscribe(wire.room_channel(room_id))
        producer = make_producer(settings)
        sent: list[int] = []
        for n in range(5):
            event = ChatMessageSent(
                room_id=room_id,
                message_id=ids.next_id(),
                sender_id=alice.id,
                client_msg_id=f"flush-{n}",
                body=f"held {n}",
            )
            produce_sync(producer, event, topic=topic)
            sent.append(event.message_id)
        # The source has read them by now and the bundle holds them. (3 s was not always enough
        # in CI, with a Dagster run starting beside the suite on the same two cores.)
        time.sleep(8)
        assert stored() == 0, "stored before any barrier: the bundle did not stay open"
        trigger_savepoint(settings, job)
        assert stored() == 5  # flushed before the barrier, so before the savepoint completed
        frames: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while len(frames) < 5 and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=1.0)
            if message and message["type"] == "message":
                frames.append(json.loads(message["data"]))
        assert [(f["seq"], f["message_id"]) for f in frames] == list(
            zip(range(1, 6), sent, strict=True)
        )
    finally:
        pubsub.close()
        if job_state(settings, job) == "RUNNING":
            stop_job(settings, job)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM chat_messages WHERE room_id = :r"), {"r": room_id})


def send_until_acked(ws: ClientConnection, room_id: int, client_msg_id: str, body: str) -> int:
    """Send like a well-behaved client: when rate limited, wait and resend the same id."""
    for _ in range(100):
        send(ws, type="send", room_id=room_id, client_msg_id=client_msg_id, body=body)
        while True:
            frame = until(ws, {})
            if frame.get("type") == "ack" and frame.get("client_msg_id") == client_msg_id:
                return int(frame["message_id"])
            if frame.get("type") == "error" and frame.get("ref") == client_msg_id:
                assert frame["code"] == "rate_limited", frame
                time.sleep(0.2)
                break
    raise AssertionError(f"{client_msg_id} was never acked")


def test_a_killed_gateway_loses_nothing_its_clients_resume_elsewhere(
    settings: Settings, people: People, mysql: ShardRouter
) -> None:
    """Kill the gateway worker a reader is on; it reconnects and resumes from its last seq."""
    require(settings, "api", "chat-persist")
    stack_url = f"http://{settings.api_host}:{settings.api_port}"
    alice, bob = people.register(), people.register()
    room_id = int(alice.http.post("/rooms", json={"name": "r", "topic": "t"}).json()["id"])
    assert bob.http.post(f"/rooms/{room_id}/join").status_code == 200
    # Under the moderation job's flood mark (100 messages in 10 s from one user): this writer
    # sends as fast as the gateway lets it.
    total = 90
    acked: list[int] = []
    delivered: dict[int, int] = {}

    def reader_session(
        avoid: str | None,
    ) -> tuple[contextlib.AbstractContextManager[ClientConnection], ClientConnection, str]:
        for _ in range(40):
            manager = socket(stack_url, bob)
            ws = manager.__enter__()
            gateway = until(ws, {"type": "welcome"})["gateway"]
            if gateway != avoid:
                return manager, ws, gateway
            manager.__exit__(None, None, None)
        raise AssertionError("could not reach another gateway process")

    with socket(stack_url, alice) as writer:
        writer_gateway = until(writer, {"type": "welcome"})["gateway"]
        manager, reader, reader_gateway = reader_session(writer_gateway)
        send(reader, type="subscribe", room_id=room_id)
        until(reader, {"type": "subscribed"})
        for n in range(total):
            if n == total // 3:
                # Kill the reader's gateway process outright (no close frames).
                os.kill(int(reader_gateway.rsplit(":", 1)[1]), signal.SIGKILL)
            if n == total // 3 + 10:
                # The client notices, reconnects (to a live process) and resumes.
                with contextlib.suppress(Exception):
                    manager.__exit__(None, None, None)
                manager, reader, _ = reader_session(reader_gateway)
                send(reader, type="resume", room_id=room_id, after_seq=max(delivered, default=0))
            acked.append(send_until_acked(writer, room_id, f"kill-{n}", f"k{n}"))
            if n < total // 3:
                frame = until(reader, {"type": "message", "room_id": room_id})
                delivered.setdefault(frame["seq"], frame["message_id"])
        deadline = time.monotonic() + 60
        while len(delivered) < total and time.monotonic() < deadline:
            frame = until(reader, {"type": "message", "room_id": room_id})
            delivered.setdefault(frame["seq"], frame["message_id"])
        manager.__exit__(None, None, None)

    with mysql.engine_for_room(room_id).connect() as connection:
        rows = connection.execute(
            text("SELECT seq, message_id FROM chat_messages WHERE room_id = :r ORDER BY seq"),
            {"r": room_id},
        ).all()
    assert len(acked) == total
    assert [int(r[1]) for r in rows] == acked  # stored exactly once each, in send order
    assert delivered == {int(r[0]): int(r[1]) for r in rows}  # delivered: all, same order


def test_the_warm_up_goes_through_the_job_and_leaves_nothing_behind(
    settings: Settings, mysql: ShardRouter
) -> None:
    """`stack up` sends one message through chat-persist so the first users do not wait for
    the job's first bundle; it must be stored, broadcast, and cleaned away."""
    require(settings, "chat-persist")
    seconds = ChatPersistJob(settings).warm_up(timeout=30)
    assert 0 < seconds < 30
    for shard in range(settings.mysql_shards):
        with mysql.engine(shard).connect() as connection:
            left = connection.execute(
                text("SELECT COUNT(*) FROM chat_messages WHERE client_msg_id LIKE 'warm-up-%'")
            ).scalar_one()
        assert left == 0
