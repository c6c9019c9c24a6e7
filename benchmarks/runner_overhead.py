"""What does our container runner cost over plain ``docker run --rm``?

Every containerised step goes through ``core.runner.run_container``; if it were
slow, every orchestrator would look slow for a reason that is ours, not theirs.
This measures it against the Docker CLI on the same trivial container (``true``),
so almost all of the time is container set-up and tear-down in the daemon.

The machines are shared and noisy: the variants run in the same process,
interleaved (A B C, then C B A, ...) so that drift in machine load hits all of them
alike, after warm-up runs; the report gives medians, quartiles and the ratio to the
CLI with a bootstrap interval, plus the environment.

Run: ``python -m benchmarks.runner_overhead [--reps N] [--image IMG] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import stats

DEFAULT_IMAGE = "orchbench/base:bookworm"
TARGET_RATIO = 1.10

DESCRIPTIONS = {
    "cli": "docker run --rm --network none IMAGE true (subprocess)",
    "runner": "run_container, client created once outside the timing (long-lived worker)",
    "runner_new_client": "run_container creating its own client inside the timing",
}


def _variants(image: str, run_id: str, client: Any) -> dict[str, Callable[[], None]]:
    from core.runner import ContainerSpec, run_container

    spec = ContainerSpec(image=image, command=["true"])

    def discard(_line: str) -> None:
        """The wrappers always pass a logger, so the log thread is part of the cost."""

    def cli() -> None:
        subprocess.run(
            ["docker", "run", "--rm", "--network", "none", image, "true"],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def runner() -> None:
        run_container(spec, run_id=run_id, step="bench", on_log=discard, client=client)

    def runner_new_client() -> None:
        run_container(spec, run_id=run_id, step="bench", on_log=discard)

    return {"cli": cli, "runner": runner, "runner_new_client": runner_new_client}


def _environment(client: Any) -> dict[str, Any]:
    import docker

    server = client.version()
    cli = subprocess.run(
        ["docker", "version", "--format", "{{.Client.Version}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "docker_server": server.get("Version"),
        "docker_api": server.get("ApiVersion"),
        "docker_cli": cli or None,
        "docker_sdk": docker.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()),
    }


def measure(image: str, reps: int, warmup: int) -> dict[str, Any]:
    """Run the interleaved measurement and return the report as plain data."""
    from core.runner import docker_client, sweep

    client = docker_client()
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        env = _environment(client)
        variants = _variants(image, run_id, client)
        names = list(variants)
        for _ in range(warmup):
            for name in names:
                variants[name]()
        samples: dict[str, list[float]] = {name: [] for name in names}
        for rep in range(reps):
            for name in names if rep % 2 == 0 else reversed(names):
                t0 = time.perf_counter()
                variants[name]()
                samples[name].append((time.perf_counter() - t0) * 1000.0)
        env["loadavg_end"] = list(os.getloadavg())
    finally:
        sweep(run_id, client=client)
        client.close()
    return _report(env, image, reps, warmup, samples)


def _report(
    env: dict[str, Any],
    image: str,
    reps: int,
    warmup: int,
    samples: dict[str, list[float]],
) -> dict[str, Any]:
    variants = {}
    for name, values in samples.items():
        q1, med, q3 = stats.quartiles(values)
        variants[name] = {
            "description": DESCRIPTIONS[name],
            "min_ms": min(values),
            "median_ms": med,
            "q1_ms": q1,
            "q3_ms": q3,
            "iqr_ms": q3 - q1,
            "samples_ms": values,
        }
    base = samples["cli"]
    ratios = {}
    for name in ("runner", "runner_new_client"):
        lo, hi = stats.bootstrap_ratio_ci(samples[name], base)
        # Neighbouring runs share the machine's momentary load: their ratio is a
        # second, drift-free view of the same overhead.
        paired = [a / b for a, b in zip(samples[name], base, strict=True)]
        p1, pmed, p3 = stats.quartiles(paired)
        plo, phi = stats.bootstrap_median_ci(paired)
        ratios[f"{name}/cli"] = {
            "ratio_of_medians": stats.ratio(samples[name], base),
            "ci95": [lo, hi],
            "paired_median": pmed,
            "paired_ci95": [plo, phi],
            "paired_q1": p1,
            "paired_q3": p3,
        }
    main = ratios["runner/cli"]["ratio_of_medians"]
    return {
        "benchmark": "runner_overhead",
        "environment": env,
        "config": {"image": image, "reps": reps, "warmup": warmup, "order": "ABC/CBA alternating"},
        "variants": variants,
        "ratios": ratios,
        "target_ratio": TARGET_RATIO,
        "within_target": main <= TARGET_RATIO,
    }


def format_report(report: dict[str, Any]) -> str:
    env, cfg = report["environment"], report["config"]
    lines = [
        f"runner overhead: {cfg['reps']} reps after {cfg['warmup']} warm-up, "
        f"{cfg['order']}, image {cfg['image']}",
        f"  {env['date']}  docker server {env['docker_server']} (API {env['docker_api']}), "
        f"cli {env['docker_cli']}, sdk {env['docker_sdk']}, python {env['python']}, "
        f"{env['cores']} cores, load {env['loadavg_start'][0]:.2f} -> "
        f"{env['loadavg_end'][0]:.2f}",
        "",
        f"  {'variant':<20} {'min ms':>8} {'median ms':>10} {'Q1':>8} {'Q3':>8} {'IQR':>8}",
    ]
    for name, v in report["variants"].items():
        lines.append(
            f"  {name:<20} {v['min_ms']:>8.1f} {v['median_ms']:>10.1f} {v['q1_ms']:>8.1f} "
            f"{v['q3_ms']:>8.1f} {v['iqr_ms']:>8.1f}"
        )
    lines.append("")
    for name, r in report["ratios"].items():
        lo, hi = r["ci95"]
        plo, phi = r["paired_ci95"]
        p1, p3 = r["paired_q1"], r["paired_q3"]
        lines.append(
            f"  {name:<22} ratio of medians {r['ratio_of_medians']:.3f} "
            f"(bootstrap 95% CI {lo:.3f}-{hi:.3f})"
        )
        lines.append(
            f"  {'':<22} paired ratio     {r['paired_median']:.3f} "
            f"(bootstrap 95% CI {plo:.3f}-{phi:.3f}; IQR {p1:.3f}-{p3:.3f})"
        )
    verdict = "within" if report["within_target"] else "OVER"
    lines.append(f"  target runner/cli <= {report['target_ratio']:.2f}: {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.runner_overhead",
        description="Overhead of core.runner.run_container over `docker run --rm`.",
    )
    parser.add_argument("--reps", type=int, default=30, help="timed runs per variant")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per variant first")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--json", type=Path, help="also write the full report here")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    from core.errors import OrchbenchError

    try:
        report = measure(args.image, args.reps, args.warmup)
    except OrchbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
