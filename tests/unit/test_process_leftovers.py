"""The stack manager owns its services' whole sessions (issue 15, fault 3): when a leader is
SIGKILLed and its children live on holding its port, ``up`` clears them, and nobody else's
processes, before it starts the service again. Real processes; no service needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from stack.process import SERVICE_MARK, ManagedProcess, port_open
from tests.utils.api import free_port

# A leader that forks a worker listening on a port, as uvicorn's master does with --workers.
LEADER = """
import socket, subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", '''
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", {port})); s.listen()
time.sleep(600)
'''])
time.sleep(600)
"""


def _wait(check: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_a_killed_leaders_workers_are_cleared_and_no_one_elses(tmp_path: Path) -> None:
    port = free_port()
    service = ManagedProcess("toy-api", tmp_path / "run", tmp_path / "toy.log")
    leader = service.start([sys.executable, "-c", LEADER.replace("{port}", str(port))])
    _wait(lambda: port_open("127.0.0.1", port))
    # Someone else's process, marked like ours but in a session of its own: never touched.
    stranger = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={**os.environ, SERVICE_MARK: "toy-api"},
        start_new_session=True,
    )
    try:
        os.kill(leader, signal.SIGKILL)
        _wait(lambda: not psutil.pid_exists(leader) or psutil.Process(leader).status() == "zombie")
        assert not service.alive()
        assert port_open("127.0.0.1", port)  # the orphaned worker still holds it
        [orphan] = service.leftovers()
        assert orphan.pid != stranger.pid

        assert service.clear_leftovers() == 1
        _wait(lambda: not port_open("127.0.0.1", port))
        assert service.leftovers() == []
        assert stranger.poll() is None  # still running
        assert not service.pid_path.exists()
    finally:
        stranger.kill()
        stranger.wait()
        for proc in service.leftovers():
            proc.kill()


def test_stop_clears_leftovers_when_the_leader_is_gone(tmp_path: Path) -> None:
    port = free_port()
    service = ManagedProcess("toy-api", tmp_path / "run", tmp_path / "toy.log")
    leader = service.start([sys.executable, "-c", LEADER.replace("{port}", str(port))])
    _wait(lambda: port_open("127.0.0.1", port))
    os.kill(leader, signal.SIGKILL)
    _wait(lambda: not service.alive())
    assert service.stop(timeout=5)  # `down` after a crash stops what is left
    _wait(lambda: not port_open("127.0.0.1", port))
