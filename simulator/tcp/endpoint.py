"""One TCP connection as a sans-IO state machine (RFC 9293): the TCB, windows, timers.

Theory of operation
-------------------
An `Endpoint` is one end of one connection: the transmission control block of
RFC 9293 §3.3.1. It never touches a network or a clock. The program feeds it
what arrived (`receive(segment, now)`), what the application does (`send`,
`read`, `close`, `abort`) and the passing of time (`on_timer(now)` at
`next_timer()`), then takes what it produced: `segments()` to put on the wire
and `events()` to show. Time is virtual seconds; the ISN is given, so a run is
reproducible to the byte.

Sending. Application bytes wait in a send buffer until acknowledged. New data
goes out in segments of at most the effective MSS, never beyond the peer's
window: SND.NXT - SND.UNA <= SND.WND, except a one-byte zero-window probe.
Sender silly-window avoidance (§3.8.6.2.1) holds back a segment smaller than
the MSS unless it carries all the queued data or half the peer's largest
window; Nagle's algorithm is off unless `TcpConfig.nagle`. Every `send()` is
treated as pushed: the segment carrying the last queued byte has PSH. FIN
follows the data, on the last data segment when it fits, and like a data byte
needs one byte of window (§3.10.7.4's acceptability test would drop it otherwise).

Each transmitted segment is remembered with its byte boundaries; a
retransmission resends the earliest one with the same boundaries (trimmed only
if the peer acknowledged part of it). One retransmission timer runs (RFC 6298):
SRTT/RTTVAR from one timed segment at a time, the timing dropped when anything
is retransmitted (Karn), the RTO clamped to [min_rto, max_rto] and doubled on
each timeout. After `max_retransmissions` timeouts in a row the connection is
aborted (a `Reset` event; no RST is sent). Three duplicate ACKs trigger a fast
retransmit (RFC 5681 §3.2); after a retransmission, each ACK that advances but
does not cover everything sent before it resends the next hole at once (the
partial-ACK rule of RFC 6582), so several losses cost one timeout, not several.

Receiving. In-order bytes wait in a receive buffer of `receive_buffer` bytes
until `read()`; the window advertised is the free space, but its right edge
only moves forward in steps of at least min(buffer/2, MSS) (receiver
silly-window avoidance, §3.8.6.2.2) and never backwards. Out-of-order bytes
inside the window are kept and delivered once, in order. Segments outside the
window are answered with an ACK and dropped (§3.10.7.4). ACKs go out at once,
or per `delayed_ack` (§3.8.6.3): every second full-sized segment or after the
delay, and at once for out-of-order data or when a hole is filled.

Zero window. While the peer's window is zero and data waits, the persist
timer (§3.8.6.1) sends a one-byte probe, backing off from the RTO up to
`persist_max`. The same timer forces out a small segment when sender SWS
avoidance would otherwise wait with nothing in flight (the "override timeout"
of §3.8.6.2.1). Unanswered probes count like retransmissions; an answered one
keeps the connection open however long the window stays shut.

States move only through `states.TRANSITIONS`; each change is a
`StateChanged` event naming its cause. `receive` never raises: a segment that
breaks the rules is dropped (a `Discarded` event) or answered with the ACK or
RST the RFC asks for. Misuse by the program (`send()` after `close()`) raises
`UsageError`.

Window scaling (RFC 7323 §2), with `TcpConfig.window_scale`: each SYN offers a
shift count; once both did, the Window field of every later segment is the
window shifted right by the sender's count, and the receiver shifts it left
by the same count.

Not modelled: urgent data, SACK, timestamps, keep-alives, data
on SYN segments (dropped unacknowledged; the peer sends it again).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from simulator.tcp.errors import UsageError
from simulator.tcp.events import (
    Closed,
    Connected,
    DataAcknowledged,
    DataReceived,
    Discarded,
    EndOfStream,
    Event,
    Reset,
    Retransmitted,
    RttMeasured,
    StateChanged,
    WindowChanged,
    WindowProbe,
)
from simulator.tcp.segment import ACK, DEFAULT_MSS, FIN, PSH, RST, SYN, Segment, reset_for
from simulator.tcp.sequence import SEQ_MASK, seq_add, seq_diff, seq_le, seq_lt
from simulator.tcp.states import Cause, State, next_state

MAX_WINDOW = 65535
MAX_SHIFT = 14  # RFC 7323 §2.3: a larger shift count is used as 14
"""The largest window the 16-bit field can carry without window scaling (RFC 7323)."""

_K = 4  # RFC 6298 §2: RTO = SRTT + max(G, K*RTTVAR)
_ALPHA = 1 / 8
_BETA = 1 / 4
_SYN_BACKOFF_RTO = 3.0  # RFC 6298 §5.7

# States in which queued data or our FIN may still go out.
_SENDING = frozenset(
    {State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_1, State.LAST_ACK, State.CLOSING}
)
# States in which arriving text is accepted (§3.10.7.4, seventh).
_RECEIVING = frozenset({State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2})


@dataclass
class TcpConfig:
    """The knobs of one endpoint. Times are virtual seconds, sizes bytes."""

    mss: int = 1460
    """The MSS we announce (what we can receive); we send min(this, the peer's)."""
    receive_buffer: int = 65535
    """Receive buffer size, the largest window we advertise: at most 65535, or with
    `window_scale` 65535 · 2**14."""
    window_scale: bool = False
    """Send the Window Scale option (RFC 7323 §2) with the smallest shift that covers the
    receive buffer; windows are scaled once both SYNs carried it."""
    send_buffer: int | None = None
    """Send buffer size (unacknowledged + unsent bytes); None: unbounded."""
    initial_rto: float = 1.0
    """RTO before any RTT sample (RFC 6298 §2.1)."""
    min_rto: float = 0.2
    """Lower bound of the RTO (RFC 6298 says 1 s; 0.2 s is Linux's choice)."""
    max_rto: float = 60.0
    """Upper bound of the RTO, also after backoff (RFC 6298 §2.5)."""
    max_retransmissions: int = 8
    """Timeouts (or unanswered window probes) in a row before the connection is aborted."""
    msl: float = 30.0
    """Maximum segment lifetime; TIME-WAIT lasts 2·MSL (RFC 9293 §3.4.2)."""
    delayed_ack: float | None = None
    """None: ACK every segment at once. Else delay ACKs this long, at most (< 0.5 s, §3.8.6.3)."""
    fast_retransmit: bool = True
    """Retransmit on the third duplicate ACK (RFC 5681 §3.2)."""
    congestion_control: bool = False
    """Slow start and congestion avoidance (RFC 5681); off: only flow control limits sending."""
    initial_window: int | None = None
    """Segments of the initial congestion window: None, RFC 5681's 2 to 4 (by the MSS); else
    min(this · MSS, max(2 · MSS, 14600)), RFC 6928's rule (which allows up to 10)."""
    nagle: bool = False
    """Nagle's algorithm (RFC 9293 §3.7.4): hold small segments while data is unacknowledged."""
    persist_min: float = 0.2
    """Shortest interval of the persist timer (zero-window probes)."""
    persist_max: float = 60.0
    """Longest interval of the persist timer after backoff."""
    clock_granularity: float = 0.001
    """G of RFC 6298 §2: the RTO is at least SRTT + G."""

    def __post_init__(self) -> None:
        if not 1 <= self.mss <= 65535:
            raise ValueError(f"mss must be 1..65535, not {self.mss}")
        _check_receive_buffer(self.receive_buffer, self.window_scale)
        if self.send_buffer is not None and self.send_buffer < 1:
            raise ValueError(f"send_buffer must be positive or None, not {self.send_buffer}")
        if not 0 < self.min_rto <= self.max_rto:
            raise ValueError("need 0 < min_rto <= max_rto")
        if self.initial_rto <= 0:
            raise ValueError("initial_rto must be positive")
        if self.max_retransmissions < 0:
            raise ValueError("max_retransmissions must be >= 0")
        if self.msl < 0:
            raise ValueError("msl must be >= 0")
        if self.delayed_ack is not None and not 0 < self.delayed_ack < 0.5:
            # RFC 9293 §3.8.6.3 (MUST-40): the delay MUST be less than 0.5 seconds.
            raise ValueError("delayed_ack must be None or between 0 and 0.5 seconds")
        if not 0 < self.persist_min <= self.persist_max:
            raise ValueError("need 0 < persist_min <= persist_max")


def _check_receive_buffer(size: int, scaling: bool) -> None:
    largest = MAX_WINDOW << MAX_SHIFT if scaling else MAX_WINDOW
    if not 1 <= size <= largest:
        why = "with window scaling" if scaling else "without window scaling"
        raise ValueError(f"receive_buffer must be 1..{largest} ({why}), not {size}")


def shift_for(size: int) -> int:
    """The smallest Window Scale shift count whose scaled 16-bit field covers `size`."""
    shift = 0
    while size >> shift > MAX_WINDOW and shift < MAX_SHIFT:
        shift += 1
    return shift


@dataclass(slots=True)
class _Sent:
    """A transmitted segment awaiting acknowledgment: its sequence range and control bits."""

    seq: int
    length: int  # sequence space: data + SYN + FIN
    syn: bool
    fin: bool
    psh: bool
    probe: bool = False  # sent beyond a zero window by the persist timer
    retransmitted: bool = False


class Endpoint:
    """One TCP connection's endpoint. See the module docstring."""

    def __init__(self, local_port: int, *, isn: int, config: TcpConfig | None = None) -> None:
        if not 0 <= local_port <= 0xFFFF:
            raise ValueError(f"port must be 0..65535, not {local_port}")
        if not 0 <= isn <= SEQ_MASK:
            raise ValueError(f"isn must be a 32-bit number, not {isn}")
        self.config = config or TcpConfig()
        self._local_port = local_port
        self._iss = isn
        self._rcv_buffer = self.config.receive_buffer
        self._state = State.CLOSED
        self._used = False
        self._events: list[Event] = []
        self._out: list[Segment] = []
        self._reset_tcb()

    def _reset_tcb(self) -> None:
        """The TCB before any open (again when SYN-RECEIVED returns to LISTEN)."""
        isn = self._iss
        self._remote_port: int | None = None
        self._passive = False
        # Send sequence space (§3.3.1).
        self._snd_una = isn
        self._snd_nxt = isn
        self._snd_wnd = 0
        self._snd_wl1 = 0
        self._snd_wl2 = 0
        self._max_snd_wnd = 0
        self._send_mss = min(self.config.mss, DEFAULT_MSS)
        self._peer_mss: int | None = None
        # RFC 7323 §2: the shift we offer (None: no option), the one the peer offered,
        # and those in force once both SYNs carried the option (0 until then).
        self._our_shift = (
            shift_for(self.config.receive_buffer) if self.config.window_scale else None
        )
        self._peer_shift: int | None = None
        self._snd_scale = 0  # SEG.WND << this is the peer's window (Snd.Wind.Shift)
        self._rcv_scale = 0  # our window >> this goes in SEG.WND (Rcv.Wind.Shift)
        self._syn_acked = False
        self._sndbuf = bytearray()  # unacknowledged and unsent data
        self._sndbuf_seq = seq_add(isn, 1)  # the sequence number of _sndbuf[0]
        self._fin_queued = False
        self._fin_sent = False
        self._fin_seq = 0
        self._flight: deque[_Sent] = deque()
        # Receive sequence space.
        self._irs: int | None = None
        self._rcv_nxt = 0
        self._rcv_adv = 0  # the right edge of the window last advertised
        self._rcvbuf = bytearray()
        self._ooo: list[tuple[int, bytes]] = []  # out-of-order data, sorted, not overlapping
        self._peer_fin_seq: int | None = None
        self._fin_received = False
        self._ack_now = False
        self._unacked_rcv = 0  # bytes received but not yet acknowledged (delayed ACK)
        # Timers: absolute times or None.
        self._rtx_at: float | None = None
        self._persist_at: float | None = None
        self._delack_at: float | None = None
        self._time_wait_at: float | None = None
        # Retransmission (RFC 6298) and recovery (RFC 5681, 6582).
        self._rto = self.config.initial_rto
        self._srtt: float | None = None
        self._rttvar = 0.0
        self._timing: tuple[int, float] | None = None  # (sequence number to be acked, time sent)
        self._retries = 0
        self._syn_retransmitted = False
        self._dupacks = 0
        self._recover: int | None = None
        self._fast_recovery = False
        self._pending_rtx: str | None = None
        self._persist_backoff = 0  # probes sent in this zero-window episode
        self._unanswered_probes = 0
        self._cwnd = 0
        self._ssthresh = 1 << 30

    def __repr__(self) -> str:
        return f"<Endpoint :{self._local_port} → :{self._remote_port} {self._state.value}>"

    # --- read-only views -------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def local_port(self) -> int:
        return self._local_port

    @property
    def remote_port(self) -> int | None:
        return self._remote_port

    @property
    def iss(self) -> int:
        """Our initial send sequence number."""
        return self._iss

    @property
    def irs(self) -> int | None:
        """The peer's initial sequence number, once its SYN arrived."""
        return self._irs

    @property
    def snd_una(self) -> int:
        """The oldest unacknowledged sequence number."""
        return self._snd_una

    @property
    def snd_nxt(self) -> int:
        """The next sequence number to send."""
        return self._snd_nxt

    @property
    def snd_wnd(self) -> int:
        """The window the peer advertised last (SND.WND)."""
        return self._snd_wnd

    @property
    def rcv_nxt(self) -> int:
        """The next sequence number expected from the peer."""
        return self._rcv_nxt

    @property
    def rcv_wnd(self) -> int:
        """The window we advertise now (RCV.WND), after receiver SWS avoidance."""
        if self._irs is None:
            return self._initial_window()
        scale = self._rcv_scale
        return self._window_to_advertise() >> scale << scale  # as the Window field carries it

    @property
    def readable(self) -> int:
        """Bytes received in order and waiting for `read()`."""
        return len(self._rcvbuf)

    @property
    def unsent(self) -> int:
        """Bytes queued by `send()` and never transmitted."""
        sent = max(0, seq_diff(self._snd_nxt, self._sndbuf_seq))
        return max(0, len(self._sndbuf) - sent)

    @property
    def in_flight(self) -> int:
        """Sequence space sent and not yet acknowledged: SND.NXT - SND.UNA."""
        return seq_diff(self._snd_nxt, self._snd_una)

    @property
    def send_mss(self) -> int:
        """The effective send MSS: min(ours, the peer's MSS option or 536)."""
        return self._send_mss

    @property
    def peer_mss(self) -> int | None:
        """The MSS option the peer sent, if any."""
        return self._peer_mss

    @property
    def rto(self) -> float:
        """The current retransmission timeout."""
        return self._rto

    @property
    def srtt(self) -> float | None:
        """The smoothed round-trip time, once measured."""
        return self._srtt

    @property
    def cwnd(self) -> int | None:
        """The congestion window, or None when congestion control is off."""
        return self._cwnd if self.config.congestion_control else None

    @property
    def ssthresh(self) -> int | None:
        """The slow start threshold (RFC 5681 §3.1), or None when congestion control is
        off or it is still "arbitrarily high" (no loss seen yet)."""
        if not self.config.congestion_control or self._ssthresh >= 1 << 30:
            return None
        return self._ssthresh

    @property
    def receive_buffer(self) -> int:
        """The receive buffer size. Setting it takes effect at once; the window never shrinks.

        A larger buffer that opens the window enough is announced with a window update.
        """
        return self._rcv_buffer

    @receive_buffer.setter
    def receive_buffer(self, size: int) -> None:
        _check_receive_buffer(size, self.config.window_scale)
        self._rcv_buffer = size
        if self._state in _RECEIVING and not self._fin_received and self._window_grew():
            self._emit(self._snd_nxt, ACK)

    # --- the application's calls -----------------------------------------------------

    def connect(self, remote_port: int, now: float) -> None:
        """Active open (§3.10.1): send a SYN with our MSS option; CLOSED → SYN-SENT."""
        self._check_fresh("connect()")
        if not 0 <= remote_port <= 0xFFFF:
            raise ValueError(f"port must be 0..65535, not {remote_port}")
        self._used = True
        self._remote_port = remote_port
        self._transition(Cause.ACTIVE_OPEN)
        self._send_syn(now)
        self._arm_timers(now)

    def listen(self) -> None:
        """Passive open (§3.10.1): CLOSED → LISTEN; the first SYN makes it SYN-RECEIVED."""
        self._check_fresh("listen()")
        self._used = True
        self._passive = True
        self._transition(Cause.PASSIVE_OPEN)

    def send(self, data: bytes, now: float) -> int:
        """Queue application data (§3.10.2); return how many bytes the send buffer took."""
        state = self._state
        if state is State.CLOSED:
            raise UsageError("send(): the connection does not exist (CLOSED)")
        if state is State.LISTEN:
            raise UsageError("send(): a listening endpoint has no peer yet")
        if self._fin_queued or state not in (
            State.SYN_SENT, State.SYN_RECEIVED, State.ESTABLISHED, State.CLOSE_WAIT
        ):  # fmt: skip
            raise UsageError(f"send() after close(): the connection is closing ({state.value})")
        limit = self.config.send_buffer
        n = len(data) if limit is None else max(0, min(len(data), limit - len(self._sndbuf)))
        if n:
            self._sndbuf += data[:n]
            self._output(now)
        return n

    def read(self, max_bytes: int | None, now: float) -> bytes:
        """Take up to `max_bytes` (None: all) received bytes; may send a window update."""
        buf = self._rcvbuf
        n = len(buf) if max_bytes is None else max(0, min(max_bytes, len(buf)))
        if not n:
            return b""
        data = bytes(buf[:n])
        del buf[:n]
        # §3.8.6.2.2: announce the larger window once the right edge can move by
        # at least min(buffer/2, MSS); this is also how a zero window reopens. With
        # delayed ACKs, only a window that at least doubles is announced at once (as
        # Linux does); a smaller gain rides on the next ACK, which is never far off.
        if (
            self._state in _RECEIVING
            and not self._fin_received
            and self._window_grew()
            and (self.config.delayed_ack is None or self._window_doubles())
        ):
            self._ack_now = True
            self._output(now)
        return data

    def _window_doubles(self) -> bool:
        """Whether the window to advertise now is at least twice the one advertised."""
        current = max(0, seq_diff(self._rcv_adv, self._rcv_nxt))
        return self._window_to_advertise() >= 2 * current

    def close(self, now: float) -> None:
        """Close our direction (§3.10.4): FIN after all queued data.

        ESTABLISHED → FIN-WAIT-1, CLOSE-WAIT → LAST-ACK (both at once; the FIN
        goes out when the data before it has), SYN-RECEIVED → FIN-WAIT-1,
        LISTEN and SYN-SENT → CLOSED. A second close() and close() when CLOSED do nothing.
        """
        state = self._state
        if state in (State.LISTEN, State.SYN_SENT):
            self._transition(Cause.CLOSE)
            self._enter_closed(Closed())
        elif state in (State.SYN_RECEIVED, State.ESTABLISHED, State.CLOSE_WAIT):
            self._fin_queued = True
            self._transition(Cause.CLOSE)
            self._output(now)

    def abort(self, now: float) -> None:
        """Abort (§3.10.5): send an RST where the peer knows us, drop everything, → CLOSED."""
        state = self._state
        if state is State.CLOSED:
            return
        if state in (
            State.SYN_RECEIVED, State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2,
            State.CLOSE_WAIT,
        ):  # fmt: skip
            assert self._remote_port is not None
            self._out.append(Segment(self._local_port, self._remote_port, self._snd_nxt, 0, RST, 0))
        self._transition(Cause.ABORT)
        self._enter_closed(Reset("aborted by the application"))

    # --- the I/O boundary ------------------------------------------------------------

    def segments(self) -> list[Segment]:
        """Take the segments ready to transmit, oldest first."""
        out = self._out
        self._out = []
        return out

    def events(self) -> list[Event]:
        """Take the events since the last call, oldest first."""
        events = self._events
        self._events = []
        return events

    def next_timer(self) -> float | None:
        """The absolute time of the earliest pending timer, or None."""
        times = [
            t
            for t in (self._rtx_at, self._persist_at, self._delack_at, self._time_wait_at)
            if t is not None
        ]
        return min(times) if times else None

    def on_timer(self, now: float) -> None:
        """Fire every timer due at `now`."""
        if self._time_wait_at is not None and now >= self._time_wait_at:
            self._time_wait_at = None
            self._transition(Cause.TIME_WAIT_OVER)  # §3.10.8: the 2·MSL time-out
            self._enter_closed(Closed(), reset=False)
            return
        if self._delack_at is not None and now >= self._delack_at:
            self._delack_at = None
            self._ack_now = True
        if self._persist_at is not None and now >= self._persist_at:
            self._persist_at = None
            self._on_persist(now)
        if self._rtx_at is not None and now >= self._rtx_at:
            self._rtx_at = None
            self._on_retransmission_timeout(now)
        if self._state is not State.CLOSED:
            self._output(now)

    def receive(self, segment: Segment, now: float) -> None:
        """Process a segment that arrived (§3.10.7). Never raises on a bad segment."""
        state = self._state
        if state is State.CLOSED:
            # §3.10.7.1: no TCB; answer anything but an RST with an RST.
            reply = reset_for(segment)
            if reply is not None:
                self._out.append(reply)
            self._discard(segment, "no connection (CLOSED)")
            return
        if segment.dst_port != self._local_port or (
            self._remote_port is not None and segment.src_port != self._remote_port
        ):
            self._discard(segment, "not for this connection (ports)")
            return
        if state is State.LISTEN:
            self._receive_listen(segment, now)
        elif state is State.SYN_SENT:
            self._receive_syn_sent(segment, now)
        else:
            self._receive_synchronized(segment, now)
        if self._state is not State.CLOSED:
            self._output(now)

    # --- arrival processing (§3.10.7) ------------------------------------------------

    def _receive_listen(self, seg: Segment, now: float) -> None:
        """§3.10.7.2: LISTEN."""
        flags = seg.flags
        if flags & RST:
            self._discard(seg, "RST in LISTEN is ignored")
            return
        if flags & ACK:
            reply = reset_for(seg)  # <SEQ=SEG.ACK><CTL=RST>
            if reply is not None:
                self._out.append(reply)
            self._discard(seg, "ACK in LISTEN: answered with RST")
            return
        if not flags & SYN:
            self._discard(seg, "neither SYN nor RST nor ACK in LISTEN")
            return
        self._remote_port = seg.src_port
        self._learn_peer_syn(seg)
        self._transition(Cause.SYN)
        self._send_syn(now)  # <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
        if seg.payload or flags & FIN:
            self._discard(seg, "data on a SYN is not kept; the peer will send it again")

    def _receive_syn_sent(self, seg: Segment, now: float) -> None:
        """§3.10.7.3: SYN-SENT."""
        flags = seg.flags
        ack_ok = False
        if flags & ACK:
            # First: the ACK must acknowledge our SYN: ISS < SEG.ACK =< SND.NXT.
            if seq_le(seg.ack, self._iss) or seq_lt(self._snd_nxt, seg.ack):
                reply = reset_for(seg)  # <SEQ=SEG.ACK><CTL=RST> (None for an RST)
                if reply is not None:
                    self._out.append(reply)
                self._discard(seg, "ACK does not acknowledge our SYN")
                return
            ack_ok = True
        if flags & RST:
            if ack_ok:  # second: an RST acknowledging our SYN
                self._transition(Cause.RST)
                self._enter_closed(Reset("connection refused"))
            else:
                self._discard(seg, "RST without an acceptable ACK")
            return
        if not flags & SYN:
            self._discard(seg, "no SYN in SYN-SENT")
            return
        # Fourth: the peer's SYN.
        self._learn_peer_syn(seg)
        if ack_ok:
            self._on_new_ack(seg.ack, now)
            self._set_send_window(seg.seq, seg.ack, seg.window)
            self._transition(Cause.SYN_ACK)
            self._established()
            self._ack_now = True  # <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, data may ride along
        else:
            # Simultaneous open: → SYN-RECEIVED and resend our SYN as a SYN-ACK.
            self._transition(Cause.SYN)
            self._retransmit_head(now, None)
        if seg.payload or flags & FIN:
            self._discard(seg, "data on a SYN is not kept; the peer will send it again")

    def _receive_synchronized(self, seg: Segment, now: float) -> None:
        """§3.10.7.4: SYN-RECEIVED and every state after it."""
        state = self._state
        flags = seg.flags
        seq = seg.seq
        syn = bool(flags & SYN)
        if syn and seq == self._irs:
            # The peer's SYN again: it has not seen our SYN-ACK, or our ACK of it.
            if state is State.SYN_RECEIVED and not flags & (ACK | RST):
                self._retransmit_head(now, "duplicate SYN")
                return
            # Trim the SYN we already have (§3.10.7.4: "trimming off any portions
            # that lie outside the window (including SYN and FIN)"), and say so.
            seq = seq_add(seq, 1)
            syn = False
            if state is not State.SYN_RECEIVED:
                self._ack_now = True
        fin = bool(flags & FIN)
        seg_len = len(seg.payload) + syn + fin
        rcv_wnd = max(0, seq_diff(self._rcv_adv, self._rcv_nxt))

        # First: is the segment acceptable?
        if not self._acceptable(seq, seg_len, rcv_wnd):
            if flags & RST:
                self._discard(seg, "RST outside the receive window")
                return
            end = seq_add(seq, seg_len)
            if state is State.TIME_WAIT and fin and end == self._rcv_nxt:
                # The peer's FIN again: our last ACK was lost. ACK it, restart 2·MSL.
                self._time_wait_at = now + 2 * self.config.msl
                self._ack_now = True
                return
            self._ack_now = True
            if rcv_wnd == 0 and seq == self._rcv_nxt and flags & ACK and not syn:
                # "If the RCV.WND is zero, no segments will be acceptable, but
                # special allowance should be made to accept valid ACKs."
                self._discard(seg, "receive window is zero: only the ACK is used")
                self._process_ack(seg, seq, now)
                return
            why = "duplicate" if seq_le(end, self._rcv_nxt) else "outside the receive window"
            self._discard(seg, f"{why}: acknowledged and dropped")
            return

        # Second: RST (with RFC 5961 §3: only an exact match resets).
        if flags & RST:
            if seq != self._rcv_nxt:
                self._ack_now = True  # the challenge ACK
                self._discard(seg, "RST not at RCV.NXT: challenge ACK (RFC 5961)")
                return
            if state is State.SYN_RECEIVED and self._passive:
                self._back_to_listen(Cause.RST_TO_LISTEN)
                return
            refused = state is State.SYN_RECEIVED
            self._transition(Cause.RST)
            if state in (State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
                # §3.10.7.4: in CLOSING, LAST-ACK and TIME-WAIT an RST just ends the TCB:
                # both sides had closed, so the application is not told of a reset (an
                # old ACK of ours, answered by a peer that already forgot the connection).
                self._enter_closed(Closed())
            else:
                why = "connection refused" if refused else "connection reset by peer"
                self._enter_closed(Reset(why))
            return

        # Fourth: a SYN in the window (RFC 5961 §4: challenge ACK).
        if syn:
            if state is State.SYN_RECEIVED and self._passive:
                self._back_to_listen(Cause.SYN_TO_LISTEN)
                return
            self._ack_now = True
            self._discard(seg, "SYN in a synchronized state: challenge ACK (RFC 5961)")
            return

        # Fifth: the ACK field.
        if not flags & ACK:
            self._discard(seg, "no ACK bit")
            return
        if state is State.SYN_RECEIVED:
            if seq_lt(self._snd_una, seg.ack) and seq_le(seg.ack, self._snd_nxt):
                self._set_send_window(seq, seg.ack, self._peer_window(seg))
                self._transition(Cause.ACK_OF_SYN)
                self._established()
            else:
                reply = reset_for(seg)  # <SEQ=SEG.ACK><CTL=RST>
                if reply is not None:
                    self._out.append(reply)
                self._discard(seg, "ACK does not acknowledge our SYN: answered with RST")
                return
        if not self._process_ack(seg, seq, now):
            return

        # Seventh: the text. Eighth: the FIN.
        if seg.payload:
            self._receive_text(seg, seq, now)
        if fin:
            self._receive_fin(seg, seq_add(seq, len(seg.payload)), now)

    def _acceptable(self, seq: int, seg_len: int, rcv_wnd: int) -> bool:
        """The acceptability test of §3.10.7.4 (first check).

        Length 0: window 0 needs SEG.SEQ = RCV.NXT, else RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND.
        Length > 0: never with window 0, else the first or the last byte must be in
        the window; a segment spanning the whole window counts too (its middle is new).
        """
        start = seq_diff(seq, self._rcv_nxt)
        if seg_len == 0:
            return start == 0 if rcv_wnd == 0 else 0 <= start < rcv_wnd
        if rcv_wnd == 0:
            return False
        last = start + seg_len - 1
        return 0 <= start < rcv_wnd or 0 <= last < rcv_wnd or (start < 0 and last >= rcv_wnd)

    def _process_ack(self, seg: Segment, seq: int, now: float) -> bool:
        """§3.10.7.4 fifth, in ESTABLISHED and after; False if processing stops here."""
        ack = seg.ack
        if seq_lt(self._snd_nxt, ack):
            self._ack_now = True
            self._discard(seg, "acknowledges data not yet sent")
            return False
        self._unanswered_probes = 0  # the peer answers: probe as long as it does (§3.8.6.1)
        old_wnd = self._snd_wnd
        acked = seq_diff(ack, self._snd_una)
        if acked > 0:
            self._on_new_ack(ack, now)
        elif (
            acked == 0
            and not seg.payload
            and not seg.flags & (SYN | FIN)
            and self._peer_window(seg) == old_wnd
            and old_wnd > 0
            and self._flight
        ):
            self._on_duplicate_ack()
        # The window update rule of §3.10.7.4 (SND.WL1/SND.WL2 keep old segments
        # from updating the window), and, as Linux does, any ACK of new data: it
        # was generated after everything seen so far, even when the segment is a
        # retransmission with an old SEG.SEQ. Without that, SND.UNA would move on
        # with a window meant for an older SEG.ACK, past the edge the peer offered.
        if acked > 0 or (
            acked == 0
            and (
                seq_lt(self._snd_wl1, seq) or (self._snd_wl1 == seq and seq_le(self._snd_wl2, ack))
            )
        ):
            self._set_send_window(seq, ack, self._peer_window(seg))
            if old_wnd == 0 < self._snd_wnd:
                self._persist_backoff = 0
                if self._flight and self._flight[0].probe:
                    # The probe arrived while the window was shut: it was dropped.
                    self._pending_rtx = "window opened"
        if self._fin_sent and self._snd_una == seq_add(self._fin_seq, 1):
            state = self._state
            if state is State.FIN_WAIT_1:
                self._transition(Cause.ACK_OF_FIN)
            elif state is State.CLOSING:
                self._transition(Cause.ACK_OF_FIN)
                self._enter_time_wait(now)
            elif state is State.LAST_ACK:
                self._transition(Cause.ACK_OF_FIN)
                self._enter_closed(Closed(), reset=False)
                return False
        return True

    def _peer_window(self, seg: Segment) -> int:
        """The window a segment of the peer's offers: SEG.WND << Snd.Wind.Shift, but a
        SYN's Window field is never scaled (RFC 7323 §2.2)."""
        return seg.window if seg.flags & SYN else seg.window << self._snd_scale

    def _set_send_window(self, seq: int, ack: int, window: int) -> None:
        """SND.WND ← SEG.WND, SND.WL1 ← SEG.SEQ, SND.WL2 ← SEG.ACK (§3.10.7.4 fifth)."""
        if window != self._snd_wnd:
            self._events.append(WindowChanged(window))
        self._snd_wnd = window
        if seq_lt(self._snd_wl1, seq):  # never back (a retransmission's old SEG.SEQ)
            self._snd_wl1 = seq
        self._snd_wl2 = ack
        self._max_snd_wnd = max(self._max_snd_wnd, window)

    def _on_new_ack(self, ack: int, now: float) -> None:
        """SND.UNA < SEG.ACK =< SND.NXT: forget what is acknowledged, measure, recover."""
        acked = seq_diff(ack, self._snd_una)
        self._snd_una = ack
        self._retries = 0
        self._dupacks = 0
        flight = self._flight
        while flight:
            head = flight[0]
            covered = seq_diff(ack, head.seq)
            if covered >= head.length:
                flight.popleft()
                continue
            if covered > 0:  # part of it: keep the rest, same end
                if head.syn:
                    head.syn = False
                head.seq = ack
                head.length -= covered
            break
        acked_data = self._syn_acked  # (an ACK of our SYN alone does not open cwnd)
        if not self._syn_acked and seq_lt(self._iss, ack):
            self._syn_acked = True
        drop = min(max(0, seq_diff(ack, self._sndbuf_seq)), len(self._sndbuf))
        if drop:
            del self._sndbuf[:drop]
            self._sndbuf_seq = seq_add(self._sndbuf_seq, drop)
            self._events.append(DataAcknowledged(drop, len(self._sndbuf)))
        if self._timing is not None and seq_le(self._timing[0], ack):
            self._rtt_sample(now - self._timing[1])
            self._timing = None
        self._rtx_at = None  # RFC 6298 §5.3: restarted by _arm_timers if data remains
        mss = self._send_mss
        cc = self.config.congestion_control
        if self._recover is not None:
            if seq_le(self._recover, ack):  # full acknowledgment: recovery over
                self._recover = None
                if cc and self._fast_recovery:
                    self._cwnd = min(self._ssthresh, max(self.in_flight, mss) + mss)
                self._fast_recovery = False
            else:  # partial acknowledgment: the next hole (RFC 6582 §3.2 step 3)
                if self._flight:
                    self._pending_rtx = "partial ACK"
                if cc and self._fast_recovery:
                    self._cwnd = max(mss, self._cwnd - acked + (mss if acked >= mss else 0))
                elif cc:
                    self._cwnd += min(acked, mss)
        elif cc and acked_data:
            if self._cwnd < self._ssthresh:  # slow start (RFC 5681 §3.1)
                self._cwnd += min(acked, mss)
            else:  # congestion avoidance
                self._cwnd += max(1, mss * mss // self._cwnd)

    def _on_duplicate_ack(self) -> None:
        """RFC 5681 §3.2: the third duplicate ACK triggers a fast retransmit."""
        self._dupacks += 1
        cc = self.config.congestion_control
        mss = self._send_mss
        if self._dupacks == 3 and self.config.fast_retransmit and self._recover is None:
            self._recover = self._snd_nxt
            self._fast_recovery = True
            self._pending_rtx = "fast retransmit"
            if cc:
                self._ssthresh = max(self.in_flight // 2, 2 * mss)
                self._cwnd = self._ssthresh + 3 * mss
        elif self._dupacks > 3 and cc and self._fast_recovery:
            self._cwnd += mss

    def _receive_text(self, seg: Segment, seq: int, now: float) -> None:
        """§3.10.7.4 seventh: keep the part inside the window, deliver in order."""
        if self._state not in _RECEIVING:
            self._discard(seg, f"data in {self._state.value} (after the peer's FIN) is ignored")
            return
        data = seg.payload
        skip = seq_diff(self._rcv_nxt, seq)
        if skip > 0:  # the start was received before
            data = data[skip:]
            seq = self._rcv_nxt
        room = seq_diff(self._rcv_adv, seq)
        if len(data) > room:
            dropped = len(data) - max(0, room)
            data = data[: max(0, room)]
            self._ack_now = True
            self._discard(seg, f"{dropped} bytes beyond the receive window dropped")
        if not data:
            return
        if seq != self._rcv_nxt:
            self._store_out_of_order(seq, data)
            self._ack_now = True  # RFC 5681 §4.2: out-of-order data is ACKed at once
            return
        filled_hole = bool(self._ooo)
        self._rcvbuf += data
        self._rcv_nxt = seq_add(self._rcv_nxt, len(data))
        size = len(data) + self._pull_out_of_order()
        self._events.append(DataReceived(size, len(self._rcvbuf)))
        delay = self.config.delayed_ack
        if delay is None or filled_hole:
            self._ack_now = True
        else:
            # §3.8.6.3: ACK at least every second full-sized segment, else within the delay.
            self._unacked_rcv += size
            if self._unacked_rcv >= 2 * self._send_mss:
                self._ack_now = True
            elif self._delack_at is None:
                self._delack_at = now + delay
        if self._peer_fin_seq == self._rcv_nxt:
            self._process_fin(now)

    def _store_out_of_order(self, seq: int, data: bytes) -> None:
        """Keep `data` (inside the window, after RCV.NXT) minus what is already held."""
        base = self._rcv_nxt
        start = seq_diff(seq, base)
        end = start + len(data)
        pieces: list[tuple[int, bytes]] = []
        cur = start
        for held_seq, held in self._ooo:
            a = seq_diff(held_seq, base)
            b = a + len(held)
            if b <= cur:
                continue
            if a >= end:
                break
            if a > cur:
                pieces.append((seq_add(base, cur), data[cur - start : a - start]))
            cur = max(cur, b)
            if cur >= end:
                break
        if cur < end:
            pieces.append((seq_add(base, cur), data[cur - start :]))
        if pieces:
            self._ooo.extend(pieces)
            self._ooo.sort(key=lambda piece: seq_diff(piece[0], base))

    def _pull_out_of_order(self) -> int:
        """Move held data that now continues the stream into the receive buffer."""
        moved = 0
        ooo = self._ooo
        while ooo:
            held_seq, held = ooo[0]
            behind = seq_diff(self._rcv_nxt, held_seq)
            if behind < 0:
                break
            ooo.pop(0)
            if behind >= len(held):
                continue
            chunk = held[behind:]
            self._rcvbuf += chunk
            self._rcv_nxt = seq_add(self._rcv_nxt, len(chunk))
            moved += len(chunk)
        return moved

    def _receive_fin(self, seg: Segment, fin_seq: int, now: float) -> None:
        """§3.10.7.4 eighth: a FIN inside the window is processed once the data before it is in."""
        if self._fin_received:
            self._ack_now = True
            return
        if not seq_lt(fin_seq, self._rcv_adv):
            self._ack_now = True
            self._discard(seg, "FIN beyond the receive window dropped")
            return
        self._peer_fin_seq = fin_seq
        if fin_seq == self._rcv_nxt:
            self._process_fin(now)
        else:
            self._ack_now = True

    def _process_fin(self, now: float) -> None:
        self._rcv_nxt = seq_add(self._rcv_nxt, 1)  # the FIN takes one sequence number
        self._fin_received = True
        self._ack_now = True
        self._events.append(EndOfStream())
        state = self._state
        if state in (State.SYN_RECEIVED, State.ESTABLISHED, State.FIN_WAIT_1):
            self._transition(Cause.FIN)  # → CLOSE-WAIT, or CLOSING (simultaneous close)
        elif state is State.FIN_WAIT_2:
            self._transition(Cause.FIN)
            self._enter_time_wait(now)

    # --- transmission ----------------------------------------------------------------

    def _output(self, now: float) -> None:
        """Send what is due: a pending retransmission, new data, a pending ACK; arm timers."""
        state = self._state
        if state in (State.CLOSED, State.LISTEN):
            return
        force = False
        if self._pending_rtx is not None:
            reason = self._pending_rtx
            self._pending_rtx = None
            if reason == "window opened":
                force = self._take_back_probe(now)
            elif self._flight:
                self._retransmit_head(now, reason)
        if state in _SENDING and self._syn_acked:
            self._send_new(now, force=force)
        if self._ack_now and self._irs is not None:
            self._emit(self._snd_nxt, ACK)  # <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
        self._arm_timers(now)

    def _take_back_probe(self, now: float) -> bool:
        """The window opened while our one-byte probe is unacknowledged: it was dropped.

        Like BSD, resend the probe's byte at the start of a normal segment rather
        than as a lone byte (which would leave a window one byte short of a full
        segment and stall sender SWS avoidance): SND.NXT goes back to the probe,
        and the next segment is sent even if small. True if that happened.
        """
        flight = self._flight
        if not flight or not flight[0].probe:
            return False
        head = flight[0]
        if len(flight) > 1 or head.fin or head.seq != self._snd_una:
            self._retransmit_head(now, "window opened")
            return False
        flight.clear()
        self._snd_nxt = head.seq
        self._timing = None
        self._events.append(Retransmitted(head.seq, head.length, "window opened"))
        return True

    def _send_new(self, now: float, *, force: bool) -> None:
        """Send queued data and the FIN as far as the window (and SWS avoidance) allow."""
        mss = self._send_mss
        while True:
            unsent = self.unsent
            fin_due = self._fin_queued and not self._fin_sent
            if unsent <= 0 and not fin_due:
                return
            window = self._snd_wnd
            if self.config.congestion_control:
                window = min(window, self._cwnd)
            usable = window - self.in_flight
            if unsent <= 0:
                if usable < 1:
                    return
                self._send_data(now, 0, fin=True)
                continue
            n = min(unsent, mss, usable)
            if n <= 0:
                return
            if not force:
                # §3.8.6.2.1: send a full segment, or all that is queued, or at
                # least half the largest window the peer offered; else wait.
                if n < mss and n < unsent and 2 * n < self._max_snd_wnd:
                    return
                if n < mss and self.config.nagle and self.in_flight > 0:
                    return  # Nagle: one small segment in flight at a time
            force = False
            self._send_data(now, n, fin=fin_due and n == unsent and usable > n)

    def _send_data(self, now: float, n: int, *, fin: bool, probe: bool = False) -> None:
        """Transmit `n` new bytes at SND.NXT (and the FIN if `fin`); remember the segment."""
        seq = self._snd_nxt
        offset = seq_diff(seq, self._sndbuf_seq)
        payload = bytes(self._sndbuf[offset : offset + n])
        psh = n > 0 and offset + n == len(self._sndbuf)
        flags = ACK | (PSH if psh else 0) | (FIN if fin else 0)
        self._emit(seq, flags, payload)
        length = n + fin
        self._flight.append(_Sent(seq, length, False, fin, psh, probe))
        self._snd_nxt = seq_add(seq, length)
        if fin:
            self._fin_sent = True
            self._fin_seq = seq_add(seq, n)
        if self._timing is None and not probe:
            self._timing = (self._snd_nxt, now)

    def _send_syn(self, now: float) -> None:
        """Our SYN (a SYN-ACK once the peer's SYN is known), with the MSS option."""
        entry = _Sent(self._iss, 1, True, False, False)
        self._flight.append(entry)
        self._snd_una = self._iss
        self._snd_nxt = seq_add(self._iss, 1)
        self._send_entry(entry)
        self._timing = (self._snd_nxt, now)

    def _send_entry(self, entry: _Sent) -> None:
        """(Re)transmit a remembered segment with its original boundaries and control bits."""
        flags = ACK if self._irs is not None else 0
        mss = wscale = None
        if entry.syn:
            flags |= SYN
            mss = self.config.mss  # the MSS option rides on every SYN (§3.7.1)
            # RFC 7323 §2.2: on a SYN-ACK only if the peer's SYN offered it.
            if self._irs is None or self._peer_shift is not None:
                wscale = self._our_shift
        if entry.fin:
            flags |= FIN
        if entry.psh:
            flags |= PSH
        start = seq_add(entry.seq, entry.syn)
        offset = seq_diff(start, self._sndbuf_seq)
        size = entry.length - entry.syn - entry.fin
        payload = bytes(self._sndbuf[offset : offset + size]) if size > 0 else b""
        self._emit(entry.seq, flags, payload, mss, wscale)

    def _retransmit_head(self, now: float, reason: str | None) -> None:
        """Resend the earliest unacknowledged segment (RFC 6298 §5.4)."""
        head = self._flight[0]
        self._send_entry(head)
        head.retransmitted = True
        self._timing = None  # Karn: no RTT sample from anything sent around a retransmission
        if reason is not None:
            self._events.append(Retransmitted(head.seq, head.length, reason))

    def _emit(
        self, seq: int, flags: int, payload: bytes = b"", mss: int | None = None,
        wscale: int | None = None,
    ) -> None:  # fmt: skip
        """Queue one segment; with ACK it carries RCV.NXT and the window we advertise now
        (scaled down when window scaling is in force; a SYN's window never is)."""
        if flags & ACK:
            ack = self._rcv_nxt
            window = self._window_to_advertise()
            if flags & SYN:
                window = min(window, MAX_WINDOW)
                self._rcv_adv = seq_add(ack, window)
            else:
                self._rcv_adv = seq_add(ack, window)
                window >>= self._rcv_scale
            self._ack_now = False
            self._unacked_rcv = 0
            self._delack_at = None
        else:
            ack = 0
            window = self._initial_window()
        port = self._remote_port if self._remote_port is not None else 0
        self._out.append(
            Segment(self._local_port, port, seq, ack, flags, window, payload, mss, wscale)
        )

    def _initial_window(self) -> int:
        """The window on our SYN: the whole receive buffer."""
        return min(self._rcv_buffer, MAX_WINDOW)

    def _window_to_advertise(self) -> int:
        """RCV.WND with receiver SWS avoidance (§3.8.6.2.2).

        The right edge moves forward only when it can move by at least
        min(buffer/2, MSS), and never backwards (SHLD-14: do not shrink the window).
        """
        free = max(0, min(self._rcv_buffer, MAX_WINDOW << self._rcv_scale) - len(self._rcvbuf))
        current = max(0, seq_diff(self._rcv_adv, self._rcv_nxt))
        if free - current >= min(self._rcv_buffer // 2, self._send_mss):
            return free
        return current

    def _window_grew(self) -> bool:
        """Whether the window to advertise now moves the right edge forward."""
        edge = seq_add(self._rcv_nxt, self._window_to_advertise())
        return seq_lt(self._rcv_adv, edge)

    # --- timers ----------------------------------------------------------------------

    def _arm_timers(self, now: float) -> None:
        """Run the retransmission timer while data is in flight, the persist timer
        while the peer's window keeps queued data back; neither otherwise."""
        state = self._state
        if state in (State.CLOSED, State.LISTEN, State.TIME_WAIT):
            self._rtx_at = self._persist_at = None
            return
        in_flight = self.in_flight > 0
        waiting = state in _SENDING and (
            self.unsent > 0 or (self._fin_queued and not self._fin_sent)
        )
        persist = self._syn_acked and (
            (in_flight and self._snd_wnd == 0) or (not in_flight and waiting)
        )
        if persist:
            self._rtx_at = None
            if self._persist_at is None:
                interval = self._rto * (1 << min(self._persist_backoff, 30))  # back off
                interval = min(max(interval, self.config.persist_min), self.config.persist_max)
                self._persist_at = now + interval
        elif in_flight:
            self._persist_at = None
            if self._rtx_at is None:
                self._rtx_at = now + self._rto  # RFC 6298 §5.1
        else:
            self._rtx_at = self._persist_at = None

    def _on_retransmission_timeout(self, now: float) -> None:
        """RFC 6298 §5.4-5.6: resend the earliest segment, back off, restart the timer."""
        if not self._flight:
            return
        if self._retries >= self.config.max_retransmissions:
            self._give_up()
            return
        self._retries += 1
        self._rto = min(self._rto * 2, self.config.max_rto)
        self._dupacks = 0
        if self._syn_acked:
            mss = self._send_mss
            if self.config.congestion_control:  # RFC 5681 §3.1: loss window of one segment
                self._ssthresh = max(self.in_flight // 2, 2 * mss)
                self._cwnd = mss
            self._recover = self._snd_nxt
            self._fast_recovery = False
        else:
            self._syn_retransmitted = True
        self._retransmit_head(now, "timeout")
        self._rtx_at = now + self._rto

    def _on_persist(self, now: float) -> None:
        """§3.8.6.1: probe a zero window; or force out data SWS avoidance is holding back."""
        if self._state not in _SENDING or not self._syn_acked:
            return
        if self._snd_wnd == 0 or self.in_flight > 0:
            if self._unanswered_probes >= self.config.max_retransmissions:
                self._give_up()
                return
            self._unanswered_probes += 1
            self._persist_backoff += 1
            if self._flight:  # resend the earliest unacknowledged segment, as it was
                head = self._flight[0]
                self._send_entry(head)
                head.retransmitted = True
                self._timing = None
            elif self.unsent > 0:  # one new byte beyond the window
                self._send_data(now, 1, fin=False, probe=True)
            else:  # only our FIN is left: it probes
                self._send_data(now, 0, fin=True, probe=True)
            head = self._flight[0]
            self._events.append(WindowProbe(head.seq, head.length, self._persist_backoff))
        else:
            self._send_new(now, force=True)  # the SWS override timeout

    def _enter_time_wait(self, now: float) -> None:
        self._rtx_at = self._persist_at = None
        self._time_wait_at = now + 2 * self.config.msl

    def _give_up(self) -> None:
        """§3.8.3: too many retransmissions: close the connection (no RST is sent)."""
        count = self.config.max_retransmissions
        self._transition(Cause.GIVE_UP)
        self._enter_closed(Reset(f"too many retransmissions ({count}): connection aborted"))

    # --- state changes ---------------------------------------------------------------

    def _transition(self, cause: Cause) -> None:
        old = self._state
        self._state = next_state(old, cause)
        self._events.append(StateChanged(old, self._state, cause.value))

    def _established(self) -> None:
        """Just reached ESTABLISHED."""
        self._syn_acked = True
        if self._syn_retransmitted and self._srtt is None:
            # RFC 6298 §5.7: the SYN was retransmitted and no RTT was measured.
            self._rto = min(max(_SYN_BACKOFF_RTO, self.config.min_rto), self.config.max_rto)
        self._events.append(Connected(self._send_mss))

    def _learn_peer_syn(self, seg: Segment) -> None:
        """IRS, RCV.NXT, the peer's MSS and window from its SYN."""
        self._irs = seg.seq
        self._rcv_nxt = seq_add(seg.seq, 1)
        self._rcv_adv = seq_add(self._rcv_nxt, self._initial_window())
        self._peer_mss = seg.mss
        self._send_mss = max(1, min(self.config.mss, seg.mss if seg.mss else DEFAULT_MSS))
        if seg.wscale is not None:
            self._peer_shift = min(seg.wscale, MAX_SHIFT)  # RFC 7323 §2.3
        if self._our_shift is not None and self._peer_shift is not None:
            self._snd_scale, self._rcv_scale = self._peer_shift, self._our_shift
        self._snd_wnd = seg.window
        self._max_snd_wnd = seg.window
        self._snd_wl1 = seg.seq
        self._snd_wl2 = self._iss
        mss = self._send_mss
        segments = self.config.initial_window
        if segments is None:  # RFC 5681 §3.1: the initial congestion window
            self._cwnd = 2 * mss if mss > 2190 else 3 * mss if mss > 1095 else 4 * mss
        else:  # RFC 6928 §2
            self._cwnd = min(segments * mss, max(2 * mss, 14600))

    def _back_to_listen(self, cause: Cause) -> None:
        """§3.10.7.4: a passively opened SYN-RECEIVED connection returns to LISTEN.

        The RFC needs no user signal; a `Reset` event still tells a host that this
        connection attempt is over (it may drop the endpoint or keep it listening).
        """
        self._reset_tcb()
        self._passive = True
        self._transition(cause)
        self._events.append(Reset(f"{cause.value} (the handshake was abandoned)"))

    def _enter_closed(self, why: Closed | Reset, *, reset: bool = True) -> None:
        """Stop every timer and drop the send state (with `reset`, the received data too),
        and say why it ended: every way into CLOSED tells the application, which is how
        the socket layer knows to forget the connection."""
        self._events.append(why)
        self._rtx_at = self._persist_at = self._delack_at = self._time_wait_at = None
        self._flight.clear()
        self._ooo.clear()
        self._pending_rtx = None
        self._ack_now = False
        if reset:
            self._sndbuf.clear()
            self._rcvbuf.clear()

    def _check_fresh(self, call: str) -> None:
        if self._used or self._state is not State.CLOSED:
            raise UsageError(
                f"{call}: an Endpoint serves one connection; this one is"
                f" {self._state.value}{' and was used' if self._used else ''}"
            )

    def _discard(self, segment: Segment, reason: str) -> None:
        self._events.append(Discarded(segment, reason))

    def _rtt_sample(self, rtt: float) -> None:
        """RFC 6298 §2.2-2.4: update SRTT, RTTVAR and the RTO."""
        if self._srtt is None:
            self._srtt = rtt
            self._rttvar = rtt / 2
        else:
            self._rttvar = (1 - _BETA) * self._rttvar + _BETA * abs(self._srtt - rtt)
            self._srtt = (1 - _ALPHA) * self._srtt + _ALPHA * rtt
        rto = self._srtt + max(self.config.clock_granularity, _K * self._rttvar)
        self._rto = min(max(rto, self.config.min_rto), self.config.max_rto)
        self._events.append(RttMeasured(rtt, self._srtt, self._rttvar, self._rto))
