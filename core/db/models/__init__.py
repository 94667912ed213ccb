"""SQLAlchemy models, one module per domain. Importing this package registers every table."""

from core.db.models.base import Base
from core.db.models.buddies import BuddyRequest, StudyBuddy, StudyProfile, StudyProfileSubject
from core.db.models.chat import ChatMessage
from core.db.models.focus import FocusSession
from core.db.models.graph import FriendSuggestion, UserGraphMetrics
from core.db.models.groups import DiscussionGroup, GroupMember, GroupPost
from core.db.models.moderation import ModerationEvent, ModerationItem, ModerationReview
from core.db.models.monitoring import Alert, AlertEvent
from core.db.models.rooms import RoomBan, RoomInvite, RoomParticipant, StudyRoom
from core.db.models.social import FriendRequest, Friendship, UserBlock
from core.db.models.users import User

__all__ = [
    "Alert",
    "AlertEvent",
    "Base",
    "BuddyRequest",
    "ChatMessage",
    "DiscussionGroup",
    "FocusSession",
    "FriendRequest",
    "FriendSuggestion",
    "Friendship",
    "GroupMember",
    "GroupPost",
    "ModerationEvent",
    "ModerationItem",
    "ModerationReview",
    "RoomBan",
    "RoomInvite",
    "RoomParticipant",
    "StudyBuddy",
    "StudyProfile",
    "StudyProfileSubject",
    "StudyRoom",
    "User",
    "UserBlock",
    "UserGraphMetrics",
]
