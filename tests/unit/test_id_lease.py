"""The id generator's lease outlives a Redis outage, and is given up only when it may be lost.

Found reading the code after `make faults` killed Redis: a renewal that met Redis away ended
the renewing task for good, and an hour later the lease ran out while the worker went on
minting ids. Redis here is a stand-in that fails on cue: this is the renewal loop's logic.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.exceptions

from domain.resources import keep_lease


class FlakyRedis:
    """Answers a lease's GET and EXPIRE; the first ``failures`` GETs meet Redis away."""

    def __init__(self, owner: str, failures: int) -> None:
        self.owner = owner
        self.failures = failures
        self.renewals = 0

    async def get(self, key: str) -> str:
        del key
        if self.failures > 0:
            self.failures -= 1
            raise redis.exceptions.ConnectionError("Error 111 connecting. Connection refused.")
        return self.owner

    async def expire(self, key: str, ttl: int) -> bool:
        del key, ttl
        self.renewals += 1
        return True


def _keep(store: Any, *, ttl_s: int = 3600) -> asyncio.Task[str]:
    return asyncio.ensure_future(
        keep_lease(store, 7, "me", every_s=0.01, retry_s=0.01, ttl_s=ttl_s)
    )


def test_renewals_go_on_after_redis_was_away() -> None:
    async def scenario() -> tuple[bool, int]:
        store = FlakyRedis("me", failures=3)
        task = _keep(store)
        await asyncio.sleep(0.3)
        running = not task.done()
        task.cancel()
        return running, store.renewals

    running, renewals = asyncio.run(scenario())
    assert running  # before: the task had ended with the first ConnectionError
    assert renewals >= 3


def test_a_lease_someone_else_holds_is_given_up() -> None:
    async def scenario() -> str:
        return await asyncio.wait_for(_keep(FlakyRedis("someone else", failures=0)), 5)

    assert asyncio.run(scenario()) == "another process holds it"


def test_a_lease_not_renewed_within_its_ttl_is_given_up() -> None:
    async def scenario() -> str:
        return await asyncio.wait_for(_keep(FlakyRedis("me", failures=10_000), ttl_s=1), 5)

    assert asyncio.run(scenario()).startswith("not renewed for 1 s")
