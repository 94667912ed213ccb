"""Reports, the moderator queue, decisions and the audit trail, end to end: the API files a
report on moderation-events, the moderation Flink job writes it to MySQL, moderators
act on it through the API, and the chat feels the decision."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from core import wire
from core.db.sharding import ShardRouter
from core.settings import Settings
from stack.main import app
from tests.conftest import require
from tests.integration.test_chat_gateway import chat_job, send, socket, until
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("chat_job", "queue_job")]
__all__ = ["chat_job"]


@pytest.fixture(scope="module")
def queue_job(settings: Settings) -> None:
    require(settings, "moderation")


def _moderator(people: People) -> Person:
    person = people.register(prefix="mod")
    result = CliRunner().invoke(app, ["moderation", "set-role", person.username, "moderator"])
    assert result.exit_code == 0, result.output
    assert "-> moderator" in result.output
    return person


def _wait_for(what: str, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def _queued(moderator: Person, **params: Any) -> Callable[[], list[dict[str, Any]]]:
    def probe() -> list[dict[str, Any]]:
        reply = moderator.http.get("/moderation/queue", params=params)
        assert reply.status_code == 200, reply.text
        return list(reply.json()["items"])

    return probe


def _room_with_a_message(api_url: str, owner: Person, author: Person, body: str) -> tuple[int, str]:
    created = owner.http.post("/rooms", json={"name": "queue", "topic": "chat"})
    room_id = int(created.json()["id"])
    assert author.http.post(f"/rooms/{room_id}/join").status_code == 200
    with socket(api_url, author) as ws:
        client_msg_id = str(uuid.uuid4())
        send(ws, type="send", room_id=room_id, client_msg_id=client_msg_id, body=body)
        message_id = str(until(ws, {"type": "ack", "client_msg_id": client_msg_id})["message_id"])
    return room_id, message_id


def test_a_report_reaches_the_queue_and_only_moderators_see_it(
    api_url: str, people: People
) -> None:
    owner, author, reporter, stranger = (people.register() for _ in range(4))
    moderator = _moderator(people)
    room_id, message_id = _room_with_a_message(api_url, owner, author, "meet me after class")
    assert reporter.http.post(f"/rooms/{room_id}/join").status_code == 200
    _wait_for(
        "the message stored",
        lambda: reporter.http.get(f"/rooms/{room_id}/messages").json()["items"],
    )
    filed = reporter.http.post(
        "/reports",
        json={"room_id": room_id, "message_id": message_id, "reason": "creepy, unwanted"},
    )
    assert filed.status_code == 202, filed.text
    item_id = filed.json()["id"]
    items = _wait_for("the report in the queue", _queued(moderator, room_id=room_id))
    assert [item["id"] for item in items] == [item_id]
    item = items[0]
    assert (item["kind"], item["action"], item["status"]) == ("message", "reported", "pending")
    assert (str(item["subject_user_id"]), str(item["reporter_id"])) == (
        str(author.id),
        str(reporter.id),
    )
    assert item["body"] == "meet me after class"
    # The room's owner sees it when filtering by their room; nobody else sees the queue.
    assert [
        i["id"]
        for i in owner.http.get("/moderation/queue", params={"room_id": room_id}).json()["items"]
    ] == [item_id]
    for who, params in ((stranger, {}), (stranger, {"room_id": room_id}), (owner, {})):
        refused = who.http.get("/moderation/queue", params=params)
        assert refused.status_code == 403
        assert refused.json()["error"] == "not_moderator"
    # Bad reports are named.
    assert reporter.http.post("/reports", json={"reason": "no subject"}).status_code == 422
    self_report = author.http.post("/reports", json={"user_id": author.id, "reason": "me me me"})
    assert self_report.status_code == 422
    assert self_report.json()["error"] == "invalid_report"


def test_a_removal_reaches_every_subscriber_and_the_history_and_is_audited(
    api_url: str, people: People, mysql: ShardRouter
) -> None:
    owner, author, reader = (people.register() for _ in range(3))
    room_id, message_id = _room_with_a_message(api_url, owner, author, "spam spam spam")
    assert reader.http.post(f"/rooms/{room_id}/join").status_code == 200
    filed = reader.http.post(
        "/reports", json={"room_id": room_id, "message_id": message_id, "reason": "spam, again"}
    )
    if filed.status_code == 404:  # not stored yet: the job is a moment behind
        time.sleep(2)
        filed = reader.http.post(
            "/reports",
            json={"room_id": room_id, "message_id": message_id, "reason": "spam, again"},
        )
    assert filed.status_code == 202, filed.text
    item_id = filed.json()["id"]
    # The room's owner moderates their room.
    _wait_for("the report in the queue", _queued(owner, room_id=room_id))
    refused = reader.http.post(f"/moderation/items/{item_id}/assign")
    assert refused.status_code == 403
    assigned = owner.http.post(f"/moderation/items/{item_id}/assign")
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["status"], str(assigned.json()["assignee_id"])) == (
        "assigned",
        str(owner.id),
    )
    with socket(api_url, reader) as ws:
        send(ws, type="subscribe", room_id=room_id)
        until(ws, {"type": "subscribed"})
        decided = owner.http.post(
            f"/moderation/items/{item_id}/decision",
            json={"decision": "remove", "reason": "spam in a study room"},
        )
        assert decided.status_code == 200, decided.text
        removed = until(ws, {"type": "message_removed", "room_id": room_id})
    assert str(removed["message_id"]) == message_id
    assert (decided.json()["status"], decided.json()["decision"]) == ("resolved", "remove")
    for person in (owner, author, reader):
        assert person.http.get(f"/rooms/{room_id}/messages").json()["items"] == []
    again = owner.http.post(
        f"/moderation/items/{item_id}/decision", json={"decision": "dismiss", "reason": "oops"}
    )
    assert again.status_code == 409
    assert again.json()["error"] == "resolved"
    log = owner.http.get("/moderation/audit", params={"room_id": room_id}).json()["items"]
    assert [entry["kind"] for entry in log] == ["removed", "assigned"]
    removal = log[0]
    assert str(removal["actor_id"]) == str(owner.id)
    assert removal["reason"] == "spam in a study room"
    assert removal["details"]["item_id"] == item_id
    assert removal["details"]["body"] == "spam spam spam"
    # The audit log is append-only: the database refuses to change it.
    with (
        pytest.raises(OperationalError, match="append-only"),
        mysql.directory_engine().begin() as connection,
    ):
        connection.execute(
            text("UPDATE moderation_events SET reason = 'nothing' WHERE room_id = :r"),
            {"r": room_id},
        )


def test_a_flag_reaches_the_queue_and_a_mute_holds_the_author_until_it_ends(
    api_url: str, people: People, redis_conn: redis.Redis
) -> None:
    owner, author = people.register(), people.register()
    moderator = _moderator(people)
    created = owner.http.post(
        "/rooms", json={"name": "flagged", "topic": "chat", "moderation": "flag"}
    )
    room_id = int(created.json()["id"])
    assert author.http.post(f"/rooms/{room_id}/join").status_code == 200
    with socket(api_url, author) as ws:
        send(ws, type="send", room_id=room_id, client_msg_id="f1", body="you absolute tw4t")
        until(ws, {"type": "ack", "client_msg_id": "f1"})
        items = _wait_for("the flag in the queue", _queued(moderator, room_id=room_id))
        item = items[0]
        assert (item["action"], item["rule"]) == ("flagged", "word:twat")
        assert item["evidence"][0]["original"] == "tw4t"
        decided = moderator.http.post(
            f"/moderation/items/{item['id']}/decision",
            json={"decision": "mute", "reason": "insults", "mute_minutes": 5},
        )
        assert decided.status_code == 200, decided.text
        send(ws, type="send", room_id=room_id, client_msg_id="f2", body="sorry")
        muted = until(ws, {"type": "error", "ref": "f2"})
        assert muted["code"] == "muted"
        assert "muted by a moderator for" in muted["message"]
        key = wire.mute_key(author.id)  # a global moderator mutes everywhere
        assert 290_000 < int(redis_conn.pttl(key)) <= 300_000
        redis_conn.pexpire(key, 1)  # the five minutes are over
        time.sleep(0.05)
        send(ws, type="send", room_id=room_id, client_msg_id="f3", body="sorry")
        until(ws, {"type": "ack", "client_msg_id": "f3"})


def _user_report(reporter: Person, subject: Person, room_id: int | None = None) -> str:
    body: dict[str, Any] = {"user_id": subject.id, "reason": "harassing people"}
    if room_id is not None:
        body["room_id"] = room_id
    filed = reporter.http.post("/reports", json=body)
    assert filed.status_code == 202, filed.text
    return str(filed.json()["id"])


def test_a_room_owner_bans_from_their_room(api_url: str, people: People) -> None:
    owner, author, reporter = (people.register() for _ in range(3))
    room_id, _ = _room_with_a_message(api_url, owner, author, "hello")
    assert reporter.http.post(f"/rooms/{room_id}/join").status_code == 200
    item_id = _user_report(reporter, author, room_id)
    _wait_for("the report in the queue", _queued(owner, room_id=room_id))
    decided = owner.http.post(
        f"/moderation/items/{item_id}/decision",
        json={"decision": "ban", "reason": "harassment in the room"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"] == "ban"
    members = owner.http.get(f"/rooms/{room_id}/participants").json()["items"]
    assert str(author.id) not in {str(m["user_id"]) for m in members}
    again = author.http.post(f"/rooms/{room_id}/join")
    assert again.status_code == 403
    assert again.json()["error"] == "banned_from_room"
    # Only in that room: another room takes them.
    other = owner.http.post("/rooms", json={"name": "other", "topic": "chat"}).json()["id"]
    assert author.http.post(f"/rooms/{other}/join").status_code == 200
    log = owner.http.get("/moderation/audit", params={"room_id": room_id}).json()["items"]
    assert log[0]["kind"] == "banned"
    assert log[0]["details"]["scope"] == f"room {room_id}"


def test_a_global_moderator_bans_from_the_platform(api_url: str, people: People) -> None:
    owner, author, reporter = (people.register() for _ in range(3))
    moderator = _moderator(people)
    room_id, _ = _room_with_a_message(api_url, owner, author, "hello")
    item_id = _user_report(reporter, author)
    _wait_for("the report in the queue", _queued(moderator, user_id=author.id))
    owner_try = owner.http.post(
        f"/moderation/items/{item_id}/decision", json={"decision": "ban", "reason": "not yours"}
    )
    assert owner_try.status_code == 403  # a report without a room is not the owner's
    decided = moderator.http.post(
        f"/moderation/items/{item_id}/decision",
        json={"decision": "ban", "reason": "repeated harassment"},
    )
    assert decided.status_code == 200, decided.text
    with socket(api_url, author) as ws:
        send(ws, type="send", room_id=room_id, client_msg_id="b1", body="let me in")
        refused = until(ws, {"type": "error", "ref": "b1"})
    assert refused["code"] == "banned"
    login = httpx.post(
        f"{api_url}/auth/token", data={"username": author.username, "password": "correct horse"}
    )
    assert login.status_code == 401
