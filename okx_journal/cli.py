"""The ``okx-journal`` command line: parse, call one library function, map errors.

Every command is thin. Errors from the library are ``OkxJournalError`` subclasses whose
``str()`` is the one line a trader can act on and whose ``exit_code`` is the contract's:
0 success, 2 usage or configuration, 3 rejected by OKX (credentials, permission, IP,
environment), 4 unreachable or rate-limited, 5 a data check failed, 6 another sync of
the same database is running.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from sources.okx.errors import ConfigError, OkxJournalError

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = "DuckDB file (default okx_journal.duckdb; environment OKX_JOURNAL_DB)."


def _db_option(func: F) -> F:
    """``--db`` is accepted before the command and after it; after wins."""
    return click.option("--db", "db", type=click.Path(dir_okay=False), default=None, help=DB_HELP)(
        func
    )


def resolve_db(ctx: click.Context, db: str | None) -> Path:
    """The database path: the command's ``--db``, the group's, ``OKX_JOURNAL_DB``, default."""
    chosen = db or (ctx.obj or {}).get("db") or os.environ.get("OKX_JOURNAL_DB")
    path = Path(chosen or "okx_journal.duckdb")
    if path.stem.lower() in _SCHEMA_NAMES:
        raise ConfigError(
            f"{path.name}: DuckDB names a database after its file, and {path.stem!r} is one of "
            "the journal's schemas; choose another file name (e.g. okx_journal.duckdb)"
        )
    return path


#: Schemas the journal creates: a DuckDB file named like one makes its names ambiguous.
_SCHEMA_NAMES = frozenset({"okx_raw", "okx_journal_meta", "journal", "journal_staging", "journal_int"})


DESTINATION_HELP = (
    "duckdb (the --db file, default) or postgres (the server in dlt's "
    "destination.postgres.credentials); environment OKX_JOURNAL_DESTINATION, "
    "dlt.toml [okx_journal] destination."
)


def _destination_option(func: F) -> F:
    return click.option(
        "--destination",
        type=click.Choice(["duckdb", "postgres"]),
        default=None,
        help=DESTINATION_HELP,
    )(func)


def resolve_target(ctx: click.Context, db: str | None, destination: str | None) -> Any:
    """The DuckDB path, or the PostgreSQL ``Destination`` when that is the destination."""
    from okx_journal.destination import Destination

    target = Destination.resolve(resolve_db(ctx, db), destination)
    return target if target.is_postgres else target.db_path


def _connection_options(func: F) -> F:
    options = [
        click.option(
            "--base-url",
            default=None,
            help="OKX host: https://www.okx.com (default), https://eea.okx.com (my.okx.com "
            "accounts) or https://us.okx.com (app.okx.com accounts); environment OKX_BASE_URL.",
        ),
        click.option("--profile", default=None, help="Use credentials stored with `credentials set`."),
        click.option(
            "--demo-trading",
            is_flag=True,
            help="The key is a demo-trading key (sends x-simulated-trading: 1).",
        ),
        click.option(
            "--allow-write-permissions",
            is_flag=True,
            help="Accept a key that can also trade or withdraw (a warning is printed every run).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@_db_option
@click.version_option(package_name="okx-journal")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """okx-journal: your OKX account as a DuckDB warehouse and trade journal.

    Set up credentials with `okx-journal credentials set --profile main`, check them
    with `okx-journal doctor --profile main`, then run `okx-journal sync --profile main`
    (from cron as often as you like). Try everything first with `okx-journal demo`.
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db


@cli.command()
@_db_option
@_connection_options
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Ignore the stored cursors and re-read everything OKX still has (nothing already "
    "loaded is deleted: OKX keeps 3 months of ledger, the warehouse keeps it all).",
)
@click.option(
    "--checks",
    type=click.Choice(["off", "warn", "fail"]),
    default=None,
    help="Data checks after the load (default from dlt.toml okx_journal.checks; fail exits 5).",
)
@click.option(
    "--cost-basis",
    "cost_basis_method",
    type=click.Choice(["fifo", "lifo", "hifo", "average"]),
    default=None,
    help="How SPOT and MARGIN lots are matched for P&L (default from dlt.toml "
    "okx_journal.cost_basis, else fifo); every SPOT/MARGIN row names it.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Oldest day (UTC) the quarterly ledger export is asked for (default: the "
    "account's first activity, all that OKX has since 2021-02-01).",
)
@click.option(
    "--ledger-export/--no-ledger-export",
    default=True,
    show_default=True,
    help="Import OKX's quarterly ledger export for the quarters older than the REST "
    "pages' 3 months.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success (errors still go to stderr).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout (for orchestrators).")
@_destination_option
@click.pass_context
def sync(
    ctx: click.Context,
    db: str | None,
    destination: str | None,
    base_url: str | None,
    profile: str | None,
    demo_trading: bool,
    allow_write_permissions: bool,
    full_refresh: bool,
    quiet: bool,
    as_json: bool,
    checks: str | None,
    cost_basis_method: str | None,
    since: datetime | None,
    ledger_export: bool,
) -> None:
    """Load what is new from OKX, then rebuild the journal.

    Incremental: the first run takes everything OKX still keeps (the ledger back to the
    account's first quarter through OKX's quarterly export, fills as far back as OKX
    serves them), later runs only what is new. Safe to schedule every few minutes: a
    second sync of the same database exits 6 at once. Logs go to stderr.
    """
    from okx_journal.config import (
        check_mode,
        connection_settings,
        cost_basis,
        resolve_credentials,
        with_site,
    )
    from okx_journal.sync import SyncOptions, run_sync

    credentials = resolve_credentials(profile)
    settings = with_site(connection_settings(base_url, demo_trading), credentials)
    opts = SyncOptions(
        db_path=resolve_db(ctx, db),
        credentials=credentials,
        base_url=settings.base_url,
        demo_trading=settings.demo_trading,
        full_refresh=full_refresh,
        allow_write_permissions=allow_write_permissions,
        quiet=quiet or as_json,
        checks=check_mode(checks),
        cost_basis=cost_basis(cost_basis_method),
        ledger_export=ledger_export,
        since=since.replace(tzinfo=UTC) if since is not None else None,
        destination=destination,
    )
    summary = run_sync(opts, log=None if (quiet or as_json) else _stderr)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), default=str, indent=2))
    elif not quiet:
        click.echo(summary.to_text())


@cli.command()
@_db_option
@_connection_options
@click.option(
    "--no-clock-sync",
    is_flag=True,
    help="Sign with this machine's clock as it is (shows whether it alone would get 50102).",
)
@click.pass_context
def doctor(
    ctx: click.Context,
    db: str | None,
    base_url: str | None,
    profile: str | None,
    demo_trading: bool,
    allow_write_permissions: bool,
    no_clock_sync: bool,
) -> None:
    """Check the host, the clock, the key, its permissions and IP binding, one line each."""
    from okx_journal.config import connection_settings, resolve_credentials, with_site
    from okx_journal.doctor import run_doctor

    credentials = resolve_credentials(profile)
    settings = with_site(connection_settings(base_url, demo_trading), credentials)
    report = run_doctor(
        credentials,
        settings,
        allow_write_permissions=allow_write_permissions,
        clock_sync=not no_clock_sync,
        emit=lambda check: click.echo(check.line()),
        db_path=resolve_db(ctx, db),
    )
    if report.error is not None:
        raise report.error


@cli.command()
@click.option("--port", type=int, default=0, show_default=True, help="Loopback port (0 picks a free one).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the generated history.")
@click.option("--scale", type=int, default=2000, show_default=True, help="Number of fills to generate.")
@click.option("--no-rate-limits", is_flag=True, help="Switch off OKX's per-endpoint rate limits.")
@click.option(
    "--history-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Serve a recorded history file instead of generating one.",
)
@click.option(
    "--fills-retention-days",
    type=click.IntRange(min=1),
    default=365,
    show_default=True,
    help="How far back trade/fills-history serves (OKX's docs say 3 months or 1 year).",
)
@click.option(
    "--anchor-ms",
    type=int,
    default=None,
    help="End of the generated history in epoch ms (default: now minus 5 minutes); same seed and anchor, same history. The simulator's clock then starts 5 minutes after it.",
)
@click.option("--days", type=click.IntRange(min=1), default=None, help="Length of the generated history in days.")
def simulate(
    port: int,
    seed: int,
    scale: int,
    no_rate_limits: bool,
    history_file: str | None,
    fills_retention_days: int,
    anchor_ms: int | None,
    days: int | None,
) -> None:
    """Run the built-in OKX simulator on loopback until Ctrl-C.

    Prints its URL and the demo credentials it accepts; point `sync` or `doctor` at it
    with --base-url.
    """
    from okx_journal.simulator.server import run_simulator

    run_simulator(
        port=port,
        seed=seed,
        scale=scale,
        rate_limits=not no_rate_limits,
        history_file=Path(history_file) if history_file else None,
        fills_retention_days=fills_retention_days,
        anchor_ms=anchor_ms,
        days=days,
    )


@cli.command()
@_db_option
@click.option("--scale", type=int, default=2000, show_default=True, help="Number of fills in the generated history.")
@click.option("--report", "report_path", default="demo-report.html", show_default=True, help="Where to write the HTML report.")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=730,
    show_default=True,
    help="Length of the generated history (older than 3 months: OKX's quarterly export).",
)
@click.pass_context
def demo(ctx: click.Context, db: str | None, scale: int, report_path: str, days: int) -> None:
    """Sync a generated account from the built-in simulator into demo.duckdb, end to end."""
    from okx_journal.demo import run_demo

    run_demo(
        db_path=Path(db or (ctx.obj or {}).get("db") or "demo.duckdb"),
        report_path=Path(report_path),
        scale=scale,
        days=days,
        echo=click.echo,
    )


@cli.command()
@_db_option
@click.option(
    "--suite",
    "suites",
    multiple=True,
    type=click.Choice(["raw", "journal", "coverage"]),
    help="Run only this suite (repeatable); default all.",
)
@_destination_option
@click.pass_context
def check(ctx: click.Context, db: str | None, suites: tuple[str, ...], destination: str | None) -> None:
    """Run the data-quality suites (great-expectations) on the loaded data; exit 5 on a failure.

    Prints a short table (suite, expectations, failed, first failing example) and writes
    the full results as JSON next to the database (<db>.checks.json).
    """
    from okx_journal.checks import run_checks

    report = run_checks(resolve_target(ctx, db, destination), suites=list(suites) or None)
    click.echo(report.to_table())
    report.raise_for_failures()


@cli.command()
@_db_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="HTML file to write.")
@click.option("--account", "account_uid", default=None, help="Only this account uid.")
@_destination_option
@click.pass_context
def report(
    ctx: click.Context, db: str | None, out: str, account_uid: str | None, destination: str | None
) -> None:
    """Write a self-contained HTML report (charts included, no network needed to view it)."""
    from okx_journal.report import write_report

    info = write_report(resolve_target(ctx, db, destination), Path(out), account_uid=account_uid)
    failures = info.reconciliation_failures
    click.echo(
        f"wrote {info.path} ({info.size_bytes:,} bytes"
        + (f", {failures} reconciliation failures" if failures else "")
        + ")"
    )


@cli.command()
@_db_option
@click.argument("query")
@click.option("--max-rows", type=int, default=100, show_default=True, help="Rows to print at most.")
@_destination_option
@click.pass_context
def sql(
    ctx: click.Context, db: str | None, query: str, max_rows: int, destination: str | None
) -> None:
    """Run one SQL query on the warehouse (read-only) and print the result as a table.

    Example: okx-journal sql "select * from journal.pnl_by_instrument_type"
    (DuckDB's SQL; on PostgreSQL it is translated as the journal's models are).
    """
    import duckdb

    target = resolve_target(ctx, db, destination)
    if not isinstance(target, Path):
        from okx_journal.postgres import query_table

        click.echo(query_table(target.dsn, query, max_rows))
        return
    path = target
    if not path.exists():
        raise ConfigError(f"{path} does not exist: run `okx-journal sync` (or `make demo`) first")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ConfigError(f"cannot open {path} read-only: {exc}") from None
    try:
        relation = con.sql(query)
        if relation is None:
            raise ConfigError("the query returned no result set (the warehouse is opened read-only)")
        click.echo(str(relation.limit(max_rows)).rstrip())
    except duckdb.Error as exc:
        raise ConfigError(f"SQL error: {exc}") from None
    finally:
        con.close()


def _register_optional_commands() -> None:
    try:
        from okx_journal.credentials_cli import credentials
    except ImportError:  # pragma: no cover - the store ships with the package
        return
    cli.add_command(credentials)


def _stderr(line: str) -> None:
    click.echo(line, err=True)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``okx-journal``: one line on stderr and the contract's exit code."""
    _register_optional_commands()
    try:
        cli.main(args=argv, prog_name="okx-journal", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "okx-journal"
        _fail(f"{exc.format_message()} (see `{command} --help`)", 2)
    except click.Abort:
        _fail("interrupted", 130)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except ConfigError as exc:
        _fail(str(exc), exc.exit_code)
    except OkxJournalError as exc:
        _fail(str(exc), exc.exit_code)
    except Exception as exc:  # one line, never a traceback, unless asked for
        if os.environ.get("OKX_JOURNAL_DEBUG"):
            traceback.print_exc()
        first = (str(exc).splitlines() or [""])[0][:200]
        _fail(
            f"unexpected {type(exc).__name__}: {first} -- please report it; set "
            "OKX_JOURNAL_DEBUG=1 to see the traceback",
            1,
        )


def run() -> None:
    """The ``okx-journal`` command: ``main()``, then the process ends at once.

    By then every database connection, lock and file is closed and the output is
    written; what is left is the interpreter's teardown of the modules a sync imported
    (great-expectations, pandas, pyarrow, dlt), about a second after a first sync, which
    a cron job or an orchestrator would wait for for nothing.
    """
    code = 0
    try:
        main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # what sys.exit("text") does: the text on stderr, exit 1
            print(exc.code, file=sys.stderr)
            code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
