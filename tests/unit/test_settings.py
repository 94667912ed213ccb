from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.settings import Settings

SECRETS: dict[str, Any] = {
    "mysql_password": "a-real-secret-1",
    "neo4j_password": "a-real-secret-2",
    "influx_password": "a-real-secret-3",
    "jwt_secret": "a-real-secret-4",
}


def test_placeholder_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="STUDYHUB_JWT_SECRET is a placeholder"):
        _settings(**{**SECRETS, "jwt_secret": "changeme"}, environment="production", _env_file=None)


def test_placeholder_secret_is_fine_in_development() -> None:
    settings = _settings(**{**SECRETS, "jwt_secret": "changeme"}, _env_file=None)
    assert settings.environment == "development"


def test_secrets_have_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDYHUB_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="jwt_secret"):
        _settings(**{k: v for k, v in SECRETS.items() if k != "jwt_secret"}, _env_file=None)


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDYHUB_MYSQL_SHARDS", "4")
    monkeypatch.setenv("STUDYHUB_MYSQL_BASE_PORT", "4000")
    settings = _settings(**SECRETS, _env_file=None)
    assert settings.mysql_shards == 4
    assert settings.mysql_port(3) == 4003
    assert ":4003/studyhub" in settings.mysql_url(3)
    assert settings.influx_token == "studyhub:a-real-secret-3"


def _settings(**values: Any) -> Settings:
    return Settings(**values)
