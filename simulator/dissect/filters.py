"""Display filters: a small Wireshark-like language over dissected field trees.

Theory of operation. A filter is text a learner types, such as

    ws.opcode == text and not (tcp.port == 8765 or ip.addr == 10.0.0.0/8)

`compile_filter` turns it into a `Filter`, or raises `FilterError` naming the
column of the first problem. A `Filter` is called with a `Dissection` and
answers whether it matches. Nothing here knows a protocol's bytes: tests read
the field tree (`Field.name`, `.value`, `.display`) and, for `contains` on a
field without a value, the bytes of the field's span.

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

import ipaddress
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from simulator.dissect.fields import Dissection, Field, FieldValue
from simulator.errors import WirelabError

PROTOCOLS: frozenset[str] = frozenset(
    {
        *("frame", "eth", "sll", "null", "loop", "arp"),  # link
        *("ip", "ipv6", "icmp", "icmpv6"),  # network
        *("tcp", "udp", "stream", "data"),  # transport, and bytes nothing recognised
        *("http", "ws"),  # application
    }
)
"""The first word of a name must be one of these (or an alias below): catches `tpc.port`."""

PROTOCOL_ALIASES: dict[str, str] = {"websocket": "ws", "ipv4": "ip"}

FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "ip.addr": ("ip.src", "ip.dst"),
    "ipv6.addr": ("ipv6.src", "ipv6.dst"),
    "tcp.port": ("tcp.srcport", "tcp.dstport"),
    "udp.port": ("udp.srcport", "udp.dstport"),
}
"""Names that stand for either of two fields, as in Wireshark."""


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


class _Fields:
    """A dissection's fields by (lower-case) name, built once per evaluation."""

    def __init__(self, dissection: Dissection) -> None:
        self.dissection = dissection
        self.by_name: dict[str, list[Field]] = {}
        self.prefixes: set[str] = {_canonical(dissection.protocol.lower())}
        for _, field in dissection.walk():
            name = _canonical_name(field.name.lower())
            self.by_name.setdefault(name, []).append(field)
            self.prefixes.add(name.split(".", 1)[0])

    def named(self, name: str) -> list[Field]:
        found = list(self.by_name.get(name, ()))
        for alias in FIELD_ALIASES.get(name, ()):
            found.extend(self.by_name.get(alias, ()))
        return found

    def span(self, field: Field) -> bytes:
        buffers = self.dissection.buffers
        if not 0 <= field.buffer < len(buffers):
            return b""
        return buffers[field.buffer].data[field.start : field.end]


class _Node:
    def __call__(self, fields: _Fields) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _Or(_Node):
    parts: tuple[_Node, ...]

    def __call__(self, fields: _Fields) -> bool:
        return any(part(fields) for part in self.parts)


@dataclass(frozen=True, slots=True)
class _And(_Node):
    parts: tuple[_Node, ...]

    def __call__(self, fields: _Fields) -> bool:
        return all(part(fields) for part in self.parts)


@dataclass(frozen=True, slots=True)
class _Not(_Node):
    part: _Node

    def __call__(self, fields: _Fields) -> bool:
        return not self.part(fields)


@dataclass(frozen=True, slots=True)
class _Present(_Node):
    name: str

    def __call__(self, fields: _Fields) -> bool:
        if "." not in self.name and self.name in fields.prefixes:
            return True
        return bool(fields.named(self.name))


@dataclass(frozen=True, slots=True)
class _Compare(_Node):
    name: str
    op: str
    value: Value | _Symbol

    def __call__(self, fields: _Fields) -> bool:
        found = fields.named(self.name)
        if self.op == "!=":
            return bool(found) and not any(_equal(f, self.value, fields) for f in found)
        return any(_test(f, self.op, self.value, fields) for f in found)


def _test(field: Field, op: str, literal: Value | _Symbol, fields: _Fields) -> bool:
    if op == "==":
        return _equal(field, literal, fields)
    if op == "contains":
        return _contains(field, literal, fields)
    number = _number(field)
    if number is None or not isinstance(literal, int | float):
        return False
    compare: dict[str, Callable[[float, float], bool]] = {
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }
    return compare[op](number, literal)


def _number(field: Field) -> int | float | None:
    value = field.value
    if isinstance(value, bool | int | float):
        return value
    for text in (value if isinstance(value, str) else None, field.display):
        if text:
            first = text.split()[0]
            try:
                return int(first, 0)
            except ValueError:
                try:
                    return float(first)
                except ValueError:
                    continue
    return None


def _address(value: FieldValue, display: str) -> IPAddress | None:
    if isinstance(value, bytes) and len(value) in (4, 16):
        return ipaddress.ip_address(value)
    for text in (value if isinstance(value, str) else None, display):
        if text:
            try:
                return ipaddress.ip_address(text.split()[0])
            except ValueError:
                continue
    return None


def _words(text: str) -> set[str]:
    return {word for word in re.split(r"[^A-Za-z0-9_\-]+", text.lower()) if word}


def _equal(field: Field, literal: Value | _Symbol, fields: _Fields) -> bool:
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
        address = _address(value, field.display)
        return address is not None and address.version == literal.version and address in literal
    if isinstance(literal, IPAddress):
        return _address(value, field.display) == literal
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


def _contains(field: Field, literal: Value | _Symbol, fields: _Fields) -> bool:
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
            return _Present(name)
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
            raise FilterError(f"unknown protocol {protocol!r} (known: {known})", token.offset)
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
        return _Compare(name, operator, value)


# --- the public face --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filter:
    """A compiled display filter: call it with a dissection."""

    text: str
    _test: _Node | None = None

    @property
    def everything(self) -> bool:
        """True for the empty filter, which matches every dissection."""
        return self._test is None

    def __call__(self, dissection: Dissection) -> bool:
        if self._test is None:
            return True
        return self._test(_Fields(dissection))

    def __str__(self) -> str:
        return self.text


def compile_filter(text: str, *, protocols: Collection[str] = PROTOCOLS) -> Filter:
    """Compile `text`; blank text gives the filter that matches everything.

    Raises `FilterError` (with `.offset` and `.column`) for the first problem.
    """
    if not text.strip():
        return Filter(text)
    known = set(protocols) | set(PROTOCOL_ALIASES)
    return Filter(text, _Parser(text, known).parse())


def explain_error(text: str, error: FilterError) -> Iterator[str]:
    """The filter and a caret under the problem, for terminal output."""
    yield text
    yield " " * error.offset + "^ " + error.message


__all__ = ["FIELD_ALIASES", "PROTOCOLS", "Filter", "FilterError", "compile_filter", "explain_error"]
