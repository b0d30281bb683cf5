"""End-to-end sync against the loopback simulator: exactly once, incremental, kill-safe.

Every test syncs a generated history into a fresh DuckDB file and compares what landed
with what the simulator holds: the same keys, each exactly once.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import ANCHOR_MS, anchor_offset

from okx_journal.simulator import Simulator, generate_history
from okx_journal.simulator import server as sim_server
from okx_journal.sync import SyncOptions, SyncSummary, pipelines_dir_for, run_sync
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import OkxAuthError, SyncLocked

REPO = Path(__file__).resolve().parent.parent
DAY = 86_400_000


def creds(account: Any) -> OkxCredentials:
    return OkxCredentials(account.api_key, account.secret, account.passphrase)


def sync(db: Path, sim: Simulator, account: Any, **kw: Any) -> SyncSummary:
    opts = SyncOptions(
        db_path=db,
        credentials=creds(account),
        base_url=sim.url,
        rate_limits=kw.pop("rate_limits", False),
        transforms=kw.pop("transforms", False),
        quiet=kw.pop("quiet", True),
        **kw,
    )
    return run_sync(opts)


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def keys(db: Path, table: str, uid: str, cols: str = "bill_id") -> list[tuple[Any, ...]]:
    return query(db, f"SELECT {cols} FROM okx_raw.{table} WHERE account_uid = ?", [uid])


def assert_exactly_once(db: Path, account: Any) -> None:
    """fills, bills and positions_history hold exactly the simulator's records, once each."""
    for table, records, cols, key in (
        ("fills", account.fills, "bill_id", lambda r: (r["billId"],)),
        ("bills", account.bills, "bill_id", lambda r: (r["billId"],)),
        (
            "positions_history",
            account.positions_history,
            "pos_id, epoch_ms(c_time)",
            lambda r: (r["posId"], int(r["cTime"])),
        ),
    ):
        got = keys(db, table, account.uid, cols)
        assert len(got) == len(set(got)), f"duplicates in {table}"
        want = {key(r) for r in records}
        assert set(got) == want, f"{table}: {len(want - set(got))} missing, {len(set(got) - want)} extra"


@pytest.fixture
def history() -> Any:
    return generate_history(seed=5, scale=400, end_ms=ANCHOR_MS)


@pytest.fixture
def sim(history: Any) -> Iterator[Simulator]:
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as s:
        yield s


# ----------------------------------------------------------------------------- loads


def test_first_load_takes_everything_and_second_run_only_what_is_new(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    first = sync(db, sim, acc)
    assert_exactly_once(db, acc)
    assert first.account_uid == acc.uid
    assert first.new_rows["fills"] == len(acc.fills)
    assert first.new_rows["bills"] == len(acc.bills)
    assert first.new_rows["positions_history"] == len(acc.positions_history)
    assert first.new_rows["instruments"] > 0 and first.new_rows["account_config"] == 1
    assert first.packages == 1  # a small account's backfill is one load package
    assert query(db, "SELECT count(*) FROM okx_raw.positions")[0][0] == len(acc.positions)
    details = acc.balance.get("details", [])
    assert query(db, "SELECT count(*) FROM okx_raw.balances")[0][0] == len(details)
    assert "fills" in first.span and first.to_dict()["new_rows"]["fills"] == len(acc.fills)
    assert str(len(acc.fills)) in first.to_text().replace(",", "")
    # the funding-rate history of every SWAP charged funding, each rate of a funding bill
    charged = {(b["instId"], int(b["ts"])) for b in acc.bills if b["type"] == "8"}
    rates = set(query(db, "SELECT inst_id, epoch_ms(funding_time) FROM okx_raw.funding_rates"))
    assert charged and charged <= rates
    assert {i for i, _ in rates} == {i for i, _ in charged}
    assert first.new_rows["funding_rates"] == len(rates)

    sim.stats.reset()
    second = sync(db, sim, acc)
    assert_exactly_once(db, acc)
    assert second.new_rows["fills"] == second.new_rows["bills"] == 0
    req = sim.stats.requests
    # nothing new: one page per cursor walk, no long-endpoint walk
    assert req["/api/v5/trade/fills"] == 1 and req["/api/v5/account/bills"] == 1
    assert req["/api/v5/trade/fills-history"] == 0 and req["/api/v5/account/bills-archive"] == 0
    assert req["/api/v5/account/positions-history"] == 1
    # every funding bill already has its rate: no funding-rate request
    assert req["/api/v5/public/funding-rate-history"] == 0
    # snapshots are per run
    runs = query(db, "SELECT count(DISTINCT snapshot_at) FROM okx_raw.snapshots")[0][0]
    assert runs == 2


def test_records_arriving_between_two_runs(tmp_path: Path, sim: Simulator, history: Any) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    n_fills, n_bills = len(acc.fills), len(acc.bills)
    with sim.lock:
        history.extend(acc, 150)
    summary = sync(db, sim, acc)
    assert_exactly_once(db, acc)
    assert summary.new_rows["fills"] == len(acc.fills) - n_fills > 0
    assert summary.new_rows["bills"] == len(acc.bills) - n_bills > 0


def test_funding_rates_follow_new_funding_bills(tmp_path: Path) -> None:
    now = ANCHOR_MS + 5 * 60_000
    h = generate_history(seed=9, scale=300, end_ms=now - 10 * 3_600_000, days=20)
    acc = h.accounts[0]
    db = tmp_path / "j.duckdb"
    # the first sync runs on a server clock 10 hours back: no rate after that is public yet
    with Simulator(h, rate_limits=False, clock_offset_ms=anchor_offset() - 10 * 3_600_000) as s:
        sync(db, s, acc)
        before = query(db, "SELECT count(*) FROM okx_raw.funding_rates")[0][0]
        with s.lock:
            h.extend(acc, 200, end_ms=now - 5 * 60_000)  # crosses at least one funding time
        s.invalidate()
        s.clock_offset_ms += 10 * 3_600_000
        s.stats.reset()
        summary = sync(db, s, acc)
        new_funding = {(b["instId"], int(b["ts"])) for b in acc.bills
                       if b["type"] == "8" and int(b["ts"]) > now - 10 * 3_600_000}
        assert new_funding
        # one page (back to the checkpoint) per instrument with a new funding bill
        requests = s.stats.requests["/api/v5/public/funding-rate-history"]
        assert requests == len({i for i, _ in new_funding})
    rates = set(query(db, "SELECT inst_id, epoch_ms(funding_time) FROM okx_raw.funding_rates"))
    assert new_funding <= rates
    assert len(rates) > before and summary.new_rows["funding_rates"] == len(rates) - before


def test_backfill_in_packages_is_exactly_once_and_keeps_its_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first load comes in time windows, one load package each, oldest first: a sync
    that fails half-way keeps the windows it loaded, and the next one goes on from there."""
    monkeypatch.setenv("SOURCES__OKX__BACKFILL_PACKAGE_ROWS", "300")
    h = generate_history(seed=5, scale=1500, end_ms=ANCHOR_MS)
    acc = h.accounts[0]
    ref_db, db = tmp_path / "ref.duckdb", tmp_path / "j.duckdb"
    with Simulator(h, rate_limits=False, clock_offset_ms=anchor_offset()) as s:
        ref = sync(ref_db, s, acc)
        assert ref.packages >= 5
        assert_exactly_once(ref_db, acc)
        # positions, balances and their snapshot are taken once, by the last package
        assert query(ref_db, "SELECT count(DISTINCT snapshot_at) FROM okx_raw.snapshots")[0][0] == 1
        full_requests = s.stats.requests["/api/v5/account/bills-archive"]

        parts_with_bills: list[str] = []

        def fail_after_two_parts_with_bills(line: str) -> None:
            found = re.search(r"\(([\d,]+) fills, ([\d,]+) ledger entries so far\)", line)
            if found and found.group(2) != "0":
                parts_with_bills.append(line)
                if len(parts_with_bills) == 2:
                    s.inject(sim_server.Fault("code", path="/api/v5/account/bills-archive",
                                              code="50113", times=10_000))

        with pytest.raises(OkxAuthError):
            run_sync(SyncOptions(db_path=db, credentials=creds(acc), base_url=s.url,
                                 rate_limits=False, transforms=False),
                     log=fail_after_two_parts_with_bills)
        s.clear_faults()
        kept = keys(db, "bills", acc.uid)
        assert 0 < len(kept) < len(acc.bills) and len(kept) == len(set(kept))
        s.stats.reset()
        second = sync(db, s, acc)
        assert_exactly_once(db, acc)
        assert second.packages < ref.packages
        assert s.stats.requests["/api/v5/account/bills-archive"] < full_requests
        # once complete, the next sync is an ordinary incremental one
        s.stats.reset()
        assert sync(db, s, acc).packages == 1
        assert s.stats.requests["/api/v5/account/bills-archive"] == 0


def test_fills_across_page_boundary_with_equal_timestamps(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    with sim.lock:
        history.add_same_ms_burst(acc, 250)
    burst = acc.fills[-250:]
    assert len({f["ts"] for f in burst}) == 1
    sync(db, sim, acc)
    assert_exactly_once(db, acc)
    # and in a first load too
    db2 = tmp_path / "k.duckdb"
    sync(db2, sim, acc)
    assert_exactly_once(db2, acc)


def test_sync_after_a_gap_longer_than_the_recent_window(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    """Last sync 10 days ago: the new part comes from fills-history / bills-archive."""
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    with sim.lock:
        history.extend(acc, 300, end_ms=ANCHOR_MS + 10 * DAY)
    sim.clock_offset_ms += 11 * DAY  # OKX's clock (and windows) moved 11 days on
    sim.stats.reset()
    summary = sync(db, sim, acc)
    assert_exactly_once(db, acc)
    assert summary.new_rows["fills"] > 0
    assert sim.stats.requests["/api/v5/trade/fills-history"] >= 5  # one walk per instType
    assert not summary.warnings


def test_recent_endpoint_shorter_than_documented_leaves_no_gap(
    tmp_path: Path, sim: Simulator, history: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If OKX served fewer days on the recent endpoints, the gap is walked on the long ones."""
    monkeypatch.setitem(sim_server.RETENTION_MS, "/api/v5/trade/fills", DAY // 2)
    monkeypatch.setitem(sim_server.RETENTION_MS, "/api/v5/account/bills", DAY)
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    assert_exactly_once(db, acc)


def test_full_refresh_rereads_everything_and_keeps_rows_okx_no_longer_has(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    sim.clock_offset_ms += 60 * DAY  # the oldest ~50 days are now past OKX's retention
    sim.stats.reset()
    summary = sync(db, sim, acc, full_refresh=True)
    assert_exactly_once(db, acc)  # nothing deleted, nothing doubled
    assert sim.stats.requests["/api/v5/trade/fills-history"] >= 5
    assert summary.new_rows["fills"] == 0


def test_stale_last_sync_warns_that_a_gap_is_lost(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    sim.clock_offset_ms += 120 * DAY
    summary = sync(db, sim, acc)
    text = " ".join(summary.warnings)
    for resource in ("fills", "bills", "positions_history"):
        assert f"{resource}: the last successful sync" in text
    assert "missing for good" in summary.to_text()
    assert len(keys(db, "fills", acc.uid)) == len(acc.fills)  # the warehouse keeps it all


# ----------------------------------------------------------------------------- schema


def test_exact_decimals_empty_strings_and_unknown_fields(tmp_path: Path, history: Any) -> None:
    acc = history.accounts[0]
    fill = acc.fills[0]
    fill["fee"] = "-0.00000192834"
    fill["fillPx"] = "8694.2179403378290202"
    fill["fillPxVol"] = ""
    fill["brandNewField"] = "kept"
    bill = acc.bills[0]
    bill["balChg"] = "8694.2179403378290202"
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        db = tmp_path / "j.duckdb"
        sync(db, sim, acc)
    row = query(
        db,
        "SELECT fee, fill_px, fill_px_vol, brand_new_field FROM okx_raw.fills WHERE bill_id = ?",
        [fill["billId"]],
    )[0]
    assert row[0] == Decimal("-0.00000192834")
    assert row[1] == Decimal("8694.2179403378290202")
    assert row[2] is None
    assert row[3] == "kept"
    assert query(db, "SELECT count(brand_new_field) FROM okx_raw.fills")[0][0] == 1
    bal = query(db, "SELECT bal_chg FROM okx_raw.bills WHERE bill_id = ?", [bill["billId"]])[0][0]
    assert bal == Decimal("8694.2179403378290202")
    types = dict(
        query(
            db,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'okx_raw' AND table_name = 'fills'",
        )
    )
    assert types["fill_px"] == "DECIMAL(38,18)" and types["fee"] == "DECIMAL(38,18)"
    assert types["ts"] == "TIMESTAMP WITH TIME ZONE" and types["bill_id"] == "VARCHAR"
    # every documented column exists even when all values are empty
    assert "fill_fwd_px" in types and "trade_quote_ccy" in types
    # the digits that arrive are the digits stored: every fill price round-trips
    stored = dict(query(db, "SELECT bill_id, fill_px FROM okx_raw.fills"))
    for f in acc.fills:
        assert stored[f["billId"]] == Decimal(f["fillPx"])


def test_expired_instrument_is_kept(
    tmp_path: Path, sim: Simulator, history: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sources.okx.resources.instruments as instruments_module

    monkeypatch.setattr(instruments_module, "INSTRUMENT_REFRESH_MS", 0)  # re-merge every run
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    live = [i for i in history.instruments if i["instType"] in ("FUTURES", "OPTION")
            and not (i.get("expTime") and int(i["expTime"]) <= sim.now_ms())]
    assert live
    gone = live[0]
    stored = query(db, "SELECT inst_id, ct_val FROM okx_raw.instruments WHERE inst_id = ?",
                   [gone["instId"]])
    assert stored, "instrument was not loaded on the first run"
    with sim.lock:
        gone["expTime"] = str(sim.now_ms() - 1000)
    sim.invalidate()
    sync(db, sim, acc)
    after = query(db, "SELECT inst_id, ct_val, first_seen_at < last_seen_at FROM okx_raw.instruments WHERE inst_id = ?",
                  [gone["instId"]])
    assert [(r[0], r[1]) for r in after] == stored
    # a listed instrument keeps its first_seen_at and gets a new last_seen_at
    assert query(db, "SELECT bool_or(first_seen_at < last_seen_at) FROM okx_raw.instruments")[0][0]


# ----------------------------------------------------------------------------- accounts


def test_two_accounts_into_one_database_with_separate_cursors(tmp_path: Path) -> None:
    history = generate_history(seed=8, scale=300, accounts=2, end_ms=ANCHOR_MS)
    a, b = history.accounts
    db = tmp_path / "j.duckdb"
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        sync(db, sim, a)
        sync(db, sim, b)
        assert_exactly_once(db, a)
        assert_exactly_once(db, b)
        with sim.lock:
            history.extend(b, 60)
        sim.stats.reset()
        again = sync(db, sim, a)  # account a: nothing new, b's newer cursor is not a's
        assert again.new_rows["fills"] == 0
        assert sim.stats.requests["/api/v5/trade/fills-history"] == 0
        sync(db, sim, b)
        assert_exactly_once(db, a)
        assert_exactly_once(db, b)
    uids = {r[0] for r in query(db, "SELECT DISTINCT account_uid FROM okx_raw.fills")}
    assert uids == {a.uid, b.uid}
    assert {r[0] for r in query(db, "SELECT uid FROM okx_raw.account_config")} == {a.uid, b.uid}


def test_each_database_has_its_own_pipeline_state(tmp_path: Path, sim: Simulator, history: Any) -> None:
    acc = history.accounts[0]
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    sync(one, sim, acc)
    sync(two, sim, acc)  # a fresh database gets a full load, not one's cursors
    assert_exactly_once(two, acc)
    assert pipelines_dir_for(one) != pipelines_dir_for(two)
    assert pipelines_dir_for(one).is_dir()


def test_deleted_database_starts_from_scratch(tmp_path: Path, sim: Simulator, history: Any) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    db.unlink()
    Path(str(db) + ".wal").unlink(missing_ok=True)
    assert pipelines_dir_for(db).exists()
    summary = sync(db, sim, acc)
    assert summary.new_rows["fills"] == len(acc.fills)
    assert_exactly_once(db, acc)


def test_no_secret_in_logs_state_traces_or_database(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    lines: list[str] = []
    opts = SyncOptions(db_path=db, credentials=creds(acc), base_url=sim.url, rate_limits=False,
                       transforms=False, progress=False)
    summary = run_sync(opts, log=lines.append)
    assert lines and any("syncing OKX account" in ln for ln in lines)
    text = "\n".join(lines) + summary.to_text() + str(summary.to_dict())
    files = [p for p in pipelines_dir_for(db).rglob("*") if p.is_file()] + [db]
    for secret in (acc.secret, acc.passphrase):
        assert secret not in text
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


def test_key_that_can_trade_is_refused_unless_allowed(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    from sources.okx.errors import PermissionRefused

    acc = history.accounts[0]
    acc.perm = "read_only,trade"
    db = tmp_path / "j.duckdb"
    with pytest.raises(PermissionRefused) as info:
        sync(db, sim, acc)
    assert info.value.exit_code == 3 and not db.exists()
    summary = sync(db, sim, acc, allow_write_permissions=True)
    assert any("trade" in w for w in summary.warnings)
    assert_exactly_once(db, acc)


# ----------------------------------------------------------------------------- failures


def test_revoked_key_exits_3_and_keeps_the_data(tmp_path: Path, sim: Simulator, history: Any) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    acc.revoked = True
    with pytest.raises(OkxAuthError) as info:
        sync(db, sim, acc)
    assert info.value.exit_code == 3
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OKX_API")},
        "OKX_API_KEY": acc.api_key,
        "OKX_API_SECRET": acc.secret,
        "OKX_API_PASSPHRASE": acc.passphrase,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "okx_journal.cli", "sync", "--db", str(db), "--base-url", sim.url],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if ln.strip()]) >= 1
    acc.revoked = False
    assert_exactly_once(db, acc)


RUNNER = """
import sys
from pathlib import Path
from okx_journal.sync import SyncOptions, run_sync
from sources.okx.credentials import OkxCredentials
db, url, key, secret, passphrase, limits, full = sys.argv[1:8]
run_sync(SyncOptions(db_path=Path(db), credentials=OkxCredentials(key, secret, passphrase),
                     base_url=url, rate_limits=limits == "1", full_refresh=full == "1",
                     transforms=False, quiet=True))
"""


def runner(
    db: Path, sim: Simulator, acc: Any, limits: bool = False, full_refresh: bool = False
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(db), sim.url, acc.api_key, acc.secret,
         acc.passphrase, "1" if limits else "0", "1" if full_refresh else "0"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def test_two_syncs_at_once_second_exits_6_at_once(tmp_path: Path) -> None:
    history = generate_history(seed=6, scale=1000, end_ms=ANCHOR_MS)
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    with Simulator(history, rate_limits=True, clock_offset_ms=anchor_offset()) as sim:
        first = runner(db, sim, acc, limits=True)
        lock = db.with_name(db.name + ".lock")
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            time.sleep(0.05)
        with pytest.raises(SyncLocked) as info:
            sync(db, sim, acc)
        assert info.value.exit_code == 6
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OKX_API")},
            "OKX_API_KEY": acc.api_key,
            "OKX_API_SECRET": acc.secret,
            "OKX_API_PASSPHRASE": acc.passphrase,
        }
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "okx_journal.cli", "sync", "--db", str(db), "--base-url", sim.url],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=60,
        )
        elapsed = time.monotonic() - started
        still_running = first.poll() is None
        assert proc.returncode == 6, proc.stderr
        assert still_running, "the first sync ended before the second was refused"
        assert elapsed < 15
        os.kill(first.pid, signal.SIGKILL)  # no need to wait for the rate-limited backfill
        first.wait(timeout=30)
        sim.rate_limits = False
        sync(db, sim, acc)
    assert_exactly_once(db, acc)


def pending_packages(db: Path) -> int:
    root = pipelines_dir_for(db) / "okx_journal" / "load"
    return sum(
        1 for stage in ("extracted", "normalized") if (root / stage).is_dir()
        for _ in (root / stage).iterdir()
    )


def test_kill_9_at_random_points_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """12+ runs killed with SIGKILL at random moments (some full refreshes, records arriving
    in between), then one clean run: every record exactly once. Backfills come in packages
    of ~500 ledger rows here, so kills also land between and inside backfill windows."""
    monkeypatch.setenv("SOURCES__OKX__BACKFILL_PACKAGE_ROWS", "500")
    history = generate_history(seed=9, scale=2500, end_ms=ANCHOR_MS)
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    rng = random.Random(20261123)
    kills = attempts = left_pending = 0
    upper = 6.0  # about the length of a run; re-estimated whenever one completes
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        while kills < 10 and attempts < 30:
            attempts += 1
            if attempts % 4 == 0:
                with sim.lock:
                    history.extend(acc, 80)
            proc = runner(db, sim, acc, full_refresh=attempts % 3 == 0)
            started = time.monotonic()
            try:
                proc.wait(timeout=rng.uniform(0.3, upper))
                upper = max(1.0, (time.monotonic() - started) * 1.05)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
                kills += 1
                left_pending += pending_packages(db) > 0
        assert kills >= 10
        summary = sync(db, sim, acc)
        assert_exactly_once(db, acc)
        again = sync(db, sim, acc)
        assert again.new_rows["fills"] == 0 and again.new_rows["bills"] == 0
        assert_exactly_once(db, acc)
    assert summary.account_uid == acc.uid
    print(f"{kills} kills in {attempts} runs, {left_pending} left a pending load package")


def test_pending_package_of_an_interrupted_run_is_loaded_first(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    """Killed between normalize and load: the next sync loads that package, then syncs."""
    from okx_journal.sync import _pipeline
    from sources.okx.source import okx_source

    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    pipeline = _pipeline(db)
    pipeline.extract(okx_source(credentials=creds(acc), base_url=sim.url, rate_limits=False))
    pipeline.normalize()
    assert pending_packages(db) == 1 and not db.exists() or pending_packages(db) == 1
    with sim.lock:
        history.extend(acc, 50)
    summary = sync(db, sim, acc)
    assert summary.resumed_package
    assert pending_packages(db) == 0
    assert_exactly_once(db, acc)


def test_killed_in_the_commit_of_normalize_the_next_sync_loads_once(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    """Killed after normalize renamed the package into the load storage and before it
    deleted the extracted copy: the next syncs load it once and go on (they failed at
    normalize's rename, "Directory not empty", every time)."""
    from okx_journal.sync import _pipeline
    from sources.okx.source import okx_source

    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    with sim.lock:
        history.extend(acc, 30)
    pipeline = _pipeline(db)
    pipeline.extract(okx_source(credentials=creds(acc), base_url=sim.url, rate_limits=False))
    extracted = Path(pipeline.working_dir) / "normalize" / "extracted"
    (load_id,) = [p.name for p in extracted.iterdir()]
    copy = tmp_path / "extracted-copy"
    shutil.copytree(extracted / load_id, copy)
    pipeline.normalize()
    shutil.copytree(copy, extracted / load_id)  # the state such a kill leaves
    assert pipeline.list_extracted_load_packages() == [load_id]
    assert pipeline.list_normalized_load_packages() == [load_id]
    with sim.lock:
        history.extend(acc, 50)
    summary = sync(db, sim, acc)
    assert summary.resumed_package
    assert pending_packages(db) == 0
    assert_exactly_once(db, acc)
    assert sync(db, sim, acc).new_rows["bills"] == 0


def test_dlt_entry_point_loads_a_backfill_in_packages_exactly_once(tmp_path: Path) -> None:
    """``python pipelines/okx_pipeline.py`` (dlt-conventional use) runs every package."""
    history = generate_history(seed=4, scale=800, end_ms=ANCHOR_MS)
    acc = history.accounts[0]
    db = tmp_path / "dlt.duckdb"
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OKX_", "SOURCES__"))},
            "SOURCES__OKX__CREDENTIALS__API_KEY": acc.api_key,
            "SOURCES__OKX__CREDENTIALS__SECRET": acc.secret,
            "SOURCES__OKX__CREDENTIALS__PASSPHRASE": acc.passphrase,
            "SOURCES__OKX__BASE_URL": sim.url,
            "SOURCES__OKX__RATE_LIMITS": "false",
            "SOURCES__OKX__BACKFILL_PACKAGE_ROWS": "300",
        }
        result = subprocess.run(
            [sys.executable, str(REPO / "pipelines" / "okx_pipeline.py"), str(db)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
    assert_exactly_once(db, acc)
    loads = query(db, "SELECT count(*) FROM okx_raw._dlt_loads")[0][0]
    assert loads > 3  # several backfill packages, then the last one
    assert query(db, "SELECT count(DISTINCT snapshot_at) FROM okx_raw.snapshots")[0][0] == 1


def test_summary_says_the_rate_limit_waits_are_summed_over_parallel_endpoints(tmp_path: Path) -> None:
    # the waits of endpoints read in parallel add up to more than the sync's wall time
    summary = SyncSummary(db_path=tmp_path / "w.duckdb", seconds=134.9, rate_limit_waits=475,
                          rate_limit_wait_seconds=180.5)
    text = summary.to_text()
    assert "paused 475 times for OKX's rate limits (180.5 s summed over the endpoints" in text
    assert "Waited" not in text


def test_progress_line_says_how_far_back_the_walks_are() -> None:
    from okx_journal.sync import _Progress

    lines: list[str] = []
    progress = _Progress(lines.append, live=False)
    progress.on_rows("bills", 32_321)
    progress.on_rows("positions", 8)
    progress.on_wait("/api/v5/account/bills-archive", 0.4)
    assert progress.line() == "syncing: bills 32,321  positions 8  |  rate-limit waits 1 (0.4 s)"
    # 2026-09-14 00:00 UTC .. 2026-11-30 00:00 UTC; positions are a snapshot: no date
    progress.reached = lambda: {"bills": 1_789_344_000_000, "positions": 1_796_000_000_000}
    assert progress.line() == (
        "syncing: bills 32,321 (back to 2026-09-14)  positions 8  |  rate-limit waits 1 (0.4 s)"
    )


def test_live_progress_line_fits_one_terminal_row(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os as _os

    from okx_journal import sync as sync_module

    monkeypatch.setattr(sync_module.shutil, "get_terminal_size",
                        lambda fallback=(120, 24): _os.terminal_size((60, 24)))
    progress = sync_module._Progress(lambda text: None, live=True)
    for name in ("account_config", "balances", "bills", "fills", "positions_history"):
        progress.on_rows(name, 123_456)
    progress.show()
    written = capsys.readouterr().err
    assert written.startswith("\r\x1b[Ksyncing: account_config 123,456")
    shown = written.removeprefix("\r\x1b[K")
    assert len(shown) == 59 and shown.endswith("...")


def test_observer_records_how_far_back_each_walk_read(tmp_path: Path) -> None:
    """The progress line's "back to" day: page by page, down to the oldest record."""
    import dlt

    from sources.okx.source import SourceObserver, okx_source

    history = generate_history(seed=4, scale=400, end_ms=ANCHOR_MS)
    acc = history.accounts[0]
    observer = SourceObserver()
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        pipeline = dlt.pipeline(
            pipeline_name="reach", pipelines_dir=str(tmp_path / "dlt"),
            destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")), dataset_name="okx_raw",
        )
        pipeline.run(okx_source(credentials=creds(acc), base_url=sim.url, rate_limits=False,
                                observer=observer))
    reached = observer.reached()
    assert reached["fills"] == min(int(f["ts"]) for f in acc.fills)
    assert reached["bills"] == min(int(b["ts"]) for b in acc.bills)
    assert reached["positions_history"] == min(int(p["uTime"]) for p in acc.positions_history)
