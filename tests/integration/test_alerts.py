"""The monitor's alerts against the real stack: each threshold's condition is forced on the real
service (a consumer group left behind, Redis filled past a lowered limit, a Flink job that is
not running, Kafka unreachable, a room join held up by a row lock in MySQL, a socket too slow
for its room's messages), a round of the monitor (server.monitor.run_once, the code the
stack's monitor runs) fires the alert, the condition is lifted and the next round resolves
it. The rounds run in a scope of their own, so the stack's monitor never touches them; the
API serves them to moderators only."""

from __future__ import annotations

import asyncio
import json
import socket as stdlib_socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from influxdb_client.client.influxdb_client import InfluxDBClient
from sqlalchemy import text
from typer.testing import CliRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from core import metrics, wire
from core.db.sharding import ShardRouter
from core.frames import Message, wire_time
from core.settings import Settings
from domain.monitoring.alerts import Condition
from domain.resources import open_resources
from server.monitor import run_once
from stack.main import app
from tests.conftest import require
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration]


def _round(settings: Settings, scope: str) -> list[tuple[str, Condition]]:
    async def go() -> list[tuple[str, Condition]]:
        async with open_resources(settings) as res:
            return await run_once(res, scope, publish=False)

    return asyncio.run(go())


def _changes(changes: list[tuple[str, Condition]], rule: str) -> list[tuple[str, str]]:
    return [(change, c.subject) for change, c in changes if c.rule == rule]


def _any(_: Condition) -> bool:
    return True


def _rounds_until(
    settings: Settings, scope: str, rule: str, wanted: Callable[[Condition], bool], timeout: float
) -> list[tuple[str, str]]:
    """Rounds, one a second, until one changes ``rule``'s alerts; its changes (the condition is
    checked by ``wanted``). The chat path's timings reach Redis within a second and are read
    two seconds later, so a condition shows a few seconds after it happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        changes = [(change, c) for change, c in _round(settings, scope) if c.rule == rule]
        if changes:
            assert all(wanted(c) for _, c in changes), changes
            return [(change, c.subject) for change, c in changes]
        time.sleep(1)
    return []


@pytest.fixture
def scope() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def moderator(people: People) -> Person:
    person = people.register(prefix="mod")
    result = CliRunner().invoke(app, ["moderation", "set-role", person.username, "moderator"])
    assert result.exit_code == 0, result.output
    return person


@pytest.fixture
def lagging_group(settings: Settings) -> Iterator[tuple[str, str]]:
    """A topic of 30 records and a group that committed none of them: a lag of 30."""
    require(settings, "kafka")
    topic, group = f"test-alerts-{uuid.uuid4().hex[:8]}", f"test-alerts-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for n in range(30):
        producer.produce(topic, value=str(n).encode())
    assert producer.flush(30) == 0
    _commit(settings, group, topic, 0)
    yield group, topic
    admin.delete_topics([topic])[topic].result(30)


def _commit(settings: Settings, group: str, topic: str, offset: int) -> None:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


def test_a_consumer_left_behind_fires_queue_depth_and_catching_up_resolves_it(
    settings: Settings,
    scope: str,
    lagging_group: tuple[str, str],
    people: People,
    moderator: Person,
) -> None:
    require(settings, "mariadb-0", "redis", "flink-jobmanager")
    group, topic = lagging_group
    forced = settings.model_copy(
        update={"alert_queue_depth": 20, "monitor_consumer_groups": [group]}
    )
    assert _changes(_round(forced, scope), "queue_depth") == [("firing", f"{group}/{topic}")]
    assert _changes(_round(forced, scope), "queue_depth") == []  # still firing: no new alert

    # The API: moderators see it, acknowledge it; anyone else is refused.
    listed = moderator.http.get("/admin/alerts", params={"state": "firing", "rule": "queue_depth"})
    assert listed.status_code == 200, listed.text
    mine = [a for a in listed.json()["items"] if a["scope"] == scope]
    assert len(mine) == 1
    alert = mine[0]
    assert (alert["subject"], alert["severity"], alert["value"], alert["threshold"]) == (
        f"{group}/{topic}",
        "critical",
        30.0,
        20.0,
    )
    assert "30 records behind" in alert["message"]
    member = people.register()
    refused = member.http.get("/admin/alerts")
    assert refused.status_code == 403
    assert refused.json()["error"] == "not_moderator"
    assert member.http.post(f"/admin/alerts/{alert['id']}/acknowledge").status_code == 403
    acked = moderator.http.post(f"/admin/alerts/{alert['id']}/acknowledge")
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == moderator.id
    again = moderator.http.post(f"/admin/alerts/{alert['id']}/acknowledge")
    assert again.json()["acknowledged_at"] == acked.json()["acknowledged_at"]

    # The consumer catches up: the next round resolves it, and the history tells it all.
    _commit(settings, group, topic, 30)
    assert _changes(_round(forced, scope), "queue_depth") == [("resolved", f"{group}/{topic}")]
    final = moderator.http.get(f"/admin/alerts/{alert['id']}").json()
    assert final["state"] == "resolved"
    assert final["resolved_at"] is not None
    assert [(e["state"], e["actor_id"]) for e in final["history"]] == [
        ("firing", None),
        ("acknowledged", moderator.id),
        ("resolved", None),
    ]
    late = moderator.http.post(f"/admin/alerts/{alert['id']}/acknowledge")
    assert late.status_code == 409
    assert late.json()["error"] == "resolved"
    # The condition coming back opens a new alert, not the old one again.
    _commit(settings, group, topic, 0)
    assert _changes(_round(forced, scope), "queue_depth") == [("firing", f"{group}/{topic}")]
    reopened = moderator.http.get(
        "/admin/alerts", params={"state": "firing", "rule": "queue_depth"}
    ).json()["items"]
    reopened_ids = [a["id"] for a in reopened if a["scope"] == scope]
    assert len(reopened_ids) == 1
    assert reopened_ids[0] != alert["id"]
    _commit(settings, group, topic, 30)
    assert _changes(_round(forced, scope), "queue_depth") == [("resolved", f"{group}/{topic}")]


def test_redis_filled_past_a_lowered_limit_fires_and_emptied_resolves(
    settings: Settings, scope: str, redis_conn: redis.Redis
) -> None:
    require(settings, "mariadb-0", "redis", "kafka", "flink-jobmanager")
    used = int(redis_conn.info("memory")["used_memory"])
    # A limit that today's use stays under with 8 MB to spare (at 0.8), and a ballast of 16 MB
    # in small keys (one big value would also sit in the client's query buffer for a while).
    limit = int((used + 8 * 2**20) / 0.8)
    forced = settings.model_copy(update={"alert_redis_memory_limit_bytes": limit})
    assert _changes(_round(forced, scope), "redis_memory") == []
    keys = [f"test:alerts:ballast:{scope}:{n}" for n in range(256)]
    try:
        with redis_conn.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(key, b"x" * (64 * 2**10))
            pipe.execute()
        assert _changes(_round(forced, scope), "redis_memory") == [("firing", "redis")]
    finally:
        redis_conn.delete(*keys)
    # Redis hands freed memory back within a moment; the alert resolves on the first round
    # that sees it under the threshold, and only once.
    resolved: list[tuple[str, str]] = []
    deadline = time.monotonic() + 15
    while not resolved and time.monotonic() < deadline:
        resolved = _changes(_round(forced, scope), "redis_memory")
        if not resolved:
            time.sleep(1)
    assert resolved == [("resolved", "redis")]
    assert _changes(_round(forced, scope), "redis_memory") == []


def test_a_flink_job_not_running_fires_and_resolves_once_it_is_no_longer_expected(
    settings: Settings, scope: str
) -> None:
    require(settings, "mariadb-0", "redis", "kafka", "flink-jobmanager")
    missing = f"no-such-job-{scope}"
    forced = settings.model_copy(update={"monitor_flink_jobs": ["chat-persist", missing]})
    changes = _round(forced, scope)
    assert _changes(changes, "flink_job") == [("firing", missing)]
    assert _changes(changes, "checkpoint_age") == []  # chat-persist runs and checkpoints
    lifted = settings.model_copy(update={"monitor_flink_jobs": ["chat-persist"]})
    assert _changes(_round(lifted, scope), "flink_job") == [("resolved", missing)]


def test_an_unreachable_service_fires_its_probe_and_resolves_nothing_it_feeds(
    settings: Settings, scope: str, lagging_group: tuple[str, str]
) -> None:
    require(settings, "mariadb-0", "redis", "flink-jobmanager")
    group, topic = lagging_group
    forced = settings.model_copy(
        update={"alert_queue_depth": 20, "monitor_consumer_groups": [group]}
    )
    assert _changes(_round(forced, scope), "queue_depth") == [("firing", f"{group}/{topic}")]
    # Kafka unreachable: its probe fires, and the queue alert is not resolved for lack of news.
    blind = forced.model_copy(update={"kafka_port": 1})
    changes = _round(blind, scope)
    assert _changes(changes, "probe") == [("firing", "kafka")]
    assert _changes(changes, "queue_depth") == []
    _commit(settings, group, topic, 30)
    changes = _round(forced, scope)
    assert sorted(_changes(changes, "probe") + _changes(changes, "queue_depth")) == [
        ("resolved", "kafka"),
        ("resolved", f"{group}/{topic}"),
    ]


def test_the_stacks_monitor_writes_the_pipelines_health(
    settings: Settings, influx: InfluxDBClient
) -> None:
    require(settings, "monitor")
    deadline = time.monotonic() + 60
    jobs: dict[str, bool] = {}
    while time.monotonic() < deadline and len(jobs) < 3:
        flux = (
            f'from(bucket: "{settings.influx_bucket}") |> range(start: -1m)'
            f' |> filter(fn: (r) => r._measurement == "{metrics.FLINK_JOB}"'
            ' and r._field == "running") |> last()'
        )
        jobs = {
            str(r.values["job"]): bool(r.get_value())
            for table in influx.query_api().query(flux)
            for r in table.records
        }
        time.sleep(2)
    assert jobs == {"chat-persist": True, "moderation": True, "metrics": True}
    flux = (
        f'from(bucket: "{settings.influx_bucket}") |> range(start: -1m)'
        f' |> filter(fn: (r) => r._measurement == "{metrics.REDIS_MEMORY}") |> last()'
    )
    fields = {
        r.get_field(): r.get_value()
        for table in influx.query_api().query(flux)
        for r in table.records
    }
    assert fields["used_bytes"] > 0
    assert 0 < fields["ratio"] < 1
    # The chat path's counts are written every round, busy or quiet (counts of 0 then).
    for measurement, field in (
        (metrics.CHAT_DELIVERY, "delivered"),
        (metrics.CHAT_SEND, "sends"),
        (metrics.ROOM_JOIN, "joins"),
    ):
        flux = (
            f'from(bucket: "{settings.influx_bucket}") |> range(start: -1m)'
            f' |> filter(fn: (r) => r._measurement == "{measurement}" and r._field == "{field}")'
            " |> last()"
        )
        counts = [r.get_value() for t in influx.query_api().query(flux) for r in t.records]
        assert len(counts) == 1, (measurement, counts)
        assert counts[0] >= 0


def test_a_room_join_held_up_past_a_second_fires_join_latency_and_resolves(
    settings: Settings, scope: str, people: People, mysql: ShardRouter
) -> None:
    """Bob's join waits on a row lock: an uncommitted insert of his own seat, held 1.5 s by
    another MySQL session. The seed's threshold (1 s) is not lowered."""
    require(settings, "mariadb-0", "redis", "kafka", "flink-jobmanager")
    alice, bob = people.register(), people.register()
    room_id = int(alice.http.post("/rooms", json={"name": "slow", "topic": "t"}).json()["id"])
    window = settings.model_copy(update={"monitor_window_s": 5})
    _rounds_until(window, scope, "join_latency", _any, timeout=4)  # settle: none open
    status: list[int] = []
    with mysql.engine_for_room(room_id).connect() as holder:
        holder.execute(
            text(
                "INSERT INTO room_participants (room_id, user_id, role) VALUES (:r, :u, 'member')"
            ),
            {"r": room_id, "u": bob.id},
        )
        joining = threading.Thread(
            target=lambda: status.append(bob.http.post(f"/rooms/{room_id}/join").status_code)
        )
        started = time.monotonic()
        joining.start()
        time.sleep(1.5)
        holder.rollback()
    joining.join(timeout=30)
    took = time.monotonic() - started
    assert status == [200]
    assert took >= 1.5
    fired = _rounds_until(window, scope, "join_latency", lambda c: c.value > 1000, timeout=20)
    assert fired == [("firing", "rooms")]
    # No slow join in the next window: resolved, once.
    resolved = _rounds_until(window, scope, "join_latency", _any, timeout=30)
    assert resolved == [("resolved", "rooms")]


def test_a_socket_too_slow_for_its_room_fires_delivery_success_and_resolves(
    api_url: str, settings: Settings, scope: str, people: People, redis_conn: redis.Redis
) -> None:
    """A follower that reads nothing while its room's messages pour in (published where the
    persistence job publishes them) is cut off: the frames it could not take are dropped
    deliveries, and the share delivered falls under 99 %."""
    alice = people.register()
    room_id = int(alice.http.post("/rooms", json={"name": "fast", "topic": "t"}).json()["id"])
    window = settings.model_copy(update={"monitor_window_s": 5})
    _rounds_until(window, scope, "delivery_success", _any, timeout=4)
    token = str(alice.http.headers["Authorization"]).removeprefix("Bearer ")
    host, port = api_url.removeprefix("http://").split(":")
    sock = stdlib_socket.socket()
    sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    with connect(f"ws://{host}:{port}/ws?token={token}", sock=sock, max_size=None) as ws:
        ws.send(json.dumps({"type": "subscribe", "room_id": room_id}))
        while json.loads(ws.recv(timeout=10)).get("type") != "subscribed":
            pass
        pad = "x" * 10_000
        with redis_conn.pipeline(transaction=False) as pipe:
            for seq in range(1, 1_501):
                frame = Message(
                    room_id=room_id,
                    seq=seq,
                    message_id=seq,
                    user_id=alice.id + 1,
                    body=pad,
                    created_at=wire_time(datetime.now(UTC)),
                    client_msg_id=f"slow-{seq}",
                )
                pipe.publish(wire.room_channel(room_id), frame.to_json())
            pipe.execute()
        fired = _rounds_until(
            window, scope, "delivery_success", lambda c: c.value < 0.99, timeout=20
        )
        assert fired == [("firing", "chat")]
        closed = None
        try:
            while True:
                ws.recv(timeout=30)
        except ConnectionClosed as error:
            closed = error
        assert closed.rcvd is not None
        assert closed.rcvd.code == 1013  # it was cut off
    resolved = _rounds_until(window, scope, "delivery_success", _any, timeout=30)
    assert resolved == [("resolved", "chat")]


def test_a_snoozed_alert_fires_again_when_its_snooze_ends_if_still_open(
    settings: Settings, scope: str, moderator: Person, mysql: ShardRouter
) -> None:
    require(settings, "mariadb-0", "redis", "kafka", "flink-jobmanager")
    missing = f"no-such-job-{scope}"
    forced = settings.model_copy(update={"monitor_flink_jobs": [missing]})
    assert _changes(_round(forced, scope), "flink_job") == [("firing", missing)]
    listed = moderator.http.get("/admin/alerts", params={"state": "firing", "rule": "flink_job"})
    (alert,) = [a for a in listed.json()["items"] if a["subject"] == missing]
    for minutes in (0, 7 * 24 * 60 + 1):
        refused = moderator.http.post(
            f"/admin/alerts/{alert['id']}/snooze", json={"minutes": minutes}
        )
        assert refused.status_code == 422, refused.text
    snoozed = moderator.http.post(f"/admin/alerts/{alert['id']}/snooze", json={"minutes": 30})
    assert snoozed.status_code == 200, snoozed.text
    body = snoozed.json()
    assert body["state"] == "acknowledged"
    until = datetime.fromisoformat(body["snoozed_until"])
    assert 29 * 60 < (until - datetime.now(UTC)).total_seconds() <= 30 * 60
    assert [e["state"] for e in body["history"]] == ["firing", "snoozed"]
    # Still snoozed: a round with the condition still there leaves it acknowledged.
    assert _changes(_round(forced, scope), "flink_job") == []
    # Thirty minutes on (the end moved into the past): the next round fires it again.
    with mysql.directory_engine().begin() as connection:
        connection.execute(
            text(
                "UPDATE alerts SET snoozed_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND"
                " WHERE id = :id"
            ),
            {"id": alert["id"]},
        )
    assert _changes(_round(forced, scope), "flink_job") == [("firing", missing)]
    again = moderator.http.get(f"/admin/alerts/{alert['id']}").json()
    assert (again["state"], again["snoozed_until"], again["acknowledged_by"]) == (
        "firing",
        None,
        None,
    )
    assert [e["state"] for e in again["history"]] == ["firing", "snoozed", "firing"]
    lifted = settings.model_copy(update={"monitor_flink_jobs": []})
    assert _changes(_round(lifted, scope), "flink_job") == [("resolved", missing)]
    late = moderator.http.post(f"/admin/alerts/{alert['id']}/snooze", json={"minutes": 5})
    assert late.status_code == 409
    assert late.json()["error"] == "resolved"
