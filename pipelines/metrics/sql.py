"""The metrics job's SQL, built from constants: the windows, the roll-ups and the InfluxDB
line of each result (pipelines.metrics.job submits it). No PyFlink here, so the unit tests
read it without a Flink install."""

# ruff: noqa: S608 (the SQL is built from this module's constants)
from __future__ import annotations

from core import metrics

# Ids below 2^22 are no snowflakes (core.ids): the stack's warm-up and the job benchmark
# produce as them, and they are no community.
FIRST_USER_ID = 1 << 22
LATENESS_S = 5
# The separator of the lines gathered into one string; no line contains it (tags are cleaned
# to [A-Za-z0-9:._-], fields are numbers and booleans).
SEPARATOR = "|"
# (period, CUMULATE step, window size) for each roll-up.
ROLLUPS = {"1m": ("10' SECOND", "1' MINUTE"), "1h": ("1' MINUTE", "1' HOUR")}
DAY = ("1' MINUTE", "1' DAY")
TOP_TERMS = 10  # popular terms kept per minute
MIN_TERM_CHARS, MAX_TERM_CHARS = 3, 32
# Words that say nothing about a topic: English function words and chat filler. Terms are
# lower-cased runs of letters and digits, so contractions split ("don't" -> "don", "t").
STOP_WORDS = frozenset((
    "about", "above", "after", "again", "against", "all", "also", "and", "any", "are", "aren",
    "because", "been", "before", "being", "below", "between", "both", "but", "can", "cannot",
    "could", "couldn", "did", "didn", "does", "doesn", "doing", "don", "down", "during",
    "each", "few", "for", "from", "further", "get", "got", "had", "hadn", "has", "hasn",
    "have", "haven", "having", "her", "here", "hers", "herself", "him", "himself", "his",
    "how", "into", "isn", "its", "itself", "just", "lol", "let", "like", "made", "make",
    "many", "may", "more", "most", "much", "must", "mustn", "myself", "need", "nor", "not",
    "now", "off", "ok", "okay", "once", "one", "only", "other", "ought", "our", "ours",
    "ourselves", "out", "over", "own", "really", "right", "same", "shan", "she", "should",
    "shouldn", "some", "such", "than", "thank", "thanks", "that", "the", "their", "theirs",
    "them", "themselves", "then", "there", "these", "they", "thing", "things", "think", "this",
    "those", "through", "too", "under", "until", "very", "was", "wasn", "way", "well", "were",
    "weren", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "won", "would", "wouldn", "yeah", "yes", "yet", "you", "your", "yours", "yourself",
    "yourselves",
))  # fmt: skip


def start_of_day_ms(now_s: float) -> int:
    """Midnight UTC of the day ``now_s`` (epoch seconds) is in, in epoch ms."""
    return int(now_s // 86400) * 86400 * 1000


def _window(step: str, size: str) -> str:
    return (
        f"TABLE(CUMULATE(TABLE metric_slices, DESCRIPTOR(ts), INTERVAL '{step}, INTERVAL '{size}))"
    )


def line_sql(measurement: str, period: str, tags: str, fields: list[tuple[str, str]]) -> str:
    """SQL for one InfluxDB line of a window's result: measurement, tags, integer fields,
    ``complete`` and the window's start in seconds."""
    seconds = metrics.PERIOD_SECONDS[period]
    parts = [f"'{measurement},period={period}'"]
    if tags:
        parts.append(tags)
    for index, (name, expression) in enumerate(fields):
        parts.append(f"'{' ' if index == 0 else ','}{name}='")
        parts.append(f"CAST({expression} AS STRING)")
        parts.append("'i'")
    parts.append(
        f"IF(TIMESTAMPDIFF(SECOND, window_start, window_end) = {seconds},"
        " ',complete=true ', ',complete=false ')"
    )
    parts.append("CAST(UNIX_TIMESTAMP(CAST(window_start AS STRING)) AS STRING)")
    return "CONCAT(" + ", ".join(parts) + ")"


# A room topic as an InfluxDB tag value: lower-cased, anything but [a-z0-9:._-] an underscore,
# at most 64 characters; no topic (events from before the field, a blank one) is NULL.
TOPIC_KEY = (
    "NULLIF(SUBSTRING(REGEXP_REPLACE(LOWER(TRIM(COALESCE(topic, ''))), '[^a-z0-9:._-]', '_')"
    " FROM 1 FOR 64), '')"
)
ACTIVE = "kind IN ('message', 'join', 'leave')"
# Each event is counted once, into its 10 s slice (``slices_sql``); the roll-ups add up the
# slices. ``n`` is a slice row's events, ``sessions`` and ``session_seconds`` its leaves'
# stays; a slice row is one user's in one room, so distinct users and rooms still count.
ROOM_FIELDS = [
    ("messages", "COALESCE(SUM(n) FILTER (WHERE kind = 'message'), 0)"),
    ("active_users", f"COUNT(DISTINCT user_id) FILTER (WHERE {ACTIVE})"),
    ("joins", "COALESCE(SUM(n) FILTER (WHERE kind = 'join'), 0)"),
    ("leaves", "COALESCE(SUM(n) FILTER (WHERE kind = 'leave'), 0)"),
    # Session lengths, from the leaves that carry theirs: how many, and their sum in seconds
    # (the mean is the one over the other; sums add up across windows, means do not).
    ("sessions", "COALESCE(SUM(sessions), 0)"),
    ("session_seconds", "COALESCE(SUM(session_seconds), 0)"),
]
TOPIC_FIELDS = [
    *ROOM_FIELDS,
    ("active_rooms", "COUNT(DISTINCT room_id) FILTER (WHERE kind = 'message')"),
]
COMMUNITY_FIELDS = [
    *TOPIC_FIELDS,
    ("friendships", "COALESCE(SUM(n) FILTER (WHERE kind = 'friendship'), 0)"),
]
SLICE_S = 10  # the CUMULATE step of a minute: a slice never straddles a step of any roll-up


def slices_sql() -> str:
    """Every event counted once: a 10 s tumbling window per room, topic, user, kind and rule,
    as rows with the slice's rowtime. The roll-ups (minute, hour, day; per room, topic and
    overall) read these rows instead of the events, so the per-event work is one aggregation,
    not nine. A chatty user's ten messages in a slice become one row."""
    return f"""
        SELECT ts, room_id, {TOPIC_KEY} AS topic_key, user_id, kind, rule, action, n,
               sessions, session_seconds
        FROM (
          SELECT window_time AS ts, room_id, topic, user_id, kind, rule, action,
                 COUNT(*) AS n, COUNT(session_s) AS sessions,
                 COALESCE(SUM(session_s), 0) AS session_seconds
          FROM TABLE(TUMBLE(TABLE metric_events, DESCRIPTOR(ts), INTERVAL '{SLICE_S}' SECOND))
          GROUP BY window_start, window_end, window_time, room_id, topic, user_id, kind,
                   rule, action
        )"""


def terms_sql() -> str:
    """The top ``TOP_TERMS`` terms of each minute's messages, as (window_time, line): a
    window aggregation per term, then a window Top-N. The line has the tags period and rank
    and the fields term, count and complete (always true: a tumbling window's result comes
    once, when the minute is over). Bounded series: ten ranks, not one per word."""
    stop = ", ".join(f"'{word}'" for word in sorted(STOP_WORDS))
    return f"""
        SELECT window_time, CONCAT('{metrics.POPULAR_TERMS},period=1m,rank=',
               CAST(rank_no AS STRING), ' term="', term, '",count=', CAST(uses AS STRING),
               'i,complete=true ', CAST(UNIX_TIMESTAMP(CAST(window_start AS STRING)) AS STRING))
               AS line
        FROM (
          SELECT *, ROW_NUMBER() OVER (
            PARTITION BY window_start, window_end ORDER BY uses DESC, term) AS rank_no
          FROM (
            SELECT window_start, window_end, window_time, term, COUNT(*) AS uses
            FROM TABLE(TUMBLE(TABLE chat_terms, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
            WHERE CHAR_LENGTH(term) BETWEEN {MIN_TERM_CHARS} AND {MAX_TERM_CHARS}
              AND term NOT IN ({stop})
            GROUP BY window_start, window_end, window_time, term
          )
        ) WHERE rank_no <= {TOP_TERMS}"""


def lines_sql() -> str:
    """Every window result of every roll-up as (window_time, line), one SELECT per kind.
    Everything formatted into it is a constant of this module."""
    selects: list[str] = []
    group = "GROUP BY window_start, window_end, window_time"
    for period, (step, size) in ROLLUPS.items():
        room_tag = "',room_id=', CAST(room_id AS STRING)"
        selects.append(
            f"SELECT window_time, {line_sql(metrics.ROOM_ACTIVITY, period, room_tag, ROOM_FIELDS)}"
            f" AS line FROM {_window(step, size)} WHERE room_id IS NOT NULL AND {ACTIVE}"
            f" {group}, room_id"
        )
        topic_line = line_sql(metrics.TOPIC_ACTIVITY, period, "',topic=', topic_key", TOPIC_FIELDS)
        selects.append(
            f"SELECT window_time, {topic_line}"
            f" AS line FROM {_window(step, size)} WHERE topic_key IS NOT NULL AND {ACTIVE}"
            f" {group}, topic_key"
        )
        selects.append(
            f"SELECT window_time, {line_sql(metrics.COMMUNITY, period, '', COMMUNITY_FIELDS)}"
            f" AS line FROM {_window(step, size)} {group}"
        )
        rule_tags = "',rule=', rule, ',action=', action"
        selects.append(
            "SELECT window_time, "
            f"{line_sql(metrics.MODERATION_ACTIONS, period, rule_tags, [('count', 'SUM(n)')])}"
            f" AS line FROM {_window(step, size)} WHERE kind = 'moderation'"
            f" {group}, rule, action"
        )
    step, size = DAY
    selects.append(
        f"SELECT window_time, {line_sql(metrics.COMMUNITY, '1d', '', COMMUNITY_FIELDS)}"
        f" AS line FROM {_window(step, size)} {group}"
    )
    selects.append(terms_sql())
    return "\nUNION ALL\n".join(selects)
