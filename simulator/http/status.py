"""Status codes and their reason phrases (RFC 9110 §15; 431 is RFC 6585 §5)."""

from __future__ import annotations

REASONS = {
    100: "Continue",
    101: "Switching Protocols",
    200: "OK",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

# RFC 9110 §15: the first digit is the class; a client that does not know a code
# treats it as the x00 of its class.
_CLASSES = {
    1: "Informational",
    2: "Successful",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
}


def reason(status: int) -> str:
    """The reason phrase of `status`; for a code not in `REASONS`, its class's name."""
    return REASONS.get(status) or _CLASSES.get(status // 100, "Unknown")
