"""The `wirelab` command line: argument parsing and dispatch to the modes."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from simulator import __version__
from simulator.errors import WirelabError

T = TypeVar("T")

if TYPE_CHECKING:
    from simulator.lessons.course import Course
    from simulator.live import Server, Session
    from simulator.live.capture import KernelCapture
    from simulator.live.server import Notify
    from simulator.network import Scenario
    from simulator.trace import RecordSource, Trace
    from simulator.trace.synth import Recorder
    from simulator.views.inspector import SourceModel


def _size(text: str) -> int:
    """`1048576`, `1MiB`, `64KiB`, `16M`... → bytes."""
    units = {
        "": 1,
        "k": 1 << 10,
        "kib": 1 << 10,
        "m": 1 << 20,
        "mib": 1 << 20,
        "g": 1 << 30,
        "gib": 1 << 30,
        "b": 1,
    }
    stripped = text.strip().lower()
    number = stripped.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = stripped[len(number) :]
    if not number.isdigit() or unit not in units:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 1048576 or 1MiB)")
    return int(number) * units[unit]


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"not a number of seconds from 0 to 86400: {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return int(text)


# Where a command's own `--lessons DIR` goes. Under the global option's name it would replace
# the folders given before the command (argparse copies a command's options over the global
# ones); `_lesson_folders` reads both.
_LESSONS_AFTER = "lessons_after_command"


def _lessons_option(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument(
        "--lessons", action="append", dest=_LESSONS_AFTER, default=[], metavar="DIR", help=text
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirelab",
        description="Watch real bytes cross a network: WebSocket, HTTP, TCP and IP.",
    )
    parser.add_argument("--version", action="version", version=f"wirelab {__version__}")
    parser.add_argument(
        "--lessons", action="append", default=[], metavar="DIR",
        help="also read lessons from DIR (repeatable); with no command: the home screen",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    learn = sub.add_parser("learn", help="self-paced lessons: checkpoints, saved progress")
    learn.add_argument("lesson", nargs="?", help="a lesson id or number (default: the course)")
    _lessons_option(learn, "also read lessons from DIR (repeatable)")
    learn.set_defaults(func=_cmd_learn)
    teach = sub.add_parser("teach", help="classroom mode: a presenter layout for a projector")
    teach.add_argument("lesson", nargs="?", help="a lesson id or number (default: the course)")
    _lessons_option(teach, "also read lessons from DIR (repeatable)")
    teach.add_argument(
        "--share",
        action="store_true",
        help="let students follow your steps and answer the checkpoints: "
        "wirelab follow HOST:PORT/CODE (the address is on the lesson bar)",
    )
    teach.add_argument(
        "--host",
        default="127.0.0.1",
        help="with --share: address to bind (default 127.0.0.1; 0.0.0.0 for a classroom)",
    )
    teach.add_argument(
        "--port", type=_port, default=8766, help="with --share: TCP port (default 8766)"
    )
    teach.add_argument(
        "--results",
        metavar="FILE",
        help="with --share: when you quit, write the class's answers to FILE "
        "(.csv, or .json): per student and checkpoint, the answer, right or wrong, when",
    )
    teach.add_argument(
        "--verdicts",
        choices=("reveal", "now"),
        default="reveal",
        help="with --share: when students learn whether they were right: when you reveal "
        "the answer (default) or as soon as they answer",
    )
    teach.set_defaults(func=_cmd_teach)
    follow = sub.add_parser("follow", help="follow a teacher's `wirelab teach --share`")
    follow.add_argument(
        "url", help="the address on the teacher's screen: HOST:PORT/CODE (or ws://…)"
    )
    follow.add_argument(
        "--name", default="", help="the name the teacher sees beside your answers (default: none)"
    )
    _lessons_option(follow, "also read lessons from DIR, as the teacher does")
    follow.set_defaults(func=_cmd_follow)

    serve = sub.add_parser(
        "serve",
        help="serve a browser page, /echo and /chat; watch every byte live (--headless: no TUI)",
        description="One port serves the browser page at http://HOST:PORT/, the chat broker at "
        "ws://HOST:PORT/chat and an echo on any other WebSocket path. The TUI lists the "
        "connections and shows every byte of each.",
    )
    serve.add_argument("--headless", action="store_true", help="no TUI: log connections only")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 exposes it)",
    )
    serve.add_argument("--port", type=_port, default=8765, help="TCP port (default 8765; 0: any)")
    serve.add_argument(
        "--max-size",
        type=_size,
        default=1 << 20,
        metavar="N",
        help="largest message accepted, e.g. 1MiB (default); more closes with 1009",
    )
    serve.add_argument(
        "--origin",
        action="append",
        metavar="ORIGIN",
        help="allow only this Origin (repeat for several); others get 403",
    )
    serve.add_argument(
        "--max-connections",
        type=_positive,
        default=1024,
        metavar="N",
        help="refuse connections beyond N with HTTP 503 (default 1024)",
    )
    serve.add_argument(
        "--handshake-timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="drop a connection that has not completed its handshake in S seconds (default 10)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=60.0,
        metavar="S",
        help="close (1008) a WebSocket that has sent no message S seconds after opening "
        "(default 60; 0: never)",
    )
    serve.add_argument(
        "--no-compression",
        action="store_true",
        help="decline permessage-deflate (on by default: browsers and websockets offer it)",
    )
    serve.add_argument(
        "--capture",
        action="store_true",
        help="also record the kernel's loopback packets of these connections (root or CAP_NET_RAW)",
    )
    serve.add_argument(
        "--record",
        metavar="FILE",
        help="record every byte as packets to FILE (.pcap, or .pcapng), written as it comes",
    )
    _loop_option(serve)
    serve.set_defaults(func=_cmd_serve)

    client = sub.add_parser("client", help="connect to a WebSocket server, send, print replies")
    client.add_argument("url", help="ws://HOST:PORT/PATH")
    client.add_argument("--send", default="hello", metavar="TEXT", help="message to send")
    client.add_argument("--binary", action="store_true", help="send TEXT's UTF-8 as binary")
    client.add_argument("--count", type=_positive, default=1, metavar="N", help="send it N times")
    client.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the handshake and for each reply (default 10)",
    )
    _loop_option(client)
    client.set_defaults(func=_cmd_client)

    accept = sub.add_parser("accept", help="compute Sec-WebSocket-Accept step by step")
    accept.add_argument("key", nargs="?", help="a Sec-WebSocket-Key (default: a fresh random one)")
    accept.set_defaults(func=_cmd_accept)

    inspect = sub.add_parser(
        "inspect", help="browse a capture: packet list, field tree and hex pane, linked"
    )
    inspect.add_argument("file", help="a pcap or pcapng file")
    inspect.set_defaults(func=_cmd_inspect)

    dissect = sub.add_parser(
        "dissect", help="print a capture's annotated dissection and hex dump (or --json)"
    )
    dissect.add_argument("file", nargs="?", help="a pcap or pcapng file")
    dissect.add_argument(
        "--fields", action="store_true",
        help="list every field name a filter can use: name, type, description (no file)",
    )  # fmt: skip
    dissect.add_argument("--packet", type=_positive, metavar="N", help="only packet number N")
    dissect.add_argument("--json", action="store_true", help="field trees as JSON, for scripts")
    dissect.add_argument(
        "--filter", metavar="EXPR",
        help="only the packets a display filter matches, numbered as in the whole capture "
        "(as tshark -Y)",
    )  # fmt: skip
    dissect.set_defaults(func=_cmd_dissect)

    simulate = sub.add_parser(
        "simulate",
        help="run a built-in scenario on the simulated network and write its packets",
        description="Run a built-in scenario on the simulated network (the real WebSocket "
        "engine over a TCP model and IP routers) and write what one capture point saw. "
        "The same scenario and seed give the same bytes.",
    )
    simulate.add_argument("scenario", nargs="?", help="a scenario name (see --list)")
    simulate.add_argument("-o", "--output", metavar="FILE", help="the pcap (or pcapng) to write")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    simulate.add_argument("--list", action="store_true", help="list the scenarios and exit")
    where = simulate.add_mutually_exclusive_group()
    where.add_argument(
        "--at", metavar="LINK", help="capture on this link, e.g. r1-r2 (default: the client's)"
    )
    where.add_argument(
        "--all-links", action="store_true", help="every link: pcapng, one interface per link"
    )
    simulate.set_defaults(func=_cmd_simulate)

    lessons = sub.add_parser("lessons", help="check, list and explain lesson files")
    what = lessons.add_subparsers(dest="lessons_command", metavar="{check,list,actions,export}")
    check = what.add_parser(
        "check", help="validate lesson files: each problem with its file and line"
    )
    check.add_argument(
        "dir", nargs="?", help="a folder of lesson files (default: the course, if no --lessons)"
    )
    _lessons_option(check, "also check the lesson files in DIR (repeatable)")
    check.add_argument(
        "--no-run", action="store_true", help="only read the files; do not run their networks"
    )
    check.set_defaults(func=_cmd_lessons_check)
    listing = what.add_parser("list", help="the course, in order")
    _lessons_option(listing, "also read lessons from DIR (repeatable)")
    listing.set_defaults(func=_cmd_lessons_list)
    actions = what.add_parser("actions", help="the actions a lesson's ```do blocks may use")
    actions.set_defaults(func=_cmd_lessons_actions)
    export = what.add_parser(
        "export",
        help="write a lesson's whole run as pcapng: every link, one interface each",
        description="Run a lesson's network, every step, and write the packets of every link "
        "as pcapng, one interface per link. A .pcap file holds one link: it is written only "
        "when the lesson's network has just one.",
    )
    export.add_argument("lesson", help="a lesson id, number or file name, or a lesson file")
    export.add_argument(
        "-o", "--output", metavar="FILE", help="the pcapng (or, for one link, pcap) to write"
    )
    _lessons_option(export, "also read lessons from DIR (repeatable)")
    export.set_defaults(func=_cmd_lessons_export)
    lessons.set_defaults(func=lambda args: _print_help(lessons))
    return parser


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            parser.print_help()
            print("\n(run `wirelab` in a terminal for the home screen)")
            return 0
        args.func, args.lesson = _cmd_learn, None
    try:
        return int(args.func(args))
    except WirelabError as error:
        print(f"wirelab: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `wirelab dissect FILE | head`: the reader has had enough
        # Python flushes stdout again at exit; point it at nothing so that cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE  # what a program the pipe's signal ended reports


# --- serve ------------------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _server(args: argparse.Namespace, trace: Trace | None, notify: Notify) -> Server:
    """The server the options describe, tapping into `trace` when there is one."""
    from simulator.live import trace_tap
    from simulator.live.server import default_config
    from simulator.live.site import site
    from simulator.ws import Config

    extensions = () if args.no_compression else default_config().extensions
    config = Config(
        max_size=args.max_size,
        origins=tuple(args.origin) if args.origin else None,
        extensions=extensions,
    )
    return site(
        host=args.host,
        port=args.port,
        config=config,
        notify=notify,
        max_connections=args.max_connections,
        handshake_timeout=args.handshake_timeout,
        idle_timeout=args.idle_timeout or None,
        tap=trace_tap(trace) if trace is not None else None,
    )


def _banner(server: Server) -> str:
    return (
        f"wirelab server on {server.url} — page {server.page_url}, "
        f"chat {server.url}chat, echo on any other path"
    )


def _settings(args: argparse.Namespace) -> str:
    origins = ", ".join(args.origin) if args.origin else "any"
    deflate = "off" if args.no_compression else "permessage-deflate"
    return (
        f"limits: messages up to {args.max_size} bytes, {args.max_connections} connections, "
        f"handshake within {args.handshake_timeout:g} s; origins: {origins}; "
        f"compression: {deflate}; event loop: {_loop_name()}"
    )


def _loop_name() -> str:
    """The running loop, as people know it: uvloop or asyncio."""
    return "uvloop" if "uvloop" in type(asyncio.get_running_loop()).__module__ else "asyncio"


async def _start(server: Server, args: argparse.Namespace) -> None:
    try:
        await server.start()
    except OSError as error:
        raise WirelabError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None


def _exposed(args: argparse.Namespace, what: str = "") -> str | None:
    if args.host in ("127.0.0.1", "localhost", "::1"):
        return None
    if not what:
        origins = "only from " + ", ".join(args.origin) if args.origin else "from any origin"
        what = f"load the page, chat and echo ({origins}); everything they send is shown here"
    return f"listening on {args.host}: other machines can {what}"


def _capture(trace: Trace, server: Server) -> KernelCapture | str:
    """Start recording the kernel's packets of `server`'s port, or say why it cannot."""
    from simulator.live.capture import CaptureUnavailable, start_capture

    try:
        return start_capture(trace, server.port)
    except CaptureUnavailable as error:
        return str(error)


@dataclass
class _Serving:
    """A running serve session: its server, and the kernel capture when there is one."""

    server: Server
    kernel: KernelCapture | None = None
    capture_problem: str | None = None  # why --capture could not start


@asynccontextmanager
async def _serving(
    args: argparse.Namespace, trace: Trace | None, note: Notify
) -> AsyncIterator[_Serving]:
    """One serve session, for both modes: the server started (its trace tapped, recorded
    to `--record` as it comes, the kernel's packets captured with `--capture`); on the
    way out every connection closed with 1001, the capture stopped and the recording
    finished, whatever happened in between."""
    server = _server(args, trace, note)
    recorder = _recorder(args, trace, server) if trace is not None else None
    session = _Serving(server)
    try:
        await _start(server, args)
        if args.capture and trace is not None:
            capture = _capture(trace, server)
            if isinstance(capture, str):
                session.capture_problem = capture
            else:
                session.kernel = capture
                if recorder is not None:
                    recorder.kernel = True  # the kernel's packets are the ones to keep
        yield session
    finally:
        await server.shutdown()
        if session.kernel is not None:
            await asyncio.sleep(0.2)  # the teardown's last packets
            print(await session.kernel.aclose(), flush=True)
        _finish(recorder)


def _recorder(args: argparse.Namespace, trace: Trace, server: Server) -> Recorder | None:
    """`--record FILE`: every record of `trace` written to FILE as it comes (never held in
    memory for it), each connection's teardown when it closes."""
    if args.record is None:
        return None
    from simulator.trace.synth import Recorder

    recorder = Recorder(args.record)
    trace.subscribe(recorder)

    def ended(session: Session) -> None:
        if session.info is not None and session.closed.done():
            recorder.ended(session.info.id)

    server.observers.append(ended)
    return recorder


def _finish(recorder: Recorder | None) -> None:
    if recorder is not None:
        done = recorder.close()
        packets = _plural(done.packets, "packet")
        connections = _plural(done.connections, "connection")
        print(f"wrote {packets} ({connections}) to {done.path}", flush=True)


LOOPS = ("auto", "uvloop", "asyncio")


def _loop_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="event loop: uvloop (faster) or asyncio's own; auto (default): uvloop where "
        "it is installed",
    )


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop `choice` names (None: asyncio's own). uvloop is a drop-in loop on
    libuv; `--loop asyncio` keeps the standard one, which is tested as fully."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise WirelabError(
                "--loop uvloop: uvloop is not installed (pip install uvloop)"
            ) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_loop(main: Coroutine[Any, Any, T], choice: str) -> T:
    """Run `main` to the end on the event loop `choice` names (see `loop_factory`)."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)


def _cmd_serve(args: argparse.Namespace) -> int:
    from simulator.trace import Trace, check_writable

    if args.record is not None:
        check_writable(args.record)  # fail now, not after a session's worth of traffic
    if not args.headless:
        return _serve_inspector(args)

    def note(session: Session, text: str) -> None:
        print(f"{session.info}  {text}", flush=True)

    if args.capture and args.record is None:
        raise WirelabError("--capture without the TUI needs --record FILE to keep the packets")
    trace = Trace(keep=False) if args.record is not None else None  # written as it comes

    async def run() -> None:
        async with _serving(args, trace, note) as serving:
            server = serving.server
            if serving.capture_problem is not None:
                print(serving.capture_problem, flush=True)
            elif serving.kernel is not None:
                print(f"capturing the kernel's packets of port {server.port} on lo", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            print(f"{_banner(server)}; Ctrl-C stops it", flush=True)
            print(_settings(args), flush=True)
            if exposed := _exposed(args):
                print(f"note: {exposed}", flush=True)
            await stop.wait()
            count = len(server.sessions)
            print(f"stopping: closing {_plural(count, 'connection')} with 1001", flush=True)

    run_loop(run(), args.loop)
    return 0


def _serve_inspector(args: argparse.Namespace) -> int:
    """`wirelab serve`: the echo server and the inspector following its bytes, one event loop."""
    from simulator.trace import Trace
    from simulator.tui.app import ServeApp

    # The inspector keeps the recent traffic only: a long session cannot use up the memory
    # (`--record` writes everything to its file as it comes).
    trace = Trace(limit_bytes=SERVE_TRACE_BYTES, limit_records=SERVE_TRACE_RECORDS)
    app: ServeApp | None = None

    def note(session: Session, text: str) -> None:
        if text.startswith(("open ", "closed (", "GET ", "HEAD ")):
            return  # the connection table shows those
        if app is not None:
            app.notify(f"{session.info}  {text}", timeout=4, markup=False)

    async def run() -> None:
        nonlocal app
        async with _serving(args, trace, note) as serving:
            server, kernel = serving.server, serving.kernel
            url = server.url
            if serving.capture_problem is not None:
                print(serving.capture_problem, flush=True)  # also after the TUI is gone
            app = ServeApp(
                _model(trace),
                server,
                source=f"live · {url}" + (" · kernel packets too" if kernel else ""),
                empty_text=f"Waiting for traffic: open {server.page_url} in a browser, "
                f"or run  wirelab client {url}echo --send hi",
                kernel=kernel is not None,
            )
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, app.exit)
            if exposed := _exposed(args):
                app.call_later(app.notify, exposed, severity="warning", markup=False)
            if serving.capture_problem is not None:
                app.call_later(app.notify, serving.capture_problem, severity="warning",
                               timeout=10, markup=False)  # fmt: skip
            try:
                await app.run_async()
            finally:
                print(f"wirelab serve: {len(trace)} records seen", flush=True)

    run_loop(run(), args.loop)
    return 0


SERVE_TRACE_BYTES = 32 << 20
SERVE_TRACE_RECORDS = 200_000


def _model(source: RecordSource) -> SourceModel:
    """The inspector's model: records dissected with the messages their streams carry."""
    from simulator.dissect.conversation import message_conversation
    from simulator.dissect.stream_view import StreamDissector
    from simulator.views.inspector import SourceModel

    stream = StreamDissector(source, relative=True)  # as Wireshark shows them; n toggles
    return SourceModel(source, stream, conversation=message_conversation(stream))


# --- inspect ----------------------------------------------------------------------------


def _check_file(path: str) -> None:
    if os.path.isdir(path):
        raise WirelabError(f"{path} is a directory, not a capture file")
    if not os.path.isfile(path):
        raise WirelabError(f"no such file: {path}")


def _cmd_inspect(args: argparse.Namespace) -> int:
    from simulator.trace.pcap import open_capture
    from simulator.tui.app import InspectorApp

    path = os.fspath(args.file)
    _check_file(path)
    capture = open_capture(path)  # CaptureError is a WirelabError: one clear line
    InspectorApp(_model(capture), source=os.path.basename(path)).run()
    return 0


def _cmd_dissect(args: argparse.Namespace) -> int:
    from rich.console import Console

    from simulator.dissect.filters import FilterError, compile_filter
    from simulator.views.handout import dissect_file

    if args.fields:
        if args.file or args.packet or args.filter:
            raise WirelabError("--fields lists the field names; it takes no file or options")
        return _print_fields(as_json=args.json)
    if args.file is None:
        raise WirelabError("name a capture file (or --fields, for the field names)")
    try:
        shown = compile_filter(args.filter) if args.filter else None
    except FilterError as error:
        raise WirelabError(f"--filter {args.filter!r}: {error}") from None  # column N: why
    _check_file(args.file)
    return dissect_file(
        args.file, packet=args.packet, as_json=args.json, console=Console(), only=shown
    )


def _print_fields(*, as_json: bool) -> int:
    """The field registry: one line a field, or JSON."""
    from simulator.dissect.registry import fields

    known = sorted(fields().values(), key=lambda info: info.name)
    if as_json:
        rows = [
            {"name": i.name, "type": i.kind.value, "description": i.description,
             "stands_for": list(i.of) or None, "header": i.header}
            for i in known
        ]  # fmt: skip
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return 0
    width = max(len(info.name) for info in known)
    kinds = max(len(info.kind.value) for info in known)
    for info in known:
        said = info.description
        if info.of:
            said += f" (stands for {' or '.join(info.of)})"
        print(f"{info.name:<{width}}  {info.kind.value:<{kinds}}  {said}")
    print("\nA name starting websocket. is the ws. name (Wireshark's spelling); ipv4. is ip.")
    return 0


# --- simulate ---------------------------------------------------------------------------


def _cmd_simulate(args: argparse.Namespace) -> int:
    from simulator.network.scenarios import BUILT_IN, run_built_in
    from simulator.trace import check_writable

    if args.list:
        width = max(len(name) for name in BUILT_IN)
        for item in BUILT_IN.values():
            print(f"{item.name:<{width}}  {item.summary}")
        return 0
    if args.scenario is None:
        raise WirelabError("name a scenario (wirelab simulate --list shows them)")
    if args.scenario not in BUILT_IN:
        names = ", ".join(BUILT_IN)
        raise WirelabError(f"no scenario named {args.scenario!r} (built in: {names})")
    if args.output is None:
        raise WirelabError("say where to write the packets: -o FILE.pcap")
    check_writable(args.output)
    scenario = run_built_in(args.scenario, args.seed)
    if args.at is not None:
        links = [link.name for link in scenario.links]
        if args.at not in links:
            raise WirelabError(f"no link named {args.at!r} (links: {', '.join(links)})")
    count = scenario.write_pcap(args.output, at=args.at, all_links=args.all_links)
    if args.all_links:
        where = f"{len(scenario.links)} links"
    else:
        where = f"link {scenario.capture_link(args.at).name}"
    print(_wrote(f"{args.scenario} (seed {args.seed})", scenario, count, where, args.output),
          flush=True)  # fmt: skip
    return 0


def _wrote(what: str, scenario: Scenario, count: int, where: str, output: str) -> str:
    """The one line `simulate` and `lessons export` print once the packets are written."""
    lost = len(scenario.network.drops)
    extra = f", {_plural(lost, 'packet')} lost on the way" if lost else ""
    return (
        f"{what}: {_plural(count, 'packet')} seen on {where}{extra}; "
        f"{scenario.now:.2f} s simulated; wrote {output}"
    )


# --- lessons ----------------------------------------------------------------------------


def _lesson_folders(args: argparse.Namespace) -> list[Path]:
    """The `--lessons` folders given before the command, then those given after it."""
    folders = [Path(d) for d in [*args.lessons, *getattr(args, _LESSONS_AFTER, [])]]
    for folder in folders:
        if not folder.is_dir():
            raise WirelabError(f"--lessons {folder}: not a folder")
    return folders


def _load_course(args: argparse.Namespace) -> Course:
    from simulator.lessons import load_course

    course = load_course(_lesson_folders(args))
    lesson = getattr(args, "lesson", None)
    if lesson is not None and course.find(lesson) is None:
        names = ", ".join(lesson.id for lesson in course.lessons)
        raise WirelabError(f"no lesson {lesson!r} (the course: {names})")
    return course


def _course_app(args: argparse.Namespace, *, teach: bool) -> int:
    from simulator.lessons import Progress
    from simulator.tui.course import CourseApp

    CourseApp(_load_course(args), Progress(), start=args.lesson, teach=teach).run()
    return 0


def _cmd_learn(args: argparse.Namespace) -> int:
    return _course_app(args, teach=False)


def _cmd_teach(args: argparse.Namespace) -> int:
    if not args.share:
        return _course_app(args, teach=True)
    from simulator.lessons import Progress
    from simulator.live.addresses import join_hosts
    from simulator.live.classroom import Share, class_url, share_server
    from simulator.tui.course import CourseApp

    results = Path(args.results) if args.results else None
    if results is not None:
        if results.suffix.lower() not in (".csv", ".json"):
            raise WirelabError(f"--results {args.results}: name a .csv or a .json file")
        if not results.parent.is_dir():
            raise WirelabError(f"--results {args.results}: no folder {results.parent}")
    course = _load_course(args)
    share = Share(verdicts=args.verdicts)
    share.results = results  # written at every reveal too, so a crash loses little
    server = share_server(share, host=args.host, port=args.port)

    async def run() -> None:
        try:
            await server.start()
        except OSError as error:
            raise WirelabError(
                f"cannot listen on {args.host}:{args.port}: {error.strerror}"
            ) from None
        urls = [class_url(server, share, host) for host in join_hosts(args.host)]
        app = CourseApp(
            course, Progress(), start=args.lesson, teach=True, share=share, share_url=urls[0]
        )
        app.share_urls = urls
        for sig in (signal.SIGTERM, signal.SIGHUP):  # a closed terminal: quit, results kept
            asyncio.get_running_loop().add_signal_handler(sig, app.exit)
        what = f"follow your lessons at {urls[0]} and answer the checkpoints"
        if exposed := _exposed(args, what):
            app.call_later(app.notify, exposed, severity="warning", markup=False)
        try:
            await app.run_async()
        finally:
            await server.shutdown(reason="the teacher ended the class")

    asyncio.run(run())
    print(f"wirelab teach: shared at {class_url(server, share)}; "
          f"{share.count} still following at the end")  # fmt: skip
    if results is not None:
        try:
            rows = share.poll.write(results, share.judge)
        except OSError as error:
            raise WirelabError(f"cannot write {results}: {error.strerror or error}") from None
        print(f"wirelab teach: {_plural(rows, 'answer')} written to {results}")
    return 0


def _cmd_follow(args: argparse.Namespace) -> int:
    from simulator.live.classroom import follow_url
    from simulator.live.client import parse_url

    url = follow_url(args.url)
    parse_url(url)  # a bad URL: one clear line, before the TUI is even loaded
    from simulator.lessons import Progress
    from simulator.tui.follow import FollowApp

    course = _load_course(args)
    app = FollowApp(course, Progress(), url, name=args.name)

    async def run() -> None:
        await app.run_async()

    asyncio.run(run())
    return 0


def _cmd_lessons_check(args: argparse.Namespace) -> int:
    """Check DIR and the --lessons folders; with none of them, the course's own lessons."""
    from simulator.lessons import check_folder
    from simulator.resources import lessons_dir

    folders = [Path(args.dir)] if args.dir else []
    if folders and not folders[0].is_dir():
        raise WirelabError(f"{folders[0]} is not a folder of lesson files")
    folders += _lesson_folders(args)
    status = 0
    for folder in folders or [lessons_dir()]:
        count, problems = check_folder(folder, run=not args.no_run)
        for problem in problems:
            print(problem, flush=True)
        if count == 0:
            raise WirelabError(f"no lesson files (*.md) in {folder}")
        errors = [problem for problem in problems if not problem.warning]
        verdict = "no problems" if not errors else _plural(len(errors), "problem")
        if len(problems) > len(errors):
            verdict += f", {_plural(len(problems) - len(errors), 'warning')}"
        print(f"{_plural(count, 'lesson')} checked in {folder}: {verdict}", file=sys.stderr)
        status = 1 if errors else status
    return status


def _cmd_lessons_list(args: argparse.Namespace) -> int:
    course = _load_course(args)
    for number, lesson in enumerate(course.lessons, 1):
        about = f"{lesson.id}, {lesson.level}, {len(lesson.steps)} steps"
        print(f"{number:2}. {lesson.title}  [{about}]")
    for _path, problems in course.broken:
        print(f"    broken: {problems[0]}")
    return 0


def _cmd_lessons_actions(args: argparse.Namespace) -> int:
    from simulator.lessons.actions import ACTIONS, describe

    for name in ACTIONS:
        print(describe(name))
    return 0


def _cmd_lessons_export(args: argparse.Namespace) -> int:
    """Every link of the lesson's whole run; any error is one line and status 2."""
    try:
        return _export_lesson(args)
    except WirelabError as error:
        print(f"wirelab: {_one_line(error)}", file=sys.stderr)
        return 2


def _one_line(error: WirelabError) -> str:
    from simulator.lessons import LessonError

    if isinstance(error, LessonError) and error.problems:
        first, more = error.problems[0], len(error.problems) - 1
        return f"{first}" + (f" (and {_plural(more, 'more problem')})" if more else "")
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__


def _export_lesson(args: argparse.Namespace) -> int:
    from simulator.lessons import load_course, parse_lesson
    from simulator.lessons.run import LessonRun
    from simulator.trace import check_writable

    course = load_course(_lesson_folders(args))
    lesson = course.find(args.lesson)
    if lesson is None and Path(args.lesson).is_file():
        lesson = parse_lesson(Path(args.lesson))  # a lesson file outside the course
    if lesson is None:
        names = ", ".join(each.id for each in course.lessons)
        raise WirelabError(f"no lesson {args.lesson!r} (the course: {names})")
    if args.output is None:
        raise WirelabError("say where to write the packets: -o FILE.pcapng")
    check_writable(args.output)  # before the run, as `simulate` does
    run = LessonRun(lesson)  # every step done: the whole run, as the lesson shows it
    scenario = run.scenario
    links = scenario.links
    # pcapng holds every link, one interface each; a classic pcap has no interfaces, so
    # it can hold the run only when one link carried all of it (then it is that link's
    # capture, as `simulate` writes without --all-links).
    one_link = Path(args.output).suffix.lower() == ".pcap"
    if one_link and len(links) > 1:
        raise WirelabError(
            f"{lesson.id} runs on {len(links)} links and a .pcap file holds one: "
            f"write .pcapng (one interface per link)"
        )
    count = scenario.write_pcap(args.output, all_links=not one_link)
    where = f"link {links[0].name}" if one_link else _plural(len(links), "link")
    what = f"{lesson.id} ({_plural(len(run.steps), 'step')})"
    print(_wrote(what, scenario, count, where, args.output), flush=True)
    return 0


# --- client -----------------------------------------------------------------------------


#: The most characters of one message `client` prints.
SHOWN = 4096


def _cmd_client(args: argparse.Namespace) -> int:
    from simulator.live import connect
    from simulator.text import printable
    from simulator.ws import BinaryMessage, CloseReceived, ConnectionFailed, TextMessage

    async def run() -> int:
        client = await connect(args.url, timeout=args.timeout)
        print(f"connected to {args.url}", flush=True)
        payload = args.send.encode("utf-8")
        status = 0
        for _ in range(args.count):
            if args.binary:
                client.send_binary(payload)
            else:
                client.send_text(args.send)
            try:
                event = await client.recv(timeout=args.timeout)
            except TimeoutError:
                print(f"no reply within {args.timeout:g} s", file=sys.stderr)
                status = 1
                break
            # What the server sent is never written raw: escape sequences in it could
            # clear the screen, set the title or write to the clipboard.
            if isinstance(event, TextMessage):
                print(f"< {printable(event.data, limit=SHOWN)}")
            elif isinstance(event, BinaryMessage):
                shown = event.data[: SHOWN // 3].hex(" ") + (
                    " …" if len(event.data) > SHOWN // 3 else ""
                )
                print(f"< [binary {len(event.data)} bytes] {shown}")
            elif isinstance(event, CloseReceived | ConnectionFailed) or event is None:
                print(f"connection ended: {printable(str(event), limit=SHOWN)}", file=sys.stderr)
                return 1
        answer = await client.close()
        ended = f"closed: {answer[0]} {printable(answer[1], limit=SHOWN)}" if answer else "closed"
        print(ended.rstrip())
        return status

    return run_loop(run(), args.loop)


# --- accept -----------------------------------------------------------------------------


def _cmd_accept(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from simulator.ws.handshake import GUID, accept_steps, is_valid_key

    key = args.key or base64.b64encode(os.urandom(16)).decode("ascii")
    try:
        key.encode("ascii")
    except UnicodeEncodeError:
        raise WirelabError("a Sec-WebSocket-Key is ASCII (base64 of 16 bytes)") from None
    steps = accept_steps(key)
    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped into a script or a document: wide enough that no value (the SHA-1 digest
        # above all) is folded across lines.
        console.width = max(console.width, 120)
    table = Table(title="Sec-WebSocket-Accept, step by step (RFC 6455 §4.2.2)", show_lines=True)
    table.add_column("step", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("1. the client's key" + ("" if args.key else " (random)"), f"[cyan]{key}[/]")
    table.add_row("2. append the GUID", f"[cyan]{key}[/][magenta]{GUID}[/]")
    table.add_row("3. SHA-1 of those bytes (20 bytes, hex)", steps.sha1.hex(" "))
    table.add_row("4. base64 of the digest", f"[bold green]{steps.accept}[/]")
    console.print(table)
    console.print(f"Sec-WebSocket-Accept: [bold green]{steps.accept}[/]")
    if not is_valid_key(key):
        console.print(
            "[yellow]note:[/] this key is not base64 of 16 bytes, so a server must refuse "
            "the handshake with 400 instead of computing this value"
        )
    return 0
