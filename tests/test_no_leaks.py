"""The secret and the passphrase never leave the encrypted store.

A user's whole session, run as the real command line in subprocesses against the
simulator: store the key, run doctor, sync (with journal and checks), check, report.
Then every byte printed and every file written anywhere under the session's home,
working directory and dlt folders is scanned for the secret and the passphrase, as
they are and encoded (base64, URL-safe base64, hex).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ANCHOR_MS, REPO, anchor_offset


def _encodings(value: str) -> list[bytes]:
    raw = value.encode()
    forms = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    for encoder in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encoder(raw).rstrip(b"=")
        forms.append(encoded[:-2] if len(encoded) > 8 else encoded)
    return forms


def test_full_session_leaks_no_secret_anywhere(tmp_path: Path) -> None:
    from okx_journal.simulator import Simulator, generate_history

    history = generate_history(seed=5, scale=300, end_ms=ANCHOR_MS)
    account = history.accounts[0]
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OKX_", "SOURCES__OKX"))
    } | {
        "HOME": str(home),
        "OKX_JOURNAL_HOME": str(home / ".config" / "okx-journal"),
        "OKX_JOURNAL_MASTER_KEY": "correct horse battery staple",
        "OKX_JOURNAL_SCRYPT_LOG2N": "12",
        "DLT_DATA_DIR": str(home / ".dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "okx_journal.cli", *args],
            input=stdin, capture_output=True, text=True, env=env, cwd=work, timeout=300,
        )

    outputs: list[str] = []
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        steps: list[tuple[tuple[str, ...], str | None]] = [
            (("credentials", "set", "--profile", "p"),
             f"{account.api_key}\n{account.secret}\n{account.passphrase}\n"),
            (("credentials", "list"), None),
            (("doctor", "--profile", "p", "--base-url", sim.url), None),
            (("sync", "--profile", "p", "--base-url", sim.url, "--db", "w.duckdb", "--checks", "warn"), None),
            (("sync", "--profile", "p", "--base-url", sim.url, "--db", "w.duckdb", "--json"), None),
            (("check", "--db", "w.duckdb"), None),
            (("report", "--db", "w.duckdb", "--out", "r.html"), None),
        ]
        results: list[Any] = []
        for args, stdin in steps:
            result = run(*args, stdin=stdin)
            results.append(result)
            outputs += [result.stdout, result.stderr]
            assert result.returncode == 0, (args, result.stderr)
        # A wrong secret must not echo the secret it was given either.
        bad_env_run = subprocess.run(
            [sys.executable, "-m", "okx_journal.cli", "doctor", "--base-url", sim.url],
            capture_output=True, text=True, cwd=work, timeout=120,
            env=env | {"OKX_API_KEY": account.api_key, "OKX_API_SECRET": account.secret[:-1],
                       "OKX_API_PASSPHRASE": account.passphrase},
        )
        assert bad_env_run.returncode == 3
        outputs += [bad_env_run.stdout, bad_env_run.stderr]

    assert (work / "w.duckdb").exists() and (work / "r.html").exists()
    assert "credentials accepted" in results[2].stdout
    # a sync's stderr holds its own lines, never a library's log records
    for result in results[3:5]:
        assert "[WARNING]" not in result.stderr and "|dlt|" not in result.stderr, result.stderr

    files = [p for root in (home, work) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".okxcred" for p in files), "the store was not written under home"
    assert any(".dlt" in p.parts or p.name.endswith(".dlt") or any(s.endswith(".dlt") for s in p.parts) for p in files)
    printed = "\n".join(outputs).encode()
    for secret in (account.secret, account.passphrase, account.secret[:-1]):
        for form in _encodings(secret):
            assert form not in printed, f"printed output contains an encoding of a secret: {form!r}"
            for path in files:
                assert form not in path.read_bytes(), f"{path} contains an encoding of a secret"

    # Deleting the only profile leaves no credential material behind.
    assert run("credentials", "delete", "--profile", "p", "--yes").returncode == 0
    left = [p for p in (home / ".config" / "okx-journal").rglob("*") if p.is_file() and p.suffix == ".okxcred"]
    assert left == []


def test_sync_with_profile_uses_only_the_store(tmp_path: Path) -> None:
    """``sync --profile p`` works with credentials that exist nowhere but the store."""
    from okx_journal.simulator import Simulator, generate_history

    history = generate_history(seed=6, scale=120, end_ms=ANCHOR_MS)
    account = history.accounts[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKX_", "SOURCES__OKX"))} | {
        "OKX_JOURNAL_HOME": str(tmp_path / "store"),
        "OKX_JOURNAL_MASTER_KEY": "m",
        "OKX_JOURNAL_SCRYPT_LOG2N": "12",
    }
    base = [sys.executable, "-m", "okx_journal.cli"]
    setup = subprocess.run([*base, "credentials", "set", "--profile", "p"], env=env, cwd=REPO,
                           input=f"{account.api_key}\n{account.secret}\n{account.passphrase}\n",
                           capture_output=True, text=True, timeout=60)
    assert setup.returncode == 0, setup.stderr
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        done = subprocess.run([*base, "--db", str(tmp_path / "s.duckdb"), "sync", "--profile", "p",
                               "--base-url", sim.url, "--checks", "off"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        requests_before = sum(sim.stats.requests.values())
        wrong = subprocess.run([*base, "sync", "--profile", "p", "--base-url", sim.url,
                                "--db", str(tmp_path / "t.duckdb")],
                               env=env | {"OKX_JOURNAL_MASTER_KEY": "not it"}, cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
    assert "120 new fills" in done.stdout or "120" in done.stdout
    assert wrong.returncode == 2
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert sum(sim.stats.requests.values()) == requests_before, "a wrong master key reached OKX"
