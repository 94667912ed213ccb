"""What the full re-sync copies from MySQL into Neo4j, one entry per node label or relationship.

Each entry is data, not code: the SQL that reads the rows, the Cypher that writes a batch of them,
the Cypher that sweeps what the run did not touch, and the queries that count and sample both
sides for the asset check. ``graph_jobs.sync.full`` runs any of them the same way, so adding a
relationship to the graph is one entry here plus its place in ``core.graph``.

SQL columns are named after the Cypher parameters they feed (``r.a``, ``r.b``...). Symmetric
tables (friendships, study_buddies) hold both directions; the sync reads the lower-id half only.

Times cross the wire as epoch milliseconds and become DateTimes in Neo4j (``_since``): the Python
driver spends about 40 us packing one ``datetime``, five times the cost of the rest of a row,
and that was most of the sync's CPU. The SQL side is plain arithmetic on the stored UTC value
(``TIMESTAMPDIFF`` from the epoch), so no session time zone can shift it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


@dataclass(frozen=True)
class Relation:
    name: str  # the asset is graph_<name>
    description: str
    shards: Literal["directory", "all"]  # where the rows live
    rows_sql: str
    write_cypher: str  # UNWIND $rows AS r ...; $stamp is the run's synced_at
    sweep_cypher: str  # deletes what has synced_at < $stamp, in its own transactions
    count_sql: str
    count_cypher: str
    # (user id, neighbour) pairs for the users in :ids / $ids, on each side; None: counts only.
    # The SQL keeps only neighbours that exist: the graph cannot hold a row to nobody.
    sample_sql: str | None = None
    sample_cypher: str | None = None
    deps: tuple[str, ...] = ()
    # Rows the graph cannot hold, because an endpoint row is missing (a source integrity
    # problem, reported apart from drift): on the same shard, and for rows whose user lives
    # on the directory shard while they do not, the rows of the users in :ids.
    orphans_sql: str | None = None
    user_ids_sql: str | None = None
    rows_of_users_sql: str | None = None

    @property
    def asset_name(self) -> str:
        return f"graph_{self.name}"


def _sweep_nodes(label: str) -> str:
    return (
        f"MATCH (n:{label}) WHERE coalesce(n.synced_at, 0) < $stamp "
        # Small transactions: a node goes with all its relationships, and a hub has thousands.
        "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 500 ROWS"
    )


def _sweep_rels(rel: str) -> str:
    return (
        f"MATCH ()-[x:{rel}]->() WHERE coalesce(x.synced_at, 0) < $stamp "
        "CALL (x) { DELETE x } IN TRANSACTIONS OF 10000 ROWS"
    )


SINCE = "x.since = datetime({epochMillis: r.since})"


def _pair_write(a: str, rel: str, b: str, props: str = "") -> str:
    extra = f", {props}" if props else ""
    return (
        f"UNWIND $rows AS r MATCH (a:{a} {{id: r.a}}) MATCH (b:{b} {{id: r.b}}) "
        f"MERGE (a)-[x:{rel}]->(b) SET x.synced_at = $stamp{extra}"
    )


USERS = Relation(
    name="users",
    description="Every user as a (:User) node with username, timezone and whether active.",
    shards="directory",
    rows_sql="SELECT id, username, timezone, is_active AS active FROM users",
    write_cypher=(
        f"UNWIND $rows AS r MERGE (u:{USER} {{id: r.id}}) "
        "SET u.username = r.username, u.timezone = r.timezone, u.active = r.active <> 0, "
        "u.synced_at = $stamp"
    ),
    sweep_cypher=_sweep_nodes(USER),
    count_sql="SELECT COUNT(*) FROM users",
    count_cypher=f"MATCH (n:{USER}) RETURN count(n)",
    sample_sql="SELECT id AS u, username AS v FROM users WHERE id IN :ids",
    sample_cypher=(
        f"UNWIND $ids AS id MATCH (u:{USER} {{id: id}}) RETURN u.id AS u, u.username AS v"
    ),
)

FRIENDSHIPS = Relation(
    name="friendships",
    description="Friendships as one (:User)-[:FRIEND]->(:User) per pair, lower id first.",
    shards="directory",
    rows_sql=(
        "SELECT user1_id AS a, user2_id AS b, "
        "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at) DIV 1000 AS since "
        "FROM friendships WHERE user1_id < user2_id"
    ),
    write_cypher=_pair_write(USER, FRIEND, USER, SINCE),
    sweep_cypher=_sweep_rels(FRIEND),
    count_sql="SELECT COUNT(*) FROM friendships WHERE user1_id < user2_id",
    count_cypher=f"MATCH ()-[x:{FRIEND}]->() RETURN count(x)",
    sample_sql=(
        "SELECT f.user1_id AS u, f.user2_id AS v FROM friendships f "
        "JOIN users x ON x.id = f.user2_id WHERE f.user1_id IN :ids"
    ),
    orphans_sql=(
        "SELECT COUNT(*) FROM friendships f LEFT JOIN users a ON a.id = f.user1_id "
        "LEFT JOIN users b ON b.id = f.user2_id "
        "WHERE f.user1_id < f.user2_id AND (a.id IS NULL OR b.id IS NULL)"
    ),
    sample_cypher=(
        f"UNWIND $ids AS id MATCH (u:{USER} {{id: id}})-[:{FRIEND}]-(v:{USER}) "
        "RETURN u.id AS u, v.id AS v"
    ),
    deps=("users",),
)

BUDDIES = Relation(
    name="buddies",
    description="Study buddies as one (:User)-[:BUDDY]->(:User) per pair, lower id first.",
    shards="directory",
    rows_sql=(
        "SELECT user_id AS a, buddy_id AS b, "
        "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at) DIV 1000 AS since "
        "FROM study_buddies WHERE user_id < buddy_id"
    ),
    write_cypher=_pair_write(USER, BUDDY, USER, SINCE),
    sweep_cypher=_sweep_rels(BUDDY),
    count_sql="SELECT COUNT(*) FROM study_buddies WHERE user_id < buddy_id",
    count_cypher=f"MATCH ()-[x:{BUDDY}]->() RETURN count(x)",
    sample_sql=(
        "SELECT s.user_id AS u, s.buddy_id AS v FROM study_buddies s "
        "JOIN users x ON x.id = s.buddy_id WHERE s.user_id IN :ids"
    ),
    orphans_sql=(
        "SELECT COUNT(*) FROM study_buddies s LEFT JOIN users a ON a.id = s.user_id "
        "LEFT JOIN users b ON b.id = s.buddy_id "
        "WHERE s.user_id < s.buddy_id AND (a.id IS NULL OR b.id IS NULL)"
    ),
    sample_cypher=(
        f"UNWIND $ids AS id MATCH (u:{USER} {{id: id}})-[:{BUDDY}]-(v:{USER}) "
        "RETURN u.id AS u, v.id AS v"
    ),
    deps=("users",),
)

BLOCKS = Relation(
    name="blocks",
    description="Blocks as (:User)-[:BLOCKED]->(:User), from the blocker to the blocked.",
    shards="directory",
    rows_sql=(
        "SELECT blocker_id AS a, blocked_id AS b, "
        "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at) DIV 1000 AS since "
        "FROM user_blocks"
    ),
    write_cypher=_pair_write(USER, BLOCKED, USER, SINCE),
    sweep_cypher=_sweep_rels(BLOCKED),
    count_sql="SELECT COUNT(*) FROM user_blocks",
    count_cypher=f"MATCH ()-[x:{BLOCKED}]->() RETURN count(x)",
    sample_sql=(
        "SELECT k.blocker_id AS u, k.blocked_id AS v FROM user_blocks k "
        "JOIN users x ON x.id = k.blocked_id WHERE k.blocker_id IN :ids"
    ),
    orphans_sql=(
        "SELECT COUNT(*) FROM user_blocks k LEFT JOIN users a ON a.id = k.blocker_id "
        "LEFT JOIN users b ON b.id = k.blocked_id WHERE a.id IS NULL OR b.id IS NULL"
    ),
    sample_cypher=(
        f"UNWIND $ids AS id MATCH (u:{USER} {{id: id}})-[:{BLOCKED}]->(v:{USER}) "
        "RETURN u.id AS u, v.id AS v"
    ),
    deps=("users",),
)

GROUPS = Relation(
    name="groups",
    description="Discussion groups as (:Group) nodes with subject and visibility.",
    shards="directory",
    rows_sql="SELECT id, subject, visibility FROM discussion_groups",
    write_cypher=(
        f"UNWIND $rows AS r MERGE (g:{GROUP} {{id: r.id}}) "
        "SET g.subject = r.subject, g.visibility = r.visibility, g.synced_at = $stamp"
    ),
    sweep_cypher=_sweep_nodes(GROUP),
    count_sql="SELECT COUNT(*) FROM discussion_groups",
    count_cypher=f"MATCH (n:{GROUP}) RETURN count(n)",
)

GROUP_MEMBERS = Relation(
    name="group_members",
    description="Group membership as (:User)-[:MEMBER_OF]->(:Group).",
    shards="directory",
    rows_sql="SELECT user_id AS a, group_id AS b FROM group_members",
    write_cypher=_pair_write(USER, MEMBER_OF, GROUP),
    sweep_cypher=_sweep_rels(MEMBER_OF),
    count_sql="SELECT COUNT(*) FROM group_members",
    count_cypher=f"MATCH ()-[x:{MEMBER_OF}]->() RETURN count(x)",
    sample_sql=(
        "SELECT m.user_id AS u, m.group_id AS v FROM group_members m "
        "JOIN discussion_groups g ON g.id = m.group_id WHERE m.user_id IN :ids"
    ),
    orphans_sql=(
        "SELECT COUNT(*) FROM group_members m LEFT JOIN users a ON a.id = m.user_id "
        "LEFT JOIN discussion_groups g ON g.id = m.group_id WHERE a.id IS NULL OR g.id IS NULL"
    ),
    sample_cypher=(
        f"UNWIND $ids AS id MATCH (u:{USER} {{id: id}})-[:{MEMBER_OF}]->(v:{GROUP}) "
        "RETURN u.id AS u, v.id AS v"
    ),
    deps=("users", "groups"),
)

ROOMS = Relation(
    name="rooms",
    description="Study rooms, on every shard, as (:Room) nodes with topic and status.",
    shards="all",
    rows_sql="SELECT id, topic, status FROM study_rooms",
    write_cypher=(
        f"UNWIND $rows AS r MERGE (n:{ROOM} {{id: r.id}}) "
        "SET n.topic = r.topic, n.status = r.status, n.synced_at = $stamp"
    ),
    sweep_cypher=_sweep_nodes(ROOM),
    count_sql="SELECT COUNT(*) FROM study_rooms",
    count_cypher=f"MATCH (n:{ROOM}) RETURN count(n)",
)

ROOM_PARTICIPANTS = Relation(
    name="room_participants",
    description="Who sits in which room now, as (:User)-[:IN_ROOM]->(:Room).",
    shards="all",
    rows_sql="SELECT user_id AS a, room_id AS b FROM room_participants",
    write_cypher=_pair_write(USER, IN_ROOM, ROOM),
    sweep_cypher=_sweep_rels(IN_ROOM),
    count_sql="SELECT COUNT(*) FROM room_participants",
    count_cypher=f"MATCH ()-[x:{IN_ROOM}]->() RETURN count(x)",
    sample_sql=(
        "SELECT p.user_id AS u, p.room_id AS v FROM room_participants p "
        "JOIN study_rooms r ON r.id = p.room_id WHERE p.user_id IN :ids"
    ),
    orphans_sql=(
        "SELECT COUNT(*) FROM room_participants p LEFT JOIN study_rooms r ON r.id = p.room_id "
        "WHERE r.id IS NULL"
    ),
    user_ids_sql="SELECT DISTINCT user_id FROM room_participants",
    rows_of_users_sql=(
        "SELECT COUNT(*) FROM room_participants p JOIN study_rooms r ON r.id = p.room_id "
        "WHERE p.user_id IN :ids"
    ),
    sample_cypher=(
        f"UNWIND $ids AS id MATCH (u:{USER} {{id: id}})-[:{IN_ROOM}]->(v:{ROOM}) "
        "RETURN u.id AS u, v.id AS v"
    ),
    deps=("users", "rooms"),
)

SUBJECTS = Relation(
    name="subjects",
    description=(
        "What each user studies, as (:User)-[:STUDIES]->(:Subject); the weight is 1/n for a "
        "user of n subjects, so that broad profiles count for less in matching."
    ),
    shards="directory",
    rows_sql=(
        "SELECT user_id AS a, subject AS s, 1.0 / COUNT(*) OVER (PARTITION BY user_id) AS w "
        "FROM study_profile_subjects"
    ),
    write_cypher=(
        f"UNWIND $rows AS r MATCH (a:{USER} {{id: r.a}}) "
        f"MERGE (s:{SUBJECT} {{name: r.s}}) SET s.synced_at = $stamp "
        f"MERGE (a)-[x:{STUDIES}]->(s) SET x.weight = toFloat(r.w), x.synced_at = $stamp"
    ),
    sweep_cypher=_sweep_rels(STUDIES),
    count_sql="SELECT COUNT(*) FROM study_profile_subjects",
    orphans_sql=(
        "SELECT COUNT(*) FROM study_profile_subjects s LEFT JOIN users a ON a.id = s.user_id "
        "WHERE a.id IS NULL"
    ),
    count_cypher=f"MATCH ()-[x:{STUDIES}]->() RETURN count(x)",
    sample_sql=(
        "SELECT user_id AS u, subject AS v FROM study_profile_subjects WHERE user_id IN :ids"
    ),
    sample_cypher=(
        f"UNWIND $ids AS id MATCH (u:{USER} {{id: id}})-[:{STUDIES}]->(v:{SUBJECT}) "
        "RETURN u.id AS u, v.name AS v"
    ),
    deps=("users",),
)

RELATIONS: tuple[Relation, ...] = (
    USERS,
    FRIENDSHIPS,
    BUDDIES,
    BLOCKS,
    GROUPS,
    GROUP_MEMBERS,
    ROOMS,
    ROOM_PARTICIPANTS,
    SUBJECTS,
)
