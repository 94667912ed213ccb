"""The graph sync against the real MySQL, Kafka and Neo4j: the full copy, its checks, drift
repair, the event sync and its sensor, all through Dagster as the UI would run them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from dagster import (
    AssetSelection,
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_sensor_context,
    materialize,
)
from neo4j import Driver
from neo4j.time import DateTime
from sqlalchemy import text

from core.db.sharding import ShardRouter
from graph_jobs.definitions import resources
from graph_jobs.resources import KafkaResource
from graph_jobs.sync.assets import (
    graph_event_sync,
    graph_events_sensor,
    graph_weights,
    relation_assets,
    relation_checks,
)
from graph_jobs.sync.full import compare_relation
from graph_jobs.sync.relations import FRIENDSHIPS
from tests.utils.api import People, Person

# A full sync copies everything MySQL holds: seconds on the suite's data, minutes with the
# benchmark's 100k-user population loaded (`make bench`), hence the longer timeout.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

ALL = [*relation_assets, graph_weights, *relation_checks]
NOBODY = 1  # no Snowflake id is this small
ORPHAN_INSERT = "INSERT INTO friendships (user1_id, user2_id) VALUES (:a, :b), (:b, :a)"
ORPHAN_DELETE = "DELETE FROM friendships WHERE (user1_id, user2_id) IN ((:a, :b), (:b, :a))"


def _befriend(a: Person, b: Person) -> None:
    sent = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert sent.status_code == 201, sent.text
    assert b.http.post(f"/friends/requests/{sent.json()['id']}/accept").status_code == 200


def _one(neo4j: Driver, cypher: str, **params: Any) -> object:
    records, _, _ = neo4j.execute_query(cypher, **params)
    assert len(records) == 1, records
    return records[0][0]


def _neighbours(neo4j: Driver, user: int, rel: str) -> set[object]:
    records, _, _ = neo4j.execute_query(
        f"MATCH (u:User {{id: $id}})-[:{rel}]-(v) RETURN coalesce(v.id, v.name) AS v", id=user
    )
    return {r["v"] for r in records}


@pytest.fixture
def neighbourhood(people: People) -> dict[str, Person]:
    """alice-bob and bob-carol friends; alice blocks dave; alice and bob share a group and a
    room; alice studies two subjects."""
    alice, bob, carol, dave = (people.register(prefix=p) for p in ("ga", "gb", "gc", "gd"))
    _befriend(alice, bob)
    _befriend(bob, carol)
    assert alice.http.post(f"/blocks/{dave.id}").status_code == 204
    group = alice.http.post("/groups", json={"name": "graph study", "subject": "math"})
    assert group.status_code == 201, group.text
    assert bob.http.post(f"/groups/{group.json()['id']}/join").status_code == 200
    room = alice.http.post("/rooms", json={"name": "graph room", "topic": "math"})
    assert room.status_code == 201, room.text
    assert bob.http.post(f"/rooms/{room.json()['id']}/join").status_code == 200
    profile = {"subjects": ["math", "physics"], "timezone": "Europe/Berlin"}
    assert alice.http.put("/users/me/study-profile", json=profile).status_code == 200
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave}


def test_full_sync_copies_the_graph_and_its_checks_pass(
    neighbourhood: dict[str, Person], neo4j: Driver, mysql: ShardRouter
) -> None:
    alice, bob, carol, dave = (neighbourhood[k] for k in ("alice", "bob", "carol", "dave"))
    # A friendship with a user that does not exist (no foreign keys on partitioned tables):
    # the graph cannot hold it, and the check reports it as an orphan, not as drift.
    orphan = {"a": alice.id, "b": NOBODY}
    with mysql.directory_engine().begin() as conn:
        conn.execute(text(ORPHAN_INSERT), orphan)
    try:
        result = materialize(ALL, resources=resources())
    finally:
        with mysql.directory_engine().begin() as conn:
            conn.execute(text(ORPHAN_DELETE), orphan)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) == len(relation_checks)
    failed = {c.asset_key.to_user_string(): c.metadata for c in checks if not c.passed}
    assert failed == {}
    (friendships,) = [c for c in checks if c.asset_key.to_user_string() == "graph_friendships"]
    orphans = friendships.metadata["orphan_rows"].value
    assert isinstance(orphans, int)
    assert orphans >= 1

    assert _neighbours(neo4j, alice.id, "FRIEND") == {bob.id}
    assert _neighbours(neo4j, bob.id, "FRIEND") == {alice.id, carol.id}
    assert _one(neo4j, "MATCH (:User {id: $a})-[:BLOCKED]->(v) RETURN v.id", a=alice.id) == dave.id
    assert len(_neighbours(neo4j, alice.id, "MEMBER_OF")) == 1
    assert _neighbours(neo4j, alice.id, "IN_ROOM") == _neighbours(neo4j, bob.id, "IN_ROOM")
    weights = neo4j.execute_query(
        "MATCH (:User {id: $a})-[x:STUDIES]->(s) RETURN s.name AS s, x.weight AS w", a=alice.id
    ).records
    assert {(r["s"], r["w"]) for r in weights} == {("math", 0.5), ("physics", 0.5)}
    # `since` is the MySQL row's time (UTC), whichever path wrote it.
    since = _one(neo4j, "MATCH (:User {id: $a})-[x:FRIEND]-() RETURN x.since", a=alice.id)
    assert isinstance(since, DateTime)
    assert abs((datetime.now(UTC) - since.to_native()).total_seconds()) < 600
    # One room and one group shared: co-present once, and the friendship weighs 1 + 2.
    pair = {"a": min(alice.id, bob.id), "b": max(alice.id, bob.id)}
    assert (
        _one(
            neo4j, "MATCH (:User {id: $a})-[x:CO_PRESENT]->(:User {id: $b}) RETURN x.weight", **pair
        )
        == 1.0
    )
    assert (
        _one(neo4j, "MATCH (:User {id: $a})-[x:FRIEND]->(:User {id: $b}) RETURN x.weight", **pair)
        == 3.0
    )


def test_the_check_sees_drift_and_the_resync_repairs_it(
    neighbourhood: dict[str, Person], neo4j: Driver, mysql: ShardRouter
) -> None:
    alice, bob, carol = (neighbourhood[k] for k in ("alice", "bob", "carol"))
    friendships = AssetSelection.assets("graph_friendships")
    with_check = friendships | AssetSelection.checks_for_assets("graph_friendships")
    first = AssetSelection.assets("graph_users") | friendships
    assert materialize(ALL, resources=resources(), selection=first).success
    # Drift both ways: a friendship lost, and one that MySQL never had (written with no stamp,
    # as a buggy writer would).
    neo4j.execute_query(
        "MATCH (:User {id: $a})-[x:FRIEND]-(:User {id: $b}) DELETE x", a=alice.id, b=bob.id
    )
    neo4j.execute_query(
        "MATCH (a:User {id: $a}), (b:User {id: $b}) CREATE (a)-[:FRIEND]->(b)",
        a=min(alice.id, carol.id),
        b=max(alice.id, carol.id),
    )
    drifted = compare_relation(
        FRIENDSHIPS,
        engines=[mysql.directory_engine()],
        directory=mysql.directory_engine(),
        driver=neo4j,
        database="neo4j",
        user_ids=[alice.id],
    )
    assert not drifted.matches
    assert drifted.differences[alice.id] == ([bob.id], [carol.id])

    # Alice is named: a sample of 200 over a big id range may well miss her.
    check_only = materialize(
        ALL,
        resources=resources(),
        selection=AssetSelection.checks_for_assets("graph_friendships"),
        run_config={
            "ops": {"graph_friendships_matches_mysql": {"config": {"user_ids": [alice.id]}}}
        },
    )
    (evaluation,) = check_only.get_asset_check_evaluations()
    assert not evaluation.passed

    repaired = materialize(ALL, resources=resources(), selection=with_check)
    assert repaired.success
    assert all(c.passed for c in repaired.get_asset_check_evaluations())
    assert _neighbours(neo4j, alice.id, "FRIEND") == {bob.id}


def _event_sync(group_id: str) -> None:
    run = graph_event_sync.execute_in_process(
        resources={**resources(), "kafka": KafkaResource(group_id=group_id)}
    )
    assert run.success


def test_events_flow_into_the_graph_idempotently(people: People, neo4j: Driver) -> None:
    group_id = f"test-graph-{uuid.uuid4().hex[:8]}"
    erin, frank, gus = (people.register(prefix=p) for p in ("ge", "gf", "gg"))
    _befriend(erin, frank)
    _befriend(erin, gus)
    group = frank.http.post("/groups", json={"name": "event study"})
    assert erin.http.post(f"/groups/{group.json()['id']}/join").status_code == 200
    assert (
        erin.http.put(
            "/users/me/study-profile", json={"subjects": ["chemistry"], "timezone": "UTC"}
        ).status_code
        == 200
    )
    room = gus.http.post("/rooms", json={"name": "event room", "topic": "chemistry"}).json()
    assert erin.http.post(f"/rooms/{room['id']}/join").status_code == 200

    _event_sync(group_id)
    assert _neighbours(neo4j, erin.id, "FRIEND") == {frank.id, gus.id}
    since = _one(
        neo4j,
        "MATCH (:User {id: $a})-[x:FRIEND]-(:User {id: $b}) RETURN x.since",
        a=erin.id,
        b=frank.id,
    )
    assert isinstance(since, DateTime)
    assert abs((datetime.now(UTC) - since.to_native()).total_seconds()) < 600
    assert _neighbours(neo4j, erin.id, "MEMBER_OF") == {group.json()["id"]}
    assert _neighbours(neo4j, erin.id, "STUDIES") == {"chemistry"}
    assert _neighbours(neo4j, erin.id, "IN_ROOM") == {room["id"]}

    # Then the other half of each story; the same group resumes where it committed.
    assert erin.http.delete(f"/friends/{frank.id}").status_code == 204
    assert erin.http.post(f"/blocks/{gus.id}").status_code == 204
    assert erin.http.post(f"/groups/{group.json()['id']}/leave").status_code == 200
    assert (
        erin.http.put(
            "/users/me/study-profile", json={"subjects": ["biology", "art"], "timezone": "UTC"}
        ).status_code
        == 200
    )
    assert gus.http.delete(f"/rooms/{room['id']}").status_code == 204
    _event_sync(group_id)
    assert _neighbours(neo4j, erin.id, "FRIEND") == set()
    assert _one(neo4j, "MATCH (:User {id: $a})-[:BLOCKED]->(v) RETURN v.id", a=erin.id) == gus.id
    assert _neighbours(neo4j, erin.id, "MEMBER_OF") == set()
    assert _neighbours(neo4j, erin.id, "STUDIES") == {"biology", "art"}
    assert _neighbours(neo4j, erin.id, "IN_ROOM") == set()

    # A replay of all history by a new group ends in the same graph.
    before = neo4j.execute_query(
        "MATCH (:User {id: $a})-[x]-(v) RETURN type(x) AS t, coalesce(v.id, v.name) AS v", a=erin.id
    ).records
    _event_sync(f"{group_id}-replay")
    after = neo4j.execute_query(
        "MATCH (:User {id: $a})-[x]-(v) RETURN type(x) AS t, coalesce(v.id, v.name) AS v", a=erin.id
    ).records
    assert sorted(map(tuple, before)) == sorted(map(tuple, after))


def test_the_sensor_asks_for_a_run_only_while_the_group_lags(people: People) -> None:
    group_id = f"test-sensor-{uuid.uuid4().hex[:8]}"
    a, b = people.register(prefix="gs"), people.register(prefix="gt")
    _befriend(a, b)
    kafka = KafkaResource(group_id=group_id)
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, resources={"kafka": kafka})
        (asked,) = list(graph_events_sensor(context))  # type: ignore[arg-type]
        assert isinstance(asked, RunRequest)
        assert int(asked.tags["studyhub/lag"]) > 0
        _event_sync(group_id)
        context = build_sensor_context(instance=instance, resources={"kafka": kafka})
        (skipped,) = list(graph_events_sensor(context))  # type: ignore[arg-type]
        assert isinstance(skipped, SkipReason)
