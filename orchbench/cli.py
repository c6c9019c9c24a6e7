"""The `orchbench` command: set-up, images, runs, the demo, health checks.

Every user mistake reaches the user as one paragraph (problem, then fix) and a
non-zero exit, never a traceback: commands raise OrchbenchError and main()
prints it. Heavy imports happen inside the command that needs them, so
`orchbench --help` and `orchbench doctor` answer at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from core.config import Config, load_config
from core.dates import date_range, parse_date
from core.errors import ConfigError, OrchbenchError

ORCHESTRATORS = ("direct", "prefect", "airflow", "dagster")


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------- commands
def cmd_setup(args: argparse.Namespace) -> int:
    from orchbench.setup import setup

    setup(envs=args.env or None, images=not args.no_images, log=progress)
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    from orchbench.images import build_images

    for result in build_images(args.names or None, force=args.force, progress=progress):
        state = f"built in {result.seconds:.1f} s" if result.built else "up to date"
        print(f"{result.name:10} {result.tag:34} {state} (base {result.base})")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from orchbench.doctor import doctor

    return doctor(print)


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if args.all:
        names = list(ORCHESTRATORS)
    elif args.orchestrator in ORCHESTRATORS:
        names = [args.orchestrator]
    else:
        raise ConfigError(f"Unknown orchestrator {args.orchestrator!r}.",
                          f"Choose one of: {', '.join(ORCHESTRATORS)} (or --all).")
    if args.date and (args.start or args.end):
        raise ConfigError("Give either --date or --start/--end, not both.",
                          "Use --date for one day, --start and --end for a backfill.")
    if args.date:
        days = [parse_date(args.date, "--date")]
    elif args.start and args.end:
        days = date_range(parse_date(args.start, "--start"), parse_date(args.end, "--end"))
    else:
        raise ConfigError("No logical date given.",
                          "Add --date YYYY-MM-DD, or --start and --end for a range.")
    from orchbench.summary import run_line

    results = []
    for day in days:
        for name in names:
            result = _run_one(name, cfg, day, args)
            progress(run_line(result))
            results.append(result)
    json.dump(results[0] if len(results) == 1 else results, sys.stdout, indent=2)
    print()
    failed = [r for r in results if r["status"] != "success"]
    for r in failed:
        progress(f"\nerror: {r['orchestrator']} run for {r['logical_date']} failed at {r['error']}")
    return 1 if failed else 0


def _run_one(name: str, cfg: Config, day: dt.date, args: argparse.Namespace) -> dict:
    """One date through one implementation: direct in process, the others by driver."""
    container_log = _indented if args.verbose else _quiet
    if name == "direct":
        from core.direct import run_date

        return run_date(cfg, day, force_cold=args.force_cold, log=_indented,
                        container_log=container_log).to_dict()
    from orchbench.drivers import run_wrapped

    return run_wrapped(name, cfg, day.isoformat(), force_cold=args.force_cold,
                       log=_indented if args.verbose else _quiet)


def cmd_demo(args: argparse.Namespace) -> int:
    from orchbench.demo import demo

    return demo(Path(args.home), days=args.days, log=progress)


def cmd_test(args: argparse.Namespace) -> int:
    import subprocess

    from orchbench.envs import ENVS
    from orchbench.setup import setup

    setup(envs=None, images=True, log=progress)
    command = [str(ENVS["base"].python), "-m", "pytest", *args.pytest_args]
    progress("$ " + " ".join(command))
    return subprocess.call(command)


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchbench",
        description="One ML pipeline, run by Prefect, Airflow and Dagster, measured side by side.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("setup", help="create the four environments and build the images")
    p.add_argument("--env", action="append", choices=["base", "prefect", "airflow", "dagster"],
                   help="only this environment (repeatable)")
    p.add_argument("--no-images", action="store_true", help="skip building the images")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("images", help="build the workload images (offline)")
    images_sub = p.add_subparsers(dest="images_command", metavar="ACTION", required=True)
    b = images_sub.add_parser("build", help="build images whose content changed")
    b.add_argument("names", nargs="*", help="transform and/or train (default: both)")
    b.add_argument("--force", action="store_true", help="rebuild even if up to date")
    b.set_defaults(func=cmd_images)

    p = sub.add_parser("doctor", help="check Docker, images and environments")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("run", help="run the pipeline for a date or a range")
    p.add_argument("--orchestrator", "-o", default="direct", help=", ".join(ORCHESTRATORS))
    p.add_argument("--all", action="store_true", help="run each date through all four")
    p.add_argument("--date", help="logical date YYYY-MM-DD")
    p.add_argument("--start", help="first date of a backfill")
    p.add_argument("--end", help="last date of a backfill (included)")
    p.add_argument("--force-cold", action="store_true", help="force a cold start")
    p.add_argument("--verbose", "-v", action="store_true", help="show container log lines")
    _config_args(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="the main job: a history with drift, run day by day")
    p.add_argument("--home", default="var/demo", help="folder for the demo's lake and models "
                   "(emptied first; default var/demo)")
    p.add_argument("--days", type=int, default=21, help="days of daily runs (default 21)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("test", help="set up everything, then run the test suite")
    p.add_argument("pytest_args", nargs="*", help="passed on to pytest, in order")
    p.set_defaults(func=cmd_test)
    return parser


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML config file (default: built-in defaults)")
    p.add_argument("--home", type=Path, help="data folder (default $ORCHBENCH_HOME or ./var)")


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.home)


def _indented(line: str) -> None:
    progress(f"  {line}")


def _quiet(line: str) -> None:
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["test"] and not {"-h", "--help"} & set(argv[1:]):
        # `orchbench test -q -k x`: everything after `test` belongs to pytest, in order.
        args = parser.parse_args(["test"])
        args.pytest_args = argv[1:]
    else:
        args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except OrchbenchError as exc:
        print(f"\nerror: {exc.problem}", file=sys.stderr)
        if exc.fix:
            print(f"fix:   {exc.fix}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
