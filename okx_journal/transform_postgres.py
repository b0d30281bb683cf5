"""The journal build on PostgreSQL: the same files, translated, in one transaction.

``build_journal`` hands a ``PgConnection`` here. As on DuckDB, everything happens in ONE
transaction (PostgreSQL's DDL is transactional): the support functions of the
translation, the missing raw tables, then every relation in dependency order, its
``COMMENT ON`` statements, and ``ANALYZE`` of each table so the next models are planned
on real row counts. PostgreSQL has no ``CREATE OR REPLACE TABLE`` and replaces a view
only with the same columns, so each relation is dropped (with what depends on it, which
is rebuilt later in the same transaction) and created again. A failed statement rolls
everything back: the previous journal stays as it was.
"""

from __future__ import annotations

import time
from typing import Any

from okx_journal.transform import (
    LAYER_SCHEMAS,
    SETTINGS_RELATION,
    BuildResult,
    TransformError,
    TransformFile,
    ensure_raw_tables,
)

__all__ = ["build_on_postgres", "create_statement"]

#: Settings of the build transaction. work_mem: one sort or hash (PostgreSQL spills
#: beyond it). No nested loops: the models are whole-table joins over CTEs and views whose
#: row counts the planner underestimates (estimates of 1-3 rows made the FIFO matching
#: quadratic: minutes at 200k fills); hash and merge joins are right for all of them. No
#: JIT: compiling the large plans costs more than it saves at these sizes.
BUILD_SETTINGS = {"work_mem": "64MB", "enable_nestloop": "off", "jit": "off"}


def create_statement(con: Any, tf: TransformFile) -> str:
    """``CREATE TABLE|VIEW schema.name AS <the model in PostgreSQL's dialect>``."""
    kind = "TABLE" if tf.materialized == "table" else "VIEW"
    return f"CREATE {kind} {tf.relation} AS\n{con.translate(tf.sql)}"


def _drop_existing(con: Any, tf: TransformFile) -> None:
    row = con.execute_native(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        [tf.schema, tf.name],
    ).fetchone()
    if row is None:
        return
    kind = {"v": "VIEW", "m": "MATERIALIZED VIEW"}.get(str(row[0]), "TABLE")
    con.execute_native(f"DROP {kind} {tf.relation} CASCADE")


def build_on_postgres(con: Any, files: list[TransformFile], cost_basis: str = "fifo") -> BuildResult:
    """Builds every relation of ``files`` (in order) on PostgreSQL, in one transaction.

    The build's settings (``cost_basis``, checked by ``build_journal``) go into
    ``journal_staging.build_settings`` first, rewritten in place so the views that read
    it stay.
    """
    from okx_journal.postgres import pg_errors

    started = time.perf_counter()
    current: TransformFile | None = None
    con.execute_native("BEGIN")
    try:
        for name, value in BUILD_SETTINGS.items():
            con.execute_native(f"SET LOCAL {name} = '{value}'")
        con.create_support_functions()
        created = ensure_raw_tables(con)
        for schema in LAYER_SCHEMAS.values():
            con.execute_native(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute_native(f"CREATE TABLE IF NOT EXISTS {SETTINGS_RELATION} (cost_basis VARCHAR)")
        con.execute_native(f"DELETE FROM {SETTINGS_RELATION}")
        con.execute_native(f"INSERT INTO {SETTINGS_RELATION} VALUES (%s)", [cost_basis])
        for tf in files:
            current = tf
            _drop_existing(con, tf)
            con.execute_native(create_statement(con, tf))
            if tf.materialized == "table":
                con.execute_native(f"ANALYZE {tf.relation}")
            if tf.layer == "marts":
                for stmt in tf.comment_statements():
                    con.execute_native(stmt)
        current = None
        row_counts: dict[str, int] = {}
        for tf in files:
            if tf.materialized == "table":
                row = con.execute_native(f"SELECT count(*) FROM {tf.relation}").fetchone()
                row_counts[tf.relation] = int(row[0]) if row else 0
        con.execute_native("COMMIT")
    except (*pg_errors(), TransformError) as exc:  # type: ignore[misc]
        con.execute_native("ROLLBACK")
        where = f"{current.path.name}: " if current is not None else ""
        first = (str(exc).strip().splitlines() or [""])[0]
        raise TransformError(f"journal build failed, nothing changed: {where}{first}") from exc
    except BaseException:
        con.execute_native("ROLLBACK")
        raise
    return BuildResult(
        relations=tuple(tf.relation for tf in files),
        created_raw_tables=tuple(created),
        seconds=time.perf_counter() - started,
        row_counts=row_counts,
    )
