"""The moderation job: the queue and the abuse detection, one Flink job on the session cluster.

    .venv-flink/bin/python -m pipelines.moderation.job        # submit to the session cluster

Two halves in one statement set, so they share one task slot and one submission (each
``flink run`` of a PyFlink job costs a client JVM and about 20 s of a 2-core box, at every
`make up` and after a JobManager restart):

- ``pipelines.moderation.queue``: moderation-events -> ``moderation_items``, Flink SQL and the
  JDBC sink, no Python;
- ``pipelines.moderation.abuse``: floods, mention and duplicate spam, bursts of blocked
  messages -> a timed mute in Redis and a ``ContentFlagged`` on moderation-events (which the
  queue half then makes an item).

`studyhub stack up` submits it if it is not running.
"""

from __future__ import annotations

import argparse
import logging

from core.settings import Settings, get_settings
from pipelines.moderation.abuse import abuse_insert
from pipelines.moderation.queue import queue_insert
from pipelines.runtime import table_environment

log = logging.getLogger(__name__)

JOB_NAME = "moderation"


def build_and_submit(settings: Settings, *, name: str = JOB_NAME) -> str:
    """Submit the job to the session cluster; returns its Flink job id."""
    t_env = table_environment(settings, name)
    config = t_env.get_config()
    config.set("parallelism.default", "1")
    config.set("execution.checkpointing.interval", "5000 ms")
    config.set("execution.checkpointing.mode", "EXACTLY_ONCE")
    # Only detections reach Python, and they are rare: a bundle per row, so that a mute never
    # waits on a bundle to fill.
    config.set("python.fn-execution.bundle.size", "1")
    statements = t_env.create_statement_set()
    statements.add_insert_sql(queue_insert(t_env, settings))
    statements.add_insert_sql(abuse_insert(t_env, settings))
    result = statements.execute()
    job_client = result.get_job_client()
    if job_client is None:
        raise RuntimeError("Flink returned no job client: the job was not submitted")
    return str(job_client.get_job_id())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=JOB_NAME, help="Flink job name")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    job_id = build_and_submit(get_settings(), name=args.name)
    print(f"{args.name} submitted with JobID {job_id}")  # noqa: T201


if __name__ == "__main__":
    main()
