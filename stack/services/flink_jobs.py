"""Long-running Flink jobs of the platform, submitted to the session cluster by `stack up`.

A job is not a process of ours: its state is the cluster's (REST /jobs/overview). `up`
submits it through Flink's own CLI when it is not running; `down` stops it gracefully (with a
savepoint) before the cluster stops. The Kafka offsets it committed are where it resumes.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from typing import Any

import pymysql
import redis

from core import wire
from core.db.sharding import shard_for_room
from core.events import CHAT_MESSAGES, ChatMessageSent
from core.ids import IdGenerator
from core.settings import REPO_ROOT, Settings
from ingest.kafka import make_producer, produce_sync
from stack.errors import StackError
from stack.install import FLINK_VENV, flink_home, java_home
from stack.process import run, wait_until
from stack.services.base import Service, ServiceStatus
from stack.services.flink import flink_rest

log = logging.getLogger(__name__)

# Job states after which Flink never runs that job again (JobStatus.isGloballyTerminalState).
TERMINAL_STATES = frozenset({"FINISHED", "CANCELED", "FAILED"})


def submit_job(
    settings: Settings, module: str, args: list[str] | None = None, *, savepoint: str | None = None
) -> str:
    """``flink run --detached`` a PyFlink module on the session cluster; returns the CLI output.

    Flink's own CLI, not ``python module.py``: outside the CLI a PyFlink DataStream program
    builds a local mini-cluster whatever execution.target says.
    """
    python = str(FLINK_VENV / "bin" / "python")
    argv = [
        "bash",
        str(flink_home() / "bin" / "flink"),
        "run",
        "--detached",
        "-m",
        f"{settings.bind_host}:{settings.flink_rest_port}",
    ]
    if savepoint:
        argv += ["--fromSavepoint", savepoint]
    argv += ["-pyexec", python, "-pyclientexec", python, "-pym", module]
    if args:
        argv += ["--", *args]
    return run(
        argv,
        what=f"submitting the Flink job {module}",
        fix=f"read the output above and the Flink UI at {settings.flink_rest_url}",
        env={
            **os.environ,
            "FLINK_CONF_DIR": str(settings.stack_dir / "conf" / "flink"),
            "FLINK_LOG_DIR": str(settings.stack_dir / "logs"),
            "JAVA_HOME": java_home(),
        },
        cwd=REPO_ROOT,
    )


def submitted_job_id(cli_output: str) -> str:
    match = re.search(r"JobID ([0-9a-f]{32})", cli_output)
    if match is None:
        raise StackError(
            "the Flink CLI did not report a job id", f"its output was: {cli_output[-500:]}"
        )
    return match.group(1)


def latest_checkpoint(settings: Settings, job_id: str) -> str | None:
    """The location of the job's newest completed checkpoint, if it kept one."""
    checkpoints = flink_rest(settings, f"/jobs/{job_id}/checkpoints")
    latest = checkpoints.get("latest", {}).get("completed")
    return str(latest["external_path"]) if latest and latest.get("external_path") else None


def cancel_job(settings: Settings, job_id: str) -> None:
    """Cancel outright. Avoid it for PyFlink jobs under traffic: see ``stop_job``."""
    flink_rest(settings, f"/jobs/{job_id}?mode=cancel", method="PATCH", timeout=10)


def _await_savepoint(settings: Settings, job_id: str, trigger: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = flink_rest(settings, f"/jobs/{job_id}/savepoints/{trigger}")
        if reply["status"]["id"] == "COMPLETED":
            operation = reply.get("operation", {})
            if "location" in operation:
                return str(operation["location"])
            cause = operation.get("failure-cause", {}).get("stack-trace", "no reason given")
            raise StackError(
                f"the savepoint of Flink job {job_id} failed",
                f"the JobManager said: {cause.splitlines()[0] if cause else cause}",
            )
        time.sleep(0.2)
    raise StackError(
        f"the savepoint of Flink job {job_id} did not complete in {timeout:.0f} s",
        f"look at the job in the Flink UI at {settings.flink_rest_url}",
    )


def savepoint_dir(settings: Settings) -> str:
    return f"file://{settings.stack_dir / 'data' / 'flink' / 'savepoints'}"


def _savepoint(
    settings: Settings, job_id: str, operation: str, body: dict[str, Any], timeout: float
) -> str:
    trigger = flink_rest(settings, f"/jobs/{job_id}/{operation}", method="POST", body=body)
    return _await_savepoint(settings, job_id, str(trigger["request-id"]), timeout)


def trigger_savepoint(settings: Settings, job_id: str, timeout: float = 60) -> str:
    """Take a savepoint of a running job (which goes on running); returns its location."""
    body = {"target-directory": savepoint_dir(settings), "cancel-job": False}
    return _savepoint(settings, job_id, "savepoints", body, timeout)


def stop_job(settings: Settings, job_id: str, timeout: float = 60) -> str:
    """Stop a job gracefully with a final savepoint; returns the savepoint's location.

    Preferred over ``cancel_job`` for every planned stop. Cancelling a PyFlink job while a
    bundle is open can take the whole TaskManager down: in Flink 2.2.1 the Beam environment's
    reference count goes negative while the cancelled task cleans up ("FATAL - exception in
    exception handler", IllegalStateException: Reference count must not be negative), and
    every other job on that TaskManager dies with it. A stop ends the sources, finishes the
    open bundles and closes the operators on the normal path.
    """
    body = {"targetDirectory": savepoint_dir(settings), "drain": False}
    return _savepoint(settings, job_id, "stop", body, timeout)


def job_state(settings: Settings, job_id: str) -> str:
    return str(flink_rest(settings, f"/jobs/{job_id}")["state"])


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

    def _live_jobs(self) -> list[tuple[str, str]]:
        """(job id, state) of this job's instances that have not ended."""
        try:
            jobs = flink_rest(self.settings, "/jobs/overview")["jobs"]
        except OSError:
            return []
        return [
            (str(job["jid"]), str(job["state"]))
            for job in jobs
            if job["name"] == self.job_name and job["state"] not in TERMINAL_STATES
        ]

    def job_id(self) -> str | None:
        for job_id, state in self._live_jobs():
            if state == "RUNNING":
                return job_id
        return None

    def healthy(self) -> bool:
        return self.job_id() is not None

    def version(self) -> str:
        return "job " + (self.job_id() or "-")[:8]

    def start(self) -> None:
        if self.healthy():
            log.info("%s already running", self.job_name)
            return
        if self._live_jobs():
            # Restarting (for example after its TaskManager came back): a second instance
            # would read the same partitions and assign a second seq to every message.
            log.info(
                "%s is recovering; waiting for it rather than submitting another", self.job_name
            )
            wait_until(self.healthy, what=self.job_name, timeout=self.start_timeout)
            return
        output = submit_job(self.settings, self.module)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text(output)
        wait_until(self.healthy, what=self.job_name, timeout=self.start_timeout)

    def stop(self) -> bool:
        job_id = self.job_id()
        if job_id is None:
            # Not running, but maybe restarting in a loop (a failing job): no savepoint can be
            # taken of it, and leaving it would make the next `up` wait on it forever.
            stuck = [jid for jid, state in self._live_jobs() if state != "RUNNING"]
            for jid in stuck:
                log.warning("%s: cancelling instance %s, which is not running", self.name, jid)
                cancel_job(self.settings, jid)
            return bool(stuck)
        try:
            stop_job(self.settings, job_id)
        except (StackError, OSError) as error:
            log.warning("%s: graceful stop failed (%s); cancelling it", self.job_name, error)
            cancel_job(self.settings, job_id)
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


WARM_UP_ROOMS = 16
WARM_UP_MESSAGES = 3000
WARM_UP_RATE = 600


class ChatPersistJob(FlinkJob):
    name = "chat-persist"
    module = "pipelines.chat.persist"
    job_name = "chat-persist"

    def start(self) -> None:
        # A job that was running already is warm: `stack up` after a fault (or a second `make
        # up`) does not pay for another burst.
        was_running = self.healthy()
        super().start()
        if not was_running:
            self.warm_up()

    def warm_up(self, timeout: float = 60.0) -> float:
        """One message through the job, then a burst; returns the first message's seconds.

        A job that has just started takes seconds over its first bundle (the Python worker
        and its connections come up), and the JVMs (the TaskManager's, Kafka's) compile their
        hot paths only under load: measured on a fresh stack, the TaskManager then used 0.59
        of a core at 100 msg/s against 0.35 warm, and delivery p95 was half as long again.
        Without this, the first users after `make up` would pay for both. So the first message
        is followed by ``WARM_UP_MESSAGES`` at ``WARM_UP_RATE``/s over ``WARM_UP_ROOMS``
        synthetic rooms (spread over the partitions), all waited for; their rows are deleted
        afterwards.
        """
        s = self.settings
        ids = IdGenerator(1000)
        rooms = [ids.next_id() for _ in range(WARM_UP_ROOMS)]
        client = redis.Redis.from_url(s.redis_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call, unused-ignore]
        pubsub.subscribe(*(wire.room_channel(room) for room in rooms))
        producer = make_producer(s)

        def message(room_id: int) -> ChatMessageSent:
            return ChatMessageSent(
                room_id=room_id,
                message_id=ids.next_id(),
                sender_id=0,
                client_msg_id=f"warm-up-{uuid.uuid4()}",
                body="warm-up",
            )

        def broadcasts(wanted: int, deadline: float) -> int:
            seen = 0
            while seen < wanted and time.monotonic() < deadline:
                found = pubsub.get_message(timeout=1.0)
                if found is not None and found["type"] == "message":
                    seen += 1
            return seen

        started = time.monotonic()
        try:
            produce_sync(producer, message(rooms[0]), topic=CHAT_MESSAGES)
            if not broadcasts(1, started + timeout):
                raise StackError(
                    f"{self.name} did not store and broadcast a warm-up message in {timeout:.0f} s",
                    "read `studyhub stack logs flink-taskmanager` and the Flink UI at "
                    f"{s.flink_rest_url}",
                )
            seconds = time.monotonic() - started
            burst_started = time.monotonic()
            for n in range(WARM_UP_MESSAGES):
                event = message(rooms[n % len(rooms)])
                producer.produce(CHAT_MESSAGES, value=event.to_bytes(), key=event.key())
                producer.poll(0)
                ahead = burst_started + (n + 1) / WARM_UP_RATE - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            producer.flush(30)
            seen = broadcasts(WARM_UP_MESSAGES, time.monotonic() + timeout)
            burst_s = time.monotonic() - burst_started
            if seen < WARM_UP_MESSAGES:  # the job works (the first message came back): go on
                log.warning(
                    "%s: only %d of %d warm-up messages came back in %.0f s",
                    self.name,
                    seen,
                    WARM_UP_MESSAGES,
                    burst_s,
                )
        finally:
            pubsub.close()
            client.delete(*(wire.room_last_seq_key(room) for room in rooms))
            client.close()
            self._delete_rooms(rooms)
        log.info(
            "%s warmed up: the first message took %.2f s, %d more at %d/s took %.1f s",
            self.name,
            seconds,
            WARM_UP_MESSAGES,
            WARM_UP_RATE,
            burst_s,
        )
        return seconds

    def _delete_rooms(self, rooms: list[int]) -> None:
        s = self.settings
        by_shard: dict[int, list[int]] = {}
        for room in rooms:
            by_shard.setdefault(shard_for_room(room, s.mysql_shards), []).append(room)
        for shard, shard_rooms in by_shard.items():
            connection = pymysql.connect(
                host=s.mysql_host,
                port=s.mysql_port(shard),
                user=s.mysql_user,
                password=s.mysql_password.get_secret_value(),
                database=s.mysql_database,
                autocommit=True,
            )
            with connection, connection.cursor() as cursor:
                cursor.execute("DELETE FROM chat_messages WHERE room_id IN %s", (shard_rooms,))


class ModerationJob(FlinkJob):
    """The moderation queue (moderation-events -> MySQL) and the abuse detection (floods,
    spam: a timed mute and a queue item each), one job: pipelines.moderation.job."""

    name = "moderation"
    module = "pipelines.moderation.job"
    job_name = "moderation"


class MetricsJob(FlinkJob):
    """Community metrics in event-time windows (per room, overall, moderation by rule; per
    minute, hour and day) written to InfluxDB: pipelines.metrics.job."""

    name = "metrics"
    module = "pipelines.metrics.job"
    job_name = "metrics"
