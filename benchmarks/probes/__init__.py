"""Latency probes: small scripts that run INSIDE one orchestrator's environment.

benchmarks/latency.py (in `.venv`) never imports an orchestrator; it starts
``.venvs/<name>/bin/python -m benchmarks.probes.<name> <command> ... --out F.json``
and reads F.json. Each probe implements three commands with the orchestrator's
own primitives and local test-run mode:

- ``load``: time the framework import, then loading our real definitions;
- ``chain``: chains of N no-op tasks, each task fed its upstream's output;
- ``fanout``: N independent tasks that each sleep, run the orchestrator's usual way.

This module holds what the four probes share (the command line, the repetition
protocol, the JSON output) and imports nothing heavy, so it costs the probes'
timings nothing. Timings are ``time.perf_counter`` in the probe's own process:
the benchmark side adds the whole subprocess's wall time where that matters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

COMMANDS = ("load", "chain", "fanout")


def parse_args(prog: str, argv: Sequence[str] | None, variants: Sequence[str] = ("",)
               ) -> argparse.Namespace:
    """One command line for all probes, so latency.py builds it the same way for each."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--out", type=Path, required=True, help="write the JSON result here")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="scratch folder for the orchestrator's temporary home")
    parser.add_argument("--sizes", default="1,5,10", help="chain lengths, comma-separated")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--n", type=int, default=4, help="fan-out width")
    parser.add_argument("--sleep", type=float, default=1.0, help="fan-out task sleep, s")
    parser.add_argument("--variant", default=variants[0], choices=list(variants))
    args = parser.parse_args(argv)
    args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes must be positive integers")
    if args.reps < 1 or args.warmup < 0 or args.n < 1 or args.sleep < 0:
        parser.error("--reps >= 1, --warmup >= 0, --n >= 1, --sleep >= 0")
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    return args


def timed(run: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def chain_protocol(run: Callable[[int], Any], sizes: Sequence[int], reps: int,
                   warmup: int) -> dict[str, Any]:
    """First run (largest size) apart, warm-ups, then repetitions of every size, interleaved.

    The first run is kept apart because it pays one-off costs (Prefect starts its
    temporary server, Dagster creates its SQLite tables) that later runs do not.
    Each repetition runs every size once, in order on odd repetitions and reversed
    on even ones, so drift in the shared machine's load hits every size alike and
    each repetition yields its own slope.
    """
    first_n = max(sizes)
    first = timed(lambda: run(first_n))
    for _ in range(warmup):
        for n in sizes:
            run(n)
    samples: dict[str, list[float]] = {str(n): [] for n in sizes}
    for rep in range(reps):
        for n in sizes if rep % 2 == 0 else list(reversed(sizes)):
            samples[str(n)].append(timed(lambda n=n: run(n)))
    return {"first_run_s": first, "first_run_n": first_n, "sizes": list(sizes),
            "reps": reps, "warmup": warmup, "samples": samples}


def fanout_protocol(run: Callable[[], Any], n: int, sleep: float, reps: int,
                    warmup: int) -> dict[str, Any]:
    """The same warm-up rule as the chain; every repetition is one whole fan-out."""
    first = timed(run)
    for _ in range(warmup):
        run()
    samples = [timed(run) for _ in range(reps)]
    return {"first_run_s": first, "n": n, "sleep_s": sleep, "reps": reps, "warmup": warmup,
            "samples": samples}


def write(out: Path, probe: str, command: str, payload: dict[str, Any],
          version: str | None, knobs: dict[str, str]) -> None:
    """The probe's answer, atomically: latency.py treats a missing file as a failed probe."""
    doc = {"probe": probe, "command": command, "version": version, "knobs": knobs,
           "python": platform.python_version(), "pid": os.getpid(), **payload}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, out)


def fail(message: str) -> None:
    """A probe that cannot measure says why on stderr and exits 2 (latency.py shows it)."""
    print(f"probe error: {message}", file=sys.stderr)
    sys.exit(2)
