"""PostgreSQL as the journal's database: connection, credentials, lock, reads.

``PgConnection`` speaks the journal's DuckDB SQL: every statement it is given goes
through ``okx_journal.sql_postgres.to_postgres`` (DuckDB ``?`` parameters included), so
the transforms, the data checks, the report and the sync's own queries run unchanged.
Transaction statements (``BEGIN``, ``COMMIT``, ``ROLLBACK``) pass through as they are;
everything else runs in autocommit. Sessions use UTC.

Credentials come from dlt's configuration, as for dlt's own postgres destination:
``DESTINATION__POSTGRES__CREDENTIALS=postgresql://user:password@host:port/db`` or
``[destination.postgres.credentials]`` in ``.dlt/secrets.toml`` (or the environment's
``DESTINATION__POSTGRES__CREDENTIALS__HOST`` and friends). They never appear in a
message: ``describe`` names the server without the password.

The sync lock is a session advisory lock (``pg_try_advisory_lock``) held on its own
connection for the length of the sync: a second sync of the same database fails at
once with exit 6, and the server releases the lock when the holder's connection ends,
even after ``kill -9``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from okx_journal.sql_postgres import SUPPORT_SCHEMA, SUPPORT_SQL, TranslationError, to_postgres
from sources.okx.errors import ConfigError, SyncLocked

__all__ = [
        "PgConnection",
    "PgLock",
    "connect",
    "pg_errors",
    "describe",
    "postgres_reader",
    "query_table",
    "resolve_dsn",
    "state_dir",
]

#: advisory lock key of ``okx-journal sync`` (one per database: advisory locks are)
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"okx-journal sync").digest()[:8], "big", signed=True)

_PASSTHROUGH = re.compile(r"^\s*(begin|commit|rollback|start transaction|set |reset |show )", re.I)


def _psycopg2() -> Any:
    try:
        import psycopg2
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ConfigError(
            "the PostgreSQL destination needs psycopg2: reinstall okx-journal (make install)"
        ) from exc
    return psycopg2


def _errors() -> tuple[type[BaseException], ...]:
    return (_psycopg2().Error, TranslationError)


def pg_errors() -> tuple[type[BaseException], ...]:
    """What a failed statement raises (psycopg2's errors, a failed translation)."""
    return _errors()


def resolve_dsn() -> str:
    """The connection string from dlt's configuration (``destination.postgres.credentials``).

    Raises:
        ConfigError: nothing configured, or part of it missing (which part, never a value).
    """
    from dlt.common.configuration import resolve_configuration
    from dlt.common.configuration.exceptions import ConfigFieldMissingException
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

    from okx_journal.config import register_providers

    register_providers()
    try:
        creds = resolve_configuration(PostgresCredentials(), sections=("destination", "postgres"))
    except ConfigFieldMissingException as exc:
        missing = ", ".join(getattr(exc, "fields", []) or ["credentials"])
        raise ConfigError(
            f"--destination postgres needs the server's credentials ({missing} missing): set "
            "DESTINATION__POSTGRES__CREDENTIALS=postgresql://user:password@host:5432/database "
            "or [destination.postgres.credentials] in .dlt/secrets.toml"
        ) from None
    return str(creds.to_native_representation())


def describe(dsn: str) -> str:
    """``postgresql://user@host:port/db``: the server, without the password."""
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

    creds = PostgresCredentials()
    creds.parse_native_representation(dsn)
    port = f":{creds.port}" if creds.port else ""
    return f"postgresql://{creds.username}@{creds.host}{port}/{creds.database}"


def state_dir(dsn: str, home: Path) -> Path:
    """The local folder of a server's dlt pipelines and check results, under ``home``."""
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

    creds = PostgresCredentials()
    creds.parse_native_representation(dsn)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{creds.host}_{creds.port}_{creds.database}")
    return home / "postgres" / name


class _Result:
    def __init__(self, con: PgConnection, sql: str) -> None:
        self._con, self._sql = con, sql

    def to_arrow_table(self) -> Any:
        return self._con.arrow(self._sql)


class PgConnection:
    """A psycopg2 connection that takes the journal's DuckDB SQL (see the module doc)."""

    def __init__(self, dsn: str, *, application: str = "okx-journal") -> None:
        psycopg2 = _psycopg2()
        try:
            self._raw = psycopg2.connect(dsn, application_name=application, connect_timeout=10)
        except psycopg2.Error as exc:
            first = (str(exc).strip().splitlines() or ["connection failed"])[0]
            raise ConfigError(
                f"cannot connect to PostgreSQL at {describe(dsn)}: {first}; check the server "
                "and destination.postgres.credentials"
            ) from None
        self._raw.autocommit = True
        self._cur = self._raw.cursor()
        self._cur.execute("SET TimeZone = 'UTC'")
        self.dsn = dsn
        self._support_ready = False

    # -- DuckDB-like API ------------------------------------------------------------

    def translate(self, sql: str) -> str:
        """The statement in PostgreSQL's dialect (``* EXCLUDE`` resolved on this server)."""
        if _PASSTHROUGH.match(sql):
            return sql
        return to_postgres(sql, self.columns_of)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgConnection:
        """Runs one DuckDB-dialect statement; fetch with ``fetchone``/``fetchall``."""
        translated = self.translate(sql)
        if not self._support_ready and f"{SUPPORT_SCHEMA}.okx_" in translated.lower():
            self._ensure_support_functions()
        self._cur.execute(translated, list(params) if params else None)
        return self

    def _ensure_support_functions(self) -> None:
        """Creates the translation's functions when a query needs them before the first
        journal build has (a sync's own queries on a new database)."""
        row = self.execute_native(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname LIKE 'okx\\_%%'",
            [SUPPORT_SCHEMA],
        ).fetchone()
        if not row or int(row[0]) < len(SUPPORT_SQL) - 1:
            self.create_support_functions()
        self._support_ready = True

    def execute_native(self, sql: str, params: Sequence[Any] | None = None) -> PgConnection:
        """Runs one statement written for PostgreSQL, untranslated."""
        self._cur.execute(sql, list(params) if params else None)
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._cur.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._cur.fetchall()]

    @property
    def description(self) -> Any:
        return self._cur.description

    def sql(self, sql: str) -> _Result:
        return _Result(self, sql)

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The query's rows as a pyarrow table (NUMERIC as exact decimals)."""
        import pyarrow as pa

        self.execute(sql, params)
        names = [d[0] for d in self._cur.description]
        rows = self._cur.fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.table({n: pa.array(list(c)) if rows else pa.array([], pa.null())
                         for n, c in zip(names, columns, strict=True)})

    def columns_of(self, pg_sql: str) -> list[str]:
        """The result columns of a PostgreSQL query (run with ``LIMIT 0`` by the caller)."""
        self._cur.execute(pg_sql)
        return [str(d[0]) for d in self._cur.description]

    def close(self) -> None:
        try:
            self._raw.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------

    def create_support_functions(self) -> None:
        """The functions the translated SQL calls (``sql_postgres.SUPPORT_SQL``)."""
        for stmt in SUPPORT_SQL:
            self._cur.execute(stmt)
        self._support_ready = True

    def copy_arrow(self, table: str, columns: Sequence[str], batch: Any) -> int:
        """Appends a pyarrow batch to ``table`` with ``COPY ... FROM STDIN`` (CSV, text
        digits as they are: decimals stay exact)."""
        import io

        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        buf.seek(0)
        cols = ", ".join(f'"{c}"' for c in columns)
        self._cur.copy_expert(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)", buf)
        return int(batch.num_rows)


@contextmanager
def connect(dsn: str) -> Iterator[PgConnection]:
    con = PgConnection(dsn)
    try:
        yield con
    finally:
        con.close()


class PgLock:
    """One sync per PostgreSQL database: a session advisory lock (exit 6 when taken)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._con: PgConnection | None = None

    def acquire(self) -> None:
        con = PgConnection(self.dsn, application="okx-journal sync lock")
        row = con.execute_native("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY]).fetchone()
        if not row or not row[0]:
            holder = con.execute_native(
                "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s LIMIT 1",
                [_LOCK_KEY & 0xFFFFFFFFFFFFFFFF if _LOCK_KEY < 0 else _LOCK_KEY],
            ).fetchone()
            con.close()
            who = f" (server process {holder[0]})" if holder else ""
            raise SyncLocked(
                f"another okx-journal sync of {describe(self.dsn)} is running{who}: wait for it "
                "to finish, or run again later; each database takes one sync at a time."
            )
        self._con = con

    def release(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            try:
                con.execute_native("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
            finally:
                con.close()

    @property
    def held(self) -> bool:
        return self._con is not None

    def __enter__(self) -> PgLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def postgres_reader(dsn: str, dataset: str = "okx_raw") -> Any:
    """A ``sources.okx.run.TableReader`` on PostgreSQL (one connection, serialised)."""
    import threading

    lock = threading.Lock()
    holder: list[PgConnection] = []

    def read(table: str, sql: str) -> list[tuple[Any, ...]]:
        with lock:
            try:
                if not holder:
                    holder.append(PgConnection(dsn))
                con = holder[0]
                exists = con.execute_native(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_name = %s",
                    [dataset, table],
                ).fetchone()
                if not exists or not exists[0]:
                    return []
                return con.execute(sql.format(table=f'"{dataset}"."{table}"')).fetchall()
            except (ConfigError, *_errors()):  # type: ignore[misc]
                return []

    return read


def query_table(dsn: str, sql: str, max_rows: int) -> str:
    """One read-only query (DuckDB's SQL, translated) as a text table of at most
    ``max_rows`` rows. Raises ``ConfigError`` with the server's message on an error."""
    con = PgConnection(dsn)
    try:
        con.execute_native("SET default_transaction_read_only = on")
        try:
            con.execute(sql)
            if con.description is None:
                raise ConfigError("the query returned no result set (the warehouse is read-only here)")
            names = [str(d[0]) for d in con.description]
            rows = [["NULL" if v is None else str(v) for v in r]
                    for r in con._cur.fetchmany(max_rows)]
        except (*_errors(),) as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ConfigError(f"SQL error: {first}") from None
    finally:
        con.close()
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)) + " |", line]
    out += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |" for r in rows]
    out.append(line)
    out.append(f"{len(rows)} rows" + (f" (at most {max_rows} shown)" if len(rows) == max_rows else ""))
    return "\n".join(out)
