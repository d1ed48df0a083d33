"""The kernel's own packets of the server's connections, captured on the loopback interface.

The socket tap records what the server wrote and read. Below it, the kernel
turned those bytes into TCP segments: the three-way handshake, the data, the
ACKs, the FIN teardown (RFC 9293 §3.5, §3.6). `start_capture` records those
segments with scapy's packet socket (Linux `AF_PACKET`) and appends each one
to the same trace as a `Layer.LINK` record on interface `KERNEL_INTERFACE`
("lo (kernel)"), so a view can tell them from the socket-level chunks.

How the capture works:

- one packet socket on the interface, with a classic BPF program attached that
  keeps only TCP packets to or from the server's port. The loopback interface
  shows a packet socket every packet twice, once leaving and once arriving;
  the program keeps the arriving copy (as tcpdump does on `lo`). It is built
  here, so neither libpcap nor tcpdump is needed (scapy compiles filter text
  with libpcap, and fails without it);
- a reader thread drains the socket and hands packets to the event loop in
  batches (`loop.call_soon_threadsafe`): the trace and everything watching it
  are only ever touched from the loop's thread;
- `stop()` wakes the thread, joins it (bounded), appends what is left and
  reads the kernel's drop counter: packets that arrived while the socket's
  buffer was full are lost, and `stats.dropped` says how many.

Capturing needs root or CAP_NET_RAW. Without it `start_capture` raises
`CaptureUnavailable` with one line saying so, which the caller prints and
carries on; `can_capture()` gives the same line, or None when it can.

Checksums: the IPv4 header checksum is always computed in software and is
correct. The TCP checksum of a loopback packet is usually not filled in: the
kernel leaves it to "hardware" (checksum offload), the loopback device has
none and needs none, so the field holds only the pseudo-header's sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import select
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any

from simulator.errors import WirelabError
from simulator.trace import Layer, LinkType, Trace

KERNEL_INTERFACE = 1  # the trace's interface number for captured packets
KERNEL_INTERFACE_NAME = "lo (kernel)"  # its name, for a pcapng interface block
SNAPLEN = 262144  # bytes kept of a packet: all of one (loopback segments reach 64 KiB)
RECEIVE_BUFFER = 8 << 20  # the socket's buffer: a burst waits here while the thread catches up
STOP_TIMEOUT = 2.0  # seconds to wait for the reader thread
BATCH = 256  # packets read before handing them to the loop

# Linux constants (include/uapi/linux/...) the socket module does not name.
_SO_ATTACH_FILTER = 26
_SO_RCVBUFFORCE = 33
_SOL_PACKET = 263
_PACKET_STATISTICS = 6
_PACKET_OUTGOING = 4
_ARPHRD_ETHER = 1
_ARPHRD_LOOPBACK = 772


class CaptureUnavailable(WirelabError):
    """This process cannot capture packets; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """What one capture saw: packets appended to the trace, and packets the kernel dropped
    because the socket's buffer was full."""

    packets: int
    dropped: int

    def __str__(self) -> str:
        text = f"{self.packets} kernel packet{'s' * (self.packets != 1)} captured"
        if self.dropped:
            text += f", {self.dropped} dropped (the capture could not keep up)"
        return text


# --- the filter: classic BPF (Linux Documentation/networking/filter.rst) ---------------

_LD_W_ABS, _LD_H_ABS, _LD_B_ABS = 0x20, 0x28, 0x30
_LD_H_IND = 0x48
_LDX_B_MSH = 0xB1  # X = 4 * (packet[k] & 0x0F): the IPv4 header's length
_JEQ, _JSET = 0x15, 0x45
_RET = 0x06
_SKF_AD_PKTTYPE = (-0x1000 + 4) & 0xFFFFFFFF  # an ancillary load: the packet's direction


def tcp_port_filter(port: int, *, snaplen: int = SNAPLEN) -> bytes:
    """A BPF program (`struct sock_filter[]`) for Ethernet-framed packets: keep arriving
    TCP segments, over IPv4 or IPv6, whose source or destination port is `port`."""
    # (code, k, where to go if true, where if false): a label, or None for the next one.
    program: list[tuple[str, int, int, str | None, str | None]] = [
        ("", _LD_W_ABS, _SKF_AD_PKTTYPE, None, None),
        ("", _JEQ, _PACKET_OUTGOING, "drop", None),
        ("", _LD_H_ABS, 12, None, None),  # the EtherType
        ("", _JEQ, 0x0800, "ipv4", None),
        ("", _JEQ, 0x86DD, "ipv6", "drop"),
        ("ipv4", _LD_B_ABS, 14 + 9, None, None),  # Protocol
        ("", _JEQ, socket.IPPROTO_TCP, None, "drop"),
        ("", _LD_H_ABS, 14 + 6, None, None),  # Flags and Fragment Offset
        ("", _JSET, 0x1FFF, "drop", None),  # a later fragment has no TCP header
        ("", _LDX_B_MSH, 14, None, None),
        ("", _LD_H_IND, 14, None, None),  # TCP source port
        ("", _JEQ, port, "keep", None),
        ("", _LD_H_IND, 14 + 2, None, None),  # TCP destination port
        ("", _JEQ, port, "keep", "drop"),
        ("ipv6", _LD_B_ABS, 14 + 6, None, None),  # Next Header (TCP right after, on lo)
        ("", _JEQ, socket.IPPROTO_TCP, None, "drop"),
        ("", _LD_H_ABS, 14 + 40, None, None),
        ("", _JEQ, port, "keep", None),
        ("", _LD_H_ABS, 14 + 42, None, None),
        ("", _JEQ, port, "keep", "drop"),
        ("keep", _RET, snaplen, None, None),
        ("drop", _RET, 0, None, None),
    ]
    labels = {label: n for n, (label, *_) in enumerate(program) if label}

    def jump(n: int, target: str | None) -> int:
        return 0 if target is None else labels[target] - n - 1

    return b"".join(
        struct.pack("=HBBI", code, jump(n, yes), jump(n, no), k)
        for n, (_, code, k, yes, no) in enumerate(program)
    )


def _attach(sock: socket.socket, program: bytes) -> None:
    code = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("@HP", len(program) // 8, ctypes.addressof(code))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)  # the kernel copies it


# --- opening -------------------------------------------------------------------------


def _reason(error: BaseException, iface: str) -> str:
    where = f"cannot capture the kernel's packets on {iface}"
    if isinstance(error, PermissionError):
        return (
            f"{where}: capturing needs root or CAP_NET_RAW (run with sudo, or "
            "setcap cap_net_raw+ep on the Python interpreter); carrying on without them"
        )
    if isinstance(error, OSError):
        detail = error.strerror or str(error)
    else:
        detail = str(error).strip().rstrip("!").strip() or type(error).__name__
    return f"{where}: {detail}; carrying on without them"


def _open(iface: str, port: int) -> Any:
    """A scapy listening socket on `iface` with the port's filter attached."""
    # scapy reports guesses about interfaces on stderr, which would scribble on a TUI.
    logging.getLogger("scapy").setLevel(logging.ERROR)
    try:
        from scapy.arch.linux import L2ListenSocket
    except ImportError:
        raise CaptureUnavailable(
            f"cannot capture the kernel's packets on {iface}: it needs Linux's packet "
            "sockets; carrying on without them"
        ) from None
    try:
        listener = L2ListenSocket(iface=iface, nofilter=1)
    except Exception as error:  # PermissionError, no such device, scapy's own errors
        raise CaptureUnavailable(_reason(error, iface)) from None
    try:
        hardware = listener.ins.getsockname()[3]
        if hardware not in (_ARPHRD_ETHER, _ARPHRD_LOOPBACK):
            raise CaptureUnavailable(
                f"cannot capture the kernel's packets on {iface}: it does not carry "
                "Ethernet frames; carrying on without them"
            )
        _attach(listener.ins, tcp_port_filter(port))
        try:  # root may pass the system's limit (net.core.rmem_max)
            listener.ins.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except OSError:
            listener.ins.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        # Packets queued before the filter was attached are of any port: let them go.
        listener.ins.setblocking(False)
        while True:
            try:
                listener.ins.recv(1)
            except BlockingIOError:
                break
        _dropped(listener.ins)  # reading the counters resets them
    except CaptureUnavailable:
        listener.close()
        raise
    except OSError as error:
        listener.close()
        raise CaptureUnavailable(_reason(error, iface)) from None
    return listener


def _dropped(sock: socket.socket) -> int:
    """Packets the kernel dropped for this socket since the last call (it resets them)."""
    try:
        _, drops = struct.unpack("II", sock.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 8))
    except OSError:
        return 0
    return int(drops)


def can_capture(iface: str = "lo") -> str | None:
    """None when this process can capture packets on `iface`, else the one-line reason."""
    try:
        listener = _open(iface, 0)
    except CaptureUnavailable as error:
        return str(error)
    listener.close()
    return None


# --- the capture ---------------------------------------------------------------------


class KernelCapture:
    """A running capture of one port's packets into a trace. Stop it with `stop()` (from
    the event loop's thread) or `await aclose()`."""

    def __init__(
        self,
        trace: Trace,
        port: int,
        listener: Any,
        loop: asyncio.AbstractEventLoop,
        *,
        iface: str,
        interface: int,
    ) -> None:
        self.trace = trace
        self.port = port
        self.iface = iface
        self.interface = interface
        self.packets = 0  # appended to the trace so far
        self.dropped = 0  # the kernel's count, read when the capture stops
        self._listener = listener
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[tuple[float, bytes]] = []
        self._scheduled = False
        self._stopping = threading.Event()
        self._closing = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(
            target=self._read, name=f"capture {iface} port {port}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the reader thread is still alive."""
        return self._thread.is_alive()

    def _read(self) -> None:
        """The reader thread: socket → pending batch → the loop."""
        sock = self._listener.ins
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([sock, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if sock in ready:
                self._hand_over(self._drain(BATCH))
        self._hand_over(self._drain(None))  # what arrived before the stop

    def _drain(self, limit: int | None) -> list[tuple[float, bytes]]:
        batch: list[tuple[float, bytes]] = []
        while limit is None or len(batch) < limit:
            try:
                _, data, when = self._listener.recv_raw(SNAPLEN)
            except OSError:  # BlockingIOError: nothing more queued
                break
            if data:
                batch.append((float(when), bytes(data)))
        return batch

    def _hand_over(self, batch: list[tuple[float, bytes]]) -> None:
        if not batch:
            return
        with self._lock:
            self._pending.extend(batch)
            if self._scheduled:
                return
            self._scheduled = True
        # A closed loop raises RuntimeError: then stop() appends what is pending.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        """On the loop's thread: append what the reader has handed over, in order."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._scheduled = False
        for when, data in batch:
            self.trace.append(
                when, Layer.LINK, data, link_type=LinkType.ETHERNET, interface=self.interface
            )
        self.packets += len(batch)

    def _shut(self) -> None:
        """Wake the reader thread, wait for it (bounded), close the socket. Any thread."""
        with self._closing:
            if self._listener is None:
                return
            self._stopping.set()
            os.write(self._wake_w, b"!")
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():  # stuck: it can still be woken and joined later
                return
            self.dropped += _dropped(self._listener.ins)
            self._listener.close()  # the kernel waits a grace period here: milliseconds
            self._listener = None
            os.close(self._wake_r)
            os.close(self._wake_w)

    def stop(self) -> CaptureStats:
        """Stop capturing; every packet read is in the trace when this returns.

        Call it from the event loop's thread (the one the trace belongs to).
        """
        self._shut()
        self._flush()
        return self.stats

    async def aclose(self) -> CaptureStats:
        """`stop()` without blocking the event loop while the thread winds down."""
        await asyncio.to_thread(self._shut)
        self._flush()
        return self.stats

    @property
    def stats(self) -> CaptureStats:
        return CaptureStats(self.packets, self.dropped)


def start_capture(
    trace: Trace,
    port: int,
    *,
    iface: str = "lo",
    loop: asyncio.AbstractEventLoop | None = None,
    interface: int = KERNEL_INTERFACE,
) -> KernelCapture:
    """Capture the TCP packets of `port` on `iface` into `trace`, until `stop()`.

    Call it from the event loop that owns `trace` (or pass that `loop`), before the
    connections to capture are made: when it returns, the socket is listening, so
    the first SYN will be seen. Raises `CaptureUnavailable` (one line) when this
    process cannot capture.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    listener = _open(iface, port)
    return KernelCapture(trace, port, listener, loop, iface=iface, interface=interface)


__all__ = [
    "KERNEL_INTERFACE",
    "KERNEL_INTERFACE_NAME",
    "CaptureStats",
    "CaptureUnavailable",
    "KernelCapture",
    "can_capture",
    "start_capture",
    "tcp_port_filter",
]
