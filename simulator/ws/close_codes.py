"""Close codes (RFC 6455 §7.4) and what each one means, in a learner's words."""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """Status codes a close frame may carry (RFC 6455 §7.4.1, IANA registry)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


EXPLANATIONS: dict[int, str] = {
    1000: "normal closure: the purpose of the connection has been fulfilled",
    1001: "going away: the server is shutting down or the browser left the page",
    1002: "protocol error: the peer broke a rule of RFC 6455",
    1003: "unsupported data: a kind of message the endpoint cannot accept",
    1005: "no status received: the close frame carried no code (never sent on the wire)",
    1006: "abnormal closure: the connection dropped without a close frame (never sent)",
    1007: "invalid payload data: e.g. a text message that is not valid UTF-8",
    1008: "policy violation: a message broke the endpoint's policy",
    1009: "message too big: more data than the endpoint is willing to process",
    1010: "mandatory extension: the client needed an extension the server did not accept",
    1011: "internal error: the server hit an unexpected condition",
    1012: "service restart: the server is restarting",
    1013: "try again later: the server is overloaded or dropped a slow reader",
    1014: "bad gateway: a gateway received an invalid response upstream",
    1015: "TLS handshake failure (never sent on the wire)",
}


def explain(code: int) -> str:
    """One line on what `code` means, including the registry ranges."""
    if code in EXPLANATIONS:
        return EXPLANATIONS[code]
    if 3000 <= code <= 3999:
        return "registered for libraries, frameworks and applications (IANA)"
    if 4000 <= code <= 4999:
        return "private use: its meaning is agreed between the two applications"
    return "not a valid close code"


def is_valid_on_wire(code: int) -> bool:
    """May a close frame carry `code`? (RFC 6455 §7.4.1-§7.4.2.)

    1005, 1006 and 1015 are reserved for reporting and MUST NOT be sent; codes
    below 1000 are unused; 1004 and 1016-2999 are reserved or unassigned.
    """
    return (1000 <= code <= 1003) or (1007 <= code <= 1014) or (3000 <= code <= 4999)
