"""Weights derived inside Neo4j, after the copy: co-presence, and the strength of friendships.

- ``CO_PRESENT.weight``: how many rooms the pair sits in together now.
- ``FRIEND.weight``: 1 + the rooms and groups the pair shares, so a friendship that also lives
  in a room or a group counts for more in the graph algorithms than one that is only a row.

Both are recomputed from scratch on each run, per user, in batches of their own transactions,
so a replay gives the same numbers and no run holds one huge transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from neo4j import Driver

from core.graph import CO_PRESENT, FRIEND, GROUP, IN_ROOM, MEMBER_OF, ROOM, USER
from graph_jobs.sync.full import now_ms

_CO_PRESENCE = (
    f"MATCH (a:{USER}) WHERE EXISTS {{ (a)-[:{IN_ROOM}]->() }} "
    "CALL (a) { "
    f"  MATCH (a)-[:{IN_ROOM}]->(r:{ROOM})<-[:{IN_ROOM}]-(b:{USER}) WHERE a.id < b.id "
    "  WITH a, b, count(r) AS shared "
    f"  MERGE (a)-[x:{CO_PRESENT}]->(b) SET x.weight = toFloat(shared), x.synced_at = $stamp "
    "} IN TRANSACTIONS OF 1000 ROWS"
)
_CO_PRESENCE_SWEEP = (
    f"MATCH ()-[x:{CO_PRESENT}]->() WHERE coalesce(x.synced_at, 0) < $stamp "
    "CALL (x) { DELETE x } IN TRANSACTIONS OF 10000 ROWS"
)
_FRIEND_WEIGHT = (
    f"MATCH (a:{USER})-[f:{FRIEND}]->(b:{USER}) "
    "CALL (a, b, f) { "
    "  SET f.weight = 1.0 "
    f"    + COUNT {{ (a)-[:{IN_ROOM}]->(:{ROOM})<-[:{IN_ROOM}]-(b) }} "
    f"    + COUNT {{ (a)-[:{MEMBER_OF}]->(:{GROUP})<-[:{MEMBER_OF}]-(b) }} "
    "} IN TRANSACTIONS OF 10000 ROWS"
)


@dataclass
class WeightsReport:
    co_present: int
    co_present_swept: int
    friendships_weighed: int
    seconds: float


def derive_weights(driver: Driver, database: str) -> WeightsReport:
    began = time.monotonic()
    stamp = now_ms()
    with driver.session(database=database) as session:
        session.run(_CO_PRESENCE, stamp=stamp).consume()
        swept = session.run(_CO_PRESENCE_SWEEP, stamp=stamp).consume().counters
        weighed = session.run(_FRIEND_WEIGHT).consume().counters
    records, _, _ = driver.execute_query(
        f"MATCH ()-[x:{CO_PRESENT}]->() RETURN count(x)", database_=database
    )
    return WeightsReport(
        co_present=int(records[0][0]),
        co_present_swept=swept.relationships_deleted,
        friendships_weighed=weighed.properties_set,
        seconds=time.monotonic() - began,
    )
