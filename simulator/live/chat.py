"""The `/chat` broker: each message goes to every other client, in the order it came in.

Messages are relayed as they are (a text stays a text, a binary a binary), each
in a frame of the server's own. The broker speaks for itself only in small JSON
text messages: `welcome` to a client that joins, `join` and `leave` to the
others, each with the client's number and how many are connected.
"""

from __future__ import annotations

import json

from simulator.live.server import Service, Session, ping_command
from simulator.ws import BinaryMessage, Event, Opcode, TextMessage, serialize_frame


class Broker(Service):
    name = "chat"
    fresh_compression = True  # one compressed frame for every member (see `relay`)

    def __init__(self) -> None:
        self.members: dict[int, Session] = {}  # in the order they joined

    def opened(self, session: Session) -> None:
        number = session.info.id if session.info is not None else 0
        self.members[number] = session
        count = len(self.members)
        session.send_text(json.dumps({"type": "welcome", "client": number, "clients": count}))
        self._announce(session, {"type": "join", "client": number, "clients": count})

    def received(self, session: Session, event: Event) -> None:
        if ping_command(session, event):
            return
        if type(event) is TextMessage or type(event) is BinaryMessage:
            relay(event, [other for other in self.members.values() if other is not session])

    def closed(self, session: Session) -> None:
        number = session.info.id if session.info is not None else 0
        if self.members.pop(number, None) is None:
            return
        self._announce(session, {"type": "leave", "client": number, "clients": len(self.members)})

    def _announce(self, about: Session, note: dict[str, object]) -> None:
        notice = TextMessage(json.dumps(note))
        relay(notice, [other for other in self.members.values() if other is not about])


def relay(event: TextMessage | BinaryMessage, sessions: list[Session]) -> None:
    """Send one message to many sessions, its frame built once for all the sessions
    whose frames would be the same bytes (`Connection.prepared_key`): those without an
    extension (server frames are not masked), and those whose permessage-deflate starts
    every message afresh (compressed once, not once a member). A session that takes
    its compression context over compresses it with its own."""
    data = event.data
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    opcode = Opcode.TEXT if isinstance(data, str) else Opcode.BINARY
    frames: dict[tuple[object, ...], bytes] = {}
    for session in sessions:
        conn = session.conn
        key = conn.prepared_key
        if key is not None:
            frame = frames.get(key)
            if frame is None:
                frame = frames[key] = (
                    serialize_frame(opcode, payload) if not key
                    else conn.encode_shared(opcode, payload)
                )  # fmt: skip
            if conn.send_prepared(frame, key):
                session.flush()
                continue
        session.send(event)
