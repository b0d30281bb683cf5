"""The OKX simulator behaves like OKX v5 REST: auth, errors, paging, windows, limits, faults.

Requests are signed here with the standard library only (okx-api §1.2), so the simulator
is checked against the documented algorithm rather than against our own client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import ANCHOR_MS, anchor_offset

from okx_journal.simulator.server import Fault, Simulator

DAY = 86_400_000
KEY = "a1b2c3d4-0000-4000-8000-123456789abc"
SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
PASSPHRASE = "Test-Passphrase-1"


# ----------------------------------------------------------------------------- fixtures
# Hand-built records with OKX's documented field sets (okx-api §10), so these tests do not
# depend on the generator.


@dataclass
class Acc:
    uid: str
    api_key: str
    secret: str
    passphrase: str
    perm: str = "read_only"
    ip: str = ""
    demo: bool = False
    revoked: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    bills: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    positions_history: list[dict[str, Any]] = field(default_factory=list)
    balance: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hist:
    accounts: list[Acc]
    instruments: list[dict[str, Any]]


def fill(bill_id: int, ts: int, inst_type: str = "SPOT", inst_id: str = "BTC-USDT") -> dict[str, Any]:
    return {
        "instType": inst_type, "instId": inst_id, "tradeId": str(bill_id % 10**9),
        "ordId": str(bill_id - 7), "clOrdId": "", "billId": str(bill_id), "subType": "1",
        "tag": "", "fillPx": "61000", "fillSz": "0.01", "fillIdxPx": "60995.3", "fillPnl": "0",
        "fillPxVol": "", "fillPxUsd": "", "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": "",
        "side": "buy", "posSide": "net", "execType": "T",
        "feeCcy": "BTC" if inst_type == "SPOT" else "USDT", "fee": "-0.00001",
        "ts": str(ts), "fillTime": str(ts - 1), "feeRate": "-0.001", "tradeQuoteCcy": "",
    }


def bill(bill_id: int, ts: int, inst_type: str = "SPOT", inst_id: str = "BTC-USDT",
         ccy: str = "BTC", type_: str = "2", sub_type: str = "1") -> dict[str, Any]:
    return {
        "bal": "1", "balChg": "0.01", "billId": str(bill_id), "ccy": ccy, "clOrdId": "",
        "earnAmt": "", "earnApr": "", "execType": "T", "fee": "-0.00001", "fillFwdPx": "",
        "fillIdxPx": "", "fillMarkPx": "", "fillMarkVol": "", "fillPxUsd": "", "fillPxVol": "",
        "fillTime": str(ts - 1), "from": "", "instId": inst_id, "instType": inst_type,
        "interest": "0", "mgnMode": "cash" if inst_type == "SPOT" else "cross", "notes": "",
        "ordId": str(bill_id - 7), "pnl": "0", "posBal": "0", "posBalChg": "0", "px": "61000",
        "subType": sub_type, "sz": "0.01", "tag": "", "to": "", "tradeId": str(bill_id % 10**9),
        "ts": str(ts), "type": type_,
    }


def pos_hist(pos_id: int, u_time: int, inst_id: str = "BTC-USDT-SWAP") -> dict[str, Any]:
    return {
        "cTime": str(u_time - 3_600_000), "ccy": "USDT", "closeAvgPx": "61000",
        "closeTotalPos": "10", "instId": inst_id, "instType": "SWAP", "lever": "10",
        "mgnMode": "cross", "openAvgPx": "60000", "openMaxPos": "10", "realizedPnl": "93.345",
        "fee": "-6.05", "fundingFee": "-0.605", "liqPenalty": "0", "pnl": "100",
        "pnlRatio": "0.155575", "posId": str(pos_id), "posSide": "long", "direction": "long",
        "triggerPx": "", "type": "2", "uTime": str(u_time), "uly": "BTC-USDT",
        "nonSettleAvgPx": "", "settledPnl": "",
    }


def instrument(inst_type: str, inst_id: str, **kw: str) -> dict[str, Any]:
    base, quote = inst_id.split("-")[:2]
    rec: dict[str, Any] = {
        "alias": "", "auctionEndTime": "", "baseCcy": base if inst_type == "SPOT" else "",
        "category": "1", "contTdSwTime": "", "ctMult": "", "ctType": "", "ctVal": "",
        "ctValCcy": "", "expTime": "", "futureSettlement": False,
        "instFamily": "" if inst_type == "SPOT" else f"{base}-{quote}", "instId": inst_id,
        "instIdCode": 10001, "instType": inst_type, "lever": "10", "listTime": "1606468572000",
        "lotSz": "0.00000001", "maxIcebergSz": "9999999999", "maxLmtAmt": "1000000",
        "maxLmtSz": "9999999999", "maxMktAmt": "1000000", "maxMktSz": "", "maxStopSz": "",
        "maxTriggerSz": "9999999999", "maxTwapSz": "9999999999", "minSz": "0.00001",
        "openType": "", "optType": "", "preMktSwTime": "",
        "quoteCcy": quote if inst_type == "SPOT" else "", "ruleType": "normal",
        "settleCcy": "", "state": "live", "stk": "", "tickSz": "0.1", "tradeQuoteCcyList": [],
        "uly": "" if inst_type == "SPOT" else f"{base}-{quote}",
    }
    if inst_type != "SPOT":
        rec.update(ctMult="1", ctVal="0.01", ctValCcy=base, settleCcy=quote, ctType="linear",
                   lotSz="0.01", minSz="0.01")
    rec.update(kw)
    return rec


def build_history(now: int | None = None) -> Hist:
    """One live account: fills/bills at known ages, a 250-fill same-ms burst, positions."""
    now = now or int(time.time() * 1000)
    base_id = 700_000_000_000_000_000
    fills: list[dict[str, Any]] = []
    bills: list[dict[str, Any]] = []
    bid = base_id

    def add(ts: int, inst_type: str = "SPOT", inst_id: str = "BTC-USDT") -> None:
        nonlocal bid
        bid += 1
        fills.append(fill(bid, ts, inst_type, inst_id))
        bills.append(bill(bid, ts, inst_type, inst_id, "BTC" if inst_type == "SPOT" else "USDT"))

    add(now - 100 * DAY)                       # beyond every window
    add(now - 60 * DAY, "SWAP", "BTC-USDT-SWAP")
    add(now - 8 * DAY)                         # bills-archive only
    add(now - 4 * DAY)                         # fills-history, not fills
    burst_ts = now - 2 * DAY
    for _ in range(250):                       # many records sharing one ts
        add(burst_ts)
    for i in range(20):                        # recent SWAP fills
        add(now - DAY + i * 1000, "SWAP", "BTC-USDT-SWAP")
    add(now - 60_000)
    # a transfer bill (no instType)
    bid += 1
    bills.append(bill(bid, now - 30_000, "", "", "USDT", "1", "11"))

    ph: list[dict[str, Any]] = []
    pid = 800_000_000_000_000_000
    for i in range(30):
        pid += 1
        ph.append(pos_hist(pid, now - DAY + i * 60_000))
    shared = now - 5 * DAY
    for _ in range(150):                       # a page boundary inside one uTime
        pid += 1
        ph.append(pos_hist(pid, shared))
    pid += 1
    ph.append(pos_hist(pid, now - 91 * DAY))   # outside the 3-month window

    positions = [
        {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "posId": "900000000000000001",
         "mgnMode": "cross", "posSide": "long", "pos": "10", "avgPx": "60000", "markPx": "60500",
         "upl": "50", "ccy": "USDT", "lever": "10", "liqPx": "30405.2", "cTime": str(now - DAY),
         "uTime": str(now - 1000), "realizedPnl": "-3.605", "pnl": "0", "fee": "-3",
         "fundingFee": "-0.605", "liqPenalty": "0", "posCcy": "", "margin": "", "imr": "605",
         "notionalUsd": "6051.2", "last": "60501.1", "idxPx": "60490.2", "mgnRatio": "412.5",
         "closeOrderAlgo": []},
        {"instType": "MARGIN", "instId": "ETH-USDT", "posId": "900000000000000002",
         "mgnMode": "isolated", "posSide": "net", "pos": "1", "avgPx": "3000", "markPx": "3100",
         "upl": "100", "ccy": "USDT", "lever": "3", "liqPx": "2000", "cTime": str(now - 2 * DAY),
         "uTime": str(now - 2000), "realizedPnl": "", "pnl": "", "fee": "", "fundingFee": "",
         "liqPenalty": "", "posCcy": "ETH", "margin": "1000", "imr": "", "notionalUsd": "3100",
         "last": "3100", "idxPx": "3100", "mgnRatio": "10", "closeOrderAlgo": []},
    ]
    balance = {
        "uTime": str(now), "totalEq": "12000", "isoEq": "0", "adjEq": "", "upl": "150",
        "details": [
            {"ccy": "BTC", "eq": "1", "cashBal": "1", "availBal": "1", "upl": "0", "liab": "",
             "interest": "", "eqUsd": "61000", "uTime": str(now)},
            {"ccy": "USDT", "eq": "10000", "cashBal": "10000", "availBal": "9000", "upl": "150",
             "liab": "", "interest": "", "eqUsd": "10000", "uTime": str(now)},
        ],
    }
    config = {"acctLv": "2", "posMode": "long_short_mode", "mainUid": "44705892343619584",
              "label": "journal", "level": "Lv1", "feeType": "0", "autoLoan": False,
              "settleCcyList": ["USD", "USDC"]}
    live = Acc("44705892343619584", KEY, SECRET, PASSPHRASE, config=config, fills=fills,
               bills=bills, positions=positions, positions_history=ph, balance=balance)
    demo = Acc("55555555555", "d0d0d0d0-0000-4000-8000-000000000001", "DEMOSECRET", "demo-pass",
               demo=True, config={"acctLv": "2"}, balance={"details": []})
    revoked = Acc("66666666666", "e0e0e0e0-0000-4000-8000-000000000002", "S", "P", revoked=True)
    bound = Acc("77777777777", "f0f0f0f0-0000-4000-8000-000000000003", "S2", "P2",
                ip="10.1.2.3,10.1.2.4")
    writer = Acc("88888888888", "abababab-0000-4000-8000-000000000004", "S3", "P3", perm="trade")
    instruments = [
        instrument("SPOT", "BTC-USDT"),
        instrument("SPOT", "ETH-USDT"),
        instrument("SWAP", "BTC-USDT-SWAP"),
        instrument("FUTURES", "BTC-USDT-991231", expTime=str(now + 300 * DAY), alias="quarter"),
        instrument("FUTURES", "BTC-USDT-200327", expTime=str(now - 300 * DAY), alias="quarter"),
        instrument("OPTION", "BTC-USD-991231-100000-C", expTime=str(now + 300 * DAY),
                   optType="C", stk="100000", ctMult="0.01", ctVal="1", ctValCcy="BTC",
                   settleCcy="BTC", ctType=""),
        instrument("OPTION", "BTC-USD-200327-100000-C", expTime=str(now - 300 * DAY),
                   optType="C", stk="100000", ctMult="0.01", ctVal="1", ctValCcy="BTC",
                   settleCcy="BTC", ctType=""),
    ]
    return Hist([live, demo, revoked, bound, writer], instruments)


@pytest.fixture
def history() -> Hist:
    return build_history()


@pytest.fixture
def sim(history: Hist) -> Iterator[Simulator]:
    with Simulator(history, rate_limits=False) as s:
        yield s


# ----------------------------------------------------------------------------- client


def okx_ts(ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if ms is None else ms
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def sign(secret: str, ts: str, method: str, path: str, body: str = "") -> str:
    mac = hmac.new(secret.encode(), (ts + method + path + body).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def call(sim: Simulator, path: str, *, method: str = "GET", body: str = "",
         key: str = KEY, secret: str = SECRET, passphrase: str = PASSPHRASE,
         ts: str | None = None, drop: tuple[str, ...] = (), extra: dict[str, str] | None = None,
         client: httpx.Client | None = None) -> httpx.Response:
    """Send a signed request exactly as OKX expects it (path + query signed as sent); the
    timestamp is the server's clock unless ``ts`` says otherwise (a client that follows
    OKX's clock, as the connector does)."""
    ts = okx_ts(sim.now_ms()) if ts is None else ts
    headers = {
        "OK-ACCESS-KEY": key, "OK-ACCESS-SIGN": sign(secret, ts, method, path, body),
        "OK-ACCESS-TIMESTAMP": ts, "OK-ACCESS-PASSPHRASE": passphrase,
        "Content-Type": "application/json",
    }
    for h in drop:
        headers.pop(h)
    headers.update(extra or {})
    c = client or httpx.Client(timeout=10)
    try:
        return c.request(method, sim.url + path, headers=headers, content=body or None)
    finally:
        if client is None:
            c.close()


def data(r: httpx.Response) -> list[dict[str, Any]]:
    body = r.json()
    assert r.status_code == 200 and body["code"] == "0", (r.status_code, body)
    rows: list[dict[str, Any]] = body["data"]
    return rows


def err(r: httpx.Response) -> tuple[int, str, str]:
    body = r.json()
    return r.status_code, body["code"], body["msg"]


def walk(sim: Simulator, path: str, client: httpx.Client, cursor: str = "billId",
         **kw: Any) -> list[dict[str, Any]]:
    """Page newest-first with ``after`` until an empty page."""
    sep = "&" if "?" in path else "?"
    out: list[dict[str, Any]] = []
    page = data(call(sim, path, client=client, **kw))
    while page:
        out.extend(page)
        page = data(call(sim, f"{path}{sep}after={page[-1][cursor]}", client=client, **kw))
    return out


# ----------------------------------------------------------------------------- auth


def test_signature_matches_okx_worked_example() -> None:
    # okx-api §1.3 #2: our stdlib signer is the documented algorithm.
    ts = "2024-01-15T08:30:00.123Z"
    assert sign(SECRET, ts, "GET", "/api/v5/account/bills-archive?instType=SWAP&limit=100") == \
        "eaPGZ/OAGNAvNy6wqDCtHu6ZzFevkjXTbLghQwQRL5o="
    assert sign(SECRET, ts, "POST", "/api/v5/account/bills-history-archive",
                '{"year":"2024","quarter":"Q1"}') == "AvqmT7KztLLLUs881PoowWQd6HecuTNWShzeAdIiSGo="


def test_signed_request_is_accepted_and_enveloped(sim: Simulator) -> None:
    r = call(sim, "/api/v5/account/config")
    body = r.json()
    assert r.status_code == 200 and body["code"] == "0" and body["msg"] == ""
    cfg = body["data"][0]
    assert cfg["uid"] == "44705892343619584" and cfg["perm"] == "read_only" and cfg["ip"] == ""
    assert cfg["autoLoan"] is False and cfg["settleCcyList"] == ["USD", "USDC"]
    assert r.headers["content-length"] == str(len(r.content))


def test_query_is_signed_exactly_as_sent(sim: Simulator) -> None:
    # ccxt percent-encodes commas, python-okx does not: both are fine if signed as sent.
    assert data(call(sim, "/api/v5/account/balance?ccy=BTC%2CUSDT"))[0]["details"]
    assert len(data(call(sim, "/api/v5/account/balance?ccy=BTC,USDT"))[0]["details"]) == 2
    ts = okx_ts()
    r = httpx.get(sim.url + "/api/v5/account/balance?ccy=BTC,USDT", headers={
        "OK-ACCESS-KEY": KEY, "OK-ACCESS-TIMESTAMP": ts, "OK-ACCESS-PASSPHRASE": PASSPHRASE,
        "OK-ACCESS-SIGN": sign(SECRET, ts, "GET", "/api/v5/account/balance?ccy=BTC%2CUSDT")})
    assert err(r)[:2] == (401, "50113")


@pytest.mark.parametrize(("header", "code"), [
    ("OK-ACCESS-KEY", "50103"), ("OK-ACCESS-PASSPHRASE", "50104"),
    ("OK-ACCESS-SIGN", "50106"), ("OK-ACCESS-TIMESTAMP", "50107"),
])
def test_missing_header(sim: Simulator, header: str, code: str) -> None:
    status, got, msg = err(call(sim, "/api/v5/account/config", drop=(header,)))
    assert (status, got) == (401, code) and header in msg


@pytest.mark.parametrize("ts", ["2024-01-15 08:30:00.123Z", "2024-01-15T08:30:00Z", "1705307400123"])
def test_bad_timestamp_format_is_50112(sim: Simulator, ts: str) -> None:
    assert err(call(sim, "/api/v5/account/config", ts=ts))[:2] == (401, "50112")


@pytest.mark.parametrize("skew_ms", [-31_000, 31_000, -3_600_000])
def test_timestamp_outside_window_is_50102(sim: Simulator, skew_ms: int) -> None:
    ts = okx_ts(int(time.time() * 1000) + skew_ms)
    assert err(call(sim, "/api/v5/account/config", ts=ts))[:2] == (401, "50102")


def test_timestamp_inside_window_is_accepted(sim: Simulator) -> None:
    data(call(sim, "/api/v5/account/config", ts=okx_ts(int(time.time() * 1000) - 20_000)))


def test_server_clock_offset_needs_public_time_sync(history: Hist) -> None:
    with Simulator(history, rate_limits=False, clock_offset_ms=120_000) as s:
        # a client on its local clock is refused
        assert err(call(s, "/api/v5/account/config", ts=okx_ts()))[1] == "50102"
        t0 = int(time.time() * 1000)
        server_ts = int(httpx.get(s.url + "/api/v5/public/time").json()["data"][0]["ts"])
        assert 110_000 < server_ts - t0 < 130_000
        offset = server_ts - t0
        data(call(s, "/api/v5/account/config", ts=okx_ts(int(time.time() * 1000) + offset)))


def test_key_errors(sim: Simulator, history: Hist) -> None:
    r = call(sim, "/api/v5/account/config", key="ffffffff-0000-4000-8000-000000000000")
    assert err(r)[:2] == (200, "50119") and "doesn't exist" in err(r)[2]
    assert err(call(sim, "/api/v5/account/config", key="not-a-key"))[:2] == (401, "50111")
    revoked = history.accounts[2]
    r = call(sim, "/api/v5/account/config", key=revoked.api_key, secret=revoked.secret,
             passphrase=revoked.passphrase)
    assert err(r)[:2] == (200, "50119")  # documented choice: a deleted key doesn't exist


def test_wrong_passphrase_and_wrong_signature(sim: Simulator) -> None:
    assert err(call(sim, "/api/v5/account/config", passphrase="nope"))[:2] == (401, "50105")
    assert err(call(sim, "/api/v5/account/config", secret="WRONG"))[:2] == (401, "50113")


def test_demo_key_needs_simulated_trading_header(sim: Simulator, history: Hist) -> None:
    demo = history.accounts[1]
    kw: dict[str, Any] = {"key": demo.api_key, "secret": demo.secret, "passphrase": demo.passphrase}
    assert err(call(sim, "/api/v5/account/config", **kw))[:2] == (401, "50101")
    data(call(sim, "/api/v5/account/config", extra={"x-simulated-trading": "1"}, **kw))
    assert err(call(sim, "/api/v5/account/config", extra={"x-simulated-trading": "1"}))[:2] == \
        (401, "50101")
    data(call(sim, "/api/v5/account/config", extra={"x-simulated-trading": "0"}))  # python-okx


def test_ip_binding_is_50110_with_the_ip(sim: Simulator, history: Hist) -> None:
    bound = history.accounts[3]
    status, code, msg = err(call(sim, "/api/v5/account/config", key=bound.api_key,
                                 secret=bound.secret, passphrase=bound.passphrase))
    assert (status, code) == (401, "50110")
    assert msg == "Your IP 127.0.0.1 is not included in your API key's IP whitelist."
    bound.ip = "10.1.2.3,127.0.0.1"
    data(call(sim, "/api/v5/account/config", key=bound.api_key, secret=bound.secret,
              passphrase=bound.passphrase))


def test_key_of_another_region_does_not_exist(sim: Simulator) -> None:
    sim.key_regions[KEY] = "eea"
    assert err(call(sim, "/api/v5/account/config"))[:2] == (200, "50119")
    sim.region = "eea"
    data(call(sim, "/api/v5/account/config"))


def test_key_without_read_permission_is_50120(sim: Simulator, history: Hist) -> None:
    w = history.accounts[4]
    r = call(sim, "/api/v5/account/config", key=w.api_key, secret=w.secret, passphrase=w.passphrase)
    assert err(r)[:2] == (200, "50120")
    w.perm = "read_only,withdraw,trade"
    cfg = data(call(sim, "/api/v5/account/config", key=w.api_key, secret=w.secret,
                    passphrase=w.passphrase))[0]
    assert cfg["perm"] == "read_only,withdraw,trade"


def test_wrong_method_and_unknown_path(sim: Simulator) -> None:
    assert err(call(sim, "/api/v5/trade/fills", method="POST", body="{}"))[:2] == (405, "50115")
    assert err(call(sim, "/api/v5/account/bills", method="DELETE"))[:2] == (405, "50115")
    r = call(sim, "/api/v5/trade/fills-archive")
    assert r.status_code == 404 and r.json()["code"] == "50005"


def test_public_endpoints_need_no_auth(sim: Simulator) -> None:
    r = httpx.get(sim.url + "/api/v5/public/time")
    ts = int(data(r)[0]["ts"])
    assert abs(ts - time.time() * 1000) < 5000


# ----------------------------------------------------------------------------- paging


def test_fills_history_pages_newest_first_through_same_ms_burst(sim: Simulator, history: Hist) -> None:
    with httpx.Client() as c:
        rows = walk(sim, "/api/v5/trade/fills-history?instType=SPOT", c)
    ids = [int(r["billId"]) for r in rows]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    cutoff = time.time() * 1000 - sim.fills_retention_days * DAY
    want = [f for f in history.accounts[0].fills
            if f["instType"] == "SPOT" and int(f["ts"]) > cutoff]
    assert len(ids) == len(want) >= 253
    # the 250 same-ts records straddle pages of 100 and none is lost
    burst_ts = {r["ts"] for r in rows if sum(1 for x in rows if x["ts"] == r["ts"]) > 1}
    assert len(burst_ts) == 1


def test_limit_and_before_cursor(sim: Simulator, history: Hist) -> None:
    swap = "/api/v5/trade/fills-history?instType=SWAP"
    newest = data(call(sim, swap + "&limit=5"))
    assert len(newest) == 5
    older = data(call(sim, f"{swap}&limit=5&after={newest[-1]['billId']}"))
    assert int(older[0]["billId"]) < int(newest[-1]["billId"])
    # before alone: the rows just newer than the cursor, newest first
    newer = data(call(sim, f"{swap}&limit=5&before={older[-1]['billId']}"))
    assert [r["billId"] for r in newer] == [newest[-1]["billId"]] + [r["billId"] for r in older[:-1]]
    sim.before_semantics = "newest"
    newer = data(call(sim, f"{swap}&limit=5&before={older[-1]['billId']}"))
    assert [r["billId"] for r in newer] == [r["billId"] for r in newest]
    # after + before together: the rows in between
    between = data(call(sim, f"{swap}&after={newest[0]['billId']}&before={older[-1]['billId']}"))
    assert len(between) == 8
    assert len(data(call(sim, "/api/v5/trade/fills-history?instType=SPOT&limit=500"))) == 100
    assert err(call(sim, swap + "&limit=abc"))[:2] == (400, "51000")
    assert err(call(sim, swap + "&limit=0"))[:2] == (400, "51000")
    assert err(call(sim, swap + "&after=xyz"))[:2] == (400, "51000")


def test_begin_end_returns_newest_rows_of_the_window(sim: Simulator, history: Hist) -> None:
    now = int(time.time() * 1000)
    rows = data(call(sim, f"/api/v5/trade/fills-history?instType=SPOT&begin={now - 30 * DAY}"
                          f"&end={now - DAY}&limit=10"))
    assert len(rows) == 10 and all(int(r["ts"]) >= now - 30 * DAY for r in rows)
    ids = [int(f["billId"]) for f in history.accounts[0].fills
           if f["instType"] == "SPOT" and now - 30 * DAY <= int(f["ts"]) <= now - DAY]
    assert [int(r["billId"]) for r in rows] == sorted(ids, reverse=True)[:10]


def test_filters(sim: Simulator) -> None:
    rows = data(call(sim, "/api/v5/trade/fills-history?instType=SWAP&instId=BTC-USDT-SWAP"))
    assert len(rows) == 21 and {r["instId"] for r in rows} == {"BTC-USDT-SWAP"}
    assert len(data(call(sim, "/api/v5/trade/fills-history?instType=SWAP&instFamily=BTC-USDT"))) == 21
    assert data(call(sim, "/api/v5/trade/fills-history?instType=OPTION")) == []
    assert err(call(sim, "/api/v5/trade/fills-history?instType=BOND"))[:2] == (400, "51000")
    transfers = data(call(sim, "/api/v5/account/bills?type=1"))
    assert len(transfers) == 1 and transfers[0]["subType"] == "11"
    assert len(data(call(sim, "/api/v5/account/bills-archive?ccy=USDT&limit=100"))) == 22
    assert len(data(call(sim, "/api/v5/account/bills-archive?instType=SWAP&ctType=linear"))) == 21


@pytest.mark.parametrize("fills_days", [90, 365])
def test_retention_windows(history: Hist, fills_days: int) -> None:
    now = int(time.time() * 1000)
    with Simulator(history, rate_limits=False, fills_retention_days=fills_days) as sim, \
            httpx.Client() as c:
        recent = walk(sim, "/api/v5/trade/fills", c)
        hist = walk(sim, "/api/v5/trade/fills-history?instType=SPOT", c)
        bills = walk(sim, "/api/v5/account/bills", c)
        archive = walk(sim, "/api/v5/account/bills-archive", c)
    four_days = next(f["billId"] for f in history.accounts[0].fills if int(f["ts"]) < now - 3.5 * DAY
                     and int(f["ts"]) > now - 5 * DAY)
    ancient = history.accounts[0].fills[0]["billId"]  # 100 days old
    assert four_days in {r["billId"] for r in hist} and four_days not in {r["billId"] for r in recent}
    assert ancient not in {r["billId"] for r in recent}
    assert (ancient in {r["billId"] for r in hist}) == (fills_days > 100)
    assert all(int(r["ts"]) >= now - 3 * DAY - 5000 for r in recent) and len(recent) == 271
    assert len(bills) == 273 and len(archive) == 275  # 8-day-old bill only in the archive


def test_fills_history_requires_inst_type(sim: Simulator) -> None:
    assert err(call(sim, "/api/v5/trade/fills-history")) == \
        (400, "50014", "Parameter instType can not be empty.")


def test_positions_history_keeps_boundary_utime_rows_together(sim: Simulator, history: Hist) -> None:
    p = "/api/v5/account/positions-history"
    first = data(call(sim, p))
    assert len(first) == 30 + 150  # limit 100 reached inside the shared uTime: all 150 come
    u = [int(r["uTime"]) for r in first]
    assert u == sorted(u, reverse=True)
    with httpx.Client() as c:
        rows = walk(sim, p, c, cursor="uTime")
    assert len(rows) == len({r["posId"] for r in rows}) == 180  # 91-day-old row is outside
    small = data(call(sim, p + "?limit=10"))
    assert len(small) == 10
    assert data(call(sim, f"{p}?after={first[-1]['uTime']}")) == []
    assert len(data(call(sim, f"{p}?instId=BTC-USDT-SWAP&type=2&limit=5"))) == 5


def test_positions_balance_instruments(sim: Simulator) -> None:
    assert [r["instType"] for r in data(call(sim, "/api/v5/account/positions"))] == ["SWAP", "MARGIN"]
    assert len(data(call(sim, "/api/v5/account/positions?instType=MARGIN"))) == 1
    assert len(data(call(sim, "/api/v5/account/positions?instId=BTC-USDT-SWAP,ETH-USDT"))) == 2
    bal = data(call(sim, "/api/v5/account/balance?ccy=USDT"))[0]
    assert [d["ccy"] for d in bal["details"]] == ["USDT"] and bal["totalEq"] == "12000"
    pub = sim.url + "/api/v5/public/instruments"
    assert len(data(httpx.get(pub, params={"instType": "SPOT"}))) == 2
    futs = data(httpx.get(pub, params={"instType": "FUTURES"}))
    assert [f["instId"] for f in futs] == ["BTC-USDT-991231"]  # expired one hidden
    assert err(httpx.get(pub))[:2] == (400, "50014")
    assert err(httpx.get(pub, params={"instType": "OPTION"}))[:2] == (400, "50014")
    assert len(data(httpx.get(pub, params={"instType": "OPTION", "uly": "BTC-USD"}))) == 1
    assert len(data(httpx.get(pub, params={"instType": "OPTION", "instFamily": "BTC-USD"}))) == 1


def test_bills_history_archive(sim: Simulator, history: Hist) -> None:
    # the quarter of the 100-day-old bill: always a past quarter with data
    t = time.gmtime(int(history.accounts[0].bills[0]["ts"]) / 1000)
    year, quarter = str(t.tm_year), f"Q{(t.tm_mon - 1) // 3 + 1}"
    sim.archive_ready_after_s = 3600
    body = json.dumps({"year": year, "quarter": quarter}, separators=(",", ":"))
    res = data(call(sim, "/api/v5/account/bills-history-archive", method="POST", body=body))
    assert res[0]["result"] == "false" and res[0]["ts"].isdigit()
    py_okx_body = json.dumps({"year": year, "quarter": quarter})  # with spaces, signed as sent
    still = call(sim, "/api/v5/account/bills-history-archive", method="POST", body=py_okx_body)
    assert err(still)[:2] == (200, "51607")  # signature accepted; the file is being made
    got = data(call(sim, f"/api/v5/account/bills-history-archive?year={year}&quarter={quarter}"))
    assert got[0]["state"] == "ongoing" and got[0]["fileHref"] == ""
    bad = call(sim, "/api/v5/account/bills-history-archive", method="POST",
               body='{"year":"2024","quarter":"q1"}')
    assert err(bad)[:2] == (400, "51000")


def test_history_extended_while_running_is_served(sim: Simulator, history: Hist) -> None:
    acc = history.accounts[0]
    before = data(call(sim, "/api/v5/trade/fills?limit=1"))[0]
    now = int(time.time() * 1000)
    with sim.lock:
        last = int(acc.fills[-1]["billId"])
        acc.fills.extend(fill(last + i, now - 1000) for i in range(1, 4))
    rows = data(call(sim, f"/api/v5/trade/fills?before={before['billId']}"))
    assert [int(r["billId"]) for r in rows] == [last + 3, last + 2, last + 1]


# ----------------------------------------------------------------------------- limits


def test_rate_limit_then_recovery(history: Hist) -> None:
    with Simulator(history) as s, httpx.Client() as c:
        for _ in range(5):  # bills: 5 requests per second per uid
            data(call(s, "/api/v5/account/bills?limit=1", client=c))
        r = call(s, "/api/v5/account/bills?limit=1", client=c)
        assert r.status_code == 429 and r.json() == {"code": "50011", "msg": "Too Many Requests",
                                                      "data": []}
        assert s.stats.rate_limited == 1
        data(call(s, "/api/v5/account/config", client=c))  # other endpoints have their own budget
        time.sleep(1.05)
        data(call(s, "/api/v5/account/bills?limit=1", client=c))
        assert s.stats.requests["/api/v5/account/bills"] == 7
        s.rate_limit_http_status = 200
        for _ in range(4):
            data(call(s, "/api/v5/account/bills?limit=1", client=c))
        r = call(s, "/api/v5/account/bills?limit=1", client=c)
        assert r.status_code == 200 and r.json()["code"] == "50011"
        assert s.stats.rate_limited == 2


def test_public_rate_limit_is_per_ip(history: Hist) -> None:
    with Simulator(history) as s, httpx.Client() as c:
        for _ in range(10):
            data(c.get(s.url + "/api/v5/public/time"))
        assert c.get(s.url + "/api/v5/public/time").json()["code"] == "50011"
        # instruments are counted per IP and instType
        for _ in range(20):
            data(c.get(s.url + "/api/v5/public/instruments?instType=SPOT"))
        assert c.get(s.url + "/api/v5/public/instruments?instType=SPOT").json()["code"] == "50011"
        data(c.get(s.url + "/api/v5/public/instruments?instType=SWAP"))


def test_rate_limits_off(sim: Simulator) -> None:
    with httpx.Client() as c:
        for _ in range(30):
            data(call(sim, "/api/v5/account/bills?limit=1", client=c))
    assert sim.stats.rate_limited == 0


# ----------------------------------------------------------------------------- faults


def test_fault_code(sim: Simulator) -> None:
    sim.inject(Fault("code", path="/api/v5/trade/fills", code="50001", times=2))
    for _ in range(2):
        assert err(call(sim, "/api/v5/trade/fills"))[:2] == (503, "50001")
    data(call(sim, "/api/v5/trade/fills"))
    sim.inject(Fault("code", code=50011))
    assert err(call(sim, "/api/v5/account/config"))[:2] == (429, "50011")
    assert sim.stats.rate_limited == 1
    for code, status in [("50013", 429), ("50026", 500), ("50111", 401), ("50004", 400)]:
        sim.inject(Fault("code", code=code))
        assert err(call(sim, "/api/v5/account/balance"))[:2] == (status, code)


def test_fault_matches_path_prefix_only(sim: Simulator) -> None:
    sim.inject(Fault("code", path="/api/v5/account/bills", code="50026"))
    data(call(sim, "/api/v5/trade/fills"))
    assert err(call(sim, "/api/v5/account/bills-archive"))[1] == "50026"
    sim.inject(Fault("code", code="50026", times=5))
    sim.clear_faults()
    data(call(sim, "/api/v5/trade/fills"))


def test_fault_bare_http(sim: Simulator) -> None:
    sim.inject(Fault("http", http_status=502))
    r = call(sim, "/api/v5/trade/fills")
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in r.text
    sim.inject(Fault("http", http_status=429))
    assert call(sim, "/api/v5/trade/fills").status_code == 429


def test_fault_slow(sim: Simulator) -> None:
    sim.inject(Fault("slow", delay=0.3))
    t = time.perf_counter()
    data(call(sim, "/api/v5/trade/fills?limit=1"))
    assert time.perf_counter() - t >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        sim.inject(Fault("slow", delay=0.5))
        with httpx.Client(timeout=0.2) as c:
            call(sim, "/api/v5/trade/fills?limit=1", client=c)


def test_fault_drop_closes_connection(sim: Simulator) -> None:
    sim.inject(Fault("drop", path="/api/v5/trade"))
    with httpx.Client() as c:
        with pytest.raises(httpx.TransportError):
            call(sim, "/api/v5/trade/fills", client=c)
        data(call(sim, "/api/v5/trade/fills", client=c))  # next connection answers


# ----------------------------------------------------------------------------- speed


def test_page_of_100_is_served_in_about_a_millisecond(history: Hist) -> None:
    acc = history.accounts[0]
    now = int(time.time() * 1000)
    last = int(acc.fills[-1]["billId"])
    acc.fills.extend(fill(last + i, now - 50_000 + i // 1000) for i in range(1, 20_001))
    with Simulator(history, rate_limits=False) as s, httpx.Client() as c:
        ts = okx_ts()
        path = "/api/v5/trade/fills-history?instType=SPOT&limit=100"
        headers = {"ok-access-key": KEY, "ok-access-sign": sign(SECRET, ts, "GET", path),
                   "ok-access-timestamp": ts, "ok-access-passphrase": PASSPHRASE}
        s._dispatch("GET", path, headers, b"", "127.0.0.1")  # warm filter index
        t = time.perf_counter()
        n = 300
        for _ in range(n):
            resp = s._dispatch("GET", path, headers, b"", "127.0.0.1")
        in_process = (time.perf_counter() - t) / n
        assert resp is not None and resp.body.count(b'"billId"') == 100
        samples = []
        for _ in range(100):
            t = time.perf_counter()
            data(call(s, path, client=c, ts=ts))
            samples.append(time.perf_counter() - t)
        print(f"\n100-row page: server {in_process * 1e3:.3f} ms, "
              f"HTTP round trip median {statistics.median(samples) * 1e3:.3f} ms")
        assert in_process < 0.002


# ----------------------------------------------------------------------------- generated


def test_generated_history_is_served_completely_within_windows() -> None:
    from okx_journal.simulator import DEMO_CREDENTIALS, generate_history

    h = generate_history(seed=11, scale=400, end_ms=ANCHOR_MS)
    acc = h.accounts[0]
    creds: dict[str, Any] = {"key": DEMO_CREDENTIALS.api_key, "secret": DEMO_CREDENTIALS.secret,
             "passphrase": DEMO_CREDENTIALS.passphrase}
    with Simulator(h, rate_limits=False, clock_offset_ms=anchor_offset()) as s, httpx.Client() as c:
        now = s.now_ms()

        def walk_all(path: str, cursor: str = "billId") -> list[str]:
            sep = "&" if "?" in path else "?"
            out: list[str] = []
            page = data(call(s, path, client=c, **creds))
            while page:
                out.extend(r[cursor] if cursor == "billId" else r["posId"] + r["cTime"] for r in page)
                page = data(call(s, f"{path}{sep}after={page[-1][cursor]}", client=c, **creds))
            return out

        for inst_type in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            got = walk_all(f"/api/v5/trade/fills-history?instType={inst_type}")
            want = [f["billId"] for f in reversed(acc.fills)
                    if f["instType"] == inst_type and int(f["ts"]) >= now - 90 * DAY]
            assert got == want, inst_type
        assert walk_all("/api/v5/account/bills-archive") == \
            [b["billId"] for b in reversed(acc.bills) if int(b["ts"]) >= now - 90 * DAY]
        ph = walk_all("/api/v5/account/positions-history", cursor="uTime")
        assert sorted(ph) == sorted(r["posId"] + r["cTime"] for r in acc.positions_history
                                    if int(r["uTime"]) >= now - 90 * DAY)
        cfg = data(call(s, "/api/v5/account/config", client=c, **creds))[0]
        assert cfg["uid"] == acc.uid and cfg["perm"] == "read_only"
        insts = data(c.get(s.url + "/api/v5/public/instruments?instType=FUTURES"))
        assert all(int(i["expTime"]) > now for i in insts)


def test_history_extended_and_burst_between_two_syncs() -> None:
    from okx_journal.simulator import DEMO_CREDENTIALS, generate_history

    now = ANCHOR_MS + 5 * 60_000
    h = generate_history(seed=3, scale=200, end_ms=now - 3_600_000, days=5)
    acc = h.accounts[0]
    creds: dict[str, Any] = {"key": DEMO_CREDENTIALS.api_key, "secret": DEMO_CREDENTIALS.secret,
             "passphrase": DEMO_CREDENTIALS.passphrase}
    with Simulator(h, rate_limits=False, clock_offset_ms=anchor_offset()) as s, httpx.Client() as c:
        checkpoint = data(call(s, "/api/v5/account/bills?limit=1", client=c, **creds))[0]["billId"]
        n_before = len(acc.bills)
        with s.lock:
            h.extend(acc, 40, end_ms=now - 600_000)
            h.add_same_ms_burst(acc, 230)
        new: list[str] = []
        page = data(call(s, "/api/v5/account/bills", client=c, **creds))
        while page and int(page[-1]["billId"]) > int(checkpoint):
            new.extend(r["billId"] for r in page)
            page = data(call(s, f"/api/v5/account/bills?after={page[-1]['billId']}", client=c,
                             **creds))
        new.extend(r["billId"] for r in page if int(r["billId"]) > int(checkpoint))
        assert new == [b["billId"] for b in reversed(acc.bills[n_before:])]
        burst_ts = acc.fills[-1]["ts"]
        burst = [r for r in walk(s, "/api/v5/trade/fills", c, **creds) if r["ts"] == burst_ts]
        assert len(burst) >= 230


# ----------------------------------------------------------------------------- funding rates


def test_funding_rate_history_pages_by_funding_time_within_three_months() -> None:
    from okx_journal.simulator import generate_history

    gen = generate_history(seed=3, scale=200, end_ms=ANCHOR_MS)
    p = "/api/v5/public/funding-rate-history"
    with Simulator(gen, clock_offset_ms=anchor_offset()) as s, httpx.Client(timeout=10) as c:
        now = s.now_ms()
        newest = data(c.get(s.url + p, params={"instId": "BTC-USDT-SWAP", "limit": "5"}))
        times = [int(r["fundingTime"]) for r in newest]
        assert len(newest) == 5 and times == sorted(times, reverse=True)
        assert all(t % (8 * 3_600_000) == 0 for t in times) and now - times[0] < 8 * 3_600_000
        assert set(newest[0]) == {"formulaType", "fundingRate", "fundingTime", "instId",
                                  "instType", "method", "realizedRate"}
        everything: list[dict[str, Any]] = []
        page = data(c.get(s.url + p, params={"instId": "BTC-USDT-SWAP"}))
        assert len(page) == 270  # default limit 400: 90 days of 8-hour funding in one page
        while page:
            everything.extend(page)
            page = data(c.get(s.url + p, params={"instId": "BTC-USDT-SWAP", "limit": "100",
                                                 "after": page[-1]["fundingTime"]}))
        assert len(everything) == 270
        assert int(everything[-1]["fundingTime"]) >= now - 90 * DAY
        newer = data(c.get(s.url + p, params={"instId": "BTC-USDT-SWAP",
                                              "before": str(times[2])}))
        assert [int(r["fundingTime"]) for r in newer] == times[:2]
        assert err(c.get(s.url + p)) == (400, "50014", "Parameter instId can not be empty.")
        assert err(c.get(s.url + p, params={"instId": "BTC-USDT"}))[1] == "51001"
