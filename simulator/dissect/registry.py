"""The field registry: every name a dissection can hold, with its type and one line on it.

Each dissector module declares its fields where it builds them (a header layout
declares its slots, other modules call `define`), so the registry is the list of
what the dissectors produce, not a second list kept beside them; a test dissects
the whole corpus and checks that every field it meets is registered. The filter
language reads the registry to refuse a name no dissector produces ("did you
mean …?"), `wirelab dissect --fields` prints it, and the filter bar completes
names from it.

Some names stand for others, as in Wireshark:

- `of`: the union of other fields (`ip.addr` is `ip.src` or `ip.dst`; Wireshark's
  `tcp.flags.reset` is wirelab's `tcp.flags.rst`);
- `header`: the value of one HTTP header field (`http.host` is the `Host` field).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """What a field's value is, as `--fields` says it."""

    PROTOCOL = "protocol"
    UINT = "unsigned integer"
    BOOL = "boolean"
    BYTES = "bytes"
    TEXT = "text"
    IPV4 = "IPv4 address"
    IPV6 = "IPv6 address"
    ETHER = "Ethernet address"
    SECONDS = "seconds"
    FRAME = "packet number"
    LABEL = "label"  # a line of the tree with no value of its own: test it by its name


@dataclass(frozen=True, slots=True)
class FieldInfo:
    name: str
    kind: Kind
    description: str  # one line
    of: tuple[str, ...] = ()  # this name stands for any of these fields
    header: str | None = None  # ... or for the value of this HTTP header field (lower case)

    @property
    def alias(self) -> bool:
        return bool(self.of or self.header)


_FIELDS: dict[str, FieldInfo] = {}


def define(name: str, kind: Kind, description: str) -> str:
    """Register field `name`; gives the name back, for the code that builds the field."""
    _add(FieldInfo(name, kind, description))
    return name


def alias(name: str, kind: Kind, description: str, *, of: tuple[str, ...] = (),
          header: str | None = None) -> None:  # fmt: skip
    """Register `name` as standing for the fields `of` (or an HTTP header's value)."""
    if not of and header is None:
        raise ValueError(f"alias {name!r} stands for nothing")
    _add(FieldInfo(name, kind, description, of, header.lower() if header else None))


def _add(info: FieldInfo) -> None:
    known = _FIELDS.get(info.name)
    if known is not None and known != info:
        raise ValueError(f"field {info.name!r} is defined twice, differently")
    _FIELDS[info.name] = info


def _load() -> None:
    """Import every module that defines fields (they register when imported)."""
    import simulator.dissect.messages
    import simulator.dissect.packet
    import simulator.dissect.stream_view  # noqa: F401


def fields() -> Mapping[str, FieldInfo]:
    """Every registered name, real fields and aliases alike."""
    _load()
    return _FIELDS


def lookup(name: str) -> FieldInfo | None:
    return fields().get(name)


def protocols() -> frozenset[str]:
    """The names a filter may start with: every field's first word."""
    return frozenset(name.split(".", 1)[0] for name in fields())


def closest(name: str, count: int = 3) -> list[str]:
    """The registered names most like `name`, best first: for "did you mean …?"."""
    known = fields()
    head = name.split(".", 1)[0]
    same_protocol = [other for other in known if other.split(".", 1)[0] == head]
    found = difflib.get_close_matches(name, same_protocol, n=count, cutoff=0.6)
    if len(found) < count:
        more = difflib.get_close_matches(name, list(known), n=count, cutoff=0.6)
        found += [other for other in more if other not in found][: count - len(found)]
    return found


def completions(prefix: str, limit: int = 50) -> Iterator[str]:
    """Registered names starting with `prefix` (any case), in order."""
    lowered = prefix.lower()
    shown = 0
    for name in sorted(fields()):
        if name.startswith(lowered):
            yield name
            shown += 1
            if shown >= limit:
                return


__all__ = ["FieldInfo", "Kind", "alias", "closest", "completions", "define", "fields", "lookup"]
