"""The command line's promises: help everywhere, --db anywhere, one line per failure."""

from __future__ import annotations

import click
from click.testing import CliRunner

from okx_journal import cli as cli_module
from tests.conftest import run_cli


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in group.commands.items():
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found.extend(_all_commands(command, (*prefix, name)))
    return found


def test_every_command_has_help_text() -> None:
    cli_module._register_optional_commands()
    commands = _all_commands(cli_module.cli)
    names = {" ".join(path) for path, _ in commands}
    assert {"sync", "doctor", "simulate", "demo", "credentials"} <= names
    runner = CliRunner()
    for path, command in commands:
        assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
        result = runner.invoke(cli_module.cli, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_db_option_accepted_before_and_after_the_command() -> None:
    seen: list[str] = []

    @cli_module.cli.command("probe-db", hidden=True)
    @cli_module._db_option
    @click.pass_context
    def probe(ctx: click.Context, db: str | None) -> None:
        seen.append(str(cli_module.resolve_db(ctx, db)))

    try:
        runner = CliRunner()
        assert runner.invoke(cli_module.cli, ["--db", "before.duckdb", "probe-db"]).exit_code == 0
        assert runner.invoke(cli_module.cli, ["probe-db", "--db", "after.duckdb"]).exit_code == 0
        assert runner.invoke(cli_module.cli, ["--db", "x.duckdb", "probe-db", "--db", "wins.duckdb"]).exit_code == 0
        assert runner.invoke(cli_module.cli, ["probe-db"], env={"OKX_JOURNAL_DB": "env.duckdb"}).exit_code == 0
        assert runner.invoke(cli_module.cli, ["probe-db"]).exit_code == 0
    finally:
        del cli_module.cli.commands["probe-db"]
    assert seen == ["before.duckdb", "after.duckdb", "wins.duckdb", "env.duckdb", "okx_journal.duckdb"]


def test_usage_error_is_one_line_and_exit_2() -> None:
    result = run_cli("sync", "--no-such-option")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no-such-option" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_passphrase_is_named_in_one_line() -> None:
    result = run_cli("doctor", env={"OKX_API_KEY": "k", "OKX_API_SECRET": "s"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "OKX_API_PASSPHRASE" in lines[0] and "passphrase" in lines[0].lower()


def test_no_credentials_at_all_says_how_to_add_them() -> None:
    result = run_cli("doctor")
    assert result.returncode == 2
    assert "credentials set" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_database_file_named_like_a_journal_schema_is_refused_in_one_line(tmp_path) -> None:
    result = run_cli("--db", str(tmp_path / "journal.duckdb"), "check")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines() + result.stdout.strip().splitlines()
    assert len(lines) == 1 and "journal.duckdb" in lines[0] and "another file name" in lines[0]
    assert not (tmp_path / "journal.duckdb").exists()
