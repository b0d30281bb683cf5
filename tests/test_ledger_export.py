"""The quarterly ledger export end to end: a two-year account, against the simulator.

OKX's REST pages keep the ledger for 3 months; the quarterly export serves the rest
(okx-api §3.4). Every test syncs a generated two-year history into a fresh DuckDB file.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_sync import creds, query, runner, sync

from okx_journal.simulator import Simulator, generate_history
from okx_journal.sync import SyncSummary
from sources.okx.archive import quarter_of

DAY = 86_400_000
END_MS = 1_796_500_000_000  # 2026-12-06, a fixed end: the same history on every run


@pytest.fixture(scope="module")
def history() -> Any:
    return generate_history(seed=17, scale=1200, days=730, end_ms=END_MS)


def simulator(history: Any, **kw: Any) -> Simulator:
    # the server's clock sits at the history's end, so its retention windows are fixed
    return Simulator(history, rate_limits=False,
                     clock_offset_ms=END_MS + 5 * 60_000 - int(time.time() * 1000), **kw)


def per_ccy(bills: list[dict[str, Any]]) -> dict[str, tuple[int, Decimal]]:
    out: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for b in bills:
        out[b["ccy"]][0] += 1
        out[b["ccy"]][1] += Decimal(b["balChg"])
    return {k: (v[0], v[1]) for k, v in out.items()}


def loaded_per_ccy(db: Path, uid: str) -> dict[str, tuple[int, Decimal]]:
    rows = query(db, "select ccy, count(*), sum(bal_chg) from okx_raw.bills "
                     "where account_uid = ? group by ccy", [uid])
    return {str(c): (int(n), Decimal(s).normalize()) for c, n, s in rows}


def normalized(d: dict[str, tuple[int, Decimal]]) -> dict[str, tuple[int, Decimal]]:
    return {k: (n, s.normalize()) for k, (n, s) in d.items()}


def assert_every_bill_once(db: Path, acc: Any) -> None:
    ids = [r[0] for r in query(db, "select bill_id from okx_raw.bills where account_uid = ?",
                                [acc.uid])]
    assert len(ids) == len(set(ids)), "a bill landed twice"
    assert set(ids) == {b["billId"] for b in acc.bills}
    assert loaded_per_ccy(db, acc.uid) == normalized(per_ccy(acc.bills))


@pytest.mark.parametrize("retention_days", [365, 90])
def test_first_sync_of_two_years_has_every_bill_once_and_the_fills_okx_serves(
    tmp_path: Path, history: Any, retention_days: int
) -> None:
    acc = history.accounts[0]
    oldest = min(int(b["ts"]) for b in acc.bills)
    assert END_MS - oldest > 700 * DAY  # the history really is two years long
    db = tmp_path / "j.duckdb"
    with simulator(history, fills_retention_days=retention_days) as sim:
        first = sync(db, sim, acc, transforms=True)
        assert_every_bill_once(db, acc)
        now = sim.now_ms()
        served = {f["billId"] for f in acc.fills if int(f["ts"]) >= now - retention_days * DAY}
        got = [r[0] for r in query(db, "select bill_id from okx_raw.fills where account_uid = ?",
                                    [acc.uid])]
        assert len(got) == len(set(got)) and set(got) == served
        # every finished quarter from the first activity on was imported
        first_q = quarter_of(oldest)
        imported = first.ledger_export["imported"]
        assert imported[0] == f"{first_q[0]}Q{first_q[1]}" and len(imported) >= 8
        assert first.ledger_export_rows > 0 and not first.ledger_export.get("pending")
        # nothing asked again: a second sync imports nothing, sends no export request
        sent = len(sim.download_log)
        second = sync(db, sim, acc)
        assert second.new_rows["bills"] == 0 and second.ledger_export.get("imported_now") == []
        assert len(sim.download_log) == sent
        assert_every_bill_once(db, acc)
        # the journal starts at the account's first trade: spot trades older than the
        # fills OKX serves are rebuilt from the ledger, and no sell lacks its cost
        sources = dict(query(db, "select source, count(*) from journal.fills group by 1"))
        assert sources.get("bills", 0) > 0
        # every trade once: fills OKX served, the others rebuilt from their bills (a
        # liquidation or ADL without its fill counts as a position event, not a fill)
        forced = {"100", "101", "102", "103", "104", "105", "106", "107", "125", "126", "127", "128"}
        expected = [f for f in acc.fills if f["billId"] in served or f["subType"] not in forced]
        assert query(db, "select count(*) from journal.fills where account_uid = ?",
                     [acc.uid])[0][0] == len(expected)
        uncovered = query(db, "select count(*) from journal.reconciliation "
                              "where check_name = 'uncovered_spot_sells' and not ok")
        assert uncovered[0][0] == 0


def test_spot_pnl_over_the_whole_history_equals_fifo_of_every_fill(
    tmp_path: Path, history: Any
) -> None:
    """With fills kept 3 months, the journal's SPOT P&L still covers two years: FIFO over
    every fill the account ever made (computed here from the generator's records)."""
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    with simulator(history, fills_retention_days=90) as sim:
        sync(db, sim, acc, transforms=True)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    lots: dict[str, list[list[Decimal]]] = defaultdict(list)
    for f in sorted((f for f in acc.fills if f["instType"] == "SPOT"),
                    key=lambda f: (int(f["ts"]), int(f["billId"]))):
        px, sz, fee = Decimal(f["fillPx"]), Decimal(f["fillSz"]), Decimal(f["fee"])
        base = f["instId"].split("-")[0]
        quote = f["instId"].split("-")[1]
        book = lots[f["instId"]]
        if f["side"] == "buy":
            qty = sz + fee if f["feeCcy"] == base else sz
            book.append([qty, px])
            continue
        left = sz + (-fee if f["feeCcy"] == base else Decimal(0))
        while left > 0:
            lot = book[0]
            take = min(left, lot[0])
            expected[quote] += (px - lot[1]) * take
            lot[0] -= take
            left -= take
            if lot[0] == 0:
                book.pop(0)
    got = dict(query(db, "select pnl_ccy, sum(gross_pnl) from journal.pnl_by_instrument_type "
                         "where inst_type = 'SPOT' and account_uid = ? group by 1", [acc.uid]))
    assert {k: Decimal(v) for k, v in got.items()} == {k: v for k, v in expected.items() if v}


def test_a_quarter_still_being_prepared_is_picked_up_by_the_next_sync(
    tmp_path: Path, history: Any
) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    with simulator(history, archive_ready_after_s=3600) as sim:
        first = sync(db, sim, acc, export_wait_s=0.5)
        pending = first.ledger_export["pending"]
        assert len(pending) >= 8 and not first.ledger_export.get("imported")
        assert "next sync picks it up" in first.to_text()
        # two hours later OKX has finished the files
        sim.clock_offset_ms += 2 * 3_600_000
        second = sync(db, sim, acc)
        assert sorted(second.ledger_export["imported"]) == sorted(pending)
        assert not second.ledger_export.get("pending")
    assert_every_bill_once(db, acc)


def test_a_failed_quarter_is_applied_again_by_the_next_sync(tmp_path: Path, history: Any) -> None:
    acc = history.accounts[0]
    oldest = min(int(b["ts"]) for b in acc.bills)
    year, q = quarter_of(oldest + 120 * DAY)
    label = f"{year}Q{q}"
    db = tmp_path / "j.duckdb"
    with simulator(history, archive_fail_quarters={label}) as sim:
        first = sync(db, sim, acc)
        assert first.ledger_export["failed"] == [label]
        assert "requested again by the next sync" in first.to_text()
        second = sync(db, sim, acc)
        assert label in second.ledger_export["imported_now"]
        assert not second.ledger_export.get("failed")
    assert_every_bill_once(db, acc)


def test_the_file_is_downloaded_without_okx_credentials(tmp_path: Path, history: Any) -> None:
    acc = history.accounts[0]
    with simulator(history, archive_format="gzip", archive_numbers="statement") as sim:
        sync(tmp_path / "j.duckdb", sim, acc)
        assert sim.download_log
        for entry in sim.download_log:
            assert entry["okx_headers"] == [] and entry["status"] == 200
            seen = " ".join(f"{k}: {v}" for k, v in entry["headers"].items())
            for secret in (acc.api_key, acc.secret, acc.passphrase):
                assert secret not in seen
    assert_every_bill_once(tmp_path / "j.duckdb", acc)


def test_rows_in_two_files_and_in_the_rest_pages_land_once(tmp_path: Path, history: Any) -> None:
    """Bills a quarter's file repeats from the next quarter, and the export's overlap with
    bills-archive (whose rows keep their type), each land once, with equal values."""
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    with simulator(history, archive_boundary_overlap_ms=10 * DAY,
                   archive_numbers="statement") as sim:
        sync(db, sim, acc)
    assert_every_bill_once(db, acc)
    typed = query(db, "select count(*) from okx_raw.bills where account_uid = ? "
                      "and ts >= now() - interval 80 days and type is null", [acc.uid])
    assert typed[0][0] == 0  # the REST rows of the last months keep their type


def test_since_limits_the_quarters_asked_for(tmp_path: Path, history: Any) -> None:
    from datetime import UTC, datetime

    acc = history.accounts[0]
    since = datetime.fromtimestamp((END_MS - 200 * DAY) / 1000, tz=UTC)
    with simulator(history) as sim:
        summary = sync(tmp_path / "j.duckdb", sim, acc, since=since)
    first = quarter_of(int(since.timestamp() * 1000))
    assert summary.ledger_export["imported"][0] == f"{first[0]}Q{first[1]}"


@pytest.mark.slow
def test_killed_during_the_quarterly_import_every_bill_lands_once(
    tmp_path: Path, history: Any
) -> None:
    """SIGKILL at random moments of first syncs (the import of ten quarters among them),
    then a clean run: every bill exactly once."""
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    rng = random.Random(20261206)
    kills = attempts = 0
    with simulator(history) as sim:
        upper = 8.0
        while kills < 5 and attempts < 15:
            attempts += 1
            proc = runner(db, sim, acc)
            started = time.monotonic()
            try:
                proc.wait(timeout=rng.uniform(0.5, upper))
                upper = max(1.0, (time.monotonic() - started) * 1.05)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
                kills += 1
        assert kills >= 5
        sync(db, sim, acc)
        assert_every_bill_once(db, acc)
        states = query(db, "select state, count(*) from okx_raw.ledger_export_quarters "
                           "where account_uid = ? group by 1", [acc.uid])
        assert dict(states).get("imported", 0) >= 8
    print(f"{kills} kills in {attempts} runs")


def test_export_rows_equal_the_rest_rows_of_the_months_both_cover(
    tmp_path: Path, history: Any
) -> None:
    """The quarter that reaches into the REST pages' 3 months: every bill of its file that
    bills-archive also served has the same values in all 28 columns (the file writes its
    numbers OKX-statement style: 0E-18, fixed decimals, compared by value)."""
    from sources.okx.archive import ARCHIVE_COLUMNS, archive_batches, quarter_bounds
    from sources.okx.client import ARCHIVE_PATH, OkxClient
    from sources.okx.schema import snake

    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    with simulator(history, archive_numbers="statement") as sim:
        sync(db, sim, acc)
        rest_from = sim.now_ms() - 90 * DAY
        year, q = quarter_of(rest_from)
        lo, hi = quarter_bounds(year, q)
        assert lo < rest_from < hi  # the quarter straddles the REST window
        with OkxClient(creds(acc), base_url=sim.url, rate_limits=False) as client:
            (link,) = client.get(ARCHIVE_PATH, {"year": str(year), "quarter": f"Q{q}"})
            import httpx

            path = tmp_path / "quarter.zip"
            path.write_bytes(httpx.get(link["fileHref"]).content)
    cols = [snake(c) for c in ARCHIVE_COLUMNS]
    exported = {
        row["bill_id"]: row
        for batch in archive_batches(path, acc.uid) for row in batch.select(cols).to_pylist()
    }
    rest_ids = [b["billId"] for b in acc.bills if rest_from + DAY <= int(b["ts"]) < hi]
    assert len(rest_ids) > 50
    rows = query(db, f"select {', '.join(cols)} from okx_raw.bills where account_uid = ? "
                     "and type is not null and bill_id in (select unnest(?))", [acc.uid, rest_ids])
    assert len(rows) == len(rest_ids)
    for row in rows:
        loaded = dict(zip(cols, row, strict=True))
        assert exported[loaded["bill_id"]] == loaded, loaded["bill_id"]


def test_summary_says_failed_checks_wait_for_the_pending_quarters(tmp_path: Path) -> None:
    summary = SyncSummary(db_path=tmp_path / "j.duckdb", account_uid="1", checks_ok=False,
                          ledger_export={"pending": ["2025Q3"], "imported_now": []})
    text = summary.to_text()
    assert "2025Q3 pending" in text and "the next sync picks it up" in text
    assert "round trips that began before the ledger in the database are incomplete" in text
    summary.ledger_export = {"imported": ["2025Q3"], "imported_now": ["2025Q3"]}
    assert "incomplete" not in summary.to_text()
    data = summary.to_dict()
    assert data["ledger_export"]["imported"] == ["2025Q3"] and "ledger_export_rows" in data
