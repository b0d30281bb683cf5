"""What the journal and the data checks were computed from, so unchanged data costs nothing.

Every raw table gets a *fingerprint*: its row count and the sum of the hashes of its
rows (dlt's ``_dlt_*`` columns left out, so a row re-loaded unchanged keeps it), read in
one scan (milliseconds for a small account). Every journal relation gets an *input key*:
a hash of its file's text, the fingerprints of the raw tables it reads and the keys of
the relations it depends on, so a change anywhere upstream (or in the SQL) changes the
keys of everything downstream. The keys of the relations as last built, and the inputs
of every check frame as last run with their results, are kept in the database, schema
``okx_journal_meta``:

* ``built_from(relation, input_key, built_at)``: a relation whose key is unchanged (and
  which exists) is not rebuilt;
* ``checked_from(frame_id, inputs, outcomes, detail, checked_at)``: a frame whose input
  fingerprints are unchanged keeps its last results.

*Snapshot tables* (``SNAPSHOT_TABLES``: open positions, balances, the account's
configuration and the snapshot log) get new rows on every sync even when nothing
happened on the account. They refresh what is built from them (``open_positions``), and
a sync in which nothing but them changed runs no check at all: the last results hold,
and the snapshot frames run again with the next sync that brings new data (or with
``okx-journal check``). ``okx_raw._dlt_loads`` (read by the sync-recency check) is
fingerprinted by the number of gaps of more than ``LOAD_GAP_DAYS`` days between
completed loads, the only thing that check's result depends on once a sync has just
completed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "LOAD_GAP_DAYS",
    "META_SCHEMA",
    "SNAPSHOT_TABLES",
    "raw_fingerprints",
    "read_built",
    "read_checked",
    "relation_keys",
    "stale_relations",
    "write_built",
    "write_checked",
]

META_SCHEMA = "okx_journal_meta"
RAW_SCHEMA = "okx_raw"
#: Raw tables that get new rows on every sync, whatever happened on the account.
SNAPSHOT_TABLES = frozenset({"positions", "balances", "snapshots", "account_config"})
#: Gaps between completed loads longer than this change ``_dlt_loads``' fingerprint.
LOAD_GAP_DAYS = 30
_LOADS = "_dlt_loads"


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(con: Any, schema: str) -> set[str]:
    rows = con.execute(
        f"SELECT table_name FROM duckdb_tables() WHERE schema_name = {_text(schema)}"
    ).fetchall()
    return {str(r[0]) for r in rows}


def raw_fingerprints(con: Any, tables: Iterable[str]) -> dict[str, str]:
    """``table → fingerprint`` of the named raw tables (``absent`` when missing)."""
    wanted = sorted(set(tables))
    existing = _tables(con, RAW_SCHEMA)
    out: dict[str, str] = {}
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        f"WHERE schema_name = {_text(RAW_SCHEMA)} ORDER BY table_name, column_index"
    ).fetchall():
        if not str(column).startswith("_dlt_"):
            columns.setdefault(str(table), []).append(str(column))
    for table in wanted:
        if table not in existing:
            out[table] = "absent"
            continue
        qualified = f"{RAW_SCHEMA}.{_ident(table)}"
        if table == _LOADS:
            row = con.execute(
                f"SELECT count(*) FILTER (WHERE gap > INTERVAL {LOAD_GAP_DAYS} DAY) FROM ("
                f"SELECT inserted_at - lag(inserted_at) OVER (ORDER BY inserted_at) AS gap "
                f"FROM {qualified} WHERE status = 0)"
            ).fetchone()
            out[table] = f"gaps:{row[0] if row else 0}"
            continue
        cols = columns.get(table) or []
        if not cols:
            row = con.execute(f"SELECT count(*) FROM {qualified}").fetchone()
            out[table] = f"{row[0] if row else 0}:"
            continue
        select = ", ".join(_ident(c) for c in cols)
        row = con.execute(
            f"SELECT count(*), coalesce(sum(hash(r)::HUGEINT), 0) "
            f"FROM (SELECT {select} FROM {qualified}) r"
        ).fetchone()
        out[table] = f"{row[0]}:{row[1]}" if row else "0:0"
    return out


def relation_keys(files: Sequence[Any], fingerprints: Mapping[str, str]) -> dict[str, str]:
    """``relation → input key`` for transform files in dependency order."""
    keys: dict[str, str] = {}
    for tf in files:
        digest = hashlib.sha256()
        digest.update(tf.sql.encode())
        digest.update(tf.materialized.encode())
        for raw in tf.raw_inputs:
            digest.update(f"\0raw {raw}={fingerprints.get(raw, 'absent')}".encode())
        for dep in tf.depends_on:
            digest.update(f"\0dep {dep}={keys.get(dep, '')}".encode())
        keys[tf.relation] = digest.hexdigest()
    return keys


def _ensure(con: Any) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {META_SCHEMA}.built_from ("
        "relation VARCHAR PRIMARY KEY, input_key VARCHAR NOT NULL, built_at TIMESTAMPTZ)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {META_SCHEMA}.checked_from ("
        "frame_id VARCHAR PRIMARY KEY, inputs VARCHAR NOT NULL, outcomes VARCHAR NOT NULL, "
        "detail VARCHAR NOT NULL, checked_at TIMESTAMPTZ)"
    )


def read_built(con: Any) -> dict[str, str]:
    """``relation → input key`` of the relations as last built (empty before the first)."""
    if "built_from" not in _tables(con, META_SCHEMA):
        return {}
    rows = con.execute(f"SELECT relation, input_key FROM {META_SCHEMA}.built_from").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def stale_relations(
    con: Any, files: Sequence[Any], keys: Mapping[str, str], built: Mapping[str, str]
) -> list[str]:
    """The relations to build: their key changed, or they do not exist (build order)."""
    existing: set[str] = set()
    for schema, name in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
    ).fetchall():
        existing.add(f"{schema}.{name}")
    return [
        tf.relation
        for tf in files
        if built.get(tf.relation) != keys[tf.relation] or tf.relation not in existing
    ]


def write_built(con: Any, keys: Mapping[str, str], relations: Iterable[str]) -> None:
    """Records the input keys the named relations were just built from."""
    rows = [(r, keys[r]) for r in relations]
    if not rows:
        return
    _ensure(con)
    values = ", ".join(f"({_text(r)}, {_text(k)}, current_timestamp)" for r, k in rows)
    con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.built_from VALUES {values}")


def read_checked(con: Any) -> dict[str, tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]]:
    """``frame_id → (inputs, outcomes, detail)`` of every check frame as last run."""
    if "checked_from" not in _tables(con, META_SCHEMA):
        return {}
    rows = con.execute(
        f"SELECT frame_id, inputs, outcomes, detail FROM {META_SCHEMA}.checked_from"
    ).fetchall()
    return {str(r[0]): (json.loads(r[1]), json.loads(r[2]), json.loads(r[3])) for r in rows}


def write_checked(
    con: Any,
    frames: Mapping[str, tuple[Mapping[str, str], Sequence[Mapping[str, Any]], Mapping[str, Any]]],
) -> None:
    """Records each frame's input fingerprints, outcomes and detail (replacing the old)."""
    if not frames:
        return
    _ensure(con)
    values = ", ".join(
        f"({_text(fid)}, {_text(json.dumps(dict(inputs), sort_keys=True))}, "
        f"{_text(json.dumps(list(outcomes), default=str))}, "
        f"{_text(json.dumps(dict(detail), default=str))}, current_timestamp)"
        for fid, (inputs, outcomes, detail) in frames.items()
    )
    con.execute(f"INSERT OR REPLACE INTO {META_SCHEMA}.checked_from VALUES {values}")
