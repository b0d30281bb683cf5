"""Property-based: the journal's invariants hold on random generated account histories.

Hypothesis draws the generator's parameters (seed, number of fills, days, one or two
accounts: net and hedge position mode). Each drawn history's records are converted the
way the source converts OKX's pages (``rows_to_arrow``) and written straight into the raw
tables, no HTTP; many histories share one database as separate accounts, so one journal
build per cost-basis method covers them all, and every invariant is checked per account.
Each history of an example gets its own stretch of time (they end 27 days apart): funding
rates are public data, one rate per swap and funding time, and two generated markets
would disagree on it.

* ``net_pnl = gross_pnl + fees + funding + interest`` on every row of round_trips,
  daily_pnl and pnl_by_instrument_type;
* lots consumed never exceed what a lot acquired, and every close is matched in full;
* fifo, lifo, hifo and average give the same gross P&L for every closed SPOT/MARGIN round
  trip (once flat, every lot is used up whatever the order);
* every journal.reconciliation row is ok: per-type totals against OKX's realizedPnl of
  closed derivative positions, the recomputed gross, the ledger chain (bal = previous bal
  + balChg) with no break, no sell without a cost;
* every closed MARGIN short round trip gives the hand result from the generated fills and
  interest bills (proceeds of the short sales less the cost of the buy-backs; interest in
  the base coin valued at the pair's last fill price).

A failure names each failing account with the parameters that regenerate it, e.g.
``generate_history(seed=..., scale=..., end_ms=..., days=..., accounts=...)``: the
generator is deterministic for them (checked byte for byte in test_generator_determinism).
The examples are derandomized, so CI draws the same histories on every run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from okx_journal.simulator.generator import History, generate_history
from okx_journal.transform import COST_BASIS_METHODS, RAW_TABLES, build_journal, ensure_raw_tables
from sources.okx.schema import TABLES, rows_to_arrow

#: A fixed end of history (2025-12-01 00:00 UTC): no test here asks for "now".
ANCHOR_MS = 1_764_547_200_000
HISTORIES_PER_EXAMPLE = 70
EXAMPLES = 3  # 210 histories


@dataclass(frozen=True)
class Params:
    """What regenerates one history."""

    seed: int
    scale: int
    days: int
    accounts: int
    end_ms: int

    def replay(self) -> str:
        return (
            f"generate_history(seed={self.seed}, scale={self.scale}, end_ms={self.end_ms}, "
            f"days={self.days}, accounts={self.accounts})"
        )

    def generate(self) -> History:
        return generate_history(
            seed=self.seed, scale=self.scale, end_ms=self.end_ms, days=self.days,
            accounts=self.accounts,
        )


params = st.builds(
    Params,
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    scale=st.integers(min_value=20, max_value=90),
    days=st.integers(min_value=2, max_value=25),
    accounts=st.integers(min_value=1, max_value=2),
    end_ms=st.integers(min_value=0, max_value=23).map(lambda h: h * 3_600_000 + 12_345),
)


def spread(drawn: list[Params]) -> list[Params]:
    """The i-th history ends 27 days before the (i-1)-th, at its drawn hour."""
    return [
        Params(p.seed, p.scale, p.days, p.accounts, ANCHOR_MS - i * 27 * 86_400_000 + p.end_ms)
        for i, p in enumerate(drawn)
    ]


def _insert(con: duckdb.DuckDBPyConnection, table: str, arrow: pa.Table) -> None:
    cols = [c for c, _ in RAW_TABLES[table] if c.strip('"') in arrow.column_names]
    con.register("incoming", arrow)
    con.execute(f"INSERT INTO okx_raw.{table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM incoming")
    con.unregister("incoming")


def load(con: duckdb.DuckDBPyConnection, histories: list[tuple[Params, History]]) -> dict[str, Params]:
    """Writes every account's records into the raw tables; returns account_uid → params."""
    ensure_raw_tables(con)
    owner: dict[str, Params] = {}
    pending: dict[str, list[pa.Table]] = defaultdict(list)
    for p, history in histories:
        swaps = [i["instId"] for i in history.instruments if i["instType"] == "SWAP"]
        rates = [
            r
            for inst_id in swaps
            for r in history.funding_rate_history(inst_id, p.end_ms - p.days * 86_400_000, p.end_ms) or []
        ]
        for acct in history.accounts:
            assert acct.uid not in owner, "two drawn histories share an account uid"
            owner[acct.uid] = p
            uid = {"account_uid": acct.uid}
            snap = {**uid, "snapshot_at": p.end_ms}
            for table, rows, consts in (
                ("fills", acct.fills, uid),
                ("bills", acct.bills, uid),
                ("positions_history", acct.positions_history, uid),
                ("positions", acct.positions, snap),
                ("instruments", history.instruments,
                 {**uid, "first_seen_at": p.end_ms, "last_seen_at": p.end_ms}),
                ("funding_rates", rates, uid),
            ):
                if rows:
                    pending[table].append(rows_to_arrow(rows, TABLES[table], consts))
    for table, arrows in pending.items():
        _insert(con, table, pa.concat_tables(arrows, promote_options="permissive"))
    return owner


def fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def failing_accounts(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """account_uid → the invariants it breaks (with a sample of the offending rows)."""
    bad: dict[str, list[str]] = defaultdict(list)
    checks = {
        "net = gross + fees + funding + interest": """
            select account_uid, round_trip_id as what from journal.round_trips
            where net_pnl <> gross_pnl + fees + funding + interest
            union all
            select account_uid, inst_type || ' ' || cast(day as varchar) from journal.daily_pnl
            where net_pnl <> gross_pnl + fees + funding + interest
            union all
            select account_uid, inst_type from journal.pnl_by_instrument_type
            where net_pnl <> gross_pnl + fees + funding + interest
        """,
        "a lot gave more than it acquired": """
            select account_uid, lot_bill_id as what from journal.lots
            group by account_uid, inst_type, inst_id, direction, lot_bill_id, lot_qty
            having sum(qty) > lot_qty or min(qty) <= 0
        """,
        "a close not matched in full": """
            select legs.account_uid, legs.bill_id as what
            from journal_int.int_leg_pnl as legs
            left join (
                select account_uid, inst_type, inst_id, direction, close_bill_id, sum(qty) as qty
                from journal.lots group by all
            ) as lots
                on lots.account_uid = legs.account_uid and lots.inst_type = legs.inst_type
                and lots.inst_id = legs.inst_id and lots.direction = legs.direction
                and lots.close_bill_id = legs.bill_id
            where legs.family = 'spot' and legs.leg_kind = 'close'
                and legs.leg_qty is distinct from lots.qty
        """,
        "a reconciliation row not ok": """
            select account_uid, check_name || ' ' || coalesce(subject, '') as what
            from journal.reconciliation
            -- USD prices (index candles) are not part of these histories' raw rows
            where not ok and check_name <> 'usd_price_coverage'
        """,
    }
    for name, sql in checks.items():
        for row in fetch(con, sql):
            bad[row["account_uid"]].append(f"{name}: {row['what']}")
    return bad


def closed_spot_trips(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, Decimal]]:
    rows = con.execute(
        "select round_trip_id, account_uid, gross_pnl from journal.round_trips "
        "where inst_type in ('SPOT', 'MARGIN') and is_closed"
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def margin_shorts_by_hand(histories: list[tuple[Params, History]]) -> dict[str, tuple[str, Decimal, Decimal, Decimal]]:
    """round_trip_id → (account, gross, fees, interest) of every closed MARGIN short,
    computed from the generated records alone."""
    out: dict[str, tuple[str, Decimal, Decimal, Decimal]] = {}
    for _p, history in histories:
        for acct in history.accounts:
            events: list[tuple[int, int, str, dict[str, Any]]] = []
            for f in acct.fills:
                if f["instType"] == "MARGIN":
                    events.append((int(f["ts"]), int(f["billId"]), "fill", f))
            for b in acct.bills:
                if b["type"] == "7" and b["instType"] == "MARGIN" and b["instId"]:
                    events.append((int(b["ts"]), int(b["billId"]), "interest", b))
            events.sort(key=lambda e: (e[0], e[1]))
            pos: dict[str, Decimal] = defaultdict(Decimal)
            trip_no: dict[str, int] = defaultdict(int)
            last_px: dict[str, Decimal] = {}
            acc: dict[str, list[Decimal]] = {}
            for _ts, _bid, kind, r in events:
                inst = r["instId"]
                base, quote = inst.split("-")
                if kind == "interest":
                    if pos[inst] < 0 and inst in acc:
                        amt = Decimal(r["balChg"])
                        acc[inst][2] += amt if r["ccy"] == quote else amt * last_px[inst]
                    continue
                px, sz, fee = Decimal(r["fillPx"]), Decimal(r["fillSz"]), Decimal(r["fee"])
                last_px[inst] = px
                qty = (sz + fee if r["feeCcy"] == base else sz) if r["side"] == "buy" else -sz
                before = pos[inst]
                pos[inst] = before + qty
                if before == 0:
                    trip_no[inst] += 1
                    acc[inst] = [Decimal(0), Decimal(0), Decimal(0)]
                a = acc[inst]
                a[0] += -px * qty  # proceeds of sells (qty < 0), cost of buy-backs
                a[1] += fee * px if r["feeCcy"] == base else fee
                if pos[inst] == 0 and before < 0:
                    rid = f"{acct.uid}:MARGIN:{inst}:net:{trip_no[inst]}"
                    out[rid] = (acct.uid, a[0], a[1], a[2])
                    del acc[inst]
                assert not (before < 0 < pos[inst]), "the generator never flips a MARGIN book"
    return out


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(params, min_size=HISTORIES_PER_EXAMPLE, max_size=HISTORIES_PER_EXAMPLE,
             unique_by=lambda p: p.seed)
)
def test_journal_invariants_on_generated_histories(drawn: list[Params]) -> None:
    histories = [(p, p.generate()) for p in spread(drawn)]
    con = duckdb.connect()
    try:
        owner = load(con, histories)
        by_hand = margin_shorts_by_hand(histories)
        problems: dict[str, list[str]] = defaultdict(list)
        per_method: dict[str, dict[str, tuple[str, Decimal]]] = {}
        for method in COST_BASIS_METHODS:
            build_journal(con, cost_basis=method)
            for uid, what in failing_accounts(con).items():
                problems[uid].extend(f"[{method}] {w}" for w in what[:5])
            per_method[method] = closed_spot_trips(con)
            if method == "fifo":
                trips = {
                    r["round_trip_id"]: r
                    for r in fetch(con, "select * from journal.round_trips where inst_type = 'MARGIN'")
                }
                for rid, (uid, gross, fees, interest) in by_hand.items():
                    t = trips.get(rid)
                    got = None if t is None else (t["gross_pnl"], t["fees"], t["interest"])
                    if got != (gross, fees, interest):
                        problems[uid].append(f"MARGIN short {rid}: journal {got}, by hand {(gross, fees, interest)}")
        fifo = per_method["fifo"]
        for method, trips in per_method.items():
            if trips.keys() != fifo.keys():
                for rid in trips.keys() ^ fifo.keys():
                    problems[rid.split(":")[0]].append(f"[{method}] closed trips differ: {rid}")
            for rid, (uid, gross) in trips.items():
                if rid in fifo and fifo[rid][1] != gross:
                    problems[uid].append(f"[{method}] {rid}: gross {gross}, fifo {fifo[rid][1]}")
        for uid, what in problems.items():
            note(f"account {uid}: {owner[uid].replay()}: " + "; ".join(what[:8]))
        assert not problems, "failing accounts (see the notes: each names its generate_history call): " + ", ".join(
            f"{uid} ({owner[uid].replay()})" for uid in problems
        )
        # what the histories covered (so the invariants were tested on something)
        kinds = fetch(
            con,
            """
            select
                count(*) filter (where inst_type = 'MARGIN' and direction = 'short' and is_closed) as margin_shorts,
                count(distinct inst_type) filter (where is_closed) as types_closed
            from journal.round_trips
            """,
        )[0]
        # flips: a fill crossing zero (its remainder opens the next trip), and an order
        # whose first fill closes a trip exactly and whose next fill opens the next one
        flips = {
            (r[0], r[1])
            for r in con.execute(
                """
                select distinct fills.inst_type, specs.contract_kind from journal.fills
                inner join journal_int.int_instrument_specs as specs using (inst_type, inst_id)
                where fills.next_round_trip_id is not null
                """
            ).fetchall()
        }
        split_flips = con.execute(
            """
            select count(*) from journal.fills as closing
            inner join journal.fills as opening
                on opening.account_uid = closing.account_uid and opening.ord_id = closing.ord_id
                and opening.round_trip_id <> closing.round_trip_id
            inner join journal.round_trips as closed on closed.round_trip_id = closing.round_trip_id
            inner join journal.round_trips as next on next.round_trip_id = opening.round_trip_id
            where closing.inst_type in ('SWAP', 'FUTURES', 'OPTION')
                and closing.next_round_trip_id is null and closed.closed_at = next.opened_at
            """
        ).fetchone()
        multi_fill_orders = {
            r[0]
            for r in con.execute(
                "select distinct inst_type from journal.fills "
                "group by inst_type, account_uid, ord_id having count(*) > 1"
            ).fetchall()
        }
        assert kinds["margin_shorts"] > 0 and len(by_hand) == kinds["margin_shorts"]
        assert kinds["types_closed"] == 5
        assert flips >= {("SWAP", "linear"), ("SWAP", "inverse"), ("FUTURES", "linear"),
                         ("FUTURES", "inverse"), ("OPTION", "option")}, flips
        assert split_flips is not None and split_flips[0] > 0
        assert multi_fill_orders == {"SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"}
        rebates = con.execute(
            "select count(distinct inst_type) from journal.fills where fee > 0"
        ).fetchone()
        assert rebates is not None and rebates[0] >= 3  # SPOT and swap/future maker rebates
    finally:
        con.close()
