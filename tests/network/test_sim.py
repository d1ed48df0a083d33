"""The discrete-event core: time order, ties, cancellation, quiet points, bounds."""

from __future__ import annotations

from functools import partial

import pytest

from simulator.network.sim import SimulationError, Simulator


def test_events_run_in_time_order_and_ties_in_scheduling_order() -> None:
    sim = Simulator()
    seen: list[tuple[float, str]] = []

    def record(name: str) -> None:
        seen.append((sim.now, name))

    for name, time in (("c", 3.0), ("a", 1.0), ("b1", 2.0), ("b2", 2.0)):
        sim.at(time, partial(record, name))
    assert sim.run() == 4
    assert seen == [(1.0, "a"), (2.0, "b1"), (2.0, "b2"), (3.0, "c")]
    assert sim.now == 3.0


def test_an_event_in_the_past_runs_now_not_earlier() -> None:
    sim = Simulator()

    def schedule_in_the_past() -> None:
        sim.at(1.0, lambda: seen.append(sim.now))

    sim.at(5.0, schedule_in_the_past)
    seen: list[float] = []
    sim.run()
    assert seen == [5.0]


def test_cancelled_events_do_not_run_or_count() -> None:
    sim = Simulator()
    seen: list[str] = []
    keep = sim.at(1.0, lambda: seen.append("keep"))
    drop = sim.at(0.5, lambda: seen.append("drop"))
    drop.cancel()
    drop.cancel()  # twice is harmless
    assert not sim.quiet
    assert sim.run() == 1
    assert seen == ["keep"]
    keep.cancel()  # after it ran: no effect on the count
    assert sim.quiet


def test_background_events_do_not_keep_it_busy() -> None:
    sim = Simulator()
    seen: list[str] = []
    sim.at(60.0, lambda: seen.append("time-wait over"), background=True)
    sim.at(1.0, lambda: seen.append("packet"))
    assert sim.run() == 1  # stops at the quiet point: only the background wait remains
    assert seen == ["packet"] and sim.now == 1.0
    sim.at(70.0, lambda: seen.append("later packet"))
    sim.run()  # the background event comes first in time, so it runs first
    assert seen == ["packet", "time-wait over", "later packet"]


def test_run_until_empty_and_by_count_and_until_a_time() -> None:
    sim = Simulator()
    seen: list[int] = []
    for i in range(5):
        sim.at(float(i), partial(seen.append, i), background=True)
    assert sim.run() == 0  # already quiet
    assert sim.run(until_quiet=False, events=2) == 2
    assert sim.run(until_quiet=False, until=3.5) == 2 and sim.now == 3.5
    assert sim.run(until_quiet=False) == 1
    assert seen == [0, 1, 2, 3, 4] and sim.events_run == 5


def test_a_run_that_never_settles_is_stopped() -> None:
    sim = Simulator()

    def again() -> None:
        sim.after(0.001, again)

    sim.at(0.0, again)
    with pytest.raises(SimulationError, match="without settling"):
        sim.run(max_events=1000)
