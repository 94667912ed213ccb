from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from stack.errors import StackError
from stack.process import ManagedProcess, port_open, port_owner, terminate, wait_until

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running | unhealthy | stopped
    port: int
    pid: int | None
    version: str
    rss_bytes: int
    detail: str = ""


class Service(ABC):
    """One process of the local stack: how to install, start, probe and stop it."""

    name: str
    start_timeout: float = 60.0
    stop_timeout: float = 30.0
    # Its processes bind the port with SO_REUSEPORT: a new run can start beside leftovers.
    shares_its_port: bool = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process = ManagedProcess(self.name, self.run_dir, self.log_path)

    # Layout under .stack/: data/<name>/, logs/<name>.log, run/<name>.pid
    @property
    def data_dir(self) -> Path:
        return self.settings.stack_dir / "data" / self.name

    @property
    def conf_dir(self) -> Path:
        return self.settings.stack_dir / "conf" / self.name

    @property
    def run_dir(self) -> Path:
        return self.settings.stack_dir / "run"

    @property
    def log_path(self) -> Path:
        return self.settings.stack_dir / "logs" / f"{self.name}.log"

    @property
    def tools_dir(self) -> Path:
        return self.settings.tools_dir

    @property
    @abstractmethod
    def port(self) -> int:
        """The main port, shown by `status` and checked before start."""

    @property
    def extra_ports(self) -> list[int]:
        return []

    def ports_to_check(self) -> list[int]:
        """Ports that must be free before start (a taken one gets a clear error)."""
        return [self.port, *self.extra_ports]

    @abstractmethod
    def install(self) -> None:
        """Fetch or build what the service needs. Must be idempotent and quick when done."""

    @abstractmethod
    def command(self) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment; writes config files and initialises data if needed."""

    @abstractmethod
    def healthy(self) -> bool:
        """A real health check: the service answers a request of its own protocol."""

    @abstractmethod
    def version(self) -> str: ...

    def post_start(self) -> None:  # noqa: B027 - optional hook, most services need nothing
        """Create users, databases and topics; idempotent."""

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self.process.alive():
            if self._safe_healthy():
                log.info("%s already running (pid %s)", self.name, self.process.pid())
                self.post_start()
                return
            # Ours but not answering: maybe still starting, so give it the normal grace period.
            try:
                wait_until(
                    self.healthy, what=self.name, timeout=self.start_timeout, process=self.process
                )
            except StackError:
                if self.process.alive():
                    raise
                # It died while we waited (a TaskManager whose JobManager was replaced can take
                # itself down as its tasks are cancelled: `make faults`): start it afresh.
                log.warning("%s exited while it was starting; starting it again", self.name)
            else:
                self.post_start()
                return
        # A service whose processes share its port (SO_REUSEPORT) starts beside the leftovers
        # of a killed run (the workers of a SIGKILLed API supervisor, still serving), which
        # are stopped once the new processes listen: the port is never without a server.
        # Any other service's leftovers are cleared first, and its ports must be free.
        orphans = self.process.leftovers() if self.shares_its_port else []
        if not orphans:
            self._clear_the_way()
        argv, env = self.command()
        pid = self.process.start(argv, env=env)  # the pid file now names the new leader
        log.info("%s starting (pid %d), waiting for health", self.name, pid)
        if orphans:
            log.warning(
                "%s: %d processes of a killed run stop once it listens", self.name, len(orphans)
            )
            wait_until(
                lambda: self.process.listening(self.port),
                what=f"{self.name} listening beside its leftovers",
                timeout=self.start_timeout,
                process=self.process,
            )
            terminate(orphans)
        wait_until(self.healthy, what=self.name, timeout=self.start_timeout, process=self.process)
        self.post_start()

    def _clear_the_way(self) -> None:
        """Stop our own leftovers; fail if anyone else holds one of the service's ports."""
        cleared = self.process.clear_leftovers()
        if cleared:
            log.warning(
                "%s: stopped %d of its processes left over from an earlier run "
                "(their leader was killed)",
                self.name,
                cleared,
            )
        for port in self.ports_to_check():
            if port_open(self.settings.bind_host, port):
                raise StackError(
                    f"{self.name}: port {port} is already taken by {port_owner(port)}",
                    f"stop that process, or move {self.name} to a free port in .env "
                    "(see core/settings.py for the STUDYHUB_*_PORT names)",
                )

    def stop(self) -> bool:
        return self.process.stop(timeout=self.stop_timeout)

    def _safe_healthy(self) -> bool:
        try:
            return self.healthy()
        except Exception:  # noqa: BLE001 - a failing probe is an answer: not healthy
            return False

    def status(self) -> ServiceStatus:
        pid = self.process.pid()
        if pid is None:
            return ServiceStatus(self.name, "stopped", self.port, None, "-", 0)
        healthy = self._safe_healthy()
        try:
            version = self.version() if healthy else "-"
        except Exception:  # noqa: BLE001 - a version we cannot read is shown as unknown
            version = "?"
        return ServiceStatus(
            self.name,
            "running" if healthy else "unhealthy",
            self.port,
            pid,
            version,
            self.process.rss_bytes(),
        )
