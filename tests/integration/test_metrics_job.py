"""The metrics job against the real stack: chat, joins and leaves through the API and the
gateway, counted by the job that `stack up` runs, read back with core.metrics' Flux; and a
replay of the same Kafka range by a second job that must not double any count."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from influxdb_client.client.influxdb_client import InfluxDBClient

from bench.bulk import delete_chat_messages
from core import metrics
from core.db.sharding import ShardRouter
from core.events import CHAT_MESSAGES, ChatMessageSent
from core.ids import IdGenerator
from core.settings import Settings
from ingest.kafka import make_producer, produce_sync
from stack.services.flink_jobs import stop_job, submit_job, submitted_job_id
from tests.conftest import require
from tests.integration.test_chat_gateway import send, socket, until
from tests.utils.api import People

pytestmark = [pytest.mark.integration]

T = TypeVar("T")


def _wait_for(what: str, probe: Callable[[], T | None], timeout: float = 150.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _totals(points: list[metrics.Point], *fields: str) -> dict[str, int]:
    return {field: sum(int(p.fields.get(field, 0)) for p in points) for field in fields}


def _room_minutes(
    influx: InfluxDBClient, settings: Settings, room_id: int, start: str
) -> list[metrics.Point]:
    return metrics.query(
        influx,
        settings.influx_bucket,
        metrics.ROOM_ACTIVITY,
        "1m",
        start=start,
        tags={"room_id": str(room_id)},
    )


def _chat(api_url: str, people: People, messages: tuple[int, int], topic: str = "chat") -> int:
    """A room: its owner and a member chat (``messages`` each), then the member leaves."""
    alice, bob = people.register(), people.register()
    created = alice.http.post("/rooms", json={"name": "metrics", "topic": topic})
    assert created.status_code == 201, created.text
    room_id = int(created.json()["id"])
    assert bob.http.post(f"/rooms/{room_id}/join").status_code == 200
    for person, count in zip((alice, bob), messages, strict=True):
        with socket(api_url, person) as ws:
            for n in range(count):
                ref = str(uuid.uuid4())
                send(ws, type="send", room_id=room_id, client_msg_id=ref, body=f"note {n}")
                until(ws, {"type": "ack", "client_msg_id": ref})
    assert bob.http.post(f"/rooms/{room_id}/leave").status_code in (200, 204)
    return room_id


def test_chat_joins_and_leaves_are_counted_per_room_and_overall_with_completeness(
    api_url: str, people: People, influx: InfluxDBClient, settings: Settings
) -> None:
    require(settings, "metrics", "chat-persist")
    started = time.time()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 120))
    topic = f"Metrics {uuid.uuid4().hex[:8]}"  # a topic of its own, with a space to clean
    room_id = _chat(api_url, people, (3, 2), topic=topic)
    # The member's leave carries its session's length: one session, in the room's minutes.
    expected = {"messages": 5, "joins": 2, "leaves": 1, "sessions": 1}

    def settled() -> list[metrics.Point] | None:
        points = _room_minutes(influx, settings, room_id, since)
        done = [p for p in points if p.complete]
        if done and len(done) == len(points) and _totals(done, *expected) == expected:
            return points
        return None

    # Every minute the room was active in ends complete, and the complete points add up.
    points = _wait_for("the room's minutes, complete", settled)
    assert all(1 <= int(p.fields["active_users"]) <= 2 for p in points)
    stayed = _totals(points, "session_seconds")["session_seconds"]
    assert 0 <= stayed <= time.time() - started + 1
    assert all(p.start.second == 0 for p in points)

    # The hour holds the same counts (provisional or complete), and the community's minutes
    # count at least this room's activity.
    hours = metrics.query(
        influx,
        settings.influx_bucket,
        metrics.ROOM_ACTIVITY,
        "1h",
        start="-3h",  # a point is at its window's start: the hour began before the chat
        tags={"room_id": str(room_id)},
    )
    assert _totals(hours, *expected) == expected
    assert sum(int(p.fields["active_users"]) for p in hours) >= 2
    community = metrics.query(influx, settings.influx_bucket, metrics.COMMUNITY, "1m", start=since)
    minutes = {p.start for p in points}
    overall = [p for p in community if p.start in minutes]
    assert overall
    assert all(p.complete for p in overall)
    assert _totals(overall, "messages")["messages"] >= 5
    assert all(int(p.fields["active_rooms"]) >= 1 for p in overall)

    # The room's topic counts the same, as a tag (lower-cased, the space an underscore).
    def topic_settled() -> list[metrics.Point] | None:
        found = metrics.query(
            influx,
            settings.influx_bucket,
            metrics.TOPIC_ACTIVITY,
            "1m",
            start=since,
            tags={"topic": topic.lower().replace(" ", "_")},
        )
        return found if found and _totals(found, *expected) == expected else None

    by_topic = _wait_for("the topic's minutes", topic_settled)
    assert max(int(p.fields["active_rooms"]) for p in by_topic) == 1
    days = metrics.query(influx, settings.influx_bucket, metrics.COMMUNITY, "1d", start="-2d")
    assert days
    assert not days[-1].complete  # today is still running
    assert int(days[-1].fields["messages"]) >= 5


def test_a_replay_of_the_same_range_doubles_nothing(
    api_url: str, people: People, influx: InfluxDBClient, settings: Settings
) -> None:
    require(settings, "metrics", "chat-persist")
    started_ms = int(time.time() * 1000)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_ms / 1000 - 120))
    room_id = _chat(api_url, people, (2, 2))
    expected = {"messages": 4, "joins": 2, "leaves": 1}

    def complete() -> list[metrics.Point] | None:
        points = _room_minutes(influx, settings, room_id, since)
        if points and all(p.complete for p in points) and _totals(points, *expected) == expected:
            return points
        return None

    before = _wait_for("the room's minutes, complete", complete)
    last_minute_end = max(p.start for p in before).timestamp() + 60

    # A second job reads every topic again from before the chat, under its own name and
    # consumer group, and writes the same windows.
    name = f"metrics-replay-{uuid.uuid4().hex[:8]}"
    output = submit_job(
        settings,
        "pipelines.metrics.job",
        ["--name", name, "--group", name, "--from-ms", str(started_ms - 5_000)],
    )
    job_id = submitted_job_id(output)
    try:

        def replayed() -> bool | None:
            beats = _heartbeats(influx, settings, name, since)
            return True if beats and max(beats) >= last_minute_end + 10 else None

        _wait_for("the replay to pass the room's last minute", replayed, timeout=240)
        after = _room_minutes(influx, settings, room_id, since)
        assert [(p.start, p.fields) for p in after] == [(p.start, p.fields) for p in before]
    finally:
        stop_job(settings, job_id)


def _heartbeats(influx: InfluxDBClient, settings: Settings, job: str, since: str) -> list[int]:
    """The step ends (epoch s) the job ``job`` has written."""
    flux = (
        f'from(bucket: "{settings.influx_bucket}")\n'
        f'  |> range(start: time(v: "{since}"))\n'
        f'  |> filter(fn: (r) => r._measurement == "metrics_job" and r.job == "{job}"'
        ' and r._field == "step_end")'
    )
    return [
        int(record.get_value())
        for table in influx.query_api().query(flux)
        for record in table.records
    ]


def test_the_minutes_popular_terms_leave_out_stop_words_and_masked_words(
    settings: Settings, influx: InfluxDBClient, mysql: ShardRouter
) -> None:
    """Messages put on chat-messages as the gateway puts them, all at one moment: a term of
    this test's own and "eigenvalues" in 30 of them, "the" in 60, and a masked insult whose
    words others saw as stars. The minute's top two terms are those with their exact counts;
    neither the stop word nor the insult is ranked."""
    require(settings, "kafka", "influxdb", "metrics")
    ids = IdGenerator(913)
    room, sender = ids.next_id(), ids.next_id()
    ours = f"zq{uuid.uuid4().hex[:6]}"
    at = datetime.now(UTC)
    bodies = [f"the {ours} eigenvalues" if n < 30 else "the the" for n in range(45)]
    producer = make_producer(settings)
    try:
        for n, body in enumerate(bodies):
            event = ChatMessageSent(room_id=room, message_id=ids.next_id(), sender_id=sender,
                                    client_msg_id=f"terms-{n}", body=body,
                                    occurred_at=at)  # fmt: skip
            produce_sync(producer, event, topic=CHAT_MESSAGES)
        masked = ChatMessageSent(room_id=room, message_id=ids.next_id(), sender_id=sender,
                                 client_msg_id="terms-masked", body="shitface " * 40,
                                 masked_body="******** " * 40, occurred_at=at)  # fmt: skip
        produce_sync(producer, masked, topic=CHAT_MESSAGES)

        minute = at.replace(second=0, microsecond=0)

        def ranked() -> dict[str, tuple[int, int]] | None:
            points = metrics.query(
                influx, settings.influx_bucket, metrics.POPULAR_TERMS, "1m",
                start=minute.isoformat().replace("+00:00", "Z"), tag_keys=("rank",),
            )  # fmt: skip
            found = {
                str(p.fields["term"]): (int(p.tags["rank"]), int(p.fields["count"]))
                for p in points
                if p.start == minute
            }
            return found if ours in found else None

        terms = _wait_for("the minute's popular terms", ranked)
    finally:
        delete_chat_messages(mysql, [room])
    # 30 uses each: a tie goes to the term first in order.
    assert terms["eigenvalues"] == (1, 30)
    assert terms[ours] == (2, 30)
    assert "the" not in terms
    assert "shitface" not in terms
    assert sorted(rank for rank, _ in terms.values()) == list(range(1, len(terms) + 1))
    assert len(terms) <= 10
