"""Isolated margin: OKX books funding (and margin) in the position, not the account.

A real funding bill of an isolated position (okx-api §10.5, ccxt issue #28103) has
``balChg`` 0 and the amount in ``pnl`` (= ``posBalChg``). The journal reads funding from
``pnl`` in both margin modes; these tests fail when it reads ``bal_chg``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb
from raw_fixtures import ACCOUNT, T0, Raw, create_raw_tables
from test_transforms import populate, rows

from okx_journal.transform import build_journal
from sources.okx.schema import BILLS, rows_to_arrow

# okx-api §10.5, "Real capture, isolated margin": the ledger entry's info, as published.
REAL_ISOLATED_FUNDING_BILL = """
{"bal":"22.8625531207008386","balChg":"0.0000000000000000","billId":"3373589486042734612",
 "ccy":"USDT","clOrdId":"","earnAmt":"","earnApr":"","execType":"","fee":"0","fillFwdPx":"",
 "fillIdxPx":"","fillMarkPx":"","fillMarkVol":"","fillPxUsd":"","fillPxVol":"",
 "fillTime":"1773043201466","from":"","instId":"SAHARA-USDT-SWAP","instType":"SWAP",
 "interest":"0","mgnMode":"isolated","notes":"","ordId":"","pnl":"-0.2540832413497432",
 "posBal":"2.7428167586502568","posBalChg":"-0.2540832413497432","px":"0.02606",
 "subType":"173","sz":"115","tag":"","to":"","tradeId":"0","ts":"1773043201466","type":"8"}
"""
SAHARA = "SAHARA-USDT-SWAP"


def _insert_okx_bills(con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]]) -> None:
    """Loads OKX bill records through the source's own conversion (``rows_to_arrow``)."""
    table = rows_to_arrow(records, BILLS, {"account_uid": ACCOUNT})
    raw_cols = {r[0] for r in con.execute("describe okx_raw.bills").fetchall()}
    cols = [c for c in table.column_names if c in raw_cols]
    con.register("okx_bills_arrow", table.select(cols))
    names = ", ".join(f'"{c}"' for c in cols)
    con.execute(f"insert into okx_raw.bills ({names}) select {names} from okx_bills_arrow")
    con.unregister("okx_bills_arrow")


def test_real_isolated_funding_capture_counts_its_pnl() -> None:
    record = json.loads(REAL_ISOLATED_FUNDING_BILL)
    # the shape as published: the account's balance did not move, the position's did
    assert record["balChg"] == "0.0000000000000000" and record["mgnMode"] == "isolated"
    assert record["pnl"] == record["posBalChg"] == "-0.2540832413497432"
    con = duckdb.connect()
    create_raw_tables(con)
    r = Raw(con)
    r.instrument("SWAP", SAHARA, settle_ccy="USDT", ct_val="1", ct_mult="1", ct_val_ccy="SAHARA",
                 ct_type="linear")
    funding_at = datetime.fromtimestamp(int(record["ts"]) / 1000, tz=UTC)
    hours = (funding_at - T0).total_seconds() / 3600
    # the isolated long that paid it: opened an hour before, closed an hour after
    r.fill("SWAP", SAHARA, "buy", "0.0265", "115", hours - 1, fee="-0.00152375",
           fee_ccy="USDT", bill_id="3373589486042734000")
    r.fill("SWAP", SAHARA, "sell", "0.0260", "115", hours + 1, fee="-0.001495",
           fee_ccy="USDT", fill_pnl="-0.0575", bill_id="3373589486042735000")
    _insert_okx_bills(con, [record])
    build_journal(con)

    (staged,) = rows(con, "select * from journal_staging.stg_okx__bills")
    assert staged["bal_chg"] == 0 and staged["mgn_mode"] == "isolated"
    assert staged["pnl"] == staged["pos_bal_chg"] == Decimal("-0.2540832413497432")
    assert staged["pos_bal"] == Decimal("2.7428167586502568")
    assert staged["bal"] == Decimal("22.8625531207008386")

    (trip,) = rows(con, "select * from journal.round_trips where inst_id = ?", [SAHARA])
    assert trip["funding"] == Decimal("-0.2540832413497432")
    assert trip["net_pnl"] == Decimal("-0.0575") + Decimal("-0.00301875") + trip["funding"]
    (by_type,) = rows(
        con, "select * from journal.pnl_by_instrument_type where inst_type = 'SWAP'"
    )
    assert by_type["funding"] == Decimal("-0.2540832413497432")
    assert by_type["net_pnl"] == by_type["gross_pnl"] + by_type["fees"] + by_type["funding"]
    con.close()


# The golden account's linear swap (okx-api §5.6, test_transforms.populate: bills 1300-1303)
# held in isolated margin: 10 contracts @60000 at 10x move 600 USDT of margin into the
# position at the open (balChg -3 - 600), the funding is paid from it (balChg 0,
# posBalChg -0.605), and the close releases what is left (96.95 + 599.395 = 696.345).
# Ledger: 10000 -> 9397 -> 9397 -> 10093.345, the same end balance as in cross margin.
ISOLATED_SWAP_BILLS = {
    "1301": {"bal_chg": "-603", "bal": "9397", "pos_bal_chg": "600", "pos_bal": "600"},
    "1302": {"bal_chg": "0", "bal": "9397", "pos_bal_chg": "-0.605", "pos_bal": "599.395"},
    "1303": {"bal_chg": "696.345", "bal": "10093.345", "pos_bal_chg": "-599.395",
             "pos_bal": "0"},
}


def _journal(isolated: bool) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect()
    populate(con)
    if isolated:
        for bill_id, values in ISOLATED_SWAP_BILLS.items():
            sets = ", ".join(f"{k} = cast(? as decimal(38, 18))" for k in values)
            con.execute(
                f"update okx_raw.bills set {sets}, mgn_mode = 'isolated' where bill_id = ?",
                [*values.values(), bill_id],
            )
        con.execute("update okx_raw.positions_history set mgn_mode = 'isolated' "
                    "where pos_id = '9001'")
    build_journal(con)
    out = {
        "pnl_by_instrument_type": con.execute(
            "select * from journal.pnl_by_instrument_type order by all").fetchall(),
        "round_trips": con.execute(
            "select * from journal.round_trips order by round_trip_id").fetchall(),
        "daily_pnl": con.execute("select * from journal.daily_pnl order by all").fetchall(),
        "chain": con.execute(
            "select check_name, account_uid, subject, ok from journal.reconciliation "
            "where check_name like 'ledger_balance%' order by all").fetchall(),
        "funding_check": con.execute(
            "select ok, expected_value, actual_value from journal.reconciliation "
            "where check_name = 'round_trip_funding_vs_positions_history' "
            "and subject like 'BTC-USDT-SWAP %'").fetchall(),
        "swap_usdt": con.execute(
            "select funding, net_pnl from journal.pnl_by_instrument_type "
            "where account_uid = ? and inst_type = 'SWAP' and pnl_ccy = 'USDT'", [ACCOUNT]
        ).fetchall(),
    }
    con.close()
    return out


def test_golden_swap_in_isolated_margin_gives_the_same_pnl_as_in_cross() -> None:
    cross, isolated = _journal(isolated=False), _journal(isolated=True)
    for relation in ("pnl_by_instrument_type", "round_trips", "daily_pnl"):
        assert isolated[relation] == cross[relation], relation
    # funding is counted (it was 0 when read from bal_chg) and matches OKX's fundingFee
    ((funding, _net),) = isolated["swap_usdt"]
    assert funding <= Decimal("-0.605")
    assert isolated["funding_check"] == [
        (True, Decimal("-0.605"), Decimal("-0.605"))
    ]
    # the account's ledger chain stays whole with the isolated bills' balChg
    assert isolated["chain"] == cross["chain"]
    usdt = [row for row in isolated["chain"] if row[1] == ACCOUNT and "USDT" in row[2]]
    assert usdt and all(row[3] for row in usdt), usdt


def test_a_funding_amount_only_in_bal_chg_is_not_counted() -> None:
    """Funding is read from pnl: a bill whose pnl is 0 pays nothing, whatever bal_chg says
    (in isolated margin, bal_chg carries margin moves, never the funding)."""
    con = duckdb.connect()
    create_raw_tables(con)
    r = Raw(con)
    r.instrument("SWAP", SAHARA, settle_ccy="USDT", ct_val="1", ct_mult="1", ct_val_ccy="SAHARA",
                 ct_type="linear")
    r.fill("SWAP", SAHARA, "buy", "0.0265", "115", 1, fee="0", fee_ccy="USDT")
    r.bill("8", "173", 2, ccy="USDT", bal_chg="-5", pnl="-0.25", inst_type="SWAP",
           inst_id=SAHARA, sz="115", mgn_mode="isolated")
    build_journal(con)
    ((funding,),) = con.execute(
        "select funding from journal.round_trips where inst_id = ?", [SAHARA]).fetchall()
    assert funding == Decimal("-0.25")
    con.close()
