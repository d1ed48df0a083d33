"""Run the fuzz harnesses, each for a bounded time (or number of runs), and report.

    python fuzz/run.py                      # every harness, 60 s each
    python fuzz/run.py --seconds 600 ws     # one harness, ten minutes
    python fuzz/run.py --runs 2000          # a fixed number of inputs each

Each harness starts from its seed corpus (`fuzz/corpus/<name>/`, only read) and a
working corpus (`fuzz/.work/<name>/`, kept between runs, where the fuzzer adds the
inputs that reached new code). An input that makes a harness fail (an exception, a
hang past `--timeout`, memory past `--rss-limit-mb`) is kept as
`fuzz/crashes/<name>-<kind>-<hash>.bin`; the harness's output is printed. Exit status:
0 when nothing was found.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
HARNESSES = (
    "capture",
    "dissect",
    "filter",
    "lesson",
    "lesson_run",
    "progress",
    "http_head",
    "ws",
    "classroom",
)


def harness(name: str) -> Path:
    return FUZZ / f"fuzz_{name}.py"


def command(
    name: str,
    *,
    seconds: float | None,
    runs: int | None,
    work: Path,
    crashes: Path,
    timeout: int,
    rss_limit_mb: int,
    seed: int | None,
) -> list[str]:
    options = [
        f"-timeout={timeout}",
        f"-rss_limit_mb={rss_limit_mb}",
        f"-artifact_prefix={crashes / name}-",
        "-print_final_stats=1",
    ]
    if seconds is not None:
        options.append(f"-max_total_time={max(1, round(seconds))}")
    if runs is not None:
        options.append(f"-runs={runs}")
    if seed is not None:
        options.append(f"-seed={seed}")
    return [sys.executable, str(harness(name)), *options, str(work), str(FUZZ / "corpus" / name)]


def _keep(crashes: Path, name: str, before: set[Path]) -> list[Path]:
    """The artifacts this run wrote, renamed `<name>-<kind>-<hash>.bin`."""
    kept = []
    for path in sorted(set(crashes.glob(f"{name}-*")) - before):
        if path.suffix == ".bin":
            kept.append(path)
            continue
        kind, _, digest = path.name.removeprefix(f"{name}-").rpartition("-")  # slow-unit-…
        target = path.with_name(f"{name}-{kind}-{digest[:12]}.bin")
        path.replace(target)
        kept.append(target)
    return kept


def run(name: str, args: argparse.Namespace) -> bool:
    work = args.work / name
    work.mkdir(parents=True, exist_ok=True)
    args.crashes.mkdir(parents=True, exist_ok=True)
    before = set(args.crashes.glob(f"{name}-*"))
    argv = command(
        name,
        seconds=args.seconds,
        runs=args.runs,
        work=work,
        crashes=args.crashes,
        timeout=args.timeout,
        rss_limit_mb=args.rss_limit_mb,
        seed=args.seed,
    )
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False)
    took = time.monotonic() - started
    found = _keep(args.crashes, name, before)
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", done.stderr)
    executed = runs.group(1) if runs else "?"
    # libFuzzer's last status line: "cov:" counts the code edges reached, "ft:" features.
    reached = re.findall(r"\bcov: (\d+) ft: (\d+)", done.stderr)
    coverage = f", coverage {reached[-1][0]} edges ({reached[-1][1]} features)" if reached else ""
    ok = done.returncode == 0 and not found
    verdict = "ok" if ok else f"FAILED (exit {done.returncode})"
    print(f"{name}: {executed} inputs in {took:.0f} s{coverage}, {len(os.listdir(work))} in "
          f"its working corpus: {verdict}", flush=True)  # fmt: skip
    if not ok:
        print(done.stderr[-6000:], file=sys.stderr)
        for path in found:
            shown = path.relative_to(FUZZ.parent) if path.is_relative_to(FUZZ.parent) else path
            print(f"  kept {shown}", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join(HARNESSES)}")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, help="per harness (default: 60)")
    budget.add_argument("--runs", type=int, help="inputs per harness, instead of a time")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--rss-limit-mb", type=int, default=2048, help="memory per harness")
    parser.add_argument("--seed", type=int, help="libFuzzer's random seed (default: random)")
    parser.add_argument("--work", type=Path, default=FUZZ / ".work", help="working corpora")
    parser.add_argument("--crashes", type=Path, default=FUZZ / "crashes", help="findings")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in HARNESSES]
    if unknown:
        parser.error(f"no harness named {unknown[0]!r} (harnesses: {', '.join(HARNESSES)})")
    if args.seconds is None and args.runs is None:
        args.seconds = 60.0
    results = [run(name, args) for name in args.names or HARNESSES]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
