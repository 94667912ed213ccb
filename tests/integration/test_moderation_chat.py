"""The word filter in the chat path, end to end through the real stack: a room's policy
(block, mask, flag) decides what reaches MySQL, the other sockets and moderation-events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from core.db.sharding import ShardRouter
from core.events import MODERATION_EVENTS, ContentFlagged, Event
from core.settings import Settings
from tests.integration.test_chat_gateway import chat_job, send, socket, until
from tests.utils.api import EventTap, People, Person
from tests.utils.chat import stored_count

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("chat_job")]
__all__ = ["chat_job"]  # the fixture, shared with the gateway tests


@pytest.fixture
def moderation_events(api_settings: Settings) -> Iterator[EventTap]:
    tap = EventTap(api_settings, MODERATION_EVENTS)
    yield tap
    tap.close()


def _room(owner: Person, member: Person, moderation: str | None = None) -> int:
    body: dict[str, str] = {"name": "moderated", "topic": "chat"}
    if moderation is not None:
        body["moderation"] = moderation
    created = owner.http.post("/rooms", json=body)
    assert created.status_code == 201, created.text
    room_id = int(created.json()["id"])
    assert member.http.post(f"/rooms/{room_id}/join").status_code == 200
    return room_id


def _flag_of(tap: EventTap, room_id: int, action: str) -> ContentFlagged:
    def match(event: Event) -> bool:
        return (
            isinstance(event, ContentFlagged)
            and event.room_id == room_id
            and event.action == action
        )

    event = tap.wait_for(match)
    assert isinstance(event, ContentFlagged)
    return event


def test_a_blocked_message_is_never_stored_or_broadcast_and_its_sender_is_told(
    api_url: str, people: People, mysql: ShardRouter, moderation_events: EventTap
) -> None:
    alice, bob = people.register(), people.register()
    room_id = _room(alice, bob)  # a new room blocks
    assert alice.http.get(f"/rooms/{room_id}").json()["moderation"] == "block"
    with socket(api_url, alice) as a, socket(api_url, bob) as b:
        for ws in (a, b):
            send(ws, type="subscribe", room_id=room_id)
            until(ws, {"type": "subscribed"})
        blocked_id = str(uuid.uuid4())
        send(
            a,
            type="send",
            room_id=room_id,
            client_msg_id=blocked_id,
            body="you f.u.c.k.i.n.g idiot",
        )
        error = until(a, {"type": "error", "ref": blocked_id})
        assert error["code"] == "message_blocked"
        assert "word:" in error["message"]
        # The same client_msg_id, edited, goes through: the block spent nothing.
        send(a, type="send", room_id=room_id, client_msg_id=blocked_id, body="you are wrong")
        assert until(a, {"type": "ack", "client_msg_id": blocked_id})["room_id"] == room_id
        first = until(b, {"type": "message", "room_id": room_id})
    assert (first["seq"], first["body"]) == (1, "you are wrong")
    assert stored_count(mysql.engine_for_room(room_id), room_id) == 1
    event = _flag_of(moderation_events, room_id, "blocked")
    assert event.user_id == alice.id
    assert event.message_id is None
    assert event.body == "you f.u.c.k.i.n.g idiot"
    evidence = json.loads(event.evidence)
    assert {hit["rule"] for hit in evidence} >= {"word:idiot"}
    assert any(step["step"] == "separators" for hit in evidence for step in hit["steps"])


def test_a_masked_message_is_stored_as_sent_masked_for_others_and_whole_for_its_author(
    api_url: str, people: People, mysql: ShardRouter, moderation_events: EventTap
) -> None:
    alice, bob = people.register(), people.register()
    room_id = _room(alice, bob)
    refused = bob.http.put(f"/rooms/{room_id}/moderation", json={"moderation": "mask"})
    assert refused.status_code == 403
    assert refused.json()["error"] == "not_owner"
    assert "only the owner" in refused.json()["message"]
    invalid = alice.http.put(f"/rooms/{room_id}/moderation", json={"moderation": "shout"})
    assert invalid.status_code == 422
    changed = alice.http.put(f"/rooms/{room_id}/moderation", json={"moderation": "mask"})
    assert changed.status_code == 200
    assert changed.json()["moderation"] == "mask"
    # The change is in the audit log (the dashboards mark it on their charts); setting the
    # same policy again changes nothing and adds nothing.
    assert alice.http.put(f"/rooms/{room_id}/moderation", json={"moderation": "mask"}).is_success
    with mysql.directory_engine().connect() as connection:
        audited = connection.execute(
            text(
                "SELECT kind, user_id, actor_id, reason FROM moderation_events"
                " WHERE room_id = :r AND kind = 'policy_changed'"
            ),
            {"r": room_id},
        ).all()
    assert [tuple(row) for row in audited] == [
        ("policy_changed", alice.id, alice.id, "the room's word-filter policy: block -> mask")
    ]
    body = "this sh1t is hard"
    with socket(api_url, alice) as a, socket(api_url, bob) as b:
        for ws in (a, b):
            send(ws, type="subscribe", room_id=room_id)
            until(ws, {"type": "subscribed"})
        client_msg_id = str(uuid.uuid4())
        send(a, type="send", room_id=room_id, client_msg_id=client_msg_id, body=body)
        until(a, {"type": "ack", "client_msg_id": client_msg_id})
        seen_by_bob = until(b, {"type": "message", "room_id": room_id})
        seen_by_alice = until(a, {"type": "message", "room_id": room_id})
    assert (seen_by_bob["body"], seen_by_bob["masked"]) == ("this **** is hard", True)
    assert (seen_by_alice["body"], seen_by_alice["masked"]) == (body, True)
    assert seen_by_alice["seq"] == seen_by_bob["seq"] == 1
    for person, expected in ((bob, "this **** is hard"), (alice, body)):
        page = person.http.get(f"/rooms/{room_id}/messages").json()
        assert [m["body"] for m in page["items"]] == [expected]
    with mysql.engine_for_room(room_id).connect() as connection:
        row = connection.execute(
            text("SELECT body, masked_body FROM chat_messages WHERE room_id = :r"), {"r": room_id}
        ).one()
    assert tuple(row) == (body, "this **** is hard")
    event = _flag_of(moderation_events, room_id, "masked")
    assert event.message_id == seen_by_bob["message_id"]
    assert event.rule == "word:shit"


def test_a_flagged_message_is_delivered_as_sent_and_queued_for_review(
    api_url: str, people: People, moderation_events: EventTap
) -> None:
    alice, bob = people.register(), people.register()
    room_id = _room(alice, bob, moderation="flag")
    with socket(api_url, alice) as a, socket(api_url, bob) as b:
        send(b, type="subscribe", room_id=room_id)
        until(b, {"type": "subscribed"})
        client_msg_id = str(uuid.uuid4())
        send(a, type="send", room_id=room_id, client_msg_id=client_msg_id, body="what a wanker")
        until(a, {"type": "ack", "client_msg_id": client_msg_id})
        seen = until(b, {"type": "message", "room_id": room_id})
    assert (seen["body"], seen["masked"]) == ("what a wanker", False)
    event = _flag_of(moderation_events, room_id, "flagged")
    assert (event.message_id, event.rule) == (seen["message_id"], "word:wanker")


def test_a_room_with_moderation_off_sends_everything(api_url: str, people: People) -> None:
    alice, bob = people.register(), people.register()
    room_id = _room(alice, bob, moderation="off")
    with socket(api_url, alice) as a, socket(api_url, bob) as b:
        send(b, type="subscribe", room_id=room_id)
        until(b, {"type": "subscribed"})
        send(a, type="send", room_id=room_id, client_msg_id="x1", body="oh shit")
        until(a, {"type": "ack", "client_msg_id": "x1"})
        assert until(b, {"type": "message", "room_id": room_id})["body"] == "oh shit"
