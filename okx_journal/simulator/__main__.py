"""``python -m okx_journal.simulator``: serve a generated OKX account history on loopback."""

from __future__ import annotations

import argparse

from okx_journal.simulator.server import run_simulator


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m okx_journal.simulator", description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scale", type=int, default=2000, help="number of fills to generate")
    ap.add_argument("--no-rate-limits", action="store_true")
    ap.add_argument("--history-file", default=None)
    ap.add_argument("--fills-retention-days", type=int, default=365,
                    help="how far back trade/fills-history serves (OKX: 90 or 365)")
    ap.add_argument("--anchor-ms", type=int, default=None,
                    help="end of the generated history in ms (default: now - 5 min); the "
                         "server's clock then starts 5 min after it")
    ap.add_argument("--days", type=int, default=None, help="length of the generated history")
    a = ap.parse_args(argv)
    run_simulator(port=a.port, seed=a.seed, scale=a.scale, rate_limits=not a.no_rate_limits,
                  history_file=a.history_file, fills_retention_days=a.fills_retention_days,
                  anchor_ms=a.anchor_ms, days=a.days)


if __name__ == "__main__":
    main()
