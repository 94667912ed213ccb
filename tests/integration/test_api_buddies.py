"""Study profiles, buddy suggestions and requests through HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest

from core.events import BuddyAccepted, BuddyRequested
from tests.utils.api import EventTap, People, Person

pytestmark = pytest.mark.integration


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.json()


def _profile(person: Person, subjects: list[str], tz: str, *slots: tuple[int, str, str]) -> None:
    body = {
        "subjects": subjects,
        "timezone": tz,
        "availability": [{"day": d, "start": s, "end": e} for d, s, e in slots],
        "goals": "pass the exam",
    }
    response = person.http.put("/users/me/study-profile", json=body)
    assert response.status_code == 200, response.text


def test_profile_round_trip_and_validation(people: People) -> None:
    alice = people.register()
    _error(alice.http.get("/users/me/study-profile"), 404, "not_found")
    _profile(alice, ["Math", "math", "Physics"], "Europe/Berlin", (0, "18:00", "20:00"))
    profile = alice.http.get("/users/me/study-profile").json()
    assert profile["subjects"] == ["math", "physics"]
    assert profile["availability"] == [{"day": 0, "start": "18:00", "end": "20:00"}]
    _profile(alice, ["chemistry"], "Asia/Tokyo")
    assert alice.http.get("/users/me/study-profile").json()["subjects"] == ["chemistry"]
    bad_slots = [
        {"day": 7, "start": "10:00", "end": "11:00"},
        {"day": 1, "start": "12:00", "end": "11:00"},
        {"day": 1, "start": "25:00", "end": "26:00"},
    ]
    for slot in bad_slots:
        body = {"subjects": ["x"], "timezone": "UTC", "availability": [slot]}
        _error(alice.http.put("/users/me/study-profile", json=body), 422, "validation_error")
    _error(
        alice.http.put("/users/me/study-profile", json={"subjects": [], "timezone": "UTC"}),
        422,
        "validation_error",
    )


def test_suggestions_are_ranked_and_explained(people: People) -> None:
    subject = f"topo{uuid.uuid4().hex[:6]}"
    other = f"alg{uuid.uuid4().hex[:6]}"
    me, best, good, blocked = (people.register() for _ in range(4))
    _profile(me, [subject, other], "Europe/Berlin", (2, "18:00", "22:00"))
    _profile(best, [subject, other], "Europe/Paris", (2, "18:00", "21:00"))
    _profile(good, [subject], "America/New_York", (2, "13:00", "14:00"))
    _profile(blocked, [subject, other], "Europe/Berlin", (2, "18:00", "22:00"))
    assert blocked.http.post(f"/blocks/{me.id}").status_code == 204

    suggestions = me.http.get("/buddies/suggestions", params={"limit": 50}).json()
    ours = [s for s in suggestions if s["user_id"] in {best.id, good.id, blocked.id}]
    assert [s["user_id"] for s in ours] == [best.id, good.id]
    top = ours[0]
    assert top["shared_subjects"] == sorted([subject, other])
    assert top["common_hours"] == 3
    assert top["reason"] == "2 shared subjects, 3 h of common free time"
    assert ours[1]["timezone_gap_hours"] in (5, 6)  # depends on daylight saving time today

    lonely = people.register()
    _error(lonely.http.get("/buddies/suggestions"), 404, "not_found")


def test_buddy_requests(people: People, social_events: EventTap) -> None:
    alice, bob, carol = people.register(), people.register(), people.register()
    sent = alice.http.post(
        "/buddies/requests", json={"to_user_id": bob.id, "message": "study at 6?"}
    )
    assert sent.status_code == 201
    request = sent.json()
    social_events.wait_for(
        lambda e: isinstance(e, BuddyRequested) and e.request_id == request["id"]
    )
    _error(
        alice.http.post("/buddies/requests", json={"to_user_id": bob.id}), 409, "duplicate_request"
    )
    _error(
        bob.http.post("/buddies/requests", json={"to_user_id": alice.id}),
        409,
        "reverse_request_pending",
    )
    _error(
        alice.http.post("/buddies/requests", json={"to_user_id": alice.id}), 422, "validation_error"
    )
    assert [r["id"] for r in bob.http.get("/buddies/requests").json()["items"]] == [request["id"]]
    assert carol.http.get("/buddies/requests").json()["items"] == []
    _error(carol.http.post(f"/buddies/requests/{request['id']}/accept"), 404, "not_found")
    _error(alice.http.post(f"/buddies/requests/{request['id']}/accept"), 403, "not_recipient")
    assert bob.http.post(f"/buddies/requests/{request['id']}/accept").json()["status"] == "accepted"
    social_events.wait_for(lambda e: isinstance(e, BuddyAccepted) and e.request_id == request["id"])
    assert [b["user_id"] for b in alice.http.get("/buddies").json()["items"]] == [bob.id]
    assert [b["user_id"] for b in bob.http.get("/buddies").json()["items"]] == [alice.id]
    _error(
        alice.http.post("/buddies/requests", json={"to_user_id": bob.id}), 409, "already_buddies"
    )

    assert carol.http.post(f"/blocks/{alice.id}").status_code == 204
    _error(alice.http.post("/buddies/requests", json={"to_user_id": carol.id}), 403, "blocked")
