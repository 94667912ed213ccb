"""Dagster for the graph jobs: the code server, the webserver (the UI data engineers use) and
the daemon.

The code location ``graph_jobs.definitions`` is loaded once, by a code server of its own
(``dagster api grpc``); the webserver and the daemon read it over gRPC (a workspace file with
one ``grpc_server``), as Dagster's deployment guide has it. Loaded by the daemon itself, the
location ran in a code server the daemon started, and the daemon replaced that server with a
fresh one every 60 seconds (``RELOAD_WORKSPACE_INTERVAL``): a Python start-up importing the
whole code location each minute, 0.17-0.23 of a core on the 2-core box all day, measured
beside the API benchmark. All three share one instance: DAGSTER_HOME is
``.stack/data/dagster``, holding a copy of the repository's ``dagster.yaml``, so run, event-log
and schedule storage are the MySQL database ``dagster`` on shard 0. Each runs in its own session
(``ManagedProcess`` starts it with setsid), so ``make down`` stops it, its code server and any
run in flight with one SIGTERM to the group.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from core.settings import REPO_ROOT
from stack.errors import StackError
from stack.services.base import Service

CODE_LOCATION = "graph_jobs.definitions"
WORKSPACE = "workspace.yaml"  # written into DAGSTER_HOME: the one grpc_server location
_DAEMON_QUERY = (
    "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"
)


class _Dagster(Service):
    @property
    def port(self) -> int:
        return self.settings.dagster_port

    @property
    def home(self) -> Path:
        return self.settings.stack_dir / "data" / "dagster"

    def install(self) -> None:
        try:
            package_version("dagster-webserver")
        except PackageNotFoundError:
            raise StackError(
                "dagster is not installed in this venv",
                "run scripts/bootstrap.sh (make up does), which installs the `graph` extra",
            ) from None

    def env(self) -> dict[str, str]:
        """What dagster.yaml reads, taken from the same settings as everything else."""
        s = self.settings
        return {
            "DAGSTER_HOME": str(self.home),
            "PYTHONPATH": str(REPO_ROOT),
            "STUDYHUB_MYSQL_USER": s.mysql_user,
            "STUDYHUB_MYSQL_PASSWORD": s.mysql_password.get_secret_value(),
            "STUDYHUB_MYSQL_HOST": s.mysql_host,
            "STUDYHUB_MYSQL_BASE_PORT": str(s.mysql_base_port),
            "STUDYHUB_DAGSTER_DATABASE": s.dagster_database,
        }

    def _bin(self, name: str) -> str:
        return str(Path(sys.executable).with_name(name))

    def _prepare_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "dagster.yaml", self.home / "dagster.yaml")
        workspace = {
            "load_from": [
                {
                    "grpc_server": {
                        "host": self.settings.bind_host,
                        "port": self.settings.dagster_grpc_port,
                        "location_name": CODE_LOCATION,
                    }
                }
            ]
        }
        (self.home / WORKSPACE).write_text(json.dumps(workspace, indent=2) + "\n")  # YAML too

    def server_info(self) -> dict[str, str]:
        url = f"http://{self.settings.bind_host}:{self.port}/server_info"
        with urllib.request.urlopen(url, timeout=2) as response:
            info: dict[str, str] = json.load(response)
        return info

    def version(self) -> str:
        return str(self.server_info().get("dagster_version", "?"))


class DagsterCodeServer(_Dagster):
    """The graph jobs' code location, loaded once and served over gRPC to the webserver and the
    daemon; sensors run here, and runs are launched from here."""

    name = "dagster-code-server"
    start_timeout = 120.0

    @property
    def port(self) -> int:
        return self.settings.dagster_grpc_port

    def command(self) -> tuple[list[str], dict[str, str]]:
        self._prepare_home()
        argv = [
            self._bin("dagster"),
            "api",
            "grpc",
            "--module-name",
            CODE_LOCATION,
            "--location-name",
            CODE_LOCATION,
            "--host",
            self.settings.bind_host,
            "--port",
            str(self.port),
            "--working-directory",
            str(REPO_ROOT),
            "--log-level",
            "warning",
        ]
        return argv, self.env()

    def healthy(self) -> bool:
        from dagster._grpc.client import DagsterGrpcClient  # noqa: PLC0415 - 1 s import, here only

        # Not listening yet (still importing the code location): say so quietly; the client
        # would print a stack of gRPC errors on every poll.
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex((self.settings.bind_host, self.port)) != 0:
                return False
        client = DagsterGrpcClient(port=self.port, host=self.settings.bind_host)
        status = client.health_check_query()  # type: ignore[no-untyped-call]  # untyped in dagster
        return bool(status == "SERVING")

    def version(self) -> str:
        return package_version("dagster")


class DagsterWebserver(_Dagster):
    name = "dagster-webserver"
    start_timeout = 120.0

    def _migrate(self) -> None:
        """Create or upgrade Dagster's tables once per Dagster version (DESIGN.md: after an
        upgrade, `dagster instance migrate` creates the asset-check tables)."""
        marker = self.home / f".migrated-{package_version('dagster')}"
        if marker.exists():
            return
        result = subprocess.run(  # noqa: PLW1510 - checked just below, with a better message
            [self._bin("dagster"), "instance", "migrate"],
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise StackError(
                "dagster instance migrate failed",
                f"is MySQL shard 0 up? read the output below\n{result.stdout}\n{result.stderr}",
            )
        marker.write_text("ok\n")

    def command(self) -> tuple[list[str], dict[str, str]]:
        self._prepare_home()
        self._migrate()
        argv = [
            self._bin("dagster-webserver"),
            "--host",
            self.settings.bind_host,
            "--port",
            str(self.port),
            "--workspace",
            str(self.home / WORKSPACE),
        ]
        return argv, self.env()

    def healthy(self) -> bool:
        return "dagster_webserver_version" in self.server_info()


class DagsterDaemon(_Dagster):
    """Runs schedules and sensors. Its health is the instance's daemon heartbeats, read through
    the webserver, so it starts after the webserver."""

    name = "dagster-daemon"
    start_timeout = 120.0

    def ports_to_check(self) -> list[int]:
        return []  # it listens on nothing; the port shown is the webserver's

    def command(self) -> tuple[list[str], dict[str, str]]:
        self._prepare_home()
        argv = [self._bin("dagster-daemon"), "run", "--workspace", str(self.home / WORKSPACE)]
        return argv, self.env()

    def daemon_statuses(self) -> list[dict[str, object]]:
        request = urllib.request.Request(
            f"http://{self.settings.bind_host}:{self.port}/graphql",
            data=json.dumps({"query": _DAEMON_QUERY}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            body = json.load(response)
        statuses: list[dict[str, object]] = body["data"]["instance"]["daemonHealth"][
            "allDaemonStatuses"
        ]
        return statuses

    def healthy(self) -> bool:
        required = [s for s in self.daemon_statuses() if s["required"]]
        return bool(required) and all(s["healthy"] for s in required)
