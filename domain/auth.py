"""Passwords (argon2id) and bearer tokens (JWT, HS256)."""

from __future__ import annotations

import time

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.settings import Settings

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps "no such user" and "wrong
# password" equally slow, so timing does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("studyhub-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def create_token(settings: Settings, user_id: int) -> tuple[str, int]:
    ttl = settings.jwt_ttl_minutes * 60
    now = int(time.time())
    token = jwt.encode(
        {"sub": str(user_id), "iat": now, "exp": now + ttl},
        settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    return token, ttl


def user_id_from_token(settings: Settings, token: str) -> int | None:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=["HS256"],
            options={"require": ["sub", "exp"]},
        )
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError):
        return None
