"""A single Kafka broker in KRaft combined mode (broker + controller), from Maven Central jars."""

from __future__ import annotations

import base64
import logging
import uuid

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewPartitions, NewTopic

from core.events import topic_specs
from core.settings import REPO_ROOT
from stack.errors import StackError
from stack.install import ensure_maven_jars, java_binary
from stack.process import run
from stack.services.base import Service

log = logging.getLogger(__name__)

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = CONSOLE
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64, never starting with '-'.

    kafka-storage reads an id that starts with '-' as an option ("--cluster-id: expected one
    argument"); one id in 32 does. Kafka's own Uuid.randomUuid() draws again in that case.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaService(Service):
    name = "kafka"
    start_timeout = 90.0

    @property
    def port(self) -> int:
        return self.settings.kafka_port

    @property
    def extra_ports(self) -> list[int]:
        return [self.settings.kafka_controller_port]

    @property
    def libs(self) -> str:
        return str(self.tools_dir / f"kafka-{self.settings.kafka_version}" / "libs")

    def install(self) -> None:
        pom = REPO_ROOT / "stack" / "java" / "kafka" / "pom.xml"
        if self.settings.kafka_version not in pom.read_text():
            raise StackError(
                f"stack/java/kafka/pom.xml does not pin Kafka {self.settings.kafka_version}",
                "keep STUDYHUB_KAFKA_VERSION and the POM's version in step",
            )
        ensure_maven_jars(pom, self.tools_dir / f"kafka-{self.settings.kafka_version}" / "libs")

    def _java(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            java_binary(),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.conf_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def command(self) -> tuple[list[str], dict[str, str]]:
        self.install()
        s = self.settings
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "log4j2.properties").write_text(_LOG4J2)
        config = self.conf_dir / "server.properties"
        host = s.bind_host
        config.write_text(
            "process.roles=broker,controller\n"
            "node.id=1\n"
            f"controller.quorum.voters=1@{host}:{s.kafka_controller_port}\n"
            f"listeners=PLAINTEXT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}\n"
            f"advertised.listeners=PLAINTEXT://{host}:{s.kafka_port}\n"
            "controller.listener.names=CONTROLLER\n"
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
            "inter.broker.listener.name=PLAINTEXT\n"
            f"log.dirs={self.data_dir / 'kraft-logs'}\n"
            "num.partitions=1\n"
            "offsets.topic.replication.factor=1\n"
            "offsets.topic.num.partitions=8\n"
            "transaction.state.log.replication.factor=1\n"
            "transaction.state.log.min.isr=1\n"
            "share.coordinator.state.topic.replication.factor=1\n"
            "share.coordinator.state.topic.min.isr=1\n"
            "group.initial.rebalance.delay.ms=0\n"
            # Topics are created with their partition counts by `stack up`, never by accident.
            "auto.create.topics.enable=false\n"
            "log.retention.hours=168\n"
            "log.segment.bytes=134217728\n"
            "num.network.threads=2\n"
            "num.io.threads=4\n"
        )
        if not (self.data_dir / "kraft-logs" / "meta.properties").exists():
            run(
                self._java(
                    "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(config)
                ),
                what="formatting the Kafka KRaft log directory",
                fix="run `studyhub stack reset` to start from an empty data directory",
            )
        return self._java("kafka.Kafka", str(config), heap=s.kafka_heap), {}

    def admin(self) -> AdminClient:
        # log_level 0: a probe of a broker that is still starting must not print a wall of
        # "connection refused" lines; the probe's result says all there is to say.
        return AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap, "log_level": 0})

    def healthy(self) -> bool:
        metadata = self.admin().list_topics(timeout=2)
        return len(metadata.brokers) >= 1

    def version(self) -> str:
        return self.settings.kafka_version

    def post_start(self) -> None:
        """Create the contract topics with their partition counts; grow any that are short."""
        admin = self.admin()
        existing = admin.list_topics(timeout=10).topics
        specs = topic_specs(self.settings)
        to_create = [
            NewTopic(name, num_partitions=partitions, replication_factor=1)
            for name, partitions in specs.items()
            if name not in existing
        ]
        if to_create:
            for name, future in admin.create_topics(to_create, operation_timeout=30).items():
                future.result()
                log.info("created topic %s", name)
        grow = [
            NewPartitions(name, partitions)
            for name, partitions in specs.items()
            if name in existing and len(existing[name].partitions) < partitions
        ]
        if grow:
            for name, future in admin.create_partitions(grow).items():
                future.result()
                log.info("grew topic %s", name)
