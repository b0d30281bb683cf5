"""The journal transforms, on hand-written raw rows with hand-computed P&L.

Every scenario trades its own instrument (or account), so one build serves them all.
The arithmetic is in the comments; expected values are exact decimals.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from raw_fixtures import ACCOUNT, Raw, at, create_raw_tables

from okx_journal.transform import (
    RAW_TABLES,
    TransformError,
    build_journal,
    default_transforms_dir,
    transform_files,
)

ACCOUNT2 = "acct-2"
ACCOUNT3 = "acct-3"


def populate(con: duckdb.DuckDBPyConnection) -> None:
    """All scenarios' raw rows."""
    create_raw_tables(con)
    r = Raw(con)
    r2 = Raw(con, account=ACCOUNT2)
    r3 = Raw(con, account=ACCOUNT3)
    for inst_id, base, quote in (("BTC-USDT", "BTC", "USDT"), ("ETH-USDT", "ETH", "USDT")):
        r.instrument("SPOT", inst_id, base_ccy=base, quote_ccy=quote)
    r.instrument("MARGIN", "BTC-USDT", base_ccy="BTC", quote_ccy="USDT")
    linear = {"ct_type": "linear", "ct_mult": "1"}
    r.instrument(
        "SWAP", "BTC-USDT-SWAP", settle_ccy="USDT", ct_val="0.01", ct_val_ccy="BTC", **linear
    )
    r.instrument(
        "SWAP", "ETH-USDT-SWAP", settle_ccy="USDT", ct_val="0.1", ct_val_ccy="ETH", **linear
    )
    r.instrument("SWAP", "SOL-USDT-SWAP", settle_ccy="USDT", ct_val="1", ct_val_ccy="SOL", **linear)
    r.instrument(
        "SWAP", "XRP-USDT-SWAP", settle_ccy="USDT", ct_val="10", ct_val_ccy="XRP", **linear
    )
    r.instrument(
        "SWAP", "ADA-USDT-SWAP", settle_ccy="USDT", ct_val="10", ct_val_ccy="ADA", **linear
    )
    r.instrument(
        "SWAP",
        "BTC-USD-SWAP",
        settle_ccy="BTC",
        ct_val="100",
        ct_mult="1",
        ct_val_ccy="USD",
        ct_type="inverse",
    )
    r.instrument(
        "FUTURES", "BTC-USDT-250328", settle_ccy="USDT", ct_val="0.01", ct_val_ccy="BTC", **linear
    )
    for strike in ("100000", "120000"):
        r.instrument(
            "OPTION",
            f"BTC-USD-250328-{strike}-C",
            settle_ccy="BTC",
            ct_val="1",
            ct_mult="0.01",
            ct_val_ccy="BTC",
            opt_type="C",
            stk=strike,
        )

    # --- SPOT BTC-USDT: FIFO partial closes, base-ccy fees -----------------------------
    # buy 1 @100, fee 0.001 BTC -> lot 0.999 @100; fee valued 0.001*100 = 0.1 USDT
    # buy 1 @200, fee 0.001 BTC -> lot 0.999 @200; fee 0.2 USDT
    # sell 1.5 @300 (fee 0.45 USDT): 0.999 of lot 1 (+0.999*200 = 199.8)
    #                                + 0.501 of lot 2 (+0.501*100 = 50.1) = 249.9
    # sell 0.498 @250 (fee 0.1245 USDT): rest of lot 2, 0.498*50 = 24.9 -> flat
    # gross 274.8, fees -0.8745, net 273.9255
    r.fill("SPOT", "BTC-USDT", "buy", "100", "1", 1, fee="-0.001", fee_ccy="BTC", bill_id="1001")
    r.fill("SPOT", "BTC-USDT", "buy", "200", "1", 2, fee="-0.001", fee_ccy="BTC", bill_id="1003")
    r.fill(
        "SPOT", "BTC-USDT", "sell", "300", "1.5", 25, fee="-0.45", fee_ccy="USDT", bill_id="1005"
    )
    r.fill(
        "SPOT",
        "BTC-USDT",
        "sell",
        "250",
        "0.498",
        26,
        fee="-0.1245",
        fee_ccy="USDT",
        bill_id="1007",
    )

    # --- SPOT ETH-USDT: uncovered sells ------------------------------------------------
    # sell 0.5 @3000 with no earlier buy: uncovered 0.5, no gross; fee -1.5 (daily only)
    # buy 1 @2000, fee 0.001 ETH -> lot 0.999; fee valued -2
    # sell 1.5 @2500 (fee -3.75): covers 0.999 (+0.999*500 = 499.5), 0.501 uncovered
    #   fee split by quantity: close leg -3.75*0.999/1.5 = -2.4975, uncovered -1.2525
    # trip: gross 499.5, fees -2 - 2.4975 = -4.4975, net 495.0025; uncovered 1.001 ETH
    r.fill("SPOT", "ETH-USDT", "sell", "3000", "0.5", 0, fee="-1.5", fee_ccy="USDT", bill_id="1101")
    r.fill("SPOT", "ETH-USDT", "buy", "2000", "1", 1, fee="-0.001", fee_ccy="ETH", bill_id="1103")
    r.fill(
        "SPOT", "ETH-USDT", "sell", "2500", "1.5", 2, fee="-3.75", fee_ccy="USDT", bill_id="1105"
    )

    # --- MARGIN BTC-USDT: a short with interest ----------------------------------------
    # sell 2 @100 (fee -0.2) opens a short; interest -0.05 USDT and -0.0001 BTC inside
    # the trip (BTC valued at the last fill price 100: -0.01); buy 1 @90 (+10, fee -0.09),
    # buy 1 @80 (+20, fee -0.08) -> flat. Interest after the close (-0.02) and without a
    # pair (-0.5) count only in daily / per-type relations.
    # trip: gross 30, fees -0.37, interest -0.06, net 29.57
    r.fill("MARGIN", "BTC-USDT", "sell", "100", "2", 1, fee="-0.2", fee_ccy="USDT", bill_id="1201")
    r.bill(
        "7",
        "9",
        5,
        ccy="USDT",
        bal_chg="-0.05",
        inst_type="MARGIN",
        inst_id="BTC-USDT",
        bill_id="1202",
    )
    r.bill(
        "7",
        "9",
        6,
        ccy="BTC",
        bal_chg="-0.0001",
        inst_type="MARGIN",
        inst_id="BTC-USDT",
        bill_id="1203",
    )
    r.fill("MARGIN", "BTC-USDT", "buy", "90", "1", 10, fee="-0.09", fee_ccy="USDT", bill_id="1204")
    r.fill("MARGIN", "BTC-USDT", "buy", "80", "1", 20, fee="-0.08", fee_ccy="USDT", bill_id="1205")
    r.bill(
        "7",
        "9",
        30,
        ccy="USDT",
        bal_chg="-0.02",
        inst_type="MARGIN",
        inst_id="BTC-USDT",
        bill_id="1206",
    )
    r.bill("7", "9", 31, ccy="USDT", bal_chg="-0.5", bill_id="1207")

    # --- SWAP BTC-USDT-SWAP, hedge long (okx-api §5.6) ---------------------------------
    # open 10 @60000 fee -3; funding -0.605; close @61000: fill_pnl 0.01*10*1000 = 100,
    # fee -3.05. gross 100, fees -6.05, funding -0.605, net 93.345 = OKX realizedPnl.
    # Ledger: 10000 -> 9997 -> 9996.395 -> 10093.345 (no break)
    r.bill("1", "11", -1, ccy="USDT", bal_chg="10000", bal="10000", bill_id="1300")
    r.fill(
        "SWAP",
        "BTC-USDT-SWAP",
        "buy",
        "60000",
        "10",
        0,
        fee="-3",
        fee_ccy="USDT",
        pos_side="long",
        bill_id="1301",
    )
    r.bill(
        "2",
        "3",
        0,
        ccy="USDT",
        bal_chg="-3",
        bal="9997",
        inst_type="SWAP",
        inst_id="BTC-USDT-SWAP",
        fee="-3",
        sz="10",
        px="60000",
        bill_id="1301",
    )
    r.bill(
        "8",
        "173",
        8,
        ccy="USDT",
        bal_chg="-0.605",
        bal="9996.395",
        pnl="-0.605",
        inst_type="SWAP",
        inst_id="BTC-USDT-SWAP",
        sz="10",
        px="60500",
        bill_id="1302",
    )
    r.fill(
        "SWAP",
        "BTC-USDT-SWAP",
        "sell",
        "61000",
        "10",
        10,
        fee="-3.05",
        fee_ccy="USDT",
        fill_pnl="100",
        pos_side="long",
        bill_id="1303",
    )
    r.bill(
        "2",
        "5",
        10,
        ccy="USDT",
        bal_chg="96.95",
        bal="10093.345",
        inst_type="SWAP",
        inst_id="BTC-USDT-SWAP",
        pnl="100",
        fee="-3.05",
        sz="10",
        px="61000",
        bill_id="1303",
    )
    r.position_history(
        pos_id="9001",
        c_time=at(0),
        u_time=at(10),
        inst_type="SWAP",
        inst_id="BTC-USDT-SWAP",
        mgn_mode="cross",
        type="2",
        pos_side="long",
        direction="long",
        open_avg_px="60000",
        close_avg_px="61000",
        open_max_pos="10",
        close_total_pos="10",
        pnl="100",
        fee="-6.05",
        funding_fee="-0.605",
        liq_penalty="0",
        settled_pnl=None,
        realized_pnl="93.345",
        ccy="USDT",
    )

    # --- SWAP BTC-USD-SWAP (inverse, net mode, okx-api §5.6) ---------------------------
    # long 10 @50000, close @55000: fill_pnl 100*10*(1/50000 - 1/55000) = 0.0018181818
    # (OKX rounds); open fee -(1000/50000)*0.0005 = -0.00001, close fee -0.0000090909,
    # funding -0.000005. net 0.0018181818 - 0.0000190909 - 0.000005 = 0.0017940909 BTC
    r.fill(
        "SWAP",
        "BTC-USD-SWAP",
        "buy",
        "50000",
        "10",
        0,
        fee="-0.00001",
        fee_ccy="BTC",
        bill_id="1401",
    )
    r.bill(
        "8",
        "173",
        8,
        ccy="BTC",
        bal_chg="-0.000005",
        pnl="-0.000005",
        inst_type="SWAP",
        inst_id="BTC-USD-SWAP",
        sz="10",
        bill_id="1402",
    )
    r.fill(
        "SWAP",
        "BTC-USD-SWAP",
        "sell",
        "55000",
        "10",
        12,
        fee="-0.0000090909",
        fee_ccy="BTC",
        fill_pnl="0.0018181818",
        bill_id="1403",
    )

    # --- FUTURES BTC-USDT-250328: delivery ---------------------------------------------
    # buy 5 @90000 (fee -2.25); delivery (type 3 / 112) @95000: pnl 0.01*5*5000 = 250,
    # delivery fee -1.1875. gross 250, fees -3.4375, net 246.5625
    r.fill(
        "FUTURES",
        "BTC-USDT-250328",
        "buy",
        "90000",
        "5",
        0,
        fee="-2.25",
        fee_ccy="USDT",
        pos_side="long",
        bill_id="1501",
    )
    r.bill(
        "3",
        "112",
        48,
        ccy="USDT",
        bal_chg="248.8125",
        inst_type="FUTURES",
        inst_id="BTC-USDT-250328",
        pnl="250",
        fee="-1.1875",
        sz="5",
        px="95000",
        bill_id="1502",
    )

    # --- OPTION closed by trade ---------------------------------------------------------
    # buy 10 @0.025 (fee -0.00003), sell 10 @0.03: fill_pnl 0.005*10*0.01*1 = 0.0005,
    # fee -0.00003. gross 0.0005, fees -0.00006, net 0.00044 BTC
    opt1, opt2 = "BTC-USD-250328-100000-C", "BTC-USD-250328-120000-C"
    r.fill("OPTION", opt1, "buy", "0.025", "10", 0, fee="-0.00003", fee_ccy="BTC", bill_id="1601")
    r.fill(
        "OPTION",
        opt1,
        "sell",
        "0.03",
        "10",
        24,
        fee="-0.00003",
        fee_ccy="BTC",
        fill_pnl="0.0005",
        bill_id="1602",
    )
    # --- OPTION expiring worthless ------------------------------------------------------
    # buy 5 @0.01 (fee -0.000015); expiry (type 3 / 172): pnl -0.01*5*0.01 = -0.0005
    # gross -0.0005, fees -0.000015, net -0.000515 BTC
    r.fill("OPTION", opt2, "buy", "0.01", "5", 1, fee="-0.000015", fee_ccy="BTC", bill_id="1611")
    r.bill(
        "3",
        "172",
        72,
        ccy="BTC",
        bal_chg="0",
        inst_type="OPTION",
        inst_id=opt2,
        pnl="-0.0005",
        fee="0",
        sz="5",
        px="100000",
        bill_id="1612",
    )

    # --- SWAP ETH-USDT-SWAP: liquidation ------------------------------------------------
    # buy 10 @3000 (fee -1.5); liquidated (fill + type 5 bill, same bill_id) @2700:
    # fill_pnl 0.1*10*(2700-3000) = -300, penalty -13.5 on both records.
    # counted once: gross -300, fees -1.5 - 13.5 = -15, net -315
    r.fill(
        "SWAP", "ETH-USDT-SWAP", "buy", "3000", "10", 0, fee="-1.5", fee_ccy="USDT", bill_id="1701"
    )
    r.fill(
        "SWAP",
        "ETH-USDT-SWAP",
        "sell",
        "2700",
        "10",
        30,
        fee="-13.5",
        fee_ccy="USDT",
        fill_pnl="-300",
        sub_type="106",
        trade_id="-77",
        exec_type=None,
        bill_id="1702",
    )
    r.bill(
        "5",
        "106",
        30,
        ccy="USDT",
        bal_chg="-313.5",
        inst_type="SWAP",
        inst_id="ETH-USDT-SWAP",
        pnl="-300",
        fee="-13.5",
        sz="10",
        px="2700",
        bill_id="1702",
    )

    # --- SWAP SOL-USDT-SWAP: net-mode flip ----------------------------------------------
    # buy 2 @100 (fee -0.1); sell 5 @110 (fill_pnl 2*10 = 20, fee -0.55) closes the long
    # and opens short 3; fee split 2/5 -> -0.22 to the long, 3/5 -> -0.33 to the short;
    # buy 3 @105 (fill_pnl 3*5 = 15, fee -0.315) closes the short.
    # long: gross 20, fees -0.32, net 19.68. short: gross 15, fees -0.645, net 14.355
    r.fill(
        "SWAP", "SOL-USDT-SWAP", "buy", "100", "2", 0, fee="-0.1", fee_ccy="USDT", bill_id="1801"
    )
    r.fill(
        "SWAP",
        "SOL-USDT-SWAP",
        "sell",
        "110",
        "5",
        1,
        fee="-0.55",
        fee_ccy="USDT",
        fill_pnl="20",
        bill_id="1802",
    )
    r.fill(
        "SWAP",
        "SOL-USDT-SWAP",
        "buy",
        "105",
        "3",
        2,
        fee="-0.315",
        fee_ccy="USDT",
        fill_pnl="15",
        bill_id="1803",
    )

    # --- SWAP ADA-USDT-SWAP: hedge mode, long and short of the same size ---------------
    # long 4 @1.0 and short 4 @1.0 (fees -0.02 each). At h8 the realised funding rate is
    # -0.0005: shorts pay longs. Notional 4 * 10 * 1.0 = 40, so two bills of sz 4 at the
    # same time, +0.02 (the long's) and -0.02 (the short's): only the rate tells which is
    # which. A stale rate at h0 (+0.0001) must not be used. Close both @1.1 (fees -0.022):
    # long gross 4 * 10 * 0.1 = 4, short gross -4.
    # long: gross 4, fees -0.042, funding 0.02, net 3.978
    # short: gross -4, fees -0.042, funding -0.02, net -4.062
    ada = "ADA-USDT-SWAP"
    r.funding_rate(ada, 0, "0.0001")
    r.funding_rate(ada, 8, "-0.0005")
    r.fill("SWAP", ada, "buy", "1.0", "4", 1, fee="-0.02", fee_ccy="USDT", pos_side="long")
    r.fill("SWAP", ada, "sell", "1.0", "4", 1, fee="-0.02", fee_ccy="USDT", pos_side="short")
    for chg, sub in (("-0.02", "173"), ("0.02", "174")):
        r.bill("8", sub, 8, ccy="USDT", bal_chg=chg, pnl=chg, inst_type="SWAP", inst_id=ada,
               sz="4")
    r.fill("SWAP", ada, "sell", "1.1", "4", 12, fee="-0.022", fee_ccy="USDT", fill_pnl="4",
           pos_side="long")
    r.fill("SWAP", ada, "buy", "1.1", "4", 12, fee="-0.022", fee_ccy="USDT", fill_pnl="-4",
           pos_side="short")

    # --- SWAP XRP-USDT-SWAP: hedge mode, long and short open at once ---------------------
    # long 5 @2 (fee -0.005); short 3 @2.1 (fee -0.00315); funding at h8: sz 5 -> long
    # pays 0.01, sz 3 -> short receives 0.006; close long @2.2: 10*5*0.2 = 10 (fee
    # -0.0055); close short @2.0: 10*3*0.1 = 3 (fee -0.003).
    # long: gross 10, fees -0.0105, funding -0.01, net 9.9795
    # short: gross 3, fees -0.00615, funding 0.006, net 2.99985
    xrp = "XRP-USDT-SWAP"
    r.fill(
        "SWAP",
        xrp,
        "buy",
        "2",
        "5",
        0,
        fee="-0.005",
        fee_ccy="USDT",
        pos_side="long",
        bill_id="1901",
    )
    r.fill(
        "SWAP",
        xrp,
        "sell",
        "2.1",
        "3",
        1,
        fee="-0.00315",
        fee_ccy="USDT",
        pos_side="short",
        bill_id="1902",
    )
    r.bill(
        "8",
        "173",
        8,
        ccy="USDT",
        bal_chg="-0.01",
        pnl="-0.01",
        inst_type="SWAP",
        inst_id=xrp,
        sz="5",
        bill_id="1903",
    )
    r.bill(
        "8",
        "174",
        8,
        ccy="USDT",
        bal_chg="0.006",
        pnl="0.006",
        inst_type="SWAP",
        inst_id=xrp,
        sz="3",
        bill_id="1904",
    )
    r.fill(
        "SWAP",
        xrp,
        "sell",
        "2.2",
        "5",
        10,
        fee="-0.0055",
        fee_ccy="USDT",
        fill_pnl="10",
        pos_side="long",
        bill_id="1905",
    )
    r.fill(
        "SWAP",
        xrp,
        "buy",
        "2.0",
        "3",
        11,
        fee="-0.003",
        fee_ccy="USDT",
        fill_pnl="3",
        pos_side="short",
        bill_id="1906",
    )

    # --- SWAP PEPE-USDT-SWAP: no instrument spec -----------------------------------------
    # pnl_ccy parsed from inst_id (USDT); gross from fill_pnl 2, fees -0.002, net 1.998
    r.fill(
        "SWAP",
        "PEPE-USDT-SWAP",
        "buy",
        "0.00001",
        "100",
        0,
        fee="-0.001",
        fee_ccy="USDT",
        bill_id="2001",
    )
    r.fill(
        "SWAP",
        "PEPE-USDT-SWAP",
        "sell",
        "0.000012",
        "100",
        1,
        fee="-0.001",
        fee_ccy="USDT",
        fill_pnl="2",
        bill_id="2002",
    )

    # --- account 3, FUTURES that expired before the first sync: spec from the family ----
    # OKX no longer lists BTC-USD-250110; its live sibling BTC-USD-250627 (FUTURES, family
    # BTC-USD) gives inverse, ctVal 100 USD, ctMult 1, settled in BTC.
    # long 10 @40000, close @50000: 100*10*(1/40000 - 1/50000) = 0.025 - 0.02 = 0.005 BTC
    # fees -(1000/40000)*0.0005 = -0.0000125 and -(1000/50000)*0.0005 = -0.00001
    # gross 0.005, fees -0.0000225, net 0.0049775 BTC; recomputed 0.005 (ok)
    r3.instrument(
        "FUTURES",
        "BTC-USD-250627",
        settle_ccy="BTC",
        ct_val="100",
        ct_mult="1",
        ct_val_ccy="USD",
        ct_type="inverse",
        inst_family="BTC-USD",
        uly="BTC-USD",
        exp_time=datetime(2025, 6, 27, 8, 0, tzinfo=UTC),
    )
    r3.fill(
        "FUTURES",
        "BTC-USD-250110",
        "buy",
        "40000",
        "10",
        0,
        fee="-0.0000125",
        fee_ccy="BTC",
        bill_id="2101",
    )
    r3.fill(
        "FUTURES",
        "BTC-USD-250110",
        "sell",
        "50000",
        "10",
        20,
        fee="-0.00001",
        fee_ccy="BTC",
        fill_pnl="0.005",
        bill_id="2102",
    )
    # ETH-USD-250110: no listed FUTURES of family ETH-USD (a SWAP of that family is not a
    # sibling: another inst_type) -> spec missing, pnl_ccy parsed (ETH), no recomputation.
    # long 10 @2000, close @2500: fill_pnl 10*10*(1/2000 - 1/2500) = 0.01 ETH, no fees
    r3.instrument(
        "SWAP",
        "ETH-USD-SWAP",
        settle_ccy="ETH",
        ct_val="10",
        ct_mult="1",
        ct_val_ccy="USD",
        ct_type="inverse",
        inst_family="ETH-USD",
    )
    r3.fill("FUTURES", "ETH-USD-250110", "buy", "2000", "10", 0, bill_id="2103")
    r3.fill("FUTURES", "ETH-USD-250110", "sell", "2500", "10", 20, fill_pnl="0.01", bill_id="2104")

    # --- account 2: a ledger break in ETH ------------------------------------------------
    # 1 -> 0.9 (ok) -> bal_chg -0.1 but bal 0.7: break between bills 3002 and 3003
    r2.bill("1", "11", 0, ccy="ETH", bal_chg="1", bal="1", bill_id="3001")
    r2.bill("1", "12", 1, ccy="ETH", bal_chg="-0.1", bal="0.9", bill_id="3002")
    r2.bill("1", "12", 2, ccy="ETH", bal_chg="-0.1", bal="0.7", bill_id="3003")
    r2.bill("1", "12", 3, ccy="ETH", bal_chg="-0.1", bal="0.6", bill_id="3004")


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    populate(connection)
    build_journal(connection)
    yield connection
    connection.close()


def rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def trip(con: duckdb.DuckDBPyConnection, inst_id: str, **where: str) -> list[dict[str, Any]]:
    cond = "".join(f" and {k} = '{v}'" for k, v in where.items())
    return rows(
        con,
        f"select * from journal.round_trips where inst_id = ? {cond} order by opened_at, round_trip_id",
        [inst_id],
    )


def assert_money(row: dict[str, Any], **expected: str) -> None:
    for key, value in expected.items():
        assert row[key] == Decimal(value), (key, row[key], value)


# --- SPOT ---------------------------------------------------------------------------


def test_spot_fifo_partial_closes_with_base_ccy_fees(con: duckdb.DuckDBPyConnection) -> None:
    (t,) = trip(con, "BTC-USDT", inst_type="SPOT")
    assert t["direction"] == "long" and t["closed_at"] == at(26)
    assert_money(
        t,
        gross_pnl="274.8",
        fees="-0.8745",
        funding="0",
        interest="0",
        net_pnl="273.9255",
        max_size="1.998",
        entry_px="150",
    )
    # exit: (300*1.5 + 250*0.498) / 1.998 = 574.5 / 1.998 = 287.537537537537…
    assert t["exit_px"] == Decimal("287.537537537538")
    assert t["pnl_ccy"] == "USDT"
    fills = {
        f["bill_id"]: f for f in rows(con, "select * from journal.fills where inst_id = 'BTC-USDT'")
    }
    assert_money(fills["1001"], gross_pnl="0", fee_pnl_ccy="-0.1", fee="-0.001")
    assert_money(fills["1005"], gross_pnl="249.9", fee_pnl_ccy="-0.45", net_pnl="249.45")
    assert_money(fills["1007"], gross_pnl="24.9", fee_pnl_ccy="-0.1245")
    daily = rows(
        con,
        "select * from journal.daily_pnl where inst_id = 'BTC-USDT' and inst_type = 'SPOT' order by day",
    )
    assert [str(d["day"]) for d in daily] == ["2025-01-06", "2025-01-07"]
    assert_money(daily[0], gross_pnl="0", fees="-0.3", net_pnl="-0.3")
    assert_money(daily[1], gross_pnl="274.8", fees="-0.5745", net_pnl="274.2255")


def test_spot_partial_close_leaves_fifo_lot_open(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "j.duckdb"))
    create_raw_tables(connection, ["fills"])
    r = Raw(connection)
    # buy 1 @100, buy 1 @200, sell 1.5 @300 -> 1*200 + 0.5*100 = 250; 0.5 @200 left
    r.fill("SPOT", "BTC-USDT", "buy", "100", "1", 0, fee="-0.1", fee_ccy="USDT")
    r.fill("SPOT", "BTC-USDT", "buy", "200", "1", 1, fee="-0.2", fee_ccy="USDT")
    r.fill("SPOT", "BTC-USDT", "sell", "300", "1.5", 2, fee="-0.45", fee_ccy="USDT")
    build_journal(connection)
    (t,) = trip(connection, "BTC-USDT")
    assert t["closed_at"] is None and t["outcome"] is None
    assert_money(t, gross_pnl="250", fees="-0.75", net_pnl="249.25", current_size="0.5")
    (p,) = rows(connection, "select * from journal.open_positions")
    assert_money(p, size="0.5", avg_entry_px="200")
    assert p["source"] == "journal"
    connection.close()


def test_uncovered_spot_sell_reported_not_costed(con: duckdb.DuckDBPyConnection) -> None:
    (t,) = trip(con, "ETH-USDT", inst_type="SPOT")
    assert_money(t, gross_pnl="499.5", fees="-4.4975", net_pnl="495.0025", max_size="0.999")
    fills = {
        f["bill_id"]: f for f in rows(con, "select * from journal.fills where inst_id = 'ETH-USDT'")
    }
    assert_money(fills["1101"], uncovered_sz="0.5", gross_pnl="0", fee_pnl_ccy="-1.5")
    assert fills["1101"]["round_trip_id"] is None
    assert_money(fills["1105"], uncovered_sz="0.501", gross_pnl="499.5", fee_pnl_ccy="-3.75")
    (rec,) = rows(
        con,
        "select * from journal.reconciliation where check_name = 'uncovered_spot_sells' and subject = 'ETH-USDT'",
    )
    assert rec["ok"] is False
    assert_money(rec, actual_value="1.001", expected_value="0")
    assert "1101" in rec["details"] and "1105" in rec["details"]
    # daily keeps every fee charged: -1.5 - 2 - 3.75
    (d,) = rows(
        con,
        "select sum(fees) as fees, sum(gross_pnl) as gross from journal.daily_pnl where inst_id = 'ETH-USDT'",
    )
    assert d["fees"] == Decimal("-7.25") and d["gross"] == Decimal("499.5")


# --- MARGIN -------------------------------------------------------------------------


def test_margin_short_with_interest(con: duckdb.DuckDBPyConnection) -> None:
    (t,) = trip(con, "BTC-USDT", inst_type="MARGIN")
    assert t["direction"] == "short" and t["closed_at"] == at(20)
    assert_money(
        t,
        gross_pnl="30",
        fees="-0.37",
        interest="-0.06",
        funding="0",
        net_pnl="29.57",
        entry_px="100",
        exit_px="85",
        max_size="2",
    )
    assert t["interest_events"] == 2
    (per_type,) = rows(
        con, "select * from journal.pnl_by_instrument_type where inst_type = 'MARGIN'"
    )
    # all interest: -0.05 - 0.01 - 0.02 - 0.5
    assert_money(per_type, gross_pnl="30", fees="-0.37", interest="-0.58", net_pnl="29.05")
    (unnamed,) = rows(
        con, "select * from journal.daily_pnl where inst_type = 'MARGIN' and inst_id is null"
    )
    assert_money(unnamed, interest="-0.5", net_pnl="-0.5")
    assert unnamed["pnl_ccy"] == "USDT"


# --- SWAP / FUTURES / OPTION ----------------------------------------------------------


def test_linear_swap_with_funding_matches_okx_realized_pnl(con: duckdb.DuckDBPyConnection) -> None:
    (t,) = trip(con, "BTC-USDT-SWAP")
    assert t["pos_side"] == "long" and t["direction"] == "long"
    assert_money(
        t,
        gross_pnl="100",
        fees="-6.05",
        funding="-0.605",
        interest="0",
        net_pnl="93.345",
        entry_px="60000",
        exit_px="61000",
        max_size="10",
    )
    assert t["pnl_ccy"] == "USDT" and t["holding_seconds"] == 36000
    recs = {
        r["check_name"]: r
        for r in rows(
            con, "select * from journal.reconciliation where subject like '%BTC-USDT-SWAP%'"
        )
    }
    assert recs["gross_pnl_recomputed"]["ok"] is True
    assert_money(recs["gross_pnl_recomputed"], expected_value="100", actual_value="100")
    assert recs["round_trip_vs_positions_history"]["ok"] is True
    assert_money(
        recs["round_trip_vs_positions_history"],
        expected_value="93.345",
        actual_value="93.345",
        difference="0",
    )
    assert recs["positions_history_formula"]["ok"] is True


def test_inverse_swap_with_funding(con: duckdb.DuckDBPyConnection) -> None:
    (t,) = trip(con, "BTC-USD-SWAP")
    assert t["pnl_ccy"] == "BTC" and t["pos_side"] == "net"
    assert_money(
        t,
        gross_pnl="0.0018181818",
        fees="-0.0000190909",
        funding="-0.000005",
        net_pnl="0.0017940909",
    )
    (rec,) = rows(
        con,
        "select * from journal.reconciliation where check_name = 'gross_pnl_recomputed' and subject like '%BTC-USD-SWAP%'",
    )
    # 1000/50000 - 1000/55000 = 0.00181818181818…; rounded to 8 decimals both sides
    assert rec["ok"] is True and rec["difference"] == 0
    assert abs(rec["expected_value"] - Decimal("0.001818181818181818")) < Decimal("1e-15")


def test_futures_delivery_closes_the_trip(con: duckdb.DuckDBPyConnection) -> None:
    (t,) = trip(con, "BTC-USDT-250328")
    assert t["closed_at"] == at(48) and t["event_kinds"] == "delivery,trade"
    assert_money(t, gross_pnl="250", fees="-3.4375", net_pnl="246.5625", exit_px="95000")
    (rec,) = rows(
        con,
        "select * from journal.reconciliation where check_name = 'gross_pnl_recomputed' and subject like '%BTC-USDT-250328%'",
    )
    assert rec["ok"] is True and rec["expected_value"] == Decimal("250")


def test_option_closed_by_trade_and_option_expiring_worthless(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (closed,) = trip(con, "BTC-USD-250328-100000-C")
    assert_money(closed, gross_pnl="0.0005", fees="-0.00006", net_pnl="0.00044")
    assert closed["pnl_ccy"] == "BTC"
    (expired,) = trip(con, "BTC-USD-250328-120000-C")
    assert expired["closed_at"] == at(72) and expired["outcome"] == "loss"
    assert_money(expired, gross_pnl="-0.0005", fees="-0.000015", net_pnl="-0.000515", exit_px="0")
    recs = rows(
        con,
        "select * from journal.reconciliation where check_name = 'gross_pnl_recomputed' and subject like '%-C:%'",
    )
    assert len(recs) == 2 and all(r["ok"] for r in recs)


def test_liquidation_counted_once_with_penalty_as_fee(con: duckdb.DuckDBPyConnection) -> None:
    (t,) = trip(con, "ETH-USDT-SWAP")
    assert t["liquidated"] is True
    assert_money(t, gross_pnl="-300", fees="-15", net_pnl="-315")
    (f,) = rows(con, "select * from journal.fills where bill_id = '1702'")
    assert f["is_liquidation"] is True
    assert_money(f, gross_pnl="-300", fee_pnl_ccy="-13.5")
    (d,) = rows(
        con,
        "select sum(gross_pnl) g, sum(fees) f from journal.daily_pnl where inst_id = 'ETH-USDT-SWAP'",
    )
    assert d["g"] == Decimal("-300") and d["f"] == Decimal("-15")


def test_net_mode_flip_closes_one_trip_and_opens_the_next(con: duckdb.DuckDBPyConnection) -> None:
    long_trip, short_trip = trip(con, "SOL-USDT-SWAP")
    assert long_trip["direction"] == "long" and long_trip["closed_at"] == at(1)
    assert short_trip["direction"] == "short" and short_trip["opened_at"] == at(1)
    assert_money(
        long_trip,
        gross_pnl="20",
        fees="-0.32",
        net_pnl="19.68",
        max_size="2",
        entry_px="100",
        exit_px="110",
    )
    assert_money(
        short_trip,
        gross_pnl="15",
        fees="-0.645",
        net_pnl="14.355",
        max_size="3",
        entry_px="110",
        exit_px="105",
    )
    (f,) = rows(con, "select * from journal.fills where bill_id = '1802'")
    assert f["round_trip_id"] == long_trip["round_trip_id"]
    assert f["next_round_trip_id"] == short_trip["round_trip_id"]
    assert_money(f, fee_pnl_ccy="-0.55", gross_pnl="20")


def test_hedge_mode_long_and_short_at_once(con: duckdb.DuckDBPyConnection) -> None:
    (long_trip,) = trip(con, "XRP-USDT-SWAP", pos_side="long")
    (short_trip,) = trip(con, "XRP-USDT-SWAP", pos_side="short")
    assert long_trip["direction"] == "long" and short_trip["direction"] == "short"
    assert_money(long_trip, gross_pnl="10", fees="-0.0105", funding="-0.01", net_pnl="9.9795")
    assert_money(short_trip, gross_pnl="3", fees="-0.00615", funding="0.006", net_pnl="2.99985")


def test_hedge_mode_funding_of_equal_sizes_told_apart_by_the_rate(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (long_trip,) = trip(con, "ADA-USDT-SWAP", pos_side="long")
    (short_trip,) = trip(con, "ADA-USDT-SWAP", pos_side="short")
    assert_money(long_trip, gross_pnl="4", fees="-0.042", funding="0.02", net_pnl="3.978")
    assert_money(short_trip, gross_pnl="-4", fees="-0.042", funding="-0.02", net_pnl="-4.062")


def test_missing_instrument_spec_reported_and_pnl_ccy_parsed(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (t,) = trip(con, "PEPE-USDT-SWAP")
    assert t["pnl_ccy"] == "USDT"
    assert_money(t, gross_pnl="2", fees="-0.002", net_pnl="1.998")
    (rec,) = rows(
        con,
        "select * from journal.reconciliation where check_name = 'instrument_spec_missing' and subject = 'SWAP PEPE-USDT-SWAP'",
    )
    assert rec["ok"] is False and "parsed" in rec["details"]
    assert not rows(
        con,
        "select * from journal.reconciliation where check_name = 'gross_pnl_recomputed' and subject like '%PEPE%'",
    )
    others = rows(
        con,
        "select * from journal.reconciliation where check_name = 'instrument_spec_missing' and subject not in ('SWAP PEPE-USDT-SWAP', 'FUTURES ETH-USD-250110')",
    )
    assert others and all(r["ok"] for r in others)


def test_expired_future_spec_inferred_from_a_listed_sibling(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (spec,) = rows(
        con,
        "select * from journal_int.int_instrument_specs where inst_id = 'BTC-USD-250110'",
    )
    assert spec["spec_source"] == "inferred_from_family" and spec["has_spec"] is True
    assert spec["spec_sibling_inst_id"] == "BTC-USD-250627"
    assert spec["contract_kind"] == "inverse" and spec["pnl_ccy"] == "BTC"
    assert_money(spec, ct_val="100", ct_mult="1", contract_value="100")
    # expiry from inst_id (YYMMDD), time of day from the sibling (08:00 UTC)
    assert spec["expires_at"] == datetime(2025, 1, 10, 8, 0, tzinfo=UTC)
    listed = rows(
        con,
        "select distinct spec_source from journal_int.int_instrument_specs "
        "where inst_id in ('BTC-USD-250627', 'BTC-USDT-SWAP', 'BTC-USDT')",
    )
    assert listed == [{"spec_source": "okx"}]

    (t,) = trip(con, "BTC-USD-250110")
    assert t["pnl_ccy"] == "BTC" and t["closed_at"] == at(20) and t["account_uid"] == ACCOUNT3
    assert_money(t, gross_pnl="0.005", fees="-0.0000225", net_pnl="0.0049775")

    recs = {
        r["check_name"]: r
        for r in rows(
            con,
            "select * from journal.reconciliation where subject like '%BTC-USD-250110%'",
        )
    }
    assert set(recs) == {"instrument_spec_inferred", "gross_pnl_recomputed"}
    inferred = recs["instrument_spec_inferred"]
    assert inferred["ok"] is True and inferred["subject"] == "FUTURES BTC-USD-250110"
    assert "inferred from FUTURES BTC-USD-250627" in inferred["details"]
    assert "ct_val 100," in inferred["details"] and "inverse" in inferred["details"]
    gross = recs["gross_pnl_recomputed"]
    # 1000/40000 - 1000/50000 = 0.005 exactly
    assert gross["ok"] is True and gross["difference"] == 0
    assert_money(gross, expected_value="0.005", actual_value="0.005")
    assert "spec inferred from BTC-USD-250627" in gross["details"]


def test_expired_future_without_a_sibling_stays_missing(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (spec,) = rows(
        con,
        "select * from journal_int.int_instrument_specs where inst_id = 'ETH-USD-250110'",
    )
    assert spec["spec_source"] is None and spec["has_spec"] is False
    assert spec["contract_value"] is None and spec["pnl_ccy"] == "ETH"
    (t,) = trip(con, "ETH-USD-250110")
    assert t["pnl_ccy"] == "ETH"
    assert_money(t, gross_pnl="0.01", fees="0", net_pnl="0.01")
    recs = rows(
        con,
        "select * from journal.reconciliation where subject like '%ETH-USD-250110%'",
    )
    assert [r["check_name"] for r in recs] == ["instrument_spec_missing"]
    assert recs[0]["ok"] is False and "contract size unknown" in recs[0]["details"]


# --- reconciliation: ledger -------------------------------------------------------------


def test_ledger_break_reported_with_the_bill_ids_around_it(con: duckdb.DuckDBPyConnection) -> None:
    (brk,) = rows(
        con, "select * from journal.reconciliation where check_name = 'ledger_balance_break'"
    )
    assert brk["account_uid"] == ACCOUNT2 and brk["ok"] is False
    assert brk["subject"] == "ETH bill 3002 → 3003"
    assert_money(brk, expected_value="0.8", actual_value="0.7", difference="-0.1")
    chains = {
        (r["account_uid"], r["subject"]): r
        for r in rows(
            con, "select * from journal.reconciliation where check_name = 'ledger_balance_chain'"
        )
    }
    assert chains[(ACCOUNT2, "ETH")]["ok"] is False
    assert chains[(ACCOUNT, "USDT")]["ok"] is True
    assert_money(chains[(ACCOUNT, "USDT")], expected_value="10093.345", actual_value="10093.345")


# --- invariants -------------------------------------------------------------------------


def test_net_is_gross_plus_fees_funding_interest_on_every_row(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for relation in (
        "round_trips",
        "daily_pnl",
        "pnl_by_instrument_type",
        "pnl_by_instrument",
        "pnl_by_weekday",
        "equity_curve",
        "stats",
    ):
        (bad,) = con.execute(
            f"select count(*) from journal.{relation} "
            "where net_pnl is distinct from gross_pnl + fees + funding + interest"
        ).fetchone()  # type: ignore[misc]
        assert bad == 0, relation
    (bad,) = con.execute(
        "select count(*) from journal.fills where net_pnl <> gross_pnl + fee_pnl_ccy"
    ).fetchone()  # type: ignore[misc]
    assert bad == 0


def test_daily_and_round_trips_agree_where_everything_is_in_trips(
    con: duckdb.DuckDBPyConnection,
) -> None:
    got = rows(
        con,
        """
        select t.inst_id, t.net, d.net as daily_net from
          (select inst_id, sum(net_pnl) net from journal.round_trips
           where inst_type in ('SWAP', 'FUTURES', 'OPTION') group by 1) t
        join (select inst_id, sum(net_pnl) net from journal.daily_pnl group by 1) d using (inst_id)
    """,
    )
    assert len(got) == 12
    assert all(r["net"] == r["daily_net"] for r in got), got


def test_no_double_or_float_columns_in_journal(con: duckdb.DuckDBPyConnection) -> None:
    bad = rows(
        con,
        """
        select table_name, column_name, data_type from information_schema.columns
        where table_schema = 'journal' and (data_type like '%DOUBLE%' or data_type like '%FLOAT%'
              or data_type = 'REAL')
    """,
    )
    assert bad == []


def test_stats_per_account_and_per_type(con: duckdb.DuckDBPyConnection) -> None:
    (spot,) = rows(
        con, "select * from journal.stats where scope = 'account_inst_type' and inst_type = 'SPOT'"
    )
    # two SPOT trips, both wins: 273.9255 and 495.0025
    assert spot["round_trips_closed"] == 2 and spot["wins"] == 2 and spot["losses"] == 0
    assert_money(
        spot,
        win_rate="1",
        net_pnl="768.928",
        largest_win="495.0025",
        avg_win="384.464",
        expectancy="384.464",
        max_drawdown="0",
    )
    assert spot["profit_factor"] is None and spot["longest_losing_streak"] == 0
    usdt = rows(
        con,
        "select * from journal.stats where scope = 'account' and account_uid = ? and pnl_ccy = 'USDT'",
        [ACCOUNT],
    )
    (acct,) = usdt
    # USDT trips in closing order (net): ETH spot 495.0025 (h2), SOL long 19.68 (h1)…
    trips = rows(
        con,
        "select net_pnl from journal.round_trips where is_closed and pnl_ccy = 'USDT' and account_uid = ? order by closed_at, round_trip_id",
        [ACCOUNT],
    )
    nets = [t["net_pnl"] for t in trips]
    peak, cum, mdd, streak, longest = Decimal(0), Decimal(0), Decimal(0), 0, 0
    for n in nets:
        cum += n
        peak = max(peak, cum)
        mdd = max(mdd, peak - cum)
        streak = streak + 1 if n < 0 else 0
        longest = max(longest, streak)
    assert acct["round_trips_closed"] == len(nets)
    assert acct["max_drawdown"] == mdd and acct["longest_losing_streak"] == longest
    assert acct["largest_loss"] == min(nets) == Decimal("-315")
    wins = [n for n in nets if n > 0]
    losses = [n for n in nets if n < 0]
    assert acct["total_win"] == sum(wins) and acct["total_loss"] == sum(losses)
    pf = sum(wins) / -sum(losses)
    assert abs(acct["profit_factor"] - pf) < Decimal("1e-10")


def test_equity_curve_one_curve_per_currency_and_gap_filled(con: duckdb.DuckDBPyConnection) -> None:
    curve = rows(
        con,
        "select * from journal.equity_curve where account_uid = ? order by pnl_ccy, day",
        [ACCOUNT],
    )
    assert {c["pnl_ccy"] for c in curve} == {"USDT", "BTC"}
    for ccy in ("USDT", "BTC"):
        days = [c["day"] for c in curve if c["pnl_ccy"] == ccy]
        assert len(days) == (days[-1] - days[0]).days + 1
        (total,) = con.execute(
            "select sum(net_pnl) from journal.daily_pnl where account_uid = ? and pnl_ccy = ?",
            [ACCOUNT, ccy],
        ).fetchone()  # type: ignore[misc]
        assert [c for c in curve if c["pnl_ccy"] == ccy][-1]["cumulative_net_pnl"] == total


def test_breakdowns_and_comments_exist(con: duckdb.DuckDBPyConnection) -> None:
    assert rows(con, "select * from journal.pnl_by_weekday")
    assert rows(con, "select * from journal.pnl_by_instrument where inst_id = 'BTC-USDT-SWAP'")
    (comment,) = con.execute(
        "select comment from duckdb_columns() where schema_name = 'journal' "
        "and table_name = 'round_trips' and column_name = 'net_pnl'"
    ).fetchone()  # type: ignore[misc]
    assert comment and "gross_pnl" in comment
    (tcomment,) = con.execute(
        "select comment from duckdb_tables() where schema_name = 'journal' and table_name = 'round_trips'"
    ).fetchone()  # type: ignore[misc]
    assert tcomment


# --- the runner -------------------------------------------------------------------------


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    names = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'journal' order by 1"
        ).fetchall()
    ]
    return {
        n: sorted(con.execute(f"select * from journal.{n}").fetchall(), key=repr) for n in names
    }


def test_rebuild_is_idempotent(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "j.duckdb"))
    populate(connection)
    build_journal(connection)
    first = snapshot(connection)
    build_journal(connection)
    assert snapshot(connection) == first
    connection.close()


def test_failed_build_keeps_the_previous_journal(tmp_path: Path) -> None:
    db = tmp_path / "j.duckdb"
    connection = duckdb.connect(str(db))
    populate(connection)
    build_journal(connection)
    before = snapshot(connection)
    # new data arrives, but one transform fails at run time (the last one built)
    Raw(connection).fill("SPOT", "BTC-USDT", "buy", "1", "1", 100, fee="0", fee_ccy="USDT")
    broken = tmp_path / "transforms"
    shutil.copytree(default_transforms_dir(), broken)
    stats = broken / "marts" / "stats.sql"
    stats.write_text(
        stats.read_text().replace(
            "select * from final", "select *, cast('x' || scope as integer) as boom from final"
        )
    )
    with pytest.raises(TransformError, match="stats.sql"):
        build_journal(connection, broken)
    assert snapshot(connection) == before
    assert "boom" not in [
        c[0]
        for c in connection.execute(
            "select column_name from information_schema.columns where table_name = 'stats'"
        ).fetchall()
    ]
    connection.close()


def test_missing_raw_tables_are_created_and_extra_columns_ignored(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "j.duckdb"))
    create_raw_tables(connection, ["fills"])  # with an extra column okx_new_field
    Raw(connection).fill("SPOT", "BTC-USDT", "buy", "100", "1", 0, fee="-0.1", fee_ccy="USDT")
    result = build_journal(connection)
    assert set(result.created_raw_tables) == {f"okx_raw.{t}" for t in RAW_TABLES} - {
        "okx_raw.fills"
    }
    assert rows(connection, "select * from journal.open_positions")
    assert "journal.round_trips" in result.relations
    connection.close()


def test_every_relation_declares_what_it_reads() -> None:
    files = transform_files()
    assert {f.layer for f in files} == {"staging", "intermediate", "marts"}
    for f in files:
        assert f.grain, f.path
        if f.layer == "marts":
            assert f.description and f.column_comments, f.path
    position = {f.relation: i for i, f in enumerate(files)}
    for f in files:
        assert all(position[d] < position[f.relation] for d in f.depends_on)


def test_integrity_checks_pass_on_clean_data(con: duckdb.DuckDBPyConnection) -> None:
    checks = rows(
        con,
        "select * from journal.reconciliation where check_name in ('raw_rows_unique', 'book_key_unique')",
    )
    assert len(checks) == 3 and all(c["ok"] for c in checks)
