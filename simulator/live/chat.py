"""The `/chat` broker: each message goes to every other client, in the order it came in.

Messages are relayed as they are (a text stays a text, a binary a binary), each
in a frame of the server's own. The broker speaks for itself only in small JSON
text messages: `welcome` to a client that joins, `join` and `leave` to the
others, each with the client's number and how many are connected.
"""

from __future__ import annotations

import json

from simulator.live.server import Service, Session, ping_command
from simulator.ws import BinaryMessage, Event, TextMessage


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
            for other in list(self.members.values()):
                if other is not session:
                    other.send(event)

    def closed(self, session: Session) -> None:
        number = session.info.id if session.info is not None else 0
        if self.members.pop(number, None) is None:
            return
        self._announce(session, {"type": "leave", "client": number, "clients": len(self.members)})

    def _announce(self, about: Session, note: dict[str, object]) -> None:
        text = json.dumps(note)
        for other in list(self.members.values()):
            if other is not about:
                other.send_text(text)
