"""Data-quality checks (``okx_journal.checks``, suites in ``transforms/checks/suites.py``).

Small DuckDB databases are built by hand: ``okx_raw.*`` with the raw schema's columns
(``sources.okx.schema``), ``journal.*`` with the contract's columns, a few hand-written
rows. One good database passes every suite; each broken variant makes the right
expectation fail with a readable first example. great-expectations is imported once
per session (the first test pays 4-7 s).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import duckdb
import pytest

from okx_journal.checks import (
    CheckReport,
    Outcome,
    load_suites,
    results_path,
    run_checks,
    run_checks_after_sync,
)
from sources.okx.errors import DataCheckFailed

REPO = Path(__file__).resolve().parent.parent
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
T0 = NOW - dt.timedelta(days=10)

_KIND_SQL = {
    "decimal": "DECIMAL(38,18)",
    "timestamp": "TIMESTAMPTZ",
    "text": "VARCHAR",
    "bool": "BOOLEAN",
    "json": "VARCHAR",
    "bigint": "BIGINT",
}


def _ts(minutes: int) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat()


def _create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    from sources.okx.schema import TABLES

    con.execute("create schema okx_raw")
    for name in ("fills", "bills", "instruments", "account_config", "balances"):
        columns = {**TABLES[name].columns(), "_dlt_load_id": "text", "_dlt_id": "text"}
        cols = ", ".join(f'"{c}" {_KIND_SQL[k]}' for c, k in columns.items())
        con.execute(f"create table okx_raw.{name} ({cols})")
    con.execute(
        "create table okx_raw._dlt_loads (load_id varchar, schema_name varchar, status bigint, "
        "inserted_at timestamptz, schema_version_hash varchar)"
    )


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Mapping[str, object]]
) -> None:
    for row in rows:
        if table.startswith("okx_raw.") and not table.endswith("_dlt_loads"):
            row = {**row, "_dlt_load_id": "1", "_dlt_id": f"{table}-{id(row)}"}
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"insert into {table} ({cols}) values ({marks})", list(row.values()))


def _fill(bill: str, inst_type: str, inst_id: str, side: str, px: str, sz: str, fee: str,
          fee_ccy: str, minute: int, pnl: str = "0", exec_type: str | None = "T",
          pos_side: str | None = "net") -> dict[str, object]:
    return {
        "account_uid": "U1", "bill_id": bill, "trade_id": f"t{bill}", "ord_id": f"o{bill}",
        "inst_type": inst_type, "inst_id": inst_id, "side": side, "pos_side": pos_side,
        "exec_type": exec_type, "fill_px": px, "fill_sz": sz, "fill_pnl": pnl, "fee": fee,
        "fee_ccy": fee_ccy, "ts": _ts(minute), "fill_time": _ts(minute),
    }


def _bill(bill: str, type_: str, sub: str, ccy: str, bal_chg: str, bal: str, minute: int,
          inst_type: str | None = None, inst_id: str | None = None, fee: str = "0",
          pnl: str = "0") -> dict[str, object]:
    return {
        "account_uid": "U1", "bill_id": bill, "type": type_, "sub_type": sub, "ccy": ccy,
        "bal_chg": bal_chg, "bal": bal, "ts": _ts(minute), "inst_type": inst_type,
        "inst_id": inst_id, "fee": fee, "pnl": pnl,
    }


FILLS = [
    _fill("1001", "SPOT", "BTC-USDT", "buy", "50000", "0.1", "-0.0001", "BTC", 1, pos_side=None),
    _fill("1003", "SPOT", "BTC-USDT", "sell", "51000", "0.0999", "-5.0949", "USDT", 2,
          exec_type="M", pos_side=None),
    _fill("1005", "SWAP", "BTC-USDT-SWAP", "buy", "50000", "1", "-0.25", "USDT", 3),
    # a maker rebate: a positive fee is allowed (reported as info, not a failure)
    _fill("1006", "SWAP", "BTC-USDT-SWAP", "sell", "50500", "1", "0.05", "USDT", 4, pnl="5",
          exec_type="M"),
]

# One USDT and one BTC balance chain: bal = previous bal + bal_chg.
BILLS = [
    _bill("1000", "1", "11", "USDT", "10000", "10000", 0),
    _bill("1001", "2", "1", "BTC", "0.0999", "0.0999", 1, "SPOT", "BTC-USDT", fee="-0.0001"),
    _bill("1002", "2", "1", "USDT", "-5000", "5000", 1, "SPOT", "BTC-USDT"),
    _bill("1003", "2", "2", "BTC", "-0.0999", "0", 2, "SPOT", "BTC-USDT"),
    _bill("1004", "2", "2", "USDT", "5089.8051", "10089.8051", 2, "SPOT", "BTC-USDT",
          fee="-5.0949"),
    _bill("1005", "2", "1", "USDT", "-0.25", "10089.5551", 3, "SWAP", "BTC-USDT-SWAP",
          fee="-0.25"),
    _bill("1006", "2", "2", "USDT", "5.05", "10094.6051", 4, "SWAP", "BTC-USDT-SWAP",
          fee="0.05", pnl="5"),
    _bill("1007", "8", "173", "USDT", "-0.1", "10094.5051", 5, "SWAP", "BTC-USDT-SWAP",
          pnl="-0.1"),
    _bill("1009", "7", "9", "USDT", "-0.01", "10094.4951", 6, "MARGIN", "BTC-USDT"),
]

INSTRUMENTS = [
    {"account_uid": "U1", "inst_type": "SPOT", "inst_id": "BTC-USDT", "base_ccy": "BTC",
     "quote_ccy": "USDT", "state": "live"},
    {"account_uid": "U1", "inst_type": "MARGIN", "inst_id": "BTC-USDT", "base_ccy": "BTC",
     "quote_ccy": "USDT", "state": "live"},
    {"account_uid": "U1", "inst_type": "SWAP", "inst_id": "BTC-USDT-SWAP", "settle_ccy": "USDT",
     "ct_val": "0.01", "ct_mult": "1", "ct_val_ccy": "BTC", "ct_type": "linear", "state": "live"},
]

JOURNAL_DDL = """
create schema journal;
create table journal.round_trips (
    round_trip_id varchar, account_uid varchar, inst_type varchar, inst_id varchar,
    direction varchar, opened_at timestamptz, closed_at timestamptz,
    entry_px decimal(38,18), exit_px decimal(38,18), max_size decimal(38,18),
    gross_pnl decimal(38,18), fees decimal(38,18), funding decimal(38,18),
    interest decimal(38,18), net_pnl decimal(38,18), pnl_ccy varchar);
create table journal.daily_pnl (
    day date, account_uid varchar, inst_type varchar, inst_id varchar, pnl_ccy varchar,
    gross_pnl decimal(38,18), fees decimal(38,18), funding decimal(38,18),
    interest decimal(38,18), net_pnl decimal(38,18));
create table journal.pnl_by_instrument_type (
    account_uid varchar, inst_type varchar, pnl_ccy varchar,
    gross_pnl decimal(38,18), fees decimal(38,18), funding decimal(38,18),
    interest decimal(38,18), net_pnl decimal(38,18));
create table journal.reconciliation (
    check_name varchar, account_uid varchar, subject varchar, compared varchar,
    expected_value decimal(38,18), actual_value decimal(38,18), difference decimal(38,18),
    tolerance decimal(38,18), ok boolean, details varchar);
"""

# SPOT: bought 0.0999 BTC net of fee at 50000, sold at 51000: gross 99.9, fees -0.0001
# BTC (5 USDT at 50000) and -5.0949 USDT. SWAP: pnl 5, fees -0.25 + 0.05, funding -0.1.
ROUND_TRIPS: list[dict[str, object]] = [
    {"round_trip_id": "U1-SPOT-BTC-USDT-1", "account_uid": "U1", "inst_type": "SPOT",
     "inst_id": "BTC-USDT", "direction": "long", "opened_at": _ts(1), "closed_at": _ts(2),
     "entry_px": "50000", "exit_px": "51000", "max_size": "0.0999", "gross_pnl": "99.9",
     "fees": "-10.0949", "funding": "0", "interest": "0", "net_pnl": "89.8051", "pnl_ccy": "USDT"},
    {"round_trip_id": "U1-SWAP-BTC-USDT-SWAP-1", "account_uid": "U1", "inst_type": "SWAP",
     "inst_id": "BTC-USDT-SWAP", "direction": "long", "opened_at": _ts(3), "closed_at": _ts(4),
     "entry_px": "50000", "exit_px": "50500", "max_size": "1", "gross_pnl": "5", "fees": "-0.2",
     "funding": "0", "interest": "0", "net_pnl": "4.8", "pnl_ccy": "USDT"},
    # still open: no P&L yet
    {"round_trip_id": "U1-SWAP-BTC-USDT-SWAP-2", "account_uid": "U1", "inst_type": "SWAP",
     "inst_id": "BTC-USDT-SWAP", "direction": "short", "opened_at": _ts(7), "closed_at": None,
     "entry_px": "50600", "exit_px": None, "max_size": "1", "gross_pnl": None, "fees": None,
     "funding": None, "interest": None, "net_pnl": None, "pnl_ccy": "USDT"},
]
DAY = T0.date().isoformat()
DAILY = [
    {"day": DAY, "account_uid": "U1", "inst_type": "SPOT", "inst_id": "BTC-USDT",
     "pnl_ccy": "USDT", "gross_pnl": "99.9", "fees": "-10.0949", "funding": "0", "interest": "0",
     "net_pnl": "89.8051"},
    {"day": DAY, "account_uid": "U1", "inst_type": "SWAP", "inst_id": "BTC-USDT-SWAP",
     "pnl_ccy": "USDT", "gross_pnl": "5", "fees": "-0.2", "funding": "-0.1", "interest": "0",
     "net_pnl": "4.7"},
    {"day": DAY, "account_uid": "U1", "inst_type": "MARGIN", "inst_id": "BTC-USDT",
     "pnl_ccy": "USDT", "gross_pnl": "0", "fees": "0", "funding": "0", "interest": "-0.01",
     "net_pnl": "-0.01"},
]
BY_TYPE = [
    {"account_uid": "U1", "inst_type": "SPOT", "pnl_ccy": "USDT", "gross_pnl": "99.9",
     "fees": "-10.0949", "funding": "0", "interest": "0", "net_pnl": "89.8051"},
    {"account_uid": "U1", "inst_type": "SWAP", "pnl_ccy": "USDT", "gross_pnl": "5",
     "fees": "-0.2", "funding": "-0.1", "interest": "0", "net_pnl": "4.7"},
    {"account_uid": "U1", "inst_type": "MARGIN", "pnl_ccy": "USDT", "gross_pnl": "0",
     "fees": "0", "funding": "0", "interest": "-0.01", "net_pnl": "-0.01"},
]
# the columns of transforms/marts/reconciliation.sql
RECONCILIATION = [
    {"check_name": "ledger_balance_chain", "account_uid": "U1", "subject": "USDT",
     "compared": "first bal + later bal_chg vs last bal", "expected_value": "10094.4951",
     "actual_value": "10094.4951", "difference": "0", "tolerance": "0", "ok": True,
     "details": "7 bills, 0 breaks"},
    {"check_name": "ledger_balance_chain", "account_uid": "U1", "subject": "BTC",
     "compared": "first bal + later bal_chg vs last bal", "expected_value": "0",
     "actual_value": "0", "difference": "0", "tolerance": "0", "ok": True,
     "details": "2 bills, 0 breaks"},
]


def _build_good(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        _create_raw_tables(con)
        _insert(con, "okx_raw.fills", FILLS)
        _insert(con, "okx_raw.bills", BILLS)
        _insert(con, "okx_raw.instruments", INSTRUMENTS)
        _insert(con, "okx_raw.account_config", [{"account_uid": "U1", "uid": "U1"}])
        _insert(con, "okx_raw.balances", [
            {"account_uid": "U1", "ccy": "USDT", "snapshot_at": _ts(8), "eq": "10094.4951"},
        ])
        _insert(con, "okx_raw._dlt_loads", [
            {"load_id": "1", "schema_name": "okx", "status": 0,
             "inserted_at": (NOW - dt.timedelta(days=20)).isoformat()},
            {"load_id": "2", "schema_name": "okx", "status": 0,
             "inserted_at": (NOW - dt.timedelta(hours=1)).isoformat()},
        ])
        con.execute(JOURNAL_DDL)
        _insert(con, "journal.round_trips", ROUND_TRIPS)
        _insert(con, "journal.daily_pnl", DAILY)
        _insert(con, "journal.pnl_by_instrument_type", BY_TYPE)
        _insert(con, "journal.reconciliation", RECONCILIATION)
    finally:
        con.close()


@pytest.fixture(scope="session")
def good_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checks") / "good.duckdb"
    _build_good(path)
    return path


@pytest.fixture
def make_db(good_db_template: Path, tmp_path: Path) -> Callable[[str], Path]:
    """A copy of the good database with ``sql`` applied (the broken variant)."""

    def make(sql: str = "") -> Path:
        path = tmp_path / "okx.duckdb"
        shutil.copy(good_db_template, path)
        if sql:
            con = duckdb.connect(str(path))
            con.execute(sql)
            con.close()
        return path

    return make


def _failed(report: CheckReport) -> list[Outcome]:
    return report.failures


def _only_failure(report: CheckReport, meaning_part: str) -> Outcome:
    failures = _failed(report)
    assert failures, report.to_table()
    assert any(meaning_part in f.meaning for f in failures), report.to_table()
    return next(f for f in failures if meaning_part in f.meaning)


# ----------------------------------------------------------------------------- good


def test_good_database_passes_every_suite(
    make_db: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db = make_db("")
    report = run_checks(db)
    assert report.ok, report.to_table()
    assert [s.suite for s in report.suites] == ["raw", "journal", "coverage"]
    assert all(s.expectations > 0 and s.failed == 0 for s in report.suites)
    assert capsys.readouterr().out == "", "great-expectations printed on stdout"

    # the maker rebate is counted and reported, not failed
    info = [o for o in report.outcomes if o.status == "info"]
    assert [(o.frame, o.unexpected_count) for o in info] == [
        ("okx_raw.fills", 1), ("okx_raw.bills", 1)
    ]
    assert "bill_id=1006" in info[0].example
    table = report.to_table()
    assert table.splitlines()[0].split() == ["suite", "checks", "failed", "first", "failure"]
    assert "info: raw okx_raw.fills: fee <= 0" in table
    skipped = next(line for line in table.splitlines() if line.startswith("skipped (nothing loaded): "))
    # this hand-built journal has no USD relations (journal.daily_pnl_total_usd, int_pnl_usd)
    assert "okx_raw.positions, okx_raw.positions_history" in skipped
    assert "all checks passed" in table

    data = json.loads(results_path(db).read_text())
    assert results_path(db).name == "okx.duckdb.checks.json"
    assert data["ok"] is True
    ran = [f for f in data["frames"] if f["status"] == "ran"]
    assert ran and all(r["success"] for f in ran for r in f["gx_results"] if
                       r["expectation_config"]["severity"] == "critical")
    report.raise_for_failures()  # no exception


# ----------------------------------------------------------------------------- raw


def test_duplicated_bill_fails_uniqueness(make_db: Callable[[str], Path]) -> None:
    db = make_db("insert into okx_raw.bills select * from okx_raw.bills where bill_id = '1005'")
    report = run_checks(db, suites=["raw"])
    failure = report.first_failure
    assert failure is not None
    assert (failure.frame, failure.meaning) == ("okx_raw.bills", "bill_id is unique per account")
    assert "account_uid=U1, bill_id=1005" in failure.example
    assert "(2 of 10 rows)" in failure.example
    with pytest.raises(DataCheckFailed) as exc:
        report.raise_for_failures()
    assert exc.value.exit_code == 5
    assert str(exc.value).startswith(
        "data check failed: raw / okx_raw.bills: bill_id is unique per account: "
    )
    assert "bill_id=1005" in str(exc.value) and "\n" not in str(exc.value)


def test_inst_type_outside_the_set(make_db: Callable[[str], Path]) -> None:
    db = make_db("update okx_raw.fills set inst_type = 'PERP' where bill_id = '1005'")
    report = run_checks(db, suites=["raw"])
    failure = report.first_failure
    assert failure is not None and failure.frame == "okx_raw.fills"
    assert failure.meaning == "inst_type in SPOT/MARGIN/SWAP/FUTURES/OPTION"
    assert failure.example.startswith("inst_type=PERP, account_uid=U1, bill_id=1005")


def test_missing_instrument_spec(make_db: Callable[[str], Path]) -> None:
    # a future that expired long ago is no longer listed by OKX: info, not a failure
    db = make_db(
        "delete from okx_raw.instruments where inst_type = 'SWAP';"
        "insert into okx_raw.fills (account_uid, bill_id, inst_type, inst_id, side, fill_px, "
        f"fill_sz, fee, ts) values ('U1', '999', 'FUTURES', 'BTC-USD-250328', 'buy', 80000, 1, "
        f"-0.00001, '{_ts(0)}')"
    )
    report = run_checks(db, suites=["raw"])
    assert [f.frame for f in report.failures] == ["okx_raw.instruments for fills"]
    failure = report.failures[0]
    assert "has a spec in okx_raw.instruments" in failure.meaning
    assert "inst_type=SWAP, inst_id=BTC-USDT-SWAP, fills=2" in failure.example
    assert "(1 of 2 rows)" in failure.example
    expired = [o for o in report.outcomes if o.status == "info" and "expired" in o.meaning]
    assert len(expired) == 1 and "inst_id=BTC-USD-250328" in expired[0].example


def test_future_timestamp(make_db: Callable[[str], Path]) -> None:
    future = (NOW + dt.timedelta(days=1)).isoformat()
    db = make_db(f"update okx_raw.fills set ts = '{future}' where bill_id = '1003'")
    report = run_checks(db, suites=["raw"])
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert failure.meaning.startswith("ts is not in the future")
    assert "bill_id=1003" in failure.example and str(NOW.year) in failure.example


def test_wrong_sign_of_interest_and_bad_size(make_db: Callable[[str], Path]) -> None:
    # interest credited instead of charged (the chain still adds up), and a zero size
    db = make_db(
        "update okx_raw.bills set bal_chg = 0.01, bal = 10094.5151 where bill_id = '1009';"
        "update okx_raw.fills set fill_sz = 0 where bill_id = '1001'"
    )
    report = run_checks(db, suites=["raw", "coverage"])
    meanings = {f.meaning: f for f in report.failures}
    assert set(meanings) == {
        "margin interest (type 7) is negative or zero", "fill_sz is positive"
    }, report.to_table()
    assert "interest_charged=0.01" in meanings["margin interest (type 7) is negative or zero"].example
    assert "fill_sz=0, account_uid=U1, bill_id=1001" in meanings["fill_sz is positive"].example


# ----------------------------------------------------------------------------- journal


def test_net_not_equal_to_its_parts(make_db: Callable[[str], Path]) -> None:
    db = make_db(
        "update journal.round_trips set net_pnl = net_pnl + 1 "
        "where round_trip_id = 'U1-SWAP-BTC-USDT-SWAP-1';"
        "update journal.pnl_by_instrument_type set fees = -0.3, net_pnl = 4.6 "
        "where inst_type = 'SWAP'"
    )
    report = run_checks(db, suites=["journal"])
    first = report.first_failure
    assert first is not None and first.frame == "journal.round_trips"
    assert first.meaning == "net_pnl = gross_pnl + fees + funding + interest"
    assert first.example.startswith("net_pnl=5.8, account_uid=U1, round_trip_id=U1-SWAP-BTC-USDT-SWAP-1")
    assert "expected_net=4.8" in first.example
    # the per-type table no longer matches the daily sums (its own row still adds up)
    compared = [f for f in report.failures if f.frame.startswith("journal.daily_pnl vs")]
    assert [f.meaning for f in compared] == [
        "sum of daily_pnl.net_pnl = pnl_by_instrument_type.net_pnl",
        "sum of daily_pnl.fees = pnl_by_instrument_type.fees",
    ]
    assert "daily_net_pnl=4.7" in compared[0].example and "by_type_net_pnl=4.6" in compared[0].example


def test_round_trip_closed_before_opened(make_db: Callable[[str], Path]) -> None:
    db = make_db(
        f"update journal.round_trips set closed_at = '{_ts(0)}' "
        "where round_trip_id = 'U1-SPOT-BTC-USDT-1'"
    )
    report = run_checks(db, suites=["journal"])
    assert [f.meaning for f in report.failures] == ["closed_at >= opened_at"]
    assert "round_trip_id=U1-SPOT-BTC-USDT-1" in report.failures[0].example


def test_broken_balance_chain(make_db: Callable[[str], Path]) -> None:
    # a bill lost between two loaded ones, and the journal's reconciliation saw it too
    db = make_db(
        "delete from okx_raw.bills where bill_id = '1007';"
        "update journal.reconciliation set actual_value = 10094.5951, difference = 0.1, "
        "ok = false, details = '6 bills, 1 breaks' where subject = 'USDT'"
    )
    report = run_checks(db, suites=["journal", "coverage"])
    by_frame = {f.frame: f for f in report.failures}
    assert set(by_frame) == {"journal.reconciliation", "ledger chain (okx_raw.bills)"}
    recon = by_frame["journal.reconciliation"]
    assert recon.meaning == "every journal.reconciliation row is ok"
    assert recon.example.startswith(
        "ok=False, check_name=ledger_balance_chain, account_uid=U1, subject=USDT, "
        "expected_value=10094.4951, actual_value=10094.5951, difference=0.1, "
        "details=6 bills, 1 breaks"
    ), recon.example
    chain = by_frame["ledger chain (okx_raw.bills)"]
    assert chain.meaning.startswith("no gap in the ledger")
    assert "previous_bill_id=1006, bill_id=1009" in chain.example
    assert report.suites[0].first_failure.startswith("journal.reconciliation:")


# ----------------------------------------------------------------------------- coverage


def test_sync_gap_longer_than_retention(make_db: Callable[[str], Path]) -> None:
    old = (NOW - dt.timedelta(days=200)).isoformat()
    db = make_db(
        f"update okx_raw._dlt_loads set inserted_at = '{old}' where load_id = '1'"
    )
    report = run_checks(db, suites=["coverage"])
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert failure.meaning.startswith("syncs at most 90 days apart")
    assert "(sync)" in failure.example and "days_apart=1" in failure.example


def test_retention_falls_back_to_newest_ts_without_dlt_loads(
    make_db: Callable[[str], Path],
) -> None:
    db = make_db("drop table okx_raw._dlt_loads")
    assert run_checks(db, suites=["coverage"]).ok
    old = (NOW - dt.timedelta(days=120)).isoformat()
    db = make_db(
        "drop table okx_raw._dlt_loads;"
        f"update okx_raw.fills set ts = '{old}'; update okx_raw.bills set ts = '{old}'"
    )
    report = run_checks(db, suites=["coverage"])
    assert [f.frame for f in report.failures] == ["sync recency (OKX keeps the ledger 3 months)"]
    assert "(newest fill or bill)" in report.failures[0].example


# ----------------------------------------------------------------------------- missing data


def test_nothing_synced_fails_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "never.duckdb"
    report = run_checks(missing, suites=["raw", "journal"])
    assert not report.ok and not missing.exists()
    assert "does not exist: run `okx-journal sync` first" in report.message()

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    report = run_checks(empty)
    assert not report.ok
    assert {f.example for f in report.failures} == {
        "nothing synced yet: run `okx-journal sync` first"
    }
    assert len(report.to_table().splitlines()) < 12


def test_database_locked_by_another_process(make_db: Callable[[str], Path]) -> None:
    db = make_db("")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('ready', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        report = run_checks(db, suites=["raw"])
    finally:
        holder.communicate("", timeout=30)
    assert not report.ok
    assert "is in use by another process (a sync still running?)" in report.message()


def test_journal_not_built_and_unknown_column(make_db: Callable[[str], Path]) -> None:
    db = make_db(
        "drop table journal.daily_pnl; alter table journal.round_trips drop column funding"
    )
    report = run_checks(db, suites=["journal"])
    examples = [f.example for f in report.failures]
    assert any(e.startswith("query failed:") and "funding" in e for e in examples), examples
    assert any(
        e == "journal.daily_pnl does not exist (run `okx-journal sync`, which builds it)"
        for e in examples
    ), examples


def test_unknown_suite_is_a_usage_error(make_db: Callable[[str], Path]) -> None:
    from sources.okx.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown data-check suite nope"):
        run_checks(make_db(""), suites=["nope"])


# ----------------------------------------------------------------------------- after sync


def test_after_sync_modes(make_db: Callable[[str], Path]) -> None:
    db = make_db("update okx_raw.fills set side = 'SELL' where bill_id = '1003'")
    assert run_checks_after_sync(db, "off") is None
    lines: list[str] = []
    report = run_checks_after_sync(db, "warn", log=lines.append)
    assert report is not None and not report.ok
    assert lines[-1].startswith("warning: data check failed: raw / okx_raw.fills: side in buy/sell")
    with pytest.raises(DataCheckFailed, match="side=SELL"):
        run_checks_after_sync(db, "FAIL")


def test_suites_file_is_declarative_and_gx_is_imported_lazily() -> None:
    suites = load_suites()
    assert set(suites) == {"raw", "journal", "coverage"}
    code = (
        "import sys, pathlib; import okx_journal.checks as c; "
        "assert c.run_checks_after_sync(pathlib.Path('x.duckdb'), 'off') is None; "
        "c.load_suites(); "
        "assert 'great_expectations' not in sys.modules, 'imported great_expectations'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ----------------------------------------------------------------------------- with the transforms


@pytest.mark.skipif(
    not (REPO / "okx_journal" / "transform.py").exists(), reason="transforms not there yet"
)
def test_journal_built_by_the_transforms_passes(tmp_path: Path) -> None:
    from okx_journal.transform import build_journal

    db = tmp_path / "built.duckdb"
    con = duckdb.connect(str(db))
    _create_raw_tables(con)
    _insert(con, "okx_raw.fills", FILLS)
    _insert(con, "okx_raw.bills", BILLS)
    _insert(con, "okx_raw.instruments", INSTRUMENTS)
    _insert(con, "okx_raw.account_config", [{"account_uid": "U1", "uid": "U1"}])
    _insert(con, "okx_raw._dlt_loads", [
        {"load_id": "1", "schema_name": "okx", "status": 0, "inserted_at": NOW.isoformat()}
    ])
    con.close()
    build_journal(db)
    report = run_checks(db)
    assert report.ok, report.to_table()
