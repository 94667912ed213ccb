"""The monitor (server/monitor.py): pipeline health into InfluxDB and the alerts, a process of
the app venv started by `make up` after the services it watches."""

from __future__ import annotations

import sys

import redis

from core import wire
from core.settings import REPO_ROOT
from stack.services.base import Service


class MonitorService(Service):
    name = "monitor"
    start_timeout = 60.0

    @property
    def port(self) -> int:
        return 0  # no port: it only calls out

    def ports_to_check(self) -> list[int]:
        return []

    def install(self) -> None:
        """Nothing to fetch: it runs from the app venv that `make up` installs."""

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-m", "server.monitor"], {"PYTHONPATH": str(REPO_ROOT)}

    def healthy(self) -> bool:
        """This process finished a round within the last three intervals (the heartbeat holds
        the pid of the monitor that wrote it, and expires)."""
        client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=2)
        try:
            beat = client.get(wire.monitor_heartbeat_key())
        finally:
            client.close()
        return beat is not None and int(beat) == self.process.pid()

    def version(self) -> str:
        return "round every " + f"{self.settings.monitor_interval_s:g} s"
