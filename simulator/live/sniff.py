"""The kernel's own packets: `wirelab serve --capture` records the loopback interface.

The socket tap shows what the server wrote and read; the kernel turns that into
real TCP segments — the handshake, the segmentation, the ACKs, the FIN
teardown. This captures them with scapy (a packet socket on the loopback
interface, a BPF filter for the server's port) and appends each, as a
`Layer.LINK` record on its own capture interface, to the same trace.

Capturing needs root or CAP_NET_RAW. Without it, `start_capture` raises
`CaptureUnavailable` with one line saying so, and the caller carries on.
The sniffer runs in a thread of scapy's; records are handed to the event loop
with `call_soon_threadsafe`, so the trace (and everything watching it) is only
ever touched from the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from simulator.errors import WirelabError
from simulator.trace import Layer, LinkType, Trace

KERNEL_INTERFACE = 1  # the trace's interface number for captured packets (0: none)
KERNEL_INTERFACE_NAME = "lo (kernel)"
START_TIMEOUT = 5.0
STOP_TIMEOUT = 2.0


class CaptureUnavailable(WirelabError):
    """This process cannot capture packets; the message says why, in one line."""


def _open_problem(error: OSError, iface: str) -> str:
    if isinstance(error, PermissionError):
        return (
            f"cannot capture on {iface}: it needs root or CAP_NET_RAW "
            "(sudo, or setcap cap_net_raw+ep on the Python interpreter); carrying on without "
            "the kernel's packets"
        )
    return f"cannot capture on {iface}: {error.strerror or error}; carrying on without it"


def can_capture(iface: str = "lo") -> str | None:
    """None when packets on `iface` can be captured, else the reason they cannot."""
    # scapy logs guesses about the interface on stderr, which would scribble on a TUI.
    logging.getLogger("scapy").setLevel(logging.ERROR)
    try:
        import scapy.arch  # noqa: F401 - sets conf.L2listen for this platform
        from scapy.config import conf

        sock = conf.L2listen(iface=iface)
    except OSError as error:
        return _open_problem(error, iface)
    except Exception as error:  # scapy reports some failures as its own errors
        return f"cannot capture on {iface}: {error}; carrying on without it"
    sock.close()
    return None


class KernelCapture:
    """Captures the TCP packets of one port on the loopback interface into a trace."""

    def __init__(
        self,
        trace: Trace,
        port: int,
        *,
        loop: asyncio.AbstractEventLoop,
        iface: str = "lo",
    ) -> None:
        self.trace = trace
        self.port = port
        self.loop = loop
        self.iface = iface
        self.packets = 0
        self._sniffer: Any = None
        self._unpaired: bytes | None = None

    def start(self) -> None:
        """Start capturing; raises `CaptureUnavailable` when this process may not."""
        problem = can_capture(self.iface)
        if problem is not None:
            raise CaptureUnavailable(problem)
        from scapy.sendrecv import AsyncSniffer

        ready = threading.Event()
        self._sniffer = AsyncSniffer(
            iface=self.iface,
            filter=f"tcp port {self.port}",
            store=False,
            prn=self._seen,
            started_callback=ready.set,
        )
        try:
            self._sniffer.start()
        except OSError as error:
            self._sniffer = None
            raise CaptureUnavailable(_open_problem(error, self.iface)) from None
        # Return once the socket listens, so the first connection's SYN is seen.
        if not ready.wait(START_TIMEOUT):
            self.stop()
            raise CaptureUnavailable(
                f"the capture on {self.iface} did not start within {START_TIMEOUT:g} s; "
                "carrying on without it"
            )

    def _seen(self, packet: Any) -> None:
        # In scapy's thread. A packet socket on the loopback interface sees every packet
        # twice, leaving and arriving, back to back; keep one of each pair.
        data = bytes(packet.original if packet.original else bytes(packet))
        if data == self._unpaired:
            self._unpaired = None
            return
        self._unpaired = data
        when = float(packet.time)
        self.loop.call_soon_threadsafe(self._append, when, data)

    def _append(self, when: float, data: bytes) -> None:
        self.packets += 1
        self.trace.append(
            when, Layer.LINK, data, link_type=LinkType.ETHERNET, interface=KERNEL_INTERFACE
        )

    def stop(self) -> None:
        """Stop the sniffer thread (bounded wait)."""
        sniffer, self._sniffer = self._sniffer, None
        if sniffer is None:
            return
        try:
            sniffer.stop(join=False)
        except Exception:  # already stopped, or never got going
            return
        thread = getattr(sniffer, "thread", None)
        if thread is not None:
            thread.join(STOP_TIMEOUT)


__all__ = [
    "KERNEL_INTERFACE",
    "KERNEL_INTERFACE_NAME",
    "CaptureUnavailable",
    "KernelCapture",
    "can_capture",
]
