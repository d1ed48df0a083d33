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
    """Send one message to many sessions. Its frame is built once for all the sessions
    without an extension (the same bytes suit each: server frames are not masked);
    a session with permessage-deflate compresses it with its own context."""
    frame: bytes | None = None
    for session in sessions:
        if not session.conn.extensions:
            if frame is None:
                data = event.data
                if isinstance(data, str):
                    frame = serialize_frame(Opcode.TEXT, data.encode("utf-8"))
                else:
                    frame = serialize_frame(Opcode.BINARY, bytes(data))
            if session.conn.send_prepared(frame):
                session.flush()
                continue
        session.send(event)
