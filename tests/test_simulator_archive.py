"""The simulator's complete record: the quarterly ledger export (okx-api §3.4), the funding
account's ledger, deposits and withdrawals (§3.1, §3.11) and the fills-history retention
setting (§3.2), on a generated history long enough to hold several past quarters.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import httpx
import pytest

from okx_journal.simulator import DEMO_CREDENTIALS, History, Simulator, generate_history
from okx_journal.simulator import server as sim_server
from okx_journal.simulator.generator import (
    FUNDING_FROM_TRADING,
    FUNDING_TO_TRADING,
    load_history,
    save_history,
)
from okx_journal.simulator.server import ARCHIVE_COLUMNS, quarter_bounds
from tests.test_simulator import call, data, err

DAY = 86_400_000
ARCHIVE = "/api/v5/account/bills-history-archive"
CREDS: dict[str, Any] = {"key": DEMO_CREDENTIALS.api_key, "secret": DEMO_CREDENTIALS.secret,
                         "passphrase": DEMO_CREDENTIALS.passphrase}


@pytest.fixture(scope="module")
def history() -> History:
    return generate_history(seed=3, scale=400, days=400)


@pytest.fixture
def sim(history: History) -> Iterator[Simulator]:
    with Simulator(history, rate_limits=False, archive_ready_after_s=0.2) as s:
        yield s


def past_quarter(back: int = 1) -> tuple[int, int]:
    """(year, quarter) ``back`` quarters before the current one (UTC)."""
    t = time.gmtime()
    n = t.tm_year * 4 + (t.tm_mon - 1) // 3 - back
    return n // 4, n % 4 + 1


def apply(sim: Simulator, year: int, quarter: int, **kw: Any) -> httpx.Response:
    body = json.dumps({"year": str(year), "quarter": f"Q{quarter}"}, separators=(",", ":"))
    return call(sim, ARCHIVE, method="POST", body=body, **{**CREDS, **kw})


def link(sim: Simulator, year: int, quarter: int) -> dict[str, Any]:
    return data(call(sim, f"{ARCHIVE}?year={year}&quarter=Q{quarter}", **CREDS))[0]


def wait_finished(sim: Simulator, year: int, quarter: int) -> dict[str, Any]:
    deadline = time.time() + 5
    while True:
        got = link(sim, year, quarter)
        if got["state"] != "ongoing" or time.time() > deadline:
            return got
        time.sleep(0.05)


def read_csv(body: bytes) -> list[list[str]]:
    if body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            (name,) = z.namelist()
            body = z.read(name)
    elif body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def quarter_bills(history: History, year: int, quarter: int, overlap: int = 0) -> list[dict[str, Any]]:
    start, end = quarter_bounds(year, quarter)
    rows = [b for b in history.accounts[0].bills if start <= int(b["ts"]) < end + overlap]
    return sorted(rows, key=lambda b: int(b["billId"]), reverse=True)


# ----------------------------------------------------------------------------- export


@pytest.mark.parametrize(("fmt", "magic"), [("zip", b"PK\x03\x04"), ("gzip", b"\x1f\x8b"),
                                            ("csv", b"instType,")])
def test_apply_ongoing_finished_download(history: History, fmt: str, magic: bytes) -> None:
    year, quarter = past_quarter(1)
    with Simulator(history, rate_limits=False, archive_ready_after_s=1.5,
                   archive_format=fmt) as sim:  # type: ignore[arg-type]
        first = data(apply(sim, year, quarter))[0]
        assert first["result"] == "false" and first["ts"].isdigit()
        ongoing = link(sim, year, quarter)
        assert ongoing["state"] == "ongoing" and ongoing["fileHref"] == ""
        done = wait_finished(sim, year, quarter)
        assert done["state"] == "finished" and done["fileHref"].startswith(sim.url + "/archive-files/")
        assert data(apply(sim, year, quarter))[0]["result"] == "true"  # the file exists
        got = httpx.get(done["fileHref"])
    assert got.status_code == 200 and got.content.startswith(magic)
    rows = read_csv(got.content)
    assert tuple(rows[0]) == ARCHIVE_COLUMNS and len(ARCHIVE_COLUMNS) == 28
    assert "type" not in rows[0]
    want = quarter_bills(history, year, quarter)
    assert len(want) > 100
    assert [r[1] for r in rows[1:]] == [b["billId"] for b in want]  # reverse billId order
    for r, b in zip(rows[1:], want, strict=True):
        assert len(r) == 28
        assert r == [str(b[c]) for c in ARCHIVE_COLUMNS]  # plain: the REST text
    # the download went without OKX's headers, and the server noted it
    assert sim.download_log[-1]["okx_headers"] == [] and sim.download_log[-1]["status"] == 200


def test_statement_numbers_equal_rest_values(history: History) -> None:
    year, quarter = past_quarter(2)
    with Simulator(history, rate_limits=False, archive_ready_after_s=0,
                   archive_numbers="statement") as sim:
        data(apply(sim, year, quarter))
        rows = read_csv(httpx.get(wait_finished(sim, year, quarter)["fileHref"]).content)
    want = quarter_bills(history, year, quarter)
    body = rows[1:]
    assert len(body) == len(want) > 0
    text_differs = False
    for r, b in zip(body, want, strict=True):
        for col, v in zip(ARCHIVE_COLUMNS, r, strict=True):
            if col in sim_server.ARCHIVE_STATEMENT_DP and b[col] != "":
                assert Decimal(v) == Decimal(b[col]), (col, v, b[col])
                text_differs |= v != b[col]
            else:
                assert v == str(b[col])
    assert text_differs
    flat = [v for r in body for v in r]
    assert "0E-18" in flat  # zero written as OKX's statements do
    assert all("." in v or "E" in v for r in body for v in (r[4], r[6]))  # balChg, bal fixed


def test_archive_errors(sim: Simulator, history: History) -> None:
    year, quarter = past_quarter(1)
    assert err(call(sim, f"{ARCHIVE}?year={year}&quarter=Q{quarter}", **CREDS))[:2] == (200, "51604")
    cy, cq = past_quarter(0)
    assert err(apply(sim, cy, cq))[:2] == (200, "51606")  # the current quarter
    assert err(apply(sim, cy + 1, cq))[:2] == (200, "51606")  # a future one
    assert err(apply(sim, 2020, 4))[:2] == (200, "51608")  # before 2021-02-01
    first = min(int(b["ts"]) for b in history.accounts[0].bills)
    t = time.gmtime(first / 1000 - 100 * 86400)
    assert err(apply(sim, t.tm_year, (t.tm_mon - 1) // 3 + 1))[:2] == (200, "51608")  # before activity
    sim.archive_ready_after_s = 3600
    assert data(apply(sim, year, quarter))[0]["result"] == "false"
    assert err(apply(sim, year, quarter))[:2] == (200, "51607")  # still being processed
    y2, q2 = past_quarter(2)
    assert data(apply(sim, y2, q2))[0]["result"] == "false"  # another quarter may start
    sim.archive_busy_scope = "account"
    y3, q3 = past_quarter(3)
    assert err(apply(sim, y3, q3))[:2] == (200, "51607")
    assert link(sim, year, quarter)["state"] == "ongoing"
    bad = call(sim, ARCHIVE, method="POST", body='{"year":"2024","quarter":"q1"}', **CREDS)
    assert err(bad)[:2] == (400, "51000")


def test_failed_quarter_succeeds_on_the_next_apply(history: History) -> None:
    year, quarter = past_quarter(2)
    with Simulator(history, rate_limits=False, archive_ready_after_s=0.1,
                   archive_fail_quarters={f"{year}Q{quarter}"}) as sim:
        assert data(apply(sim, year, quarter))[0]["result"] == "false"
        failed = wait_finished(sim, year, quarter)
        assert failed["state"] == "failed" and failed["fileHref"] == ""
        assert data(apply(sim, year, quarter))[0]["result"] == "false"  # generation again
        assert wait_finished(sim, year, quarter)["state"] == "finished"


def test_apply_rate_limits(history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    year, quarter = past_quarter(1)
    with Simulator(history, archive_ready_after_s=3600) as sim:
        assert data(apply(sim, year, quarter))[0]["result"] == "false"
        r = apply(sim, year, quarter)
        assert err(r)[:2] == (429, "50011")  # 1 per 10 s
        assert err(apply(sim, year, quarter))[:2] == (429, "50011")  # refusals do not count
        assert link(sim, year, quarter)["state"] == "ongoing"  # the GET has its own limit
    # 12 per day: shrink the 10 s window to keep the test fast
    monkeypatch.setitem(sim_server.RATE_LIMITS, ("POST", ARCHIVE), ((1, 0.02), (12, 86_400.0)))
    for daily, last in ((True, "50011"), (False, "51607")):
        with Simulator(history, archive_ready_after_s=3600, archive_daily_limit=daily) as sim:
            codes = []
            for _ in range(13):
                time.sleep(0.03)
                codes.append(apply(sim, year, quarter).json()["code"])
            assert codes[:12] == ["0"] + ["51607"] * 11 and codes[12] == last


def test_expired_link_and_download_log(sim: Simulator, history: History) -> None:
    year, quarter = past_quarter(1)
    data(apply(sim, year, quarter))
    href = wait_finished(sim, year, quarter)["fileHref"]
    with_key = httpx.get(href, headers={"OK-ACCESS-KEY": "leak"})
    assert with_key.status_code == 200  # the file host does not care, but it is recorded
    assert sim.download_log[-1]["okx_headers"] == ["ok-access-key"]
    assert httpx.get(sim.url + "/archive-files/not-a-token").status_code == 403
    sim.clock_offset_ms = sim_server.ARCHIVE_LINK_TTL_MS - 5_000
    assert httpx.get(href).status_code == 200
    sim.clock_offset_ms = sim_server.ARCHIVE_LINK_TTL_MS + 1_000  # 5.5 h later
    gone = httpx.get(href)
    assert gone.status_code == 403 and b"AccessDenied" in gone.content
    assert [e["status"] for e in sim.download_log] == [200, 403, 200, 403]
    assert all(e["okx_headers"] == [] for e in sim.download_log if e is not sim.download_log[0])


def test_boundary_overlap_puts_rows_in_two_files(history: History) -> None:
    year, quarter = past_quarter(2)
    ny, nq = past_quarter(1)
    overlap = 5 * DAY
    with Simulator(history, rate_limits=False, archive_ready_after_s=0,
                   archive_boundary_overlap_ms=overlap) as sim:
        files = {}
        for y, qn in ((year, quarter), (ny, nq)):
            data(apply(sim, y, qn))
            files[(y, qn)] = read_csv(httpx.get(wait_finished(sim, y, qn)["fileHref"]).content)
    older = {r[1] for r in files[(year, quarter)][1:]}
    newer = {r[1] for r in files[(ny, nq)][1:]}
    both = older & newer
    _, end = quarter_bounds(year, quarter)
    assert both and all(end <= int(b["ts"]) < end + overlap
                        for b in history.accounts[0].bills if b["billId"] in both)
    assert [r[1] for r in files[(year, quarter)][1:]] == \
        [b["billId"] for b in quarter_bills(history, year, quarter, overlap)]


def test_archive_holds_trading_bills_only(sim: Simulator, history: History) -> None:
    year, quarter = past_quarter(1)
    data(apply(sim, year, quarter))
    rows = read_csv(httpx.get(wait_finished(sim, year, quarter)["fileHref"]).content)[1:]
    funding_ids = {b["billId"] for b in history.accounts[0].funding_bills}
    assert not funding_ids & {r[1] for r in rows}


# ----------------------------------------------------------------------------- funding account


def walk(sim: Simulator, path: str, cursor: str = "ts") -> list[dict[str, Any]]:
    sep = "&" if "?" in path else "?"
    out: list[dict[str, Any]] = []
    page = data(call(sim, path, **CREDS))
    while page:
        out.extend(page)
        page = data(call(sim, f"{path}{sep}after={page[-1][cursor]}", **CREDS))
    return out


def test_funding_bills_paging_and_windows(sim: Simulator, history: History) -> None:
    acc = history.accounts[0]
    now = int(time.time() * 1000)
    everything = walk(sim, "/api/v5/asset/bills-history?limit=3")
    assert [b["billId"] for b in everything] == [b["billId"] for b in reversed(acc.funding_bills)]
    month = walk(sim, "/api/v5/asset/bills?limit=2")
    want = [b["billId"] for b in reversed(acc.funding_bills) if int(b["ts"]) >= now - 30 * DAY - 5000]
    assert [b["billId"] for b in month] == want
    by_id = walk(sim, "/api/v5/asset/bills-history?limit=4&pagingType=2", cursor="billId")
    assert [b["billId"] for b in by_id] == [b["billId"] for b in reversed(acc.funding_bills)]
    usdt = walk(sim, "/api/v5/asset/bills-history?ccy=USDT&type=1")
    assert usdt and all(b["ccy"] == "USDT" and b["type"] == "1" for b in usdt)
    assert len(usdt) == sum(1 for b in acc.funding_bills if b["ccy"] == "USDT" and b["type"] == "1")
    # limit, before (the rows just newer than the cursor), bad parameters
    newest = data(call(sim, "/api/v5/asset/bills-history?limit=5&pagingType=2", **CREDS))
    assert len(newest) == 5
    older = data(call(sim, f"/api/v5/asset/bills-history?limit=5&pagingType=2&after={newest[-1]['billId']}", **CREDS))
    newer = data(call(sim, f"/api/v5/asset/bills-history?limit=5&pagingType=2&before={older[-1]['billId']}", **CREDS))
    assert [b["billId"] for b in newer] == [newest[-1]["billId"]] + [b["billId"] for b in older[:-1]]
    assert len(data(call(sim, "/api/v5/asset/bills-history?limit=500", **CREDS))) == \
        min(100, len(acc.funding_bills))
    assert err(call(sim, "/api/v5/asset/bills-history?pagingType=3", **CREDS))[:2] == (400, "51000")
    assert err(call(sim, "/api/v5/asset/bills?limit=0", **CREDS))[:2] == (400, "51000")
    # the first funding bills share one ms (three currencies moved at once): all come together
    ts_counts: dict[str, int] = {}
    for b in acc.funding_bills:
        ts_counts[b["ts"]] = ts_counts.get(b["ts"], 0) + 1
    shared = next(ts for ts, n in ts_counts.items() if n > 1)
    page = data(call(sim, f"/api/v5/asset/bills-history?limit=1&after={int(shared) + 1}", **CREDS))
    assert len(page) == ts_counts[shared] and {b["ts"] for b in page} == {shared}


def test_deposit_and_withdrawal_history(sim: Simulator, history: History) -> None:
    acc = history.accounts[0]
    deps = walk(sim, "/api/v5/asset/deposit-history?limit=3")
    assert [d["depId"] for d in deps] == [d["depId"] for d in reversed(acc.deposits)]
    wds = walk(sim, "/api/v5/asset/withdrawal-history?limit=3")
    assert [w["wdId"] for w in wds] == [w["wdId"] for w in reversed(acc.withdrawals)]
    internal = data(call(sim, "/api/v5/asset/deposit-history?type=3", **CREDS))
    onchain = data(call(sim, "/api/v5/asset/deposit-history?type=4", **CREDS))
    assert all(d["from"] and d["txId"] == "" for d in internal)
    assert all(d["txId"] and d["from"] == "" for d in onchain)
    assert len(internal) + len(onchain) == len(acc.deposits)
    ok = walk(sim, "/api/v5/asset/withdrawal-history?state=2")
    assert ok and all(w["state"] == "2" and w["txId"] for w in ok)
    one = data(call(sim, f"/api/v5/asset/deposit-history?depId={acc.deposits[0]['depId']}", **CREDS))
    assert one == [acc.deposits[0]]
    newest = data(call(sim, "/api/v5/asset/deposit-history?limit=2", **CREDS))
    newer = data(call(sim, f"/api/v5/asset/deposit-history?before={newest[-1]['ts']}", **CREDS))
    assert newer == newest[:1]
    assert err(call(sim, "/api/v5/asset/withdrawal-history?type=5", **CREDS))[:2] == (400, "51000")


def test_funding_ledger_mirrors_trading_transfers_and_chains() -> None:
    end = 1_790_000_000_000
    h = generate_history(seed=9, scale=300, days=120, accounts=2, end_ms=end)
    for acc in h.accounts:
        transfers = [b for b in acc.bills if b["type"] == "1"]
        mirrors = [b for b in acc.funding_bills if b["type"] in (FUNDING_FROM_TRADING, FUNDING_TO_TRADING)]
        assert len(transfers) == len(mirrors) >= 4
        for t, m in zip(transfers, mirrors, strict=True):
            assert (t["ts"], t["ccy"]) == (m["ts"], m["ccy"])
            assert Decimal(m["balChg"]) == -Decimal(t["balChg"])
            assert m["type"] == (FUNDING_TO_TRADING if t["subType"] == "11" else FUNDING_FROM_TRADING)
            assert (t["from"], t["to"]) == (("6", "18") if t["subType"] == "11" else ("18", "6"))
        bal: dict[str, Decimal] = {}
        prev_ts, prev_id = 0, 0
        for b in acc.funding_bills:
            assert set(b) == {"billId", "ccy", "clientId", "balChg", "bal", "type", "notes", "ts"}
            bal[b["ccy"]] = bal.get(b["ccy"], Decimal(0)) + Decimal(b["balChg"])
            assert Decimal(b["bal"]) == bal[b["ccy"]] >= 0
            assert int(b["ts"]) >= prev_ts and int(b["billId"]) > prev_id
            prev_ts, prev_id = int(b["ts"]), int(b["billId"])
        deposit_bills = [b for b in acc.funding_bills if b["type"] == "1"]
        assert [(b["ts"], b["ccy"], Decimal(b["balChg"])) for b in deposit_bills] == \
            [(d["ts"], d["ccy"], Decimal(d["amt"])) for d in acc.deposits]
        assert all(d["state"] == "2" for d in acc.deposits)
        wd_bills = [b for b in acc.funding_bills if b["type"] == "2"]
        assert [(b["ts"], Decimal(b["balChg"])) for b in wd_bills] == \
            [(w["ts"], -(Decimal(w["amt"]) + Decimal(w["fee"]))) for w in acc.withdrawals]
        cancelled = [w for w in acc.withdrawals if w["state"] == "-2"]
        assert len([b for b in acc.funding_bills if b["type"] == "13"]) == len(cancelled)
        assert {w["state"] for w in acc.withdrawals} <= {"2", "-2"}
        # the first transfers in were funded by deposits made before them
        first_in = next(b for b in acc.funding_bills if b["type"] == FUNDING_TO_TRADING)
        assert int(acc.deposits[0]["ts"]) < int(first_in["ts"])
    again = generate_history(seed=9, scale=300, days=120, accounts=2, end_ms=end)
    assert again.accounts[0].funding_bills == h.accounts[0].funding_bills
    assert again.accounts[1].withdrawals == h.accounts[1].withdrawals


def test_funding_records_survive_save_load_and_extend(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    h = generate_history(seed=4, scale=200, days=30, end_ms=now - 20 * DAY)
    path = tmp_path / "h.json"
    save_history(h, path)
    back = load_history(path)
    acc, got = h.accounts[0], back.accounts[0]
    assert (got.funding_bills, got.deposits, got.withdrawals) == \
        (acc.funding_bills, acc.deposits, acc.withdrawals)
    back.extend(got, 200, end_ms=now - DAY)
    h.extend(acc, 200, end_ms=now - DAY)
    assert got.funding_bills == acc.funding_bills and len(acc.funding_bills) > 0
    # a file saved before the funding account existed still loads (and extends)
    doc = json.loads(path.read_text())
    for a in doc["accounts"]:
        for k in ("funding_bills", "deposits", "withdrawals"):
            del a[k]
        del a["engine"]["funding"]
    path.write_text(json.dumps(doc))
    old = load_history(path)
    assert old.accounts[0].funding_bills == [] and old.accounts[0].deposits == []
    old.extend(old.accounts[0], 50, end_ms=now - DAY)


# ----------------------------------------------------------------------------- fills retention


@pytest.mark.parametrize("days", [90, 365])
def test_fills_retention_setting(history: History, days: int) -> None:
    acc = history.accounts[0]
    with Simulator(history, rate_limits=False, fills_retention_days=days) as sim:
        got = walk(sim, "/api/v5/trade/fills-history?instType=SPOT", cursor="billId")
    cutoff = int(time.time() * 1000) - days * DAY
    want = [f["billId"] for f in reversed(acc.fills) if f["instType"] == "SPOT"
            and int(f["ts"]) >= cutoff + 5000]
    got_ids = [f["billId"] for f in got]
    assert got_ids[:len(want)] == want and len(got_ids) - len(want) <= 1
    assert min(int(f["ts"]) for f in got) >= cutoff - 1000
    older = [f for f in acc.fills if f["instType"] == "SPOT" and int(f["ts"]) < cutoff - 5000]
    assert older  # the 400-day history has fills beyond either window


def test_default_fills_retention_is_one_year(history: History) -> None:
    with Simulator(history) as sim:
        assert sim.fills_retention_days == 365
        assert sim.retention_ms("/api/v5/trade/fills-history") == 365 * DAY


# ----------------------------------------------------------------------------- ccxt


def test_ccxt_reads_the_funding_account(sim: Simulator, history: History) -> None:
    acc = history.accounts[0]
    ex = ccxt.okx({"apiKey": DEMO_CREDENTIALS.api_key, "secret": DEMO_CREDENTIALS.secret,
                   "password": DEMO_CREDENTIALS.passphrase, "timeout": 10_000})
    ex.urls["api"] = {"rest": sim.url}
    deposits = ex.fetch_deposits()
    assert sorted(d["id"] for d in deposits) == sorted(d["depId"] for d in acc.deposits[-100:])
    assert all(d["type"] == "deposit" and d["status"] == "ok" for d in deposits)
    withdrawals = ex.fetch_withdrawals()
    assert sorted(w["id"] for w in withdrawals) == sorted(w["wdId"] for w in acc.withdrawals[-100:])
    assert {w["status"] for w in withdrawals} <= {"ok", "canceled"}
    usdt = ex.fetch_deposits("USDT", params={"limit": 2})
    assert 1 <= len(usdt) <= 2 and {d["currency"] for d in usdt} == {"USDT"}
    raw = ex.privateGetAssetBills({"limit": "100"})
    now = int(time.time() * 1000)
    assert raw["code"] == "0"
    assert [b["billId"] for b in raw["data"]] == [
        b["billId"] for b in reversed(acc.funding_bills) if int(b["ts"]) >= now - 30 * DAY - 5000]
    assert sim.stats.codes["50113"] == 0


# ----------------------------------------------------------------------------- two years


def test_two_year_history_is_fast_and_spread() -> None:
    t = time.perf_counter()
    h = generate_history(seed=7, scale=2000, days=730, end_ms=1_790_000_000_000)
    took = time.perf_counter() - t
    acc = h.accounts[0]
    start = 1_790_000_000_000 - 730 * DAY
    ts = sorted(int(f["ts"]) for f in acc.fills)
    assert ts[0] >= start and ts[-1] <= 1_790_000_000_000
    quarters = {(time.gmtime(x / 1000).tm_year, (time.gmtime(x / 1000).tm_mon - 1) // 3) for x in ts}
    assert len(quarters) >= 8  # fills in every quarter of the span
    assert int(acc.funding_bills[0]["ts"]) < start + DAY and len(acc.deposits) > 20
    assert took < 10, took
