"""The connection states of RFC 9293 §3.3.2 and every transition between them, as one table.

                              ┌────────┐ connect(): SYN sent
               listen()  ┌────│ CLOSED │─────────────────────┐
                         ▼    └────────┘                     ▼
                    ┌────────┐  SYN received           ┌──────────┐
                    │ LISTEN │──────────────────┐      │ SYN-SENT │
                    └────────┘                  ▼      └──────────┘
                               SYN received ┌──────────────┐  │ SYN-ACK received
               (simultaneous open) ────────►│ SYN-RECEIVED │  │
                                            └──────────────┘  │
                                   ACK of our SYN │           │
                                                  ▼           ▼
                                             ┌─────────────────┐
               close(): FIN queued ┌─────────│   ESTABLISHED   │──────────┐ FIN received
                                   ▼         └─────────────────┘          ▼
                            ┌────────────┐  FIN received  ┌─────────┐ ┌────────────┐
                            │ FIN-WAIT-1 │───────────────►│ CLOSING │ │ CLOSE-WAIT │
                            └────────────┘                └─────────┘ └────────────┘
                    ACK of our FIN │          ACK of our FIN │   close() │ FIN queued
                                   ▼                         ▼           ▼
                            ┌────────────┐  FIN received ┌───────────┐ ┌──────────┐
                            │ FIN-WAIT-2 │──────────────►│ TIME-WAIT │ │ LAST-ACK │
                            └────────────┘               └───────────┘ └──────────┘
                                                   2·MSL │  ACK of our FIN │
                                                         ▼                 ▼
                                                       CLOSED            CLOSED

An RST, `abort()` or too many retransmissions take any state to CLOSED (an RST
takes a passively opened SYN-RECEIVED back to LISTEN, §3.10.7.4). The endpoint
asks `next_state(state, cause)` for every change; a pair missing from
`TRANSITIONS` is a bug and raises `TransitionError` naming both.
"""

from __future__ import annotations

from enum import Enum

from simulator.tcp.errors import TransitionError


class State(Enum):
    """Where a connection is in its life (RFC 9293 §3.3.2). The value is the RFC's spelling."""

    CLOSED = "CLOSED"
    """No connection: nothing is known about a peer. Segments get an RST in reply."""
    LISTEN = "LISTEN"
    """Passive open: waiting for a SYN from any remote port."""
    SYN_SENT = "SYN-SENT"
    """Active open: our SYN is out, waiting for the peer's SYN and its ACK of ours."""
    SYN_RECEIVED = "SYN-RECEIVED"
    """Got the peer's SYN and answered with ours (SYN-ACK); waiting for the ACK of our SYN."""
    ESTABLISHED = "ESTABLISHED"
    """Open: data flows both ways."""
    FIN_WAIT_1 = "FIN-WAIT-1"
    """We closed: our FIN is queued or sent, not yet acknowledged. We may still receive."""
    FIN_WAIT_2 = "FIN-WAIT-2"
    """Our FIN was acknowledged; waiting for the peer's FIN. We may still receive."""
    CLOSE_WAIT = "CLOSE-WAIT"
    """The peer sent its FIN (no more data will come); waiting for our application to close."""
    CLOSING = "CLOSING"
    """Simultaneous close: both FINs crossed; waiting for the ACK of ours."""
    LAST_ACK = "LAST-ACK"
    """The peer closed first and so did we: waiting for the ACK of our FIN."""
    TIME_WAIT = "TIME-WAIT"
    """Both FINs acknowledged; waiting 2·MSL for late segments to die and to resend our last ACK."""

    def __str__(self) -> str:
        return self.value


SYNCHRONIZED = frozenset(
    {
        State.ESTABLISHED,
        State.FIN_WAIT_1,
        State.FIN_WAIT_2,
        State.CLOSE_WAIT,
        State.CLOSING,
        State.LAST_ACK,
        State.TIME_WAIT,
    }
)
"""The states after the handshake, where sequence numbers are synchronized (§3.5.2)."""


class Cause(Enum):
    """What moves a connection from one state to another. The value is the readable cause."""

    ACTIVE_OPEN = "connect(): SYN sent"
    PASSIVE_OPEN = "listen()"
    SYN = "SYN received"
    SYN_ACK = "SYN-ACK received"
    ACK_OF_SYN = "ACK of our SYN"
    CLOSE = "close()"
    FIN = "FIN received"
    ACK_OF_FIN = "ACK of our FIN"
    TIME_WAIT_OVER = "2·MSL elapsed"
    RST = "RST received"
    RST_TO_LISTEN = "RST received: back to LISTEN"
    SYN_TO_LISTEN = "SYN in window: back to LISTEN"
    ABORT = "abort()"
    GIVE_UP = "too many retransmissions"


_S = State
_C = Cause

TRANSITIONS: dict[tuple[State, Cause], State] = {
    # Opening (§3.5).
    (_S.CLOSED, _C.ACTIVE_OPEN): _S.SYN_SENT,
    (_S.CLOSED, _C.PASSIVE_OPEN): _S.LISTEN,
    (_S.LISTEN, _C.SYN): _S.SYN_RECEIVED,
    (_S.SYN_SENT, _C.SYN_ACK): _S.ESTABLISHED,
    (_S.SYN_SENT, _C.SYN): _S.SYN_RECEIVED,  # simultaneous open
    (_S.SYN_RECEIVED, _C.ACK_OF_SYN): _S.ESTABLISHED,
    (_S.SYN_RECEIVED, _C.RST_TO_LISTEN): _S.LISTEN,
    (_S.SYN_RECEIVED, _C.SYN_TO_LISTEN): _S.LISTEN,
    # Closing (§3.6, §3.10.4).
    (_S.LISTEN, _C.CLOSE): _S.CLOSED,
    (_S.SYN_SENT, _C.CLOSE): _S.CLOSED,
    (_S.SYN_RECEIVED, _C.CLOSE): _S.FIN_WAIT_1,
    (_S.ESTABLISHED, _C.CLOSE): _S.FIN_WAIT_1,
    (_S.CLOSE_WAIT, _C.CLOSE): _S.LAST_ACK,
    (_S.SYN_RECEIVED, _C.FIN): _S.CLOSE_WAIT,
    (_S.ESTABLISHED, _C.FIN): _S.CLOSE_WAIT,
    (_S.FIN_WAIT_1, _C.FIN): _S.CLOSING,  # simultaneous close
    (_S.FIN_WAIT_1, _C.ACK_OF_FIN): _S.FIN_WAIT_2,
    (_S.FIN_WAIT_2, _C.FIN): _S.TIME_WAIT,
    (_S.CLOSING, _C.ACK_OF_FIN): _S.TIME_WAIT,
    (_S.LAST_ACK, _C.ACK_OF_FIN): _S.CLOSED,
    (_S.TIME_WAIT, _C.TIME_WAIT_OVER): _S.CLOSED,
}
# Resets (§3.10.7.3, §3.10.7.4 second check), aborts (§3.10.5) and giving up
# after too many retransmissions (§3.8.3): from anywhere but CLOSED to CLOSED.
for _state in State:
    if _state is not State.CLOSED:
        TRANSITIONS[_state, Cause.ABORT] = State.CLOSED
        TRANSITIONS[_state, Cause.GIVE_UP] = State.CLOSED
        if _state is not State.LISTEN:  # an RST in LISTEN is ignored (§3.10.7.2)
            TRANSITIONS[_state, Cause.RST] = State.CLOSED


def next_state(state: State, cause: Cause) -> State:
    """The state `cause` leads to from `state`; `TransitionError` if there is none."""
    try:
        return TRANSITIONS[state, cause]
    except KeyError:
        raise TransitionError(f"no transition from {state.value} on {cause.value!r}") from None


__all__ = ["SYNCHRONIZED", "TRANSITIONS", "Cause", "State", "next_state"]
