"""Who may see what: the signed-in person's platform role and the rooms and groups they run.

Moderators and admins (``users.role``) see every page and everything on it. A room's owner and
a group's owners and moderators see the pages of their own rooms and groups, scoped to them
(the API scopes their moderation reads and writes the same way). Nobody else gets in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy import text

from core.db.sharding import ShardRouter

STAFF: Final = frozenset({"moderator", "admin"})
Page = Literal["overview", "rooms", "engagement", "moderation", "alerts", "community", "health"]
# The pages a room or group owner may open; every other page is the staff's.
SCOPED_PAGES: Final[frozenset[str]] = frozenset({"rooms", "moderation"})


@dataclass(frozen=True)
class Scope:
    user_id: int
    username: str
    role: str  # member, moderator or admin
    rooms: dict[int, str]  # the rooms they own: id -> name
    groups: dict[int, str]  # the groups they own or moderate: id -> name

    @property
    def staff(self) -> bool:
        return self.role in STAFF

    @property
    def admitted(self) -> bool:
        return self.staff or bool(self.rooms) or bool(self.groups)

    def may_open(self, page: Page) -> bool:
        return self.staff or (page in SCOPED_PAGES and self.admitted)

    def describe(self) -> str:
        if self.staff:
            return self.role
        parts = []
        if self.rooms:
            parts.append(f"owner of {len(self.rooms)} room{'s' if len(self.rooms) != 1 else ''}")
        if self.groups:
            parts.append(f"runs {len(self.groups)} group{'s' if len(self.groups) != 1 else ''}")
        return ", ".join(parts) or "member"


def scope_of(mysql: ShardRouter, user_id: int) -> Scope | None:
    """The person's scope, or None if the account does not exist (any more)."""
    with mysql.directory_engine().connect() as db:
        user = db.execute(
            text("SELECT username, role FROM users WHERE id = :id"), {"id": user_id}
        ).first()
        if user is None:
            return None
        groups = db.execute(
            text(
                "SELECT g.id, g.name FROM group_members m"
                " JOIN discussion_groups g ON g.id = m.group_id"
                " WHERE m.user_id = :id AND m.role IN ('owner', 'moderator') ORDER BY g.name"
            ),
            {"id": user_id},
        ).all()
    rooms: dict[int, str] = {}
    # Rooms live on their own shards; the owner index makes each look-up one seek.
    for engine in mysql.all_engines():
        with engine.connect() as db:
            rows = db.execute(
                text("SELECT id, name FROM study_rooms WHERE owner_id = :id"), {"id": user_id}
            ).all()
        rooms.update({int(row[0]): str(row[1]) for row in rows})
    return Scope(
        user_id=user_id,
        username=str(user[0]),
        role=str(user[1]),
        rooms=dict(sorted(rooms.items(), key=lambda item: item[1].lower())),
        groups={int(row[0]): str(row[1]) for row in groups},
    )
