"""Fuzz the classroom channel's messages: what a follower reads from the teacher
(`decode`) and what the teacher reads from a follower (`decode_from_follower`).

The input is a message's text (UTF-8; a WebSocket text message is never anything
else, so bytes that are not UTF-8 are decoded with replacement characters). Either
reader may only return a message or raise `ClassroomError`. A moment that decodes
must encode back to a message that decodes to the same moment.
"""

from __future__ import annotations

import atheris
from harness import MAX_INPUT, fuzz

with atheris.instrument_imports(include=["simulator"]):
    from simulator.live.classroom import (
        ClassroomError,
        Join,
        Position,
        Reply,
        decode,
        decode_from_follower,
        encode,
    )


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    text = data.decode("utf-8", errors="replace")
    try:
        kind, value = decode(text)
    except ClassroomError:
        pass
    else:
        assert kind in ("hello", "moment", "verdict", "welcome", "note"), kind
        if isinstance(value, Position):
            again = decode(encode("moment", value))
            assert again == ("moment", value), (value, again)
    try:
        message = decode_from_follower(text)
    except ClassroomError:
        pass
    else:
        assert isinstance(message, Join | Reply), message


if __name__ == "__main__":
    fuzz(test_one_input)
