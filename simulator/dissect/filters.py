"""Display filters: a small Wireshark-like language over dissected field trees.

Theory of operation. A filter is text a learner types, such as

    ws.opcode == text and not (tcp.port == 8765 or ip.addr == 10.0.0.0/8)

`compile_filter` turns it into a `Filter`, or raises `FilterError` naming the
column of the first problem. A `Filter` is called with a `Dissection` and
answers whether it matches. Nothing here knows a protocol's bytes: tests read
the field tree (`Field.name`, `.value`, `.display`) and, for `contains` on a
field without a value, the bytes of the field's span.

What a test reads of a packet is a `PacketFields`: its fields by name, the first
words of their names, the bytes of a field's span. A dissection is one; the
inspector's per-packet columns (`simulator.dissect.columns`) are another, which
answers the same tests, by the same code, without dissecting the packet. A
`PacketFields` that cannot answer a test raises `Undecided`, and the caller asks
the dissection instead. `Filter.needs` names every field a filter reads, aliases
resolved, so a caller knows beforehand whether its columns can answer.

The grammar, loosest binding first:

    expr    := and ( ("or" | "||") and )*
    and     := not ( ("and" | "&&") not )*
    not     := ("not" | "!") not | primary
    primary := "(" expr ")" | NAME [ OP value ]
    OP      := == != < > <= >= (or eq ne lt gt le ge) | contains
    value   := "quoted string" | 42 | 0x2a | 1.5 | 127.0.0.1 | 10.0.0.0/8 | ::1
             | 81:85:ab (bytes) | true | false | a_word (matched against the display)

A bare NAME is a presence test: `tcp` matches a dissection with any field
called `tcp` or `tcp.…` (or whose protocol is TCP); `tcp.flags.syn` matches if
that field is there. Comparisons follow Wireshark: `==` matches when *any*
field of that name equals the value, `!=` when fields of that name exist and
*none* equals it. `ip.addr`, `tcp.port` and `udp.port` stand for the source
or the destination field.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from simulator.dissect import registry
from simulator.dissect.fields import Dissection, Field, FieldValue
from simulator.errors import WirelabError

PROTOCOL_ALIASES: dict[str, str] = {"websocket": "ws", "ipv4": "ip"}
"""First words Wireshark uses where wirelab has another: `websocket.opcode` is `ws.opcode`."""


# fmt: off
registry.alias("ip.addr", registry.Kind.IPV4, "The source or the destination address",
               of=("ip.src", "ip.dst"))
registry.alias("ipv6.addr", registry.Kind.IPV6, "The source or the destination address",
               of=("ipv6.src", "ipv6.dst"))
registry.alias("tcp.port", registry.Kind.UINT, "The source or the destination port",
               of=("tcp.srcport", "tcp.dstport"))
registry.alias("udp.port", registry.Kind.UINT, "The source or the destination port",
               of=("udp.srcport", "udp.dstport"))
# fmt: on


def known_protocols() -> frozenset[str]:
    """The first words a name may have: every registered field's (catches `tpc.port`)."""
    return registry.protocols()


class FilterError(WirelabError):
    """The filter text is not valid; `offset` (from 0) and `column` (from 1) say where."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"column {offset + 1}: {message}")
        self.message = message
        self.offset = offset

    @property
    def column(self) -> int:
        return self.offset + 1


# --- tokens -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<op>==|!=|<=|>=|<|>|&&|\|\||!)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<badstring>")
  | (?P<word>[A-Za-z0-9_.:/\-]+)
    """,
    re.VERBOSE,
)

_WORD_OPS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "contains": "contains",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*\Z")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", ")", "op", "and", "or", "not", "string", "word", "end"
    text: str
    offset: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FilterError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup
        value = match.group()
        if kind == "badstring":
            raise FilterError('this string has no closing "', position)
        if kind == "lparen":
            tokens.append(_Token("(", value, position))
        elif kind == "rparen":
            tokens.append(_Token(")", value, position))
        elif kind == "op":
            logical = {"&&": "and", "||": "or", "!": "not"}.get(value)
            tokens.append(_Token(logical or "op", value, position))
        elif kind == "string":
            tokens.append(_Token("string", value, position))
        elif kind == "word":
            lowered = value.lower()
            if lowered in ("and", "or", "not"):
                tokens.append(_Token(lowered, value, position))
            elif lowered in _WORD_OPS:
                tokens.append(_Token("op", _WORD_OPS[lowered], position))
            else:
                tokens.append(_Token("word", value, position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --- values -----------------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Value = int | float | bool | str | bytes | IPAddress | IPNetwork


@dataclass(frozen=True, slots=True)
class _Symbol:
    """A bare word such as `text`: matched against a field's value or display, any case."""

    word: str


Operand = Value | _Symbol
"""What a test compares a field with: a value, or a bare word matched against displays."""


_BYTES = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+\Z")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "0": "\0"}


def _literal(token: _Token) -> Value | _Symbol:
    text = token.text
    if token.kind == "string":
        return _unquote(text[1:-1], token.offset + 1)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text, 0)
    except ValueError:
        pass
    if re.fullmatch(r"-?\d+\.\d*|-?\.\d+", text):
        return float(text)
    if _BYTES.match(text):
        return bytes.fromhex(text.replace(":", ""))
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if "/" in text:
        try:
            return ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise FilterError(
                f"{text!r} is not an address range like 10.0.0.0/8", token.offset
            ) from None
    return _Symbol(text)


def _unquote(body: str, offset: int) -> str:
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        escape = body[index + 1]  # the token pattern guarantees a character follows
        if escape == "x":
            digits = body[index + 2 : index + 4]
            if not re.fullmatch(r"[0-9A-Fa-f]{2}", digits):
                raise FilterError(r"\x needs two hex digits, as in \x0a", offset + index)
            out.append(chr(int(digits, 16)))
            index += 4
        elif escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            index += 2
        else:
            raise FilterError(
                f"unknown escape \\{escape} (use \\\\ for a backslash)", offset + index
            )
    return "".join(out)


# --- the tree of tests ------------------------------------------------------------------


class FieldLike(Protocol):
    """What a test reads of one field: a dissection's `Field`, or a packet column's."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> FieldValue: ...

    @property
    def display(self) -> str: ...

    @property
    def label(self) -> str: ...


class Undecided(Exception):
    """A `PacketFields` cannot answer a test (it does not hold what the test reads, such
    as the bytes of a span): the packet is to be tested on its full dissection."""


class PacketFields(ABC):
    """What a filter reads of one packet: its fields by (lower-case) name, the first words
    of their names and its protocol's (`prefixes`), and the bytes of a field's span."""

    prefixes: Collection[str]

    @abstractmethod
    def fields_named(self, name: str) -> Sequence[FieldLike]:
        """The fields called exactly `name` (no aliases), in tree order."""

    @abstractmethod
    def span(self, field: FieldLike) -> bytes:
        """The bytes `field` covers (raise `Undecided` if they are not held)."""

    def test(self, field: FieldLike, op: str, literal: Operand) -> bool:
        """Does `field` pass `op literal`? (A subclass may remember answers: the answer
        depends on the field's value and display, and on the span's bytes.)"""
        return _test(field, op, literal, self)


class _Fields(PacketFields):
    """A dissection's fields by (lower-case) name, built once per evaluation."""

    def __init__(self, dissection: Dissection) -> None:
        self.dissection = dissection
        self.by_name: dict[str, list[Field]] = {}
        self.prefixes: set[str] = {_canonical(dissection.protocol.lower())}
        for _, each in dissection.walk():
            name = _canonical_name(each.name.lower())
            self.by_name.setdefault(name, []).append(each)
            self.prefixes.add(name.split(".", 1)[0])

    def fields_named(self, name: str) -> Sequence[FieldLike]:
        return self.by_name.get(name, ())

    def span(self, field: FieldLike) -> bytes:
        if isinstance(field, _Truth):
            field = field.field
        if not isinstance(field, Field):
            return b""
        buffers = self.dissection.buffers
        if not 0 <= field.buffer < len(buffers):
            return b""
        return buffers[field.buffer].data[field.start : field.end]


def dissection_fields(dissection: Dissection) -> PacketFields:
    """A dissection's fields as filters read them, to test with many filters
    (`Filter.matches`) at the cost of reading the tree once."""
    return _Fields(dissection)


def _kind(name: str) -> registry.Kind | None:
    info = registry.lookup(name)
    return None if info is None else info.kind


@dataclass(frozen=True, slots=True)
class _Name:
    """A name as a filter uses it, its aliases resolved when it was compiled: the fields
    it reads are those called `sources` and, for a header alias, the `http.header`
    fields whose label is `header`."""

    text: str
    sources: tuple[str, ...]
    header: str | None = None
    truth: bool = False  # a yes/no alias ("is a request"): true wherever its fields are

    @classmethod
    def resolve(cls, name: str) -> _Name:
        info = registry.lookup(name)
        if info is None or not info.alias:
            return cls(name, (name,))
        # An alias names no field of its own (the registry refuses a field of that name).
        # True wherever its fields are, unless they are yes/no fields themselves (flags).
        flags = all(_kind(other) is registry.Kind.BOOL for other in info.of) and bool(info.of)
        return cls(name, info.of, info.header, info.kind is registry.Kind.BOOL and not flags)

    def fields(self, fields: PacketFields) -> list[FieldLike]:
        found: list[FieldLike] = []
        for source in self.sources:
            found.extend(fields.fields_named(source))
        if self.header is not None:
            header = self.header
            found.extend(f for f in fields.fields_named("http.header") if f.label.lower() == header)
        if self.truth:
            return [_Truth(self.text, f.label, f) for f in found]
        return found

    def reads(self) -> Iterator[str]:
        """The field names a test of this name reads."""
        yield from self.sources
        if self.header is not None:
            yield "http.header"


@dataclass(frozen=True, slots=True)
class _Truth:
    """What a yes/no alias reads where its field is: true (its bytes are the field's)."""

    name: str
    label: str
    field: FieldLike
    value: FieldValue = True
    display: str = "true"


class _Node:
    def __call__(self, fields: PacketFields) -> bool:
        raise NotImplementedError

    def names(self) -> Iterator[_Name]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _Or(_Node):
    parts: tuple[_Node, ...]

    def __call__(self, fields: PacketFields) -> bool:
        return any(part(fields) for part in self.parts)

    def names(self) -> Iterator[_Name]:
        for part in self.parts:
            yield from part.names()


@dataclass(frozen=True, slots=True)
class _And(_Node):
    parts: tuple[_Node, ...]

    def __call__(self, fields: PacketFields) -> bool:
        return all(part(fields) for part in self.parts)

    def names(self) -> Iterator[_Name]:
        for part in self.parts:
            yield from part.names()


@dataclass(frozen=True, slots=True)
class _Not(_Node):
    part: _Node

    def __call__(self, fields: PacketFields) -> bool:
        return not self.part(fields)

    def names(self) -> Iterator[_Name]:
        return self.part.names()


@dataclass(frozen=True, slots=True)
class _Present(_Node):
    name: _Name

    def __call__(self, fields: PacketFields) -> bool:
        text = self.name.text
        if "." not in text and text in fields.prefixes:
            return True
        return bool(self.name.fields(fields))

    def names(self) -> Iterator[_Name]:
        yield self.name


@dataclass(frozen=True, slots=True)
class _Compare(_Node):
    name: _Name
    op: str
    value: Value | _Symbol

    def __call__(self, fields: PacketFields) -> bool:
        found = self.name.fields(fields)
        if self.op == "!=":
            return bool(found) and not any(fields.test(f, "==", self.value) for f in found)
        return any(fields.test(f, self.op, self.value) for f in found)

    def names(self) -> Iterator[_Name]:
        yield self.name


_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _test(field: FieldLike, op: str, literal: Value | _Symbol, fields: PacketFields) -> bool:
    if op == "==":
        return _equal(field, literal, fields)
    if op == "contains":
        return _contains(field, literal, fields)
    number = _number(field)
    if number is None or not isinstance(literal, int | float):
        return False
    return _ORDER[op](number, literal)


def _number(field: FieldLike) -> int | float | None:
    """The field's value as a number: the value itself, or the first word of a text value
    or else of the display ("64 bytes")."""
    value = field.value
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and value:
        number = _leading_number(value)
        if number is not None:
            return number
    display = field.display  # read only when needed: a packet column may not hold it
    return _leading_number(display) if display else None


def _leading_number(text: str) -> int | float | None:
    words = text.split()
    if not words:
        return None
    try:
        return int(words[0], 0)
    except ValueError:
        try:
            return float(words[0])
        except ValueError:
            return None


def _address(field: FieldLike) -> IPAddress | None:
    """The field as an IP address: its value (4 or 16 bytes, or text), else its display."""
    value = field.value
    if isinstance(value, bytes) and len(value) in (4, 16):
        return ipaddress.ip_address(value)
    if isinstance(value, str) and value:
        address = _leading_address(value)
        if address is not None:
            return address
    display = field.display
    return _leading_address(display) if display else None


def _leading_address(text: str) -> IPAddress | None:
    words = text.split()
    if not words:
        return None
    try:
        return ipaddress.ip_address(words[0])
    except ValueError:
        return None


def _words(text: str) -> set[str]:
    return {word for word in re.split(r"[^A-Za-z0-9_\-]+", text.lower()) if word}


def _equal(field: FieldLike, literal: Value | _Symbol, fields: PacketFields) -> bool:
    value = field.value
    if isinstance(literal, _Symbol):
        word = literal.word.lower()
        shown = field.display.lower()
        return (
            (isinstance(value, str) and value.lower() == word)
            or shown == word
            or word in _words(shown)
        )
    if isinstance(literal, IPNetwork):
        address = _address(field)
        return address is not None and address.version == literal.version and address in literal
    if isinstance(literal, IPAddress):
        return _address(field) == literal
    if isinstance(literal, bytes):
        data = value if isinstance(value, bytes) else fields.span(field)
        return data == literal
    if isinstance(literal, str):
        if isinstance(value, bytes):
            return value == literal.encode("utf-8", "surrogateescape")
        if isinstance(value, str):
            return value == literal
        return field.display == literal
    if isinstance(literal, bool):
        return isinstance(value, bool | int) and bool(value) == literal
    number = _number(field)
    return number is not None and number == literal


def _contains(field: FieldLike, literal: Value | _Symbol, fields: PacketFields) -> bool:
    if isinstance(literal, bytes):
        data = field.value if isinstance(field.value, bytes) else fields.span(field)
        return literal in data
    text = literal.word if isinstance(literal, _Symbol) else str(literal)
    value = field.value
    if isinstance(value, str):
        return text in value or text in field.display
    if isinstance(value, bytes) or value is None:
        data = value if isinstance(value, bytes) else fields.span(field)
        return text.encode("utf-8", "surrogateescape") in data or text in field.display
    return text in field.display


def _canonical(name: str) -> str:
    return PROTOCOL_ALIASES.get(name, name)


def _canonical_name(name: str) -> str:
    head, dot, rest = name.partition(".")
    return _canonical(head) + dot + rest


# --- the parser -------------------------------------------------------------------------


#: Parentheses and `not`s nested deeper than this are refused: parsing and testing
#: recurse once per level, and no filter a person writes comes near it.
MAX_DEPTH = 64


class _Parser:
    def __init__(self, text: str, protocols: Collection[str]) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.depth = 0
        self.protocols = {_canonical(p.lower()) for p in protocols}
        self.registered = known_protocols()

    @property
    def token(self) -> _Token:
        return self.tokens[self.position]

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> _Node:
        if self.token.kind == "end":
            raise FilterError("the filter is empty", 0)
        node = self.expr()
        token = self.token
        if token.kind == ")":
            raise FilterError("this ')' has no matching '('", token.offset)
        if token.kind != "end":
            raise FilterError(f"expected 'and', 'or' or the end, not {token.text!r}", token.offset)
        return node

    def expr(self) -> _Node:
        parts = [self.conjunction()]
        while self.token.kind == "or":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else _Or(tuple(parts))

    def conjunction(self) -> _Node:
        parts = [self.negation()]
        while self.token.kind == "and":
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else _And(tuple(parts))

    def deeper(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(
                f"more than {MAX_DEPTH} levels of '(' and 'not' nested here", token.offset
            )

    def negation(self) -> _Node:
        if self.token.kind == "not":
            self.deeper(self.take())
            node = _Not(self.negation())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> _Node:
        token = self.take()
        if token.kind == "(":
            if self.token.kind == ")":
                raise FilterError("expected a test inside '( )'", self.token.offset)
            self.deeper(token)
            node = self.expr()
            if self.token.kind != ")":
                raise FilterError("this '(' is never closed", token.offset)
            self.take()
            self.depth -= 1
            return node
        if token.kind == "end":
            before = self.tokens[self.position - 2].text if self.position > 1 else ""
            after = f" after {before!r}" if before else ""
            raise FilterError(f"expected a protocol or field name{after}", token.offset)
        if token.kind != "word":
            raise FilterError(
                f"expected a protocol or field name, not {token.text!r}", token.offset
            )
        name = self.name(token)
        if self.token.kind != "op":
            return _Present(_Name.resolve(name))
        op = self.take()
        value_token = self.take()
        if value_token.kind not in ("word", "string"):
            raise FilterError(f"expected a value after {op.text!r}", value_token.offset)
        value = _literal(value_token)
        return self.compare(name, op, value_token, value)

    def name(self, token: _Token) -> str:
        text = token.text
        if not _NAME.match(text):
            raise FilterError(f"{text!r} is not a protocol or field name", token.offset)
        name = _canonical_name(text.lower())
        protocol = name.split(".", 1)[0]
        if protocol not in self.protocols:
            known = ", ".join(sorted(self.protocols))
            close = difflib.get_close_matches(protocol, sorted(self.protocols), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise FilterError(f"unknown protocol {protocol!r}{hint} (known: {known})", token.offset)
        if "." in name and protocol in self.registered and registry.lookup(name) is None:
            raise FilterError(_unknown_field(text, name), token.offset)
        return name

    def compare(self, name: str, op: _Token, token: _Token, value: Value | _Symbol) -> _Node:
        operator = op.text
        if operator in ("<", ">", "<=", ">=") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise FilterError(
                f"{op.text!r} compares numbers; {token.text!r} is not one", token.offset
            )
        if operator == "contains" and isinstance(value, int | float | IPAddress | IPNetwork):
            raise FilterError(
                'contains needs text ("hi") or bytes (81:85), not a number or address',
                token.offset,
            )
        return _Compare(_Name.resolve(name), operator, value)


def _unknown_field(text: str, name: str) -> str:
    """'no field is called …', with the names most like it."""
    said = f"no field is called {text!r}"
    close = registry.closest(name)
    if text.lower().startswith("websocket."):  # say them as they were typed
        close = ["websocket." + c.split(".", 1)[1] if c.startswith("ws.") else c for c in close]
    if not close:
        return f"{said} (wirelab dissect --fields lists them all)"
    return f"{said}; did you mean {' or '.join(close)}?"


# --- the public face --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filter:
    """A compiled display filter: call it with a dissection (or `matches` any
    `PacketFields`)."""

    text: str
    _test: _Node | None = None
    needs: frozenset[str] = field(init=False, compare=False, repr=False)
    """Every field name a test reads, aliases resolved (`tcp.port` reads `tcp.srcport`
    and `tcp.dstport`, `http.host` the `http.header` fields); a bare protocol name
    (`tcp`) stands for itself and the first words of the packet's field names."""

    def __post_init__(self) -> None:
        names = self._test.names() if self._test is not None else iter(())
        object.__setattr__(self, "needs", frozenset(n for name in names for n in name.reads()))

    @property
    def everything(self) -> bool:
        """True for the empty filter, which matches every dissection."""
        return self._test is None

    def __call__(self, dissection: Dissection) -> bool:
        if self._test is None:
            return True
        return self._test(_Fields(dissection))

    def matches(self, fields: PacketFields) -> bool:
        """Test one packet's fields; raises `Undecided` if `fields` cannot answer."""
        return self._test is None or self._test(fields)

    def __str__(self) -> str:
        return self.text


def compile_filter(text: str, *, protocols: Collection[str] = ()) -> Filter:
    """Compile `text`; blank text gives the filter that matches everything.

    Every name must be registered (`simulator.dissect.registry`); `protocols` adds
    first words the registry does not know, whose fields are then not checked.
    Raises `FilterError` (with `.offset` and `.column`) for the first problem.
    """
    if not text.strip():
        return Filter(text)
    known = set(protocols) | known_protocols() | set(PROTOCOL_ALIASES)
    return Filter(text, _Parser(text, known).parse())


def explain_error(text: str, error: FilterError) -> Iterator[str]:
    """The filter and a caret under the problem, for terminal output."""
    yield text
    yield " " * error.offset + "^ " + error.message


__all__ = [
    "PROTOCOL_ALIASES",
    "FieldLike",
    "Filter",
    "FilterError",
    "Operand",
    "PacketFields",
    "Undecided",
    "compile_filter",
    "dissection_fields",
    "explain_error",
]
