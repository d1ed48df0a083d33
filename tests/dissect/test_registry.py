"""The field registry holds every name a dissection can hold, and the filter language,
`wirelab dissect --fields` and the filter bar all read it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.dissect.fields import Dissection
from simulator.dissect.filters import FilterError, compile_filter
from simulator.dissect.registry import Kind, closest, fields
from simulator.dissect.stream_view import StreamDissector
from simulator.network.scenarios import BUILT_IN, run_built_in
from simulator.trace.pcap import open_capture
from simulator.tui.filter_bar import FieldNames, complete
from tests.dissect.corpus import every_dissection


def scenario_dissections(folder: Path) -> list[tuple[str, Dissection]]:
    """Every packet of every built-in scenario, as the inspector dissects them (relative
    numbers, scaled windows, stream indexes, messages)."""
    found = []
    for name in BUILT_IN:
        path = folder / f"{name}.pcap"
        run_built_in(name, 0).write_pcap(path)
        capture = open_capture(path)
        capture.index()
        for relative in (True, False):
            stream = StreamDissector(capture, relative=relative)
            found += [(f"{name} #{i + 1}", stream(capture.record(i))) for i in range(len(capture))]
    return found


@pytest.fixture(scope="module")
def dissections(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Dissection]]:
    return [*every_dissection(), *scenario_dissections(tmp_path_factory.mktemp("registry"))]


def test_every_field_the_dissectors_produce_is_registered(
    dissections: list[tuple[str, Dissection]],
) -> None:
    known = fields()
    missing: dict[str, str] = {}
    for where, dissection in dissections:
        for _, field in dissection.walk():
            info = known.get(field.name)
            if info is None or info.alias:
                missing.setdefault(field.name, where)
    assert not missing, f"fields no dissector registered (name: first seen in): {missing}"


def test_every_name_has_a_type_and_one_line() -> None:
    for name, info in fields().items():
        assert info.name == name and isinstance(info.kind, Kind)
        assert info.description and "\n" not in info.description, name
        assert len(info.description) <= 100, name
        assert info.description[0].isupper() or info.description[0].isdigit(), name


def test_an_alias_stands_for_registered_fields_only() -> None:
    known = fields()
    for name, info in known.items():
        for other in info.of:
            assert other in known and not known[other].alias, (name, other)
        if info.header is not None:
            assert name.startswith("http.") and info.header == info.header.lower()


def test_every_protocol_field_is_the_first_word_of_its_fields() -> None:
    known = fields()
    heads = {name.split(".", 1)[0] for name in known}
    # "messages.more" is a note a packet adds below the messages it completed, not a layer.
    for head in heads - {"messages"}:
        assert head in known and known[head].kind is Kind.PROTOCOL, head


@pytest.mark.parametrize(
    ("text", "column", "suggested"),
    [
        ("tcp.nosuchfield == 1", 1, None),
        ('http.hots contains "127"', 1, "http.host"),
        ("tcp.port == 80 and http.request.urii", 20, "http.request.uri"),
        ("frame.lenght > 100", 1, "frame.len"),
        ("websocket.opcod == 1", 1, "websocket.opcode"),
        ("tcp.analysis.retransmision", 1, "tcp.analysis.retransmission"),
    ],
)
def test_an_unknown_field_is_an_error_at_its_column_with_the_closest_names(
    text: str, column: int, suggested: str | None
) -> None:
    with pytest.raises(FilterError) as raised:
        compile_filter(text)
    assert raised.value.column == column
    message = raised.value.message
    if suggested is None:
        assert "no field is called" in message and "--fields" in message
    else:
        assert f"did you mean {suggested}" in message, message


def test_every_registered_name_compiles() -> None:
    for name in fields():
        compile_filter(name)
        assert name in closest(name)


def test_the_filter_bar_completes_registered_names() -> None:
    assert complete("http.ho") == "http.host"
    assert complete("tcp.port == 80 and frame.le") == "tcp.port == 80 and frame.len"
    assert complete("(fram") == "(frame"
    assert complete("websocket.opc") == "websocket.opcode"
    assert complete("tcp.port == ht") is None  # a value, not a name
    assert complete("tcp.nosuch") is None
    suggested = asyncio.run(FieldNames().get_suggestion("not tcp.analysis.retr"))
    assert suggested == "not tcp.analysis.retransmission"


def run_wirelab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


def test_dissect_fields_lists_the_registry() -> None:
    done = run_wirelab("dissect", "--fields")
    assert done.returncode == 0 and done.stderr == ""
    listed = [line.split()[0] for line in done.stdout.splitlines() if line and line[0] != " "]
    assert set(fields()) <= set(listed)
    rows = json.loads(run_wirelab("dissect", "--fields", "--json").stdout)
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == set(fields())
    assert by_name["ip.addr"]["stands_for"] == ["ip.src", "ip.dst"]
    assert by_name["http.host"]["header"] == "host"
    assert by_name["tcp.stream"]["type"] == Kind.UINT.value


def test_dissect_without_a_file_says_what_to_do() -> None:
    done = run_wirelab("dissect")
    assert done.returncode == 1 and "--fields" in done.stderr and "Traceback" not in done.stderr
