"""The event fold of the graph sync: the last word on each relationship wins, in event order."""

from __future__ import annotations

from core.events import (
    BuddyAccepted,
    FriendAccepted,
    FriendRemoved,
    FriendRequested,
    GroupJoined,
    GroupLeft,
    RoomClosed,
    RoomCreated,
    RoomJoined,
    RoomLeft,
    SubjectsChanged,
    UserBlocked,
    UserUnblocked,
)
from core.graph import BLOCKED, BUDDY, FRIEND, IN_ROOM, MEMBER_OF
from graph_jobs.communities import top_churn
from graph_jobs.sync.events import GraphChanges
from graph_jobs.sync.relations import RELATIONS


def _fold(*events: object) -> GraphChanges:
    changes = GraphChanges()
    for event in events:
        changes.add(event)  # type: ignore[arg-type]
    return changes


def _states(changes: GraphChanges, kind: str) -> dict[tuple[int, int], bool]:
    """The folded states without their times."""
    return {key: present for key, (present, _) in changes.pairs[kind].items()}


def test_a_pair_is_stored_once_whichever_side_acts() -> None:
    changes = _fold(
        FriendAccepted(from_user_id=9, to_user_id=4, request_id=1),
        BuddyAccepted(from_user_id=4, to_user_id=9, request_id=2),
    )
    assert _states(changes, FRIEND) == {(4, 9): True}
    assert _states(changes, BUDDY) == {(4, 9): True}


def test_the_last_event_of_a_pair_wins() -> None:
    changes = _fold(
        FriendAccepted(from_user_id=1, to_user_id=2, request_id=1),
        FriendRemoved(from_user_id=2, to_user_id=1),
        FriendAccepted(from_user_id=3, to_user_id=4, request_id=2),
        FriendRemoved(from_user_id=3, to_user_id=4),
        FriendAccepted(from_user_id=4, to_user_id=3, request_id=3),
    )
    assert _states(changes, FRIEND) == {(1, 2): False, (3, 4): True}


def test_a_block_is_directed_and_ends_the_friendship() -> None:
    changes = _fold(
        FriendAccepted(from_user_id=5, to_user_id=2, request_id=1),
        UserBlocked(from_user_id=5, to_user_id=2),
    )
    assert _states(changes, BLOCKED) == {(5, 2): True}
    assert _states(changes, FRIEND) == {(2, 5): False}
    assert _states(_fold(UserUnblocked(from_user_id=5, to_user_id=2)), BLOCKED) == {(5, 2): False}


def test_memberships_and_subjects_keep_their_latest_state() -> None:
    changes = _fold(
        GroupJoined(group_id=10, user_id=1),
        GroupLeft(group_id=10, user_id=1),
        GroupJoined(group_id=11, user_id=1),
        SubjectsChanged(user_id=1, subjects=["math"]),
        SubjectsChanged(user_id=1, subjects=["physics", "art", "physics"]),
    )
    assert _states(changes, MEMBER_OF) == {(1, 10): False, (1, 11): True}
    assert changes.subjects[1][0] == ["art", "physics"]


def test_closing_a_room_drops_the_joins_before_it() -> None:
    changes = _fold(
        RoomCreated(room_id=7, user_id=1, name="r", topic="math", capacity=5, visibility="public"),
        RoomJoined(room_id=7, user_id=1, participant_count=1),
        RoomJoined(room_id=8, user_id=1, participant_count=1),
        RoomLeft(room_id=8, user_id=1, participant_count=0),
        RoomClosed(room_id=7, user_id=1),
    )
    assert _states(changes, IN_ROOM) == {(1, 8): False}
    assert set(changes.closed_rooms) == {7}
    assert changes.rooms == {}


def test_requests_do_not_change_the_graph() -> None:
    changes = _fold(FriendRequested(from_user_id=1, to_user_id=2, request_id=1))
    assert len(changes) == 0
    assert (changes.events, changes.ignored) == (1, 1)


def test_every_relation_depends_only_on_relations_that_exist() -> None:
    names = [relation.name for relation in RELATIONS]
    assert len(names) == len(set(names))
    for relation in RELATIONS:
        assert set(relation.deps) <= set(names) - {relation.name}
        assert "$stamp" in relation.write_cypher
        assert "$stamp" in relation.sweep_cypher
        assert (relation.sample_sql is None) == (relation.sample_cypher is None)


def test_top_churn_is_the_share_of_the_previous_top_replaced() -> None:
    assert top_churn([], [1, 2]) == 0.0
    assert top_churn([1, 2, 3, 4], [1, 2, 3, 4]) == 0.0
    assert top_churn([1, 2, 3, 4], [4, 3, 9, 8]) == 0.5
    assert top_churn([1, 2], [7, 8]) == 1.0


def test_each_state_keeps_the_time_of_its_last_event() -> None:
    removed = FriendRemoved(from_user_id=2, to_user_id=1)
    changes = _fold(FriendAccepted(from_user_id=1, to_user_id=2, request_id=1), removed)
    assert changes.pairs[FRIEND][(1, 2)] == (False, int(removed.occurred_at.timestamp() * 1000))
