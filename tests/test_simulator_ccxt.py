"""Third-party OKX clients (ccxt 4.5.90, python-okx 0.4.4) accept the simulator as OKX.

They sign requests their own way (ccxt percent-encodes the query, python-okx sends empty
parameters and ``x-simulated-trading: 0``), so passing here means the simulator checks
signatures the way the world computes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import ccxt
import pytest

from okx_journal.simulator import DEMO_CREDENTIALS, History, Simulator, generate_history

DAY = 86_400_000


@pytest.fixture(scope="module")
def history() -> History:
    return generate_history(seed=5, scale=600)


@pytest.fixture
def sim(history: History) -> Iterator[Simulator]:
    with Simulator(history, rate_limits=False) as s:
        yield s


def exchange(sim: Simulator, secret: str = DEMO_CREDENTIALS.secret) -> Any:
    ex = ccxt.okx({
        "apiKey": DEMO_CREDENTIALS.api_key,
        "secret": secret,
        "password": DEMO_CREDENTIALS.passphrase,
        "timeout": 10_000,
    })
    ex.urls["api"] = {"rest": sim.url}
    return ex


def within(records: list[dict[str, Any]], days: int, **eq: str) -> list[dict[str, Any]]:
    cutoff = int(time.time() * 1000) - days * DAY
    return [r for r in records if int(r["ts"]) >= cutoff and all(r.get(k) == v for k, v in eq.items())]


def test_ccxt_loads_markets_and_fetches_account_data(sim: Simulator, history: History) -> None:
    acc = history.accounts[0]
    ex = exchange(sim)
    markets = ex.load_markets()
    assert "BTC/USDT" in markets and any(m["option"] for m in markets.values())
    assert sim.stats.requests["/api/v5/asset/currencies"] == 1

    trades = ex.fetch_my_trades()  # fills-history, instType=SPOT (ccxt's default type)
    assert len(trades) == min(100, len(within(acc.fills, 90, instType="SPOT")))
    swaps = ex.fetch_my_trades(params={"type": "swap", "limit": 100})
    want = sorted(within(acc.fills, 90, instType="SWAP"), key=lambda f: int(f["billId"]))[-100:]
    assert sorted(t["id"] for t in swaps) == sorted(f["tradeId"] for f in want)

    ledger = ex.fetch_ledger()  # account/bills (7 days), instType from the default type
    sent = [k for k in sim.stats.requests if k.startswith("/api/v5/account/bills")]
    assert sent == ["/api/v5/account/bills"]
    assert len(ledger) == min(100, len(within(acc.bills, 7, instType="SPOT")))
    archive = ex.fetch_ledger(params={"method": "privateGetAccountBillsArchive", "type": "swap"})
    assert len(archive) == min(100, len(within(acc.bills, 90, instType="SWAP")))

    positions = ex.fetch_positions()
    assert len(positions) == len(acc.positions)
    balance = ex.fetch_balance()
    assert set(balance["total"]) == {d["ccy"] for d in acc.balance["details"]}
    assert sim.stats.codes.keys() == {"0"}


def test_ccxt_pages_fills_history_with_after(sim: Simulator, history: History) -> None:
    acc = history.accounts[0]
    ex = exchange(sim)
    ex.load_markets()
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"instType": "SWAP", "limit": 100}
        if after:
            params["after"] = after
        page = ex.privateGetTradeFillsHistory(params)["data"]
        if not page:
            break
        seen.extend(r["billId"] for r in page)
        after = page[-1]["billId"]
    assert seen == [f["billId"] for f in reversed(within(acc.fills, 90, instType="SWAP"))]


def test_ccxt_with_wrong_secret_gets_50113(sim: Simulator) -> None:
    ex = exchange(sim, secret="0" * 32)
    ex.has["fetchCurrencies"] = False  # skip the private call inside load_markets
    with pytest.raises(ccxt.AuthenticationError, match="50113"):
        ex.fetch_balance()


def test_python_okx_fetches_bills(sim: Simulator, history: History) -> None:
    from okx.Account import AccountAPI

    api = AccountAPI(api_key=DEMO_CREDENTIALS.api_key, api_secret_key=DEMO_CREDENTIALS.secret,
                     passphrase=DEMO_CREDENTIALS.passphrase, flag="0", domain=sim.url)
    res = api.get_account_bills(limit="100")  # sends every empty param and header "0"
    assert res["code"] == "0"
    newest = sorted(within(history.accounts[0].bills, 7), key=lambda b: int(b["billId"]))[-100:]
    assert [b["billId"] for b in res["data"]] == [b["billId"] for b in reversed(newest)]
    res = api.get_account_bills_archive(instType="SWAP", after=res["data"][-1]["billId"])
    assert res["code"] == "0" and {b["instType"] for b in res["data"]} <= {"SWAP"}
    applied = api.apply_bills(year="2024", quarter="Q1")  # POST signed over its own JSON text
    # the signature is accepted; 2024 lies before the account's first bill: no data
    assert applied["code"] == "51608"
