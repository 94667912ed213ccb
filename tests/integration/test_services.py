"""A round trip through each real service, using the project's own client code."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
import redis
import redis.asyncio as aioredis
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import SYNCHRONOUS
from neo4j import Driver
from sqlalchemy import select, text

from core import wire
from core.db.models import StudyRoom
from core.db.sharding import ShardRouter
from core.events import CHAT_MESSAGES, ROOM_EVENTS, ChatMessageSent, RoomJoined, topic_specs
from core.ids import IdGenerator, lease_generator_id, renew_generator_id
from core.settings import Settings
from domain.social import _NOW_EXCLUDED, FRIENDS_SQL, MUTUAL_SQL
from ingest.kafka import consume_events, make_consumer, make_producer, produce_sync

pytestmark = pytest.mark.integration

ids = IdGenerator(900)


def test_kafka_round_trip_keeps_per_room_order(kafka: Settings) -> None:
    room_id = ids.next_id()
    sent = [
        ChatMessageSent(
            room_id=room_id,
            message_id=ids.next_id(),
            sender_id=1,
            client_msg_id=str(uuid.uuid4()),
            body=f"message {n}",
        )
        for n in range(20)
    ]
    producer = make_producer(kafka)
    records = [produce_sync(producer, event) for event in sent]
    # Keyed by room: one partition, consecutive offsets, in send order.
    assert len({record.partition() for record in records}) == 1
    offsets = [record.offset() or 0 for record in records]
    assert offsets == list(range(offsets[0], offsets[0] + 20))

    consumer = make_consumer(kafka, group_id=f"test-{uuid.uuid4()}")
    partition, first_offset = records[0].partition(), offsets[0]
    assert partition is not None
    assert first_offset is not None
    consumer.assign([TopicPartition(CHAT_MESSAGES, partition, first_offset)])
    try:
        received = [
            event for _, event in consume_events(consumer, CHAT_MESSAGES, max_events=20, timeout=10)
        ]
    finally:
        consumer.close()
    assert received == sent


def test_kafka_topics_exist_with_their_partitions(kafka: Settings) -> None:
    topics = (
        AdminClient({"bootstrap.servers": kafka.kafka_bootstrap}).list_topics(timeout=10).topics
    )
    for name, partitions in topic_specs(kafka).items():
        assert name in topics, name
        assert len(topics[name].partitions) == partitions, name


def test_kafka_producer_is_idempotent_with_acks_all(kafka: Settings) -> None:
    producer = make_producer(kafka)
    record = produce_sync(
        producer, RoomJoined(room_id=ids.next_id(), user_id=1, participant_count=1)
    )
    assert record.topic() == ROOM_EVENTS
    assert record.error() is None


def test_mysql_round_trip_on_each_shard(mysql: ShardRouter) -> None:
    # Find a room id for every shard, write each through the router, read it back.
    rooms_by_shard: dict[int, int] = {}
    while len(rooms_by_shard) < mysql.shard_count:
        room_id = ids.next_id()
        rooms_by_shard.setdefault(mysql.shard_for_room(room_id), room_id)
    for shard, room_id in rooms_by_shard.items():
        with mysql.session(shard) as session:
            session.add(
                StudyRoom(id=room_id, owner_id=1, name=f"test room {room_id}", topic="math")
            )
    try:
        for shard, room_id in rooms_by_shard.items():
            with mysql.session(shard) as session:
                room = session.scalars(select(StudyRoom).where(StudyRoom.id == room_id)).one()
                assert room.capacity == 50
                assert room.status == "open"
            # and it is on no other shard
            for other in range(mysql.shard_count):
                if other != shard:
                    with mysql.session(other) as session:
                        assert session.get(StudyRoom, room_id) is None
            port = mysql.engine(shard).url.port
            assert port == mysql.settings.mysql_port(shard)
    finally:
        for shard, room_id in rooms_by_shard.items():
            with mysql.session(shard) as session:
                session.execute(text("DELETE FROM study_rooms WHERE id = :id"), {"id": room_id})


def test_friend_list_query_uses_the_direction_indexes(mysql: ShardRouter) -> None:
    with mysql.directory_engine().connect() as connection:
        forward = (
            connection.execute(
                text(
                    "EXPLAIN SELECT user2_id FROM friendships WHERE user1_id = 1 ORDER BY user2_id"
                )
            )
            .mappings()
            .one()
        )
        reverse = (
            connection.execute(text("EXPLAIN SELECT user1_id FROM friendships WHERE user2_id = 1"))
            .mappings()
            .one()
        )
        partitions = (
            connection.execute(
                text("EXPLAIN PARTITIONS SELECT user2_id FROM friendships WHERE user1_id = 12345")
            )
            .mappings()
            .one()
        )
    assert forward["key"] == "idx_friendships_user1"
    assert reverse["key"] == "idx_friendships_user2"
    # Partition pruning: a friend list reads one of the 8 partitions.
    assert partitions["partitions"] == "p1"


def test_redis_round_trip(redis_conn: redis.Redis) -> None:
    key = f"test:{uuid.uuid4()}"
    try:
        redis_conn.hset(key, mapping={"phase": "focus", "participants": 3})
        redis_conn.expire(key, 60)
        assert redis_conn.hgetall(key) == {"phase": "focus", "participants": "3"}
        assert 0 < redis_conn.ttl(key) <= 60
        pubsub = redis_conn.pubsub()
        pubsub.subscribe(f"{key}:messages")
        assert pubsub.get_message(timeout=2)["type"] == "subscribe"
        assert redis_conn.publish(f"{key}:messages", "hi") == 1
        message = pubsub.get_message(timeout=2)
        assert message is not None
        assert message["data"] == "hi"
        pubsub.close()
    finally:
        redis_conn.delete(key)


def test_influxdb_write_and_flux_query(influx: InfluxDBClient, settings: Settings) -> None:
    run = uuid.uuid4().hex
    now = datetime.now(UTC)
    points = [
        Point("test_message_latency").tag("run", run).field("ms", float(value)).time(now)
        for value in (10, 20, 30)
    ]
    # Same timestamp and tags: InfluxDB keeps the last; give each its own series by tag.
    points = [p.tag("n", str(n)) for n, p in enumerate(points)]
    influx.write_api(write_options=SYNCHRONOUS).write(bucket=settings.influx_bucket, record=points)
    flux = f"""
        from(bucket: "{settings.influx_bucket}")
          |> range(start: -10m)
          |> filter(fn: (r) => r._measurement == "test_message_latency" and r.run == "{run}")
          |> group()
          |> mean(column: "_value")
    """
    tables = influx.query_api().query(flux)
    values = [record.get_value() for table in tables for record in table.records]
    assert values == [20.0]


def test_neo4j_cypher_and_gds(neo4j: Driver) -> None:
    tag = f"t{uuid.uuid4().hex[:12]}"
    graph = f"g_{tag}"
    try:
        neo4j.execute_query(
            """
            UNWIND range(1, 6) AS i CREATE (:TestUser {tag: $tag, n: i})
            WITH count(*) AS created
            MATCH (a:TestUser {tag: $tag}), (b:TestUser {tag: $tag})
            WHERE (a.n <= 3 AND b.n <= 3 AND a.n < b.n) OR (a.n > 3 AND b.n > 3 AND a.n < b.n)
            CREATE (a)-[:FRIEND]->(b)
            """,
            tag=tag,
        )
        records, _, _ = neo4j.execute_query(
            "MATCH (:TestUser {tag: $tag})-[r:FRIEND]->() RETURN count(r) AS edges", tag=tag
        )
        assert records[0]["edges"] == 6
        neo4j.execute_query(
            """
            MATCH (a:TestUser {tag: $tag})-[:FRIEND]->(b:TestUser {tag: $tag})
            WITH gds.graph.project($graph, a, b, {}, {undirectedRelationshipTypes: ['*']}) AS g
            RETURN g.graphName
            """,
            tag=tag,
            graph=graph,
        )
        records, _, _ = neo4j.execute_query(
            """
            CALL gds.wcc.stream($graph) YIELD nodeId, componentId
            RETURN gds.util.asNode(nodeId).n AS n, componentId ORDER BY n
            """,
            graph=graph,
        )
        components = [record["componentId"] for record in records]
        assert len(components) == 6
        # Two triangles: two communities of three.
        assert len(set(components[:3])) == 1
        assert len(set(components[3:])) == 1
        assert components[0] != components[3]
    finally:
        neo4j.execute_query(
            "CALL gds.graph.drop($graph, false) YIELD graphName RETURN graphName", graph=graph
        )
        neo4j.execute_query("MATCH (u:TestUser {tag: $tag}) DETACH DELETE u", tag=tag)


def test_the_apis_friend_queries_use_the_direction_indexes(mysql: ShardRouter) -> None:
    """EXPLAIN the exact statements the API runs for a friend list and mutual friends."""

    def plan(sql: str, params: dict[str, object]) -> list[dict[str, object]]:
        # The same driver parameter style (pyformat) as the API's asyncmy.
        with mysql.directory_engine().connect() as connection:
            return [
                dict(row) for row in connection.exec_driver_sql(f"EXPLAIN {sql}", params).mappings()
            ]

    friend_list = plan(FRIENDS_SQL, {"user": 12345, "after": 0, "limit": 51})
    friendships = [row for row in friend_list if row["table"] == "f"]
    assert [row["key"] for row in friendships] == ["idx_friendships_user1"]
    mutual = plan(MUTUAL_SQL, {"user": 12345, "other": 67890, "after": 0, "limit": 51})
    accesses = [row for row in mutual if row["table"] in {"f", "t"}]
    # Both sides are index lookups (the optimiser may take either direction for the second
    # side, which is then a point lookup on both columns), never a scan.
    assert len(accesses) == 2
    for row in accesses:
        assert row["key"] in {"idx_friendships_user1", "idx_friendships_user2"}, row
        assert row["type"] in {"ref", "range", "eq_ref", "const"}, row
    # The re-check of remembered friends-of-friends: index seeks on every branch.
    rechecked = plan(_NOW_EXCLUDED, {"me": 12345, "ids": (1, 2, 3)})
    for row in rechecked:
        if row["table"] is not None and not str(row["table"]).startswith("<union"):
            assert row["type"] in {"ref", "range", "eq_ref", "const"}, row


def test_generator_id_leases_are_exclusive(redis_conn: redis.Redis) -> None:
    async def lease_three() -> list[int]:
        client = aioredis.Redis.from_url(
            f"redis://{redis_conn.connection_pool.connection_kwargs['host']}:"
            f"{redis_conn.connection_pool.connection_kwargs['port']}/0",
            decode_responses=True,
        )
        try:
            owners = [f"test-{uuid.uuid4().hex}" for _ in range(3)]
            leased = [await lease_generator_id(client, owner, ttl_s=30) for owner in owners]
            assert await renew_generator_id(client, leased[0], owners[0], ttl_s=30)
            assert not await renew_generator_id(client, leased[0], "someone-else", ttl_s=30)
            for generator_id in leased:
                await client.delete(wire.id_lease_key(generator_id))
            return leased
        finally:
            await client.aclose()

    leased = asyncio.run(lease_three())
    assert len(set(leased)) == 3
    assert all(0 <= g < 900 for g in leased)
