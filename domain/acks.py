"""The first ack of each send, kept for a resend of the same client_msg_id (domain.chat)."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

log = logging.getLogger(__name__)

ACK_KEY_TTL_S = 24 * 3600


class AckLog:
    """The first ack's message id per client_msg_id (24 h), for a resend of it.

    Written behind the acks, off the sender's path: every id acked while the previous write
    was in flight goes in the next pipeline, so under load one round trip records many acks.
    A failed write is logged; the pending marker then expires and the job's unique key
    catches a resend.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.pending: list[tuple[str, int]] = []
        self.wanted = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def remember(self, key: str, message_id: int) -> None:
        self.pending.append((key, message_id))
        self.wanted.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while True:
            await self.wanted.wait()
            self.wanted.clear()
            batch, self.pending = self.pending, []
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for key, message_id in batch:
                        pipe.execute_command("SET", key, message_id, "EX", ACK_KEY_TTL_S)
                    await pipe.execute()
            except Exception:
                log.exception("could not record %d acks", len(batch))
