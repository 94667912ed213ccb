from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.schemas.common import Id, Subject, UtcDateTime


class GroupCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    description: Annotated[str, Field(max_length=2000)] = ""
    subject: Subject | None = None
    visibility: Literal["public", "private"] = "public"


class GroupOut(BaseModel):
    id: int
    name: str
    description: str
    subject: str | None
    visibility: Literal["public", "private"]
    owner_id: int
    member_count: int
    created_at: UtcDateTime


class MemberOut(BaseModel):
    user_id: int
    role: Literal["owner", "moderator", "member"]
    joined_at: UtcDateTime


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
    parent_id: Id | None = Field(default=None, description="Reply to this post.")


class PostOut(BaseModel):
    id: int
    group_id: int
    author_id: int
    parent_id: int | None
    root_id: int | None
    title: str | None
    body: str
    created_at: UtcDateTime
    reply_count: int = 0
