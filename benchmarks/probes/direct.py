"""The plain-Python baseline probe: what a chain or a fan-out costs with no orchestrator.

    .venv/bin/python -m benchmarks.probes.direct load|chain|fanout --out F.json --workdir D

`load` imports core.direct and core.registry (our "definitions"); `chain` calls N
no-op functions, each fed its upstream's output; `fanout` runs N sleeps in a
ThreadPoolExecutor with N workers, the plain way to run independent work at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.probes import chain_protocol, fanout_protocol, parse_args, write

PROBE = "direct"


def noop(upstream: int | None) -> int:
    return (upstream or 0) + 1


def run_chain(n: int) -> int:
    value = None
    for _ in range(n):
        value = noop(value)
    assert value == n
    return value


def run_fanout(n: int, sleep: float) -> None:
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(lambda _i: time.sleep(sleep), range(n)))


def load() -> dict[str, Any]:
    t0 = time.perf_counter()
    import core.direct
    import core.registry
    definitions = time.perf_counter() - t0
    assert core.registry.STEPS and core.direct.run_date
    return {"framework_import_s": None, "definitions_s": definitions}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(f"benchmarks.probes.{PROBE}", argv)
    knobs = {"runner": "function calls", "fanout": "ThreadPoolExecutor(max_workers=n)"}
    if args.command == "load":
        payload = load()
    elif args.command == "chain":
        payload = chain_protocol(run_chain, args.sizes, args.reps, args.warmup)
    else:
        payload = fanout_protocol(lambda: run_fanout(args.n, args.sleep), args.n, args.sleep,
                                  args.reps, args.warmup)
    write(args.out, PROBE, args.command, payload, None, knobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
