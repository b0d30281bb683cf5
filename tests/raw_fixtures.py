"""Hand-written ``okx_raw`` rows for transform tests, independent of the dlt source.

The tables are created here with the columns and types of docs/DESIGN.md ("Raw schema"):
numbers ``DECIMAL(38,18)``, OKX times ``TIMESTAMPTZ``, ids and codes text, plus dlt's
``_dlt_load_id`` / ``_dlt_id`` and one column OKX might add later (``okx_new_field``),
which the transforms must ignore.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb

D = "DECIMAL(38,18)"
T = "TIMESTAMPTZ"
S = "VARCHAR"

RAW_DDL: dict[str, list[tuple[str, str]]] = {
    "fills": [
        ("account_uid", S),
        ("bill_id", S),
        ("inst_type", S),
        ("inst_id", S),
        ("trade_id", S),
        ("ord_id", S),
        ("sub_type", S),
        ("side", S),
        ("pos_side", S),
        ("exec_type", S),
        ("fill_px", D),
        ("fill_sz", D),
        ("fill_pnl", D),
        ("fill_idx_px", D),
        ("fill_mark_px", D),
        ("fee", D),
        ("fee_ccy", S),
        ("fee_rate", D),
        ("ts", T),
        ("fill_time", T),
    ],
    "bills": [
        ("account_uid", S),
        ("bill_id", S),
        ("type", S),
        ("sub_type", S),
        ("ts", T),
        ("inst_type", S),
        ("inst_id", S),
        ("ccy", S),
        ("bal_chg", D),
        ("bal", D),
        ("pos_bal_chg", D),
        ("pos_bal", D),
        ("sz", D),
        ("px", D),
        ("pnl", D),
        ("fee", D),
        ("interest", D),
        ("mgn_mode", S),
        ("ord_id", S),
        ("trade_id", S),
        ("exec_type", S),
        ('"from"', S),
        ('"to"', S),
        ("notes", S),
        ("fill_time", T),
    ],
    "positions": [
        ("account_uid", S),
        ("snapshot_at", T),
        ("pos_id", S),
        ("inst_type", S),
        ("inst_id", S),
        ("mgn_mode", S),
        ("pos_side", S),
        ("pos", D),
        ("pos_ccy", S),
        ("avg_px", D),
        ("mark_px", D),
        ("upl", D),
        ("ccy", S),
        ("lever", D),
        ("liq_px", D),
        ("realized_pnl", D),
        ("pnl", D),
        ("fee", D),
        ("funding_fee", D),
        ("liq_penalty", D),
        ("c_time", T),
        ("u_time", T),
    ],
    "positions_history": [
        ("account_uid", S),
        ("pos_id", S),
        ("c_time", T),
        ("u_time", T),
        ("inst_type", S),
        ("inst_id", S),
        ("mgn_mode", S),
        ("type", S),
        ("pos_side", S),
        ("direction", S),
        ("open_avg_px", D),
        ("close_avg_px", D),
        ("open_max_pos", D),
        ("close_total_pos", D),
        ("pnl", D),
        ("fee", D),
        ("funding_fee", D),
        ("liq_penalty", D),
        ("settled_pnl", D),
        ("realized_pnl", D),
        ("ccy", S),
    ],
    "instruments": [
        ("account_uid", S),
        ("inst_type", S),
        ("inst_id", S),
        ("base_ccy", S),
        ("quote_ccy", S),
        ("settle_ccy", S),
        ("ct_val", D),
        ("ct_mult", D),
        ("ct_val_ccy", S),
        ("ct_type", S),
        ("opt_type", S),
        ("stk", D),
        ("exp_time", T),
        ("inst_family", S),
        ("uly", S),
        ("state", S),
        ("first_seen_at", T),
        ("last_seen_at", T),
    ],
    "funding_rates": [
        ("account_uid", S),
        ("inst_type", S),
        ("inst_id", S),
        ("formula_type", S),
        ("funding_rate", D),
        ("realized_rate", D),
        ("funding_time", T),
        ("method", S),
    ],
    "funding_bills": [
        ("account_uid", S),
        ("bill_id", S),
        ("ccy", S),
        ("client_id", S),
        ("bal_chg", D),
        ("bal", D),
        ("type", S),
        ("notes", S),
        ("ts", T),
    ],
    "deposits": [
        ("account_uid", S),
        ("ccy", S),
        ("chain", S),
        ("amt", D),
        ('"from"', S),
        ("area_code_from", S),
        ('"to"', S),
        ("tx_id", S),
        ("ts", T),
        ("state", S),
        ("dep_id", S),
        ("from_wd_id", S),
        ("actual_dep_blk_confirm", S),
    ],
    "withdrawals": [
        ("account_uid", S),
        ("ccy", S),
        ("chain", S),
        ("amt", D),
        ("ts", T),
        ('"from"', S),
        ('"to"', S),
        ("tx_id", S),
        ("fee", D),
        ("fee_ccy", S),
        ("state", S),
        ("wd_id", S),
        ("client_id", S),
        ("note", S),
    ],
}

RAW_DDL["index_candles"] = [
    ("account_uid", S),
    ("inst_id", S),
    ("ts", T),
    ("o", D),
    ("h", D),
    ("l", D),
    ("c", D),
    ("confirm", S),
]

ACCOUNT = "acct-1"
T0 = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)  # a Monday


def at(hours: float) -> datetime:
    """T0 + hours."""
    return T0 + timedelta(hours=hours)


def create_raw_tables(con: duckdb.DuckDBPyConnection, tables: list[str] | None = None) -> None:
    """Creates the raw tables (all, or the named ones) with an extra unknown column."""
    con.execute("CREATE SCHEMA IF NOT EXISTS okx_raw")
    for table, cols in RAW_DDL.items():
        if tables is not None and table not in tables:
            continue
        ddl = ", ".join(f"{c} {t}" for c, t in cols)
        con.execute(
            f"CREATE TABLE okx_raw.{table} ({ddl}, okx_new_field VARCHAR, "
            "_dlt_load_id VARCHAR, _dlt_id VARCHAR)"
        )


class Raw:
    """Inserts raw rows with sensible defaults; bill ids count up from 1000."""

    def __init__(self, con: duckdb.DuckDBPyConnection, account: str = ACCOUNT) -> None:
        self.con = con
        self.account = account
        self._ids = itertools.count(1000)

    def next_id(self) -> str:
        return str(next(self._ids))

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        cols = [c for c, _ in RAW_DDL[table]]
        plain = [c.strip('"') for c in cols]
        unknown = set(row) - set(plain)
        assert not unknown, unknown
        values = [row.get(c) for c in plain]
        values = [str(v) if isinstance(v, (Decimal, int, float)) else v for v in values]
        marks = ", ".join(f"CAST(? AS {t})" for _, t in RAW_DDL[table])
        self.con.execute(
            f"INSERT INTO okx_raw.{table} ({', '.join(cols)}, okx_new_field, _dlt_load_id, "
            f"_dlt_id) VALUES ({marks}, 'x', 'load-1', ?)",
            [*values, self.next_id()],
        )

    def instrument(self, inst_type: str, inst_id: str, **kw: Any) -> None:
        self._insert(
            "instruments",
            {
                "account_uid": self.account,
                "inst_type": inst_type,
                "inst_id": inst_id,
                "state": "live",
                "last_seen_at": T0,
                **kw,
            },
        )

    def fill(
        self,
        inst_type: str,
        inst_id: str,
        side: str,
        px: str,
        sz: str,
        hours: float,
        *,
        fee: str = "0",
        fee_ccy: str | None = None,
        fill_pnl: str = "0",
        pos_side: str = "net",
        bill_id: str | None = None,
        **kw: Any,
    ) -> str:
        bid = bill_id or self.next_id()
        self._insert(
            "fills",
            {
                "account_uid": self.account,
                "bill_id": bid,
                "inst_type": inst_type,
                "inst_id": inst_id,
                "trade_id": bid,
                "ord_id": bid,
                "side": side,
                "pos_side": pos_side,
                "exec_type": "T",
                "fill_px": px,
                "fill_sz": sz,
                "fill_pnl": fill_pnl,
                "fee": fee,
                "fee_ccy": fee_ccy,
                "ts": at(hours),
                "fill_time": at(hours),
                **kw,
            },
        )
        return bid

    def bill(
        self,
        bill_type: str,
        sub_type: str,
        hours: float,
        *,
        ccy: str,
        bal_chg: str = "0",
        bal: str | None = None,
        bill_id: str | None = None,
        **kw: Any,
    ) -> str:
        bid = bill_id or self.next_id()
        self._insert(
            "bills",
            {
                "account_uid": self.account,
                "bill_id": bid,
                "type": bill_type,
                "sub_type": sub_type,
                "ts": at(hours),
                "ccy": ccy,
                "bal_chg": bal_chg,
                "bal": bal,
                **kw,
            },
        )
        return bid

    def candle(self, inst_id: str, hours: float, open_px: str, **kw: Any) -> None:
        """One hourly index bar opening at ``T0 + hours`` (h, l, c default to the open)."""
        self._insert("index_candles", {
            "account_uid": self.account, "inst_id": inst_id, "ts": at(hours), "o": open_px,
            "h": open_px, "l": open_px, "c": open_px, "confirm": "1", **kw,
        })

    def position_history(self, **kw: Any) -> None:
        self._insert("positions_history", {"account_uid": self.account, **kw})

    def position(self, **kw: Any) -> None:
        self._insert("positions", {"account_uid": self.account, **kw})

    def funding_rate(self, inst_id: str, hours: float, rate: str) -> None:
        self._insert(
            "funding_rates",
            {
                "account_uid": self.account,
                "inst_type": "SWAP",
                "inst_id": inst_id,
                "formula_type": "noRate",
                "funding_rate": rate,
                "realized_rate": rate,
                "funding_time": at(hours),
                "method": "current_period",
            },
        )

    def funding_bill(self, bill_type: str, hours: float, *, ccy: str, bal_chg: str, **kw: Any) -> str:
        bid = kw.pop("bill_id", None) or self.next_id()
        self._insert(
            "funding_bills",
            {
                "account_uid": self.account,
                "bill_id": bid,
                "type": bill_type,
                "ts": at(hours),
                "ccy": ccy,
                "bal_chg": bal_chg,
                **kw,
            },
        )
        return bid

    def deposit(self, dep_id: str, hours: float, *, ccy: str, amt: str, state: str, **kw: Any) -> None:
        self._insert(
            "deposits",
            {
                "account_uid": self.account,
                "dep_id": dep_id,
                "ts": at(hours),
                "ccy": ccy,
                "amt": amt,
                "state": state,
                **kw,
            },
        )

    def withdrawal(
        self, wd_id: str, hours: float, *, ccy: str, amt: str, fee: str, state: str, **kw: Any
    ) -> None:
        self._insert(
            "withdrawals",
            {
                "account_uid": self.account,
                "wd_id": wd_id,
                "ts": at(hours),
                "ccy": ccy,
                "amt": amt,
                "fee": fee,
                "fee_ccy": ccy,
                "state": state,
                **kw,
            },
        )
