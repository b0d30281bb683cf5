"""Where the journal lives: a DuckDB file (the default) or a PostgreSQL database.

``--destination`` (``sync``, ``check``, ``report``), else ``OKX_JOURNAL_DESTINATION``,
else ``[okx_journal] destination`` in ``dlt.toml``, else ``duckdb``.

* ``duckdb``: ``--db PATH`` is the database; the lock, dlt's folder and the check
  results sit beside it (``<db>.lock``, ``<db>.dlt/``, ``<db>.checks.json``).
* ``postgres``: the server comes from dlt's configuration
  (``destination.postgres.credentials``, see ``okx_journal.postgres``); ``--db`` is not
  used. dlt's local folder and the check results live under
  ``OKX_JOURNAL_HOME/postgres/<host>_<port>_<database>/``; the lock is an advisory lock
  on the server, so syncs from several machines into one database take turns too.

Every reader of the database (sync, checks, report) connects through ``connect``: a
DuckDB connection, or a ``PgConnection`` that takes the same DuckDB SQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sources.okx.errors import ConfigError

__all__ = ["DESTINATIONS", "Destination", "destination_kind"]

DESTINATIONS = ("duckdb", "postgres")
ENV = "OKX_JOURNAL_DESTINATION"


def destination_kind(override: str | None = None) -> str:
    """The destination named by the option, the environment or ``dlt.toml``."""
    from okx_journal.config import setting

    value = override or os.environ.get(ENV) or setting("okx_journal.destination", "duckdb")
    kind = str(value).strip().lower()
    if kind in ("postgresql", "pg"):
        kind = "postgres"
    if kind not in DESTINATIONS:
        raise ConfigError(
            f"unknown destination {value!r}: choose duckdb (a local file) or postgres "
            "(a server, credentials in destination.postgres.credentials)"
        )
    return kind


def _home() -> Path:
    env = os.environ.get("OKX_JOURNAL_HOME", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".config" / "okx-journal"


@dataclass(frozen=True)
class Destination:
    """One journal database.

    Attributes:
        kind: ``duckdb`` or ``postgres``.
        db_path: The DuckDB file; for PostgreSQL the local anchor of dlt's folder and the
            check results (never a database file).
        dsn: PostgreSQL's connection string (never printed; ``label`` is).
    """

    kind: str
    db_path: Path
    dsn: str = ""

    @classmethod
    def resolve(cls, db_path: Path | str, kind: str | None = None) -> Destination:
        """The destination for ``--db`` and ``--destination`` (see the module doc)."""
        chosen = destination_kind(kind)
        if chosen == "duckdb":
            return cls("duckdb", Path(db_path))
        from okx_journal.postgres import resolve_dsn, state_dir

        dsn = resolve_dsn()
        folder = state_dir(dsn, _home())
        folder.mkdir(parents=True, exist_ok=True)
        return cls("postgres", folder / "journal", dsn)

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgres"

    @property
    def label(self) -> str:
        """What messages call the database."""
        if self.is_postgres:
            from okx_journal.postgres import describe

            return describe(self.dsn)
        return str(self.db_path)

    def exists(self) -> bool:
        """Whether there is a database to read (a PostgreSQL server always is)."""
        return True if self.is_postgres else self.db_path.exists()

    def has_loads(self) -> bool:
        """Whether dlt ever loaded into this database (its ``okx_raw._dlt_loads``); for a
        DuckDB file: whether the file exists."""
        if not self.is_postgres:
            return self.db_path.exists()
        with self.connect() as con:
            row = con.execute_native(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = 'okx_raw' AND table_name = '_dlt_loads'"
            ).fetchone()
        return bool(row and row[0])

    def connect(self, read_only: bool = True) -> AbstractContextManager[Any]:
        """A connection for the length of a ``with`` block."""
        return _connect(self, read_only)

    def lock(self) -> Any:
        """The sync lock: ``<db>.lock`` (DuckDB) or an advisory lock (PostgreSQL)."""
        if self.is_postgres:
            from okx_journal.postgres import PgLock

            return PgLock(self.dsn)
        from okx_journal.lock import SyncLock

        return SyncLock(self.db_path)

    def dlt_destination(self, duckdb_config: dict[str, Any]) -> Any:
        """dlt's destination object for the raw load."""
        import dlt

        if self.is_postgres:
            return dlt.destinations.postgres(credentials=self.dsn)
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        credentials = DuckDbCredentials(str(self.db_path), global_config=dict(duckdb_config))
        return dlt.destinations.duckdb(credentials=credentials)

    def reader(self, dataset: str) -> Any:
        """The source's ``TableReader`` on this database."""
        if self.is_postgres:
            from okx_journal.postgres import postgres_reader

            return postgres_reader(self.dsn, dataset)
        from sources.okx.source import duckdb_reader

        return duckdb_reader(self.db_path, dataset)


@contextmanager
def _connect(dest: Destination, read_only: bool) -> Iterator[Any]:
    if dest.is_postgres:
        from okx_journal.postgres import PgConnection

        pg = PgConnection(dest.dsn)
        try:
            yield pg
        finally:
            pg.close()
        return
    import duckdb

    con = duckdb.connect(str(dest.db_path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()
