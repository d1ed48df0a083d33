"""The root of wirelab's error hierarchy.

WirelabError
├── ws.errors.WebSocketError
│   ├── ProtocolError        the peer broke RFC 6455; carries the rule and the close code
│   │   └── HandshakeError   the opening handshake failed; carries the HTTP status
│   └── UsageError           the program called the engine at the wrong time
├── http.HttpError           an HTTP message cannot be taken; carries the HTTP status
│                            (a HandshakeError is one too)
└── (later layers add theirs: lessons, pcap, ...)
"""

from __future__ import annotations


class WirelabError(Exception):
    """Base class of every error wirelab raises on purpose."""
