"""The ceiling: a minimal WebSocket broadcast server, one process, uvloop, no auth, no storage.

    .venv/bin/python -m bench.peers.bare --port 8790

It speaks the subset of studyhub's frames the load generator uses, so the same client code
drives both: connect to ``/?user=U``, ``{"type":"subscribe","room_id":R}`` answers
``subscribed``; ``{"type":"send",...}`` is broadcast to the room as a ``message`` frame (sender
included, as studyhub does) and answered with an ``ack``. Everything studyhub does besides
(auth, rate limits, Kafka, the ordering job, MySQL, Redis fan-out) is absent by design.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve


class Hub:
    def __init__(self) -> None:
        self.rooms: dict[int, set[ServerConnection]] = defaultdict(set)
        self.seq: dict[int, int] = defaultdict(int)
        self.next_id = 0

    async def handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "/").query)
        user = int(query.get("user", ["0"])[0])
        joined: set[int] = set()
        try:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                room = int(frame.get("room_id", 0))
                if kind == "subscribe":
                    self.rooms[room].add(ws)
                    joined.add(room)
                    await ws.send(json.dumps({"type": "subscribed", "room_id": room}))
                elif kind == "send" and room in joined:
                    self.seq[room] += 1
                    self.next_id += 1
                    message = {
                        "type": "message",
                        "room_id": room,
                        "seq": self.seq[room],
                        "message_id": self.next_id,
                        "user_id": user,
                        "body": frame.get("body", ""),
                        "client_msg_id": frame.get("client_msg_id"),
                    }
                    broadcast(self.rooms[room], json.dumps(message))
                    await ws.send(
                        json.dumps(
                            {
                                "type": "ack",
                                "room_id": room,
                                "client_msg_id": frame.get("client_msg_id"),
                                "message_id": self.next_id,
                            }
                        )
                    )
                else:
                    await ws.send(
                        json.dumps({"type": "error", "code": "bad_frame", "message": str(kind)})
                    )
        finally:
            for room in joined:
                self.rooms[room].discard(ws)


async def serve_forever(host: str, port: int) -> None:
    hub = Hub()
    async with serve(hub.handle, host, port, compression=None, max_size=2**16) as server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args(argv)
    uvloop.run(serve_forever(args.host, args.port))


if __name__ == "__main__":
    main()
