"""A sync with nothing new rebuilds nothing and checks nothing; one new bill brings both back.

The journal relations and the check frames record what they were computed from
(``okx_journal.freshness``); one database, three syncs against the simulator.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import ANCHOR_MS, anchor_offset

from okx_journal.freshness import META_SCHEMA, SNAPSHOT_TABLES
from okx_journal.simulator import Simulator, generate_history
from okx_journal.sync import SyncOptions, SyncSummary, run_sync
from okx_journal.transform import transform_files
from sources.okx.credentials import OkxCredentials


def _sync(db: Path, sim: Simulator, acc: Any) -> SyncSummary:
    return run_sync(SyncOptions(
        db_path=db,
        credentials=OkxCredentials(acc.api_key, acc.secret, acc.passphrase),
        base_url=sim.url,
        rate_limits=False,
        quiet=True,
        checks="warn",
        ledger_export=False,
        remember_site=False,
    ))


def _meta(db: Path, table: str, key: str, value: str) -> dict[str, Any]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {str(r[0]): r[1] for r in con.execute(
            f"SELECT {key}, {value} FROM {META_SCHEMA}.{table}").fetchall()}
    finally:
        con.close()


def _snapshot_dependents() -> set[str]:
    """The relations built (directly or not) from a snapshot table: refreshed every sync."""
    out: set[str] = set()
    for tf in transform_files():
        if set(tf.raw_inputs) & SNAPSHOT_TABLES or set(tf.depends_on) & out:
            out.add(tf.relation)
    return out


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Any:
    history = generate_history(seed=23, scale=300, days=20, end_ms=ANCHOR_MS)
    acc = history.accounts[0]
    db = tmp_path_factory.mktemp("nothing-new") / "okx.duckdb"
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        first = _sync(db, sim, acc)
        built_first = _meta(db, "built_from", "relation", "built_at")
        checked_first = _meta(db, "checked_from", "frame_id", "checked_at")
        time.sleep(0.05)
        again = _sync(db, sim, acc)
        built_again = _meta(db, "built_from", "relation", "built_at")
        checked_again = _meta(db, "checked_from", "frame_id", "checked_at")
        with sim.lock:
            newest = max(acc.bills, key=lambda b: int(b["billId"]))
            bill = dict(newest)
            bill.update(billId=str(int(newest["billId"]) + 1), ts=str(sim.now_ms() - 1000),
                        balChg="0", bal=newest["bal"], pnl="0", fee="0", sz="0")
            acc.bills.append(bill)
        one_bill = _sync(db, sim, acc)
        built_last = _meta(db, "built_from", "relation", "built_at")
    return {
        "first": first, "again": again, "one_bill": one_bill,
        "built": (built_first, built_again, built_last),
        "checked": (checked_first, checked_again),
        "gx_loaded": "great_expectations" in sys.modules,
    }


def test_first_sync_builds_and_checks_everything(synced: Any) -> None:
    first: SyncSummary = synced["first"]
    relations = {tf.relation for tf in transform_files()}
    assert set(first.journal_rebuilt) == relations
    assert first.checks_ok is True and not first.checks_kept
    assert first.checks_ran == len(synced["checked"][0]) > 0
    assert set(first.time_split) >= {"setup", "okx", "loading", "journal", "checks"}
    assert first.to_dict()["time_split_s"]["journal"] >= 0


def test_sync_with_nothing_new_rebuilds_and_checks_nothing(synced: Any) -> None:
    again: SyncSummary = synced["again"]
    assert again.new_rows["fills"] == again.new_rows["bills"] == 0
    assert again.new_rows["positions_history"] == 0
    # only what the refreshed snapshots feed (open positions) is rebuilt
    assert set(again.journal_rebuilt) <= _snapshot_dependents()
    assert "journal.open_positions" in again.journal_rebuilt
    built_first, built_again, _ = synced["built"]
    from_ledger = [r for r in built_first if r not in _snapshot_dependents()]
    assert from_ledger and all(built_again[r] == built_first[r] for r in from_ledger)
    # no frame validated: the last results hold, recorded as they were
    assert again.checks_kept and again.checks_ran == 0 and again.checks_ok is True
    assert synced["checked"][1] == synced["checked"][0]
    # (the snapshot's dependents: stg_okx__positions, open_positions, pnl_total_usd)
    assert (f"Journal: {len(again.journal_rebuilt)} of" in again.to_text()
            or "Journal unchanged" in again.to_text())
    assert "Data checks not run again" in again.to_text()


def test_one_new_bill_brings_the_rebuild_and_the_checks_back(synced: Any) -> None:
    last: SyncSummary = synced["one_bill"]
    assert last.new_rows["bills"] == 1
    rebuilt = set(last.journal_rebuilt)
    assert {"journal_staging.stg_okx__bills", "journal.cash_flows", "journal.round_trips",
            "journal.daily_pnl"} <= rebuilt
    # what the bills do not feed is left as it is
    _, built_again, built_last = synced["built"]
    untouched = {"journal_staging.stg_okx__fills", "journal_staging.stg_okx__deposits"}
    assert all(built_last[r] == built_again[r] for r in untouched)
    assert not last.checks_kept and last.checks_ran > 0
    assert last.checks_ok is True
