"""permessage-deflate as Wireshark reads it: tshark inflates every compressed message of a
session through wirelab's server (our client and the websockets library's, context
takeover, a fragmented message) back to exactly what was sent."""

from __future__ import annotations

from pathlib import Path

from websockets.asyncio.client import connect as websockets_connect

from simulator.live import connect, trace_tap
from simulator.trace import Trace, export_pcap
from simulator.ws import TextMessage
from tests.live.support import STEP, run, serving
from tests.wireshark.support import require_tshark, tshark

NUMBERS = " ".join(str(i * 7919 % 10007) for i in range(400))  # compresses to about 1 kB
OURS = ["hello hello hello", "hello hello hello", NUMBERS, "é ü ß " * 30]
THEIRS = ["from websockets", "from websockets", "{" + '"k": 1, ' * 200 + "}"]


async def compressed_session(path: Path) -> int:
    trace = Trace()
    async with serving(tap=trace_tap(trace)) as server:
        client = await connect(server.url + "echo")
        assert [e.name for e in client.conn.extensions] == ["permessage-deflate"]
        for text in OURS:
            client.send_text(text, fragment_size=64 if text is NUMBERS else None)
            assert await client.recv(STEP) == TextMessage(text)
        await client.close()
        async with websockets_connect(server.url + "echo", ping_interval=None) as theirs:
            for text in THEIRS:
                await theirs.send(text)
                assert await theirs.recv() == text
        port = server.port
    export_pcap(trace, path)
    return port


def test_tshark_inflates_every_message_to_what_was_sent(tmp_path: Path) -> None:
    require_tshark()
    path = tmp_path / "deflate.pcap"
    port = run(compressed_session(path), timeout=20)
    decode = ("-r", str(path), "-d", f"tcp.port=={port},http")
    fields = ("-T", "fields", "-E", "separator=|", "-e", "websocket.pmc", "-e", "websocket.fin")
    # The unfragmented messages: each twice (the client's, then the echo; the fragmented
    # one only as echoed), inflated by tshark to exactly what was sent.
    out = tshark(*decode, "-Y", "websocket.opcode == 1 && !(websocket.fin == 0)", *fields,
                 "-e", "websocket.payload.text")  # fmt: skip
    rows = [line.split("|", 2) for line in out.splitlines()]
    expected = [text for text in OURS + THEIRS for _ in range(1 if text is NUMBERS else 2)]
    assert rows == [["1", "1", text] for text in expected]
    # Our client's fragmented message: RSV1 on the first frame only (RFC 7692 §6), FIN
    # on the last. (tshark does not inflate a compressed message across fragments; that
    # the messages after it inflate shows both sides' contexts stayed in step.)
    [fragmented] = [line.split("|") for line in tshark(
        *decode, "-Y", "websocket.fin == 0", *fields).splitlines()]  # fmt: skip
    pmcs, fins = fragmented[0].split(","), fragmented[1].split(",")
    assert len(pmcs) > 4
    assert pmcs == ["1"] + ["0"] * (len(pmcs) - 1)
    assert fins == ["0"] * (len(fins) - 1) + ["1"]
    assert "Decompression failed" not in tshark(*decode)
