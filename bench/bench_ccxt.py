"""The same rate-limited backfill with ccxt, for comparison with ``bench_sync.py backfill``.

What a careful ccxt user would write: ``ccxt.okx`` with ``enableRateLimit``, pointed at
the simulator; ``fetch_my_trades`` walked per instType with OKX's ``after`` cursor (ccxt
omits ``limit`` when ``since`` is given because OKX returns the newest rows of a window,
so the cursor is the only safe way); ``fetch_ledger`` on ``bills-archive`` walked the same
way (ccxt always sends an ``instType`` there, so it is walked per instType and ledger
entries without one, such as transfers, are not returned); everything written to DuckDB
with pandas. ccxt's synchronous client sends one request at a time.

Usage::

    .venv/bin/python bench/bench_ccxt.py [--fills 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import ccxt  # noqa: E402
import duckdb  # noqa: E402
import pandas as pd  # noqa: E402

from okx_journal.simulator import Simulator, generate_history  # noqa: E402

INST_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")
OUT = REPO / "bench" / "out"


def walk(fetch: Any, inst_type: str, extra: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Pages a ccxt fetch method backwards with ``after`` until a short page."""
    rows: list[dict[str, Any]] = []
    after: str | None = None
    calls = 0
    while True:
        params = {"instType": inst_type, **extra}
        if after is not None:
            params["after"] = after
        page = fetch(None, None, 100, params)
        calls += 1
        rows.extend(item["info"] for item in page)
        if len(page) < 100:
            return rows, calls
        after = min((item["info"]["billId"] for item in page), key=int)


def run(n_fills: int, seed: int = 1) -> dict[str, Any]:
    history = generate_history(seed=seed, scale=n_fills)
    acc = history.accounts[0]
    with tempfile.TemporaryDirectory() as tmp, Simulator(history, rate_limits=True) as sim:
        started = time.perf_counter()
        exchange = ccxt.okx({
            "apiKey": acc.api_key, "secret": acc.secret, "password": acc.passphrase,
            "enableRateLimit": True,
        })
        exchange.urls["api"] = {"rest": sim.url}
        exchange.options["fetchMarkets"] = {"types": ["spot", "future", "swap"]}
        exchange.load_markets()
        fills: list[dict[str, Any]] = []
        bills: list[dict[str, Any]] = []
        calls = 0
        for inst_type in INST_TYPES:
            rows, n = walk(exchange.fetch_my_trades, inst_type, {})
            fills.extend(rows)
            calls += n
        for inst_type in INST_TYPES:
            rows, n = walk(exchange.fetch_ledger, inst_type, {"method": "privateGetAccountBillsArchive"})
            bills.extend(rows)
            calls += n
        con = duckdb.connect(str(Path(tmp) / "ccxt.duckdb"))
        con.register("fills_df", pd.DataFrame(fills))
        con.register("bills_df", pd.DataFrame(bills))
        con.execute("CREATE TABLE fills AS SELECT * FROM fills_df")
        con.execute("CREATE TABLE bills AS SELECT * FROM bills_df")
        loaded = con.execute("SELECT (SELECT count(*) FROM fills), (SELECT count(*) FROM bills)").fetchone()
        con.close()
        wall = time.perf_counter() - started
        result = {
            "bench": "backfill_rate_limited_ccxt",
            "fills": len(acc.fills), "bills": len(acc.bills),
            "wall_s": round(wall, 2),
            "ccxt_calls": calls,
            "fills_loaded": loaded[0] if loaded else 0,
            "bills_loaded": loaded[1] if loaded else 0,
            "bills_missed_without_instType": len(acc.bills) - len(bills),
            "answers_50011": sim.stats.rate_limited,
            "requests": dict(sim.stats.requests),
        }
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "results.jsonl").open("a") as fh:
        fh.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="ccxt backfill benchmark")
    parser.add_argument("--fills", type=int, default=20_000)
    run(parser.parse_args().fills)
