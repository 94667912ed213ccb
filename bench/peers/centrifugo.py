"""Centrifugo v6 as a peer: built with ``go install``, run with its Redis engine and history on.

    .venv/bin/python -m bench.peers.centrifugo --port 8791     # build if needed, run until ^C

The engine is the stack's Redis (its own key prefix), so a publish goes client -> Centrifugo ->
Redis (history stream + PUB/SUB) -> Centrifugo -> subscribers: the same shape of path as
studyhub's gateway -> Kafka -> job -> Redis -> gateway, minus the durable log and the database.
Channels are ``room:<id>``; subscribers may publish (``allow_publish_for_subscriber``), and
every channel keeps a 300-message, 5-minute history with recovery forced on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jwt

from core.settings import Settings, get_settings
from stack.install import ensure_go_binary

MODULE = "github.com/centrifugal/centrifugo/v6"
VERSION = "6.9.1"  # the newest the Go module proxy serves here (issue 5 asks for @latest)


def binary(settings: Settings) -> Path:
    return ensure_go_binary(
        MODULE,
        f"v{VERSION}",
        "centrifugo",
        settings.tools_dir / "bin",
        ldflags=f"-X {MODULE}/internal/build.Version={VERSION}",
    )


def config(settings: Settings, port: int, secret: str) -> dict[str, Any]:
    return {
        "http_server": {"address": settings.bind_host, "port": port},
        "log": {"level": "error"},
        "health": {"enabled": True},
        "client": {"token": {"hmac_secret_key": secret}, "allowed_origins": ["*"]},
        "engine": {
            "type": "redis",
            "redis": {
                "address": f"{settings.bind_host}:{settings.redis_port}",
                "prefix": "cfbench",
            },
        },
        "channel": {
            # "room:<id>" channels live in the "room" namespace (":" separates namespaces).
            "namespaces": [
                {
                    "name": "room",
                    "allow_subscribe_for_client": True,
                    "allow_publish_for_subscriber": True,
                    "history_size": 300,
                    "history_ttl": "300s",
                    "force_recovery": True,
                }
            ]
        },
    }


def channel(room: int) -> str:
    """A room's Centrifugo channel: its own namespace, not a studyhub Redis key."""
    return f"room:{room}"


def token(secret: str, user: int) -> str:
    return jwt.encode({"sub": str(user), "exp": int(time.time()) + 3600}, secret, "HS256")


class Centrifugo:
    """One Centrifugo process for the length of a ``with`` block."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.settings = settings
        self.port = port
        self.secret = secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None
        self.dir = settings.stack_dir / "bench" / "centrifugo"

    @property
    def url(self) -> str:
        return f"ws://{self.settings.bind_host}:{self.port}/connection/websocket"

    def __enter__(self) -> Centrifugo:
        executable = binary(self.settings)
        self.dir.mkdir(parents=True, exist_ok=True)
        config_path = self.dir / "config.json"
        config_path.write_text(json.dumps(config(self.settings, self.port, self.secret), indent=2))
        log = (self.dir / "centrifugo.log").open("ab")
        self.process = subprocess.Popen(
            [str(executable), "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
        )
        health = f"http://{self.settings.bind_host}:{self.port}/health"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"error: centrifugo exited with {self.process.returncode}; "
                    f"see {self.dir / 'centrifugo.log'}"
                )
            try:
                with urllib.request.urlopen(health, timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.__exit__()
        raise SystemExit(f"error: centrifugo did not answer {health} within 30 s")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument(
        "--install", action="store_true", help="build the binary if missing, then exit"
    )
    args = parser.parse_args(argv)
    if args.install:
        sys.stdout.write(f"centrifugo {VERSION}: {binary(get_settings())}\n")
        return
    with Centrifugo(get_settings(), args.port) as server:
        sys.stdout.write(
            f"centrifugo {VERSION} on {server.url}; HMAC secret {server.secret}; ^C stops it\n"
        )
        if server.process is not None:
            with contextlib.suppress(KeyboardInterrupt):
                server.process.wait()


if __name__ == "__main__":
    main()
