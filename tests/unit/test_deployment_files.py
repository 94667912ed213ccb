"""docker/ is the deployment description; it cannot run here, so check what can be checked."""

from __future__ import annotations

import yaml

from core.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "docker" / "compose.yaml"
OFFICIAL_IMAGES = {
    "mariadb-0": "mariadb:",
    "mariadb-1": "mariadb:",
    "redis": "redis:",
    "kafka": "apache/kafka:",
    "neo4j": "neo4j:5.26",
    "influxdb": "influxdb:1.8",
    "flink-jobmanager": "flink:2.2",
    "flink-taskmanager": "flink:2.2",
}


def _compose() -> dict[str, dict[str, object]]:
    document = yaml.safe_load(COMPOSE.read_text())
    services: dict[str, dict[str, object]] = document["services"]
    return services


def test_every_service_uses_its_official_image() -> None:
    services = _compose()
    for name, prefix in OFFICIAL_IMAGES.items():
        assert name in services, name
        assert str(services[name]["image"]).startswith(prefix), (name, services[name]["image"])


def test_our_services_build_from_the_dockerfile() -> None:
    migrate = _compose()["migrate"]
    build = migrate["build"]
    assert isinstance(build, dict)
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == (
        REPO_ROOT / "docker" / "Dockerfile"
    )


def test_no_secret_has_a_default_in_compose() -> None:
    text = COMPOSE.read_text()
    for name in ("MYSQL_PASSWORD", "NEO4J_PASSWORD", "INFLUX_PASSWORD", "JWT_SECRET"):
        uses = text.count(f"${{STUDYHUB_{name}")
        refusals = text.count(f"${{STUDYHUB_{name}:?")
        assert uses > 0, name
        assert uses == refusals, name


def test_dockerfile_copies_every_python_package() -> None:
    dockerfile = (REPO_ROOT / "docker" / "Dockerfile").read_text()
    packages = [
        p.name
        for p in REPO_ROOT.iterdir()
        if (p / "__init__.py").exists() and p.name not in {"tests", "bench"}  # not shipped
    ]
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile, package


def test_production_chat_topic_has_100_partitions() -> None:
    chat = _compose()["migrate"]["environment"]
    assert isinstance(chat, dict)
    assert chat["STUDYHUB_KAFKA_CHAT_PARTITIONS"] == "100"
