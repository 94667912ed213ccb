"""Kafka producers and consumers for the event contract (core.events).

Producers are idempotent with acks=all: a send is acknowledged only when every in-sync replica
has it, and librdkafka's retries cannot duplicate or reorder within a partition. That is the
first half of "an acked message is never lost or duplicated"; the consumers' idempotent writes
are the second.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from core.events import Event, parse_event, topic_for
from core.settings import Settings

log = logging.getLogger(__name__)


def make_producer(settings: Settings, **overrides: Any) -> Producer:
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "lz4",
        "client.id": "studyhub",
        **overrides,
    }
    return Producer(config)


def make_consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        **overrides,
    }
    return Consumer(config)


def produce_sync(producer: Producer, event: Event, *, topic: str | None = None) -> Message:
    """Produce one event and wait for the broker's ack; raises KafkaException if it failed."""
    delivered: list[Message] = []
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(error)
        else:
            delivered.append(message)

    producer.produce(
        topic or topic_for(event), value=event.to_bytes(), key=event.key(), on_delivery=on_delivery
    )
    producer.flush(30)
    if failures:
        raise KafkaException(failures[0])
    if not delivered:
        raise KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT))
    return delivered[0]


def consume_events(
    consumer: Consumer, topic: str, *, max_events: int, timeout: float
) -> Iterator[tuple[Message, Event]]:
    """Yield (record, validated event) until ``max_events`` or ``timeout`` s without records."""
    seen = 0
    while seen < max_events:
        message = consumer.poll(timeout)
        if message is None:
            return
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                continue
            raise KafkaException(error)
        value = message.value()
        if value is None:
            continue
        seen += 1
        yield message, parse_event(topic, value)
