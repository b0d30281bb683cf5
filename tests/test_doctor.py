"""``okx-journal doctor`` against the simulator: every troubleshooting case, one line each.

Each case runs the real command in a subprocess against the loopback simulator and
checks the exit code, that the last line on stderr tells the trader what to do, and
that no traceback and no secret ever reaches the terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ANCHOR_MS, creds_env, run_cli


@pytest.fixture
def fresh() -> Iterator[tuple[Any, Any]]:
    """A private history and simulator, so a test can change the account freely."""
    from okx_journal.simulator import Simulator, generate_history

    history = generate_history(seed=3, scale=60, end_ms=ANCHOR_MS)
    with Simulator(history, rate_limits=False) as sim:
        yield history.accounts[0], sim


def _doctor(sim: Any, env: dict[str, str], *extra: str) -> Any:
    return run_cli("doctor", "--base-url", sim.url, *extra, env=env)


def _assert_clean_failure(result: Any, account: Any, *words: str) -> str:
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    for secret in (account.secret, account.passphrase):
        assert secret not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0].lower()
    for word in words:
        assert word.lower() in line, line
    return line


def test_doctor_passes_with_the_demo_key(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    result = _doctor(sim, creds_env(account))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    names = ["host reachable", "clock offset", "credentials accepted", "key permissions",
             "IP binding", "account mode", "live or demo"]
    for name in names:
        assert any(name in line for line in lines), (name, result.stdout)
    assert not any(line.startswith("FAIL") for line in lines)
    assert "perm=read_only" in result.stdout
    assert f"account uid {account.uid}" in result.stdout


def test_demo_key_on_live_host_50101(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    account.demo = True
    result = _doctor(sim, creds_env(account))
    _assert_clean_failure(result, account, "50101", "--demo-trading")


def test_live_key_with_demo_trading_50101(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    result = _doctor(sim, creds_env(account), "--demo-trading")
    _assert_clean_failure(result, account, "50101")


def test_clock_skew_50102_only_without_the_offset() -> None:
    from okx_journal.simulator import Simulator, generate_history

    history = generate_history(seed=3, scale=60, end_ms=ANCHOR_MS)
    account = history.accounts[0]
    with Simulator(history, rate_limits=False, clock_offset_ms=5 * 60 * 1000) as sim:
        skewed = _doctor(sim, creds_env(account), "--no-clock-sync")
        corrected = _doctor(sim, creds_env(account))
    _assert_clean_failure(skewed, account, "50102", "clock")
    assert corrected.returncode == 0, corrected.stderr
    assert "+300" in corrected.stdout or "+299" in corrected.stdout


def test_wrong_passphrase_50105(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    env = creds_env(account) | {"OKX_API_PASSPHRASE": "not-the-passphrase"}
    _assert_clean_failure(_doctor(sim, env), account, "50105", "passphrase")


def test_ip_not_bound_50110(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    account.ip = "203.0.113.7"
    line = _assert_clean_failure(_doctor(sim, creds_env(account)), account, "50110", "ip")
    assert "127.0.0.1" in line


def test_invalid_key_50111(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    env = creds_env(account) | {"OKX_API_KEY": "not-a-key"}
    _assert_clean_failure(_doctor(sim, env), account, "50111")


def test_truncated_secret_50113(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    env = creds_env(account) | {"OKX_API_SECRET": account.secret[:-1]}
    _assert_clean_failure(_doctor(sim, env), account, "50113", "truncated")


def test_key_unknown_on_this_host_50119(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    env = creds_env(account) | {"OKX_API_KEY": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"}
    _assert_clean_failure(_doctor(sim, env), account, "50119", "eea.okx.com", "us.okx.com")


def test_trade_permission_refused_then_accepted_with_flag(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    account.perm = "read_only,trade"
    refused = _doctor(sim, creds_env(account))
    _assert_clean_failure(refused, account, "trade", "--allow-write-permissions")
    accepted = _doctor(sim, creds_env(account), "--allow-write-permissions")
    assert accepted.returncode == 0, accepted.stderr
    assert "warn" in accepted.stdout and "perm=read_only,trade" in accepted.stdout


def test_unreachable_host_exits_4() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_cli("doctor", "--base-url", f"http://127.0.0.1:{port}",
                     env={"OKX_API_KEY": "k", "OKX_API_SECRET": "s", "OKX_API_PASSPHRASE": "p"})
    assert result.returncode == 4, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_revoked_key_says_it_was_deleted(fresh: tuple[Any, Any]) -> None:
    account, sim = fresh
    account.revoked = True
    line = _assert_clean_failure(_doctor(sim, creds_env(account)), account, "50119")
    assert "deleted" in line or "revoked" in line
