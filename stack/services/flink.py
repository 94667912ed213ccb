"""A Flink 2.2 session cluster (one JobManager, one TaskManager) from the PyFlink wheel.

The apache-flink wheel carries a whole Flink distribution (bin/, lib/flink-dist), so no separate
download is needed. Jobs are PyFlink programs submitted to it with their connector jars as
``pipeline.jars`` (see pipelines/runtime.py); Python UDF workers run in .venv-flink.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from core.settings import REPO_ROOT, Settings
from stack.install import (
    FLINK_VENV,
    ensure_maven_jars,
    flink_home,
    java_home,
)
from stack.services.base import Service

CONNECTORS_POM = REPO_ROOT / "stack" / "java" / "flink" / "pom.xml"


def ensure_connector_jars(settings: Settings) -> list[Path]:
    directory = ensure_maven_jars(CONNECTORS_POM, settings.flink_connectors_dir)
    return sorted(directory.glob("*.jar"))


def flink_rest(
    settings: Settings,
    path: str,
    *,
    method: str = "GET",
    timeout: float = 5,
    body: dict[str, Any] | None = None,
) -> Any:
    """One call of the JobManager's REST API; the reply's JSON (``{}`` when it has none)."""
    request = urllib.request.Request(  # noqa: S310 - loopback URL from settings
        f"{settings.flink_rest_url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={} if body is None else {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        reply = response.read()
    return json.loads(reply) if reply else {}


def _default_java_opts() -> str:
    shipped = yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text()) or {}
    return str(shipped.get("env", {}).get("java", {}).get("opts", {}).get("all", ""))


def write_flink_config(settings: Settings, conf_dir: Path, data_dir: Path) -> None:
    conf_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    host = settings.bind_host
    python = FLINK_VENV / "bin" / "python"
    config: dict[str, Any] = {
        "jobmanager.rpc.address": host,
        "jobmanager.rpc.port": settings.flink_jobmanager_rpc_port,
        "jobmanager.bind-host": host,
        "jobmanager.memory.process.size": settings.flink_jobmanager_memory,
        "taskmanager.bind-host": host,
        "taskmanager.host": host,
        "taskmanager.memory.process.size": settings.flink_taskmanager_memory,
        "taskmanager.numberOfTaskSlots": settings.flink_task_slots,
        # Every SQL job submitted generates its operators' classes, and a finished PyFlink
        # job's class loader is not always collected. After a dozen submissions into one
        # TaskManager (bench.metrics_cost resubmits the metrics job each round) Flink's default
        # 256 MiB ran out ("OutOfMemoryError: Metaspace") and the TaskManager shut down.
        "taskmanager.memory.jvm-metaspace.size": "512m",
        "parallelism.default": 1,
        "rest.address": host,
        "rest.bind-address": host,
        "rest.port": settings.flink_rest_port,
        "python.executable": str(python),
        "python.client.executable": str(python),
        "python.fn-execution.bundle.time": settings.flink_bundle_time_ms,
        "state.backend.type": "hashmap",
        "execution.checkpointing.dir": f"file://{data_dir / 'checkpoints'}",
        "execution.checkpointing.savepoint-dir": f"file://{data_dir / 'savepoints'}",
        "io.tmp.dirs": str(data_dir / "tmp"),
        "web.tmpdir": str(data_dir / "web"),
        "blob.storage.directory": str(data_dir / "blobs"),
        "taskmanager.resource-id": "studyhub-tm-1",
        # Java 17 needs Flink's --add-opens/--add-exports list (from the distribution's own
        # config); replacing it breaks the CLI and some serializers in subtle ways.
        # C1 only (no C2): the chat job's JVM side is glue around the Python worker, and C2
        # spent 0.13 of a core compiling it for many minutes after `make up`. Measured with
        # bench.job_load on a stack minutes old: 0.41 of a core at 2,000 msg/s and 0.38 at 200
        # (with C2, fresh clone: 0.51 and 0.63); chat at 100 msg/s right after `make up`:
        # TaskManager 0.40 of a core, delivery p95 59 ms (with C2: 0.54-0.64, 89-122 ms).
        "env.java.opts.all": (
            f"{_default_java_opts()} -XX:+UseG1GC -XX:TieredStopAtLevel=1".strip()
        ),
    }
    (data_dir / "tmp").mkdir(exist_ok=True)
    # Flink 2.x reads a flat or nested YAML config.yaml; flat keys in JSON form are valid YAML.
    (conf_dir / "config.yaml").write_text(
        "\n".join(f"{key}: {json.dumps(value)}" for key, value in config.items()) + "\n"
    )
    home = flink_home()
    for name in ("log4j-console.properties", "log4j.properties", "logback-console.xml"):
        source = home / "conf" / name
        if source.exists():
            (conf_dir / name).write_text(source.read_text())


def prepare_lib_dir(lib_dir: Path) -> Path:
    """The cluster's lib/: the wheel's lib/ plus flink-python from its opt/.

    The wheel keeps flink-python in opt/ (the client adds it itself), but a session cluster
    needs it on its own classpath to run the Python operators of DataStream jobs.
    """
    home = flink_home()
    shutil.rmtree(lib_dir, ignore_errors=True)
    lib_dir.mkdir(parents=True)
    for jar in [
        *sorted((home / "lib").glob("*.jar")),
        *sorted((home / "opt").glob("flink-python*.jar")),
    ]:
        (lib_dir / jar.name).symlink_to(jar)
    return lib_dir


class _FlinkProcess(Service):
    start_timeout = 120.0
    role: str

    @property
    def conf_dir(self) -> Path:
        return self.settings.stack_dir / "conf" / "flink"

    @property
    def data_dir(self) -> Path:
        return self.settings.stack_dir / "data" / "flink"

    def install(self) -> None:
        flink_home()
        ensure_connector_jars(self.settings)

    def command(self) -> tuple[list[str], dict[str, str]]:
        self.install()
        write_flink_config(self.settings, self.conf_dir, self.data_dir)
        home = flink_home()
        lib_dir = prepare_lib_dir(self.settings.stack_dir / "build" / f"flink-lib-{self.role}")
        env = {
            "FLINK_LIB_DIR": str(lib_dir),
            "FLINK_CONF_DIR": str(self.conf_dir),
            "FLINK_LOG_DIR": str(self.settings.stack_dir / "logs"),
            # flink-daemon.sh keeps a pid list in /tmp by default, shared by every checkout.
            "FLINK_PID_DIR": str(self.settings.stack_dir / "run"),
            "JAVA_HOME": java_home(),
            "FLINK_HOME": str(home),
        }
        return ["bash", str(home / "bin" / f"{self.role}.sh"), "start-foreground"], env

    def version(self) -> str:
        return str(flink_rest(self.settings, "/config")["flink-version"])


class FlinkJobManager(_FlinkProcess):
    name = "flink-jobmanager"
    role = "jobmanager"

    @property
    def port(self) -> int:
        return self.settings.flink_rest_port

    @property
    def extra_ports(self) -> list[int]:
        return [self.settings.flink_jobmanager_rpc_port]

    def healthy(self) -> bool:
        return "flink-version" in flink_rest(self.settings, "/config")


class FlinkTaskManager(_FlinkProcess):
    name = "flink-taskmanager"
    role = "taskmanager"

    @property
    def port(self) -> int:
        # The TaskManager's own ports are ephemeral; it is reached through the JobManager.
        return self.settings.flink_rest_port

    def ports_to_check(self) -> list[int]:
        return []  # its data and RPC ports are ephemeral

    def healthy(self) -> bool:
        overview = flink_rest(self.settings, "/overview")
        return int(overview.get("taskmanagers", 0)) >= 1 and int(overview["slots-total"]) >= 1
