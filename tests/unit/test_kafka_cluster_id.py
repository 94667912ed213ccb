"""The KRaft cluster id handed to kafka-storage on a fresh data directory."""

from __future__ import annotations

import base64
import uuid

import pytest

from stack.services import kafka


def test_cluster_id_is_22_url_safe_characters_of_16_bytes() -> None:
    cluster_id = kafka.new_cluster_id()
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xf8 encodes to a leading '-' in URL-safe base64; the first two draws give one.
    dashed = uuid.UUID(bytes=b"\xf8" + bytes(15))
    plain = uuid.UUID(bytes=b"\x00" * 16)
    draws = iter([dashed, dashed, plain])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))
    assert base64.urlsafe_b64encode(dashed.bytes).decode().startswith("-")
    assert kafka.new_cluster_id() == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")
