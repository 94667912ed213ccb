"""The gateway's hand-built server frames parse as RFC 6455 frames (websockets' own parser)."""

from __future__ import annotations

from collections.abc import Generator

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from realtime.uvicorn_ws import text_frame


def _parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser: Generator[None, None, Frame] = Frame.parse(
        reader.read_exact, mask=False, max_size=None, extensions=None
    )
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("the frame was incomplete")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_text_frames_of_every_length_encoding_parse_back(size: int) -> None:
    payload = ("é" * size).encode()[:size]  # multi-byte UTF-8 cut anywhere is still bytes
    frame = _parse(text_frame(payload))
    assert frame.opcode is Opcode.TEXT
    assert frame.fin
    assert frame.data == payload


def test_the_length_header_grows_only_at_the_rfc_boundaries() -> None:
    assert len(text_frame(b"x" * 125)) == 2 + 125
    assert len(text_frame(b"x" * 126)) == 4 + 126
    assert len(text_frame(b"x" * 65_535)) == 4 + 65_535
    assert len(text_frame(b"x" * 65_536)) == 10 + 65_536
