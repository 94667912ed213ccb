"""The studyhub API itself (uvicorn), started by `make up` after the services it needs."""

from __future__ import annotations

import json
import sys
import urllib.request

from core.settings import REPO_ROOT
from stack.services.base import Service


class ApiService(Service):
    name = "api"
    start_timeout = 60.0
    shares_its_port = True  # server/serve.py: every worker binds it with SO_REUSEPORT

    @property
    def port(self) -> int:
        return self.settings.api_port

    def install(self) -> None:
        """Nothing to fetch: the API runs from the app venv that `make up` installs."""

    def command(self) -> tuple[list[str], dict[str, str]]:
        # uvicorn, configured in server/serve.py: its worker processes each accept on a socket
        # of their own (SO_REUSEPORT), so the kernel spreads connections evenly over them.
        # Two processes: the API and the WebSocket gateway scale out on both cores, and chat
        # fan-out between them goes through Redis pub/sub like between hosts.
        argv = [
            sys.executable,
            "-m",
            "server.serve",
            "--host",
            self.settings.api_host,
            "--port",
            str(self.port),
            "--workers",
            str(self.settings.api_workers),
        ]
        return argv, {"PYTHONPATH": str(REPO_ROOT)}

    def healthy(self) -> bool:
        url = f"http://{self.settings.api_host}:{self.port}/health"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(json.load(response).get("status") == "ok")

    def version(self) -> str:
        url = f"http://{self.settings.api_host}:{self.port}/openapi.json"
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(json.load(response)["info"]["version"])
