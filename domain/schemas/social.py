from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.schemas.common import Id, UtcDateTime


class FriendRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user_id: Id


class FriendRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_user_id: int
    to_user_id: int
    status: Literal["pending", "accepted", "declined", "cancelled"]
    created_at: UtcDateTime
    responded_at: UtcDateTime | None


class FriendOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    since: UtcDateTime


class CountOut(BaseModel):
    count: int


class SuggestedFriendOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    mutual_friends: int
