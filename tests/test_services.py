"""PostgreSQL and Redis as a stack runs them (infra/services.py), for real: Debian's
servers, started as a stack's first processes and stopped with it.

No orchestrator and no Docker: a stack of the servers alone, a few seconds each. What
the production layouts rely on is checked here once: the cluster is made once per home
and kept, it listens on 127.0.0.1 only and asks for the password, the databases exist
when the start returns, and after the stop nothing runs or listens; `remove_cluster`
deletes it, and refuses while it runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import psutil
import pytest

from core.errors import OrchbenchError
from infra.services import SUPERUSER, Postgres, Redis, find_program, remove_cluster
from infra.stacks.base import SPAN, Command, Stack, StackSettings, free_ports

ROOT = Path(__file__).resolve().parent.parent


def installable(program: str, package: str) -> pytest.MarkDecorator:
    """Skip where the server is missing and we may not install it (as root, the services
    install Debian's package on first use, as the production layouts do)."""
    return pytest.mark.skipif(find_program(program) is None and os.geteuid() != 0,
                              reason=f"`apt-get install {package}` first (as root, it is "
                              "installed on first use)")



class Servers(Stack):
    """A stack of the servers alone: what a production layout starts first."""

    name: ClassVar[str] = "servers"
    default_port: ClassVar[int] = 0
    backends: ClassVar[tuple[str, ...]] = ("postgres", "celery")

    def commands(self, s: StackSettings) -> list[Command]:
        first = [Postgres.of(s).server("one", "two")]
        return [*first, Redis.of(s).server()] if s.backend == "celery" else first

    def knobs(self, variant: str, backend: str = "sqlite") -> dict[str, str]:
        return {}

    def config_files(self, s: StackSettings) -> list[Path]:
        return []

    def ui_url(self, s: StackSettings) -> str:
        return ""

    def ready(self, s: StackSettings) -> bool:
        return True

    def trigger(self, s: StackSettings, day: str, *, force_cold: bool = False,
                config: Path | None = None) -> str:
        raise NotImplementedError

    def status(self, s: StackSettings, run_id: str):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def python(self) -> str:
        return "python3"


def listening(pids: set[int]) -> list[tuple[str, int]]:
    return sorted({(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
                   if c.status == psutil.CONN_LISTEN and c.pid in pids and c.laddr})


@installable("postgres", "postgresql")
def test_postgres_starts_with_its_databases_and_stops_leaving_nothing(tmp_path: Path) -> None:
    s = StackSettings(tmp_path / "home", tmp_path / "config.json", free_ports(SPAN),
                      backend="postgres")
    cluster = Postgres.of(s)
    try:
        with Servers().start(s, log=print) as running:
            pids = {p.pid for p in running.processes()}
            assert listening(pids) == [("127.0.0.1", s.port_of("postgres"))]
            assert {"one", "two"} <= set(cluster.sql("SELECT datname FROM pg_database").split())
            # scram-sha-256 on TCP: without the password, no connection.
            refused = subprocess.run(
                [find_program("psql") or "psql", "-h", cluster.host, "-p", str(cluster.port),
                 "-U", SUPERUSER, "-d", "one", "-w", "-c", "SELECT 1"],
                env={k: v for k, v in os.environ.items() if k != "PGPASSWORD"},
                capture_output=True, text=True, check=False)
            assert refused.returncode != 0 and "password" in refused.stderr, refused.stderr
            with pytest.raises(OrchbenchError, match="still running"):
                remove_cluster(s.home)
            seen = list(running.seen.values())
        assert not [p for p in seen if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not (cluster.data / "postmaster.pid").exists()
        assert (cluster.password_file.stat().st_mode & 0o777) == 0o600
        # The cluster is kept: a second start reuses it, databases and all.
        with Servers().start(s, log=lambda _: None):
            assert "one" in cluster.sql("SELECT datname FROM pg_database").split()
    finally:
        remove_cluster(s.home)
    assert not cluster.data.exists()


@installable("postgres", "postgresql")
@installable("redis-server", "redis-server")
def test_redis_answers_on_loopback_and_stops(tmp_path: Path) -> None:
    s = StackSettings(tmp_path / "home", tmp_path / "config.json", free_ports(SPAN),
                      backend="celery")
    try:
        with Servers().start(s, log=lambda _: None) as running:
            redis = Redis.of(s)
            assert redis.command("PING") == "PONG"
            pids = {p.pid for p in running.processes()}
            assert ("127.0.0.1", s.port_of("redis")) in listening(pids)
            assert all(ip == "127.0.0.1" for ip, _ in listening(pids))
        assert redis.command("PING") == ""
    finally:
        remove_cluster(s.home)


@installable("postgres", "postgresql")
def test_a_cluster_without_its_password_file_says_how_to_start_again(tmp_path: Path) -> None:
    """A home deleted while its cluster lives on (as root, outside the home): the next
    start fails at once, naming the cluster and the fix, instead of at the first login."""
    cluster = Postgres.for_home(tmp_path / "home", port=free_ports(1))
    try:
        cluster.ensure_cluster(log=lambda _: None)
        cluster.password_file.unlink()
        with pytest.raises(OrchbenchError) as caught:
            cluster.ensure_cluster(log=lambda _: None)
        assert str(cluster.data) in caught.value.problem
        assert f"orchbench ui --delete-cluster --home {tmp_path / 'home'}" in caught.value.fix
        # the fix, as a user types it
        done = subprocess.run([sys.executable, "-m", "orchbench.cli", "ui", "--delete-cluster",
                               "--home", str(tmp_path / "home")], cwd=ROOT,
                              capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0 and "deleted" in done.stdout, done.stderr
        assert not cluster.data.exists()
        again = subprocess.run([sys.executable, "-m", "orchbench.cli", "ui", "--delete-cluster",
                                "--home", str(tmp_path / "home")], cwd=ROOT,
                               capture_output=True, text=True, check=False, timeout=120)
        assert again.returncode == 0 and "has no PostgreSQL cluster" in again.stdout
        # a home that is not there either: a mistyped --home, an error with its fix
        typo = subprocess.run([sys.executable, "-m", "orchbench.cli", "ui", "--delete-cluster",
                               "--home", str(tmp_path / "hmoe")], cwd=ROOT,
                              capture_output=True, text=True, check=False, timeout=120)
        assert typo.returncode == 2 and "There is no home" in typo.stderr, typo.stderr
        assert "--home the UI ran with" in typo.stderr
    finally:
        remove_cluster(tmp_path / "home")
