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
    a = ap.parse_args(argv)
    run_simulator(port=a.port, seed=a.seed, scale=a.scale, rate_limits=not a.no_rate_limits,
                  history_file=a.history_file)


if __name__ == "__main__":
    main()
