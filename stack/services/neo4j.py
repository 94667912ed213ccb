"""Neo4j 5.26 Community with Bolt and Graph Data Science 2.13, embedded in a small Java launcher.

There is no Neo4j server download on the registries this project may use, but the database is
on Maven Central as a library. stack/java/neo4j/Neo4jLauncher.java starts it through
DatabaseManagementServiceBuilder with the Bolt connector on, and the setup compiles it.
"""

from __future__ import annotations

from neo4j import Driver, GraphDatabase

from core.settings import REPO_ROOT
from stack.install import compile_java, ensure_maven_jars, java_binary
from stack.services.base import Service

JAVA_DIR = REPO_ROOT / "stack" / "java" / "neo4j"


class Neo4jService(Service):
    name = "neo4j"
    start_timeout = 120.0

    @property
    def port(self) -> int:
        return self.settings.neo4j_bolt_port

    @property
    def libs(self) -> str:
        return str(self.tools_dir / "neo4j-libs")

    @property
    def classes(self) -> str:
        return str(self.settings.stack_dir / "build" / "neo4j")

    def install(self) -> None:
        libs = ensure_maven_jars(JAVA_DIR / "pom.xml", self.tools_dir / "neo4j-libs")
        compile_java(
            JAVA_DIR / "Neo4jLauncher.java", libs, self.settings.stack_dir / "build" / "neo4j"
        )

    def command(self) -> tuple[list[str], dict[str, str]]:
        self.install()
        s = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            java_binary(),
            "-Xms256m",
            f"-Xmx{s.neo4j_heap}",
            # Serial GC: ~100 MB less resident memory than G1 for this small, idle-most heap.
            "-XX:+UseSerialGC",
            # The rest mirror Neo4j's own server defaults; without the --add-opens the page
            # cache falls back to slow I/O and logs "Incorrect file descriptor" warnings.
            "-XX:-OmitStackTraceInFastThrow",
            "-XX:+DisableExplicitGC",
            "-Djdk.nio.maxCachedBufferSize=1024",
            "-Dio.netty.tryReflectionSetAccessible=true",
            "-Dlog4j2.disable.jmx=true",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--enable-native-access=ALL-UNNAMED",
            f"-Dneo4j.bolt.host={s.bind_host}",
            f"-Dneo4j.pagecache={s.neo4j_pagecache}",
            "-cp",
            f"{self.classes}:{self.libs}/*",
            "Neo4jLauncher",
            str(self.data_dir),
            str(s.neo4j_bolt_port),
        ]
        return argv, {"NEO4J_PASSWORD": s.neo4j_password.get_secret_value()}

    def _driver(self) -> Driver:
        s = self.settings
        return GraphDatabase.driver(
            s.neo4j_uri,
            auth=(s.neo4j_user, s.neo4j_password.get_secret_value()),
            connection_timeout=3,
            max_connection_lifetime=30,
        )

    def healthy(self) -> bool:
        # A plain session, not execute_query: the probe must fail fast, not retry for 30 s.
        with self._driver() as driver, driver.session() as session:
            record = session.run("RETURN gds.version() AS gds").single()
            return record is not None and bool(record["gds"])

    def version(self) -> str:
        with self._driver() as driver:
            records, _, _ = driver.execute_query(
                "CALL dbms.components() YIELD versions RETURN versions[0] AS v"
            )
            neo4j_version = str(records[0]["v"])
            records, _, _ = driver.execute_query("RETURN gds.version() AS v")
            return f"{neo4j_version} (GDS {records[0]['v']})"
