"""The journal on PostgreSQL: the same models, translated, equal to DuckDB's cell for cell.

One throwaway server for the session (``pg_cluster`` in conftest.py), one database per
scenario. The golden scenario (tests/test_transforms.py's raw rows) and the simulator's
generated history (tests/test_journal_on_simulator.py's two-account sync) are built on
both databases and every mart is compared row by row, exact Decimals included.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import run_cli
from test_journal_on_simulator import sync_all
from test_same_ms_charges import populate as populate_same_ms
from test_transforms import populate
from test_usd_valuation import populate as populate_usd

from okx_journal.postgres import PgConnection, PgLock
from okx_journal.sql_postgres import to_postgres
from okx_journal.transform import (
    TransformError,
    build_journal,
    default_transforms_dir,
    transform_files,
)
from sources.okx.errors import SyncLocked

MARTS = [tf for tf in transform_files() if tf.layer == "marts"]


def _columns(con: Any, schema: str, name: str, native: bool) -> list[str]:
    sql = (
        "select column_name from information_schema.columns where table_schema = "
        f"'{schema}' and table_name = '{name}' order by ordinal_position"
    )
    cur = con.execute_native(sql) if native else con.execute(sql)
    return [str(r[0]) for r in cur.fetchall()]


#: when each sync took its snapshot: differs between two syncs of the same history
_SYNC_TIMES = {("open_positions", "snapshot_at")}


def _normal(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as comparable Python objects: times in UTC, numbers without their scale."""
    out: list[Any] = []
    for v in row:
        if isinstance(v, datetime):
            v = v.astimezone(UTC)
        elif isinstance(v, Decimal):
            v = v.normalize() if v != 0 else Decimal(0)
        out.append(v)
    return tuple(out)


def assert_same_journal(duck: Any, pg: PgConnection) -> int:
    """Every mart: same columns in the same order, same rows (as exact values). Returns
    the number of cells compared."""
    cells = 0
    for tf in MARTS:
        cols = _columns(duck, tf.schema, tf.name, native=False)
        assert cols, f"{tf.relation} missing in DuckDB"
        assert _columns(pg, tf.schema, tf.name, native=True) == cols, tf.relation
        query = f"select * from {tf.relation}"
        d = sorted(map(_normal, duck.execute(query).fetchall()), key=repr)
        p = sorted(map(_normal, pg.execute_native(query).fetchall()), key=repr)
        assert len(d) == len(p), (tf.relation, len(d), len(p))
        for drow, prow in zip(d, p, strict=True):
            for col, a, b in zip(cols, drow, prow, strict=True):
                if (tf.name, col) in _SYNC_TIMES:
                    continue
                if isinstance(a, Decimal) or isinstance(b, Decimal):
                    # exact: the same number, not merely close (scale may print differently)
                    assert a is not None and b is not None and a == b, (
                        tf.relation, col, a, b, drow)
                else:
                    assert a == b, (tf.relation, col, a, b, drow)
                cells += 1
    return cells


# ----------------------------------------------------------------------------- golden


@pytest.fixture(scope="module")
def golden(pg_cluster: Any) -> Iterator[tuple[duckdb.DuckDBPyConnection, PgConnection]]:
    duck = duckdb.connect()
    populate(duck)
    build_journal(duck)
    pg = PgConnection(pg_cluster.create_database("golden"))
    populate(pg)
    build_journal(pg)
    yield duck, pg
    pg.close()
    duck.close()


def test_golden_scenario_on_postgres_equals_duckdb_cell_for_cell(
    golden: tuple[duckdb.DuckDBPyConnection, PgConnection],
) -> None:
    duck, pg = golden
    assert assert_same_journal(duck, pg) > 1000
    # money keeps DuckDB's types on the server: NUMERIC(38,18), never a float
    floats = pg.execute_native(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'journal' and data_type in ('double precision', 'real')"
    ).fetchall()
    assert floats == []
    (scale,) = pg.execute_native(
        "select numeric_scale from information_schema.columns where table_schema = 'journal' "
        "and table_name = 'equity_curve' and column_name = 'cumulative_net_pnl'"
    ).fetchone() or (None,)
    assert scale == 18
    (comment,) = pg.execute_native(
        "select obj_description('journal.round_trips'::regclass)").fetchone() or (None,)
    assert comment and "position cycle" in comment


def _same_on_both(pg_cluster: Any, name: str, populate_raw: Any, query: str) -> int:
    """Builds one hand scenario on DuckDB and on a new PostgreSQL database: every mart and
    ``query`` (an intermediate relation) equal; returns the mart cells compared."""
    duck = duckdb.connect()
    pg = PgConnection(pg_cluster.create_database(name))
    try:
        for con in (duck, pg):
            populate_raw(con)
            build_journal(con)
        cells = assert_same_journal(duck, pg)
        assert pg.execute_native(query).fetchall() == duck.execute(query).fetchall()
        return cells
    finally:
        pg.close()
        duck.close()


def test_charges_in_the_millisecond_of_a_close_on_postgres_equal_duckdb(pg_cluster: Any) -> None:
    """Funding and interest booked in the ms of a close, open or flip (both ledger orders,
    net and hedge mode: tests/test_same_ms_charges.py): the same attribution on both."""
    attributed = "select bill_id, round_trip_id from journal_int.int_bill_attributions order by bill_id"
    assert _same_on_both(pg_cluster, "same_ms", populate_same_ms, attributed) > 1000


def test_usd_prices_on_postgres_equal_duckdb(pg_cluster: Any) -> None:
    """The USD valuation's hand scenario (index, USDT route, par, unpriced): the same on both."""
    rates = "select ccy, hour_utc, usd_price, price_source from journal_int.int_usd_rates order by 1, 2"
    assert _same_on_both(pg_cluster, "usd", populate_usd, rates) > 300


def test_failed_build_on_postgres_keeps_the_previous_journal(
    golden: tuple[duckdb.DuckDBPyConnection, PgConnection], tmp_path: Path
) -> None:
    _, pg = golden
    before = pg.execute_native("select count(*), sum(net_pnl) from journal.round_trips").fetchone()
    broken = tmp_path / "transforms"
    shutil.copytree(default_transforms_dir(), broken)
    stats = broken / "marts" / "stats.sql"
    stats.write_text(stats.read_text().replace("from journal.round_trips", "from journal.no_such", 1))
    with pytest.raises(TransformError, match="stats.sql"):
        build_journal(pg, broken)
    after = pg.execute_native("select count(*), sum(net_pnl) from journal.round_trips").fetchone()
    assert after == before
    # and a rebuild over an existing journal replaces it with the same rows
    build_journal(pg)
    assert pg.execute_native("select count(*), sum(net_pnl) from journal.round_trips").fetchone() == before


def test_translated_asof_joins_and_double_arithmetic_match_duckdb(pg_cluster: Any) -> None:
    """The translator's exact rewrites, on data with ties, gaps, NULL keys and rounding."""
    import random

    rng = random.Random(13)
    rows_l = [(rng.choice(["a", "b", None]), rng.randint(0, 60), rng.randint(1, 10**6)) for _ in range(300)]
    rows_r = [(rng.choice(["a", "b", "c"]), t, Decimal(rng.randint(1, 10**12)) / Decimal(10**7))
              for t in rng.sample(range(0, 60), 40)]
    duck = duckdb.connect()
    pg = PgConnection(pg_cluster.create_database("translator"))
    try:
        pg.create_support_functions()
        for con in (duck, pg):
            con.execute("create table l (k varchar, t bigint, n bigint)")
            con.execute("create table r (k varchar, t bigint, v decimal(38, 18))")
            for row in rows_l:
                con.execute("insert into l values (?, ?, ?)", list(row))
            for row in rows_r:
                con.execute("insert into r values (?, ?, ?)", [row[0], row[1], str(row[2])])
        queries = [
            # backward: the latest r at or before l.t
            "select l.k, l.t, l.n, r.t as rt, r.v from l asof join r on r.k = l.k and l.t >= r.t",
            # forward and LEFT: the first r at or after l.t, NULLs kept
            "select l.k, l.t, l.n, r.t as rt, r.v from l asof left join r on r.k = l.k and l.t <= r.t",
            # DuckDB's DOUBLE division and its DOUBLE -> DECIMAL and DECIMAL -> DOUBLE casts
            "select k, t, cast(v / t as decimal(38, 12)) as a, cast(cast(v as double) * 3 as decimal(38, 18)) as b,"
            " cast(t * 1000003 / 7 as decimal(38, 12)) as c, cast(v * 1000000 / 3 as decimal(38, 6)) as d from r where t > 0",
            # arg_max over a tuple, any_value, GROUP BY ALL, QUALIFY, EXCLUDE
            "select k, arg_max(t, (v, t)) as best, count(*) filter (where t > 30) as late from r group by all",
            "select * exclude (v) from r qualify row_number() over (partition by k order by t desc) = 1",
        ]
        for sql in queries:
            d = sorted(duck.execute(sql).fetchall(), key=repr)
            p = sorted(pg.execute(sql).fetchall(), key=repr)
            assert d == p, (sql, to_postgres(sql, pg.columns_of))
    finally:
        pg.close()
        duck.close()


# ----------------------------------------------------------------------------- simulator


@pytest.fixture(scope="module")
def simulated(
    pg_cluster: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[duckdb.DuckDBPyConnection, PgConnection, Any, list[Any], str]]:
    dsn = pg_cluster.create_database("simulated")
    os.environ["DESTINATION__POSTGRES__CREDENTIALS"] = dsn
    db = tmp_path_factory.mktemp("sim-duck") / "j.duckdb"
    try:
        summaries: list[Any] = []
        # DuckDB's own sync, checks and second run are tested in test_journal_on_simulator
        history = sync_all(db, 2, ("duckdb", "postgres"), twice=("postgres",),
                           checked=("postgres",), summaries=summaries)
        duck = duckdb.connect(str(db), read_only=True)
        pg = PgConnection(dsn)
        yield duck, pg, history, summaries, dsn
        pg.close()
        duck.close()
    finally:
        os.environ.pop("DESTINATION__POSTGRES__CREDENTIALS", None)


def test_simulator_history_on_postgres_equals_duckdb_cell_for_cell(
    simulated: tuple[duckdb.DuckDBPyConnection, PgConnection, Any, list[Any], str],
) -> None:
    duck, pg, history, _, _ = simulated
    # every cell, ratios computed in DOUBLE (entry_px, win_rate, ...) included
    assert assert_same_journal(duck, pg) > 100_000
    bad = pg.execute_native("select * from journal.reconciliation where not ok").fetchall()
    assert bad == []
    uids = {r[0] for r in pg.execute_native("select distinct account_uid from journal.round_trips").fetchall()}
    assert uids == {a.uid for a in history.accounts}


def test_two_accounts_sync_twice_into_postgres_and_load_nothing_twice(
    simulated: tuple[duckdb.DuckDBPyConnection, PgConnection, Any, list[Any], str],
) -> None:
    duck, pg, history, summaries, _ = simulated
    assert len(summaries) == 6
    first = [s for d, n, s in summaries if d == "postgres" and n == 0]
    second = [s for d, n, s in summaries if d == "postgres" and n == 1]
    _nothing_twice(history, first, second)
    for table in ("fills", "bills"):
        dupes = pg.execute_native(
            f"select count(*) from (select account_uid, bill_id from okx_raw.{table} "
            "group by 1, 2 having count(*) > 1) d").fetchone()
        assert dupes == (0,)
        counts = [con.execute(f"select count(*) from okx_raw.{table}").fetchone() for con in (duck, pg)]
        assert counts[0] == counts[1]


def _nothing_twice(history: Any, first: list[Any], second: list[Any]) -> None:
    assert [s.account_uid for s in first] == [a.uid for a in history.accounts]
    assert all(s.new_rows["fills"] > 0 and s.new_rows["bills"] > 0 for s in first)
    assert [s.account_uid for s in second] == [s.account_uid for s in first]
    for s in second:  # each account's own cursors: the second round finds nothing new
        assert {k: v for k, v in s.new_rows.items() if k not in ("positions", "balances")} == {
            k: 0 for k in s.new_rows if k not in ("positions", "balances")
        }
    for s in first:  # the data checks ran on PostgreSQL and passed
        assert s.checks_ok is True
        assert s.label.startswith("postgresql://postgres@") and "trust" not in s.to_text()


def test_postgres_lock_exits_6_and_report_and_check_on_postgres(
    simulated: tuple[duckdb.DuckDBPyConnection, PgConnection, Any, list[Any], str],
    tmp_path: Path,
) -> None:
    _, pg, history, _, dsn = simulated
    env = {"DESTINATION__POSTGRES__CREDENTIALS": dsn,
           "OKX_JOURNAL_HOME": str(tmp_path / "home")}
    acct = history.accounts[0]
    with PgLock(dsn):
        with pytest.raises(SyncLocked):
            PgLock(dsn).acquire()
        done = run_cli("sync", "--destination", "postgres", "--base-url", "http://127.0.0.1:9",
                       env={**env, "OKX_API_KEY": acct.api_key, "OKX_API_SECRET": acct.secret,
                            "OKX_API_PASSPHRASE": acct.passphrase})
        assert done.returncode == 6, done.stderr
        assert "another okx-journal sync" in done.stderr and "trust" not in done.stderr
    out = tmp_path / "r.html"
    done = run_cli("report", "--destination", "postgres", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert "round" in out.read_text().lower()
    done = run_cli("sql", "--destination", "postgres",
                   "select inst_type, count(*) as n from journal.round_trips group by all order by 1",
                   env=env)
    assert done.returncode == 0 and "SWAP" in done.stdout, done.stderr
    done = run_cli("sql", "--destination", "postgres", "delete from okx_raw.bills", env=env)
    assert done.returncode == 2 and "read-only" in done.stderr
    # a duplicated bill: `check` exits 5 on PostgreSQL too
    pg.execute_native(
        "insert into okx_raw.bills select * from okx_raw.bills "
        "where bill_id = (select min(bill_id) from okx_raw.bills)")
    try:
        done = run_cli("check", "--destination", "postgres", env=env, timeout=180)
        assert done.returncode == 5, (done.stdout, done.stderr)
        assert "bill" in (done.stdout + done.stderr).lower()
    finally:
        pg.execute_native(
            "delete from okx_raw.bills where ctid in (select ctid from (select ctid, row_number() "
            "over (partition by account_uid, bill_id) as n from okx_raw.bills) d where n > 1)")


def test_destination_comes_from_dlt_toml_and_credentials_never_from_the_command_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "dlt.toml").write_text('[okx_journal]\ndestination = "postgres"\n')
    env = {"DESTINATION__POSTGRES__CREDENTIALS": "postgresql://u:s3cret@127.0.0.1:1/j",
           "OKX_JOURNAL_HOME": str(tmp_path / "home")}
    done = run_cli("report", "--out", str(tmp_path / "r.html"), env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "postgresql://u@127.0.0.1:1/j" in done.stderr and "s3cret" not in done.stderr
    done = run_cli("sync", "--help")
    assert "--destination" in done.stdout and "password" not in done.stdout.lower()


def test_state_of_an_emptied_postgres_database_is_forgotten(pg_cluster: Any, tmp_path: Path) -> None:
    """A database dropped and created again holds no load: the local cursors would skip
    everything up to them, so dlt's folder goes (as for a deleted DuckDB file)."""
    from okx_journal.destination import Destination
    from okx_journal.sync import (
        PIPELINE_NAME,
        _forget_state_of_a_missing_database,
        pipelines_dir_for,
    )

    dsn = pg_cluster.create_database("emptied")
    dest = Destination("postgres", tmp_path / "journal", dsn)
    loaded = pipelines_dir_for(dest.db_path) / PIPELINE_NAME / "load" / "loaded" / "1"
    loaded.mkdir(parents=True)
    lines: list[str] = []
    with PgConnection(dsn) as pg:
        pg.execute_native("CREATE SCHEMA okx_raw")
        pg.execute_native("CREATE TABLE okx_raw._dlt_loads (load_id text)")
        _forget_state_of_a_missing_database(dest, lines.append)
        assert loaded.exists() and lines == []  # loads there: the cursors are good
        pg.execute_native("DROP SCHEMA okx_raw CASCADE")
    _forget_state_of_a_missing_database(dest, lines.append)
    assert not pipelines_dir_for(dest.db_path).exists()
    assert lines and "holds no load" in lines[0] and "trust" not in lines[0]


def test_a_missing_server_fails_the_postgres_tests_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pg_cluster

    monkeypatch.setattr(pg_cluster.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(pg_cluster.shutil, "which", lambda name: None)
    with pytest.raises(pg_cluster.PgClusterError, match="install-postgresql.sh"):
        pg_cluster.PgCluster()
