"""Start, find and stop the stack's processes; every one is tracked by a pid file."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from stack.errors import StackError

log = logging.getLogger(__name__)

# Every service process (and whatever it forks) carries its name in this variable, so that the
# stack manager recognises its own leftovers and nobody else's.
SERVICE_MARK = "STUDYHUB_STACK_SERVICE"

# Services outlive the command that starts them. Holding their Popen objects keeps Python from
# warning, at garbage collection, that a child it started is "still running": that is the point.
_STARTED: list[subprocess.Popen[bytes]] = []


@atexit.register
def _release_started() -> None:
    # When this command exits its services are handed to init, running; marking the Popen
    # objects as done keeps their finalisers from reporting that as a leak.
    for proc in _STARTED:
        if proc.poll() is None:
            proc.returncode = 0


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_owner(port: int) -> str:
    """A description of the process listening on a port, for error messages."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return "an unknown process"
                proc = psutil.Process(conn.pid)
                return f"pid {conn.pid} ({' '.join(proc.cmdline())[:120]})"
    except (psutil.Error, PermissionError):
        pass
    return "another process"


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return f"    ({path} does not exist)"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 16_384))
        chunk = handle.read().decode("utf-8", "replace")
    return "\n".join(f"    {line}" for line in chunk.splitlines()[-lines:])


class ManagedProcess:
    """A long-running service process with a pid file under .stack/run.

    The process gets its own session (process group), so stopping it also stops whatever it
    forked (Flink's shell scripts exec Java; Neo4j and Kafka are single JVMs), and nothing of
    ours survives ``down``.
    """

    def __init__(self, name: str, run_dir: Path, log_path: Path) -> None:
        self.name = name
        self.pid_path = run_dir / f"{name}.pid"
        self.log_path = log_path

    def _recorded(self) -> tuple[int, float] | None:
        try:
            fields = self.pid_path.read_text().split()
            return int(fields[0]), float(fields[1])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def pid(self) -> int | None:
        """The pid of our running process, or None (a stale pid file is removed, unless
        processes of its session outlived it: ``leftovers`` needs the file to find them)."""
        recorded = self._recorded()
        if recorded is None:
            return None
        pid, create_time = recorded
        try:
            proc = psutil.Process(pid)
            # A recycled pid belongs to someone else: the start time tells them apart.
            if abs(proc.create_time() - create_time) < 1.0 and proc.status() != "zombie":
                return pid
        except psutil.NoSuchProcess:
            pass
        if not self.leftovers():
            self.pid_path.unlink(missing_ok=True)
        return None

    def leftovers(self) -> list[psutil.Process]:
        """Processes of the session this service was started in that outlived its leader
        (the workers of a SIGKILLed uvicorn master, still holding its port).

        Ours twice over: in the session whose id is the recorded leader's pid, and carrying
        this service's ``STUDYHUB_STACK_SERVICE`` mark in their environment. Anyone else's
        process is never matched, even one that reuses the numbers later.
        """
        recorded = self._recorded()
        if recorded is None:
            return []
        session = recorded[0]
        found = []
        for proc in psutil.process_iter():
            try:
                if (
                    proc.pid != session
                    and os.getsid(proc.pid) == session
                    and proc.environ().get(SERVICE_MARK) == self.name
                ):
                    found.append(proc)
            except (psutil.Error, ProcessLookupError, PermissionError):
                continue
        return found

    def clear_leftovers(self, timeout: float = 10.0) -> int:
        """Stop what ``leftovers`` finds (SIGTERM, then SIGKILL); returns how many there were."""
        found = self.leftovers()
        terminate(found, timeout)
        if self.pid() is None:
            self.pid_path.unlink(missing_ok=True)
        return len(found)

    def listening(self, port: int) -> bool:
        """Whether a process of the running service (the leader or one it forked) listens on
        ``port``: leftovers sharing the port with SO_REUSEPORT do not count."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(psutil.Error):
            leader = psutil.Process(pid)
            for proc in [leader, *leader.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    for conn in proc.net_connections(kind="tcp"):
                        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
                            return True
        return False

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log.debug("starting %s: %s", self.name, " ".join(argv))
        with self.log_path.open("ab") as log_file:
            log_file.write(f"\n--- studyhub: starting {self.name} ---\n".encode())
            log_file.flush()
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env={**os.environ, **(env or {}), SERVICE_MARK: self.name},
                start_new_session=True,
            )
        _STARTED.append(proc)
        create_time = psutil.Process(proc.pid).create_time()
        self.pid_path.write_text(f"{proc.pid} {create_time}\n")
        return proc.pid

    def alive(self) -> bool:
        return self.pid() is not None

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the process group, then SIGKILL what is left. True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return self.clear_leftovers() > 0
        try:
            members = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            members = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        _, still_alive = psutil.wait_procs(members, timeout=timeout)
        for proc in still_alive:
            log.warning(
                "%s: pid %d ignored SIGTERM for %.0fs, killing", self.name, proc.pid, timeout
            )
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(still_alive, timeout=5)
        self.pid_path.unlink(missing_ok=True)
        return True

    def rss_bytes(self) -> int:
        """Resident memory of the process and its children."""
        pid = self.pid()
        if pid is None:
            return 0
        try:
            root = psutil.Process(pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.NoSuchProcess:
            return 0


def terminate(processes: list[psutil.Process], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL whatever is still alive after ``timeout`` seconds."""
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, still_alive = psutil.wait_procs(processes, timeout=timeout)
    for proc in still_alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(still_alive, timeout=5)


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    process: ManagedProcess | None = None,
    interval: float = 0.25,
) -> None:
    """Poll ``check`` until it is true; fail with the service's log in view, never hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise StackError(
                f"{what}: the process exited during start-up",
                f"read {process.log_path}; `studyhub stack logs {process.name}` shows it too",
                log_tail=tail(process.log_path),
            )
        try:
            if check():
                return
        except Exception as error:  # noqa: BLE001 - any failure of a probe means "not ready yet"
            log.debug("%s not ready: %s", what, error)
        time.sleep(interval)
    raise StackError(
        f"{what}: not healthy after {timeout:.0f}s",
        "read the log below; if the machine is busy, run `studyhub stack up` again",
        log_tail=tail(process.log_path) if process else None,
    )


def run(argv: Sequence[str], *, what: str, fix: str, **kwargs: object) -> str:
    """Run a short command; on failure raise a StackError that shows its output."""
    result = subprocess.run(  # noqa: PLW1510 - checked just below, with a better message
        list(argv),
        capture_output=True,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-25:]
        raise StackError(
            f"{what} failed (exit {result.returncode}): {' '.join(argv)[:200]}",
            fix,
            log_tail="\n".join(f"    {line}" for line in output),
        )
    return str(result.stdout)
