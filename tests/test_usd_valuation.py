"""USD valuation: OKX's hourly index candles, served by the simulator, loaded for exactly
the hours the journal needs, and every P&L figure valued in USD (DECIMAL end to end)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from conftest import ANCHOR_MS, anchor_offset
from raw_fixtures import ACCOUNT, Raw, create_raw_tables

from okx_journal.simulator import DEMO_CREDENTIALS, Simulator, generate_history
from okx_journal.sync import SyncOptions, run_sync
from okx_journal.transform import build_journal
from sources.okx.prices import INDEX_PATH, IndexPrices, _windows, index_of, needed_hours

HOUR = 3_600_000
ACCOUNT2 = "acct-2"
ACCOUNT3 = "acct-3"


# ----------------------------------------------------------------------------- hand computed


def populate(con: Any) -> None:
    """Three interest charges in BTC, USDT and ETH at known hourly prices (account 1), a
    stablecoin without an index plus a currency OKX has no price for (account 2), and a
    currency OKX indexes only against USDT (account 3)."""
    create_raw_tables(con)
    r = Raw(con)
    # 10:15 BTC, 11:59:59 USDT, 12:00:00.000 ETH (the 12:00 bar, not the 11:00 one)
    r.bill("7", "9", 10.25, ccy="BTC", bal_chg="-0.00012345", bal="1")
    r.bill("7", "9", 12 - 1 / 3600, ccy="USDT", bal_chg="-1.5", bal="100")
    r.bill("7", "9", 12, ccy="ETH", bal_chg="-0.0421", bal="2")
    r.candle("BTC-USD", 10, "65432.1", c="65999")  # valued at the open, not the close
    r.candle("BTC-USD", 11, "1")
    r.candle("USDT-USD", 11, "0.9998")
    r.candle("ETH-USD", 11, "9999")
    r.candle("ETH-USD", 12, "3210.55")
    r.candle("BTC-USDT", 10, "1")  # a USDT index never replaces a currency's USD index
    r2 = Raw(con, account=ACCOUNT2)
    r2.bill("7", "9", 10.5, ccy="USDC", bal_chg="-2.25", bal="10")
    r2.bill("7", "9", 10.5, ccy="XYZ", bal_chg="-7", bal="10")
    # ABC: OKX indexes it only against USDT (USDT-USD has a 10:00 bar, none at 13:00)
    r3 = Raw(con, account=ACCOUNT3)
    r3.bill("7", "9", 10.5, ccy="ABC", bal_chg="-3", bal="10")
    r3.bill("7", "9", 13.25, ccy="ABC", bal_chg="-1", bal="9")
    r.candle("USDT-USD", 10, "0.9998")
    r.candle("ABC-USDT", 10, "2.5")
    r.candle("ABC-USDT", 13, "2.6")


@pytest.fixture(scope="module")
def hand_db() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    populate(con)
    build_journal(con)
    yield con
    con.close()


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None, sql
    return row[0]


def test_three_events_give_the_exact_usd_figures(hand_db: duckdb.DuckDBPyConnection) -> None:
    # -0.00012345 × 65432.1 = -8.077592745; -1.5 × 0.9998 = -1.4997;
    # -0.0421 × 3210.55 = -135.164155; total -144.741447745
    per_ccy = dict(hand_db.execute(
        "select pnl_ccy, interest_usd from journal.daily_pnl where account_uid = ?", [ACCOUNT]
    ).fetchall())
    assert per_ccy == {
        "BTC": Decimal("-8.077592745"),
        "USDT": Decimal("-1.4997"),
        "ETH": Decimal("-135.164155"),
    }
    total = hand_db.execute(
        "select net_pnl_usd, interest_usd, gross_pnl_usd, unpriced_events, total_pnl_usd "
        "from journal.pnl_total_usd where account_uid = ?", [ACCOUNT]
    ).fetchone()
    assert total == (Decimal("-144.741447745"), Decimal("-144.741447745"), Decimal(0), 0,
                     Decimal("-144.741447745"))
    curve = hand_db.execute(
        "select cumulative_net_pnl_usd from journal.daily_pnl_total_usd where account_uid = ?",
        [ACCOUNT],
    ).fetchall()
    assert curve == [(Decimal("-144.741447745"),)]
    by_type = _one(hand_db, "select sum(net_pnl_usd) from journal.pnl_by_instrument_type "
                            f"where account_uid = '{ACCOUNT}'")
    assert by_type == Decimal("-144.741447745")


def test_no_double_in_the_usd_chain(hand_db: duckdb.DuckDBPyConnection) -> None:
    rows = hand_db.execute(
        "select table_schema || '.' || table_name || '.' || column_name, data_type "
        "from information_schema.columns where table_schema in ('journal', 'journal_int') "
        "and (column_name like '%usd%' or table_name in ('int_usd_rates', 'int_pnl_usd'))"
    ).fetchall()
    assert len(rows) > 40
    floats = [name for name, kind in rows if kind in ("DOUBLE", "FLOAT", "REAL")]
    assert floats == []


def test_stablecoin_at_par_and_unpriced_currency(hand_db: duckdb.DuckDBPyConnection) -> None:
    daily = dict(hand_db.execute(
        "select pnl_ccy, interest_usd from journal.daily_pnl where account_uid = ?", [ACCOUNT2]
    ).fetchall())
    assert daily == {"USDC": Decimal("-2.25"), "XYZ": None}
    # never a partial sum: the total is NULL while XYZ has no price
    assert _one(hand_db, f"select net_pnl_usd from journal.pnl_total_usd where account_uid = '{ACCOUNT2}'") is None
    recon = {
        row[0]: row[1:] for row in hand_db.execute(
            "select subject, ok, details from journal.reconciliation "
            "where check_name = 'usd_price_coverage' and account_uid = ?", [ACCOUNT2]
        ).fetchall()
    }
    assert recon["USDC"][0] is True and "valued at 1 USD" in recon["USDC"][1]
    assert recon["XYZ"][0] is False and "OKX has no XYZ-USD or XYZ-USDT index" in recon["XYZ"][1]
    ok = hand_db.execute(
        "select check_name, ok from journal.reconciliation where check_name like 'usd%' "
        "and account_uid = ?", [ACCOUNT]
    ).fetchall()
    assert sorted(ok) == [("usd_price_coverage", True)] * 3 + [("usd_total_vs_events", True)]


def test_windows_never_cover_a_stored_hour() -> None:
    wanted = [h * HOUR for h in (0, 1, 5, 99, 100, 150, 320)]
    stored = [3 * HOUR, 200 * HOUR]
    windows = _windows(wanted, stored)
    # newest first: the fixed 100-hour blocks holding a wanted hour, cut at stored hours
    assert windows == [(300 * HOUR, 400 * HOUR), (100 * HOUR, 200 * HOUR), (4 * HOUR, 100 * HOUR),
                       (0, 3 * HOUR)]
    # hours asked for in parts (page by page) get windows of the same set: never one more
    for k in range(len(wanted)):
        assert set(_windows(wanted[:k], stored)) | set(_windows(wanted[k:], stored)) == set(windows)
    for lo, hi in windows:
        assert hi - lo <= 100 * HOUR
        assert not any(lo <= s < hi for s in stored)
    assert all(any(lo <= w < hi for lo, hi in windows) for w in wanted)


def test_the_hours_of_a_page_are_wanted_as_the_walks_read_it() -> None:
    """Each page of ledger entries and fills asks at once for the hours it will need: the
    entry's currency; the fill's fee currency and P&L currency (quote of SPOT/MARGIN,
    base of an inverse ``-USD-`` contract, else the settlement currency in the instId)."""
    now = 1_000 * HOUR
    prices = IndexPrices(client=None, now_ms=now, stored={"ETH-USD": [10 * HOUR]},
                         state={"unlisted": {"XYZ-USD": 0, "QQQ-USD": 0, "QQQ-USDT": 0}})
    prices.want_rows("bills", [
        {"billId": "2", "ccy": "USDT", "ts": str(5 * HOUR + 17)},
        {"billId": "1", "ccy": "XYZ", "ts": str(6 * HOUR)},       # no XYZ-USD index
        {"billId": "1", "ccy": "QQQ", "ts": str(6 * HOUR)},       # no index at all
        {"billId": "0", "ccy": "USD", "ts": str(4 * HOUR)},       # worth 1: never asked
    ])
    prices.want_rows("fills", [
        {"instType": "SPOT", "instId": "ETH-BTC", "feeCcy": "ETH", "ts": str(7 * HOUR + 1)},
        {"instType": "SWAP", "instId": "ETH-USD-SWAP", "feeCcy": "ETH", "ts": str(10 * HOUR + 5)},
        {"instType": "SWAP", "instId": "BTC-USDC-SWAP", "feeCcy": "USDC", "ts": str(8 * HOUR)},
        {"instType": "OPTION", "instId": "BTC-USD-261225-100000-C", "feeCcy": "BTC",
         "ts": str(9 * HOUR + 59 * 60_000)},
        {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "feeCcy": "USDT", "ts": str(2000 * HOUR)},
    ])
    prices.want_rows("positions_history", [{"ccy": "SOL", "ts": str(HOUR)}])  # not a money row
    assert {k: sorted(h // HOUR for h in v) for k, v in prices._pending.items()} == {
        "USDT-USD": [5, 6],  # the ledger entry; XYZ's second route (XYZ-USDT × USDT-USD)
        "XYZ-USDT": [6],
        "ETH-USD": [7],      # ETH-BTC's fee; ETH-USD-SWAP's fee and P&L at 10h are stored
        "BTC-USD": [7, 9],   # ETH-BTC's P&L in BTC; the inverse option's fee and P&L
        "USDC-USD": [8],     # BTC-USDC-SWAP's fee and P&L
    }                        # (BTC-USDT-SWAP's hour is after "now": never asked)


def test_a_currency_okx_indexes_only_against_usdt(hand_db: duckdb.DuckDBPyConnection) -> None:
    """ABC-USDT's open × USDT-USD's open of the same hour: 2.5 × 0.9998 = 2.4995, so
    -3 ABC at 10:30 is -7.4985 USD; at 13:15 USDT has no bar: no price, never a guess."""
    rates = hand_db.execute(
        "select hour(hour_utc), usd_price, price_source from journal_int.int_usd_rates "
        "where ccy = 'ABC' order by 1").fetchall()
    assert rates == [(10, Decimal("2.4995"), "index_usdt"), (13, None, None)]
    assert _one(hand_db, "select pricing from journal_int.int_usd_pricing where ccy = 'ABC'") == "index_usdt"
    assert _one(hand_db, "select pricing from journal_int.int_usd_pricing where ccy = 'BTC'") == "index"
    valued = hand_db.execute(
        "select net_usd from journal_int.int_pnl_usd where account_uid = ? order by event_at",
        [ACCOUNT3]).fetchall()
    assert valued == [(Decimal("-7.4985"),), (None,)]
    ok, details = hand_db.execute(
        "select ok, details from journal.reconciliation where check_name = 'usd_price_coverage' "
        "and account_uid = ?", [ACCOUNT3]).fetchone() or (None, None)
    assert ok is False and "1 events in hours without an OKX ABC-USDT (or USDT-USD) index bar" in details


# ----------------------------------------------------------------------------- simulator


@pytest.fixture(scope="module")
def usd_history() -> Any:
    return generate_history(seed=5, scale=150, days=12, end_ms=ANCHOR_MS)


def _get(sim: Simulator, **params: str) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(sim.url + INDEX_PATH, params=params, timeout=10).json()
    return result


def test_simulator_serves_index_candles_as_okx_documents(usd_history: Any) -> None:
    with Simulator(usd_history, rate_limits=True, clock_offset_ms=anchor_offset()) as sim:
        latest = _get(sim, instId="BTC-USD", bar="1H", limit="3")
        assert latest["code"] == "0"
        bars = latest["data"]
        assert len(bars) == 3 and all(isinstance(b, list) and len(b) == 6 for b in bars)
        assert all(isinstance(v, str) for b in bars for v in b)
        ts = [int(b[0]) for b in bars]
        assert ts == sorted(ts, reverse=True) and ts[0] - ts[1] == HOUR and ts[0] % HOUR == 0
        assert bars[0][5] == "0" and bars[1][5] == "1"  # the bar still open is unconfirmed
        for _, o, h, low, c, _confirm in bars:
            assert Decimal(low) <= min(Decimal(o), Decimal(c)) <= max(Decimal(o), Decimal(c)) <= Decimal(h)
        # after = older than, before = newer than, both exclusive
        page = _get(sim, instId="BTC-USD", bar="1H", after=str(ts[1]), before=str(ts[1] - 4 * HOUR))
        assert [int(b[0]) for b in page["data"]] == [ts[1] - HOUR * k for k in (1, 2, 3)]
        assert len(_get(sim, instId="ETH-USD", bar="1H")["data"]) == 100  # default limit
        assert len(_get(sim, instId="ETH-USD", bar="1H", limit="500")["data"]) == 100
        # consecutive bars: each opens where the previous closed (one price path)
        assert page["data"][0][1] == page["data"][1][4]
        assert _get(sim, instId="BTC-USD", bar="1m", limit="2")["data"][0][0] != str(ts[0])
        assert _get(sim, instId="BTC-USD", bar="7H")["code"] == "51000"
        assert _get(sim, bar="1H")["code"] == "50014"
        # an index OKX does not have, and a stablecoin index when it is not listed
        assert _get(sim, instId="XYZ-USD", bar="1H")["code"] == "51001"
        assert _get(sim, instId="USDT-USD", bar="1H")["code"] == "51001"
        # its own limit: 10 requests per 2 s per IP (12 sent within 2 s: on a busy machine
        # they may take longer, and the window is tried again)
        for _ in range(5):
            time.sleep(2.1)
            started = time.monotonic()
            codes = [_get(sim, instId="BTC-USD", bar="1H", limit="1")["code"] for _ in range(12)]
            if time.monotonic() - started < 2.0:
                break
        assert "50011" in codes
    with Simulator(usd_history, rate_limits=False, stablecoin_indexes=True, clock_offset_ms=anchor_offset()) as sim:
        usdt = _get(sim, instId="USDT-USD", bar="1H", limit="24")["data"]
        assert len(usdt) == 24 and all(abs(Decimal(b[1]) - 1) <= Decimal("0.0005") for b in usdt)


def test_index_candles_match_the_generated_fill_prices(usd_history: Any) -> None:
    account = usd_history.accounts[0]
    fill = next(f for f in reversed(account.fills) if f["instId"] == "BTC-USDT-SWAP")
    t = int(fill["ts"])
    hour = t - t % HOUR
    with Simulator(usd_history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        bar = _get(sim, instId="BTC-USD", bar="1H", after=str(hour + 1), limit="1")["data"][0]
    assert int(bar[0]) == hour
    # the fill price is the index plus a spread of well under 1 %
    assert abs(Decimal(fill["fillPx"]) / Decimal(bar[1]) - 1) < Decimal("0.01")
    assert Decimal(bar[3]) * Decimal("0.99") < Decimal(fill["fillPx"]) < Decimal(bar[2]) * Decimal("1.01")


def _sync(sim: Simulator, db: Path) -> Any:
    return run_sync(SyncOptions(db_path=db, credentials=DEMO_CREDENTIALS, base_url=sim.url,
                                rate_limits=False, progress=False, quiet=True, transforms=False))


@pytest.mark.parametrize("stablecoin_indexes", [False, True], ids=["no_usdt_index", "usdt_index"])
def test_second_sync_fetches_no_stored_candle(usd_history: Any, tmp_path: Path,
                                              stablecoin_indexes: bool) -> None:
    db = tmp_path / "usd.duckdb"
    with Simulator(usd_history, rate_limits=False, stablecoin_indexes=stablecoin_indexes, clock_offset_ms=anchor_offset()) as sim:
        first = _sync(sim, db)
        asked = sim.stats.requests[INDEX_PATH]
        assert asked == first.price_requests > 0
        assert first.new_rows["index_candles"] > 0
        if not stablecoin_indexes:  # (the second sync is the same with either answer)
            sim.stats.reset()
            second = _sync(sim, db)
            assert sim.stats.requests[INDEX_PATH] == 0 and second.price_requests == 0
            assert second.new_rows["index_candles"] == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        indexes = {r[0] for r in con.execute("select distinct inst_id from okx_raw.index_candles").fetchall()}
        # every currency × hour of the account's ledger has its bar (USDT only when listed)
        missing = con.execute(
            "select count(*) from (select distinct ccy, (epoch_ms(ts) // 3600000) * 3600000 as h "
            "from okx_raw.bills) b where b.ccy || '-USD' in (select inst_id from okx_raw.index_candles) "
            "and not exists (select 1 from okx_raw.index_candles c where c.inst_id = b.ccy || '-USD' "
            "and epoch_ms(c.ts) = b.h)"
        ).fetchone()
        stored = con.execute("select count(*), count(distinct (inst_id, ts)) from okx_raw.index_candles").fetchone()
        uid = con.execute("select any_value(account_uid) from okx_raw.bills").fetchone()[0]
        needs = needed_hours(con, uid)
    finally:
        con.close()
    expected = {"BTC-USD", "ETH-USD"} | ({"USDT-USD"} if stablecoin_indexes else set())
    assert indexes == expected
    # the hours came page by page, from walks at different speeds: never more requests
    # than one per 100-hour block of hours needed and index (+ one per unlisted index)
    blocks = {(index_of(ccy), h // (100 * HOUR)) for ccy, hours in needs.items() if ccy != "USD"
              for h in hours}
    listed = {b for b in blocks if b[0] in expected}
    unlisted = {b[0] for b in blocks} - expected
    assert asked <= len(listed) + len(unlisted), (asked, len(listed), unlisted)
    assert missing == (0,)
    assert stored is not None and stored[0] == stored[1]
    # one window per request, at most 100 bars each, and never more bars than hours needed
    assert first.new_rows["index_candles"] <= 100 * asked


def test_prices_a_sync_could_not_fetch_are_asked_for_by_the_next(usd_history: Any,
                                                                  tmp_path: Path) -> None:
    from okx_journal.simulator import Fault

    db = tmp_path / "retry.duckdb"
    with Simulator(usd_history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        # OKX refuses every candle request: the sync loads the rest and says so
        sim.inject(Fault(kind="code", path=INDEX_PATH, code="51000", times=10_000))
        first = _sync(sim, db)
        assert first.new_rows.get("index_candles", 0) == 0
        assert any(w.startswith("USD prices:") for w in first.warnings), first.warnings
        assert first.new_rows["bills"] > 0
        sim.clear_faults()
        sim.stats.reset()
        # the next sync, with nothing new on the account, asks for exactly those hours
        second = _sync(sim, db)
        assert second.new_rows["bills"] == 0
        assert second.new_rows["index_candles"] > 0
        assert second.price_requests == sim.stats.requests[INDEX_PATH] > 0


@pytest.mark.parametrize("stablecoin_indexes", [False, True], ids=["usdt_at_par", "usdt_index"])
def test_a_coin_without_a_usd_index_is_priced_through_its_usdt_index(
        usd_history: Any, tmp_path: Path, stablecoin_indexes: bool) -> None:
    """OKX has no ETH-USD index here: one 51001, then ETH-USDT for the same hours (and
    USDT-USD's when it is listed); every ETH amount valued at ETH-USDT × USDT's price of
    its hour; the next sync asks for nothing (the missing index is remembered)."""
    db = tmp_path / "usdt.duckdb"
    opts = SyncOptions(db_path=db, credentials=DEMO_CREDENTIALS, rate_limits=False,
                       progress=False, quiet=True, checks="off")
    with Simulator(usd_history, rate_limits=False, stablecoin_indexes=stablecoin_indexes,
                   usdt_only_indexes={"ETH"}, clock_offset_ms=anchor_offset()) as sim:
        first = run_sync(opts.__class__(**{**opts.__dict__, "base_url": sim.url}))
        assert sim.stats.codes["51001"] >= 1 and first.price_requests > 2
        sim.stats.reset()
        second = run_sync(opts.__class__(**{**opts.__dict__, "base_url": sim.url}))
        assert sim.stats.requests[INDEX_PATH] == 0 and second.price_requests == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        indexes = {r[0] for r in con.execute("select distinct inst_id from okx_raw.index_candles").fetchall()}
        assert "ETH-USDT" in indexes and "ETH-USD" not in indexes
        assert ("USDT-USD" in indexes) == stablecoin_indexes
        rates = con.execute(
            "select r.usd_price, r.price_source, e.open_px, u.open_px "
            "from journal_int.int_usd_rates r "
            "join journal_staging.stg_okx__index_candles e on e.inst_id = 'ETH-USDT' and e.hour_utc = r.hour_utc "
            "left join journal_staging.stg_okx__index_candles u on u.inst_id = 'USDT-USD' and u.hour_utc = r.hour_utc "
            "where r.ccy = 'ETH'").fetchall()
        assert len(rates) > 20
        for usd_price, source, eth_usdt, usdt_usd in rates:
            usdt = usdt_usd if stablecoin_indexes else Decimal(1)
            assert source == "index_usdt"
            assert usd_price == (eth_usdt * usdt).quantize(Decimal("1e-18")), (usd_price, eth_usdt, usdt)
        bad = con.execute("select check_name, subject, details from journal.reconciliation "
                          "where not ok and check_name like 'usd%'").fetchall()
        assert bad == []
        assert con.execute("select count(*) from journal.pnl_total_usd where net_pnl_usd is null").fetchone() == (0,)
    finally:
        con.close()
