from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

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


class SuggestionReasons(BaseModel):
    """Why someone is suggested. None: not known for this suggestion (the friends-of-friends
    fallback counts mutual friends and nothing else)."""

    mutual_friend_ids: list[int]  # up to five of the mutual friends
    shared_rooms: int | None
    shared_groups: int | None
    shared_subjects: int | None
    same_community: bool | None


class SuggestedFriendOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    mutual_friends: int
    reasons: SuggestionReasons
    # "graph": ranked by the graph job (docs/graph.md); "friends_of_friends": the SQL fallback
    # for users the job has not scored yet.
    source: Literal["graph", "friends_of_friends"]


class PathStep(BaseModel):
    user_id: int
    username: str
    display_name: str


class PathOut(BaseModel):
    """The shortest chain of friends from one user to another, both ends included."""

    from_user_id: int
    to_user_id: int
    hops: int
    path: list[PathStep]


class UserCommunityOut(BaseModel):
    """A user's place in the friendship graph, as of the graph jobs' last run."""

    user_id: int
    community_id: int
    community_size: int
    pagerank: float | None
    rank_in_community: int  # 1 = the highest PageRank in the community
    friends: int | None
    computed_at: UtcDateTime


class InfluencerOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    pagerank: float | None
    friends: int | None


class CommunityOut(BaseModel):
    id: int
    size: int
    computed_at: UtcDateTime | None
    top_influencers: list[InfluencerOut]  # by PageRank, highest first


# A list of suggestions as the API writes it and as the friends-of-friends cache keeps it.
SUGGESTIONS: TypeAdapter[list[SuggestedFriendOut]] = TypeAdapter(list[SuggestedFriendOut])
