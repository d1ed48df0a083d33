"""wirelab's own site on one port, as `wirelab serve` runs it.

A plain HTTP GET of `/` (or of a file next to it) gets the browser page from
`assets/`; a WebSocket upgrade to `/chat` joins the chat broker; any other
WebSocket path echoes. The server itself knows none of this: the services and
the page are chosen here.
"""

from __future__ import annotations

from typing import Any

from simulator.live.chat import Broker
from simulator.live.server import Echo, Server
from simulator.live.static import answer


def site(**options: Any) -> Server:
    """A `Server` (with `options`: host, port, config, tap, limits…) serving the page,
    the broker at `/chat` and an echo on any other path."""
    return Server(services={"/chat": Broker()}, default=Echo(), http=answer, **options)


__all__ = ["site"]
