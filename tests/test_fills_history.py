"""fills-history is walked back until OKX returns nothing older, never to a fixed 90 days.

OKX's docs give fills-history 3 months (older copies) or 1 year (since 2025): the
simulator serves ``fills_retention_days`` of it, and a history of ~500 days leaves fills
older than that which it does not serve. Syncs run against the loopback simulator.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import ANCHOR_MS, anchor_offset

from okx_journal.simulator import Simulator, generate_history
from okx_journal.simulator import server as sim_server
from okx_journal.sync import SyncOptions, SyncSummary, run_sync
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import OkxAuthError

DAY = 86_400_000
FILLS_HISTORY = "/api/v5/trade/fills-history"


def sync(db: Path, sim: Simulator, account: Any, **kw: Any) -> SyncSummary:
    opts = SyncOptions(
        db_path=db,
        credentials=OkxCredentials(account.api_key, account.secret, account.passphrase),
        base_url=sim.url,
        rate_limits=False,
        transforms=False,
        quiet="log" not in kw,
    )
    return run_sync(opts, **kw)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def served(account: Any, since_ms: int) -> set[str]:
    return {f["billId"] for f in account.fills if int(f["ts"]) >= since_ms}


def assert_served_fills_once(db: Path, account: Any, first_ms: int, last_ms: int, days: int) -> None:
    """The database holds every fill OKX served, once (the served window moved from
    ``first_ms - days`` to ``last_ms - days`` while the sync ran)."""
    got = [r[0] for r in query(db, f"SELECT bill_id FROM okx_raw.fills WHERE account_uid = '{account.uid}'")]
    assert len(got) == len(set(got)), "duplicate fills"
    assert served(account, last_ms - days * DAY) <= set(got)
    assert set(got) <= served(account, first_ms - days * DAY)


@pytest.fixture(scope="module")
def history() -> Any:
    return generate_history(seed=5, scale=6000, days=500, end_ms=ANCHOR_MS)


def months(ms: int) -> int:
    return round(ms / DAY / 30.44)


@pytest.mark.parametrize(
    ("days", "package_rows"),
    [(365, 0), (365, 1000), (90, 1000)],
    ids=["1-year-one-package", "1-year-in-packages", "3-months-in-packages"],
)
def test_first_sync_loads_every_fill_okx_returns(
    tmp_path: Path, history: Any, days: int, package_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__OKX__BACKFILL_PACKAGE_ROWS", str(package_rows))
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    with Simulator(history, rate_limits=False, fills_retention_days=days, clock_offset_ms=anchor_offset()) as sim:
        first_ms = sim.now_ms()
        first = sync(db, sim, acc)
        last_ms = sim.now_ms()
        assert_served_fills_once(db, acc, first_ms, last_ms, days)
        assert len(served(acc, last_ms - days * DAY)) < len(acc.fills)  # some are too old
        if days > 90:  # the walk went on past 90 days
            old = query(db, "SELECT count(*) FROM okx_raw.fills "
                            f"WHERE epoch_ms(ts) < {first_ms - 100 * DAY}")[0][0]
            assert old > 1000
        if package_rows:
            assert first.packages > 1
            # each package holds about package_rows fills, however far back OKX goes
            per_package = [n for (n,) in query(
                db, "SELECT count(*) FROM okx_raw.fills GROUP BY _dlt_load_id")]
            assert max(per_package) <= 1.5 * package_rows
        # the summary names the oldest fill OKX returned
        oldest = query(db, "SELECT min(epoch_ms(ts)) FROM okx_raw.fills")[0][0]
        day = time.strftime("%Y-%m-%d", time.gmtime(oldest / 1000))
        text = [w for w in first.warnings if w.startswith("fills: OKX returned fills back to")]
        assert len(text) == 1, first.warnings
        assert f"back to {day} (about {months(last_ms - oldest)} months" in text[0]
        assert f"about {round(days / 30.44)} months" in text[0]
        assert not [w for w in first.warnings if "last successful sync" in w]

        sim.stats.reset()
        second = sync(db, sim, acc)
        assert second.new_rows["fills"] == 0 and second.packages == 1
        assert sim.stats.requests[FILLS_HISTORY] == 0
        assert_served_fills_once(db, acc, first_ms, sim.now_ms(), days)


def test_backfill_stopped_in_its_deep_packages_goes_on_where_it_stopped(
    tmp_path: Path, history: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync that fails while walking fills older than 3 months keeps what it loaded."""
    monkeypatch.setenv("SOURCES__OKX__BACKFILL_PACKAGE_ROWS", "1000")
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    with Simulator(history, rate_limits=False, fills_retention_days=365, clock_offset_ms=anchor_offset()) as sim:
        first_ms = sim.now_ms()
        parts: list[str] = []

        def fail_after_one_part(line: str) -> None:
            if re.search(r"backfill: \d+ part", line):
                parts.append(line)
                if len(parts) == 1:
                    sim.inject(sim_server.Fault("code", path=FILLS_HISTORY, code="50113",
                                                times=10_000))

        with pytest.raises(OkxAuthError):
            sync(db, sim, acc, log=fail_after_one_part)
        sim.clear_faults()
        kept = query(db, "SELECT count(*), count(DISTINCT bill_id) FROM okx_raw.fills")[0]
        assert 0 < kept[0] == kept[1] < len(served(acc, sim.now_ms() - 365 * DAY))
        sim.stats.reset()
        summary = sync(db, sim, acc)
        assert_served_fills_once(db, acc, first_ms, sim.now_ms(), 365)
        assert summary.new_rows["fills"] > 0


def test_stale_sync_warning_uses_the_window_okx_returned(tmp_path: Path, history: Any) -> None:
    """After OKX returned a year of fills, 120 days without a sync lose no fill (the
    3-month ledger still warns); with 3 months of fills, fills warn too."""
    acc = history.accounts[0]
    for days, fills_warn in ((365, False), (90, True)):
        db = tmp_path / f"j{days}.duckdb"
        with Simulator(history, rate_limits=False, fills_retention_days=days, clock_offset_ms=anchor_offset()) as sim:
            sync(db, sim, acc)
            sim.clock_offset_ms += 120 * DAY
            summary = sync(db, sim, acc)
        text = " ".join(summary.warnings)
        assert "bills: the last successful sync" in text
        assert ("fills: the last successful sync" in text) is fills_warn
        if fills_warn:
            assert "longer ago than OKX surely keeps fills (90 days" in text
