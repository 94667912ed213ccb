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


# Tokens already verified by this process: token -> (user id, expiry). A token is immutable and
# signed, so once its signature checked out only its expiry can change the answer; a client
# sends the same token with every request, and the decode was a few percent of a request's
# CPU (py-spy). Bounded: the oldest entries go first. Keyed by the secret too, so a rotated
# secret verifies everything again.
TOKENS_CACHED = 50_000
_verified: dict[tuple[str, str], tuple[int, int]] = {}


def user_id_from_token(settings: Settings, token: str) -> int | None:
    secret = settings.jwt_secret.get_secret_value()
    known = _verified.get((secret, token))
    if known is not None:
        user_id, expires = known
        if time.time() < expires:
            return user_id
        del _verified[(secret, token)]
        return None
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]}
        )
        user_id, expires = int(claims["sub"]), int(claims["exp"])
    except (jwt.PyJWTError, ValueError):
        return None
    if len(_verified) >= TOKENS_CACHED:
        del _verified[next(iter(_verified))]
    _verified[(secret, token)] = (user_id, expires)
    return user_id
