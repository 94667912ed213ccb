"""What a room's policy does with the word filter's hits on a message being sent.

The filter runs in the send path, before the message reaches Kafka, so that a blocked message
is never acked, stored or broadcast (an acked message is never dropped: moderation cannot
take one back after the ack). Per room (``study_rooms.moderation``, in the room's Redis state):

- ``block``: the send is refused with a ``message_blocked`` error naming the rule;
- ``mask``: stored as sent, delivered with the words masked to everyone but its author;
- ``flag``: delivered as sent, and queued for review;
- ``off``: not scanned.

Every hit becomes a ``ContentFlagged`` event on ``moderation-events`` with the evidence.
"""

from __future__ import annotations

import json
from typing import Final, Literal

from core.events import ContentFlagged
from domain.errors import DomainError
from domain.moderation.filter import Hit, WordFilter

Policy = Literal["block", "mask", "flag", "off"]
POLICIES: Final[tuple[Policy, ...]] = ("block", "mask", "flag", "off")
DEFAULT_POLICY: Final[Policy] = "block"
Action = Literal["blocked", "masked", "flagged"]
_ACTIONS: Final[dict[Policy, Action]] = {"block": "blocked", "mask": "masked", "flag": "flagged"}


class MessageBlocked(DomainError):
    code = "message_blocked"

    def __init__(self, hits: list[Hit]) -> None:
        first = hits[0]
        others = f" (and {len(hits) - 1} more)" if len(hits) > 1 else ""
        super().__init__(
            f"blocked by this room's word filter: rule {first.rule.id} matched "
            f"{first.original!r}{others}; the message was not sent"
        )
        self.hits = hits


def policy_of(raw: object) -> Policy:
    """A policy read back from Redis; a room stored before policies existed blocks."""
    value = raw.decode() if isinstance(raw, bytes) else raw
    for policy in POLICIES:
        if value == policy:
            return policy
    return DEFAULT_POLICY


def screen(word_filter: WordFilter, policy: Policy, body: str) -> list[Hit]:
    """The hits the room's policy acts on: none when it is off."""
    return [] if policy == "off" else word_filter.scan(body)


def flagged(
    policy: Policy,
    hits: list[Hit],
    *,
    user_id: int,
    room_id: int,
    message_id: int | None,
    body: str,
) -> ContentFlagged:
    """The moderation event of a send the filter hit."""
    rules = sorted({hit.rule.id for hit in hits})
    return ContentFlagged(
        user_id=user_id,
        room_id=room_id,
        message_id=message_id,
        reason="word filter: " + ", ".join(rules),
        score=1.0,
        action=_ACTIONS.get(policy, "flagged"),
        rule=hits[0].rule.id,
        body=body,
        evidence=json.dumps([hit.to_dict() for hit in hits], ensure_ascii=False),
    )
