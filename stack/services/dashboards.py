"""The community managers' dashboards (dashboards/, Streamlit), a process of the app venv
started by `make up` once the API they sign in through is up."""

from __future__ import annotations

import importlib.metadata
import sys
import urllib.request

from core.settings import REPO_ROOT
from stack.services.base import Service


class DashboardsService(Service):
    name = "dashboards"
    start_timeout = 60.0

    @property
    def port(self) -> int:
        return self.settings.dashboard_port

    def install(self) -> None:
        """Nothing to fetch: Streamlit is in the app venv that `make up` installs."""

    def command(self) -> tuple[list[str], dict[str, str]]:
        argv = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO_ROOT / "dashboards" / "app.py"),
            "--server.address",
            self.settings.bind_host,
            "--server.port",
            str(self.port),
            "--server.headless",
            "true",
            # No file watcher (nothing is edited under a running stack) and no usage
            # statistics sent anywhere (this machine reaches no such host anyway).
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "viewer",
        ]
        return argv, {"PYTHONPATH": str(REPO_ROOT)}

    def healthy(self) -> bool:
        url = f"http://{self.settings.bind_host}:{self.port}/_stcore/health"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.read().strip() == b"ok")

    def version(self) -> str:
        return f"Streamlit {importlib.metadata.version('streamlit')}"
