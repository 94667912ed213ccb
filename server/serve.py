"""`python -m server.serve`: the app in N processes, each accepting on a socket of its own.

`uvicorn --workers N` shares one listening socket between its workers. uvloop accepts every
pending connection at each wake-up, so a burst of connections (a load balancer's pool, a
reconnect storm, the benchmark's clients) lands mostly on whichever worker woke first, and a
kept-alive connection stays there: measured, one worker did eight times the other's work while
the box had a core to spare. Here each worker binds its own socket with SO_REUSEPORT and the
kernel spreads new connections over them by a hash of the addresses, as nginx's ``reuseport``
does. (Only processes of the same user may share such a port.)

The parent only supervises: it starts the workers, starts a new one in place of any that dies
(a SIGKILLed gateway's clients reconnect to the others at once), and on SIGTERM or SIGINT
stops them all gracefully.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

log = logging.getLogger("server.serve")

APP = "server.app:create_app"
# uvicorn's own. A variant that sent each response's head and body in one write measured no
# better under bench.api_latency (three alternating rounds, 2026-12-08, bench/README.md).
HTTP_PROTOCOL = "httptools"
# uvicorn's sans-I/O protocol plus a synchronous frame writer: the fan-out frames a message
# once and writes it to each follower's transport (realtime/uvicorn_ws.py).
WS_PROTOCOL = "realtime.uvicorn_ws:FrameWriterProtocol"
RESTART_BACKOFF_S = 1.0  # a worker that keeps dying is not restarted in a hot loop
STOP_TIMEOUT_S = 15.0
LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def bind(host: str, port: int) -> socket.socket:
    """A socket on the shared port that is bound but not listening yet.

    A SO_REUSEPORT socket gets its share of new connections from the moment it listens. A
    worker's starts listening only when uvicorn creates its server, after the app's startup
    (imports, connection pools: seconds). Listening at bind time would leave the connections
    the kernel hashes to a restarting worker waiting in its backlog all that time, when the
    other workers could take them at once.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def listen(host: str, port: int) -> socket.socket:
    sock = bind(host, port)
    sock.listen(2048)
    return sock


def config(host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        loop="uvloop",
        http=HTTP_PROTOCOL,
        access_log=False,
        # Per-message deflate halves fan-out throughput (measured on this machine) and chat
        # frames are small; browsers would otherwise negotiate it.
        ws_per_message_deflate=False,
        ws=WS_PROTOCOL,
        # INFO would log every WebSocket URL, and with it the token in its query string.
        log_level="warning",
        timeout_graceful_shutdown=10,
    )


def worker(host: str, port: int) -> None:
    # The app's own warnings (a store away, a slow socket closed) with a time and a pid: a
    # spawned worker starts with Python's bare last-resort handler.
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    uvicorn.Server(config(host, port)).run(sockets=[bind(host, port)])  # listens once ready


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:  # fail now, with the reason, if the port is not ours to share
        listen(args.host, args.port).close()
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, error)
        return 1
    context = multiprocessing.get_context("spawn")
    stopping = False
    workers: list[BaseProcess] = []

    def start(n: int) -> BaseProcess:
        process = context.Process(target=worker, args=(args.host, args.port), name=f"api-{n}")
        process.start()
        return process

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        del frame
        stopping = True
        log.info("signal %d: stopping %d workers", signum, len(workers))
        for process in workers:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers += [start(n) for n in range(args.workers)]
    started = [time.monotonic()] * args.workers
    while not stopping:
        time.sleep(0.2)
        for n, process in enumerate(workers):
            if stopping or process.is_alive():
                continue
            if time.monotonic() - started[n] < RESTART_BACKOFF_S:
                continue
            log.warning(
                "worker %s (pid %s) exited with %s; starting another",
                n,
                process.pid,
                process.exitcode,
            )
            workers[n] = start(n)
            started[n] = time.monotonic()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in workers:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
