"""Focus sessions: room-events -> MySQL's ``focus_sessions``, in Flink SQL (no Python). The
metrics job runs it beside the InfluxDB metrics, on the same room-events source.

A session is a join followed by its leave, for one user in one room: MATCH_RECOGNIZE keyed
by (room, user) with the pattern ``J L``. A repeated join (none should come: the domain only
announces a join that took a seat) restarts the match at the later one. A room's close ends
everyone's session in it with a leave each (domain.rooms.close_room).

Rows are matched in arrival order (processing time), not event time. Room events are keyed
by room, so a room's joins and leaves arrive in the order the API published them, and the
order is all a session needs: the times written are the events' own ``occurred_at``. Event
time would drop, as late, every event older than the watermark: a replay, or a scripted
scenario with known times (tests/integration/test_focus.py).

Focus time: each event carries the room's focus clock (``room_focus_ms``, the ms its shared
timer has run in a focus phase, domain.room_state.RoomState.focus_clock). A session's focus
is the leave's clock less the join's, kept between 0 and the session's length (a room state
reloaded from MySQL starts its clock again at 0).

The sink is the JDBC connector in upsert mode, keyed by (user, joined_at, room): a replay
writes the same rows again. A session whose join came before the job's start (midnight UTC
on a resubmission, see job.py) is not matched.
"""

from __future__ import annotations

from pyflink.table import TableEnvironment

from core.db.sharding import DIRECTORY_SHARD
from core.settings import Settings
from pipelines.metrics.sql import FIRST_USER_ID
from pipelines.runtime import jdbc_sink_options

SESSIONS_SQL = f"""
    SELECT user_id, joined_at, room_id, left_at,
           CAST(TIMESTAMPDIFF(SECOND, joined_at, left_at) AS INT) AS seconds,
           CAST(LEAST(GREATEST((f1 - f0) / 1000, 0),
                      TIMESTAMPDIFF(SECOND, joined_at, left_at)) AS INT) AS focus_seconds
    FROM (
      SELECT room_id, user_id, type, CAST(occurred_at AS TIMESTAMP(6)) AS happened,
             COALESCE(room_focus_ms, 0) AS focus_ms, PROCTIME() AS pt
      FROM room_source
      WHERE type IN ('room.joined', 'room.left') AND user_id >= {FIRST_USER_ID}
    )
    MATCH_RECOGNIZE (
      PARTITION BY room_id, user_id
      ORDER BY pt
      MEASURES J.happened AS joined_at, L.happened AS left_at, J.focus_ms AS f0, L.focus_ms AS f1
      ONE ROW PER MATCH
      AFTER MATCH SKIP PAST LAST ROW
      PATTERN (J L)
      DEFINE J AS J.type = 'room.joined', L AS L.type = 'room.left'
    )"""  # noqa: S608 - a constant, not input


def focus_insert(t_env: TableEnvironment, settings: Settings) -> str:
    """Declare the sink; returns the INSERT (the source is the metrics job's room_source)."""
    t_env.execute_sql(f"""
        CREATE TABLE focus_sessions (
          user_id BIGINT, joined_at TIMESTAMP(6), room_id BIGINT, left_at TIMESTAMP(6),
          seconds INT, focus_seconds INT,
          PRIMARY KEY (user_id, joined_at, room_id) NOT ENFORCED
        ) WITH ({jdbc_sink_options(settings, shard=DIRECTORY_SHARD, table="focus_sessions")})""")
    return f"INSERT INTO focus_sessions {SESSIONS_SQL}"
