"""Users: registration, login, lookup and friend search."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from core.db.models import StudyProfile, StudyProfileSubject, User, UserBlock
from domain.auth import create_token, hash_password, verify_password
from domain.errors import Conflict, NotFound, Unauthorized
from domain.resources import Resources
from domain.schemas.users import RegisterIn, TokenOut, UserOut


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def register_user(res: Resources, data: RegisterIn) -> UserOut:
    user = User(
        id=res.ids.next_id(),
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(data.password),
        timezone=data.timezone,
    )
    subjects = sorted({subject.lower() for subject in data.subjects})
    try:
        async with res.db.directory().begin() as session:
            session.add(user)
            if subjects:
                await session.flush()  # the user row first: the profile belongs to it
                session.add(
                    StudyProfile(
                        user_id=user.id,
                        subjects=subjects,
                        timezone=data.timezone,
                        availability=[],
                        goals="",
                    )
                )
                session.add_all(StudyProfileSubject(user_id=user.id, subject=s) for s in subjects)
    except IntegrityError:
        raise Conflict(f"username {data.username!r} is taken", code="username_taken") from None
    return await get_user(res, user.id)


async def login(res: Resources, username: str, password: str) -> TokenOut:
    """A bearer token for the right password; Unauthorized for anything else."""
    user_id = await authenticate(res, username, password)
    if user_id is None:
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    access_token, ttl = create_token(res.settings, user_id)
    return TokenOut(access_token=access_token, expires_in=ttl)


async def authenticate(res: Resources, username: str, password: str) -> int | None:
    async with res.db.directory()() as session:
        row = (
            await session.execute(
                select(User.id, User.password_hash).where(
                    User.username == username, User.is_active.is_(True)
                )
            )
        ).first()
    if not verify_password(row.password_hash if row else None, password):
        return None
    return int(row.id) if row else None


async def get_user(res: Resources, user_id: int) -> UserOut:
    async with res.db.directory()() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return UserOut.model_validate(user)


async def search_users(
    res: Resources, *, viewer_id: int, query: str, after: str | None, limit: int
) -> list[UserOut]:
    """Prefix search on username and display name, minus anyone who blocked the viewer."""
    prefix = escape_like(query) + "%"
    blocked_viewer = select(UserBlock.blocker_id).where(UserBlock.blocked_id == viewer_id)
    statement = (
        select(User)
        .where(
            or_(User.username.like(prefix), User.display_name.like(prefix)),
            User.is_active.is_(True),
            User.id.not_in(blocked_viewer),
        )
        .order_by(User.username)
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(and_(User.username > after))
    async with res.db.directory()() as session:
        return [UserOut.model_validate(user) for user in await session.scalars(statement)]
