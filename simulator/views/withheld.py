"""Holding a checkpoint's answer back: the lines and labels that would give it away,
with the answer replaced by "?". Every view applies the same `Withheld` (see
`simulator.lessons.checkpoints`); nothing here is patched per lesson.
"""

from __future__ import annotations

import re

from simulator.dissect.fields import Dissection, Field
from simulator.lessons.checkpoints import Withheld

#: What stands for a value held back until the checkpoint is answered.
HIDDEN = "?"

#: Protocols below the application: their labels are "Key=value" words, redacted one by one.
_WIRE_LAYERS = ("ip.", "tcp.", "icmp.", "eth.", "frame.")


def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    words = tuple(word for word in words if word)
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w.]){alternatives}(?![\w.])")


#: Elsewhere than in the packet asked about, a value this short ("0", "64") is too
#: common to be the answer's giveaway: "Len=0" stays.
DISTINCTIVE = 3


def redact(text: str, withheld: Withheld, *, asked: bool = True) -> str:
    """`text` with the withheld answer replaced by "?".

    Header words ("Ack=2567509648") lose only their value. In the packet asked
    about (`asked`), a line about an application field (an HTTP status, a
    WebSocket bit) is cut at the value, since what follows it ("Switching
    Protocols") gives it away too; elsewhere only distinctive values go.
    """
    words = withheld.words if asked else tuple(w for w in withheld.words if len(w) >= DISTINCTIVE)
    pattern = _pattern(words)
    if pattern is None:
        return text
    match = pattern.search(text)
    if match is None:
        return text
    if asked and withheld.field is not None and not withheld.field.startswith(_WIRE_LAYERS):
        return text[: match.start()] + HIDDEN
    return pattern.sub(HIDDEN, text)


def hide_anywhere(text: str, withheld: Withheld) -> str:
    """`text` without the answers hidden everywhere (a computed accept value), also
    where a line shortened them ("expected answer: bZuU3+I5tT…")."""
    for word in withheld.anywhere:
        if len(word) >= 8:
            text = re.sub(rf"{re.escape(word[:8])}[A-Za-z0-9+/=]*…?", HIDDEN, text)
        elif word:
            text = text.replace(word, HIDDEN)
    return text


def field_line(field: Field, withheld: Withheld, *, packet: int | None, kin: bool) -> str:
    """How the field tree shows `field` of capture packet `packet`: its value hidden when it
    is the one asked about, the answer cut out of the lines above and below it (`kin`),
    and a distinctive answer ("172") out of the packet's other lines ("Frame: 172 bytes")."""
    if withheld.hides_value(packet, field.name):
        return f"{field.label}: {HIDDEN}"
    line = hide_anywhere(str(field), withheld)
    if packet == withheld.packet:  # elsewhere in the packet, only a distinctive value goes
        return redact(line, withheld, asked=kin)
    return line


def kin(dissection: Dissection, name: str) -> set[int]:
    """`id()` of every field above the first field called `name` (its layer, its parents)
    and below it (its parts): lines that repeat its value."""
    path: list[Field] = []

    def walk(fields: tuple[Field, ...]) -> Field | None:
        for field in fields:
            if field.name == name:
                return field
            path.append(field)
            found = walk(field.children)
            if found is not None:
                return found
            path.pop()
        return None

    asked = walk(dissection.fields)
    if asked is None:
        return set()
    below = {id(part) for _, part in asked.walk()} - {id(asked)}
    return {id(field) for field in path} | below


def tells_place(withheld: Withheld, field: Field, packet: int | None) -> bool:
    """Whether lighting `field`'s bytes, or saying which bytes it holds, would answer a
    "where does it start?" question: any field of the packet asked about (its layer,
    its neighbours: where one ends another starts), the field asked about in any packet,
    and any field that starts where it does (the same layer in another packet)."""
    if not withheld.place:
        return False
    if field.name == withheld.field or packet == withheld.packet:
        return True
    span = withheld.span
    return span is not None and (field.buffer, field.start) == (span[0], span[1])


def hidden_bytes(dissection: Dissection, withheld: Withheld) -> dict[int, tuple[int, int]]:
    """Buffer → the span of bytes that hold the withheld value, in the asked packet's
    dissection: the field's own buffer, and the packet's bytes too when the field lies in
    a message reassembled from this one packet (its bytes are there as well)."""
    if withheld.span is None or withheld.place:
        return {}
    buffer, start, end = withheld.span
    spans = {buffer: (start, end)}
    if buffer != 0 and 0 <= buffer < len(dissection.buffers):
        message = dissection.buffers[buffer].data
        at = dissection.buffers[0].data.find(message) if message else -1
        if at >= 0:
            spans[0] = (at + start, at + end)
    return spans


__all__ = ["DISTINCTIVE", "HIDDEN", "field_line", "hidden_bytes", "kin", "redact", "tells_place"]
