"""`wirelab`'s arguments: `--lessons` before or after the command; a bad URL is one line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from simulator.cli import _load_course, build_parser, main
from simulator.errors import WirelabError
from simulator.live.client import parse_url

LESSON = """+++
id = "{id}"
title = "{title}"
order = 90
objectives = ["Read a lesson from an extra folder"]
+++

A lesson the command-line tests add with --lessons.

## The only step

Nothing to do here.
"""

FORM = "expected ws://HOST[:PORT][/PATH]"
TIMEOUT = 10.0  # an upper bound for one child process; each takes a fraction of a second


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Two folders with one lesson each (extra-a, extra-b); no lessons of the user's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    made = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        text = LESSON.format(id=f"extra-{name}", title=f"Extra lesson {name.upper()}")
        (folder / f"extra-{name}.md").write_text(text, encoding="utf-8")
        made.append(str(folder))
    return made[0], made[1]


def course_ids(argv: Sequence[str]) -> set[str]:
    """The ids of the course `wirelab ARGV` would read (without starting anything)."""
    return {lesson.id for lesson in _load_course(build_parser().parse_args(argv)).lessons}


# --- --lessons before and after the command -------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--lessons", "{a}"],
        ["--lessons", "{a}", "learn", "extra-a"],
        ["learn", "--lessons", "{a}", "extra-a"],
        ["--lessons", "{a}", "teach", "extra-a"],
        ["teach", "extra-a", "--lessons", "{a}"],
        ["--lessons", "{a}", "teach", "--share", "extra-a"],
        ["--lessons", "{a}", "follow", "ws://127.0.0.1:1/"],
        ["follow", "--lessons", "{a}", "ws://127.0.0.1:1/"],
        ["--lessons", "{a}", "lessons", "list"],
        ["lessons", "list", "--lessons", "{a}"],
    ],
    ids=[
        "home-screen",
        "before-learn",
        "after-learn",
        "before-teach",
        "after-teach",
        "before-teach-share",
        "before-follow",
        "after-follow",
        "before-lessons-list",
        "after-lessons-list",
    ],
)
def test_lessons_before_or_after_the_command(argv: list[str], folders: tuple[str, str]) -> None:
    ids = course_ids([arg.format(a=folders[0]) for arg in argv])
    assert "extra-a" in ids and "extra-b" not in ids
    assert "tcp-handshake" in ids  # the built-in course is still there


@pytest.mark.parametrize(
    "argv",
    [
        ["--lessons", "{a}", "teach", "--lessons", "{b}", "extra-b"],
        ["--lessons", "{a}", "--lessons", "{b}", "learn", "extra-a"],
        ["learn", "--lessons", "{a}", "--lessons", "{b}", "extra-b"],
        ["--lessons", "{b}", "follow", "ws://127.0.0.1:1/", "--lessons", "{a}"],
        ["--lessons", "{a}", "lessons", "list", "--lessons", "{b}"],
    ],
    ids=["teach", "learn-both-before", "learn-both-after", "follow", "lessons-list"],
)
def test_lessons_before_and_after_accumulate(argv: list[str], folders: tuple[str, str]) -> None:
    a, b = folders
    assert {"extra-a", "extra-b"} <= course_ids([arg.format(a=a, b=b) for arg in argv])


def test_a_missing_lessons_folder_before_the_command_is_an_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    for argv in (["--lessons", missing, "teach"], ["teach", "--lessons", missing]):
        with pytest.raises(WirelabError, match="not a folder"):
            _load_course(build_parser().parse_args(argv))


def run_wirelab(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m simulator ARGS`; one that outlives TIMEOUT is killed and reported so."""
    command = [sys.executable, "-m", "simulator", *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, -1, "", f"(still running after {TIMEOUT} s)")


def test_lessons_list_reads_both_forms(folders: tuple[str, str]) -> None:
    a, b = folders
    result = run_wirelab("--lessons", a, "lessons", "list", "--lessons", b)
    assert result.returncode == 0, result.stderr
    assert "Extra lesson A  [extra-a" in result.stdout
    assert "Extra lesson B  [extra-b" in result.stdout


def test_lessons_check_reads_the_lessons_folders(folders: tuple[str, str]) -> None:
    a, b = folders
    result = run_wirelab("--lessons", a, "lessons", "check", "--no-run", "--lessons", b)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"1 lesson checked in {a}: no problems" in result.stderr
    assert f"1 lesson checked in {b}: no problems" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [[], ["learn"], ["teach"], ["follow"], ["lessons", "list"], ["lessons", "check"]],
    ids=["top", "learn", "teach", "follow", "lessons-list", "lessons-check"],
)
def test_help_shows_lessons_dir(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--lessons DIR" in out
    assert "lessons_after" not in out


# --- bad URLs: one line, never a traceback ------------------------------------------------------

# (test id, URL, a word its one line must contain): run as `wirelab client URL` and
# `wirelab follow URL` child processes, and through `parse_url`.
BAD_URLS: list[tuple[str, str, str]] = [
    ("ipv6-unclosed", "ws://[::1:18765/", "IPv6"),
    ("ipv6-not-an-address", "ws://[zz]/", "IPv6"),
    ("port-too-big", "ws://host:99999/", "port"),
    ("port-not-a-number", "ws://host:abc/", "port"),
    ("port-negative", "ws://host:-1/", "port"),
    ("http", "http://host/", "ws://"),
    ("no-host", "ws://", "host"),
    ("no-scheme", "host:8765", "ws://"),
    ("empty", "", "empty"),
    ("space", "ws://a b/", "space"),
    ("control", "ws://a/\x01", "control character"),
    ("newline", "ws://a/\nb", "control character"),
    ("very-long", "ws://" + "a" * 9990 + ".com/", "too long"),
    ("wss", "wss://host/", "wss://"),
    ("user-info", "ws://user:pass@host/", "user"),
]

# What `wirelab follow` reads as the teacher's address (the bar shows HOST:PORT/CODE).
FOLLOW_GOOD = ("http", "no-scheme")


def bad_for(command: str) -> list[tuple[str, str, str]]:
    return [case for case in BAD_URLS if command == "client" or case[0] not in FOLLOW_GOOD]


# More of them, through `parse_url` only (the child processes above show the way to it).
MORE_BAD_URLS: list[tuple[str, str, str]] = [
    ("fragment", "ws://host/#top", "#"),
    ("non-ascii", "ws://host/café", "non-ASCII"),
    ("ipv6-without-brackets", "ws://::1/", "brackets"),
    ("ipv6-junk-after", "ws://[::1]x/", "after"),
    ("port-zero", "ws://host:0/", "port"),
    ("port-empty", "ws://host:/", "port"),
    ("port-huge", "ws://host:" + "9" * 5000 + "/", "too long"),
    ("https", "https://host/", "ws://"),
    ("no-host-with-path", "ws:///chat", "host"),
    ("one-slash", "ws:/host/", "ws://"),
    ("delete", "ws://a/\x7f", "control character"),
    ("tab", "ws://a\t/", "control character"),
    ("nul", "ws://a/\x00", "control character"),
    ("not-url-char", "ws://host/<x>", "'<'"),
    ("bad-percent", "ws://host/%zz", "%"),
    ("bad-ipv4", "ws://999.1.1.1/", "IPv4"),
    ("bad-host-char", "ws://ho!st/", "host"),
    ("empty-label", "ws://a..b/", "host"),
    ("label-too-long", "ws://" + "a" * 64 + ".com/", "host"),
]


@pytest.fixture(scope="module")
def bad_url_results() -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """`wirelab client URL` and `wirelab follow URL` for every bad URL, run in parallel."""
    runs = [(command, url) for command in ("client", "follow") for _, url, _ in bad_for(command)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = pool.map(lambda run: run_wirelab(*run), runs)
        return dict(zip(runs, done, strict=True))


def assert_one_bad_url_line(result: subprocess.CompletedProcess[str], needle: str) -> None:
    report = (result.returncode, result.stdout, result.stderr[:2000])
    assert result.returncode == 1, report
    assert "Traceback" not in result.stdout + result.stderr, report
    lines = result.stderr.splitlines()
    assert len(lines) == 1, report
    (line,) = lines
    assert line.startswith("wirelab: bad URL "), report
    assert line.endswith(FORM), report
    assert needle in line, report
    assert len(line) < 300, report


@pytest.mark.parametrize(
    ("command", "url", "needle"),
    [(command, *case[1:]) for command in ("client", "follow") for case in bad_for(command)],
    ids=[f"{case[0]}-{command}" for command in ("client", "follow") for case in bad_for(command)],
)
def test_a_bad_url_is_one_line(
    command: str,
    url: str,
    needle: str,
    bad_url_results: dict[tuple[str, str], subprocess.CompletedProcess[str]],
) -> None:
    assert_one_bad_url_line(bad_url_results[command, url], needle)


@pytest.mark.parametrize("command", ["client", "follow"])
def test_a_nul_byte_is_one_line(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """No child process: a NUL byte cannot be passed in a command line."""
    assert main([command, "ws://a/\x00"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("wirelab: bad URL 'ws://a/\\x00': ")
    assert "control character" in lines[0] and lines[0].endswith(FORM)


@pytest.mark.parametrize(
    ("url", "needle"),
    [c[1:] for c in BAD_URLS + MORE_BAD_URLS],
    ids=[c[0] for c in BAD_URLS + MORE_BAD_URLS],
)
def test_parse_url_raises_a_wirelab_error(url: str, needle: str) -> None:
    with pytest.raises(WirelabError) as caught:
        parse_url(url)
    (line,) = str(caught.value).splitlines()
    assert line.startswith("bad URL ") and line.endswith(FORM)
    assert needle in line and len(line) < 300


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("ws://127.0.0.1:8765/chat?room=1", ("127.0.0.1", 8765, "/chat?room=1")),
        ("ws://localhost", ("localhost", 80, "/")),
        ("WS://Example.COM:80", ("Example.COM", 80, "/")),
        ("ws://host?x=1", ("host", 80, "/?x=1")),
        ("ws://[::1]:8766/", ("::1", 8766, "/")),
        ("ws://my_host.example-1.org/a%20b", ("my_host.example-1.org", 80, "/a%20b")),
    ],
)
def test_parse_url_good(url: str, parts: tuple[str, int, str]) -> None:
    assert parse_url(url) == parts


@pytest.mark.parametrize(
    ("name", "needle"),
    [("class.txt", "name a .csv or a .json file"), ("no/such/folder/r.csv", "no folder")],
)
def test_a_bad_results_file_is_one_line_before_the_class_starts(
    name: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["teach", "--share", "--port", "0", "--results", name]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
