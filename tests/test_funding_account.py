"""The funding account (ledger, deposits, withdrawals) synced from the loopback simulator.

Every test compares what landed in ``okx_raw.funding_bills``, ``deposits`` and
``withdrawals`` with the generator's records: the same keys, each exactly once, the same
sums, and only as many requests as the cursors need.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest
from conftest import ANCHOR_MS, anchor_offset

from okx_journal.simulator import Simulator, generate_history
from okx_journal.simulator import server as sim_server
from okx_journal.sync import SyncOptions, SyncSummary, run_sync
from sources.okx import asset
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import OkxAuthError

DAY = 86_400_000
FUNDING_PATHS = (
    "/api/v5/asset/bills",
    "/api/v5/asset/bills-history",
    "/api/v5/asset/deposit-history",
    "/api/v5/asset/withdrawal-history",
)


def creds(account: Any) -> OkxCredentials:
    return OkxCredentials(account.api_key, account.secret, account.passphrase)


def sync(db: Path, sim: Simulator, account: Any, **kw: Any) -> SyncSummary:
    return run_sync(SyncOptions(
        db_path=db, credentials=creds(account), base_url=sim.url,
        rate_limits=kw.pop("rate_limits", False), transforms=kw.pop("transforms", False),
        quiet=True, **kw,
    ))


def query(db: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def sums(records: Sequence[Mapping[str, Any]], ccy: str, amount: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in records:
        out[str(r[ccy])] += Decimal(str(r[amount]))
    return dict(out)


def db_sums(db: Path, table: str, ccy: str, amount: str, uid: str) -> dict[str, Decimal]:
    rows = query(db, f"SELECT {ccy}, sum({amount}) FROM okx_raw.{table} WHERE account_uid = ? "
                     f"GROUP BY {ccy}", [uid])
    return {str(c): Decimal(s) for c, s in rows}


def assert_funding_account_exactly_once(db: Path, account: Any) -> None:
    """The three tables hold exactly the simulator's records, once each, same sums."""
    for table, records, key_col, key in (
        ("funding_bills", account.funding_bills, "bill_id", "billId"),
        ("deposits", account.deposits, "dep_id", "depId"),
        ("withdrawals", account.withdrawals, "wd_id", "wdId"),
    ):
        got = [r[0] for r in query(db, f"SELECT {key_col} FROM okx_raw.{table} "
                                       "WHERE account_uid = ?", [account.uid])]
        assert len(got) == len(set(got)), f"duplicates in {table}"
        want = {str(r[key]) for r in records}
        assert set(got) == want, f"{table}: {len(want - set(got))} missing, {len(set(got) - want)} extra"
    assert db_sums(db, "funding_bills", "ccy", "bal_chg", account.uid) == \
        sums(account.funding_bills, "ccy", "balChg")
    assert db_sums(db, "deposits", "ccy", "amt", account.uid) == sums(account.deposits, "ccy", "amt")
    assert db_sums(db, "withdrawals", "ccy", "amt", account.uid) == \
        sums(account.withdrawals, "ccy", "amt")
    assert db_sums(db, "withdrawals", "fee_ccy", "fee", account.uid) == \
        sums(account.withdrawals, "feeCcy", "fee")


def funding_requests(sim: Simulator) -> dict[str, int]:
    return {p: sim.stats.requests[p] for p in FUNDING_PATHS}


def strict_page(rows: Sequence[Mapping[str, Any]], keys: Sequence[int], after: int | None,
                before: int | None, limit: int, adjacent: bool) -> list[Mapping[str, Any]]:
    """The simulator's page without its choice of keeping a millisecond together: cut at
    ``limit`` rows, even inside one ``ts`` (what OKX may do; it is not documented)."""
    lo, hi = 0, len(rows)
    if after is not None:
        hi = bisect.bisect_left(keys, after)
    if before is not None:
        lo = max(lo, bisect.bisect_right(keys, before))
    if hi <= lo:
        return []
    if before is not None and after is None and adjacent:
        return list(reversed(rows[lo:min(hi, lo + limit)]))
    return list(reversed(rows[max(lo, hi - limit):hi]))


@pytest.fixture(scope="module")
def two_years() -> Any:
    """730 days ending 20 days before the anchor: room to add new funding activity up to the
    simulator's clock (just after the anchor)."""
    end = ANCHOR_MS - 20 * DAY
    return generate_history(seed=5, scale=200, days=730, end_ms=end)


@pytest.fixture
def history(two_years: Any) -> Any:
    import copy

    return copy.deepcopy(two_years)


@pytest.fixture
def sim(history: Any) -> Iterator[Simulator]:
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as s:
        yield s


# ----------------------------------------------------------------------------- loads


def test_first_sync_loads_two_years_of_the_funding_account_exactly_once(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    acc = history.accounts[0]
    assert min(int(b["ts"]) for b in acc.funding_bills) < sim.now_ms() - 600 * DAY
    db = tmp_path / "j.duckdb"
    summary = sync(db, sim, acc)
    assert not [w for w in summary.warnings if not w.startswith("fills: OKX returned")]
    assert_funding_account_exactly_once(db, acc)
    req = funding_requests(sim)
    # the recent month from asset/bills, the rest (and nothing twice) from bills-history
    assert req["/api/v5/asset/bills"] >= 1 and req["/api/v5/asset/bills-history"] >= 2
    # types as the journal reads them; the object addrEx is JSON text, fee a decimal
    types = dict(query(db, "SELECT table_name || '.' || column_name, data_type FROM "
                           "information_schema.columns WHERE table_schema = 'okx_raw' AND "
                           "table_name IN ('funding_bills', 'deposits', 'withdrawals')"))
    assert types["funding_bills.bal_chg"] == types["withdrawals.fee"] == "DECIMAL(38,18)"
    assert types["deposits.ts"] == "TIMESTAMP WITH TIME ZONE"
    assert types["withdrawals.non_tradable_asset"] == "BOOLEAN"
    assert types["withdrawals.addr_ex"] == types["deposits.actual_dep_blk_confirm"] == "VARCHAR"


def test_second_sync_reads_only_the_overlap_and_third_adds_exactly_what_is_new(
    tmp_path: Path, sim: Simulator, history: Any
) -> None:
    acc = history.accounts[0]
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    counts = [len(acc.funding_bills), len(acc.deposits), len(acc.withdrawals)]

    sim.stats.reset()
    sync(db, sim, acc)
    assert_funding_account_exactly_once(db, acc)
    # the overlap below the checkpoint only (deposits and withdrawals: 30 days): one page
    # each, asset/bills one more (an empty one: nothing older in its month)
    assert funding_requests(sim) == {
        "/api/v5/asset/bills": 2,
        "/api/v5/asset/bills-history": 0,
        "/api/v5/asset/deposit-history": 1,
        "/api/v5/asset/withdrawal-history": 1,
    }

    with sim.lock:
        history.extend(acc, 60, end_ms=ANCHOR_MS + 4 * 60_000)  # a minute before the server's clock
    sim.invalidate()
    new = [len(acc.funding_bills), len(acc.deposits), len(acc.withdrawals)]
    assert new[0] > counts[0] and new[1] + new[2] > counts[1] + counts[2]
    sim.stats.reset()
    sync(db, sim, acc)
    assert_funding_account_exactly_once(db, acc)
    assert sim.stats.requests["/api/v5/asset/bills-history"] == 0  # 20 days: asset/bills only


@pytest.mark.parametrize("okx_keeps_a_millisecond_together", [True, False])
def test_page_boundaries_inside_one_millisecond_lose_and_double_nothing(
    tmp_path: Path, sim: Simulator, history: Any, monkeypatch: pytest.MonkeyPatch,
    okx_keeps_a_millisecond_together: bool,
) -> None:
    """Pages of 5 rows, and records sharing one ``ts``: 12 funding bills (more than a
    page: read again by billId) in the old history and 7 in the recent month, 4 deposits
    and 4 withdrawals; OKX either keeps a millisecond on one page or cuts it."""
    monkeypatch.setattr(asset, "PAGE_ROWS", 5)
    if not okx_keeps_a_millisecond_together:
        monkeypatch.setattr(sim_server, "_ts_page", strict_page)
    acc = history.accounts[0]
    now = ANCHOR_MS + 5 * 60_000  # the simulator's clock
    next_id = max(int(b["billId"]) for b in acc.funding_bills)
    for ts, n in ((now - 400 * DAY + 17, 12), (now - 3 * DAY + 5, 7)):
        for i in range(n):
            next_id += 1
            acc.funding_bills.append({"billId": str(next_id), "ccy": "USDT", "clientId": "",
                                      "balChg": f"{i + 1}.5", "bal": "0", "type": "150",
                                      "notes": "airdrop", "ts": str(ts)})
    for records, key, n in ((acc.deposits, "depId", 4), (acc.withdrawals, "wdId", 4)):
        base = dict(records[len(records) // 2])
        for i in range(n):
            records.append({**base, key: f"9{i}{base[key]}", "amt": f"{i + 1}.25",
                            "ts": str(now - 200 * DAY + 3)})
    for records in (acc.funding_bills, acc.deposits, acc.withdrawals):
        records.sort(key=lambda r: int(r["ts"]))
    db = tmp_path / "j.duckdb"
    summary = sync(db, sim, acc)
    assert not [w for w in summary.warnings if not w.startswith("fills: OKX returned")]
    assert_funding_account_exactly_once(db, acc)
    # and incrementally: the new burst shares the newest millisecond of the first sync
    newest = max(int(b["ts"]) for b in acc.funding_bills)
    for _ in range(6):
        next_id += 1
        acc.funding_bills.append({"billId": str(next_id), "ccy": "ETH", "clientId": "",
                                  "balChg": "0.01", "bal": "0", "type": "150", "notes": "",
                                  "ts": str(newest)})
    sync(db, sim, acc)
    assert_funding_account_exactly_once(db, acc)


def test_deposit_and_withdrawal_whose_state_changes_are_updated_in_place(
    tmp_path: Path, sim: Simulator, history: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asset, "PAGE_ROWS", 5)
    acc = history.accounts[0]
    now = ANCHOR_MS + 5 * 60_000  # the simulator's clock
    old_dep = next(d for d in reversed(acc.deposits) if int(d["ts"]) < now - 200 * DAY)
    old_wd = next(w for w in reversed(acc.withdrawals) if int(w["ts"]) < now - 100 * DAY)
    old_dep["state"], old_wd["state"] = "1", "0"  # credited; waiting for the transfer
    db = tmp_path / "j.duckdb"
    sync(db, sim, acc)
    assert query(db, "SELECT state FROM okx_raw.deposits WHERE dep_id = ?",
                 [old_dep["depId"]]) == [("1",)]

    old_dep["state"], old_wd["state"] = "2", "2"
    sim.stats.reset()
    sync(db, sim, acc)
    assert query(db, "SELECT state FROM okx_raw.deposits WHERE dep_id = ?",
                 [old_dep["depId"]]) == [("2",)]
    assert query(db, "SELECT state FROM okx_raw.withdrawals WHERE wd_id = ?",
                 [old_wd["wdId"]]) == [("2",)]
    assert_funding_account_exactly_once(db, acc)
    went_back = funding_requests(sim)

    # nothing pending any more: the next sync re-reads the last 30 days only
    sim.stats.reset()
    sync(db, sim, acc)
    assert_funding_account_exactly_once(db, acc)
    recent = funding_requests(sim)
    for path in ("/api/v5/asset/deposit-history", "/api/v5/asset/withdrawal-history"):
        assert went_back[path] > recent[path], path
    newer_than_30_days = sum(1 for d in acc.deposits if int(d["ts"]) > now - 30 * DAY)
    assert recent["/api/v5/asset/deposit-history"] <= newer_than_30_days // 5 + 2


def test_requests_respect_the_per_endpoint_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator refuses what OKX would: no 50011 with the client's limiter on, and
    asset/bills-history (1 request / 1 s) paced. Only the funding account's resources run
    (the trading endpoints' pacing is not what this test is about)."""
    import dlt

    from sources.okx.ratelimit import ENDPOINT_LIMITS
    from sources.okx.source import okx_source

    assert ENDPOINT_LIMITS["/api/v5/asset/bills-history"] == (1, 1.0)
    for path in ("/api/v5/asset/bills", "/api/v5/asset/deposit-history",
                 "/api/v5/asset/withdrawal-history"):
        assert ENDPOINT_LIMITS[path] == (6, 1.0)
    monkeypatch.setattr(asset, "PAGE_ROWS", 30)
    h = generate_history(seed=3, scale=60, days=730, end_ms=ANCHOR_MS)
    acc = h.accounts[0]
    db = tmp_path / "j.duckdb"
    with Simulator(h, rate_limits=True, clock_offset_ms=anchor_offset()) as s:
        pipeline = dlt.pipeline(
            pipeline_name="limits", pipelines_dir=str(tmp_path / "dlt"),
            destination=dlt.destinations.duckdb(str(db)), dataset_name="okx_raw",
        )
        source = okx_source(credentials=creds(acc), base_url=s.url, rate_limits=True)
        started = time.monotonic()
        pipeline.run(source.with_resources("funding_bills", "deposits", "withdrawals"))
        elapsed = time.monotonic() - started
        assert s.stats.rate_limited == 0 and "50011" not in s.stats.codes
        req = funding_requests(s)
    assert req["/api/v5/asset/bills-history"] >= 4
    assert elapsed >= req["/api/v5/asset/bills-history"] - 1  # one a second at most
    assert_funding_account_exactly_once(db, acc)


# ----------------------------------------------------------------------------- permissions


@pytest.fixture(scope="module")
def eighty_days() -> Any:
    """Every trading record of it is still served (fills-history keeps a year)."""
    return generate_history(seed=8, scale=200, days=80, end_ms=ANCHOR_MS)


@pytest.mark.parametrize("code", ["50030", "50120", "51000"])
def test_key_without_funding_permission_still_syncs_the_trading_data(
    tmp_path: Path, eighty_days: Any, code: str
) -> None:
    acc = eighty_days.accounts[0]
    db = tmp_path / "j.duckdb"
    with Simulator(eighty_days, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        _no_funding_permission_then_granted(db, sim, acc, code)


def _no_funding_permission_then_granted(db: Path, sim: Simulator, acc: Any, code: str) -> None:
    sim.inject(sim_server.Fault("code", path="/api/v5/asset/", code=code, times=100_000))
    summary = sync(db, sim, acc, transforms=True)
    text = " ".join(summary.warnings)
    for resource in ("funding_bills", "deposits", "withdrawals"):
        assert f"{resource}: not synced" in text and f"code {code}" in text
    fills = query(db, "SELECT count(DISTINCT bill_id), count(*) FROM okx_raw.fills")[0]
    assert fills == (len(acc.fills), len(acc.fills))
    assert query(db, "SELECT count(*) FROM okx_raw.deposits")[0][0] == 0
    # the journal is built: transfers from the trading ledger, no deposit yet
    kinds = {k for (k,) in query(db, "SELECT DISTINCT kind FROM journal.cash_flows")}
    assert kinds <= {"transfer_in", "transfer_out"}

    # once the key may read the funding account, everything comes (the cursors did not move)
    sim.clear_faults()
    summary = sync(db, sim, acc, transforms=True)
    assert not [w for w in summary.warnings if not w.startswith("fills: OKX returned")]
    assert_funding_account_exactly_once(db, acc)


@pytest.mark.parametrize("code", ["50111", "50119"])
def test_auth_error_on_the_funding_account_still_stops_the_sync(
    tmp_path: Path, sim: Simulator, history: Any, code: str
) -> None:
    acc = history.accounts[0]
    sim.inject(sim_server.Fault("code", path="/api/v5/asset/", code=code, times=100_000))
    with pytest.raises(OkxAuthError) as info:
        sync(tmp_path / "j.duckdb", sim, acc)
    assert info.value.exit_code == 3


# ----------------------------------------------------------------------------- journal


def test_cash_flows_hold_every_deposit_withdrawal_and_transfer_once(
    tmp_path: Path, eighty_days: Any
) -> None:
    acc = eighty_days.accounts[0]
    db = tmp_path / "j.duckdb"
    with Simulator(eighty_days, rate_limits=False, clock_offset_ms=anchor_offset()) as s:
        sync(db, s, acc, transforms=True)
        sync(db, s, acc, transforms=True)  # a second sync (overlap re-read) doubles nothing
    flows = query(db, "SELECT kind, source_id, ccy, amount FROM journal.cash_flows "
                      "WHERE account_uid = ?", [acc.uid])
    keys = [(k, i) for k, i, _, _ in flows]
    assert len(keys) == len(set(keys))
    got: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for kind, source_id, _, amount in flows:
        got[kind][str(source_id)] = Decimal(amount)
    ok_deposits = {d["depId"]: Decimal(d["amt"]) for d in acc.deposits if d["state"] == "2"}
    ok_withdrawals = [w for w in acc.withdrawals if w["state"] == "2"]
    transfers = [b for b in acc.bills if b["type"] == "1"]
    assert ok_deposits and ok_withdrawals and transfers
    assert got["deposit"] == ok_deposits
    assert got["withdrawal"] == {w["wdId"]: -Decimal(w["amt"]) for w in ok_withdrawals}
    assert got["withdrawal_fee"] == {w["wdId"]: -Decimal(w["fee"]) for w in ok_withdrawals}
    assert {**got["transfer_in"], **got["transfer_out"]} == {
        b["billId"]: Decimal(b["balChg"]) for b in transfers
    }
    # each transfer also has its mirror in the funding ledger, which is not counted again
    mirrors = [b for b in acc.funding_bills if b["type"] in ("130", "131")]
    assert len(mirrors) == len(transfers)
    assert set(got) <= {"deposit", "withdrawal", "withdrawal_fee", "transfer_in", "transfer_out"}


# ----------------------------------------------------------------------------- the source


def test_source_reports_the_first_activity_and_keeps_its_cursors_in_state(tmp_path: Path) -> None:
    import dlt

    from sources.okx.resources.funding_bills import funding_bills
    from sources.okx.source import RESOURCES, SourceObserver, okx_source

    assert [r.name for r in RESOURCES][-3:] == ["funding_bills", "deposits", "withdrawals"]
    assert not any(r.every_package for r in RESOURCES[-3:])
    h = generate_history(seed=4, scale=150, days=300, end_ms=ANCHOR_MS)
    acc = h.accounts[0]
    observer = SourceObserver()
    with Simulator(h, rate_limits=False, clock_offset_ms=anchor_offset()) as s:
        pipeline = dlt.pipeline(
            pipeline_name="funding", pipelines_dir=str(tmp_path / "dlt"),
            destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
            dataset_name="okx_raw",
        )
        pipeline.run(okx_source(credentials=creds(acc), base_url=s.url, rate_limits=False,
                                observer=observer))
    first = min(int(b["ts"]) for b in acc.funding_bills)
    assert observer.reached()["funding_bills"] == first
    state = pipeline.state["sources"]["okx"]["accounts"][acc.uid]  # type: ignore[index]
    assert state["funding_bills"]["hwm_ts"] == max(int(b["ts"]) for b in acc.funding_bills)
    assert state["funding_bills"]["oldest_ts"] == first
    assert state["deposits"]["hwm_ts"] == max(int(d["ts"]) for d in acc.deposits)
    assert "pending_ts" not in state["deposits"]  # every generated deposit is final
    # the event another component waits on is set however the resource ends
    run = SimpleNamespace(funding_done=__import__("threading").Event())
    assert funding_bills.finished is not None
    funding_bills.finished(run)  # type: ignore[arg-type]
    assert run.funding_done.is_set()
