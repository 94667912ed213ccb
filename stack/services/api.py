"""The studyhub API itself (uvicorn), started by `make up` after the services it needs."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from core.settings import REPO_ROOT
from stack.services.base import Service


class ApiService(Service):
    name = "api"
    start_timeout = 60.0

    @property
    def port(self) -> int:
        return self.settings.api_port

    def install(self) -> None:
        """Nothing to fetch: the API runs from the app venv that `make up` installs."""

    def command(self) -> tuple[list[str], dict[str, str]]:
        uvicorn = Path(sys.executable).with_name("uvicorn")
        argv = [
            str(uvicorn),
            "server.app:create_app",
            "--factory",
            "--host",
            self.settings.api_host,
            "--port",
            str(self.port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            # Per-message deflate halves fan-out throughput (measured on this machine) and chat
            # frames are small; browsers would otherwise negotiate it.
            "--ws-per-message-deflate",
            "false",
            # uvicorn's sans-I/O protocol plus a synchronous frame writer: the fan-out frames a
            # message once and writes it to each follower's transport (realtime/uvicorn_ws.py).
            "--ws",
            "realtime.uvicorn_ws:FrameWriterProtocol",
            # INFO would log every WebSocket URL, and with it the token in its query string.
            "--log-level",
            "warning",
            # Two processes: the API and the WebSocket gateway scale out on both cores, and chat
            # fan-out between them goes through Redis pub/sub like between hosts.
            "--workers",
            str(self.settings.api_workers),
            "--timeout-graceful-shutdown",
            "10",
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
