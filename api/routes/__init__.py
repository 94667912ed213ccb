"""The REST routes, one module per domain."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    admin,
    buddies,
    chat,
    focus,
    groups,
    moderation,
    presence,
    rooms,
    social,
    users,
)

ROUTERS: tuple[APIRouter, ...] = (
    users.router,
    rooms.router,
    social.router,
    groups.router,
    buddies.router,
    chat.router,
    presence.router,
    focus.router,
    moderation.router,
    admin.router,
)
