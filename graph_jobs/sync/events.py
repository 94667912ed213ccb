"""The event sync: social-events and room-events folded into graph changes, then applied.

A batch of events is folded to the last word on each relationship: for a pair (or a user and a
group, or a user and a room) only the final state matters, present or absent, and Kafka keeps
each key's events in order in one partition, so the last event of a key in the batch is its
latest state. The folded changes are then written with one ``UNWIND`` per kind and state.

Replaying a batch gives the same graph (MERGE creates once, DELETE of nothing is nothing), so
the consumer commits its offsets only after Neo4j has the batch: at least once, and idempotent.
Nodes first seen in an event are created bare and get their properties at the next full sync.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver

from core.events import (
    BuddyAccepted,
    Event,
    FriendAccepted,
    FriendRemoved,
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
from core.graph import (
    BLOCKED,
    BUDDY,
    FRIEND,
    GROUP,
    IN_ROOM,
    MEMBER_OF,
    ROOM,
    STUDIES,
    SUBJECT,
    SYNC_STATE,
    USER,
)
from graph_jobs.sync.relations import SINCE

# (source label, relationship, target label) for each kind of pair the events move.
_KINDS: dict[str, tuple[str, str, str]] = {
    FRIEND: (USER, FRIEND, USER),
    BUDDY: (USER, BUDDY, USER),
    BLOCKED: (USER, BLOCKED, USER),
    MEMBER_OF: (USER, MEMBER_OF, GROUP),
    IN_ROOM: (USER, IN_ROOM, ROOM),
}


# Every write below is ordered by time, inside the statement, so that the event sync and a full
# re-sync running at the same moment cannot undo each other (see core/graph.py):
# - r.at is the event's time; a relationship's synced_at is the time of the state it holds
#   (an event's time, or the start of the snapshot that wrote it);
# - a creation applies only if the event is newer than its relation's latest snapshot
#   (:SyncState), read in the same statement: an older event is in the snapshot already, and
#   if the snapshot does not have the row, the row was removed after the event;
# - a deletion applies only to a relationship older than the event.
_SNAPSHOT = (
    f"OPTIONAL MATCH (state:{SYNC_STATE} {{relation: $relation}}) "
    "WITH coalesce(state.stamp, 0) AS snapshot "
    "UNWIND $rows AS r WITH r, snapshot WHERE r.at >= snapshot "
)


def _present(source: str, rel: str, target: str) -> str:
    return (
        _SNAPSHOT + f"MERGE (a:{source} {{id: r.a}}) ON CREATE SET a.synced_at = r.at "
        f"MERGE (b:{target} {{id: r.b}}) ON CREATE SET b.synced_at = r.at "
        f"MERGE (a)-[x:{rel}]->(b) ON CREATE SET {SINCE} "
        "SET x.synced_at = CASE WHEN coalesce(x.synced_at, 0) < r.at THEN r.at "
        "ELSE x.synced_at END"
    )


def _absent(source: str, rel: str, target: str) -> str:
    return (
        f"UNWIND $rows AS r MATCH (a:{source} {{id: r.a}})-[x:{rel}]->(b:{target} {{id: r.b}}) "
        "WHERE coalesce(x.synced_at, 0) < r.at DELETE x"
    )


_SUBJECTS = (
    _SNAPSHOT + f"MERGE (u:{USER} {{id: r.user}}) ON CREATE SET u.synced_at = r.at "
    "WITH u, r "
    f"OPTIONAL MATCH (u)-[old:{STUDIES}]->(s:{SUBJECT}) "
    "WHERE NOT s.name IN r.subjects AND coalesce(old.synced_at, 0) < r.at "
    "DELETE old "
    "WITH DISTINCT u, r UNWIND r.subjects AS name "
    f"MERGE (s:{SUBJECT} {{name: name}}) ON CREATE SET s.synced_at = r.at "
    f"MERGE (u)-[x:{STUDIES}]->(s) SET x.weight = 1.0 / size(r.subjects), x.synced_at = r.at"
)
_ROOMS = (
    _SNAPSHOT + f"MERGE (n:{ROOM} {{id: r.id}}) "
    "SET n.topic = coalesce(r.topic, n.topic), n.status = 'open', n.synced_at = r.at"
)
_CLOSE_ROOMS = (
    f"UNWIND $rows AS r MATCH (n:{ROOM} {{id: r.id}}) WHERE coalesce(n.synced_at, 0) < r.at "
    "SET n.status = 'closed', n.synced_at = r.at "
    f"WITH n, r MATCH (n)<-[x:{IN_ROOM}]-() WHERE coalesce(x.synced_at, 0) < r.at DELETE x"
)

# The full-sync relation whose snapshot holds each kind (graph_jobs.sync.relations).
RELATION_OF: dict[str, str] = {
    FRIEND: "friendships",
    BUDDY: "buddies",
    BLOCKED: "blocks",
    MEMBER_OF: "group_members",
    IN_ROOM: "room_participants",
    STUDIES: "subjects",
    ROOM: "rooms",
}


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


@dataclass
class GraphChanges:
    """The last known state of every relationship the batch touched, with its event's time."""

    pairs: dict[str, dict[tuple[int, int], tuple[bool, int]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    subjects: dict[int, tuple[list[str], int]] = field(default_factory=dict)
    rooms: dict[int, dict[str, Any]] = field(default_factory=dict)
    closed_rooms: dict[int, int] = field(default_factory=dict)
    events: int = 0
    ignored: int = 0

    def _set(self, kind: str, key: tuple[int, int], present: bool, at: int) -> None:
        self.pairs[kind][key] = (present, at)

    def add(self, event: Event) -> None:  # noqa: PLR0912 - one branch per event type
        self.events += 1
        at = int(event.occurred_at.timestamp() * 1000)
        match event:
            case FriendAccepted():
                self._set(FRIEND, _pair(event.from_user_id, event.to_user_id), True, at)
            case FriendRemoved():
                self._set(FRIEND, _pair(event.from_user_id, event.to_user_id), False, at)
            case BuddyAccepted():
                self._set(BUDDY, _pair(event.from_user_id, event.to_user_id), True, at)
            case UserBlocked():
                # Blocking ends the friendship too (domain.social.block deletes it).
                self._set(BLOCKED, (event.from_user_id, event.to_user_id), True, at)
                self._set(FRIEND, _pair(event.from_user_id, event.to_user_id), False, at)
            case UserUnblocked():
                self._set(BLOCKED, (event.from_user_id, event.to_user_id), False, at)
            case GroupJoined():
                self._set(MEMBER_OF, (event.user_id, event.group_id), True, at)
            case GroupLeft():
                self._set(MEMBER_OF, (event.user_id, event.group_id), False, at)
            case SubjectsChanged():
                self.subjects[event.user_id] = (sorted(set(event.subjects)), at)
            case RoomCreated():
                self.rooms[event.room_id] = {"id": event.room_id, "topic": event.topic, "at": at}
                self.closed_rooms.pop(event.room_id, None)
            case RoomJoined():
                self._set(IN_ROOM, (event.user_id, event.room_id), True, at)
            case RoomLeft():
                self._set(IN_ROOM, (event.user_id, event.room_id), False, at)
            case RoomClosed():
                self.closed_rooms[event.room_id] = at
                self.rooms.pop(event.room_id, None)
                # Everyone is out of a closed room: drop the joins this batch saw before it.
                seats = self.pairs[IN_ROOM]
                for key in [k for k in seats if k[1] == event.room_id]:
                    del seats[key]
            case _:
                self.ignored += 1  # requests and timers do not change the graph

    def __len__(self) -> int:
        return (
            sum(len(v) for v in self.pairs.values())
            + len(self.subjects)
            + len(self.rooms)
            + len(self.closed_rooms)
        )

    def apply(self, driver: Driver, database: str) -> dict[str, int]:
        """Write the changes; returns how many relationships were created and deleted."""
        created = deleted = 0

        def run(cypher: str, relation: str, rows: list[dict[str, Any]]) -> None:
            nonlocal created, deleted
            _, summary, _ = driver.execute_query(
                cypher, rows=rows, relation=relation, database_=database
            )
            created += summary.counters.relationships_created
            deleted += summary.counters.relationships_deleted

        if self.rooms:
            run(_ROOMS, RELATION_OF[ROOM], list(self.rooms.values()))
        for kind, states in self.pairs.items():
            source, rel, target = _KINDS[kind]
            present = [
                {"a": a, "b": b, "at": at, "since": at} for (a, b), (on, at) in states.items() if on
            ]
            absent = [{"a": a, "b": b, "at": at} for (a, b), (on, at) in states.items() if not on]
            if present:
                run(_present(source, rel, target), RELATION_OF[kind], present)
            if absent:
                run(_absent(source, rel, target), RELATION_OF[kind], absent)
        if self.subjects:
            rows = [
                {"user": user, "subjects": names, "at": at}
                for user, (names, at) in self.subjects.items()
            ]
            run(_SUBJECTS, RELATION_OF[STUDIES], rows)
        if self.closed_rooms:
            rows = [{"id": room, "at": at} for room, at in self.closed_rooms.items()]
            run(_CLOSE_ROOMS, RELATION_OF[ROOM], rows)
        return {"created": created, "deleted": deleted}
