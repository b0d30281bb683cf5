"""``okx-journal demo``: the whole path on a simulated account, in one command.

Starts the built-in OKX simulator on a free loopback port with a generated two-year
account history covering all five instrument types, checks the demo key with ``doctor``, syncs
into ``demo.duckdb``, builds the journal and prints P&L per instrument type.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from okx_journal.config import ConnectionSettings
from okx_journal.doctor import run_doctor
from okx_journal.simulator import DEMO_CREDENTIALS, Simulator, generate_history
from sources.okx.credentials import OkxCredentials

EXAMPLE_QUERIES = (
    "select * from journal.pnl_total_usd",
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
        usd_rows, usd_total = _usd_pnl(con)
    finally:
        con.close()
    from okx_journal.report import format_money

    if usd_rows:
        _print_usd(usd_rows, usd_total, echo)

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


_TYPE_ORDER = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")


def _usd_pnl(con: Any) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
    """P&L per instrument type in USD (every currency added up) and the USD total."""
    found = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'journal' and table_name = 'pnl_total_usd'"
    ).fetchone()
    if not found or not found[0]:
        return [], None
    parts = ("gross_pnl_usd", "fees_usd", "funding_usd", "interest_usd", "net_pnl_usd")
    sums = ", ".join(f"case when count(*) filter (where {p} is null) = 0 then sum({p}) end" for p in parts)
    rows = con.execute(
        f"select inst_type, {sums} from journal.pnl_by_instrument_type group by inst_type"
    ).fetchall()
    rows.sort(key=lambda r: (_TYPE_ORDER.index(r[0]) if r[0] in _TYPE_ORDER else 9, str(r[0])))
    total = con.execute(
        f"select 'TOTAL', {', '.join(f'sum({p})' for p in parts)}, sum(unrealised_pnl_usd), "
        "sum(unpriced_events) from journal.pnl_total_usd"
    ).fetchone()
    return rows, total


def _print_usd(rows: list[tuple[Any, ...]], total: tuple[Any, ...] | None,
               echo: Callable[[str], None]) -> None:
    from okx_journal.report import format_money

    header = ("inst_type", "gross_pnl_usd", "fees_usd", "funding_usd", "interest_usd", "net_pnl_usd")
    body = [tuple(r[:6]) for r in rows] + ([tuple(total[:6])] if total is not None else [])
    cells = [header] + [(str(r[0]), *(format_money(v, "USD") for v in r[1:])) for r in body]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    echo("")
    if total is not None:
        unpriced = f"; {total[7]} events without a USD price" if total[7] else ""
        echo(f"Total P&L in USD (all instrument types and currencies): {format_money(total[5], 'USD')} USD"
             f" realised, {format_money(total[6], 'USD')} USD unrealised in open positions{unpriced}")
    echo("P&L per instrument type in USD (each event at its hour's OKX index price)")
    for n, row in enumerate(cells):
        if n == len(cells) - 1 and total is not None:
            echo("  ".join("-" * w for w in widths))
        echo("  ".join(c.rjust(w) if n and i >= 1 else c.ljust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            echo("  ".join("-" * w for w in widths))
