"""``okx-journal demo``: the whole path on a simulated account, in one command.

Starts the built-in OKX simulator on a free loopback port with a generated two-year
account history covering all five instrument types, checks the demo key with ``doctor``, syncs
into ``demo.duckdb``, builds the journal and prints P&L per instrument type.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from okx_journal.config import ConnectionSettings
from okx_journal.doctor import run_doctor
from okx_journal.simulator import DEMO_CREDENTIALS, Simulator, generate_history
from sources.okx.credentials import OkxCredentials

EXAMPLE_QUERIES = (
    "select inst_type, pnl_ccy, net_pnl from journal.pnl_by_instrument_type order by 1",
    "select inst_id, direction, opened_at, closed_at, net_pnl from journal.round_trips "
    "order by net_pnl desc limit 10",
    "select day, pnl_ccy, sum(net_pnl) from journal.daily_pnl group by all order by 1 desc limit 14",
)


def run_demo(
    *,
    db_path: Path,
    report_path: Path,
    scale: int = 2000,
    seed: int = 7,
    days: int = 730,
    echo: Callable[[str], None],
) -> None:
    """Run the demo end to end; raises the library's errors like any command."""
    from okx_journal.sync import SyncOptions, run_sync

    echo(f"Generating a simulated OKX account ({scale} fills over {days} days, seed {seed}) ...")
    history = generate_history(seed=seed, scale=scale, days=days)
    account = history.accounts[0]
    credentials = OkxCredentials(account.api_key, account.secret, account.passphrase)
    assert credentials.api_key == DEMO_CREDENTIALS.api_key
    with Simulator(history, rate_limits=True) as sim:
        echo(f"OKX simulator listening on {sim.url} (rate limits on, as on OKX)")
        if days > 90:
            echo("OKX's REST pages keep 3 months of ledger; the older quarters come from its "
                 "quarterly export, which OKX lets a key request once per 10 s.")
        settings = ConnectionSettings(sim.url, False, 10.0, 6)
        echo("")
        echo(f"$ okx-journal doctor --base-url {sim.url}")
        report = run_doctor(credentials, settings, emit=lambda c: echo(c.line()))
        if report.error is not None:
            raise report.error
        echo("")
        echo(f"$ okx-journal sync --base-url {sim.url} --db {db_path}")
        summary = run_sync(
            SyncOptions(
                db_path=db_path,
                credentials=credentials,
                base_url=sim.url,
                full_refresh=True,
            ),
            log=echo,
        )
        echo(summary.to_text())

    from okx_journal.checks import run_checks
    from okx_journal.report import write_report

    echo("")
    echo(f"$ okx-journal check --db {db_path}")
    checks = run_checks(db_path)
    echo(checks.to_table())
    info = write_report(db_path, report_path)
    _print_pnl(db_path, echo)
    echo("")
    echo(f"Warehouse: {db_path.resolve()}")
    echo(f"Report:    {info.path.resolve()}")
    echo("Try next:")
    for query in EXAMPLE_QUERIES:
        echo(f"  .venv/bin/okx-journal sql --db {db_path} \"{query}\"")
    checks.raise_for_failures()


def _print_pnl(db_path: Path, echo: Callable[[str], None]) -> None:
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'journal' and table_name = 'pnl_by_instrument_type'"
        ).fetchone()
        if not exists or not exists[0]:
            echo("(the journal has not been built: P&L per instrument type is not available)")
            return
        rows = con.execute(
            "select inst_type, pnl_ccy, gross_pnl, fees, funding, interest, net_pnl "
            "from journal.pnl_by_instrument_type order by inst_type, pnl_ccy"
        ).fetchall()
    finally:
        con.close()
    from okx_journal.report import format_money

    header = ("inst_type", "pnl_ccy", "gross_pnl", "fees", "funding", "interest", "net_pnl")
    cells = [header] + [
        (str(row[0]), str(row[1]), *(format_money(v, row[1]) for v in row[2:])) for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    echo("")
    echo("P&L per instrument type (rounded for display; exact DECIMALs in the database)")
    for n, row in enumerate(cells):
        echo("  ".join(c.rjust(w) if n and i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            echo("  ".join("-" * w for w in widths))
