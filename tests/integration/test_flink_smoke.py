"""PyFlink on the session cluster: Kafka -> Flink SQL -> MySQL through the JDBC connector."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy import text

from core.db.sharding import ShardRouter
from core.events import ChatMessageSent
from core.ids import IdGenerator
from core.settings import REPO_ROOT, Settings
from ingest.kafka import make_producer, produce_sync
from tests.conftest import require

pytestmark = [pytest.mark.integration, pytest.mark.flink]

FLINK_PYTHON = REPO_ROOT / ".venv-flink" / "bin" / "python"


@pytest.fixture
def smoke_topic(kafka: Settings) -> Iterator[str]:
    require(kafka, "flink-jobmanager", "flink-taskmanager")
    topic = f"test-smoke-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": kafka.kafka_bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result()
    yield topic
    for future in admin.delete_topics([topic]).values():
        future.result()


def _run_job(topic: str, room_id: int) -> str:
    result = subprocess.run(
        [
            str(FLINK_PYTHON),
            "-m",
            "pipelines.smoke",
            "--topic",
            topic,
            "--room-id",
            str(room_id),
            "--group-id",
            f"{topic}-group",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO_ROOT,
        check=False,
    )
    output = result.stdout + result.stderr
    causes = [line for line in output.splitlines() if "Caused by" in line or "Error" in line]
    assert result.returncode == 0, "\n".join(causes[-10:]) or output[-3000:]
    return output


def _flink_jobs(settings: Settings) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{settings.flink_rest_url}/jobs/overview", timeout=5) as r:  # noqa: S310
        jobs: list[dict[str, object]] = json.load(r)["jobs"]
    return jobs


def test_kafka_to_mysql_through_the_jdbc_connector(
    smoke_topic: str, mysql: ShardRouter, settings: Settings
) -> None:
    room_id = IdGenerator(901).next_id()
    sent = [
        ChatMessageSent(
            room_id=room_id,
            message_id=IdGenerator(902).next_id() + n,
            sender_id=100 + n % 3,
            client_msg_id=str(uuid.uuid4()),
            body=f"smoke message {n} ✓",
        )
        for n in range(25)
    ]
    producer = make_producer(settings)
    for event in sent:
        produce_sync(producer, event, topic=smoke_topic)

    engine = mysql.engine_for_room(room_id)
    query = text(
        "SELECT seq, message_id, sender_id, client_msg_id, body, created_at "
        "FROM chat_messages WHERE room_id = :room ORDER BY seq"
    )
    try:
        _run_job(smoke_topic, room_id)
        with engine.connect() as connection:
            rows = connection.execute(query, {"room": room_id}).all()
        assert [row.seq for row in rows] == list(range(1, 26))
        assert [(r.message_id, r.sender_id, r.client_msg_id, r.body) for r in rows] == [
            (e.message_id, e.sender_id, e.client_msg_id, e.body) for e in sent
        ]
        # Microseconds survive Kafka JSON -> Flink TIMESTAMP_LTZ -> JDBC -> DATETIME(6).
        assert [r.created_at for r in rows] == [
            e.occurred_at.astimezone(UTC).replace(tzinfo=None) for e in sent
        ]

        # Replaying the topic upserts the same keys: no duplicates.
        _run_job(smoke_topic, room_id)
        with engine.connect() as connection:
            again = connection.execute(query, {"room": room_id}).all()
        assert again == rows

        finished = [
            job
            for job in _flink_jobs(settings)
            if job["name"] == f"smoke-{smoke_topic}" and job["state"] == "FINISHED"
        ]
        assert len(finished) == 2
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM chat_messages WHERE room_id = :r"), {"r": room_id})
