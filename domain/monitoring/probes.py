"""Probes of the running services, each one a list of samples: what the monitor writes to
InfluxDB (core/metrics.py names the measurements) and what the alerts are evaluated on.

Each probe raises ``ProbeFailed`` when it cannot reach its service; the monitor then fires
that probe's own alert instead of resolving the ones it feeds.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from core import metrics, wire
from core.settings import Settings
from domain.monitoring import timings

_TIMEOUT_S = 5.0


class ProbeFailed(Exception):
    """A probe could not read its service; the message says which and why."""


@dataclass(frozen=True)
class Sample:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, float | int | bool] = field(default_factory=dict)

    def line(self, at_s: int) -> str:
        """The sample as an InfluxDB line, stamped ``at_s`` (epoch seconds)."""
        tags = "".join(f",{k}={_escape(v)}" for k, v in sorted(self.tags.items()))
        values = ",".join(f"{k}={_value(v)}" for k, v in self.fields.items())
        return f"{self.measurement}{tags} {values} {at_s}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ").replace(",", "\\,").replace("=", "\\=")


def _value(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    return repr(float(value))


def kafka_lag(settings: Settings, groups: list[str]) -> list[Sample]:
    """Each group's lag (records not yet committed) per topic: the queue depth. Groups with
    no committed offset yet are left out."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 3})
    try:
        # The client takes one group per request (confluent-kafka 2.x); the requests run
        # concurrently and are collected after.
        futures = {
            group: admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=_TIMEOUT_S
            )[group]
            for group in groups
        }
        committed: dict[str, list[TopicPartition]] = {}
        for group, future in futures.items():
            result = future.result(timeout=_TIMEOUT_S)
            committed[group] = [tp for tp in result.topic_partitions or [] if tp.offset >= 0]
        wanted = {
            TopicPartition(tp.topic, tp.partition) for tps in committed.values() for tp in tps
        }
        ends: dict[tuple[str, int], int] = {}
        if wanted:
            latest = admin.list_offsets(
                {tp: OffsetSpec.latest() for tp in wanted},  # type: ignore[no-untyped-call]
                request_timeout=_TIMEOUT_S,
            )
            for tp, future in latest.items():
                ends[(tp.topic, tp.partition)] = future.result(timeout=_TIMEOUT_S).offset
    except (KafkaException, TimeoutError) as error:
        reason = str(error) or f"no answer within {_TIMEOUT_S:g} s"
        raise ProbeFailed(f"Kafka at {settings.kafka_bootstrap}: {reason}") from error
    samples: list[Sample] = []
    for group, tps in committed.items():
        by_topic: dict[str, int] = {}
        for tp in tps:
            end = ends.get((tp.topic, tp.partition), tp.offset)
            by_topic[tp.topic] = by_topic.get(tp.topic, 0) + max(0, end - tp.offset)
        for topic, lag in sorted(by_topic.items()):
            samples.append(
                Sample(metrics.KAFKA_LAG, {"group": group, "topic": topic}, {"lag": lag})
            )
    return samples


def redis_memory(settings: Settings) -> list[Sample]:
    """Redis's memory in use against its limit (its maxmemory, or the setting's lower one)."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=_TIMEOUT_S)
    try:
        info = client.info("memory")
    except redis.RedisError as error:
        raise ProbeFailed(f"Redis at {settings.redis_url}: {error}") from error
    finally:
        client.close()
    used = int(info["used_memory"])
    limit = settings.alert_redis_memory_limit_bytes or int(info.get("maxmemory", 0))
    fields: dict[str, float | int | bool] = {"used_bytes": used, "limit_bytes": limit}
    if limit > 0:
        fields["ratio"] = used / limit
    return [Sample(metrics.REDIS_MEMORY, {}, fields)]


def live_rooms(settings: Settings) -> list[Sample]:
    """The rooms open now and the people in them, from the active-rooms index (a sorted set
    scored by participant count; domain.room_state). Only occupied rooms are read with their
    scores, so the cost follows the rooms in use, not every room ever opened."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=_TIMEOUT_S)
    try:
        key = wire.active_rooms_key()
        open_rooms = int(client.zcard(key))
        occupied = cast(
            "list[tuple[bytes, float]]", client.zrangebyscore(key, 1, "+inf", withscores=True)
        )
    except redis.RedisError as error:
        raise ProbeFailed(f"Redis at {settings.redis_url}: {error}") from error
    finally:
        client.close()
    people = int(sum(float(score) for _, score in occupied))
    fields: dict[str, float | int | bool] = {
        "open_rooms": open_rooms,
        "occupied_rooms": len(occupied),
        "people_in_rooms": people,
    }
    return [Sample(metrics.LIVE_ROOMS, {}, fields)]


def _capped(ms: float | None) -> float:
    """A percentile for InfluxDB, which stores no infinity: past the last bucket reads as it."""
    return min(ms if ms is not None else 0.0, float(timings.BOUNDS_MS[-1]))


def chat_path(settings: Settings) -> list[Sample]:
    """The chat path's own timings over the last ``monitor_window_s`` seconds, summed over
    every API and gateway process (domain.monitoring.timings): message deliveries (latency
    percentiles, and the share not dropped for a socket too slow), sends (arrival to ack)
    and room joins."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=_TIMEOUT_S)
    try:
        window = timings.read_window(client, settings.monitor_window_s)
    except redis.RedisError as error:
        raise ProbeFailed(f"Redis at {settings.redis_url}: {error}") from error
    finally:
        client.close()
    delivered = window.counts.get(timings.DELIVERED, 0)
    dropped = window.counts.get(timings.DROPPED, 0)
    delivery: dict[str, float | int | bool] = {"delivered": delivered, "dropped": dropped}
    if delivered + dropped:
        delivery["success"] = delivered / (delivered + dropped)
    if window.total(timings.DELIVERY):
        for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
            delivery[name] = _capped(window.percentile(timings.DELIVERY, q))
    sends: dict[str, float | int | bool] = {"sends": window.total(timings.SEND)}
    if sends["sends"]:
        for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
            sends[name] = _capped(window.percentile(timings.SEND, q))
    joins: dict[str, float | int | bool] = {"joins": window.total(timings.JOIN)}
    if joins["joins"]:
        for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("max_ms", 1.0)):
            joins[name] = _capped(window.percentile(timings.JOIN, q))
    tags = {"window_s": str(settings.monitor_window_s)}
    return [
        Sample(metrics.CHAT_DELIVERY, tags, delivery),
        Sample(metrics.CHAT_SEND, tags, sends),
        Sample(metrics.ROOM_JOIN, tags, joins),
    ]


def _flink(settings: Settings, path: str) -> Any:
    url = f"{settings.flink_rest_url}{path}"
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:  # noqa: S310 (loopback)
        return json.load(response)


def flink_jobs(settings: Settings, jobs: list[str]) -> list[Sample]:
    """Whether each of ``jobs`` is running on the session cluster, and how old its last
    completed checkpoint is (-1: none yet)."""
    try:
        overview = _flink(settings, "/jobs/overview")
        live = {
            str(job["name"]): str(job["jid"])
            for job in overview["jobs"]
            if job["state"] == "RUNNING"
        }
        samples: list[Sample] = []
        for name in jobs:
            job_id = live.get(name)
            age = -1.0
            if job_id is not None:
                checkpoints = _flink(settings, f"/jobs/{job_id}/checkpoints")
                latest = (checkpoints.get("latest") or {}).get("completed") or {}
                if latest.get("latest_ack_timestamp"):
                    age = max(0.0, time.time() - latest["latest_ack_timestamp"] / 1000)
            samples.append(
                Sample(
                    metrics.FLINK_JOB,
                    {"job": name},
                    {"running": job_id is not None, "checkpoint_age_s": round(age, 3)},
                )
            )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ProbeFailed(f"Flink at {settings.flink_rest_url}: {error}") from error
    return samples
