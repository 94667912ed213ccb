"""`python -m server.monitor`: the pipeline's health into InfluxDB, and the alerts, every few
seconds (``monitor_interval_s``). `studyhub stack up` runs it as the service ``monitor``.

Each round runs the probes (domain.monitoring.probes: Kafka consumer lag, Redis memory, the
Flink jobs and their checkpoints) in a thread, writes their samples to InfluxDB in one
request, evaluates the alerts on them and records each alert's state in MySQL
(domain.monitoring.alerts). A round that fails is logged and the next one runs: the monitor
must outlive what it watches. Its heartbeat (its pid in a Redis key with a TTL of three
rounds, written after every round, good or bad) is how `stack status` knows it is alive.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable

from core import wire
from core.clients import influx_client
from core.settings import Settings, get_settings
from domain.monitoring import alerts, probes
from domain.resources import Resources, open_resources

log = logging.getLogger("server.monitor")

SCOPE = "stack"


def sample(settings: Settings) -> dict[str, list[probes.Sample] | probes.ProbeFailed]:
    """Every probe's samples, or the reason it failed."""
    results: dict[str, list[probes.Sample] | probes.ProbeFailed] = {}
    calls: dict[str, Callable[[], list[probes.Sample]]] = {
        "kafka": lambda: probes.kafka_lag(settings, settings.monitor_consumer_groups),
        "redis": lambda: probes.redis_memory(settings),
        "flink": lambda: probes.flink_jobs(settings, settings.monitor_flink_jobs),
        "chat": lambda: probes.chat_path(settings),
        "rooms": lambda: probes.live_rooms(settings),
    }
    for name, call in calls.items():
        try:
            results[name] = call()
        except probes.ProbeFailed as error:
            results[name] = error
        except Exception as error:  # a probe's own bug must not blind the rest
            log.exception("monitor: the %s probe failed", name)
            results[name] = probes.ProbeFailed(f"the {name} probe failed: {error!r}")
    return results


def write(settings: Settings, results: dict[str, list[probes.Sample] | probes.ProbeFailed]) -> int:
    """The samples as points stamped now, in one request; how many."""
    now = int(time.time())
    lines = [s.line(now) for found in results.values() if isinstance(found, list) for s in found]
    if lines:
        with influx_client(settings) as client:
            client.write_api(write_options=_synchronous()).write(
                bucket=settings.influx_bucket, org="-", record=lines, write_precision="s"
            )
    return len(lines)


def _synchronous() -> object:
    from influxdb_client.client.write_api import SYNCHRONOUS  # noqa: PLC0415

    return SYNCHRONOUS


async def run_once(
    res: Resources, scope: str = SCOPE, *, publish: bool = True
) -> list[tuple[str, alerts.Condition]]:
    """One round: sample, write (unless not ``publish``: a test's forced conditions stay out
    of the stack's measurements), evaluate, record. Returns the alerts' changes."""
    settings = res.settings
    results = await asyncio.to_thread(sample, settings)
    if publish:
        try:
            await asyncio.to_thread(write, settings, results)
        except Exception as error:  # noqa: BLE001 - InfluxDB down must not stop the alerts
            log.error("monitor: writing the samples to InfluxDB failed: %s", error)
    conditions, evaluated = alerts.evaluate(results, settings)
    return await alerts.record(res, scope, conditions, evaluated)


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_resources(settings) as res:
        log.info("monitor: every %.0f s, scope %s", settings.monitor_interval_s, SCOPE)
        while not stop.is_set():
            started = time.monotonic()
            try:
                await run_once(res)
            except Exception:
                log.exception("monitor: a round failed")
            try:
                ttl_ms = int(settings.monitor_interval_s * 3000)
                await res.redis.set(wire.monitor_heartbeat_key(), str(os.getpid()), px=ttl_ms)
            except Exception:  # noqa: BLE001 - Redis down: the round's probe alert says so
                log.warning("monitor: no heartbeat written (Redis)")
            elapsed = time.monotonic() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.5, settings.monitor_interval_s - elapsed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(get_settings()))


if __name__ == "__main__":
    main()
