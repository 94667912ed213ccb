"""Discussion groups, members and threads through HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.utils.api import People, Person

pytestmark = pytest.mark.integration


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.json()


def _group(owner: Person, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": f"Organic chem {uuid.uuid4().hex[:6]}",
        "subject": "Chemistry",
    }
    body.update(fields)
    response = owner.http.post("/groups", json=body)
    assert response.status_code == 201, response.text
    group: dict[str, object] = response.json()
    return group


def test_create_join_leave_members(people: People) -> None:
    owner, alice = people.register(), people.register()
    group = _group(owner, description="Reaction mechanisms")
    group_id = group["id"]
    assert group["member_count"] == 1
    assert group["subject"] == "chemistry"
    joined = alice.http.post(f"/groups/{group_id}/join")
    assert joined.json()["member_count"] == 2
    assert alice.http.post(f"/groups/{group_id}/join").json()["member_count"] == 2  # idempotent
    members = alice.http.get(f"/groups/{group_id}/members", params={"limit": 1}).json()
    assert len(members["items"]) == 1
    more = alice.http.get(
        f"/groups/{group_id}/members", params={"cursor": members["next_cursor"]}
    ).json()
    roles = {m["user_id"]: m["role"] for m in members["items"] + more["items"]}
    assert roles == {owner.id: "owner", alice.id: "member"}
    assert alice.http.post(f"/groups/{group_id}/leave").json()["member_count"] == 1
    _error(owner.http.post(f"/groups/{group_id}/leave"), 409, "owner_cannot_leave")


def test_list_public_groups_by_subject(people: People) -> None:
    owner = people.register()
    subject = f"sub{uuid.uuid4().hex[:8]}"
    older = _group(owner, subject=subject)
    newer = _group(owner, subject=subject)
    _group(owner, subject=subject, visibility="private")
    page = owner.http.get("/groups", params={"subject": subject, "limit": 1}).json()
    rest = owner.http.get(
        "/groups", params={"subject": subject, "limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert [g["id"] for g in page["items"] + rest["items"]] == [newer["id"], older["id"]]
    assert rest["next_cursor"] is None


def test_private_groups_are_hidden(people: People) -> None:
    owner, stranger = people.register(), people.register()
    group_id = _group(owner, visibility="private")["id"]
    _error(stranger.http.get(f"/groups/{group_id}"), 404, "not_found")
    _error(stranger.http.post(f"/groups/{group_id}/join"), 404, "not_found")
    _error(stranger.http.get(f"/groups/{group_id}/posts"), 404, "not_found")
    assert owner.http.get(f"/groups/{group_id}").status_code == 200


def test_threads_and_replies(people: People) -> None:
    owner, alice, lurker = people.register(), people.register(), people.register()
    group_id = _group(owner)["id"]
    _error(
        lurker.http.post(f"/groups/{group_id}/posts", json={"title": "hi", "body": "x"}),
        403,
        "not_member",
    )
    alice.http.post(f"/groups/{group_id}/join")
    first = owner.http.post(
        f"/groups/{group_id}/posts", json={"title": "SN1 vs SN2", "body": "Which when?"}
    ).json()
    second = alice.http.post(
        f"/groups/{group_id}/posts", json={"title": "Exam tips", "body": "Share!"}
    ).json()
    reply = alice.http.post(
        f"/groups/{group_id}/posts", json={"body": "Tertiary: SN1", "parent_id": first["id"]}
    ).json()
    nested = owner.http.post(
        f"/groups/{group_id}/posts", json={"body": "Right", "parent_id": reply["id"]}
    ).json()
    assert reply["root_id"] == first["id"]
    assert nested["root_id"] == first["id"]
    assert nested["parent_id"] == reply["id"]

    threads = lurker.http.get(f"/groups/{group_id}/posts").json()["items"]
    assert [(t["id"], t["reply_count"]) for t in threads] == [(second["id"], 0), (first["id"], 2)]
    replies = lurker.http.get(f"/groups/{group_id}/posts/{first['id']}/replies").json()["items"]
    assert [r["id"] for r in replies] == [reply["id"], nested["id"]]

    other_group = _group(owner)["id"]
    _error(
        owner.http.post(
            f"/groups/{other_group}/posts", json={"body": "x", "parent_id": first["id"]}
        ),
        404,
        "not_found",
    )
    _error(owner.http.post(f"/groups/{group_id}/posts", json={"body": ""}), 422, "validation_error")
    _error(owner.http.get(f"/groups/{group_id}/posts/1/replies"), 404, "not_found")
