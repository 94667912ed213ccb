"""The social graph in Neo4j: its labels, relationship types and constraints, in one place.

The graph jobs write it (``graph_jobs/``), the domain and the dashboards read it. MySQL stays the
source of truth; Neo4j holds a copy shaped for traversal, kept fresh by the event sync and
repaired by the full re-sync.

    (:User {id, username, timezone, active})
    (:User)-[:FRIEND {since, weight}]->(:User)     one per pair, from the lower id to the higher
    (:User)-[:BUDDY {since}]->(:User)              one per pair, from the lower id to the higher
    (:User)-[:BLOCKED {since}]->(:User)            directed: the blocker blocks the blocked
    (:User)-[:IN_ROOM]->(:Room {id, topic, status})   the room's participants now
    (:User)-[:MEMBER_OF]->(:Group {id, subject, visibility})
    (:User)-[:STUDIES {weight}]->(:Subject {name})
    (:User)-[:CO_PRESENT {weight}]->(:User)        derived: rooms the pair sits in together now

Symmetric relationships are stored once and matched without a direction, ``(a)-[:FRIEND]-(b)``:
half the writes and half the store of a two-way copy, and no chance of the halves disagreeing.

Every node and relationship the sync writes carries ``synced_at`` (milliseconds since the epoch):
the full re-sync stamps what it writes and then deletes what it did not touch and nothing has
touched since it began, which is how it repairs drift without racing the event sync.
``(:SyncState {relation, stamp})`` records when each relation's latest snapshot began: the
event sync skips events older than that, which the snapshot already holds, so a lagging
consumer cannot bring back what the snapshot removed.
"""

from __future__ import annotations

from typing import Final

USER: Final = "User"
ROOM: Final = "Room"
GROUP: Final = "Group"
SUBJECT: Final = "Subject"
SYNC_STATE: Final = "SyncState"

FRIEND: Final = "FRIEND"
BUDDY: Final = "BUDDY"
BLOCKED: Final = "BLOCKED"
IN_ROOM: Final = "IN_ROOM"
MEMBER_OF: Final = "MEMBER_OF"
STUDIES: Final = "STUDIES"
CO_PRESENT: Final = "CO_PRESENT"

# Uniqueness constraints double as the lookup indexes every MERGE needs.
CONSTRAINTS: Final = (
    f"CREATE CONSTRAINT user_id IF NOT EXISTS FOR (n:{USER}) REQUIRE n.id IS UNIQUE",
    f"CREATE CONSTRAINT room_id IF NOT EXISTS FOR (n:{ROOM}) REQUIRE n.id IS UNIQUE",
    f"CREATE CONSTRAINT group_id IF NOT EXISTS FOR (n:{GROUP}) REQUIRE n.id IS UNIQUE",
    f"CREATE CONSTRAINT subject_name IF NOT EXISTS FOR (n:{SUBJECT}) REQUIRE n.name IS UNIQUE",
    f"CREATE CONSTRAINT sync_state IF NOT EXISTS FOR (n:{SYNC_STATE}) REQUIRE n.relation IS UNIQUE",
)
