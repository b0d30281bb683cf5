"""Cost-basis methods (fifo, lifo, hifo, average) on hand-computed SPOT and MARGIN books.

One spot history, every figure worked out by hand in the comments: a sell with no earlier
buy (uncovered, no cost), a buy whose fee is charged in BTC (the lot is 0.999), a sell
whose fee is charged in BTC (it takes fill_sz + |fee| out of the lots), three sells that
take the first round trip flat, then a second trip left open. A MARGIN short with
interest is matched the same way on its short lots.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from raw_fixtures import Raw, create_raw_tables
from test_transforms import populate, rows

from okx_journal.transform import (
    COST_BASIS_METHODS,
    TransformError,
    build_journal,
    default_transforms_dir,
)

CB = "acct-cb"


def spot_history(r: Raw) -> None:
    """BTC-USDT SPOT, bill ids 1001, 1003, ... (Raw numbers every insert)."""
    r.instrument("SPOT", "BTC-USDT", base_ccy="BTC", quote_ccy="USDT")
    r.instrument("MARGIN", "BTC-USDT", base_ccy="BTC", quote_ccy="USDT")
    f = r.fill
    f("SPOT", "BTC-USDT", "sell", "90", "0.5", 0, fee="-0.045", fee_ccy="USDT", bill_id="s0")
    # trip 1: lots A 0.999 @100 (fee 0.001 BTC), B 2 @130, C 1 @110
    f("SPOT", "BTC-USDT", "buy", "100", "1", 1, fee="-0.001", fee_ccy="BTC", bill_id="bA")
    f("SPOT", "BTC-USDT", "buy", "130", "2", 2, fee="-0.26", fee_ccy="USDT", bill_id="bB")
    f("SPOT", "BTC-USDT", "buy", "110", "1", 3, fee="-0.11", fee_ccy="USDT", bill_id="bC")
    f("SPOT", "BTC-USDT", "sell", "150", "1.5", 4, fee="-0.225", fee_ccy="USDT", bill_id="s1")
    f("SPOT", "BTC-USDT", "sell", "120", "1", 5, fee="-0.12", fee_ccy="USDT", bill_id="s2")
    # fee in BTC: takes 1.498 + 0.001 = 1.499 out of the lots, all at 140
    f("SPOT", "BTC-USDT", "sell", "140", "1.498", 6, fee="-0.001", fee_ccy="BTC", bill_id="s3")
    # trip 2 (stays open): lots D 1 @180, E 1 @200, sell 0.5 @190
    f("SPOT", "BTC-USDT", "buy", "180", "1", 7, fee="-0.18", fee_ccy="USDT", bill_id="bD")
    f("SPOT", "BTC-USDT", "buy", "200", "1", 8, fee="-0.2", fee_ccy="USDT", bill_id="bE")
    f("SPOT", "BTC-USDT", "sell", "190", "0.5", 9, fee="-0.095", fee_ccy="USDT", bill_id="s4")
    # MARGIN short: lots (sold) A 1 @100, B 1 @120; interest -0.05 USDT inside the trip;
    # buy 1 @110, buy 1 @90 -> flat. Fees -0.1 -0.12 -0.11 -0.09 = -0.42.
    f("MARGIN", "BTC-USDT", "sell", "100", "1", 1, fee="-0.1", fee_ccy="USDT", bill_id="mA")
    f("MARGIN", "BTC-USDT", "sell", "120", "1", 2, fee="-0.12", fee_ccy="USDT", bill_id="mB")
    r.bill("7", "9", 3, ccy="USDT", bal_chg="-0.05", inst_type="MARGIN", inst_id="BTC-USDT")
    f("MARGIN", "BTC-USDT", "buy", "110", "1", 4, fee="-0.11", fee_ccy="USDT", bill_id="m1")
    f("MARGIN", "BTC-USDT", "buy", "90", "1", 5, fee="-0.09", fee_ccy="USDT", bill_id="m2")


# Per method: gross of each SPOT sell (journal.fills), the lots each took (journal.lots:
# close, lot, qty, gross), the open position's average cost, the short's closes.
EXPECTED: dict[str, dict[str, Any]] = {
    # s1 1.5 @150: A 0.999 (+49.95), B 0.501 (+10.02) = 59.97; s2 1 @120: B 1 (-10);
    # s3 1.499 @140: B 0.499 (+4.99), C 1 (+30) = 34.99. Trip 1: 84.96.
    # s4 0.5 @190: D 0.5 (+5); left D 0.5 @180 + E 1 @200 -> 290 / 1.5 = 193.333...
    "fifo": {
        "sells": {"s1": "59.97", "s2": "-10", "s3": "34.99", "s4": "5"},
        "lots": [
            ("s1", "bA", "0.999", "49.95"), ("s1", "bB", "0.501", "10.02"),
            ("s2", "bB", "1", "-10"),
            ("s3", "bB", "0.499", "4.99"), ("s3", "bC", "1", "30"),
            ("s4", "bD", "0.5", "5"),
        ],
        "open_avg": "193.333333333333",
        # short: m1 takes A (100 - 110 = -10), m2 takes B (120 - 90 = +30)
        "short": [("m1", "mA", "1", "-10"), ("m2", "mB", "1", "30")],
    },
    # s1: C 1 (+40), B 0.5 (+10) = 50; s2: B 1 (-10); s3: B 0.5 (+5), A 0.999 (+39.96) =
    # 44.96. Trip 1: 84.96. s4: E 0.5 (-5); left D 1 @180 + E 0.5 @200 -> 186.666...
    "lifo": {
        "sells": {"s1": "50", "s2": "-10", "s3": "44.96", "s4": "-5"},
        "lots": [
            ("s1", "bB", "0.5", "10"), ("s1", "bC", "1", "40"),
            ("s2", "bB", "1", "-10"),
            ("s3", "bA", "0.999", "39.96"), ("s3", "bB", "0.5", "5"),
            ("s4", "bE", "0.5", "-5"),
        ],
        "open_avg": "186.666666666667",
        # short: m1 takes the newest, B (120 - 110 = +10), m2 A (100 - 90 = +10)
        "short": [("m1", "mB", "1", "10"), ("m2", "mA", "1", "10")],
    },
    # s1: B 1.5 (+30); s2: B 0.5 (-5), C 0.5 (+5) = 0; s3: C 0.5 (+15), A 0.999 (+39.96)
    # = 54.96. Trip 1: 84.96. s4: E 0.5 (-5), as lifo.
    "hifo": {
        "sells": {"s1": "30", "s2": "0", "s3": "54.96", "s4": "-5"},
        "lots": [
            ("s1", "bB", "1.5", "30"),
            ("s2", "bB", "0.5", "-5"), ("s2", "bC", "0.5", "5"),
            ("s3", "bA", "0.999", "39.96"), ("s3", "bC", "0.5", "15"),
            ("s4", "bE", "0.5", "-5"),
        ],
        "open_avg": "186.666666666667",
        # short: the highest-priced short lot first: B, then A (as lifo here)
        "short": [("m1", "mB", "1", "10"), ("m2", "mA", "1", "10")],
    },
    # Holding H = 3.999 (A 0.999, B 2, C 1, in purchase order). A sale of q gives lot i
    # round(q × C_i / H) - round(q × C_(i-1) / H), C_i = what lots up to i hold, 12 dp.
    # s1 1.5: A round(1.5 × 0.999 / 3.999) = 0.374718679670 (0.3747186796699…);
    # B round(1.5 × 2.999 / 3.999) = 1.124906226557 (1.1249062265566…) - 0.374718679670
    # = 0.750187546887; C 1.5 - 1.124906226557 = 0.375093773443.
    # Cost 37.471867967 + 97.52438109531 + 41.26031507873 = 176.25656414104;
    # gross 225 - 176.25656414104 = 48.74343585896 (1.5 × (150 - 469.9/3.999) =
    # 48.7434358589647…).
    # Left A 0.624281320330, B 1.249812453113, C 0.624906226557 (H = 2.499). s2 1 @120:
    # A round(0.624281320330 / 2.499) = 0.249812453113; B round(1.874093773443 / 2.499)
    # = 0.749937484371 - 0.249812453113 = 0.500125031258; C 1 - 0.749937484371 =
    # 0.250062515629. Cost 24.9812453113 + 65.01625406354 + 27.50687671919 =
    # 117.50437609403; gross 2.49562390597.
    # s3 takes the whole holding: A 0.374468867217, B 0.749687421855, C 0.374843710928;
    # cost 37.4468867217 + 97.45936484115 + 41.23280820208 = 176.13905976493;
    # gross 209.86 - 176.13905976493 = 33.72094023507. Trip 1: 84.96 again.
    # s4: D 0.25, E 0.25: cost 45 + 50 = 95 = proceeds: 0; left 0.75 each -> 190.
    "average": {
        "sells": {"s1": "48.74343585896", "s2": "2.49562390597", "s3": "33.72094023507", "s4": "0"},
        "lots": [
            ("s1", "bA", "0.374718679670", "18.7359339835"),
            ("s1", "bB", "0.750187546887", "15.00375093774"),
            ("s1", "bC", "0.375093773443", "15.00375093772"),
            ("s2", "bA", "0.249812453113", "4.99624906226"),
            ("s2", "bB", "0.500125031258", "-5.00125031258"),
            ("s2", "bC", "0.250062515629", "2.50062515629"),
            ("s3", "bA", "0.374468867217", "14.97875468868"),
            ("s3", "bB", "0.749687421855", "7.49687421855"),
            ("s3", "bC", "0.374843710928", "11.24531132784"),
            ("s4", "bD", "0.25", "2.5"), ("s4", "bE", "0.25", "-2.5"),
        ],
        "open_avg": "190",
        # short, average proceeds 110: m1 takes 0.5 of each (-5 + 5 = 0),
        # m2 the rest (0.5 × 10 + 0.5 × 30 = 20)
        "short": [
            ("m1", "mA", "0.5", "-5"), ("m1", "mB", "0.5", "5"),
            ("m2", "mA", "0.5", "5"), ("m2", "mB", "0.5", "15"),
        ],
    },
}


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    create_raw_tables(connection)
    spot_history(Raw(connection, account=CB))
    yield connection
    connection.close()


@pytest.mark.parametrize("method", COST_BASIS_METHODS)
def test_hand_computed_spot_and_margin_books(con: duckdb.DuckDBPyConnection, method: str) -> None:
    build_journal(con, cost_basis=method)
    want = EXPECTED[method]
    sells = {
        r["bill_id"]: r
        for r in rows(con, "select * from journal.fills where inst_type = 'SPOT' and side = 'sell'")
    }
    for bill_id, gross in want["sells"].items():
        assert sells[bill_id]["gross_pnl"] == Decimal(gross), (method, bill_id)
        assert sells[bill_id]["cost_basis"] == method
    # the sell with no earlier buy: no cost under any method, its quantity reported
    assert sells["s0"]["gross_pnl"] == 0 and sells["s0"]["uncovered_sz"] == Decimal("0.5")
    (uncovered,) = rows(
        con,
        "select * from journal.reconciliation where check_name = 'uncovered_spot_sells' "
        "and account_uid = ?",
        [CB],
    )
    assert uncovered["ok"] is False
    # the lots, line by line; qty × prices add up to each sell's gross
    lots = rows(
        con,
        "select * from journal.lots where inst_type = 'SPOT' order by closed_at, lot_opened_at",
    )
    got = [(r["close_bill_id"], r["lot_bill_id"], r["qty"], r["gross_pnl"]) for r in lots]
    assert got == [(c, b, Decimal(q), Decimal(g)) for c, b, q, g in want["lots"]]
    for r in lots:
        assert r["cost_basis"] == method and r["pnl_ccy"] == "USDT"
        assert r["proceeds"] - r["cost"] == r["gross_pnl"]
        assert r["cost"] == r["lot_px"] * r["qty"] and r["proceeds"] == r["close_px"] * r["qty"]
    by_lot: dict[str, Decimal] = {}
    for r in lots:
        by_lot[r["lot_bill_id"]] = by_lot.get(r["lot_bill_id"], Decimal(0)) + r["qty"]
        assert by_lot[r["lot_bill_id"]] <= r["lot_qty"]
    assert by_lot["bA"] == Decimal("0.999")  # the lot is fill_sz less the BTC fee
    # trip 1 is flat: the same gross under every method; fees never depend on it
    trips = {
        r["trip_no"]: r
        for r in rows(con, "select * from journal.round_trips where inst_type = 'SPOT'")
    }
    assert trips[1]["gross_pnl"] == Decimal("84.96")
    # fees: -0.1 (0.001 BTC @100) -0.26 -0.11 -0.225 -0.12 -0.14 (0.001 BTC @140)
    assert trips[1]["fees"] == Decimal("-0.955") and trips[1]["cost_basis"] == method
    assert trips[1]["net_pnl"] == Decimal("84.005")
    assert trips[2]["gross_pnl"] == Decimal(want["sells"]["s4"]) and trips[2]["closed_at"] is None
    (pos,) = rows(con, "select * from journal.open_positions where inst_type = 'SPOT'")
    assert pos["size"] == Decimal("1.5") and pos["avg_entry_px"] == Decimal(want["open_avg"])
    assert pos["cost_basis"] == method
    # the MARGIN short: each method on the short lots, 20 in all, interest in the trip
    short = rows(
        con, "select * from journal.lots where inst_type = 'MARGIN' order by closed_at, lot_opened_at"
    )
    assert [(r["close_bill_id"], r["lot_bill_id"], r["qty"], r["gross_pnl"]) for r in short] == [
        (c, b, Decimal(q), Decimal(g)) for c, b, q, g in want["short"]
    ]
    assert {r["direction"] for r in short} == {"short"}
    for r in short:  # short: proceeds from the short sale, cost of the buy-back
        assert r["proceeds"] == r["lot_px"] * r["qty"] and r["cost"] == r["close_px"] * r["qty"]
    (mtrip,) = rows(con, "select * from journal.round_trips where inst_type = 'MARGIN'")
    assert mtrip["direction"] == "short" and mtrip["closed_at"] is not None
    assert (mtrip["gross_pnl"], mtrip["fees"], mtrip["interest"], mtrip["net_pnl"]) == (
        Decimal("20"), Decimal("-0.42"), Decimal("-0.05"), Decimal("19.53")
    )
    assert mtrip["cost_basis"] == method
    (margin_type,) = rows(
        con, "select * from journal.pnl_by_instrument_type where inst_type = 'MARGIN'"
    )
    assert margin_type["net_pnl"] == Decimal("19.53") and margin_type["cost_basis"] == method


def _non_spot_rows(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every journal row that is not a SPOT/MARGIN row, per relation with an inst_type."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for (name,) in con.execute(
        "select distinct table_name from information_schema.columns "
        "where table_schema = 'journal' and column_name = 'inst_type' order by 1"
    ).fetchall():
        out[name] = sorted(
            con.execute(
                f"select * from journal.{name} "
                "where inst_type is null or inst_type not in ('SPOT', 'MARGIN')"
            ).fetchall(),
            key=repr,
        )
    return out


def _spot_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return sorted(
        con.execute(
            "select bill_id, gross_pnl, net_pnl from journal.fills "
            "where inst_type in ('SPOT', 'MARGIN')"
        ).fetchall(),
        key=repr,
    )


def test_switching_the_method_changes_only_spot_and_margin_rows(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "j.duckdb"))
    populate(connection)  # every instrument type, three accounts
    spot_history(Raw(connection, account=CB))
    build_journal(connection)
    others = _non_spot_rows(connection)
    assert {"round_trips", "daily_pnl", "fills", "pnl_by_instrument_type", "stats"} <= set(others)
    assert all(others[n] for n in ("round_trips", "daily_pnl", "fills"))
    seen = {"fifo": _spot_rows(connection)}
    for method in ("lifo", "hifo", "average", "fifo"):
        build_journal(connection, cost_basis=method)
        assert _non_spot_rows(connection) == others, method
        spot = _spot_rows(connection)
        if method in seen:
            assert spot == seen[method]  # back to fifo: the first build again
        seen[method] = spot
    assert len({repr(v) for v in seen.values()}) == 4  # the methods do differ on SPOT rows
    connection.close()


def test_unknown_method_is_refused_before_anything_changes() -> None:
    connection = duckdb.connect()
    with pytest.raises(TransformError, match="cost basis 'lowest'"):
        build_journal(connection, cost_basis="lowest")
    assert connection.execute(
        "select count(*) from information_schema.schemata where schema_name = 'journal'"
    ).fetchone() == (0,)
    connection.close()


def test_relations_no_longer_built_are_dropped_on_rebuild(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "j.duckdb"))
    create_raw_tables(connection)
    spot_history(Raw(connection, account=CB))
    build_journal(connection)
    connection.execute("create schema if not exists mine")
    connection.execute("create view mine.kept as select * from journal.lots")
    renamed = tmp_path / "transforms"
    shutil.copytree(default_transforms_dir(), renamed)
    (renamed / "marts" / "pnl_by_weekday.sql").rename(renamed / "marts" / "pnl_by_day_of_week.sql")
    build_journal(connection, renamed)
    names = {
        r[0]
        for r in connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    }
    assert "journal.pnl_by_day_of_week" in names and "journal.pnl_by_weekday" not in names
    assert {"mine.kept", "journal_staging.build_settings", "journal.lots"} <= names
    build_journal(connection)
    assert connection.execute("select count(*) from journal.pnl_by_weekday").fetchone()
    assert "journal.pnl_by_day_of_week" not in {
        r[0]
        for r in connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    }
    connection.close()


def test_sync_with_another_method_rebuilds_what_reads_it_and_nothing_else(tmp_path: Path) -> None:
    import time

    from okx_journal.freshness import SNAPSHOT_TABLES
    from okx_journal.simulator import Simulator, generate_history
    from okx_journal.sync import SyncOptions, SyncSummary, run_sync
    from okx_journal.transform import transform_files
    from sources.okx.credentials import OkxCredentials

    anchor = 1_764_547_200_000 + 3 * 3_600_000 + 12_345
    history = generate_history(seed=31, scale=80, days=5, end_ms=anchor)
    acc = history.accounts[0]
    db = tmp_path / "okx.duckdb"
    # what reads the method, and what is built from it or from a snapshot table
    reading: set[str] = set()
    snapshot: set[str] = set()
    for tf in transform_files():
        if tf.reads_settings or set(tf.depends_on) & reading:
            reading.add(tf.relation)
        if set(tf.raw_inputs) & SNAPSHOT_TABLES or set(tf.depends_on) & snapshot:
            snapshot.add(tf.relation)
    assert {"journal.lots", "journal.round_trips", "journal_int.int_spot_lots"} <= reading

    def sync(sim: Simulator, method: str) -> SyncSummary:
        return run_sync(SyncOptions(
            db_path=db, credentials=OkxCredentials(acc.api_key, acc.secret, acc.passphrase),
            base_url=sim.url, rate_limits=False, quiet=True, checks="off",
            ledger_export=False, remember_site=False, cost_basis=method,
        ))

    offset = anchor + 60_000 - int(time.time() * 1000)
    with Simulator(history, rate_limits=False, clock_offset_ms=offset) as sim:
        sync(sim, "fifo")
        switched = sync(sim, "average")
        again = sync(sim, "average")
    assert set(switched.journal_rebuilt) == reading | snapshot
    assert not set(again.journal_rebuilt) & (reading - snapshot)
    con = duckdb.connect(str(db), read_only=True)
    try:
        methods = con.execute(
            "select distinct cost_basis from journal.round_trips where inst_type in ('SPOT', 'MARGIN')"
        ).fetchall()
        assert methods == [("average",)]
    finally:
        con.close()
