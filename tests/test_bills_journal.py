"""The journal where OKX's fills are gone: trades rebuilt from trade bills, and cash flows.

Hand-written raw rows with hand-computed P&L, as in test_transforms.py. Bills of the
quarterly export carry no ``type`` (``bill_type=None`` here). Every scenario has its own
account or instrument, so one build serves them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from raw_fixtures import Raw, at, create_raw_tables
from test_transforms import assert_money, rows

from okx_journal.transform import build_journal

REF = "acct-fills"  # the reference: every trade as an OKX fill
MIX = "acct-mixed"  # the same trades: oldest only as bills, one only as a fill, one in both
BILLS = "acct-bills"  # derivative trips only in bills (export, no type)
KEYS = "acct-keys"  # the seam keys one by one
FLOWS = "acct-flows"  # deposits, withdrawals, transfers

#: a sell 14 months after its buy
FOURTEEN_MONTHS_H = 426 * 24


def spot_bills(
    r: Raw,
    inst_id: str,
    side: str,
    px: str,
    sz: str,
    quote_sz: str,
    hours: float,
    *,
    base_id: str,
    fee: str,
    ord_id: str,
    trade_id: str,
    bill_type: str | None = None,
    inst_type: str = "SPOT",
) -> None:
    """The two bills of a SPOT/MARGIN trade: base leg ``base_id``, quote leg the next id.

    The fee is on the leg of the currency received (buy: base, sell: quote), as OKX does.
    """
    base, quote = inst_id.split("-")
    sign = 1 if side == "buy" else -1
    fee_d = Decimal(fee)
    legs = (
        (base_id, base, sz, Decimal(sz) * sign + (fee_d if side == "buy" else 0),
         fee if side == "buy" else "0"),
        (str(int(base_id) + 1), quote, quote_sz,
         -Decimal(quote_sz) * sign + (fee_d if side == "sell" else 0),
         fee if side == "sell" else "0"),
    )
    for bill_id, ccy, leg_sz, chg, leg_fee in legs:
        r.bill(
            bill_type,  # type: ignore[arg-type]
            "1" if side == "buy" else "2",
            hours,
            ccy=ccy,
            bal_chg=str(chg),
            inst_type=inst_type,
            inst_id=inst_id,
            sz=leg_sz,
            px=px,
            fee=leg_fee,
            ord_id=ord_id,
            trade_id=trade_id,
            mgn_mode="cash",
            exec_type="T",
            fill_time=at(hours),
            bill_id=bill_id,
        )


def populate(con: duckdb.DuckDBPyConnection) -> None:
    create_raw_tables(con)
    ref, mix = Raw(con, account=REF), Raw(con, account=MIX)
    only_bills, keys = Raw(con, account=BILLS), Raw(con, account=KEYS)
    linear = {"ct_type": "linear", "ct_mult": "1", "settle_ccy": "USDT"}
    ref.instrument("SPOT", "BTC-USDT", base_ccy="BTC", quote_ccy="USDT")
    ref.instrument("SPOT", "ETH-USDT", base_ccy="ETH", quote_ccy="USDT")
    ref.instrument("SWAP", "BTC-USDT-SWAP", ct_val="0.01", ct_val_ccy="BTC", **linear)
    ref.instrument("SWAP", "ETH-USDT-SWAP", ct_val="0.1", ct_val_ccy="ETH", **linear)
    ref.instrument("SWAP", "SOL-USDT-SWAP", ct_val="1", ct_val_ccy="SOL", **linear)

    # --- the seam, SPOT BTC-USDT ----------------------------------------------------------
    # T1 h0 buy 1 @100, fee -0.001 BTC -> lot 0.999 @100, fee valued -0.1 USDT
    # T2 h1 buy 1 @200, fee -0.001 BTC -> lot 0.999 @200, fee -0.2
    # T3 h2 sell 1.998 @300, fee -0.5994 USDT: 0.999*200 + 0.999*100 = 299.7
    # trip: gross 299.7, fees -0.8994, net 298.8006
    # REF: three fills. MIX: T1 only as (export) bills, T2 only as a fill, T3 fill + bills.
    ref.fill("SPOT", "BTC-USDT", "buy", "100", "1", 0, fee="-0.001", fee_ccy="BTC",
             bill_id="5001", ord_id="o1", trade_id="t1")
    ref.fill("SPOT", "BTC-USDT", "buy", "200", "1", 1, fee="-0.001", fee_ccy="BTC",
             bill_id="5003", ord_id="o2", trade_id="t2")
    ref.fill("SPOT", "BTC-USDT", "sell", "300", "1.998", 2, fee="-0.5994", fee_ccy="USDT",
             bill_id="5005", ord_id="o3", trade_id="t3")
    spot_bills(mix, "BTC-USDT", "buy", "100", "1", "100", 0, base_id="5001", fee="-0.001",
               ord_id="o1", trade_id="t1")
    mix.fill("SPOT", "BTC-USDT", "buy", "200", "1", 1, fee="-0.001", fee_ccy="BTC",
             bill_id="5003", ord_id="o2", trade_id="t2")
    mix.fill("SPOT", "BTC-USDT", "sell", "300", "1.998", 2, fee="-0.5994", fee_ccy="USDT",
             bill_id="5005", ord_id="o3", trade_id="t3")
    spot_bills(mix, "BTC-USDT", "sell", "300", "1.998", "599.4", 2, base_id="5005",
               fee="-0.5994", ord_id="o3", trade_id="t3", bill_type="2")

    # --- the seam, linear SWAP BTC-USDT-SWAP (ctVal 0.01), net mode, isolated ------------
    # T1 h0 buy 10 @60000 fee -3; T2 h1 buy 10 @62000 fee -3.1;
    # T3 h2 sell 20 @63000: fill_pnl 0.01*10*3000 + 0.01*10*1000 = 400, fee -6.3
    # trip: gross 400, fees -12.4, net 387.6; recomputed 0.01*(20*63000 - 10*60000
    # - 10*62000) = 400. Isolated bills: bal_chg carries the margin (never P&L).
    swap = "BTC-USDT-SWAP"
    for r in (ref, mix):
        r.fill("SWAP", swap, "sell", "63000", "20", 2, fee="-6.3", fee_ccy="USDT",
               fill_pnl="400", bill_id="5105", ord_id="o13", trade_id="t13")
    ref.fill("SWAP", swap, "buy", "60000", "10", 0, fee="-3", fee_ccy="USDT",
             bill_id="5101", ord_id="o11", trade_id="t11")
    for r in (ref, mix):
        r.fill("SWAP", swap, "buy", "62000", "10", 1, fee="-3.1", fee_ccy="USDT",
               bill_id="5103", ord_id="o12", trade_id="t12")
    swap_bill = {"inst_type": "SWAP", "inst_id": swap, "mgn_mode": "isolated",
                 "exec_type": "T"}
    mix.bill(None, "1", 0, ccy="USDT", bal_chg="-603", pos_bal_chg="600", sz="10",  # type: ignore[arg-type]
             px="60000", pnl="0", fee="-3", ord_id="o11", trade_id="t11", bill_id="5101",
             fill_time=at(0), **swap_bill)
    mix.bill("2", "2", 2, ccy="USDT", bal_chg="1613.7", pos_bal_chg="-1220", sz="20",
             px="63000", pnl="400", fee="-6.3", ord_id="o13", trade_id="t13", bill_id="5105",
             fill_time=at(2), **swap_bill)

    # --- buy only in bills (older than the fills), sell as a fill: ETH-USDT ---------------
    # h0 buy 2 @1000 (export bills, fee -0.002 ETH -> lot 1.998 @1000, fee valued -2)
    # 14 months later (h 10224 = 426 days), long after OKX stopped serving the buy's fill:
    # sell 1.998 @1500 (fill, fee -2.997 USDT): gross 1.998*500 = 999, nothing uncovered
    # trip: gross 999, fees -4.997, net 994.003
    spot_bills(mix, "ETH-USDT", "buy", "1000", "2", "2000", 0, base_id="5201", fee="-0.002",
               ord_id="o21", trade_id="t21")
    mix.fill("SPOT", "ETH-USDT", "sell", "1500", "1.998", FOURTEEN_MONTHS_H, fee="-2.997",
             fee_ccy="USDT", bill_id="5203", ord_id="o22", trade_id="t22")

    # --- a hedge-mode short only in bills vs the same from fills: ETH-USDT-SWAP ----------
    # open short (sub 4) 5 @3000 fee -0.75; close short (sub 6) 5 @2800:
    # pnl 0.1*5*200 = 100, fee -0.7. gross 100, fees -1.45, net 98.55
    eth = "ETH-USDT-SWAP"
    ref.fill("SWAP", eth, "sell", "3000", "5", 0, fee="-0.75", fee_ccy="USDT",
             pos_side="short", bill_id="5301")
    ref.fill("SWAP", eth, "buy", "2800", "5", 3, fee="-0.7", fee_ccy="USDT", fill_pnl="100",
             pos_side="short", bill_id="5302")
    eth_bill = {"inst_type": "SWAP", "inst_id": eth, "mgn_mode": "cross"}
    only_bills.bill(None, "4", 0, ccy="USDT", bal_chg="-0.75", sz="5", px="3000", pnl="0",  # type: ignore[arg-type]
                    fee="-0.75", ord_id="o31", trade_id="t31", bill_id="5301", **eth_bill)
    only_bills.bill(None, "6", 3, ccy="USDT", bal_chg="99.3", sz="5", px="2800", pnl="100",  # type: ignore[arg-type]
                    fee="-0.7", ord_id="o32", trade_id="t32", bill_id="5302", **eth_bill)

    # --- a liquidation whose fill is gone: SOL-USDT-SWAP, net mode, export bills ---------
    # buy 10 @100 fee -0.5 (trade bill, sub 1); liquidated (sub 107, inferred type 5)
    # @90: pnl 1*10*(90-100) = -100, penalty -5. gross -100, fees -5.5, net -105.5
    sol = {"inst_type": "SWAP", "inst_id": "SOL-USDT-SWAP", "mgn_mode": "cross"}
    only_bills.bill(None, "1", 0, ccy="USDT", bal_chg="-0.5", sz="10", px="100", pnl="0",  # type: ignore[arg-type]
                    fee="-0.5", ord_id="o41", trade_id="t41", bill_id="5401", **sol)
    only_bills.bill(None, "107", 4, ccy="USDT", bal_chg="-105", sz="10", px="90",  # type: ignore[arg-type]
                    pnl="-100", fee="-5", ord_id="o42", trade_id="-42", bill_id="5402", **sol)

    # --- bill types: given, inferred from sub_type, unknown --------------------------------
    only_bills.bill(None, "174", 1, ccy="USDT", bal_chg="0.1", pnl="0.1", bill_id="5501")  # type: ignore[arg-type]
    only_bills.bill(None, "999", 1, ccy="USDT", bal_chg="0", bill_id="5502")  # type: ignore[arg-type]
    only_bills.bill("8", "173", 1, ccy="USDT", bal_chg="-0.1", pnl="-0.1", bill_id="5503")
    only_bills.bill(None, "355", 1, ccy="USDT", bal_chg="0", bill_id="5504")  # type: ignore[arg-type]
    only_bills.bill(None, None, 1, ccy="USDT", bal_chg="0", bill_id="5505")  # type: ignore[arg-type]

    # --- the seam keys: a fill with the quote leg's bill id; a fill with other bill ids ---
    keys.instrument("SPOT", "XRP-USDT", base_ccy="XRP", quote_ccy="USDT")
    # fill 5602 names the quote leg (trade id differs): dropped by bill id
    spot_bills(keys, "XRP-USDT", "buy", "2", "10", "20", 0, base_id="5601", fee="-0.01",
               ord_id="o51", trade_id="t51", bill_type="2")
    keys.fill("SPOT", "XRP-USDT", "buy", "2", "10", 0, fee="-0.01", fee_ccy="XRP",
              bill_id="5602", ord_id="o51", trade_id="other")
    # fill 9999 has neither bill id but the same (inst_id, ord_id, trade_id): dropped
    spot_bills(keys, "XRP-USDT", "sell", "3", "9.99", "29.97", 1, base_id="5611",
               fee="-0.02997", ord_id="o52", trade_id="t52", bill_type="2")
    keys.fill("SPOT", "XRP-USDT", "sell", "3", "9.99", 1, fee="-0.02997", fee_ccy="USDT",
              bill_id="9999", ord_id="o52", trade_id="t52")
    # same trade id on another order (another trade): kept, rebuilt from bills
    spot_bills(keys, "XRP-USDT", "buy", "2.5", "4", "10", 2, base_id="5621", fee="0",
               ord_id="o53", trade_id="t52")

    # --- cash flows: each movement once ----------------------------------------------------
    f = Raw(con, account=FLOWS)
    # h-20 (2025-01-05) transfer in 200: trading bill (sub 11, 6 -> 18) + funding mirror 131
    f.bill("1", "11", -20, ccy="USDT", bal_chg="200", sz="200", bill_id="6001",
           **{"from": "6", "to": "18"})
    f.funding_bill("131", -20, ccy="USDT", bal_chg="-200", bill_id="f1")
    # h0 deposit 1000 (state 2): deposit history + funding bill type 1 (mirror)
    f.deposit("d1", 0, ccy="USDT", amt="1000", state="2", tx_id="0xabc", chain="USDT-TRC20")
    f.funding_bill("1", 0, ccy="USDT", bal_chg="1000", bill_id="f2")
    # h1 deposit 500 credited but not final (state 1): not counted yet
    f.deposit("d2", 1, ccy="USDT", amt="500", state="1")
    f.funding_bill("1", 1, ccy="USDT", bal_chg="500", bill_id="f3")
    # h2 transfer in 800
    f.bill("1", "11", 2, ccy="USDT", bal_chg="800", sz="800", bill_id="6002",
           **{"from": "6", "to": "18"})
    f.funding_bill("131", 2, ccy="USDT", bal_chg="-800", bill_id="f4")
    # h3/h4 a linear swap trip: gross 0.01*1*1000 = 10, fees -0.605, net 9.395
    f.fill("SWAP", "BTC-USDT-SWAP", "buy", "60000", "1", 3, fee="-0.3", fee_ccy="USDT",
           bill_id="6003")
    f.fill("SWAP", "BTC-USDT-SWAP", "sell", "61000", "1", 4, fee="-0.305", fee_ccy="USDT",
           fill_pnl="10", bill_id="6004")
    # h30 (2025-01-07) transfer out 300, from the quarterly export (no type, no from/to)
    f.bill(None, "12", 30, ccy="USDT", bal_chg="-300", sz="300", bill_id="6005")  # type: ignore[arg-type]
    f.funding_bill("130", 30, ccy="USDT", bal_chg="300", bill_id="f5")
    # h31 withdrawal 400 + fee 1 (state 2); funding bill type 2 -401 (mirror)
    f.withdrawal("w1", 31, ccy="USDT", amt="400", fee="1", state="2", tx_id="0xdef")
    f.funding_bill("2", 31, ccy="USDT", bal_chg="-401", bill_id="f6")
    # h32 failed withdrawal (-1) and cancelled one (-2): debit and refund bills, nothing counts
    f.withdrawal("w2", 32, ccy="USDT", amt="100", fee="1", state="-1")
    f.withdrawal("w3", 32, ccy="USDT", amt="50", fee="1", state="-2")
    f.funding_bill("2", 32, ccy="USDT", bal_chg="-101", bill_id="f7")
    f.funding_bill("13", 32, ccy="USDT", bal_chg="101", bill_id="f8")
    # h33 sub-account transfer out 50 (funding bill type 21)
    f.funding_bill("21", 33, ccy="USDT", bal_chg="-50", bill_id="f9")


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    populate(connection)
    build_journal(connection)
    yield connection
    connection.close()


def trips(con: duckdb.DuckDBPyConnection, account: str, inst_id: str) -> list[dict[str, Any]]:
    return rows(
        con,
        "select * from journal.round_trips where account_uid = ? and inst_id = ? "
        "order by opened_at, round_trip_id",
        [account, inst_id],
    )


MONEY = ("gross_pnl", "fees", "funding", "interest", "net_pnl")


def test_bill_type_inferred_from_sub_type_when_the_export_has_none(
    con: duckdb.DuckDBPyConnection,
) -> None:
    got = {
        r["bill_id"]: (r["bill_type"], r["bill_type_source"], r["sub_type"])
        for r in rows(
            con,
            "select * from journal_staging.stg_okx__bills where account_uid = ? "
            "and bill_id between '5501' and '5505'",
            [BILLS],
        )
    }
    assert got == {
        "5501": ("8", "inferred", "174"),
        "5502": (None, "unknown", "999"),  # unknown stays unknown, the code is kept
        "5503": ("8", "given", "173"),
        "5504": ("34", "inferred", "355"),
        "5505": (None, "unknown", None),
    }
    (trade,) = rows(
        con,
        "select bill_type, bill_type_source from journal_staging.stg_okx__bills "
        "where account_uid = ? and bill_id = '5401'",
        [BILLS],
    )
    assert trade == {"bill_type": "2", "bill_type_source": "inferred"}


def test_seam_spot_each_trade_once_with_the_pnl_of_the_fills(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for account in (REF, MIX):
        (t,) = trips(con, account, "BTC-USDT")
        assert_money(t, gross_pnl="299.7", fees="-0.8994", net_pnl="298.8006", max_size="1.998",
                     entry_px="150", exit_px="300")
        assert t["closed_at"] == at(2) and t["opened_at"] == at(0)
    fills = rows(
        con,
        "select * from journal.fills where account_uid = ? and inst_id = 'BTC-USDT' "
        "order by filled_at",
        [MIX],
    )
    assert [(f["bill_id"], f["source"]) for f in fills] == [
        ("5001", "bills"),  # the base leg's bill id
        ("5003", "fills"),
        ("5005", "fills"),
    ]
    first = fills[0]
    assert (first["side"], first["pos_side"], first["fee_ccy"], first["sub_type"]) == (
        "buy", "net", "BTC", "1")
    assert_money(first, fill_px="100", fill_sz="1", fee="-0.001", fee_pnl_ccy="-0.1",
                 fill_pnl="0", gross_pnl="0")
    assert first["filled_at"] == at(0) and first["ord_id"] == "o1" and first["trade_id"] == "t1"
    ref_fills = rows(
        con,
        "select bill_id, gross_pnl, fee_pnl_ccy, net_pnl, round_trip_id from journal.fills "
        "where account_uid = ? and inst_id = 'BTC-USDT' order by filled_at",
        [REF],
    )
    mix_fills = [{k: f[k] for k in ref_fills[0]} for f in fills]
    assert [{**f, "round_trip_id": f["round_trip_id"].split(":", 1)[1]} for f in mix_fills] == [
        {**f, "round_trip_id": f["round_trip_id"].split(":", 1)[1]} for f in ref_fills
    ]
    daily = rows(
        con,
        "select account_uid, sum(gross_pnl) as g, sum(fees) as f, sum(fill_count) as n "
        "from journal.daily_pnl where inst_id = 'BTC-USDT' group by 1 order by 1",
    )
    assert [(d["g"], d["f"], d["n"]) for d in daily] == [
        (Decimal("299.7"), Decimal("-0.8994"), 3)
    ] * 2


def test_seam_linear_swap_each_trade_once_pnl_from_pnl_and_fee_not_bal_chg(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for account in (REF, MIX):
        (t,) = trips(con, account, "BTC-USDT-SWAP")
        assert_money(t, gross_pnl="400", fees="-12.4", net_pnl="387.6", max_size="20",
                     entry_px="61000", exit_px="63000")
        assert t["direction"] == "long" and t["pos_side"] == "net"
    fills = rows(
        con,
        "select * from journal.fills where account_uid = ? and inst_id = 'BTC-USDT-SWAP' "
        "order by filled_at",
        [MIX],
    )
    assert [(f["bill_id"], f["source"], f["side"]) for f in fills] == [
        ("5101", "bills", "buy"),
        ("5103", "fills", "buy"),
        ("5105", "fills", "sell"),
    ]
    assert_money(fills[0], fill_sz="10", fill_px="60000", fee="-3", fill_pnl="0")
    assert fills[0]["fee_ccy"] == "USDT"
    (rec,) = rows(
        con,
        "select * from journal.reconciliation where check_name = 'gross_pnl_recomputed' "
        "and account_uid = ? and subject like '%BTC-USDT-SWAP%'",
        [MIX],
    )
    assert rec["ok"] and rec["expected_value"] == Decimal("400")


def test_spot_buy_only_in_bills_gives_the_later_sell_its_real_cost(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """A sell whose buy is 14 months old (only in the ledger export) has its real cost."""
    (t,) = trips(con, MIX, "ETH-USDT")
    assert t["closed_at"] - t["opened_at"] >= timedelta(days=426)
    assert_money(t, gross_pnl="999", fees="-4.997", net_pnl="994.003", max_size="1.998",
                 entry_px="1000", exit_px="1500")
    (sell,) = rows(
        con, "select * from journal.fills where account_uid = ? and bill_id = '5203'", [MIX]
    )
    assert_money(sell, gross_pnl="999", uncovered_sz="0", fee_pnl_ccy="-2.997")
    (unc,) = rows(
        con,
        "select * from journal.reconciliation where check_name = 'uncovered_spot_sells' "
        "and account_uid = ? and subject = 'ETH-USDT'",
        [MIX],
    )
    assert unc["ok"]


def test_derivative_round_trip_from_bills_equals_the_same_from_fills(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (from_fills,) = trips(con, REF, "ETH-USDT-SWAP")
    (from_bills,) = trips(con, BILLS, "ETH-USDT-SWAP")
    for t in (from_fills, from_bills):
        assert (t["direction"], t["pos_side"]) == ("short", "short")
        assert_money(t, gross_pnl="100", fees="-1.45", net_pnl="98.55", entry_px="3000",
                     exit_px="2800", max_size="5")
    keys = (*MONEY, "opened_at", "closed_at", "entry_px", "exit_px", "max_size", "pnl_ccy")
    assert {k: from_fills[k] for k in keys} == {k: from_bills[k] for k in keys}
    fills = rows(
        con,
        "select side, pos_side, source, fill_pnl, fee from journal.fills "
        "where account_uid = ? and inst_id = 'ETH-USDT-SWAP' order by filled_at",
        [BILLS],
    )
    assert fills == [
        {"side": "sell", "pos_side": "short", "source": "bills", "fill_pnl": Decimal("0"),
         "fee": Decimal("-0.75")},
        {"side": "buy", "pos_side": "short", "source": "bills", "fill_pnl": Decimal("100"),
         "fee": Decimal("-0.7")},
    ]
    (rec,) = rows(
        con,
        "select * from journal.reconciliation where check_name = 'gross_pnl_recomputed' "
        "and account_uid = ?  and subject like '%ETH-USDT-SWAP%'",
        [BILLS],
    )
    assert rec["ok"] and rec["expected_value"] == Decimal("100")


def test_liquidation_bill_without_fill_closes_a_trip_built_from_bills_once(
    con: duckdb.DuckDBPyConnection,
) -> None:
    (t,) = trips(con, BILLS, "SOL-USDT-SWAP")
    assert_money(t, gross_pnl="-100", fees="-5.5", net_pnl="-105.5", max_size="10")
    assert t["closed_at"] == at(4)
    # the liquidation is a position event, not a rebuilt trade
    fills = rows(
        con, "select bill_id from journal.fills where account_uid = ? and inst_id = ?",
        [BILLS, "SOL-USDT-SWAP"],
    )
    assert fills == [{"bill_id": "5401"}]
    (per_type,) = rows(
        con,
        "select * from journal.pnl_by_instrument_type where account_uid = ? and inst_type = 'SWAP'",
        [BILLS],
    )
    # ETH short 98.55 + SOL -105.5; funding: +0.1 (inferred type 8) - 0.1
    assert_money(per_type, gross_pnl="0", fees="-6.95", funding="0", net_pnl="-6.95")


def test_seam_keys_bill_id_of_either_leg_and_the_trade_key(
    con: duckdb.DuckDBPyConnection,
) -> None:
    fills = rows(
        con,
        "select bill_id, source, side from journal.fills where account_uid = ? "
        "order by filled_at",
        [KEYS],
    )
    assert fills == [
        {"bill_id": "5602", "source": "fills", "side": "buy"},
        {"bill_id": "9999", "source": "fills", "side": "sell"},
        {"bill_id": "5621", "source": "bills", "side": "buy"},
    ]
    (zero_fee,) = rows(
        con, "select * from journal.fills where account_uid = ? and bill_id = '5621'", [KEYS]
    )
    assert zero_fee["fee"] == 0 and zero_fee["fee_ccy"] == "XRP"
    assert_money(zero_fee, fill_sz="4", fill_px="2.5")
    t = trips(con, KEYS, "XRP-USDT")[0]
    # buy 10 @2 (fee 0.01 XRP -> lot 9.99, fee -0.02); sell 9.99 @3: +9.99, fee -0.02997
    assert_money(t, gross_pnl="9.99", fees="-0.04997", net_pnl="9.94003")


def test_every_reconciliation_row_of_the_bill_accounts_is_ok(
    con: duckdb.DuckDBPyConnection,
) -> None:
    bad = rows(
        con,
        "select * from journal.reconciliation where not ok and check_name <> "
        "'ledger_balance_chain' and check_name <> 'ledger_balance_break'",
    )
    assert not bad, bad


def test_cash_flows_each_movement_once_from_one_source(con: duckdb.DuckDBPyConnection) -> None:
    flows = rows(
        con,
        "select flow_at, day, ccy, kind, amount, account, source_table, source_id, counterparty "
        "from journal.cash_flows where account_uid = ? order by flow_at, kind",
        [FLOWS],
    )
    got = [
        (f["kind"], f["amount"], f["account"], f["source_table"], f["source_id"]) for f in flows
    ]
    assert got == [
        ("transfer_in", Decimal("200"), "trading", "okx_raw.bills", "6001"),
        ("deposit", Decimal("1000"), "funding", "okx_raw.deposits", "d1"),
        ("transfer_in", Decimal("800"), "trading", "okx_raw.bills", "6002"),
        ("transfer_out", Decimal("-300"), "trading", "okx_raw.bills", "6005"),
        ("withdrawal", Decimal("-400"), "funding", "okx_raw.withdrawals", "w1"),
        ("withdrawal_fee", Decimal("-1"), "funding", "okx_raw.withdrawals", "w1"),
        ("subaccount_transfer_out", Decimal("-50"), "funding", "okx_raw.funding_bills", "f9"),
    ]
    assert flows[0]["counterparty"] == "funding" and flows[0]["flow_at"] == at(-20)
    assert str(flows[0]["day"]) == "2025-01-05" and flows[0]["ccy"] == "USDT"
    (types,) = con.execute(
        "select list(distinct data_type order by data_type) from information_schema.columns "
        "where table_schema = 'journal' and table_name = 'cash_flows' "
        "and column_name in ('amount', 'flow_at')"
    ).fetchone()  # type: ignore[misc]
    assert types == ["DECIMAL(38,18)", "TIMESTAMP WITH TIME ZONE"]


def test_cash_flows_are_not_pnl(con: duckdb.DuckDBPyConnection) -> None:
    (per_type,) = rows(
        con, "select * from journal.pnl_by_instrument_type where account_uid = ?", [FLOWS]
    )
    assert_money(per_type, gross_pnl="10", fees="-0.605", net_pnl="9.395")


def test_equity_curve_carries_cash_flows_apart_from_pnl(con: duckdb.DuckDBPyConnection) -> None:
    curve = rows(
        con,
        "select * from journal.equity_curve where account_uid = ? order by day",
        [FLOWS],
    )
    got = [
        (str(c["day"]), c["pnl_ccy"], c["net_pnl"], c["cumulative_net_pnl"], c["net_cash_flow"],
         c["cumulative_cash_flow"])
        for c in curve
    ]
    # the curve runs to the database's last day (another account trades 14 months later):
    # nothing moves after the flows
    assert {g[2:] for g in got[3:]} == {(Decimal("0"), Decimal("9.395"), Decimal("0"),
                                         Decimal("700"))}
    # the trading account's flows only: +200 (a day with only a flow), +800, -300
    assert got[:3] == [
        ("2025-01-05", "USDT", Decimal("0"), Decimal("0"), Decimal("200"), Decimal("200")),
        ("2025-01-06", "USDT", Decimal("9.395"), Decimal("9.395"), Decimal("800"),
         Decimal("1000")),
        ("2025-01-07", "USDT", Decimal("0"), Decimal("9.395"), Decimal("-300"), Decimal("700")),
    ]


def test_new_relations_keep_money_decimal(con: duckdb.DuckDBPyConnection) -> None:
    bad = rows(
        con,
        """
        select table_schema, table_name, column_name, data_type from information_schema.columns
        where table_name in ('int_fills_from_bills', 'int_fills', 'cash_flows', 'equity_curve',
                             'stg_okx__bills', 'stg_okx__funding_bills', 'stg_okx__deposits',
                             'stg_okx__withdrawals')
          and (data_type like '%DOUBLE%' or data_type like '%FLOAT%' or data_type = 'REAL')
        """,
    )
    assert bad == []
