"""Long-running Flink jobs of the platform, submitted to the session cluster by `stack up`.

A job is not a process of ours: its state is the cluster's (REST /jobs/overview), `up`
submits it through Flink's own CLI when it is not running, and `down` cancels it before the
cluster stops (the Kafka offsets it committed at its last checkpoint are where it resumes).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

from core.settings import REPO_ROOT, Settings
from stack.install import FLINK_VENV, flink_home, java_home
from stack.process import run, wait_until
from stack.services.base import Service, ServiceStatus

log = logging.getLogger(__name__)


def _jobs(settings: Settings) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{settings.flink_rest_url}/jobs/overview", timeout=5) as r:  # noqa: S310
        jobs: list[dict[str, Any]] = json.load(r)["jobs"]
    return jobs


class FlinkJob(Service):
    """A PyFlink job module (``python -m module``) kept running on the session cluster."""

    start_timeout = 120.0
    module: str
    job_name: str

    @property
    def port(self) -> int:
        return self.settings.flink_rest_port

    def ports_to_check(self) -> list[int]:
        return []

    def install(self) -> None:
        """The job runs from .venv-flink, which the Flink services install."""

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError("Flink jobs are submitted, not started as processes")

    def job_id(self) -> str | None:
        try:
            jobs = _jobs(self.settings)
        except OSError:
            return None
        for job in jobs:
            if job["name"] == self.job_name and job["state"] == "RUNNING":
                return str(job["jid"])
        return None

    def healthy(self) -> bool:
        return self.job_id() is not None

    def version(self) -> str:
        return "job " + (self.job_id() or "-")[:8]

    def start(self) -> None:
        if self.healthy():
            log.info("%s already running", self.job_name)
            return
        python = str(FLINK_VENV / "bin" / "python")
        home = flink_home()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        output = run(
            [
                "bash",
                str(home / "bin" / "flink"),
                "run",
                "--detached",
                "-m",
                f"{self.settings.bind_host}:{self.settings.flink_rest_port}",
                "-pyexec",
                python,
                "-pyclientexec",
                python,
                "-pym",
                self.module,
            ],
            what=f"submitting the Flink job {self.job_name}",
            fix=f"read {self.log_path} and the Flink UI at {self.settings.flink_rest_url}",
            env={
                **os.environ,
                "FLINK_CONF_DIR": str(self.settings.stack_dir / "conf" / "flink"),
                "FLINK_LOG_DIR": str(self.settings.stack_dir / "logs"),
                "JAVA_HOME": java_home(),
            },
            cwd=REPO_ROOT,
        )
        self.log_path.write_text(output)
        wait_until(self.healthy, what=self.job_name, timeout=self.start_timeout)

    def stop(self) -> bool:
        job_id = self.job_id()
        if job_id is None:
            return False
        request = urllib.request.Request(  # noqa: S310 - loopback URL from settings
            f"{self.settings.flink_rest_url}/jobs/{job_id}?mode=cancel", method="PATCH"
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
        return True

    def status(self) -> ServiceStatus:
        job_id = self.job_id()
        return ServiceStatus(
            self.name,
            "running" if job_id else "stopped",
            self.port,
            None,
            f"job {job_id[:8]}" if job_id else "-",
            0,
        )


class ChatPersistJob(FlinkJob):
    name = "chat-persist"
    module = "pipelines.chat.persist"
    job_name = "chat-persist"
