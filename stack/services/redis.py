"""Redis from Debian's redis-server: room state, presence, typing, pub/sub fan-out."""

from __future__ import annotations

import redis

from stack.install import ensure_debian_packages, which
from stack.services.base import Service


class RedisService(Service):
    name = "redis"
    start_timeout = 30.0

    @property
    def port(self) -> int:
        return self.settings.redis_port

    def install(self) -> None:
        ensure_debian_packages({"redis-server": "redis-server"})

    def command(self) -> tuple[list[str], dict[str, str]]:
        self.install()
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.conf_dir / "redis.conf"
        config.write_text(
            f"bind {self.settings.bind_host}\n"
            f"port {self.port}\n"
            f"dir {self.data_dir}\n"
            "daemonize no\n"
            'logfile ""\n'
            # Room state and presence are rebuilt from MySQL or expire on their own, but an
            # append-only file makes a restart cheap; everysec costs almost nothing.
            'save ""\n'
            "appendonly yes\n"
            "appendfsync everysec\n"
            f"maxmemory {self.settings.redis_maxmemory}\n"
            # Never evict room state silently: a full Redis must fail loudly (and alert at 80%).
            "maxmemory-policy noeviction\n"
            "maxclients 10000\n"
        )
        return [which("redis-server") or "redis-server", str(config)], {}

    def _client(self) -> redis.Redis:
        return redis.Redis(host=self.settings.bind_host, port=self.port, socket_timeout=2)

    def healthy(self) -> bool:
        with self._client() as client:
            return bool(client.ping())

    def version(self) -> str:
        with self._client() as client:
            return str(client.info("server")["redis_version"])
