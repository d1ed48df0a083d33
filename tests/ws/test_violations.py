"""Violations as data: every rule the engine enforces is reachable, and every refusal names one.

Readers (the sandbox, the dissector, these tests) decide on `ConnectionFailed.violation`,
never on the words of the reason. These invariants keep that honest:

- every `Violation` member is produced by some bytes: the conformance cases
  (`tests/must_cases.py`) or the table below, each with the connection it needs;
- every refusal in them carries a violation, and its close code is the one the
  engine sends on the wire;
- every place in the package that raises `ProtocolError` or reports
  `ConnectionFailed` says which violation (or None, on purpose).
"""

from __future__ import annotations

import ast
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import simulator
from simulator.ws import (
    Config,
    Connection,
    ConnectionFailed,
    Opcode,
    ProtocolError,
    Request,
    Role,
    Violation,
)
from simulator.ws.close_codes import is_valid_on_wire
from simulator.ws.connection import max_fragments
from simulator.ws.deflate import TAIL, PerMessageDeflate
from simulator.ws.frames import FrameReader
from tests.must_cases import CASES, KEY, MustCase, masked
from tests.ws.helpers import (
    RFC_REQUEST,
    close_code_of,
    feed,
    frames_of,
    open_client,
    open_server,
    unmask_wire,
)

# --- the enum itself ----------------------------------------------------------------------


@pytest.mark.parametrize("violation", list(Violation), ids=lambda v: v.name)
def test_each_violation_names_a_section_a_close_code_and_a_rule(violation: Violation) -> None:
    assert re.fullmatch(r"RFC (6455|7692) §\d+(\.\d+)*", violation.section), violation.section
    assert f"{violation.rfc} {violation.clause}" == violation.section
    # A code a close frame may carry, and one that says the peer is at fault.
    assert is_valid_on_wire(violation.close_code)
    assert violation.close_code in (1002, 1007, 1009)
    assert violation.rule and "\n" not in violation.rule
    assert violation.rule == violation.rule.strip() and not violation.rule.endswith(".")
    assert violation.cited == f"{violation.section}: {violation.rule}"


# --- every member is reachable ------------------------------------------------------------


def deflate_server(max_size: int | None = 1 << 20) -> Connection:
    """A server that accepted permessage-deflate from a client written by hand."""
    server = Connection(
        Role.SERVER, config=Config(max_size=max_size, extensions=(PerMessageDeflate,))
    )
    server.receive_data(RFC_REQUEST[:-2] + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    assert [type(e) for e in server.events()] == [Request]
    server.accept()
    server.data_to_send()
    return server


def compressed(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


@dataclass(frozen=True)
class Reach:
    """Bytes that make `receiver()` fail with `violation`, beyond the conformance cases."""

    id: str
    receiver: Callable[[], Connection]
    wire: bytes
    violation: Violation


LIMITED = 1000  # a small message size limit, for the size rules
MOST = max_fragments(LIMITED)

TABLE = [
    Reach(
        "masked-server-frame",
        open_client,
        masked(Opcode.TEXT, b"hi"),
        Violation.MASKED_SERVER_FRAME,
    ),
    Reach(
        "too-many-fragments",
        lambda: open_server(Config(max_size=LIMITED)),
        masked(Opcode.BINARY, b"", fin=False) + masked(Opcode.CONTINUATION, b"", fin=False) * MOST,
        Violation.TOO_MANY_FRAGMENTS,
    ),
    Reach(
        "rsv1-on-a-control-frame",
        deflate_server,
        masked(Opcode.PING, b"?", rsv1=True),
        Violation.RSV_ON_CONTROL_FRAME,
    ),
    Reach(
        "rsv1-on-a-continuation-frame",
        deflate_server,
        masked(Opcode.TEXT, compressed(b"hello")[:2], fin=False, rsv1=True)
        + masked(Opcode.CONTINUATION, compressed(b"hello")[2:], rsv1=True),
        Violation.RSV1_ON_CONTINUATION,
    ),
    Reach(
        "corrupt-compressed-data",
        deflate_server,
        masked(Opcode.BINARY, b"\xff\xff\xff", rsv1=True),
        Violation.CORRUPT_COMPRESSED_DATA,
    ),
    Reach(
        "inflates-past-the-limit",
        lambda: deflate_server(max_size=LIMITED),
        masked(Opcode.BINARY, compressed(bytes(LIMITED + 1)), rsv1=True),
        Violation.INFLATED_TOO_BIG,
    ),
    Reach(
        "compressed-frame-far-past-the-limit",
        lambda: deflate_server(max_size=LIMITED),
        masked(Opcode.BINARY, bytes(5 * LIMITED), rsv1=True)[:8],  # its header is enough
        Violation.FRAME_TOO_BIG,
    ),
    Reach(
        "compressed-text-not-utf8",
        deflate_server,
        masked(Opcode.TEXT, compressed(b"\xc3\x28"), rsv1=True),
        Violation.TEXT_NOT_UTF8,
    ),
]


@dataclass(frozen=True)
class Refusal:
    """One conformance case run: the failure event and the close frame sent for it."""

    failure: ConnectionFailed
    wire_code: int | None


def refuse(receiver: Connection, wire: bytes) -> Refusal:
    events = feed(receiver, [wire])
    failures = [e for e in events if isinstance(e, ConnectionFailed)]
    assert len(failures) == 1, events
    [close] = [f for f in frames_of(receiver.data_to_send()) if f.opcode == Opcode.CLOSE]
    return Refusal(failures[0], close_code_of(close))


def every_refusal() -> list[tuple[str, Violation, Refusal]]:
    """Each conformance case (both roles) and each table row, run through the engine."""
    runs = []
    for case in CASES:
        runs.append((f"server {case.id}", case.violation, refuse(open_server(), case.wire)))
        if case.violation is not Violation.UNMASKED_CLIENT_FRAME:
            client = open_client()
            runs.append(
                (f"client {case.id}", case.violation, refuse(client, unmask_wire(case.wire)))
            )
    for row in TABLE:
        runs.append((row.id, row.violation, refuse(row.receiver(), row.wire)))
    return runs


REFUSALS = every_refusal()


def test_every_violation_is_reachable() -> None:
    reached = {run.failure.violation for _, _, run in REFUSALS}
    assert reached == set(Violation), f"never reported: {set(Violation) - reached}"


@pytest.mark.parametrize(
    ("name", "expected", "run"), REFUSALS, ids=[name for name, _, _ in REFUSALS]
)
def test_every_refusal_names_its_violation_and_sends_its_close_code(
    name: str, expected: Violation, run: Refusal
) -> None:
    violation = run.failure.violation
    assert violation is expected, run.failure
    assert run.failure.code == violation.close_code
    assert run.wire_code == violation.close_code  # what the peer reads on the wire


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_conformance_table_and_the_enum_agree(case: MustCase) -> None:
    # Written apart (the table from RFC 6455, the enum in the engine): they must agree.
    assert case.violation.close_code == case.close_code
    assert case.violation.section == f"RFC 6455 {case.rule}"


def test_the_frame_reader_s_own_limits_name_their_violation() -> None:
    reader = FrameReader(max_payload=4)
    reader.feed(masked(Opcode.BINARY, b"too long"))
    with pytest.raises(ProtocolError) as caught:
        reader.next_frame()
    assert caught.value.violation is Violation.FRAME_TOO_BIG
    assert caught.value.close_code == Violation.FRAME_TOO_BIG.close_code

    reader = FrameReader()
    reader.feed(bytes([0x82, 0xFF]) + (1 << 63 | 5).to_bytes(8, "big") + KEY)
    with pytest.raises(ProtocolError) as caught:
        reader.next_frame()
    assert caught.value.violation is Violation.LENGTH_TOP_BIT


def test_a_lost_transport_breaks_no_rule() -> None:
    server = open_server()
    server.receive_eof()
    [failed] = server.events()
    assert isinstance(failed, ConnectionFailed)
    assert (failed.code, failed.violation) == (1006, None)


def test_a_protocol_error_takes_its_close_code_from_its_violation() -> None:
    error = ProtocolError("too big", violation=Violation.MESSAGE_TOO_BIG)
    assert error.close_code == 1009 and error.reason == "too big"
    assert ProtocolError("no").close_code == 1002 and ProtocolError("no").violation is None


# --- every raise site says which ----------------------------------------------------------

PACKAGE = Path(simulator.__file__).parent
NAMED = ("ProtocolError", "ConnectionFailed")


def sites() -> list[tuple[str, int, str, bool]]:
    """Every `ProtocolError(...)` and `ConnectionFailed(...)` built in the package:
    (module, line, name, whether it passes violation=)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in NAMED:
                named = any(keyword.arg == "violation" for keyword in node.keywords)
                module = path.relative_to(PACKAGE.parent).as_posix()
                found.append((module, node.lineno, name, named))
    return found


def test_every_raise_site_names_its_violation() -> None:
    found = sites()
    assert len(found) >= 20  # the walk sees the engine's raise sites
    unnamed = [f"{module}:{line} {name}" for module, line, name, named in found if not named]
    assert not unnamed, "say which Violation (or violation=None, on purpose):\n" + "\n".join(
        unnamed
    )
