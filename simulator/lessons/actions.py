"""The actions a lesson's ```do blocks may use: one line each, shell-like.

    open
    send_text "Hello, wirelab!"
    send_binary 300 fragment_size=100
    drop_next client what=data
    route r1 10.0.3.0/24 via=10.0.1.2

The first word names the action; the rest are its arguments, positional or
`name=value`. Values are read as integers, decimals, `none`, `true`/`false`,
or text (quote text with spaces). Each action is a call on the lesson's
`Scenario`; `parse_action` checks the name and the arguments against the
action's signature, so a typo is reported with its line before anything runs.
"""

from __future__ import annotations

import difflib
import inspect
import math
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the network is imported when a lesson runs, not when one is read
    from simulator.network.scenario import Scenario, Side, Step, What

ActionFunction = Callable[..., "Step | None"]


def _open(s: Scenario, *, client: int = 0, advance: int | None = None) -> Step:
    """TCP handshake, then the WebSocket upgrade."""
    return s.open(client=client, advance=advance)


def _connect(s: Scenario, *, client: int = 0, advance: int | None = None) -> Step:
    """The TCP three-way handshake only (advance=0: just send the SYN)."""
    return s.connect(client=client, advance=advance)


def _connect_port(s: Scenario, port: int, *, client: int = 0, advance: int | None = None) -> Step:
    """A bare TCP connection to another port of the server: a closed one answers RST."""
    return s.connect_port(port, client=client, advance=advance)


def _upgrade(s: Scenario, *, client: int = 0, advance: int | None = None) -> Step:
    """The HTTP upgrade request and the server's answer."""
    return s.upgrade(client=client, advance=advance)


def _send_text(
    s: Scenario, text: str, *, side: Side = "client", client: int = 0,
    fragment_size: int | None = None, advance: int | None = None,
) -> Step:  # fmt: skip
    """A text message (split into frames of `fragment_size` bytes if given)."""
    return s.send_text(text, side=side, client=client, fragment_size=fragment_size, advance=advance)


def _send_binary(
    s: Scenario, size: int, *, side: Side = "client", client: int = 0,
    fragment_size: int | None = None, advance: int | None = None,
) -> Step:  # fmt: skip
    """A binary message of `size` bytes (0, 1, 2, … 255, 0, 1, …)."""
    data = bytes(i & 0xFF for i in range(size))
    return s.send_binary(
        data, side=side, client=client, fragment_size=fragment_size, advance=advance
    )


def _ping(s: Scenario, payload: str = "", *, side: Side = "client", client: int = 0) -> Step:
    """A ping frame; the peer's engine answers with a pong."""
    return s.ping(payload.encode(), side=side, client=client)


def _close(
    s: Scenario, code: int | None = 1000, reason: str = "", *, side: Side = "client",
    client: int = 0,
) -> Step:  # fmt: skip
    """Start the closing handshake with a code and reason."""
    return s.close(code, reason, side=side, client=client)


def _send_raw(s: Scenario, hex: str, *, side: Side = "client", client: int = 0) -> Step:
    """Hand-made bytes (hex) straight onto the connection: the peer's engine judges them."""
    return s.send_raw(bytes.fromhex(hex), side=side, client=client)


def _drop_next(
    s: Scenario, side: Side = "client", *, what: What = "data", count: int = 1,
    client: int = 0, link: str | None = None,
) -> None:  # fmt: skip
    """Lose the next packet(s) of a kind that side sends."""
    s.drop_next(side, what=what, count=count, client=client, link=link)


def _delay_next(
    s: Scenario, seconds: float, side: Side = "client", *, what: What = "data", count: int = 1,
    client: int = 0,
) -> None:  # fmt: skip
    """Hold the next packet(s) back: they arrive late, maybe out of order."""
    s.delay_next(seconds, side, what=what, count=count, client=client)


def _receive_buffer(s: Scenario, side: Side, size: int, *, client: int = 0) -> None:
    """Change that side's TCP receive buffer."""
    s.set_receive_buffer(side, size, client=client)


def _read_rate(s: Scenario, side: Side, rate: float, *, chunk: int = 4096, client: int = 0) -> None:
    """That side's application reads `chunk` bytes every chunk/rate seconds."""
    s.set_read_rate(side, rate, chunk=chunk, client=client)


def _pause_reading(s: Scenario, side: Side, *, client: int = 0) -> None:
    """That side's application stops reading: its receive buffer fills."""
    s.pause_reading(side, client=client)


def _resume_reading(s: Scenario, side: Side, *, client: int = 0) -> Step:
    """That side's application reads again."""
    return s.resume_reading(side, client=client)


def _route(
    s: Scenario, router: str, prefix: str, *, via: str | None = None, dev: str | None = None,
    metric: int = 0,
) -> None:  # fmt: skip
    """Add or replace a routing-table row."""
    s.set_route(router, prefix, via=via, dev=dev, metric=metric)


def _unroute(s: Scenario, router: str, prefix: str) -> None:
    """Remove a routing-table row."""
    s.remove_route(router, prefix)


def _http_get(
    s: Scenario, path: str = "/", *headers: str, method: str = "GET", auth: str | None = None,
    client: int = 0,
) -> Step:  # fmt: skip
    """A plain HTTP request, plus any "Name: value" header lines (again = polling).

    It goes on the client's HTTP connection, opened if needed; repeated calls reuse
    it. auth="user:password" sends Basic credentials.
    """
    credentials = None
    if auth is not None:
        user, colon, password = str(auth).partition(":")
        if not colon:
            raise ValueError(f'auth={auth!r}: write it as "user:password"')
        credentials = (user, password)
    lines = [str(h) for h in headers]
    return s.http_get(str(path), lines, method=str(method), auth=credentials, client=client)


def _http_request(s: Scenario, *lines: str, body: str = "", client: int = 0) -> Step:
    """A hand-written HTTP request: LINES joined by CR LF, ended by an empty line.

    The request line first, then header lines, sent exactly as given on the client's
    HTTP connection, so the server's answer to a faulty request can be seen.
    """
    return s.http_request([str(line) for line in lines], body=str(body).encode(), client=client)


def _traceroute(s: Scenario, *, client: int = 0) -> Step:
    """Echo requests with TTL 1, 2, 3, …: every router on the way answers."""
    return s.traceroute(client=client)


def _ping_host(s: Scenario, *, ttl: int = 64, client: int = 0) -> Step:
    """One ICMP echo request from the client to the server, with this TTL."""
    host = s.client_hosts[client]
    return s._step(f"ping TTL {ttl}", lambda: host.ping(s.server_host.address, ttl=ttl), None)


def _wait(s: Scenario, seconds: float) -> Step:
    """Let time pass: timers fire, slow readers read."""
    return s.wait(seconds)


def _advance(s: Scenario, events: int | None = None) -> Step:
    """Run to the next quiet point, or this many events."""
    return s.advance(events)


def _finish(s: Scenario) -> Step:
    """Run everything still pending, TIME-WAIT included."""
    return s.finish()


ACTIONS: dict[str, ActionFunction] = {
    "open": _open,
    "connect": _connect,
    "connect_port": _connect_port,
    "upgrade": _upgrade,
    "send_text": _send_text,
    "send_binary": _send_binary,
    "ping": _ping,
    "close": _close,
    "send_raw": _send_raw,
    "drop_next": _drop_next,
    "delay_next": _delay_next,
    "receive_buffer": _receive_buffer,
    "read_rate": _read_rate,
    "pause_reading": _pause_reading,
    "resume_reading": _resume_reading,
    "route": _route,
    "unroute": _unroute,
    "http_get": _http_get,
    "http_request": _http_request,
    "traceroute": _traceroute,
    "ping_host": _ping_host,
    "wait": _wait,
    "advance": _advance,
    "finish": _finish,
}


def describe(name: str) -> str:
    """The action's call shape and first doc line, for `wirelab lessons actions`."""
    function = ACTIONS[name]
    params = list(inspect.signature(function).parameters.values())[1:]
    shown = []
    for p in params:
        if p.default is inspect.Parameter.empty:
            shown.append(p.name.upper())
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            shown.append(f"[{p.name}={p.default}]")
        else:
            shown.append(f"[{p.name.upper()}]")
    doc = (function.__doc__ or "").strip().splitlines()[0]
    return f"{' '.join([name, *shown])}  — {doc}"


def _value(token: str) -> Any:
    lowered = token.lower()
    if lowered == "none":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(token)
        except ValueError:
            pass
    return token


def parse_action(text: str) -> tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    """Name, positional and keyword arguments of one action line; `ValueError` with a
    message for a learner-facing error when the line cannot be used."""
    if len(text) > MAX_LINE:  # shlex reads a character at a time: bound it first
        raise ValueError(f"an action line of {len(text):,} characters: at most {MAX_LINE:,}")
    try:
        words = shlex.split(text, comments=True)
    except ValueError as error:
        raise ValueError(f"cannot read {text!r}: {error}") from None
    if not words:
        raise ValueError("empty action")
    name, *rest = words
    function = ACTIONS.get(name)
    if function is None:
        close = difflib.get_close_matches(name, ACTIONS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(f"unknown action {name!r}{hint}")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for word in rest:
        key, eq, value = word.partition("=")
        if eq and key.isidentifier():
            kwargs[key] = _value(value)
        else:
            if kwargs:
                raise ValueError(f"{name}: {word!r} comes after a name=value argument")
            args.append(_value(word))
    # Text arguments stay text even when they look like numbers ("send_text 42").
    signature = inspect.signature(function)
    params = list(signature.parameters.values())[1:]
    for i, param in enumerate(params[: len(args)]):
        if param.annotation in ("str", "str | None") and not isinstance(args[i], str):
            args[i] = rest[i]
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError as error:
        raise ValueError(f"{name}: {error}; usage: {describe(name)}") from None
    for key, value in list(bound.arguments.items())[1:]:
        _check(name, signature.parameters[key], value)
    return name, tuple(args), tuple(kwargs.items())


#: The range of each numeric argument, by its name (an action may narrow it): what a
#: lesson needs, and a bound on what a run may cost.
RANGES: dict[str, tuple[float, float]] = {
    "size": (0, 16 << 20),  # bytes of a message
    "fragment_size": (1, 16 << 20),
    "seconds": (0, 600),  # simulated seconds
    "rate": (1, 1e10),  # bytes per second
    "chunk": (1, 1 << 20),
    "events": (0, 1_000_000),
    "client": (0, 63),
    "advance": (0, 1_000_000),
    "count": (1, 1000),
    "ttl": (1, 255),
    "port": (1, 65535),
    "metric": (0, 65535),
    "code": (0, 4999),
}
_ACTION_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("receive_buffer", "size"): (1, 65535 << 14),  # RFC 7323's largest window
    ("delay_next", "seconds"): (0, 60),
}
#: The longest action line, and text argument, in characters.
MAX_LINE = 64 << 10
TEXT_LIMITS: dict[str, int] = {}
_TEXT_DEFAULT = MAX_LINE
_CHOICES: dict[str, tuple[str, ...]] = {
    "Side": ("client", "server"),
    "What": ("any", "data", "syn", "fin", "ack", "rst"),
}


def _check(action: str, param: inspect.Parameter, value: Any) -> None:
    """`value` fits `param`'s type and range; else a `ValueError` saying what would."""
    if value is None and param.default is None:
        return
    if param.kind is inspect.Parameter.VAR_POSITIONAL:
        values = value if isinstance(value, tuple) else (value,)
        total = sum(len(str(v)) for v in values)
        if total > TEXT_LIMITS.get(param.name, _TEXT_DEFAULT):
            raise ValueError(f"{action}: {param.name} of {total:,} characters is too long")
        return
    annotation = str(param.annotation)
    where = f"{action}: {param.name}"
    for kind, allowed in _CHOICES.items():
        if kind in annotation.split(" | "):
            if value not in allowed:
                raise ValueError(f"{where} = {value!r}: one of {', '.join(allowed)}")
            return
    if annotation.startswith("str"):
        if not isinstance(value, str):
            value = str(value)
        limit = TEXT_LIMITS.get(param.name, _TEXT_DEFAULT)
        if len(value) > limit:
            raise ValueError(f"{where} of {len(value):,} characters: at most {limit:,}")
        return
    numeric = annotation.startswith(("int", "float"))
    if not numeric:
        return
    wants_int = annotation.startswith("int")
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "a whole number" if wants_int else "a number"
        raise ValueError(f"{where} = {value!r}: {kind}")
    if wants_int and not isinstance(value, int):
        raise ValueError(f"{where} = {value!r}: a whole number")
    if not math.isfinite(value):
        raise ValueError(f"{where} = {value!r}: a finite number")
    low, high = _ACTION_RANGES.get((action, param.name), RANGES.get(param.name, (0, 1 << 31)))
    if not low <= value <= high:
        raise ValueError(f"{where} = {value!r}: from {_show(low)} to {_show(high)}")


def _show(number: float) -> str:
    return f"{int(number):,}" if float(number).is_integer() else f"{number:g}"


def run_action(
    scenario: Scenario, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    ACTIONS[name](scenario, *args, **kwargs)


__all__ = ["ACTIONS", "RANGES", "describe", "parse_action", "run_action"]
