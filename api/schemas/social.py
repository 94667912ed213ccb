from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from api.schemas.common import Id


class FriendRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user_id: Id


class FriendRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_user_id: int
    to_user_id: int
    status: Literal["pending", "accepted", "declined", "cancelled"]
    created_at: datetime
    responded_at: datetime | None


class FriendOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    since: datetime


class CountOut(BaseModel):
    count: int
