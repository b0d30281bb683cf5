"""A new user's first minute: ``okx-journal sync`` as the CLI runs it (a new process each
time, default checks) against the rate-limited simulator (not a test).

Usage::

    .venv/bin/python bench/bench_first_minute.py [--fills 3000] [--runs 3] [--code DIR]

``--code DIR`` runs the CLI of another checkout (``git archive <commit> | tar -x -C DIR``)
with this virtualenv, for a before/after comparison on the same machine and load.

Measures the first sync of a small account (its ledger, positions, instruments and
funding account) and then syncs with nothing new. The *floor* of a run is computed from
the run's own requests, per rate-limit key: ``(ceil(N / n) - 1) × window`` for ``N``
requests to an endpoint allowed ``n`` per ``window``; the slowest key sets it (every
key is walked in parallel at best). Prints one JSON object and appends it to
``bench/out/results.jsonl``.
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from okx_journal.simulator import Simulator, generate_history  # noqa: E402
from okx_journal.simulator.server import RATE_LIMITS  # noqa: E402

OUT = REPO / "bench" / "out"
CLI = REPO / ".venv" / "bin" / "okx-journal"


def floor_of(requests: dict[str, int]) -> tuple[float, str, dict[str, float]]:
    """The rate-limit floor of a run's own requests: per key, then the slowest."""
    per_key: dict[str, float] = {}
    for path, n_req in requests.items():
        limits = RATE_LIMITS.get(("GET", path))
        if not limits or not n_req:
            continue
        n, window = limits[0]
        per_key[path] = max(0, math.ceil(n_req / n) - 1) * window
    slowest = max(per_key, key=lambda k: per_key[k], default="")
    return per_key.get(slowest, 0.0), slowest, per_key


def sync(db: Path, sim: Simulator, acc: Any, home: Path, code: Path | None = None) -> dict[str, Any]:
    cli = [str(CLI)] if code is None else [sys.executable, "-m", "okx_journal.cli"]
    env = {
        **os.environ,
        "OKX_API_KEY": acc.api_key,
        "OKX_API_SECRET": acc.secret,
        "OKX_API_PASSPHRASE": acc.passphrase,
        "OKX_JOURNAL_HOME": str(home),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        **({"PYTHONPATH": str(code)} if code is not None else {}),
    }
    sim.stats.reset()
    started = time.perf_counter()
    started_mono = time.monotonic()
    proc = subprocess.run(
        [*cli, "--db", str(db), "sync", "--base-url", sim.url, "--json"],
        cwd=db.parent if code is None else code, env=env, capture_output=True, text=True, timeout=1800,
    )
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 5):
        raise SystemExit(f"sync failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout)
    requests = {k: v for k, v in sim.stats.requests.items() if v}
    floor, slowest, per_key = floor_of(requests)
    return {
        "wall_s": round(wall, 2),
        "floor_s": floor,
        "slowest_key": slowest,
        "target_s": round(1.10 * floor + 3.0, 2),
        "requests": requests,
        "floor_by_key_s": {k: v for k, v in per_key.items() if v},
        "answers_50011": sim.stats.rate_limited,
        # when each endpoint's first and last request arrived, seconds after the start
        "request_times_s": {
            k: [round(t0 - started_mono, 2), round(t1 - started_mono, 2)]
            for k, (t0, t1) in sorted(sim.stats.times.items(), key=lambda kv: kv[1][1])
        },
        "time_split_s": summary.get("time_split_s"),
        "journal_built": summary.get("journal_built"),
        "checks_ok": summary.get("checks_ok"),
        "new_rows": {k: v for k, v in summary["new_rows"].items() if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fills", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--code", type=Path, default=None)
    args = parser.parse_args()
    history = generate_history(seed=args.seed, scale=args.fills)
    acc = history.accounts[0]
    with tempfile.TemporaryDirectory() as tmp, Simulator(history, rate_limits=True) as sim:
        db = Path(tmp) / "okx.duckdb"
        first = sync(db, sim, acc, Path(tmp) / "home", args.code)
        time.sleep(2.5)  # a cron interval later: every rate-limit window has passed
        again = []
        for _ in range(args.runs):
            again.append(sync(db, sim, acc, Path(tmp) / "home", args.code))
            time.sleep(2.5)
    result = {
        "bench": "first_minute",
        "code": str(args.code) if args.code else "this checkout",
        "fills": len(acc.fills), "bills": len(acc.bills),
        "positions_history": len(acc.positions_history),
        "first_sync": first,
        "nothing_new_wall_s": [r["wall_s"] for r in again],
        "nothing_new": again[-1],
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "results.jsonl").open("a") as fh:
        fh.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
