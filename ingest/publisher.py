"""Send-after-commit event publishing for request handlers.

Handlers commit to MySQL first and publish afterwards, so nothing is announced that did not
happen. ``publish`` never blocks a request: it hands the record to librdkafka (idempotent,
acks=all) and a background thread serves delivery reports. A failed delivery is logged and
counted; the upgrade path to "never lost either" is a transactional outbox table, noted in
docs/api.md.

Two producers, by topic. Chat and moderation records are waited for (a chat send's ack is its
Kafka ack), so they go out at once (``linger.ms`` 2). Room and social events nobody waits for
wait up to ``kafka_event_linger_ms`` to share a produce request: at 2 ms every join and leave
was a request of its own, and the broker spent about 0.5 ms of CPU on each (0.13 of a core
under bench.api_latency's load). Each topic has one producer, so its order per key holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from core.events import ROOM_EVENTS, SOCIAL_EVENTS, Event, topic_for
from core.settings import Settings
from ingest.kafka import make_producer

log = logging.getLogger(__name__)

BATCHED_TOPICS = frozenset({ROOM_EVENTS, SOCIAL_EVENTS})  # nobody waits for their records


def _resolve(
    future: asyncio.Future[Message], message: Message | None, error: Exception | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(message)  # type: ignore[arg-type]


class EventPublisher:
    def __init__(
        self,
        settings: Settings,
        producer: Producer | None = None,
        batched: Producer | None = None,
    ) -> None:
        self._producer = producer or make_producer(settings)
        self._batched = batched or make_producer(
            settings, **{"linger.ms": settings.kafka_event_linger_ms}
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-delivery", daemon=True)
        self._poller.start()
        self.delivered = 0
        self.failed = 0

    def _poll(self) -> None:
        # Connect and fetch the topics' metadata now, off the request path: otherwise the
        # first send of each process waits about half a second for both.
        with contextlib.suppress(KafkaException):
            self._producer.list_topics(timeout=10)
            self._batched.list_topics(timeout=10)
        while not self._stop.is_set():
            # Waits on the prompt producer (a chat ack is waiting on its report); the batched
            # one's reports are only counted, a poll's wait later at most.
            self._producer.poll(0.05)
            self._batched.poll(0)

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.delivered += 1
            return
        self.failed += 1
        log.error("event lost on %s: %s", message.topic(), error)

    def _producer_for(self, topic: str) -> Producer:
        return self._batched if topic in BATCHED_TOPICS else self._producer

    def publish(self, event: Event) -> None:
        topic = topic_for(event)
        producer = self._producer_for(topic)
        try:
            producer.produce(
                topic, value=event.to_bytes(), key=event.key(), on_delivery=self._on_delivery
            )
        except BufferError:
            # The local queue is full (broker down for a while): wait for room once, then try
            # again, rather than dropping the event on the floor.
            producer.poll(1.0)
            producer.produce(
                topic, value=event.to_bytes(), key=event.key(), on_delivery=self._on_delivery
            )

    async def publish_and_wait(self, event: Event) -> Message:
        """Produce and wait until Kafka holds the record (all in-sync replicas, idempotent).

        The delivery report arrives on the poller thread and is handed to this event loop.
        """
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[Message] = loop.create_future()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is None:
                self.delivered += 1
                loop.call_soon_threadsafe(_resolve, delivered, message, None)
            else:
                self.failed += 1
                loop.call_soon_threadsafe(_resolve, delivered, None, KafkaException(error))

        topic = topic_for(event)
        self._producer_for(topic).produce(
            topic, value=event.to_bytes(), key=event.key(), on_delivery=on_delivery
        )
        return await delivered

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for outstanding deliveries; returns how many are still in flight."""
        started = time.monotonic()
        remaining: int = self._batched.flush(timeout)
        remaining += self._producer.flush(max(0.0, timeout - (time.monotonic() - started)))
        return remaining

    def close(self) -> None:
        self.flush()
        self._stop.set()
        self._poller.join(timeout=2)
