"""Benchmarks of ``okx-journal sync`` against the loopback simulator (not tests).

Usage::

    .venv/bin/python bench/bench_sync.py backfill   [--fills 20000]   # rate limits ON
    .venv/bin/python bench/bench_sync.py throughput [--fills 200000]  # rate limits off
    .venv/bin/python bench/bench_sync.py incremental [--fills 20000]  # nothing new
    .venv/bin/python bench/bench_sync.py all

Each prints a JSON line and appends it to ``bench/out/results.jsonl``. The sync runs in
a child process (``python -c`` around ``run_sync``) so that its wall time includes what
a user's run pays and its peak memory is measured alone (the simulator, with the whole
generated history in memory, stays in this process). So the simulator and the sync are
two processes with two GILs; ``simulator_cpu_s`` is the CPU time this process spent
serving while the child ran: when it approaches the child's wall time, the simulator,
not the connector, sets the pace (it does at 200,000 fills: each
``positions-history`` page re-filters and re-sorts every position life under the
simulator's lock, ~77 ms per page at that scale).

The *floor* of a backfill is what OKX's documented limits allow at best: for every
endpoint, the pages it must serve (rows ÷ 100, per walk) sent as fast as its sliding
window admits (``(ceil(pages / n) - 1) × window`` for "n requests per window"), all
endpoints in parallel; the longest endpoint sets the floor. The split between the recent
and the long endpoints is the ideal one (recent endpoints take everything inside their
windows), so the floor is slightly lower than any real plan that overlaps them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from okx_journal.simulator import Simulator, generate_history  # noqa: E402
from okx_journal.simulator.server import RATE_LIMITS, RETENTION_MS  # noqa: E402

OUT = REPO / "bench" / "out"
DAY = 86_400_000
INST_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
def peak_mb():
    # VmHWM is this program's own peak: ru_maxrss would include the parent's memory at
    # the fork (the benchmark's parent holds the whole generated history)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from okx_journal.sync import SyncOptions, run_sync
from sources.okx.credentials import OkxCredentials
db, url, key, secret, passphrase, limits = sys.argv[1:7]
t1 = time.perf_counter()
s = run_sync(SyncOptions(db_path=Path(db), credentials=OkxCredentials(key, secret, passphrase),
             base_url=url, rate_limits=limits == "1", transforms=False, quiet=True))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "run_sync_s": t2 - t1, "summary": s.to_dict(),
                  "peak_rss_mb": peak_mb()}))
"""


def run_child(db: Path, sim: Simulator, acc: Any, limits: bool) -> dict[str, Any]:
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    sim_cpu = time.process_time()  # this process only serves requests while the child runs
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), sim.url, acc.api_key, acc.secret, acc.passphrase,
         "1" if limits else "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=3600,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"sync failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    out["simulator_cpu_s"] = time.process_time() - sim_cpu
    out["load_avg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    return out


def window_time(pages: int, endpoint: str) -> float:
    """Least time OKX's sliding window allows for ``pages`` requests to ``endpoint``."""
    (n, window), *_ = RATE_LIMITS[("GET", endpoint)]
    return max(0, math.ceil(pages / n) - 1) * window if pages else 0.0


def floor_seconds(acc: Any, now_ms: int) -> dict[str, Any]:
    """Pages per endpoint (ideal recent/long split) and the parallel floor."""
    recent_fills = now_ms - RETENTION_MS["/api/v5/trade/fills"]
    recent_bills = now_ms - RETENTION_MS["/api/v5/account/bills"]
    fills_new = sum(1 for f in acc.fills if int(f["ts"]) >= recent_fills)
    old_by_type = Counter(f["instType"] for f in acc.fills if int(f["ts"]) < recent_fills)
    bills_new = sum(1 for b in acc.bills if int(b["ts"]) >= recent_bills)
    bills_old = len(acc.bills) - bills_new
    pages = {
        "/api/v5/trade/fills": math.ceil(fills_new / 100),
        "/api/v5/trade/fills-history": sum(math.ceil(old_by_type[t] / 100) for t in INST_TYPES),
        "/api/v5/account/bills": math.ceil(bills_new / 100),
        "/api/v5/account/bills-archive": math.ceil(bills_old / 100),
        "/api/v5/account/positions-history": math.ceil(len(acc.positions_history) / 100),
    }
    seconds = {path: window_time(p, path) for path, p in pages.items()}
    return {"pages": pages, "seconds": seconds, "floor_s": max(seconds.values())}


def record(result: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "results.jsonl").open("a") as fh:
        fh.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=1))


def bench_backfill(n_fills: int, seed: int = 1) -> dict[str, Any]:
    history = generate_history(seed=seed, scale=n_fills)
    acc = history.accounts[0]
    with tempfile.TemporaryDirectory() as tmp, Simulator(history, rate_limits=True) as sim:
        db = Path(tmp) / "bench.duckdb"
        floor = floor_seconds(acc, sim.now_ms())
        out = run_child(db, sim, acc, limits=True)
        stats = sim.stats
        own_floor = max(
            (window_time(n, path) for path, n in stats.requests.items()
             if ("GET", path) in RATE_LIMITS), default=0.0)
        result = {
            "bench": "backfill_rate_limited",
            "fills": len(acc.fills), "bills": len(acc.bills),
            "positions_history": len(acc.positions_history),
            "wall_s": round(out["process_wall_s"], 2),
            "run_sync_s": round(out["run_sync_s"], 2),
            "floor_s": round(floor["floor_s"], 2),
            "vs_floor": round(out["process_wall_s"] / floor["floor_s"], 3),
            # the floor of the requests this run sent, per limit key (the slowest)
            "own_floor_s": round(own_floor, 2),
            "vs_own_floor": round(out["process_wall_s"] / own_floor, 3) if own_floor else None,
            "floor_pages": floor["pages"],
            "floor_seconds": {k: round(v, 2) for k, v in floor["seconds"].items()},
            "requests": dict(stats.requests),
            "answers_50011": stats.rate_limited,
            "rate_limit_wait_s": out["summary"]["rate_limit_wait_seconds"],
            "new_rows": out["summary"]["new_rows"],
        }
    record(result)
    return result


def bench_throughput(n_fills: int, seed: int = 2) -> dict[str, Any]:
    t = time.perf_counter()
    history = generate_history(seed=seed, scale=n_fills)
    gen_s = time.perf_counter() - t
    acc = history.accounts[0]
    with tempfile.TemporaryDirectory() as tmp, Simulator(history, rate_limits=False) as sim:
        db = Path(tmp) / "bench.duckdb"
        out = run_child(db, sim, acc, limits=False)
        rows = sum(out["summary"]["new_rows"].values())
        result = {
            "bench": "throughput_no_limits",
            "fills": len(acc.fills), "bills": len(acc.bills),
            "positions_history": len(acc.positions_history),
            "rows_loaded": rows,
            "wall_s": round(out["process_wall_s"], 2),
            "run_sync_s": round(out["run_sync_s"], 2),
            "rows_per_s_run_sync": round(rows / out["run_sync_s"]),
            "rows_per_s_process": round(rows / out["process_wall_s"]),
            "peak_rss_mb": round(out["peak_rss_mb"], 1),
            "simulator_cpu_s": round(out["simulator_cpu_s"], 1),
            "load_avg_after": out["load_avg_1_5_15"],
            "generate_s": round(gen_s, 1),
            "requests": sum(sim.stats.requests.values()),
        }
    record(result)
    return result


def bench_incremental(n_fills: int, seed: int = 3, runs: int = 3) -> dict[str, Any]:
    history = generate_history(seed=seed, scale=n_fills)
    acc = history.accounts[0]
    with tempfile.TemporaryDirectory() as tmp, Simulator(history, rate_limits=True) as sim:
        db = Path(tmp) / "bench.duckdb"
        sim.rate_limits = False
        run_child(db, sim, acc, limits=False)  # the backfill, not measured
        sim.rate_limits = True
        sim.reset_rate_limits()
        walls, inner = [], []
        for _ in range(runs):
            sim.stats.reset()
            out = run_child(db, sim, acc, limits=True)
            walls.append(out["process_wall_s"])
            inner.append(out["run_sync_s"])
        result = {
            "bench": "incremental_nothing_new_rate_limited",
            "fills": len(acc.fills),
            "process_wall_s": [round(w, 2) for w in walls],
            "run_sync_s": [round(w, 2) for w in inner],
            "best_process_wall_s": round(min(walls), 2),
            "requests_last_run": dict(sim.stats.requests),
            "new_rows_last_run": out["summary"]["new_rows"],
        }
    record(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("which", choices=["backfill", "throughput", "incremental", "all"])
    parser.add_argument("--fills", type=int, default=None)
    args = parser.parse_args()
    if args.which in ("backfill", "all"):
        bench_backfill(args.fills or 20_000)
    if args.which in ("throughput", "all"):
        bench_throughput(args.fills or 200_000)
    if args.which in ("incremental", "all"):
        bench_incremental(args.fills or 20_000)


if __name__ == "__main__":
    main()
