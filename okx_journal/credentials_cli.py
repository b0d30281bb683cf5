"""``okx-journal credentials set/list/delete``: the encrypted credential store's commands.

Thin: parse, call ``okx_journal.credentials``, print. Errors are ``ConfigError`` (exit 2);
the main CLI turns them into one line and the exit code. Nothing here ever prints or
echoes a secret or a passphrase.
"""

from __future__ import annotations

import sys

import click

from okx_journal import credentials as store_mod
from okx_journal.credentials import CredentialStore, resolve_master
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError

__all__ = ["credentials"]

_PROFILE_HELP = "Profile name: letters, digits, '-', '_' or '.'."


def _is_terminal() -> bool:
    return store_mod.stdin_is_terminal()


def _read_three_lines() -> tuple[str, str, str]:
    """Key, secret and passphrase from standard input (not a terminal)."""
    text = sys.stdin.read()
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != 3:
        raise ConfigError(
            f"expected exactly three lines on standard input (API key, secret, passphrase), "
            f"got {len(lines)}"
        )
    return lines[0], lines[1], lines[2]


def _prompt_three() -> tuple[str, str, str]:
    """Key, secret and passphrase from hidden prompts on the terminal."""
    values = []
    for prompt in ("OKX API key", "OKX secret key", "OKX API passphrase"):
        value: str = click.prompt(prompt, hide_input=True, err=True)
        values.append(value)
    return values[0], values[1], values[2]


def _run_doctor(ctx: click.Context, profile: str) -> bool:
    """Run the main CLI's ``doctor --profile NAME`` in-process; False if there is none."""
    root = ctx.find_root()
    group = root.command
    if not isinstance(group, click.Group):
        return False
    doctor = group.get_command(root, "doctor")
    if doctor is None:
        return False
    with doctor.make_context("doctor", ["--profile", profile], parent=root) as sub:
        doctor.invoke(sub)
    return True


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def credentials() -> None:
    """Store OKX API keys encrypted on this machine (AES-256-GCM, scrypt).

    Profiles live under OKX_JOURNAL_HOME (default ~/.config/okx-journal), readable only
    by you. The master passphrase comes from OKX_JOURNAL_MASTER_KEY (unattended runs) or
    is asked on the terminal. Use a profile with `okx-journal sync --profile NAME`.
    """


@credentials.command("set")
@click.option("--profile", required=True, help=_PROFILE_HELP)
@click.option("--label", default="", help="A note shown by `credentials list` (not secret).")
@click.pass_context
def set_command(ctx: click.Context, profile: str, label: str) -> None:
    """Store the API key, secret and passphrase of a read-only OKX key.

    On a terminal they are asked with hidden prompts; otherwise standard input must hold
    exactly three lines: key, secret, passphrase. Replaces an existing profile of the
    same name.
    """
    store = CredentialStore()
    store_mod.validate_profile_name(profile)
    terminal = _is_terminal()
    key, secret, passphrase = _prompt_three() if terminal else _read_three_lines()
    creds = OkxCredentials(key, secret, passphrase)
    for problem in creds.shape_problems():
        click.echo(f"warning: {problem}", err=True)
    first = not store.profiles()
    replaced = store.exists(profile)
    master = resolve_master(confirm=first)
    path = store.set(profile, creds, master, label=label)
    store_mod.remember_master(master)
    verb = "Replaced" if replaced else "Saved"
    click.echo(f"{verb} profile {profile!r} (key {creds.key_hint}) in {path}")
    command = f"okx-journal doctor --profile {profile}"
    if terminal and click.confirm(f"Check the key with OKX now ({command})?", default=True):
        if _run_doctor(ctx, profile):
            return
    click.echo(f"Check it with OKX: {command}")


@credentials.command("list")
@click.option("--profile", default=None, help="Show only this profile.")
def list_command(profile: str | None) -> None:
    """Show stored profiles: name, label and the API key's last four characters.

    Needs the master passphrase (labels and keys are stored encrypted).
    """
    store = CredentialStore()
    if profile is not None and not store.exists(profile):
        raise store.missing_error(profile)
    names = [profile] if profile is not None else store.profiles()
    if not names:
        click.echo(
            f"No stored profiles in {store.directory}. "
            "Add one with: okx-journal credentials set --profile NAME"
        )
        return
    master = resolve_master()
    infos = [store.info(name, master) for name in names]
    width = max(len("PROFILE"), *(len(i.name) for i in infos))
    click.echo(f"{'PROFILE':<{width}}  {'KEY':<8}  LABEL")
    for info in infos:
        key = f"…{info.key_last4}" if info.key_last4 else "…"
        click.echo(f"{info.name:<{width}}  {key:<8}  {info.label}".rstrip())


@credentials.command("delete")
@click.option("--profile", required=True, help=_PROFILE_HELP)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation on a terminal.")
def delete_command(profile: str, yes: bool) -> None:
    """Delete a stored profile (no master passphrase needed).

    Deleting the last profile removes every credential file from disk.
    """
    store = CredentialStore()
    if not store.exists(profile):
        raise store.missing_error(profile)
    if _is_terminal() and not yes:
        click.confirm(f"Delete profile {profile!r}?", abort=True, err=True)
    store.delete(profile)
    click.echo(f"Deleted profile {profile!r}.")
