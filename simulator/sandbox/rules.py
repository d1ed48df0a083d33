"""The RFC rule behind a refusal: the engine's `Violation`, in the failing frame's numbers.

The engine names the rule a frame broke (`ConnectionFailed.violation`): its
section, its close code, the rule in a line. The sandbox only says it with the
frame's own numbers where that helps ("an unknown opcode (here 0xb)", which
range an invalid close code falls in), read from the frame's bytes as
`FrameFacts`. It never reads the engine's reason text to find the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from simulator.sandbox.model import frame_spans, payload_of, read_shape
from simulator.ws.close_codes import explain
from simulator.ws.frames import OPCODE, Opcode
from simulator.ws.mask import apply_mask
from simulator.ws.violations import Violation


@dataclass(frozen=True, slots=True)
class FrameFacts:
    """The numbers of one frame the rules quote, read from its header and payload bytes."""

    opcode: int
    length: int | None  # as announced; None while the extended length bytes are missing
    close_code: int | None  # a close frame's status code (its first 2 payload bytes)
    limit: int  # the receiver's message size limit (`Config.max_size`)

    def words(self, template: str) -> str:
        """`template` with these numbers in its {fields}."""
        return template.format(
            opcode=self.opcode, length=self.length, close_code=self.close_code, limit=self.limit
        )


def frame_facts(data: bytes, *, limit: int) -> list[FrameFacts]:
    """The facts of every frame whose header starts in `data`, in order."""
    found: list[FrameFacts] = []
    for start, end in frame_spans(data):
        piece = data[start:end]
        shape = read_shape(piece)
        if shape is None:
            break
        opcode = shape.first & OPCODE
        code = None
        if opcode == Opcode.CLOSE:
            payload, _ = payload_of(piece, shape)
            clear = apply_mask(payload, shape.masking_key) if shape.masking_key else payload
            code = int.from_bytes(clear[:2], "big") if len(clear) >= 2 else None
        found.append(FrameFacts(opcode, shape.length, code, limit))
    return found


class Citation(NamedTuple):
    """A rule as the sandbox cites it: "RFC 6455", "§5.2", and the rule's words."""

    rfc: str
    section: str
    text: str

    @property
    def rule(self) -> str:
        """ "RFC 6455 §5.2: RSV1, RSV2 and RSV3 MUST be 0 ..."."""
        return f"{self.rfc} {self.section}: {self.text}"


def _reserved_opcode(facts: FrameFacts) -> tuple[str, str] | None:
    return "§5.2", (
        f"opcodes 0x3-0x7 and 0xB-0xF are reserved; if an unknown opcode (here "
        f"{facts.opcode:#x}) is received, the receiving endpoint MUST fail the connection"
    )


def _control_frame_too_long(facts: FrameFacts) -> tuple[str, str] | None:
    if facts.length is None:
        return None
    return "§5.5", (
        f"all control frames MUST have a payload length of 125 bytes or less (this one "
        f"announced {facts.length}) and MUST NOT be fragmented"
    )


def _invalid_close_code(facts: FrameFacts) -> tuple[str, str] | None:
    code = facts.close_code
    if code is None:
        return None
    if code in (1005, 1006, 1015):
        return "§7.4.1", (
            f"{code} is a reserved value and MUST NOT be set as a status code in a Close "
            "control frame by an endpoint (it only reports what happened)"
        )
    if code < 1000:
        return "§7.4.2", "status codes in the range 0-999 are not used"
    if code == 1004:
        return "§7.4.1", "1004 is reserved: its meaning might be defined in the future"
    if code < 3000:
        return "§7.4.2", (
            f"1000-2999 are kept for this protocol and its extensions; {code} is not "
            "defined by RFC 6455 nor registered with IANA"
        )
    return "§7.4.2", f"status codes run from 1000 to 4999; {code} is outside every range"


# The violations whose rule reads better with the frame's numbers: (section, text), or None
# when the facts lack the number (then the violation's own rule).
_IN_NUMBERS: dict[Violation, Callable[[FrameFacts], tuple[str, str] | None]] = {
    Violation.RESERVED_OPCODE: _reserved_opcode,
    Violation.CONTROL_FRAME_TOO_LONG: _control_frame_too_long,
    Violation.INVALID_CLOSE_CODE: _invalid_close_code,
}

# When no rule applies: what the close code alone says (RFC 6455 §7.4.1).
_BY_CODE = {
    1002: "1002 indicates that an endpoint is terminating the connection due to a protocol error",
    1003: "1003 indicates that an endpoint received a type of data it cannot accept",
    1007: "1007 indicates that an endpoint received data within a message that was not "
    "consistent with the type of the message (e.g. non-UTF-8 data within a text message)",
    1008: "1008 indicates that an endpoint received a message that violates its policy",
    1009: "1009 indicates that an endpoint received a message that is too big for it to process",
}


def cite(violation: Violation | None, close_code: int, facts: FrameFacts | None = None) -> Citation:
    """The rule behind a failure the engine reported with `close_code`.

    The violation's own section and rule, said with `facts` (the failing frame's
    numbers) where that helps. No violation, or a close code other than the one the
    violation calls for, falls back on what the close code means (§7.4.1).
    """
    if violation is not None and violation.close_code == close_code:
        refine = _IN_NUMBERS.get(violation)
        refined = None if refine is None or facts is None else refine(facts)
        if refined is not None:
            return Citation(violation.rfc, *refined)
        return Citation(violation.rfc, violation.clause, violation.rule)
    text = _BY_CODE.get(close_code, f"close code {close_code} means {explain(close_code)}")
    return Citation("RFC 6455", "§7.4.1", text)


def rule_for(
    violation: Violation | None, close_code: int, facts: FrameFacts | None = None
) -> tuple[str, str]:
    """(section, rule) for a failure: `cite`'s "§5.2" and "RFC 6455 §5.2: a server ..."."""
    citation = cite(violation, close_code, facts)
    return citation.section, citation.rule
