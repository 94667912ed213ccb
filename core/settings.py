"""The one settings object of studyhub.

Every port, size and secret comes from here: the environment (prefix ``STUDYHUB_``) first, then
the repository's ``.env`` (written with fresh random secrets by ``studyhub stack init-env`` on the
first ``make up``/``make test``). Secrets have no default; a placeholder secret is refused outside
development.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

# Values that mean "nobody chose a secret". They are fine on a laptop, never anywhere else.
_PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "studyhub"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STUDYHUB_",
        env_file=REPO_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = "development"

    # Where the local stack keeps data, logs and pid files (gitignored), and where downloaded
    # tools (jars, the influxd binary) are cached across clones.
    stack_dir: Path = REPO_ROOT / ".stack"
    tools_dir: Path = Path.home() / ".cache" / "studyhub"
    bind_host: str = "127.0.0.1"

    # MySQL (MariaDB locally): one instance per shard on consecutive ports.
    mysql_host: str = "127.0.0.1"
    mysql_base_port: int = 3307
    mysql_shards: int = Field(default=2, ge=1, le=64)
    mysql_database: str = "studyhub"
    mysql_user: str = "studyhub"
    mysql_password: SecretStr
    # InnoDB reads with O_DIRECT, so what misses the buffer pool is a disk read, not a page-cache
    # hit: at 128M, the 100k-user population's 400 MB of friendships made the API benchmark
    # read 19 MB/s from disk. Allocated as it fills, so an empty shard stays small.
    mysql_buffer_pool: str = "1G"
    # Dagster's run, event-log and schedule storage: a database of its own on shard 0.
    dagster_database: str = "dagster"
    dagster_port: int = 3000
    # The code server both the webserver and the daemon read the graph jobs from.
    dagster_grpc_port: int = 4266
    # Seconds between the graph-events sensor's looks at Kafka; each hit launches a run, and a
    # run costs a Python start-up (about 3 s of CPU), so this bounds the sync's idle cost.
    dagster_sensor_interval_s: int = Field(default=30, ge=5)

    # The community managers' dashboards (dashboards/, Streamlit). They sign in with the
    # platform's accounts through the API and write only through it; a session ends after
    # this long without a page run. The API they call: `api_host:api_port` unless set.
    dashboard_port: int = 8501
    dashboard_idle_minutes: int = Field(default=30, ge=1)
    dashboard_api_url: str | None = None

    redis_port: int = 6380
    redis_maxmemory: str = "512mb"
    redis_pool_size: int = 100

    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    kafka_chat_partitions: int = Field(default=8, ge=1)
    kafka_version: str = "4.1.1"

    neo4j_bolt_port: int = 7687
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr
    neo4j_heap: str = "1g"
    neo4j_pagecache: str = "128m"

    influx_port: int = 8086
    influx_rpc_port: int = 8089
    influx_user: str = "studyhub"
    influx_password: SecretStr
    influx_database: str = "studyhub"
    influx_retention_policy: str = "autogen"
    influx_version: str = "1.8.3"

    flink_rest_port: int = 8081
    flink_jobmanager_rpc_port: int = 6123
    flink_jobmanager_memory: str = "1024m"
    # Three resident jobs (chat-persist, moderation, metrics) hold a slot each; the tests and
    # the fault harness submit up to two more beside them, and a stopped job's slot comes back
    # a moment after its state says FINISHED. Four slots left the smoke test without one in CI.
    # 256 MiB more than the 2 GiB it had, all of it metaspace (stack/services/flink.py).
    flink_taskmanager_memory: str = "2304m"
    flink_task_slots: int = 6
    # Python UDF bundles flush after this many ms; the default 1000 ms puts a second of latency
    # on every record. The chat job flushes once per bundle, and its cost is per bundle (Beam's
    # round trips), not per message: `bench.job_load` at 2,000 msg/s measured 0.63 of a core
    # at 5 ms and 0.48 at 10 ms, for 6 ms more delivery p95 at 100 msg/s (36.5 -> 42.8 ms).
    flink_bundle_time_ms: int = 10
    # How long the broker may hold chat-persist's fetch for more records (it answers at once
    # when 256 KiB are there). 0 answers each fetch as soon as one record is in: thousands of
    # small fetches a second, the TaskManager's largest cost at 1,000 messages/s
    # (docs/metrics.md, "What the job costs the chat").
    chat_persist_fetch_wait_ms: int = Field(default=5, ge=0, le=500)
    # The chat job flushes once per bundle: this caps its multi-row INSERT.
    flink_bundle_size: int = Field(default=1000, ge=1)
    flink_buffer_timeout_ms: int = 5
    # Subtasks of the chat persistence job: 1 on one box, the topic's partition count in
    # production (each subtask then owns some partitions, and so some rooms).
    chat_persist_parallelism: int = Field(default=1, ge=1)

    jwt_secret: SecretStr
    jwt_ttl_minutes: int = Field(default=24 * 60, ge=1)

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = Field(default=2, ge=1)
    # The six hottest routes answered without FastAPI's per-request layers (api/hot.py); off,
    # FastAPI answers everything (the same bytes, more CPU).
    api_hot_routes: bool = True
    # How long a room or social event may wait to share a Kafka produce request with others
    # (ingest/publisher.py); chat and moderation records go out at once.
    kafka_event_linger_ms: int = Field(default=50, ge=0, le=1000)
    # Fixed one-minute windows in Redis. Auth is limited per client IP (password guessing),
    # everything else per user.
    rate_limit_user_per_minute: int = Field(default=600, ge=1)
    rate_limit_auth_per_minute: int = Field(default=20, ge=1)
    rate_limit_namespace: str = "ratelimit"
    room_capacity_max: int = 500
    # The chat's word filter (domain.moderation): words added to domain/moderation/rules.toml's
    # lists, and words never caught, for this deployment. JSON lists in the environment.
    moderation_extra_words: list[str] = Field(default_factory=list)
    moderation_allow_words: list[str] = Field(default_factory=list)
    # The moderation job's abuse half (pipelines.moderation.abuse): what trips it, per user, and how
    # long its mute lasts. A flood is counted across rooms and gateway processes, in 20 s
    # windows on processing time that take messages up to 5 s old: one process's send limit
    # (10/s) allows 250 there, which a client catching up after an outage can reach, and
    # nobody typing can. More than that is a client going round the limit.
    moderation_flood_messages: int = Field(default=260, ge=2)  # in 20 s
    moderation_mention_limit: int = Field(default=15, ge=2)  # @mentions in 10 s
    moderation_duplicate_rooms: int = Field(default=3, ge=2)  # the same text, in 30 s
    moderation_blocked_burst: int = Field(default=3, ge=2)  # blocked messages in 60 s
    moderation_stream_mute_s: int = Field(default=120, ge=1)

    # The monitor (server/monitor.py, domain/monitoring): how often it samples the pipeline's
    # health into InfluxDB and evaluates the alerts, and the alerts' thresholds (the seed's).
    monitor_interval_s: float = Field(default=10.0, gt=0)
    alert_queue_depth: int = Field(default=10_000, ge=1)  # critical: a consumer group's lag
    alert_redis_memory_ratio: float = Field(default=0.8, gt=0)  # warning: used / limit
    # The limit Redis memory is measured against; None: Redis's own maxmemory.
    alert_redis_memory_limit_bytes: int | None = Field(default=None, ge=1)
    alert_checkpoint_age_s: float = Field(default=120.0, gt=0)  # critical: a job not checkpointing
    alert_join_p95_ms: float = Field(default=1000.0, gt=0)  # critical: a room join > 1 s
    alert_delivery_p95_ms: float = Field(default=500.0, gt=0)  # warning: message latency
    alert_delivery_success: float = Field(default=0.99, gt=0, le=1)  # critical: below it
    # The chat path's timings are judged over this many past seconds (every process's, summed).
    monitor_window_s: int = Field(default=30, ge=2)
    # The consumer groups whose lag is a queue's depth: the Flink jobs' and the graph sync's.
    # Groups named here that do not exist yet are skipped.
    monitor_consumer_groups: list[str] = Field(
        default_factory=lambda: [
            "chat-persist",
            "moderation-queue",
            "moderation-abuse",
            "metrics",
            "studyhub-graph-sync",
        ]
    )
    # The Flink jobs that must be running (and checkpointing).
    monitor_flink_jobs: list[str] = Field(
        default_factory=lambda: ["chat-persist", "moderation", "metrics"]
    )

    # Chat sends per user: a steady rate and a burst (token bucket in the gateway).
    chat_rate_per_s: float = Field(default=10.0, gt=0)
    chat_burst: int = Field(default=20, ge=1)
    # Presence lasts this long after the last heartbeat (or socket open).
    presence_ttl_s: int = Field(default=300, ge=1)
    # Subscribe recovery: at most this many messages are sent after after_seq (the rest is
    # reported as missing), and a plain subscribe holds live frames this long for a resume
    # that follows it (the older protocol), unless the client sends something else first.
    chat_recovery_limit: int = Field(default=1000, ge=1)
    chat_resume_window_ms: int = Field(default=250, ge=0)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        for name in ("mysql_password", "neo4j_password", "influx_password", "jwt_secret"):
            value: SecretStr = getattr(self, name)
            if value.get_secret_value().lower() in _PLACEHOLDER_SECRETS:
                raise ValueError(
                    f"STUDYHUB_{name.upper()} is a placeholder; set a real secret "
                    f"outside development (environment={self.environment})"
                )
        return self

    # Derived values, so no caller rebuilds a URL by hand.
    def mysql_port(self, shard: int) -> int:
        return self.mysql_base_port + shard

    def mysql_url(self, shard: int, *, database: str | None = None, driver: str = "pymysql") -> str:
        password = self.mysql_password.get_secret_value()
        return (
            f"mysql+{driver}://{self.mysql_user}:{password}@{self.mysql_host}:"
            f"{self.mysql_port(shard)}/{database or self.mysql_database}?charset=utf8mb4"
        )

    def mysql_jdbc_url(self, shard: int) -> str:
        # jdbc:mysql selects Flink's MySQL dialect; permitMysqlScheme lets MariaDB's driver take
        # it. The dialect appends rewriteBatchedStatements=true unless the URL names it, and
        # MariaDB's driver then glues "INSERT ... ON DUPLICATE KEY UPDATE" statements together
        # into invalid SQL; bulk statements (COM_STMT_BULK_EXECUTE) batch the upserts instead.
        return (
            f"jdbc:mysql://{self.mysql_host}:{self.mysql_port(shard)}/{self.mysql_database}"
            "?permitMysqlScheme&rewriteBatchedStatements=false&useBulkStmts=true"
        )

    @property
    def redis_url(self) -> str:
        return f"redis://{self.bind_host}:{self.redis_port}/0"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.bind_host}:{self.kafka_port}"

    @property
    def neo4j_uri(self) -> str:
        return f"bolt://{self.bind_host}:{self.neo4j_bolt_port}"

    @property
    def influx_url(self) -> str:
        return f"http://{self.bind_host}:{self.influx_port}"

    @property
    def influx_token(self) -> str:
        # InfluxDB 1.8's v2 compatibility API takes "user:password" as the token.
        return f"{self.influx_user}:{self.influx_password.get_secret_value()}"

    @property
    def influx_bucket(self) -> str:
        return f"{self.influx_database}/{self.influx_retention_policy}"

    @property
    def flink_connectors_dir(self) -> Path:
        """Connector jars (Kafka, JDBC, MySQL driver) fetched by the stack's Maven step."""
        return self.tools_dir / "flink-connectors"

    @property
    def flink_rest_url(self) -> str:
        return f"http://{self.bind_host}:{self.flink_rest_port}"

    @property
    def dashboard_api(self) -> str:
        return self.dashboard_api_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def dagster_url(self) -> str:
        return f"http://{self.bind_host}:{self.dagster_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
