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
    USER,
)
from graph_jobs.sync.full import now_ms
from graph_jobs.sync.relations import SINCE

# (source label, relationship, target label) for each kind of pair the events move.
_KINDS: dict[str, tuple[str, str, str]] = {
    FRIEND: (USER, FRIEND, USER),
    BUDDY: (USER, BUDDY, USER),
    BLOCKED: (USER, BLOCKED, USER),
    MEMBER_OF: (USER, MEMBER_OF, GROUP),
    IN_ROOM: (USER, IN_ROOM, ROOM),
}


def _present(source: str, rel: str, target: str) -> str:
    return (
        f"UNWIND $rows AS r "
        f"MERGE (a:{source} {{id: r.a}}) ON CREATE SET a.synced_at = $now "
        f"MERGE (b:{target} {{id: r.b}}) ON CREATE SET b.synced_at = $now "
        f"MERGE (a)-[x:{rel}]->(b) ON CREATE SET {SINCE} SET x.synced_at = $now"
    )


def _absent(source: str, rel: str, target: str) -> str:
    return (
        f"UNWIND $rows AS r MATCH (a:{source} {{id: r.a}})-[x:{rel}]->(b:{target} {{id: r.b}}) "
        "DELETE x"
    )


_SUBJECTS = (
    f"UNWIND $rows AS r MERGE (u:{USER} {{id: r.user}}) ON CREATE SET u.synced_at = $now "
    "WITH u, r "
    f"OPTIONAL MATCH (u)-[old:{STUDIES}]->(s:{SUBJECT}) WHERE NOT s.name IN r.subjects "
    "DELETE old "
    "WITH DISTINCT u, r UNWIND r.subjects AS name "
    f"MERGE (s:{SUBJECT} {{name: name}}) ON CREATE SET s.synced_at = $now "
    f"MERGE (u)-[x:{STUDIES}]->(s) SET x.weight = 1.0 / size(r.subjects), x.synced_at = $now"
)
_ROOMS = (
    f"UNWIND $rows AS r MERGE (n:{ROOM} {{id: r.id}}) "
    "SET n.topic = coalesce(r.topic, n.topic), n.status = r.status, n.synced_at = $now"
)
_CLOSE_ROOMS = (
    f"UNWIND $ids AS id MATCH (n:{ROOM} {{id: id}}) SET n.status = 'closed', n.synced_at = $now "
    f"WITH n MATCH (n)<-[x:{IN_ROOM}]-() DELETE x"
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
    """The last known state of every relationship the batch touched.

    ``snapshots`` maps a relation to when its latest full sync began (ms): an event older than
    that is already in the snapshot, so it is skipped rather than replayed over it. A commit
    happens before its event is made, so "older than the snapshot began" implies "in it".
    """

    snapshots: dict[str, int] = field(default_factory=dict)

    pairs: dict[str, dict[tuple[int, int], bool]] = field(default_factory=lambda: defaultdict(dict))
    since: dict[tuple[str, int, int], int] = field(default_factory=dict)  # epoch ms
    subjects: dict[int, list[str]] = field(default_factory=dict)
    rooms: dict[int, dict[str, Any]] = field(default_factory=dict)
    closed_rooms: set[int] = field(default_factory=set)
    events: int = 0
    ignored: int = 0
    superseded: int = 0

    def _stale(self, kind: str, at: int) -> bool:
        if at < self.snapshots.get(RELATION_OF[kind], 0):
            self.superseded += 1
            return True
        return False

    def _set(self, kind: str, key: tuple[int, int], present: bool, at: int) -> None:
        if self._stale(kind, at):
            return
        self.pairs[kind][key] = present
        if present:
            self.since[(kind, *key)] = at

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
                if not self._stale(STUDIES, at):
                    self.subjects[event.user_id] = sorted(set(event.subjects))
            case RoomCreated():
                if not self._stale(ROOM, at):
                    self.rooms[event.room_id] = {"id": event.room_id, "topic": event.topic}
                    self.closed_rooms.discard(event.room_id)
            case RoomJoined():
                self._set(IN_ROOM, (event.user_id, event.room_id), True, at)
            case RoomLeft():
                self._set(IN_ROOM, (event.user_id, event.room_id), False, at)
            case RoomClosed():
                if self._stale(IN_ROOM, at):
                    return
                self.closed_rooms.add(event.room_id)
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
        now = now_ms()
        created = deleted = 0

        def run(cypher: str, **params: Any) -> None:
            nonlocal created, deleted
            _, summary, _ = driver.execute_query(cypher, now=now, database_=database, **params)
            created += summary.counters.relationships_created
            deleted += summary.counters.relationships_deleted

        if self.rooms:
            rows = [{**room, "status": "open"} for room in self.rooms.values()]
            run(_ROOMS, rows=rows)
        for kind, states in self.pairs.items():
            source, rel, target = _KINDS[kind]
            present = [
                {"a": a, "b": b, "since": self.since.get((kind, a, b))}
                for (a, b), on in states.items()
                if on
            ]
            absent = [{"a": a, "b": b} for (a, b), on in states.items() if not on]
            if present:
                run(_present(source, rel, target), rows=present)
            if absent:
                run(_absent(source, rel, target), rows=absent)
        if self.subjects:
            rows = [{"user": user, "subjects": names} for user, names in self.subjects.items()]
            run(_SUBJECTS, rows=rows)
        if self.closed_rooms:
            run(_CLOSE_ROOMS, ids=sorted(self.closed_rooms))
        return {"created": created, "deleted": deleted}
