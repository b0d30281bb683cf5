"""Builds the trade journal: orders and runs ``transforms/**/*.sql`` in one transaction.

Layers (dbt's, without dbt): ``transforms/staging/`` → schema ``journal_staging``,
``transforms/intermediate/`` → ``journal_int``, ``transforms/marts/`` → ``journal``.
Each file holds one SELECT statement and is named after the relation it builds. Its
header comment says what it is and what it reads::

    -- grain: one row per fill
    -- materialized: view            (or: table; default view)
    -- depends_on: journal_staging.stg_okx__fills, journal_int.int_instrument_specs
    -- description: what a BI user sees as the relation's comment (marts)
    -- column net_pnl: what a BI user sees as the column's comment (marts)

``depends_on`` accepts schema names (``journal_int.x``) or layer names
(``intermediate.x``); raw tables (``okx_raw.x``) may be listed and are not ordered.
The runner orders files from those headers (never from names), creates the raw tables
that do not exist yet (``ensure_raw_tables``), then issues ``CREATE OR REPLACE`` for
every relation and ``COMMENT ON`` for the marts inside ONE transaction: a statement
that fails rolls everything back, so the previous journal stays queryable and intact.

The build's settings (``cost_basis``) are written first, in the same transaction, into
``journal_staging.build_settings`` (one row); models read them from there like any other
relation (declared in ``depends_on``). Relations of the three journal schemas that no
file builds any more (a model renamed or removed) are dropped in the same transaction:
those schemas belong to okx-journal; keep your own views in another schema.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from sources.okx.errors import OkxJournalError

__all__ = [
    "LAYER_SCHEMAS",
    "RAW_SCHEMA",
    "RAW_TABLES",
    "COST_BASIS_METHODS",
    "SETTINGS_RELATION",
    "BuildResult",
    "TransformError",
    "TransformFile",
    "build_journal",
    "ensure_raw_tables",
    "transform_files",
]

RAW_SCHEMA = "okx_raw"

#: folder under ``transforms/`` → schema the relations land in, in build order of layers.
LAYER_SCHEMAS: dict[str, str] = {
    "staging": "journal_staging",
    "intermediate": "journal_int",
    "marts": "journal",
}

#: Cost-basis methods for SPOT and MARGIN lots (README "Cost basis"); ``fifo`` is the default.
COST_BASIS_METHODS: tuple[str, ...] = ("fifo", "lifo", "hifo", "average")

#: The one-row table of the build's settings, written by the runner before the models.
SETTINGS_RELATION = "journal_staging.build_settings"

_D = "DECIMAL(38,18)"
_T = "TIMESTAMPTZ"
_S = "VARCHAR"
_DLT = (("_dlt_load_id", _S), ("_dlt_id", _S))


def _cols(spec: str, typ: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, typ) for name in spec.split())


#: The raw columns the transforms read (docs/DESIGN.md "Raw schema"), with their types.
#: ``ensure_raw_tables`` creates a missing table with exactly these columns (plus dlt's
#: ``_dlt_load_id`` and ``_dlt_id``); existing tables are never altered, and columns
#: beyond these are ignored by the staging models.
RAW_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "fills": (
        ("account_uid", _S),
        *_cols("bill_id inst_type inst_id trade_id ord_id sub_type side pos_side exec_type", _S),
        *_cols("fill_px fill_sz fill_pnl fill_idx_px fill_mark_px fee", _D),
        ("fee_ccy", _S),
        ("fee_rate", _D),
        *_cols("ts fill_time", _T),
        *_DLT,
    ),
    "bills": (
        ("account_uid", _S),
        *_cols("bill_id type sub_type", _S),
        ("ts", _T),
        *_cols("inst_type inst_id ccy", _S),
        *_cols("bal_chg bal pos_bal_chg pos_bal sz px pnl fee interest", _D),
        *_cols('mgn_mode ord_id trade_id exec_type "from" "to" notes', _S),
        ("fill_time", _T),
        *_DLT,
    ),
    "positions": (
        ("account_uid", _S),
        ("snapshot_at", _T),
        *_cols("pos_id inst_type inst_id mgn_mode pos_side", _S),
        ("pos", _D),
        ("pos_ccy", _S),
        *_cols("avg_px mark_px upl", _D),
        ("ccy", _S),
        *_cols("lever liq_px realized_pnl pnl fee funding_fee liq_penalty", _D),
        *_cols("c_time u_time", _T),
        *_DLT,
    ),
    "positions_history": (
        ("account_uid", _S),
        ("pos_id", _S),
        *_cols("c_time u_time", _T),
        *_cols("inst_type inst_id mgn_mode type pos_side direction", _S),
        *_cols(
            "open_avg_px close_avg_px open_max_pos close_total_pos pnl fee funding_fee "
            "liq_penalty settled_pnl realized_pnl",
            _D,
        ),
        ("ccy", _S),
        *_DLT,
    ),
    "balances": (
        ("account_uid", _S),
        ("snapshot_at", _T),
        ("ccy", _S),
        *_cols("eq cash_bal avail_bal upl liab interest eq_usd total_eq", _D),
        *_DLT,
    ),
    "instruments": (
        ("account_uid", _S),
        *_cols("inst_type inst_id base_ccy quote_ccy settle_ccy", _S),
        *_cols("ct_val ct_mult", _D),
        *_cols("ct_val_ccy ct_type opt_type", _S),
        ("stk", _D),
        ("exp_time", _T),
        *_cols("inst_family uly state", _S),
        *_cols("first_seen_at last_seen_at", _T),
        *_DLT,
    ),
    "funding_rates": (
        ("account_uid", _S),
        *_cols("inst_type inst_id formula_type", _S),
        *_cols("funding_rate realized_rate", _D),
        ("funding_time", _T),
        ("method", _S),
        *_DLT,
    ),
    "index_candles": (
        ("account_uid", _S),
        ("inst_id", _S),
        ("ts", _T),
        *_cols("o h l c", _D),
        ("confirm", _S),
        *_DLT,
    ),
    "account_config": (
        ("account_uid", _S),
        *_cols("uid main_uid acct_lv pos_mode perm ip label fee_type level", _S),
        *_DLT,
    ),
    # funding-account ledger (asset/bills, asset/bills-history), key account_uid, bill_id
    "funding_bills": (
        ("account_uid", _S),
        *_cols("bill_id ccy client_id", _S),
        *_cols("bal_chg bal", _D),
        *_cols("type notes", _S),
        ("ts", _T),
        *_DLT,
    ),
    # asset/deposit-history, key account_uid, dep_id
    "deposits": (
        ("account_uid", _S),
        *_cols("ccy chain", _S),
        ("amt", _D),
        *_cols('"from" area_code_from "to" tx_id', _S),
        ("ts", _T),
        *_cols("state dep_id from_wd_id actual_dep_blk_confirm", _S),
        *_DLT,
    ),
    # asset/withdrawal-history, key account_uid, wd_id
    "withdrawals": (
        ("account_uid", _S),
        *_cols("ccy chain", _S),
        ("amt", _D),
        ("ts", _T),
        *_cols('"from" "to" tx_id', _S),
        ("fee", _D),
        *_cols("fee_ccy state wd_id client_id note", _S),
        *_DLT,
    ),
}


class TransformError(OkxJournalError):
    """A transform file is malformed, or its statement failed (the build was rolled back).

    Exit code 1: it is a defect of okx-journal or of the data, not of the user's set-up;
    the raw data stays loaded and the previous journal is kept.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(
            f"building the journal failed, the raw data is loaded and the previous journal "
            f"is kept ({message}); please report this with the file named"
        )


@dataclass(frozen=True)
class TransformFile:
    """One ``transforms/<layer>/<name>.sql`` file and what its header declares."""

    path: Path
    layer: str
    name: str
    sql: str
    materialized: str = "view"
    depends_on: tuple[str, ...] = ()
    #: raw tables (``okx_raw`` names, without the schema) the statement reads
    raw_inputs: tuple[str, ...] = ()
    #: the statement reads ``journal_staging.build_settings`` (the cost basis)
    reads_settings: bool = False
    grain: str = ""
    description: str = ""
    column_comments: Mapping[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        """The schema the relation is built in."""
        return LAYER_SCHEMAS[self.layer]

    @property
    def relation(self) -> str:
        """``schema.name``."""
        return f"{self.schema}.{self.name}"

    def create_statement(self) -> str:
        """The ``CREATE OR REPLACE`` statement for this relation."""
        kind = "TABLE" if self.materialized == "table" else "VIEW"
        return f"CREATE OR REPLACE {kind} {self.relation} AS\n{self.sql}"

    def comment_statements(self) -> list[str]:
        """``COMMENT ON`` statements for the relation and its documented columns."""
        kind = "TABLE" if self.materialized == "table" else "VIEW"
        out: list[str] = []
        text = self.description or self.grain
        if text:
            out.append(f"COMMENT ON {kind} {self.relation} IS {_quote(text)}")
        for col, comment in self.column_comments.items():
            out.append(f"COMMENT ON COLUMN {self.relation}.{col} IS {_quote(comment)}")
        return out


@dataclass(frozen=True)
class BuildResult:
    """What ``build_journal`` built.

    Attributes:
        relations: ``schema.name`` of every relation, in build order.
        created_raw_tables: raw tables that did not exist and were created empty.
        seconds: wall time of the whole build.
        row_counts: rows per materialized table.
    """

    relations: tuple[str, ...]
    created_raw_tables: tuple[str, ...]
    seconds: float
    row_counts: Mapping[str, int]


_HEADER = re.compile(r"^\s*--\s*(?P<key>[a-z_]+(?: [A-Za-z0-9_]+)?)\s*:\s*(?P<value>.*?)\s*$")
_RELATION_REF = re.compile(r"\b(journal_staging|journal_int|journal)\.([a-z0-9_]+)\b")
_RAW_REF = re.compile(r"\b" + RAW_SCHEMA + r"\.\"?([a-z0-9_]+)\b")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def default_transforms_dir() -> Path:
    """``transforms/`` at the repository root (next to the ``okx_journal`` package)."""
    return Path(__file__).resolve().parent.parent / "transforms"


def _normalise_dependency(dep: str) -> str | None:
    """``intermediate.x`` / ``journal_int.x`` → ``journal_int.x``; raw tables → None."""
    schema, _, name = dep.strip().partition(".")
    if not name:
        raise TransformError(f"dependency {dep!r} is not schema.name")
    if schema == RAW_SCHEMA or f"{schema}.{name}" == SETTINGS_RELATION:
        return None
    if schema in LAYER_SCHEMAS:
        schema = LAYER_SCHEMAS[schema]
    if schema not in LAYER_SCHEMAS.values():
        raise TransformError(f"dependency {dep!r}: unknown schema {schema!r}")
    return f"{schema}.{name}"


def parse_transform_file(path: Path, layer: str) -> TransformFile:
    """Reads one SQL file and its header comments."""
    text = path.read_text(encoding="utf-8")
    headers: dict[str, str] = {}
    columns: dict[str, str] = {}
    deps: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.lstrip().startswith("--"):
            break
        match = _HEADER.match(line)
        if not match:
            continue
        key, value = match.group("key"), match.group("value")
        if key.startswith("column "):
            columns[key.split(" ", 1)[1]] = value
        elif key == "depends_on":
            deps.extend(d for d in (p.strip() for p in value.split(",")) if d)
        else:
            headers[key] = (headers[key] + " " + value) if key in headers else value
    body = text.strip().rstrip(";").strip()
    materialized = headers.get("materialized", "view").lower()
    if materialized not in ("view", "table"):
        raise TransformError(f"{path}: materialized must be view or table, not {materialized!r}")
    normalised = tuple(sorted({d for d in map(_normalise_dependency, deps) if d is not None}))
    raw_inputs = {d.partition(".")[2].strip() for d in deps if d.partition(".")[0].strip() == RAW_SCHEMA}
    raw_inputs |= set(_RAW_REF.findall(_strip_comments(body)))
    tf = TransformFile(
        path=path,
        layer=layer,
        name=path.stem,
        sql=body,
        materialized=materialized,
        depends_on=normalised,
        raw_inputs=tuple(sorted(raw_inputs)),
        reads_settings=SETTINGS_RELATION in _strip_comments(body),
        grain=headers.get("grain", ""),
        description=headers.get("description", ""),
        column_comments=columns,
    )
    referenced = {f"{s}.{n}" for s, n in _RELATION_REF.findall(_strip_comments(body))}
    declared = {d.strip() for d in deps} | set(normalised)
    undeclared = referenced - declared - {tf.relation}
    if undeclared:
        raise TransformError(f"{path}: reads {sorted(undeclared)} without declaring depends_on")
    return tf


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def _topological(files: Iterable[TransformFile]) -> list[TransformFile]:
    by_relation = {f.relation: f for f in files}
    layer_rank = {layer: i for i, layer in enumerate(LAYER_SCHEMAS)}
    for f in by_relation.values():
        missing = [d for d in f.depends_on if d not in by_relation]
        if missing:
            raise TransformError(f"{f.path}: depends on unknown relations {missing}")
    ordered: list[TransformFile] = []
    done: set[str] = set()
    pending = sorted(by_relation.values(), key=lambda f: (layer_rank[f.layer], f.name))
    while pending:
        ready = [f for f in pending if all(d in done for d in f.depends_on)]
        if not ready:
            cycle = ", ".join(f.relation for f in pending)
            raise TransformError(f"dependency cycle among: {cycle}")
        nxt = ready[0]
        ordered.append(nxt)
        done.add(nxt.relation)
        pending.remove(nxt)
    return ordered


def transform_files(transforms_dir: Path | str | None = None) -> list[TransformFile]:
    """All transform files, parsed and topologically ordered (dependencies first)."""
    root = Path(transforms_dir) if transforms_dir is not None else default_transforms_dir()
    files: list[TransformFile] = []
    for layer in LAYER_SCHEMAS:
        folder = root / layer
        if folder.is_dir():
            files.extend(parse_transform_file(p, layer) for p in sorted(folder.rglob("*.sql")))
    names = [f.relation for f in files]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise TransformError(f"several files build {sorted(dupes)}")
    return _topological(files)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection | Any) -> list[str]:
    """Creates the raw tables that do not exist yet, empty, with the documented columns.

    Existing tables are left alone (dlt owns them; extra columns it added are fine).

    Returns:
        ``okx_raw.<table>`` for every table created.
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    existing = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
            [RAW_SCHEMA],
        ).fetchall()
    }
    created: list[str] = []
    for table, columns in RAW_TABLES.items():
        if table in existing:
            continue
        cols = ", ".join(f"{name} {typ}" for name, typ in columns)
        con.execute(f"CREATE TABLE {RAW_SCHEMA}.{table} ({cols})")
        created.append(f"{RAW_SCHEMA}.{table}")
    return created


def _check_one_statement(con: duckdb.DuckDBPyConnection, tf: TransformFile) -> None:
    try:
        statements = con.extract_statements(tf.sql)
    except duckdb.Error as exc:
        raise TransformError(f"{tf.path}: {exc}") from exc
    if len(statements) != 1:
        raise TransformError(f"{tf.path}: expected one statement, found {len(statements)}")


def build_journal(
    con_or_path: duckdb.DuckDBPyConnection | str | Path | Any,
    transforms_dir: Path | str | None = None,
    *,
    only: Iterable[str] | None = None,
    cost_basis: str = "fifo",
) -> BuildResult:
    """Builds every journal relation (or the ``only`` ones) in one transaction.

    Args:
        con_or_path: an open DuckDB connection (not inside a transaction), a database
            file path that is opened and closed here, or an open
            ``okx_journal.postgres.PgConnection`` (``okx_journal.transform_postgres``).
        transforms_dir: the ``transforms/`` folder; default: the repository's.
        only: ``schema.name`` of the relations to build (in dependency order); the
            others are left as they are. None builds them all.
        cost_basis: how SPOT and MARGIN lots are matched (one of ``COST_BASIS_METHODS``).
            The relations that read it (``reads_settings``) must be in ``only`` when it
            changed: their freshness keys include it.

    Returns:
        What was built and how long it took.

    Raises:
        TransformError: a file is malformed or a statement failed; nothing was changed.
    """
    if cost_basis not in COST_BASIS_METHODS:
        raise TransformError(
            f"cost basis {cost_basis!r} is not one of {', '.join(COST_BASIS_METHODS)}"
        )
    files = transform_files(transforms_dir)
    # what no file builds any more is dropped, whatever part of the journal is built
    keep = {tf.relation for tf in files} | {SETTINGS_RELATION}
    if only is not None:
        wanted = set(only)
        files = [tf for tf in files if tf.relation in wanted]
    if not isinstance(con_or_path, (str, Path, duckdb.DuckDBPyConnection)):
        from okx_journal.transform_postgres import build_on_postgres

        return build_on_postgres(con_or_path, files, cost_basis)
    if isinstance(con_or_path, (str, Path)):
        con = duckdb.connect(str(con_or_path))
        try:
            return _build(con, files, cost_basis, keep)
        finally:
            con.close()
    return _build(con_or_path, files, cost_basis, keep)


def _build(
    con: duckdb.DuckDBPyConnection, files: list[TransformFile], cost_basis: str, keep: set[str]
) -> BuildResult:
    started = time.perf_counter()
    for tf in files:
        _check_one_statement(con, tf)
    # Tables created inside the transaction carry no statistics, so DuckDB estimates them
    # as tiny and would run ASOF joins as nested loops (minutes on a million fills).
    previous_threshold = _setting(con, "asof_loop_join_threshold")
    con.execute("SET asof_loop_join_threshold = 0")
    try:
        created, row_counts = _build_in_transaction(con, files, cost_basis, keep)
    finally:
        if previous_threshold is not None:
            con.execute(f"SET asof_loop_join_threshold = {int(previous_threshold)}")
    return BuildResult(
        relations=tuple(tf.relation for tf in files),
        created_raw_tables=tuple(created),
        seconds=time.perf_counter() - started,
        row_counts=row_counts,
    )


def _build_in_transaction(
    con: duckdb.DuckDBPyConnection, files: list[TransformFile], cost_basis: str, keep: set[str]
) -> tuple[list[str], dict[str, int]]:
    con.execute("BEGIN TRANSACTION")
    current: TransformFile | None = None
    try:
        created = ensure_raw_tables(con)
        for schema in LAYER_SCHEMAS.values():
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        # cost_basis was checked against COST_BASIS_METHODS: a plain literal is safe
        con.execute(
            f"CREATE OR REPLACE TABLE {SETTINGS_RELATION} AS "
            f"SELECT CAST({_quote(cost_basis)} AS VARCHAR) AS cost_basis"
        )
        for tf in files:
            current = tf
            con.execute(tf.create_statement())
            if tf.layer == "marts":
                for stmt in tf.comment_statements():
                    con.execute(stmt)
        current = None
        _drop_stale_relations(con, keep)
        row_counts = {
            tf.relation: _fetch_count(con, tf.relation)
            for tf in files
            if tf.materialized == "table"
        }
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK")
        where = f"{current.path.name}: " if current is not None else ""
        raise TransformError(f"journal build failed, nothing changed: {where}{exc}") from exc
    return created, row_counts


def _drop_stale_relations(con: duckdb.DuckDBPyConnection, keep: set[str]) -> None:
    """Drops the relations of the journal schemas that no transform file builds any more."""
    schemas = list(LAYER_SCHEMAS.values())
    rows = con.execute(
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        f"WHERE table_schema IN ({', '.join('?' for _ in schemas)})",
        schemas,
    ).fetchall()
    for schema, name, kind in rows:
        if f"{schema}.{name}" not in keep:
            what = "VIEW" if str(kind).upper() == "VIEW" else "TABLE"
            con.execute(f'DROP {what} IF EXISTS {schema}."{name}"')


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = con.execute("SELECT value FROM duckdb_settings() WHERE name = ?", [name]).fetchone()
    return str(row[0]) if row else None


def _fetch_count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0
