"""The servers a production layout needs beside the orchestrator: PostgreSQL and Redis.

Debian's own packages (`postgresql`, `redis-server`; installed with apt when missing,
as chromium is), started by the harness as the first processes of a stack
(infra/stacks/base.py `Command`), so they are measured with it and stopped with it:
nothing keeps running, nothing keeps listening, after the stack stops or Ctrl-C.

PostgreSQL:
- one cluster per home, created once (`initdb`), kept between starts, so the history
  a stack's runs left is there the next time (as SQLite's file is);
- TCP on 127.0.0.1 only, on the port the stack chooses; no Unix socket (a home's path
  can pass the 107 bytes a socket path may have); scram-sha-256 passwords, the
  generated password in `<home>/orchestrators/postgres/password` (mode 0600);
- one database per orchestrator, created on start when missing;
- PostgreSQL refuses to run as root. Run as root (CI, these machines), the server runs
  as Debian's `postgres` user, which cannot enter a home private to root (pytest's
  temporary folders are 0700): the cluster's files then live under
  /var/lib/postgresql/orchbench/<hash of the home> and `remove_cluster` deletes them.

Redis: no persistence (`save ""`, no AOF): it is Celery's broker, and a queue that dies
with its stack is what a restart of one machine gives too.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.errors import OrchbenchError
from infra.debian import Log, ensure_command
from infra.stacks.base import Command, StackSettings

HOST = "127.0.0.1"
SUPERUSER = "orchbench"  # the role initdb creates; each orchestrator's database is its
SERVER_USER = "postgres"  # Debian's system user for the server, when we are root


def find_program(program: str) -> str | None:
    """Where one of PostgreSQL's or Redis's programs is, or None. Debian keeps
    PostgreSQL's (initdb, postgres, pg_isready, psql) in /usr/lib/postgresql/<version>/bin,
    off PATH: the newest version installed wins there."""
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"),
                      key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    return versions[-1] if versions else shutil.which(program)


def postgres_bin(program: str, log: Log = print) -> str:
    """The path of one of PostgreSQL's programs (find_program), after installing
    Debian's `postgresql` when there is none."""
    return ensure_command(program, "postgresql", "the production layouts keep their "
                          "state in PostgreSQL", log, find=lambda: find_program(program))


@dataclass(frozen=True)
class Postgres:
    """One home's PostgreSQL cluster, served on `port` of 127.0.0.1.

    `data` is the cluster's directory (PGDATA); see `for_home` for where it lives."""

    home: Path
    data: Path
    port: int
    host: str = HOST

    @classmethod
    def of(cls, s: StackSettings) -> Postgres:
        """The cluster of a stack's home, on the stack's postgres port."""
        return cls.for_home(s.home, s.port_of("postgres"))

    @classmethod
    def for_home(cls, home: Path, port: int) -> Postgres:
        home = home.resolve()
        if os.geteuid() == 0:
            digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
            data = Path("/var/lib/postgresql/orchbench") / digest
        else:
            data = home / "orchestrators" / "postgres" / "data"
        return cls(home, data, port)

    @property
    def password_file(self) -> Path:
        return self.home / "orchestrators" / "postgres" / "password"

    def url(self, database: str, driver: str = "psycopg2") -> str:
        """The SQLAlchemy URL of one database: `postgresql+<driver>://…` (psycopg2 for
        Airflow and Dagster, asyncpg for Prefect)."""
        return (f"postgresql+{driver}://{SUPERUSER}:{self.password()}@{self.host}:"
                f"{self.port}/{database}")

    def password(self) -> str:
        """The superuser's password, generated at initdb. Raises OrchbenchError when the
        cluster exists without it (a home deleted, its cluster kept outside it)."""
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise OrchbenchError(
                f"The PostgreSQL cluster {self.data} exists, but its password file "
                f"{self.password_file} does not: the home was deleted or copied without it.",
                f"Delete the cluster (`orchbench ui --delete-cluster --home "
                f"{self.password_file.parents[2]}`) and start again: a new one is made, with "
                "the history it holds lost.") from None

    # ---- creating
    def ensure_cluster(self, log: Log = print) -> None:
        """initdb once: the cluster keeps the orchestrators' history between starts."""
        if (self.data / "PG_VERSION").exists():
            self.password()  # fails now, with the fix, rather than at the first login
            return
        initdb = postgres_bin("initdb", log)  # first: installing it creates the `postgres` user
        if not self.password_file.exists():
            self.password_file.parent.mkdir(parents=True, exist_ok=True)
            self.password_file.write_text(secrets.token_urlsafe(24) + "\n")
            self.password_file.chmod(0o600)
        self.data.mkdir(parents=True, exist_ok=True)
        user = self._user()
        pwfile = self.data.parent / f".{self.data.name}.pw"  # readable by the server's user
        pwfile.write_text(self.password() + "\n")
        try:
            if user:
                entry = pwd.getpwnam(user)
                for path in (self.data, pwfile):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
            pwfile.chmod(0o600)
            done = subprocess.run(
                [initdb, "-D", str(self.data), "-U", SUPERUSER,
                 f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
                 "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
                capture_output=True, text=True, check=False, user=user)
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            raise OrchbenchError(f"initdb failed for {self.data}:\n{done.stderr.strip()[-1500:]}",
                                 "Check that Debian's postgresql is installed "
                                 "(`apt-get install postgresql`) and the disk has room.")
        log(f"postgres: created a cluster in {self.data}")

    def server(self, *databases: str, log: Log = print) -> Command:
        """The server as a stack's first command. The start waits until it accepts
        connections and each of `databases` exists (created when missing)."""
        self.ensure_cluster(log)
        argv = [postgres_bin("postgres", log), "-D", str(self.data), "-p", str(self.port),
                "-c", f"listen_addresses={self.host}", "-c", "unix_socket_directories=",
                "-c", "max_connections=200"]
        return Command("postgres", argv, user=self._user(),
                       ready=lambda: self.accepting() and self.ensure_databases(*databases))

    def accepting(self) -> bool:
        done = subprocess.run([postgres_bin("pg_isready"), "-q", "-h", self.host,
                               "-p", str(self.port)], check=False, timeout=10)
        return done.returncode == 0

    def ensure_databases(self, *names: str) -> bool:
        """Create each database that is missing; True when all exist."""
        have = set(self.sql("SELECT datname FROM pg_database").split())
        for name in names:
            if name not in have:
                self.sql(f'CREATE DATABASE "{name}"')
        return True

    def sql(self, statement: str) -> str:
        """Run one statement with psql as the superuser; its unaligned output."""
        done = subprocess.run(
            [postgres_bin("psql"), "-h", self.host, "-p", str(self.port), "-U", SUPERUSER,
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-tAc", statement],
            env={**os.environ, "PGPASSWORD": self.password()}, capture_output=True,
            text=True, check=False, timeout=30)
        if done.returncode != 0:
            raise OrchbenchError(f"PostgreSQL on port {self.port} refused `{statement}`: "
                                 f"{done.stderr.strip()}", "See the stack's postgres.log.")
        return done.stdout

    def _user(self) -> str | None:
        return SERVER_USER if os.geteuid() == 0 else None


def remove_cluster(home: Path) -> None:
    """Delete a home's cluster (stopped first by its stack): the tests' and the
    benchmarks' temporary homes must not leave one in /var/lib/postgresql."""
    cluster = Postgres.for_home(home, port=0)
    if (cluster.data / "postmaster.pid").exists():
        raise OrchbenchError(f"The PostgreSQL cluster {cluster.data} is still running.",
                             "Stop its stack first.")
    shutil.rmtree(cluster.data, ignore_errors=True)


@dataclass(frozen=True)
class Redis:
    """A Redis server on `port` of 127.0.0.1, without persistence (Celery's broker)."""

    dir: Path
    port: int
    host: str = HOST

    @classmethod
    def of(cls, s: StackSettings) -> Redis:
        """A stack's broker: its files under the stack's state, on its redis port."""
        return cls(s.state_dir / "redis", s.port_of("redis"))

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def server(self, log: Log = print) -> Command:
        binary = ensure_command("redis-server", "redis-server",
                                "Airflow's CeleryExecutor needs a broker", log)
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", str(self.port), "--bind", self.host, "--dir", str(self.dir),
                "--save", "", "--appendonly", "no", "--protected-mode", "yes"]
        return Command("redis", argv, ready=self.accepting)

    def accepting(self) -> bool:
        return self.command("PING") == "PONG"

    def command(self, *args: str) -> str:
        """One command through redis-cli (Debian's redis-tools, which redis-server
        depends on); its reply, stripped, or "" if the server does not answer."""
        done = subprocess.run(["redis-cli", "-h", self.host, "-p", str(self.port), *args],
                              capture_output=True, text=True, check=False, timeout=10)
        return done.stdout.strip() if done.returncode == 0 else ""
