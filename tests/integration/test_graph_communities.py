"""Communities and influence with the real GDS: Leiden, PageRank, degree, and their checks."""

from __future__ import annotations

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    MetadataValue,
    materialize,
)
from neo4j import Driver
from sqlalchemy import bindparam, text

from core.db.sharding import ShardRouter
from graph_jobs.community_assets import community_assets, community_checks
from graph_jobs.definitions import resources
from graph_jobs.sync.assets import graph_weights, relation_assets
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

ALL = [*relation_assets, graph_weights, *community_assets, *community_checks]
SELECTION = AssetSelection.assets(
    "graph_users",
    "graph_friendships",
    "graph_weights",
    "graph_communities",
    "graph_influence",
    "graph_metrics_mysql",
)
WITH_CHECKS = SELECTION | AssetSelection.checks_for_assets("graph_communities", "graph_influence")


def _befriend(a: Person, b: Person) -> None:
    sent = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert sent.status_code == 201, sent.text
    assert b.http.post(f"/friends/requests/{sent.json()['id']}/accept").status_code == 200


def _triangle(people: People, prefix: str) -> list[Person]:
    trio = [people.register(prefix=f"{prefix}{i}") for i in range(3)]
    _befriend(trio[0], trio[1])
    _befriend(trio[1], trio[2])
    _befriend(trio[2], trio[0])
    return trio


def _props(neo4j: Driver, ids: list[int]) -> dict[int, dict[str, object]]:
    records, _, _ = neo4j.execute_query(
        "MATCH (u:User) WHERE u.id IN $ids "
        "RETURN u.id AS id, u.community AS community, u.pagerank AS pagerank, u.degree AS degree",
        ids=ids,
    )
    return {r["id"]: r.data() for r in records}


def test_two_separate_triangles_are_two_communities(
    people: People, neo4j: Driver, mysql: ShardRouter
) -> None:
    first, second = _triangle(people, "ca"), _triangle(people, "cb")
    with DagsterInstance.ephemeral() as instance:
        result = materialize(ALL, resources=resources(), selection=WITH_CHECKS, instance=instance)
        assert result.success
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks == {
            "every_active_user_has_a_community": True,
            "modularity_holds": True,
            "top_k_churn_bounded": True,
        }
        # Again on the same instance: now there is a previous run to compare with, and the
        # graph has not changed, so both comparisons hold.
        again = materialize(ALL, resources=resources(), selection=WITH_CHECKS, instance=instance)
        assert all(c.passed for c in again.get_asset_check_evaluations())

    props = _props(neo4j, [p.id for p in first + second])
    assert len({props[p.id]["community"] for p in first}) == 1
    assert len({props[p.id]["community"] for p in second}) == 1
    assert props[first[0].id]["community"] != props[second[0].id]["community"]
    for person in first + second:
        assert props[person.id]["degree"] == 2.0
        pagerank = props[person.id]["pagerank"]
        assert isinstance(pagerank, float)
        assert pagerank > 0
    # The dashboards' copy in MySQL says the same.
    with mysql.directory_engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT user_id, community_id, pagerank, degree FROM user_graph_metrics "
                "WHERE user_id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {"ids": [p.id for p in first + second]},
        ).all()
    assert {r.user_id: (r.community_id, r.degree) for r in rows} == {
        uid: (p["community"], 2) for uid, p in props.items()
    }


def test_a_collapse_of_modularity_fails_the_blocking_check(people: People) -> None:
    _triangle(people, "cc")
    with DagsterInstance.ephemeral() as instance:
        # A previous run claims more than any graph reaches (modularity is below 1, and the
        # floor is 80 % of the previous): whatever this run finds must look collapsed.
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=AssetKey("graph_communities"),
                metadata={"communities_state": MetadataValue.json({"modularity": 2.0})},
            )
        )
        result = materialize(
            ALL,
            resources=resources(),
            selection=WITH_CHECKS,
            instance=instance,
            raise_on_error=False,
        )
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert not checks["modularity_holds"].passed
        assert checks["modularity_holds"].metadata["previous"].value == 2.0
        # Blocking: what depends on the communities does not run on a collapsed result.
        assert not result.success
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        assert AssetKey("graph_influence") not in materialized
