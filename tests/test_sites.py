"""The right OKX site, found: a key of the EEA site used without --base-url.

The simulator serves OKX's three sites at once (by ``Host``); ``SiteRouter`` sends the
client's requests for the official hosts to it and refuses any other host, recording
every host asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ANCHOR_MS, anchor_offset

from okx_journal.config import connection_settings, with_site
from okx_journal.doctor import run_doctor
from okx_journal.simulator import Simulator, generate_history
from okx_journal.simulator.sites import SiteRouter
from okx_journal.sites import remembered, sites_path
from okx_journal.sync import SyncOptions, SyncSummary, run_sync
from sources.okx.client import OkxClient
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError, OkxAuthError
from sources.okx.sites import OFFICIAL_HOSTS

EEA = "https://eea.okx.com"
OFFICIAL = {f"https://{host}" for host in OFFICIAL_HOSTS}


@pytest.fixture(scope="module")
def eea_sim() -> Iterator[tuple[Simulator, Any]]:
    history = generate_history(seed=31, scale=120, days=10, end_ms=ANCHOR_MS)
    acc = history.accounts[0]
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        sim.key_regions[acc.api_key] = "eea"
        yield sim, acc


def _creds(acc: Any) -> OkxCredentials:
    return OkxCredentials(acc.api_key, acc.secret, acc.passphrase)


def _sync(db: Path, creds: OkxCredentials, router: SiteRouter) -> SyncSummary:
    settings = with_site(connection_settings(None, False), creds)  # as the CLI does
    return run_sync(SyncOptions(db_path=db, credentials=creds, base_url=settings.base_url,
                                rate_limits=False, quiet=True, transforms=False,
                                ledger_export=False, transport=router))


@pytest.mark.parametrize("url", ["https://okx.example.com", "https://www.okx.com.example.io",
                                 "http://www.okx.com", "https://www.okx.com:8443"])
def test_the_client_refuses_every_host_but_okx_and_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="okx.com"):
        OkxClient(None, base_url=url)
    OkxClient(None, base_url="http://127.0.0.1:9").close()


def test_doctor_names_the_site_and_the_next_runs_go_there(eea_sim: Any) -> None:
    sim, acc = eea_sim
    creds = _creds(acc)
    router = SiteRouter(sim.url)
    settings = with_site(connection_settings(None, False), creds)
    assert settings.base_url == "https://www.okx.com" and remembered(creds) is None
    lines: list[str] = []
    report = run_doctor(creds, settings, transport=router, emit=lambda c: lines.append(c.line()))
    assert report.error is None, lines
    site_line = next(line for line in lines if "OKX site" in line)
    assert "EEA site" in site_line and "my.okx.com" in site_line and EEA in site_line
    assert remembered(creds) == EEA and sites_path().stat().st_mode & 0o777 == 0o600
    assert acc.api_key not in sites_path().read_text()
    # www answered 50119 (clock and key), eea and nothing else was asked
    assert set(router.requested) <= OFFICIAL and "https://us.okx.com" not in router.requested
    router.requested.clear()
    again = run_doctor(creds, with_site(connection_settings(None, False), creds),
                       transport=router)
    assert again.error is None and again.site is None
    assert set(router.requested) == {EEA}
    # an explicit host still wins over the remembered one
    assert with_site(connection_settings("https://us.okx.com", False), creds).base_url \
        == "https://us.okx.com"


def test_first_sync_finds_the_site_says_it_once_and_remembers_it(
    eea_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, acc = eea_sim
    monkeypatch.setenv("OKX_JOURNAL_HOME", str(tmp_path / "home"))
    creds = _creds(acc)
    router = SiteRouter(sim.url)
    first = _sync(tmp_path / "okx.duckdb", creds, router)
    assert first.site_found is not None and first.new_rows["fills"] == len(acc.fills)
    assert "This API key belongs to the EEA site" in first.to_text()
    assert first.to_dict()["site_found"]["asked"] == "https://www.okx.com"
    assert remembered(creds) == EEA
    router.requested.clear()
    second = _sync(tmp_path / "okx.duckdb", creds, router)
    assert second.site_found is None and "belongs to" not in second.to_text()
    assert set(router.requested) == {EEA}


def test_a_key_unknown_everywhere_still_fails_with_50119(eea_sim: Any, tmp_path: Path) -> None:
    sim, acc = eea_sim
    stranger = OkxCredentials(str(uuid.UUID(int=7)), acc.secret, acc.passphrase)
    router = SiteRouter(sim.url)
    with pytest.raises(OkxAuthError) as caught:
        _sync(tmp_path / "okx.duckdb", stranger, router)
    assert caught.value.code == "50119" and caught.value.exit_code == 3
    assert "does not know this API key" in str(caught.value)
    assert remembered(stranger) is None
    # each other site was asked once, and no host outside OKX's list ever
    assert set(router.requested) == OFFICIAL
    assert router.requested.count(EEA) == router.requested.count("https://us.okx.com") == 1
    lines: list[str] = []
    report = run_doctor(stranger, connection_settings(None, False), transport=router,
                        emit=lambda c: lines.append(c.line()))
    assert report.error is not None and report.error.code == "50119"
    assert any("FAIL" in line and "credentials accepted" in line for line in lines)
