"""The discrete-event core: a virtual clock, an event queue, one seeded random source.

Nothing here reads the real clock. An event is a callback due at a virtual
time; `run()` pops them in time order (ties in the order they were scheduled,
so a run is reproducible) and moves the clock to each one's time.

Events are *foreground* (something is still happening: a packet on a link, a
retransmission timer, an application reading) or *background* (a wait that
would otherwise keep the simulation busy for nothing: TIME-WAIT's 2·MSL, the
persist timer of a sender whose reader has stopped). The simulation is *quiet*
when no foreground event is pending; a lesson step runs to the next quiet
point. Background events still fire, in time order, when a later step's
events come after them, or when `run(until_quiet=False)` drains everything.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable

from simulator.errors import WirelabError

Callback = Callable[[], None]

DEFAULT_MAX_EVENTS = 2_000_000


class SimulationError(WirelabError):
    """A run that did not end: more events than the bound allows."""


class Event:
    """A scheduled callback; `cancel()` it to take it back."""

    __slots__ = ("_sim", "background", "callback", "cancelled", "time")

    def __init__(self, sim: Simulator, time: float, callback: Callback, background: bool) -> None:
        self._sim = sim
        self.time = time
        self.callback = callback
        self.background = background
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            if not self.background:
                self._sim._foreground -= 1


class Simulator:
    """The virtual clock and event queue of one simulated network."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.max_events = DEFAULT_MAX_EVENTS  # the most one run() may take
        self.now = 0.0
        self.rng = random.Random(seed)
        self.events_run = 0
        # (time, order, callback, event): `event` is None for `post`ed callbacks, which
        # cannot be cancelled and are always foreground (a packet on its way).
        self._queue: list[tuple[float, int, Callback, Event | None]] = []
        self._order = itertools.count()
        self._foreground = 0

    def at(self, time: float, callback: Callback, *, background: bool = False) -> Event:
        """Run `callback` at virtual `time` (never earlier than now)."""
        event = Event(self, max(time, self.now), callback, background)
        heapq.heappush(self._queue, (event.time, next(self._order), callback, event))
        if not background:
            self._foreground += 1
        return event

    def post(self, time: float, callback: Callback) -> None:
        """`at()` for a foreground callback that will never be cancelled: no handle is
        made (the per-packet path: a packet arriving at the end of a link)."""
        heapq.heappush(self._queue, (max(time, self.now), next(self._order), callback, None))
        self._foreground += 1

    def after(self, delay: float, callback: Callback, *, background: bool = False) -> Event:
        return self.at(self.now + delay, callback, background=background)

    @property
    def quiet(self) -> bool:
        """True when nothing but background waits is pending."""
        return self._foreground == 0

    @property
    def pending(self) -> int:
        """Events still queued (cancelled ones included until they are popped)."""
        return len(self._queue)

    def next_time(self) -> float | None:
        """When the next live event is due, or None."""
        while self._queue and (event := self._queue[0][3]) is not None and event.cancelled:
            heapq.heappop(self._queue)
        return self._queue[0][0] if self._queue else None

    def run(
        self,
        *,
        until_quiet: bool = True,
        events: int | None = None,
        until: float | None = None,
        max_events: int | None = None,
    ) -> int:
        """Run events in time order; returns how many ran.

        Stops when quiet (`until_quiet`) or when the queue is empty, after
        `events` events, or before the first event later than `until`. Raises
        `SimulationError` past `max_events` (default: the simulator's own
        `max_events`), so no run can go on for ever.
        """
        if max_events is None:
            max_events = self.max_events
        queue = self._queue
        ran = 0
        while queue:
            if events is not None and ran >= events:
                break
            if until_quiet and self._foreground == 0:
                break
            time, _, callback, event = queue[0]
            if event is not None and event.cancelled:
                heapq.heappop(queue)
                continue
            if until is not None and time > until:
                break
            heapq.heappop(queue)
            if event is None:
                self._foreground -= 1
            else:
                if not event.background:
                    self._foreground -= 1
                event.cancelled = True  # it ran: a late cancel() must not count it again
            self.now = time
            callback()
            ran += 1
            if ran >= max_events:
                raise SimulationError(
                    f"the simulation ran {ran:,} events without settling (at t={self.now:.3f} s)"
                )
        if until is not None and self.now < until and (events is None or ran < events):
            self.now = until
        self.events_run += ran
        return ran


__all__ = ["Event", "SimulationError", "Simulator"]
