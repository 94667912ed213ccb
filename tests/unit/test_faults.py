"""The fault harness's own logic: what counts as an outage, a duplicate, a gap, a failed run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from bench.faults import (
    OUTAGE_S,
    RESEND_AFTER_ERROR_S,
    Clock,
    Receiver,
    Sender,
    closed_kind,
    outage,
    parse_args,
    problems,
    render,
)


def test_no_outage_when_events_keep_coming() -> None:
    acks = [10 + n * 0.125 for n in range(80)]
    longest, back = outage(acks, since=10.0, until=20.0)
    assert longest < OUTAGE_S
    assert back == 0.0


def test_an_outage_and_when_it_ended() -> None:
    acks = [9.5, 10.1, 10.2, 25.2, 25.3]  # killed at 10, stopped at 10.2, back at 25.2
    longest, back = outage(acks, since=10.0, until=30.0)
    assert longest == pytest.approx(15.0)
    assert back == pytest.approx(15.2)


def test_events_that_never_came_back() -> None:
    longest, back = outage([10.1, 10.2], since=10.0, until=40.0)
    assert longest == pytest.approx(29.8)
    assert back is None


def test_the_quiet_after_the_load_is_no_outage() -> None:
    acks = [10 + n * 0.125 for n in range(80)]  # up to 19.9, the load ended at 20
    assert outage(acks, since=10.0, until=30.0, load_end=20.0)[1] == 0.0
    back = outage([10.1, 26.0], since=10.0, until=30.0, load_end=20.0)[1]
    assert back == pytest.approx(16.0)  # stopped under load, back in the drain
    assert outage([10.1], since=10.0, until=30.0, load_end=20.0)[1] is None


def _receiver() -> Receiver:
    return Receiver(Clock(), "ws://unused", asyncio.Event(), room=7)


def _message(seq: int, room: int = 7) -> dict[str, Any]:
    return {"type": "message", "room_id": room, "seq": seq, "client_msg_id": f"m{seq}"}


def test_a_receiver_counts_duplicates_and_gaps_by_seq() -> None:
    receiver = _receiver()
    for seq in (1, 2, 2, 4, 3, 5):
        receiver.on_frame(_message(seq))
    receiver.on_frame(_message(9, room=8))  # another room's frame is not this room's
    assert receiver.duplicates == 2  # the second 2, and 3 after 4
    assert receiver.gaps == 1  # 3 was skipped when 4 came
    assert receiver.last_seq == 5
    assert set(receiver.seen) == {"m1", "m2", "m4", "m5"}


def test_a_range_the_server_could_not_recover_is_counted() -> None:
    receiver = _receiver()
    receiver.on_frame(
        {"type": "subscribed", "room_id": 7, "missing": {"from_seq": 3, "to_seq": 10}}
    )
    assert receiver.missing == 8


def test_a_sender_sees_a_second_ack_with_another_message_id() -> None:
    sender = Sender(Clock(), "ws://unused", asyncio.Event(), room=7)
    sender.pending["a"] = 0.0
    sender.on_frame({"type": "ack", "client_msg_id": "a", "message_id": 1})
    sender.on_frame({"type": "ack", "client_msg_id": "a", "message_id": 1})  # a resend's ack
    assert sender.ack_id_changed == 0
    assert sender.pending == {}
    sender.on_frame({"type": "ack", "client_msg_id": "a", "message_id": 2})
    assert sender.ack_id_changed == 1
    sender.pending["b"] = 1e9  # sent, waiting for its ack
    sender.on_frame({"type": "error", "code": "in_flight", "ref": "b"})
    assert sender.errors == {"in_flight": 1}
    assert sender.pending["b"] <= sender.clock.now() + RESEND_AFTER_ERROR_S  # tried again soon


def test_a_sender_stays_under_the_rate_limit() -> None:
    sender = Sender(Clock(), "ws://unused", asyncio.Event(), room=7)
    spent = sum(sender.spend() for _ in range(100))
    assert spent == 8  # the burst, then nothing until the budget refills


def test_how_a_client_saw_its_socket_end() -> None:
    assert closed_kind(ConnectionClosed(Close(1013, "redis away"), None)) == "closed 1013"
    assert closed_kind(ConnectionClosed(None, None)) == "closed 1006"
    assert closed_kind(ConnectionRefusedError()) == "connect refused: nothing listening"
    assert closed_kind(TimeoutError()) == "connect timed out"


def _run(**changes: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "service": "kafka",
        "restart_exit": 0,
        "restart_output": "",
        "restart_s": 20.0,
        "sent": 10,
        "acked": 10,
        "stored": 10,
        "lost": 0,
        "stored_twice": 0,
        "not_delivered": 0,
        "late_receiver_missing": 0,
        "unacked": 0,
        "ack_id_changed": 0,
        "gaps": 0,
        "duplicate_deliveries": 0,
        "acks_stopped_s": 20.0,
        "acks_back_s": 21.0,
        "deliveries_back_s": None,
        "reconnects": 3,
        "troubles": {"closed 1013": 3},
    }
    run.update(changes)
    run["problems"] = problems(run)
    return run


def test_a_clean_run_passes_and_each_defect_fails_it() -> None:
    assert _run()["problems"] == []
    assert _run(lost=2)["problems"] == ["2 acked but not stored"]
    assert _run(stored_twice=1)["problems"] == ["1 stored twice"]
    assert _run(not_delivered=1)["problems"] == ["1 acked but missing at a receiver"]
    assert _run(unacked=4)["problems"] == ["4 never acked after the drain"]
    assert _run(restart_exit=1)["problems"] == ["`studyhub stack up` exited 1"]
    # A frame sent twice is dropped by a client following the protocol: reported, not failed.
    assert _run(duplicate_deliveries=5)["problems"] == []


def test_the_report_names_each_run_and_its_verdict() -> None:
    report = {
        "form": "short",
        "when": "now",
        "command": "python -m bench.faults --short",
        "timing": {"rate": 8.0, "before": 3.0, "down": 3.0, "after": 4.0},
        "runs": [_run(), _run(service="redis", lost=1)],
    }
    text = render(report, "stamp")
    assert "| kafka | 10 | 10 | 10 | 0 | 0 | yes |" in text
    assert "| never |" in text  # deliveries that never came back
    assert "FAIL: 1 acked but not stored" in text
    assert "faults-stamp-redis.png" in text


def test_arguments_are_checked() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--services", "kafka,nope"])
    with pytest.raises(SystemExit):
        parse_args(["--rate", "50"])
    assert parse_args(["--short"]).short
