"""A throwaway PostgreSQL cluster for the tests (and the bench): one per test session.

``PgCluster.start()`` runs ``initdb`` on a temporary directory and starts the server on
a free loopback port, its Unix socket in that directory; ``stop()`` stops it and deletes
everything. As root (CI), the server runs as the ``postgres`` user, which owns the
directory (``initdb`` refuses root). ``create_database`` gives each test module its own
database. Authentication is ``trust`` on loopback: the password in the DSN is ignored
(dlt's credentials want one).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PgCluster", "PgClusterError", "find_bin_dir"]


class PgClusterError(RuntimeError):
    """The server could not be found or started (the message says why and what to do)."""


def find_bin_dir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl`` (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    which = shutil.which("initdb")
    if which:
        return Path(which).parent
    raise PgClusterError(
        "PostgreSQL's server is not installed (no initdb): run `bash scripts/install-postgresql.sh` "
        "(make test does) or `apt-get install -y postgresql`"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One server; ``dsn(db)`` for its databases."""

    def __init__(self) -> None:
        self.bin = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="okx-journal-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PgClusterError("running as root and there is no postgres user to run the server") from exc
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise PgClusterError(f"{Path(args[0]).name} failed: {(done.stderr or done.stdout).strip()[-800:]}")

    def start(self) -> PgCluster:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        options = (f"-k {self.root} -c listen_addresses=127.0.0.1 -p {self.port} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=40 -c shared_buffers=64MB")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-o", options,
                  "-l", str(self.root / "server.log"), "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
            except PgClusterError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:trust@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh, empty database (dropped first if it exists); its DSN."""
        import psycopg2

        con = psycopg2.connect(self.dsn())
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()
        return self.dsn(name)

    def server_pids(self) -> list[int]:
        """The server's processes (postmaster and its children), for memory figures."""
        pid_file = self.data / "postmaster.pid"
        main = int(pid_file.read_text().split()[0])
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(main)], capture_output=True, text=True)
        return [main, *(int(p) for p in out.stdout.split())]
