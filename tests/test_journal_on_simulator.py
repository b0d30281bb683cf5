"""The journal over a generated simulator history, synced end to end.

The simulator's history is consistent by construction (fills, bills, balances and
positions history agree), so every reconciliation row of the journal built from it must
be ok, including the futures and options that expired before the sync (OKX no longer
lists them; their specs are inferred from a listed sibling of the same family).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import ANCHOR_MS, anchor_offset

from okx_journal.simulator import Simulator, generate_history
from okx_journal.sync import SyncOptions, run_sync
from sources.okx.credentials import OkxCredentials

INST_TYPES = {"SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"}


def sync_all(
    db: Path, accounts: int, destinations: tuple[str, ...] = ("duckdb",),
    twice: tuple[str, ...] = (), checked: tuple[str, ...] = ("duckdb", "postgres"),
    summaries: list[Any] | None = None,
) -> Any:
    """Syncs every account of one generated history into each destination (twice into
    those in ``twice``; the data checks run on the first sync of those in ``checked``);
    returns the history. Summaries are appended to ``summaries`` as (destination, round,
    summary)."""
    # the same account on every run: the history ends at the anchor, the simulator's clock
    # (which the client follows) just after it
    history = generate_history(seed=7, scale=1500, accounts=accounts, end_ms=ANCHOR_MS)
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        for destination in destinations:
            for n in range(2 if destination in twice else 1):
                for acct in history.accounts:
                    summary = run_sync(
                        SyncOptions(
                            db_path=db,
                            credentials=OkxCredentials(acct.api_key, acct.secret, acct.passphrase),
                            base_url=sim.url,
                            rate_limits=False,
                            quiet=True,
                            # the data checks pass too (DataCheckFailed otherwise)
                            checks="fail" if n == 0 and destination in checked else "off",
                            destination=destination,
                        )
                    )
                    if summaries is not None:
                        summaries.append((destination, n, summary))
    return history


@pytest.fixture(scope="module", params=[1, 2], ids=["one_account", "two_accounts"])
def journal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Any]]:
    db = tmp_path_factory.mktemp("sim") / "j.duckdb"
    history = sync_all(db, request.param)
    con = duckdb.connect(str(db), read_only=True)
    try:
        yield con, history
    finally:
        con.close()


def fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_every_reconciliation_row_is_ok(journal: tuple[duckdb.DuckDBPyConnection, Any]) -> None:
    con, history = journal
    recs = fetch(con, "select * from journal.reconciliation")
    bad = [r for r in recs if not r["ok"]]
    assert not bad, bad[:5]
    uids = {r["account_uid"] for r in recs if r["account_uid"] is not None}
    assert uids == {a.uid for a in history.accounts}
    checks = {r["check_name"] for r in recs}
    # the recomputation and the history checks ran, and expired contracts were inferred
    if len(history.accounts) == 2:
        # the second account trades in hedge mode: long and short books of their own
        modes = dict(con.execute("select uid, pos_mode from okx_raw.account_config").fetchall())
        assert modes == {
            history.accounts[0].uid: "net_mode",
            history.accounts[1].uid: "long_short_mode",
        }
        (hedged,) = con.execute(
            "select count(distinct pos_side) from journal.round_trips "
            "where account_uid = ? and pos_side in ('long', 'short')",
            [history.accounts[1].uid],
        ).fetchone()  # type: ignore[misc]
        assert hedged == 2
    assert {
        "gross_pnl_recomputed",
        "ledger_balance_chain",
        "positions_history_formula",
        "round_trip_vs_positions_history",
        "instrument_spec_inferred",
    } <= checks


def test_expired_contracts_recomputed_with_the_inferred_spec(
    journal: tuple[duckdb.DuckDBPyConnection, Any],
) -> None:
    con, _ = journal
    inferred = fetch(
        con,
        "select * from journal_int.int_instrument_specs where spec_source = 'inferred_from_family'",
    )
    assert {s["inst_type"] for s in inferred} == {"FUTURES", "OPTION"}
    assert all(s["contract_value"] is not None and s["expires_at"] is not None for s in inferred)
    # gross P&L of their closed round trips was recomputed from the inferred spec
    (n,) = con.execute(
        "select count(*) from journal.reconciliation where check_name = 'gross_pnl_recomputed' "
        "and details like '%spec inferred from%'"
    ).fetchone()  # type: ignore[misc]
    assert n > 0


def test_pnl_by_instrument_type_covers_all_types_and_adds_up(
    journal: tuple[duckdb.DuckDBPyConnection, Any],
) -> None:
    con, history = journal
    by_type = fetch(con, "select * from journal.pnl_by_instrument_type")
    for acct in history.accounts:
        assert {r["inst_type"] for r in by_type if r["account_uid"] == acct.uid} == INST_TYPES
    for relation in ("pnl_by_instrument_type", "daily_pnl", "round_trips"):
        (bad,) = con.execute(
            f"select count(*) from journal.{relation} "
            "where net_pnl is distinct from gross_pnl + fees + funding + interest"
        ).fetchone()  # type: ignore[misc]
        assert bad == 0, relation
