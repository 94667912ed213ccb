"""The stack manager's promises: clear errors, exact shutdown, a real status."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core.settings import REPO_ROOT, Settings
from stack.errors import StackError
from stack.install import ensure_maven_jars
from stack.services.redis import RedisService

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def scratch_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The real settings, with a private stack dir and a free Redis port."""
    return settings.model_copy(update={"stack_dir": tmp_path / "stack", "redis_port": _free_port()})


@pytest.fixture
def scratch_redis(scratch_settings: Settings) -> Iterator[RedisService]:
    service = RedisService(scratch_settings)
    yield service
    service.stop()


def test_a_taken_port_is_named_with_its_owner(scratch_redis: RedisService) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", scratch_redis.port))
        squatter.listen()
        with pytest.raises(StackError) as raised:
            scratch_redis.start()
    message = str(raised.value)
    assert f"port {scratch_redis.port} is already taken" in message
    assert "fix:" in message
    assert not scratch_redis.process.alive()


def test_start_status_and_stop_leave_nothing_running(scratch_redis: RedisService) -> None:
    scratch_redis.start()
    status = scratch_redis.status()
    assert status.state == "running"
    assert status.port == scratch_redis.port
    assert status.version.startswith("7.")
    assert status.rss_bytes > 0
    pid = status.pid
    assert pid is not None
    assert psutil.pid_exists(pid)

    scratch_redis.start()  # idempotent: the same process keeps running
    assert scratch_redis.process.pid() == pid

    assert scratch_redis.stop() is True
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert scratch_redis.status().state == "stopped"
    assert scratch_redis.stop() is False  # nothing left to stop


def test_a_stale_pid_file_is_not_trusted(scratch_redis: RedisService) -> None:
    # A pid file pointing at someone else's process (here: our own test runner) must not make
    # `down` kill it or `status` report it as ours.
    pid_path = scratch_redis.process.pid_path
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.write_text(f"{psutil.Process().pid} 12345.0\n")
    assert scratch_redis.process.pid() is None
    assert scratch_redis.stop() is False
    assert not pid_path.exists()


def test_a_failed_download_names_the_artifact(tmp_path: Path) -> None:
    pom = tmp_path / "bogus" / "pom.xml"
    pom.parent.mkdir()
    pom.write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>t</groupId><artifactId>bogus</artifactId><version>1</version>"
        "<packaging>pom</packaging><dependencies><dependency><groupId>studyhub.nonexistent"
        "</groupId><artifactId>no-such-artifact</artifactId><version>0.0.1</version>"
        "</dependency></dependencies></project>"
    )
    with pytest.raises(StackError) as raised:
        ensure_maven_jars(pom, tmp_path / "out")
    message = str(raised.value)
    assert "Maven download of bogus jars failed" in message
    assert "no-such-artifact" in message
    assert "fix:" in message


def test_cli_status_reports_every_service_healthy() -> None:
    result = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "studyhub"), "stack", "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    statuses = json.loads(result.stdout)
    assert {s["name"] for s in statuses} >= {
        "mariadb-0",
        "mariadb-1",
        "redis",
        "influxdb",
        "kafka",
        "neo4j",
        "flink-jobmanager",
        "flink-taskmanager",
        "api",
        "chat-persist",
        "moderation",
        "metrics",
        "monitor",
        "dashboards",
    }
    assert [s["name"] for s in statuses if s["state"] != "running"] == []
    assert all(s["version"] not in ("-", "?") for s in statuses)
    # Every process has a pid; a Flink job lives inside the cluster's processes.
    assert [s["name"] for s in statuses if not s["pid"]] == [
        "chat-persist",
        "moderation",
        "metrics",
    ]
    assert result.returncode == 0


def test_cli_rejects_an_unknown_service() -> None:
    result = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "studyhub"), "stack", "status", "no-such-service"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown service(s) no-such-service" in result.stderr
