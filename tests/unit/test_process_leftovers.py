"""The stack manager owns its services' whole sessions (issue 15, fault 3): when a leader is
SIGKILLed and its children live on holding its port, ``up`` clears them, and nobody else's
processes, before it starts the service again. Real processes; no service needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from core.settings import Settings
from stack.process import SERVICE_MARK, ManagedProcess, port_open
from stack.services.base import Service
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


# A supervisor whose worker shares its port with SO_REUSEPORT and listens only after a slow
# start, as server/serve.py's workers do.
SHARING_LEADER = """
import subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", '''
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", {port}))
time.sleep(0.5)  # the app starting
s.listen()
while True:
    s.accept()[0].close()
'''])
time.sleep(600)
"""


class ToyApi(Service):
    name = "toy-api"
    shares_its_port = True
    start_timeout = 20.0

    def __init__(self, settings: Settings, port: int) -> None:
        super().__init__(settings)
        self._port = port

    @property
    def port(self) -> int:
        return self._port

    def install(self) -> None:
        """Nothing to install."""

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-c", SHARING_LEADER.replace("{port}", str(self._port))], {}

    def healthy(self) -> bool:
        return port_open("127.0.0.1", self._port)

    def version(self) -> str:
        return "toy"


def test_a_port_sharing_service_starts_beside_its_leftovers_then_stops_them(
    tmp_path: Path,
) -> None:
    settings = Settings.model_construct(stack_dir=tmp_path, tools_dir=tmp_path / "tools")
    service = ToyApi(settings, free_port())
    service.start()
    first = service.process.pid()
    assert first is not None
    os.kill(first, signal.SIGKILL)  # the supervisor dies; its worker serves on
    _wait(lambda: not service.process.alive())
    [orphan] = service.process.leftovers()

    served = []  # the port, probed all through the restart
    probing = True

    def probe() -> None:
        while probing:
            served.append(port_open("127.0.0.1", service.port, timeout=0.5))
            time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        service.start()  # what `studyhub stack up` does
    finally:
        probing = False
        prober.join()
    try:
        assert service.process.alive()
        assert service.process.pid() != first
        assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE
        assert service.process.listening(service.port)
        assert served
        assert all(served), f"{served.count(False)} of {len(served)} probes found no server"
    finally:
        service.stop()


LISTENER = """
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", {port})); s.listen()
while True:
    s.accept()[0].close()
"""


class ToyJvm(ToyApi):
    """Listens on its port once started; no port sharing."""

    name = "toy-jvm"
    shares_its_port = False

    def command(self) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-c", LISTENER.replace("{port}", str(self.port))], {}


def test_a_service_that_dies_while_up_waits_for_it_is_started_again(tmp_path: Path) -> None:
    """A TaskManager alive at `up` but taken down while `up` waited for it (its JobManager
    was replaced, found by `make faults`) is started afresh instead of failing `up`."""
    settings = Settings.model_construct(stack_dir=tmp_path, tools_dir=tmp_path / "tools")
    service = ToyJvm(settings, free_port())
    dying = service.process.start([sys.executable, "-c", "import time; time.sleep(1)"])
    assert service.process.alive()
    assert not service.healthy()
    try:
        service.start()
        assert service.healthy()
        assert service.process.pid() != dying
    finally:
        service.stop()
