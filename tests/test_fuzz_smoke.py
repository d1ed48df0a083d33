"""The fuzz harnesses still run and find nothing: each over its seed corpus, then a
short fuzzing run with a fixed seed (`make fuzz` runs them for longer)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("atheris", reason="atheris has wheels for Linux on x86-64 only")

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


def _runner() -> Any:
    """fuzz/run.py, loaded as a module (fuzz/ is no package)."""
    spec = importlib.util.spec_from_file_location("fuzz_run", FUZZ / "run.py")
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    return runner


RUNNER = _runner()
HARNESSES: tuple[str, ...] = RUNNER.HARNESSES
# Inputs of a brief run: the others run 2000 in a second or two; capture takes about 20 ms
# an input, dissect (three ways) 50 ms, a lesson's run about a second.
RUNS = {"capture": 300, "dissect": 60, "lesson_run": 10}
DEFAULT_RUNS = 2000


def run(*args: str | Path | int, timeout: float = 50) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, errors="replace",
        timeout=timeout, check=False,
    )  # fmt: skip


def test_every_harness_is_listed_and_has_seeds() -> None:
    found = sorted(path.stem.removeprefix("fuzz_") for path in FUZZ.glob("fuzz_*.py"))
    assert found == sorted(HARNESSES)
    for name in HARNESSES:
        assert sorted((FUZZ / "corpus" / name).iterdir()), f"no seeds for {name}"


@pytest.mark.parametrize("name", HARNESSES)
def test_seed_corpus_passes(name: str) -> None:
    seeds = sorted((FUZZ / "corpus" / name).iterdir())
    done = run(FUZZ / f"fuzz_{name}.py", *seeds)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stderr.count("Executed ") == len(seeds), done.stderr[-4000:]


@pytest.mark.parametrize("name", HARNESSES)
def test_fuzzing_briefly_finds_nothing(name: str, tmp_path: Path) -> None:
    crashes = tmp_path / "crashes"
    runs = RUNS.get(name, DEFAULT_RUNS)
    done = run(FUZZ / "run.py", "--runs", runs, "--seed", 1, "--timeout", 10,
               "--work", tmp_path / "work", "--crashes", crashes, name)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert f"{name}: {runs} inputs" in done.stdout, done.stdout
    assert not list(crashes.iterdir()), sorted(p.name for p in crashes.iterdir())


def test_the_runner_keeps_a_finding_as_a_bin_file(tmp_path: Path) -> None:
    """libFuzzer's `<prefix>crash-<sha1>` becomes `<name>-crash-<12 hex>.bin`; what was
    there before the run is left alone."""
    earlier = tmp_path / "ws-crash-fedcba987654.bin"
    earlier.write_bytes(b"found last week")
    before = set(tmp_path.iterdir())
    (tmp_path / "ws-crash-0123456789abcdef0123456789abcdef01234567").write_bytes(b"new")
    (tmp_path / "ws-timeout-89abcdef0123456789abcdef0123456789abcdef").write_bytes(b"slow")
    kept = RUNNER._keep(tmp_path, "ws", before)
    assert [path.name for path in kept] == [
        "ws-crash-0123456789ab.bin", "ws-timeout-89abcdef0123.bin"
    ]  # fmt: skip
    assert (tmp_path / "ws-crash-0123456789ab.bin").read_bytes() == b"new"
    assert earlier.read_bytes() == b"found last week"
