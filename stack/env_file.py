"""Writes the local .env with fresh random secrets, once. Settings refuse to run without them."""

from __future__ import annotations

import secrets
from pathlib import Path

SECRET_NAMES = (
    "STUDYHUB_MYSQL_PASSWORD",
    "STUDYHUB_NEO4J_PASSWORD",
    "STUDYHUB_INFLUX_PASSWORD",
    "STUDYHUB_JWT_SECRET",
)


def ensure_env_file(path: Path) -> list[str]:
    """Append any missing secret to ``path``; returns the names it added."""
    existing = path.read_text() if path.exists() else ""
    present = {line.split("=", 1)[0].strip() for line in existing.splitlines() if "=" in line}
    added = [name for name in SECRET_NAMES if name not in present]
    if not added:
        return []
    lines = (
        []
        if existing
        else [
            "# Local development settings (gitignored). See core/settings.py for every knob.",
            "STUDYHUB_ENVIRONMENT=development",
        ]
    )
    lines += [f"{name}={secrets.token_urlsafe(24)}" for name in added]
    with path.open("a") as handle:
        if existing and not existing.endswith("\n"):
            handle.write("\n")
        handle.write("\n".join(lines) + "\n")
    path.chmod(0o600)
    return added
