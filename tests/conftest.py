"""Shared fixtures: a generated history and the OKX simulator on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "okx_journal.cli"]

#: Where a generated history ends unless a test asks for "now": 2025-12-01 03:00:12.345 UTC
#: (off the hour and the 8-hourly funding grid). With the simulator's clock set just after
#: it (``anchor_offset``) the retention windows cut the same rows whenever a test runs, so
#: every run sees the same account and a failure replays (the client follows OKX's clock).
ANCHOR_MS = 1_764_558_012_345


def anchor_offset(anchor_ms: int = ANCHOR_MS) -> int:
    """``Simulator(clock_offset_ms=...)`` that sets the server's clock to five minutes after
    ``anchor_ms`` (as the generator's default end is five minutes before now)."""
    return anchor_ms + 5 * 60_000 - int(time.time() * 1000)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's real credentials, store or dlt folders."""
    for name in list(os.environ):
        if name.startswith(("OKX_", "SOURCES__OKX", "OKX_JOURNAL")):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("OKX_JOURNAL_HOME", str(home / "okx-journal"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``okx-journal`` as a user would, in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OKX_API")}
    full_env.update(env or {})
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        input=input,
        timeout=timeout,
    )


def creds_env(account: Any) -> dict[str, str]:
    return {
        "OKX_API_KEY": account.api_key,
        "OKX_API_SECRET": account.secret,
        "OKX_API_PASSPHRASE": account.passphrase,
    }


@pytest.fixture(scope="session")
def small_history() -> Any:
    from okx_journal.simulator import generate_history

    return generate_history(seed=11, scale=400, end_ms=ANCHOR_MS)


@pytest.fixture
def simulator(small_history: Any) -> Iterator[Any]:
    from okx_journal.simulator import Simulator

    with Simulator(small_history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        yield sim


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """One throwaway PostgreSQL server for the whole session (tests/pg_cluster.py).

    Tests that need it FAIL when it cannot start: the PostgreSQL destination is part of
    what the suite verifies, not an optional extra.
    """
    from pg_cluster import PgCluster, PgClusterError

    try:
        cluster = PgCluster().start()
    except PgClusterError as exc:
        pytest.fail(f"PostgreSQL test server could not start: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()
