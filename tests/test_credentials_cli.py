"""``okx-journal credentials set/list/delete`` through click's CliRunner."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from okx_journal import credentials as cred_mod
from okx_journal.credentials import CredentialStore
from okx_journal.credentials_cli import credentials
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError, OkxJournalError

MASTER = "master for tests"
KEY = "1a2b3c4d-0000-4000-8000-123456789abc"
SECRET = "0123456789ABCDEF0123456789ABCDEF"
PASSPHRASE = "Pass-phrase!9"
THREE_LINES = f"{KEY}\n{SECRET}\n{PASSPHRASE}\n"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OKX_JOURNAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OKX_JOURNAL_SCRYPT_LOG2N", "10")
    monkeypatch.setenv("OKX_JOURNAL_MASTER_KEY", MASTER)
    cred_mod.forget_master()


def _store() -> CredentialStore:
    return CredentialStore()


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def _mapped(ctx: click.Context) -> None:
    """What the main CLI does: one line on stderr and the error's exit code."""
    try:
        credentials.main(ctx.args, prog_name="okx-journal credentials", standalone_mode=False)
    except OkxJournalError as exc:
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)


def run(args: list[str], input: str | None = None) -> Result:
    return CliRunner().invoke(_mapped, args, input=input)


def _no_secrets(result: Result) -> None:
    for text in (result.output, result.stderr):
        assert SECRET not in text
        assert PASSPHRASE not in text
        assert KEY not in text


def test_set_from_three_lines_on_stdin() -> None:
    result = run(["set", "--profile", "main", "--label", "spot desk"], input=THREE_LINES)
    assert result.exit_code == 0, result.output
    assert "Saved profile 'main'" in result.stdout
    assert "okx-journal doctor --profile main" in result.stdout
    assert "warning" not in result.stderr
    _no_secrets(result)
    assert _store().get("main", MASTER) == OkxCredentials(KEY, SECRET, PASSPHRASE)


def test_set_replaces_and_says_so() -> None:
    assert run(["set", "--profile", "main"], input=THREE_LINES).exit_code == 0
    result = run(["set", "--profile", "main"], input=THREE_LINES)
    assert result.exit_code == 0
    assert "Replaced profile 'main'" in result.stdout


def test_set_warns_about_a_truncated_secret_without_showing_it() -> None:
    short = SECRET[:31]
    result = run(["set", "--profile", "main"], input=f"{KEY}\n{short}\n{PASSPHRASE}\n")
    assert result.exit_code == 0
    assert "warning:" in result.stderr
    assert "31 characters" in result.stderr
    assert short not in result.output


@pytest.mark.parametrize("text", ["", f"{KEY}\n", f"{KEY}\n{SECRET}\n", THREE_LINES + "extra\n"])
def test_set_needs_exactly_three_lines(text: str) -> None:
    result = run(["set", "--profile", "main"], input=text)
    assert result.exit_code == 2
    assert "expected exactly three lines" in result.stderr
    assert result.stderr.count("\n") == 1
    assert _store().profiles() == []


def test_set_without_master_and_without_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKX_JOURNAL_MASTER_KEY")
    result = run(["set", "--profile", "main"], input=THREE_LINES)
    assert result.exit_code == 2
    assert "set OKX_JOURNAL_MASTER_KEY" in result.stderr
    assert _store().profiles() == []


def test_set_rejects_a_bad_profile_name_before_reading_secrets() -> None:
    result = run(["set", "--profile", "../etc"], input=THREE_LINES)
    assert result.exit_code == 2
    assert "invalid profile name" in result.stderr


def test_group_raises_config_error_for_the_main_cli() -> None:
    result = CliRunner().invoke(credentials, ["delete", "--profile", "nope"])
    assert isinstance(result.exception, ConfigError)
    assert result.exception.exit_code == 2


def test_list_shows_only_the_last_four_characters() -> None:
    run(["set", "--profile", "main", "--label", "spot desk"], input=THREE_LINES)
    result = run(["list"])
    assert result.exit_code == 0, result.output
    assert "main" in result.stdout and "spot desk" in result.stdout
    assert "…9abc" in result.stdout
    assert KEY[:-4] not in result.stdout
    assert "789abc" not in result.stdout
    _no_secrets(result)


def test_list_one_profile_and_missing_profile() -> None:
    run(["set", "--profile", "main"], input=THREE_LINES)
    run(["set", "--profile", "alt"], input=THREE_LINES)
    result = run(["list", "--profile", "alt"])
    assert result.exit_code == 0
    assert "alt" in result.stdout and "main" not in result.stdout
    result = run(["list", "--profile", "nope"])
    assert result.exit_code == 2
    assert "no stored profile 'nope'" in result.stderr


def test_list_empty_store_needs_no_master(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKX_JOURNAL_MASTER_KEY")
    result = run(["list"])
    assert result.exit_code == 0
    assert "No stored profiles" in result.stdout


def test_list_with_wrong_master_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    run(["set", "--profile", "main"], input=THREE_LINES)
    monkeypatch.setenv("OKX_JOURNAL_MASTER_KEY", "not it")
    result = run(["list"])
    assert result.exit_code == 2
    assert "wrong master passphrase" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_tampered_store_is_exit_2_not_a_traceback() -> None:
    run(["set", "--profile", "main"], input=THREE_LINES)
    path = _store().path_for("main")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    result = run(["list"])
    assert result.exit_code == 2
    assert "damaged or was modified" in result.stderr
    assert "Traceback" not in result.output


def test_delete() -> None:
    run(["set", "--profile", "main"], input=THREE_LINES)
    result = run(["delete", "--profile", "main"])
    assert result.exit_code == 0
    assert "Deleted profile 'main'" in result.stdout
    assert _store().profiles() == []
    result = run(["delete", "--profile", "main"])
    assert result.exit_code == 2
    assert "no stored profile 'main'" in result.stderr


def test_profile_is_required_for_set_and_delete() -> None:
    for command in ("set", "delete"):
        result = CliRunner().invoke(credentials, [command], input=THREE_LINES)
        assert result.exit_code == 2  # click's usage error
        assert "--profile" in result.output


def test_every_command_has_help_text() -> None:
    assert credentials.help
    for name, command in credentials.commands.items():
        assert command.help, name
        result = CliRunner().invoke(credentials, [name, "--help"])
        assert result.exit_code == 0
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.help, f"{name} {param.name}"


# -- on a terminal ----------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cred_mod, "stdin_is_terminal", lambda: True)
    monkeypatch.delenv("OKX_JOURNAL_MASTER_KEY")


def _root_with_doctor(calls: list[str]) -> click.Group:
    @click.group()
    def root() -> None:
        """Stand-in for the main CLI."""

    @root.command()
    @click.option("--profile", default=None)
    def doctor(profile: str | None) -> None:
        """Stand-in doctor: loads the profile as the real one does."""
        assert profile is not None
        cred_mod.load_profile(profile)  # must not ask for the master passphrase again
        calls.append(profile)
        click.echo(f"doctor ran for {profile}")

    root.add_command(credentials)
    return root


def test_first_set_on_a_terminal_confirms_master_and_offers_doctor(terminal: None) -> None:
    calls: list[str] = []
    answers = [KEY, SECRET, PASSPHRASE, "m1", "m2", "m1", "m1", "y"]
    result = CliRunner().invoke(
        _root_with_doctor(calls),
        ["credentials", "set", "--profile", "main"],
        input="\n".join(answers) + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output  # m1 then m2: asked again
    assert calls == ["main"]
    assert "doctor ran for main" in result.stdout
    _no_secrets(result)
    assert "m1" not in result.output.replace("main", "")
    assert _store().get("main", "m1") == OkxCredentials(KEY, SECRET, PASSPHRASE)


def test_later_set_on_a_terminal_asks_once_and_checks_the_master(terminal: None) -> None:
    _store().set("main", OkxCredentials(KEY, SECRET, PASSPHRASE), "m1")
    calls: list[str] = []
    root = _root_with_doctor(calls)
    answers = [KEY, SECRET, PASSPHRASE, "wrong"]
    result = CliRunner().invoke(
        root, ["credentials", "set", "--profile", "alt"], input="\n".join(answers) + "\n"
    )
    assert isinstance(result.exception, ConfigError)
    assert "does not open the stored profiles" in str(result.exception)

    answers = [KEY, SECRET, PASSPHRASE, "m1", "n"]
    result = CliRunner().invoke(
        root, ["credentials", "set", "--profile", "alt"], input="\n".join(answers) + "\n"
    )
    assert result.exit_code == 0, result.output
    assert calls == []
    assert "Check it with OKX: okx-journal doctor --profile alt" in result.stdout
    assert _store().profiles() == ["alt", "main"]


def test_delete_on_a_terminal_asks_first(terminal: None) -> None:
    _store().set("main", OkxCredentials(KEY, SECRET, PASSPHRASE), "m1")
    result = CliRunner().invoke(credentials, ["delete", "--profile", "main"], input="n\n")
    assert result.exit_code == 1  # click's Abort
    assert _store().profiles() == ["main"]
    result = CliRunner().invoke(credentials, ["delete", "--profile", "main"], input="y\n")
    assert result.exit_code == 0
    assert _store().profiles() == []
