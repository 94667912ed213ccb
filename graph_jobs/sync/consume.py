"""Drain Kafka topics up to where they stood when the drain began, committing after each batch.

The consumer assigns itself every partition (no group rebalance to wait for) and starts at the
group's committed offsets, or at the oldest record kept when the group has none. It stops at the
high watermarks it saw on arrival, so a run has an end even while events keep coming; the next
run picks up from there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, TopicPartition
from pydantic import ValidationError

from core.events import Event, parse_event

log = logging.getLogger(__name__)

_TIMEOUT = 10.0


def _partitions(consumer: Consumer, topics: Sequence[str]) -> list[TopicPartition]:
    metadata = consumer.list_topics(timeout=_TIMEOUT)
    partitions = []
    for topic in topics:
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            raise RuntimeError(f"topic {topic!r} does not exist: is the stack up (`make up`)?")
        partitions += [TopicPartition(topic, p) for p in sorted(metadata.topics[topic].partitions)]
    return partitions


def positions(consumer: Consumer, topics: Sequence[str]) -> dict[tuple[str, int], tuple[int, int]]:
    """(topic, partition) -> (where the group stands, the high watermark)."""
    partitions = _partitions(consumer, topics)
    committed = consumer.committed(partitions, timeout=_TIMEOUT)
    result = {}
    for tp in committed:
        low, high = consumer.get_watermark_offsets(tp, timeout=_TIMEOUT)
        start = tp.offset if tp.offset >= 0 else low
        result[(tp.topic, tp.partition)] = (max(start, low), high)
    return result


def lag(consumer: Consumer, topics: Sequence[str]) -> int:
    """Records the group has yet to process."""
    return sum(high - start for start, high in positions(consumer, topics).values())


@dataclass
class DrainReport:
    records: int = 0
    batches: int = 0
    malformed: int = 0
    lag_at_start: int = 0


def drain(
    consumer: Consumer,
    topics: Sequence[str],
    apply: Callable[[list[Event]], None],
    *,
    batch: int = 5_000,
    idle_limit: float = 30.0,
) -> DrainReport:
    """Feed every record up to the starting high watermarks to ``apply``, batch by batch."""
    report = DrainReport()
    todo = {key: pos for key, pos in positions(consumer, topics).items() if pos[0] < pos[1]}
    report.lag_at_start = sum(high - start for start, high in todo.values())
    if not todo:
        return report
    consumer.assign(
        [TopicPartition(topic, partition, start) for (topic, partition), (start, _) in todo.items()]
    )
    ends = {key: high for key, (_, high) in todo.items()}
    last_progress = time.monotonic()
    while ends:
        if time.monotonic() - last_progress > idle_limit:
            raise RuntimeError(
                f"no record arrived for {idle_limit:.0f}s with {len(ends)} partition(s) short of "
                f"their end ({sorted(ends)}): is Kafka up? The next run resumes from the last "
                "commit"
            )
        events: list[Event] = []
        offsets: dict[tuple[str, int], int] = {}
        seen = 0
        for message in consumer.consume(num_messages=batch, timeout=1.0):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(f"Kafka: {error}")
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if topic is None or partition is None or offset is None:
                continue
            key = (topic, partition)
            if key not in ends or offset >= ends[key]:
                continue  # past where this run stops; the next run takes it
            offsets[key] = offset
            seen += 1
            try:
                events.append(parse_event(topic, message.value() or b""))
            except (ValidationError, ValueError) as problem:
                # An off-contract record must not stall the graph; it is counted and logged.
                report.malformed += 1
                log.warning("skipping a malformed %s record at %s: %s", key[0], key, problem)
        if not offsets:
            continue
        last_progress = time.monotonic()
        apply(events)
        consumer.commit(
            offsets=[TopicPartition(t, p, offset + 1) for (t, p), offset in offsets.items()],
            asynchronous=False,
        )
        report.records += seen
        report.batches += 1
        for key, offset in offsets.items():
            if offset + 1 >= ends[key]:
                del ends[key]
    return report
