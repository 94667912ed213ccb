"""The Great Expectations checks (graph_jobs.quality) against the real MySQL, Neo4j and Dagster:
each passes on good data, and fails, naming the offending rows, on data broken on purpose."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    MetadataValue,
    materialize,
)
from sqlalchemy import text

from core.db.sharding import ShardRouter
from graph_jobs.community_assets import (
    community_assets,
    community_checks,
    every_active_user_has_a_community,
    top_k_churn_bounded,
)
from graph_jobs.definitions import resources
from graph_jobs.sync.assets import friendship_rules, graph_weights, relation_assets
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ALL = [*relation_assets, graph_weights, *friendship_rules, *community_assets, *community_checks]
FRIENDSHIP_RULES = AssetSelection.checks(*friendship_rules)
NOBODY = 1  # no snowflake id is this small


def _befriend(a: Person, b: Person) -> None:
    sent = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert sent.status_code == 201, sent.text
    assert b.http.post(f"/friends/requests/{sent.json()['id']}/accept").status_code == 200


@pytest.fixture
def broken_rows(people: People, mysql: ShardRouter) -> Iterator[dict[str, int]]:
    """A friendship stored one way only, and a user who is their own friend: what a writer
    that skipped the application's rules would leave."""
    alice = people.register(prefix="dq")
    rows = {"a": alice.id, "nobody": NOBODY}
    with mysql.directory_engine().begin() as conn:
        conn.execute(
            text("INSERT INTO friendships (user1_id, user2_id) VALUES (:a, :nobody), (:a, :a)"),
            rows,
        )
    yield rows
    with mysql.directory_engine().begin() as conn:
        conn.execute(
            text("DELETE FROM friendships WHERE (user1_id, user2_id) IN ((:a, :nobody), (:a, :a))"),
            rows,
        )


def test_friendship_rules_pass_on_what_the_api_wrote(people: People) -> None:
    _befriend(people.register(prefix="dq"), people.register(prefix="dq"))
    result = materialize(
        ALL,
        resources=resources(),
        selection=AssetSelection.assets("graph_users", "graph_friendships") | FRIENDSHIP_RULES,
    )
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert {name: c.passed for name, c in checks.items()} == {
        "friendships_symmetric": True,
        "no_self_friendship": True,
    }
    assert checks["friendships_symmetric"].metadata["observed"].value == 0
    assert checks["friendships_symmetric"].metadata["gx_expectation"].value == (
        "UnexpectedRowsExpectation"
    )


def test_broken_friendships_fail_and_block_what_is_built_on_them(
    broken_rows: dict[str, int],
) -> None:
    result = materialize(
        ALL,
        resources=resources(),
        selection=AssetSelection.assets("graph_users", "graph_friendships", "graph_weights")
        | FRIENDSHIP_RULES,
        raise_on_error=False,
    )
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    one_way, own = checks["friendships_symmetric"], checks["no_self_friendship"]
    assert not one_way.passed
    assert not own.passed
    alice = broken_rows["a"]
    # The sample names the rows: (alice, nobody) has no reverse; (alice, alice) is both.
    sample = one_way.metadata["sample"].value
    assert isinstance(sample, list)
    assert {"user1_id": alice, "user2_id": NOBODY} in sample
    assert own.metadata["sample"].value == [{"user1_id": alice, "user2_id": alice}]
    assert own.metadata["observed"].value == 1
    # Blocking: the weights are not derived from a graph that breaks the rules.
    assert not result.success
    materialised = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey("graph_friendships") in materialised
    assert AssetKey("graph_weights") not in materialised


def test_a_user_the_communities_missed_fails_the_check_by_name(people: People) -> None:
    _befriend(people.register(prefix="dq"), people.register(prefix="dq"))
    with DagsterInstance.ephemeral() as instance:
        first = materialize(
            ALL,
            resources=resources(),
            instance=instance,
            selection=AssetSelection.assets(
                "graph_users", "graph_friendships", "graph_weights", "graph_communities"
            ),
        )
        assert first.success
        held = {c.check_name: c.passed for c in first.get_asset_check_evaluations()}
        assert held["every_active_user_has_a_community"]
        # Someone signs up after the communities ran, and reaches the graph.
        late = people.register(prefix="dq")
        assert materialize(
            ALL, resources=resources(), instance=instance, selection=["graph_users"]
        ).success
        again = materialize(
            ALL,
            resources=resources(),
            instance=instance,
            selection=AssetSelection.checks(every_active_user_has_a_community),
            raise_on_error=False,
        )
    [missed] = again.get_asset_check_evaluations()
    assert not missed.passed
    assert missed.metadata["gx_expectation"].value == "ExpectColumnValuesToNotBeNull"
    sample = missed.metadata["sample"].value
    assert isinstance(sample, list)
    assert {"user_id": late.id, "community": None} in sample


@pytest.mark.parametrize(
    ("previous", "top", "passed"),
    [([1, 2, 3, 4], [1, 2, 8, 9], True), ([1, 2, 3, 4], [1, 7, 8, 9], False)],
)
def test_pagerank_churn_is_bounded_by_gx(previous: list[int], top: list[int], passed: bool) -> None:
    with DagsterInstance.ephemeral() as instance:
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=AssetKey("graph_influence"),
                metadata={
                    "influence_state": MetadataValue.json({"top": top, "previous_top": previous})
                },
            )
        )
        result = materialize(
            ALL,
            resources=resources(),
            instance=instance,
            selection=AssetSelection.checks(top_k_churn_bounded),
            raise_on_error=False,
        )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed is passed
    assert evaluation.metadata["gx_expectation"].value == "ExpectColumnValuesToBeInSet"
    assert evaluation.metadata["churn"].value == 1 - len(set(top) & set(previous)) / 4
