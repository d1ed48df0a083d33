"""Two endpoints joined by an in-memory network with a virtual clock, for the TCP tests.

`Pair` runs a client and a server `Endpoint` over a link with a one-way delay,
scripted drops ("drop the next data segment from the client"), random loss and
reordering from a seeded `random.Random`, and a scripted application on each
side (data to write, when to close, how fast to read). Everything that crosses
the link is kept in `pair.log`. `run()` processes deliveries, timers and
application steps in time order until nothing is left, and fails the test if
that takes more than `max_events` steps.

While it runs it checks, at every transmission, the flow-control rules that
matter to the lessons: a sender never puts sequence space beyond the right
window edge the receiver actually offered it (a one-byte or FIN probe aside),
new data never makes SND.NXT - SND.UNA exceed SND.WND, and a receiver never
moves its advertised right edge backwards.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from simulator.tcp import (
    ACK,
    FIN,
    RST,
    SYN,
    EndOfStream,
    Endpoint,
    Event,
    Segment,
    State,
    StateChanged,
    TcpConfig,
    seq_diff,
)

E = TypeVar("E")
SIDES = ("client", "server")
CLIENT_PORT, SERVER_PORT = 49152, 80


def other(side: str) -> str:
    return "server" if side == "client" else "client"


@dataclass
class App:
    """A scripted application on one side."""

    to_send: bytearray = field(default_factory=bytearray)
    close_when_sent: bool = False  # close() once everything was handed to send()
    close_on_eof: bool = False  # close() when the peer's FIN arrives
    read_bytes: int | None = None  # per read; None: everything readable
    read_every: float | None = 0.0  # seconds between reads; 0: at once; None: never
    received: bytearray = field(default_factory=bytearray)
    closed: bool = False
    read_scheduled: bool = False


@dataclass
class Wire:
    """One transmission: when, from which side, what, and whether it was delivered."""

    time: float
    side: str
    segment: Segment
    dropped: bool

    def __str__(self) -> str:
        arrow = "→" if self.side == "client" else "←"
        lost = " (dropped)" if self.dropped else ""
        return f"{self.time:8.3f} {arrow} {self.segment}{lost}"


Predicate = Callable[[Segment], bool]


def is_data(seg: Segment) -> bool:
    return bool(seg.payload)


def is_syn(seg: Segment) -> bool:
    return bool(seg.flags & SYN) and not seg.flags & ACK


def is_syn_ack(seg: Segment) -> bool:
    return seg.flags & (SYN | ACK) == SYN | ACK


def is_fin(seg: Segment) -> bool:
    return bool(seg.flags & FIN)


def is_pure_ack(seg: Segment) -> bool:
    return seg.flags & ~0x08 == ACK and not seg.payload


def state_of(endpoint: Endpoint) -> State:
    """`endpoint.state`, read afresh. mypy keeps `endpoint.state` narrowed to the state a test
    asserted, across calls such as receive() that move it on: a later assertion of another
    state would look unreachable to it."""
    return endpoint.state


class Pair:
    """A client and a server endpoint over an in-memory link. See the module docstring."""

    def __init__(
        self,
        *,
        client_isn: int = 1000,
        server_isn: int = 5000,
        client_config: TcpConfig | None = None,
        server_config: TcpConfig | None = None,
        config: TcpConfig | None = None,
        delay: float = 0.05,
        loss: float = 0.0,
        reorder: float = 0.0,
        seed: int = 0,
        max_events: int = 50_000,
        listen: bool = True,
    ) -> None:
        self.client = Endpoint(CLIENT_PORT, isn=client_isn, config=client_config or config)
        self.server = Endpoint(SERVER_PORT, isn=server_isn, config=server_config or config)
        self.ep = {"client": self.client, "server": self.server}
        self.app = {"client": App(), "server": App()}
        self.delay = delay
        self.loss = loss
        self.reorder = reorder
        self.rng = random.Random(seed)
        self.max_events = max_events
        self.now = 0.0
        self.steps = 0
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.drops: dict[str, list[Predicate]] = {"client": [], "server": []}
        self.drop_all = {"client": False, "server": False}
        self.log: list[Wire] = []
        self.events: dict[str, list[Event]] = {"client": [], "server": []}
        self.states: dict[str, list[State]] = {"client": [State.CLOSED], "server": [State.CLOSED]}
        self.timeline: dict[str, list[tuple[float, State]]] = {"client": [], "server": []}
        # Flow-control bookkeeping, per sending side.
        self._offered_edge: dict[str, int | None] = {"client": None, "server": None}
        self._advertised_edge: dict[str, int | None] = {"client": None, "server": None}
        self._wscale: dict[str, int | None] = {"client": None, "server": None}  # from SYNs
        self._max_sent: dict[str, int | None] = {"client": None, "server": None}
        if listen:
            self.server.listen()
        self._collect()

    # --- scripting -------------------------------------------------------------------

    def drop_next(self, side: str, predicate: Predicate = lambda seg: True) -> None:
        """Drop the next segment from `side` that matches `predicate`."""
        self.drops[side].append(predicate)

    def at(self, time: float, action: Callable[[], None]) -> None:
        """Run `action` at virtual time `time`."""
        heapq.heappush(self._heap, (time, next(self._order), action))

    def connect(self, at: float = 0.0) -> None:
        self.at(at, lambda: self.client.connect(SERVER_PORT, self.now))

    def write(self, side: str, data: bytes, *, close: bool = False) -> None:
        """Let the application on `side` write `data` as soon as it can, then maybe close."""
        app = self.app[side]
        app.to_send += data
        app.close_when_sent = app.close_when_sent or close

    # --- running ---------------------------------------------------------------------

    def run(self, until: float | None = None) -> None:
        """Process everything in time order until nothing is left (or `until`)."""
        while True:
            self._collect()
            heap_time = self._heap[0][0] if self._heap else None
            timers = [(t, side) for side in SIDES if (t := self.ep[side].next_timer()) is not None]
            timer_time, timer_side = min(timers) if timers else (None, "")
            candidates = [t for t in (heap_time, timer_time) if t is not None]
            if not candidates:
                return
            t = min(candidates)
            if until is not None and t > until:
                self.now = until
                return
            self.steps += 1
            if self.steps > self.max_events:
                raise AssertionError(
                    f"the simulation did not finish within {self.max_events} events"
                    f" (t={self.now:.3f}, client {self.client.state}, server {self.server.state})"
                )
            self.now = max(self.now, t)
            if heap_time is not None and heap_time == t:
                _, _, action = heapq.heappop(self._heap)
                action()
            else:
                self.ep[timer_side].on_timer(self.now)

    def _collect(self) -> None:
        """Take segments and events from both sides, let the apps act; repeat until quiet."""
        for _ in range(1000):
            busy = False
            for side in SIDES:
                ep = self.ep[side]
                for seg in ep.segments():
                    busy = True
                    self._check_send(side, seg)
                    self._transmit(side, seg)
                for event in ep.events():
                    busy = True
                    self.events[side].append(event)
                    if isinstance(event, StateChanged):
                        self.states[side].append(event.new)
                        self.timeline[side].append((self.now, event.new))
                    if isinstance(event, EndOfStream) and self.app[side].close_on_eof:
                        self._close(side)
                busy |= self._app_step(side)
            if not busy:
                return
        raise AssertionError("endpoints kept producing output without time passing")

    def _close(self, side: str) -> None:
        app = self.app[side]
        if not app.closed:
            app.closed = True
            self.ep[side].close(self.now)

    def _app_step(self, side: str) -> bool:
        app = self.app[side]
        ep = self.ep[side]
        busy = False
        if app.to_send and ep.state in (State.ESTABLISHED, State.CLOSE_WAIT) and not app.closed:
            n = ep.send(bytes(app.to_send), self.now)
            if n:
                del app.to_send[:n]
                busy = True
        if (
            app.close_when_sent
            and not app.to_send
            and not app.closed
            and ep.state in (State.ESTABLISHED, State.CLOSE_WAIT)
        ):
            self._close(side)
            busy = True
        if ep.readable and app.read_every is not None:
            if app.read_every == 0:
                self._read(side)
                busy = True
            elif not app.read_scheduled:
                app.read_scheduled = True
                self.at(self.now + app.read_every, lambda: self._scheduled_read(side))
        return busy

    def _scheduled_read(self, side: str) -> None:
        self.app[side].read_scheduled = False
        self._read(side)

    def _read(self, side: str) -> None:
        app = self.app[side]
        app.received += self.ep[side].read(app.read_bytes, self.now)

    def _transmit(self, side: str, seg: Segment) -> None:
        dropped = self.drop_all[side]
        for i, predicate in enumerate(self.drops[side]):
            if predicate(seg):
                del self.drops[side][i]
                dropped = True
                break
        if not dropped and self.loss and self.rng.random() < self.loss:
            dropped = True
        self.log.append(Wire(self.now, side, seg, dropped))
        if dropped:
            return
        delay = self.delay
        if self.reorder and self.rng.random() < self.reorder:
            delay += self.rng.uniform(0, 3 * self.delay)
        receiver = other(side)
        self.at(self.now + delay, lambda: self._deliver(receiver, seg))

    def window_of(self, sender: str, seg: Segment) -> int:
        """The window `sender`'s segment offers: its Window field, scaled (RFC 7323 §2.3)
        once both SYNs carried Window Scale, a SYN's never."""
        if seg.flags & SYN:
            return seg.window
        ours, theirs = self._wscale[sender], self._wscale[other(sender)]
        return seg.window << ours if ours is not None and theirs is not None else seg.window

    def _deliver(self, side: str, seg: Segment) -> None:
        if seg.flags & ACK and not seg.flags & RST:
            # What the peer offered this side: its right window edge.
            edge = (seg.ack + self.window_of(other(side), seg)) & 0xFFFFFFFF
            known = self._offered_edge[side]
            if known is None or seq_diff(edge, known) > 0:
                self._offered_edge[side] = edge
        self.ep[side].receive(seg, self.now)

    # --- invariants ------------------------------------------------------------------

    def _check_send(self, side: str, seg: Segment) -> None:
        ep = self.ep[side]
        if seg.flags & RST:
            return
        if seg.flags & SYN:
            self._wscale[side] = seg.wscale
        if seg.flags & ACK:
            edge = (seg.ack + self.window_of(side, seg)) & 0xFFFFFFFF
            last = self._advertised_edge[side]
            # RFC 7323 §2.4: a scaled field is rounded down, so the edge may seem to move
            # back by less than one unit of the scale; never by more.
            unit = self.window_of(side, replace(seg, window=1)) if not seg.flags & SYN else 1
            assert last is None or seq_diff(edge, last) > -unit, (
                f"{side} shrank its window: right edge {edge} after {last} ({seg})"
            )
            self._advertised_edge[side] = edge
        if seg.flags & SYN or not (seg.payload or seg.flags & FIN):
            return
        offered = self._offered_edge[side]
        assert offered is not None, f"{side} sent {seg} before any window was offered"
        beyond = seq_diff(seg.seq_end, offered)
        assert beyond <= 0 or (seg.seq_len == 1 and beyond == 1), (
            f"{side} sent {seg} beyond the offered right edge {offered}"
        )
        top = self._max_sent[side]
        if top is None or seq_diff(seg.seq_end, top) > 0:  # new sequence space
            self._max_sent[side] = seg.seq_end
            assert ep.in_flight <= ep.snd_wnd or (ep.in_flight == 1 and ep.snd_wnd == 0), (
                f"{side}: {ep.in_flight} in flight > window {ep.snd_wnd} after {seg}"
            )

    # --- views -----------------------------------------------------------------------

    def sent(self, side: str, predicate: Predicate = lambda seg: True) -> list[Segment]:
        """Segments `side` transmitted (dropped ones included), in order."""
        return [w.segment for w in self.log if w.side == side and predicate(w.segment)]

    def entered(self, side: str, state: State) -> float:
        """When `side` last entered `state`."""
        return max(t for t, s in self.timeline[side] if s is state)

    def of_type(self, side: str, kind: type[E]) -> list[E]:
        """The events of one kind `side` reported, in order."""
        return [e for e in self.events[side] if isinstance(e, kind)]

    def transcript(self) -> str:
        return "\n".join(str(w) for w in self.log)


def established_pair(**kwargs: object) -> Pair:
    """A pair after the three-way handshake."""
    pair = Pair(**kwargs)  # type: ignore[arg-type]
    pair.connect()
    pair.run()
    assert pair.client.state is State.ESTABLISHED, pair.transcript()
    assert pair.server.state is State.ESTABLISHED, pair.transcript()
    return pair
