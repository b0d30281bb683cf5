"""A seed and an anchor (the history's end) give the same account, byte for byte.

Everything a test sees of a generated history (the saved history file, and the JSON the
simulator serves on every read endpoint) is hashed for two independent generations with
the same ``seed`` and ``end_ms`` (``simulate --seed --anchor-ms``): a failure seen once
can be replayed. The simulator's clock is set to the anchor, so the retention windows
cut the same rows whenever the test runs.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import httpx
from conftest import ANCHOR_MS, CLI, REPO
from test_simulator import call, okx_ts

from okx_journal.simulator import Simulator
from okx_journal.simulator.generator import History, generate_history, save_history

READS = (
    "/api/v5/account/config",
    "/api/v5/account/balance",
    "/api/v5/account/positions",
    "/api/v5/account/positions-history?limit=100",
    "/api/v5/account/bills?limit=100",
    "/api/v5/account/bills-archive?limit=100",
    "/api/v5/trade/fills?limit=100",
    *(f"/api/v5/trade/fills-history?instType={t}&limit=100"
      for t in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")),
    "/api/v5/public/instruments?instType=SWAP",
    "/api/v5/public/instruments?instType=FUTURES",
    "/api/v5/public/funding-rate-history?instId=BTC-USDT-SWAP&limit=100",
    "/api/v5/asset/bills?limit=100",
    "/api/v5/asset/deposit-history?limit=100",
    "/api/v5/asset/withdrawal-history?limit=100",
)


def _generate(seed: int, end_ms: int) -> History:
    return generate_history(seed=seed, scale=300, end_ms=end_ms, days=20, accounts=2)


def _file_hash(history: History, path: Path) -> str:
    save_history(history, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _served_hashes(history: History) -> dict[str, tuple[str, int]]:
    """sha256 of every read endpoint's body, for each account, the server's clock at the anchor."""
    offset = ANCHOR_MS + 60_000 - int(time.time() * 1000)
    out: dict[str, tuple[str, int]] = {}
    with Simulator(history, rate_limits=False, clock_offset_ms=offset) as sim:
        for acct in history.accounts:
            for path in READS:
                r = call(sim, path, key=acct.api_key, secret=acct.secret,
                         passphrase=acct.passphrase, ts=okx_ts(sim.now_ms()))
                assert r.status_code == 200 and r.json()["code"] == "0", (path, r.text[:200])
                out[f"{acct.uid} {path}"] = (
                    hashlib.sha256(r.content).hexdigest(), len(r.json()["data"]))
    return out


def test_same_seed_and_anchor_give_the_same_history_byte_for_byte(tmp_path: Path) -> None:
    first, second = _generate(11, ANCHOR_MS), _generate(11, ANCHOR_MS)
    assert _file_hash(first, tmp_path / "a.json") == _file_hash(second, tmp_path / "b.json")
    served = _served_hashes(first)
    assert served == _served_hashes(second)
    # the pages are not empty: the anchor, not the wall clock, decides what is served
    for acct in first.accounts:
        for path in ("/api/v5/account/bills?limit=100", "/api/v5/trade/fills?limit=100",
                     "/api/v5/trade/fills-history?instType=MARGIN&limit=100"):
            assert served[f"{acct.uid} {path}"][1] > 0, path
    # another seed or another anchor is another account history
    assert _file_hash(_generate(12, ANCHOR_MS), tmp_path / "c.json") != _file_hash(
        first, tmp_path / "a2.json"
    )
    assert _file_hash(_generate(11, ANCHOR_MS + 3_600_000), tmp_path / "d.json") != _file_hash(
        first, tmp_path / "a3.json"
    )


def test_simulate_with_seed_and_anchor_serves_the_same_account() -> None:
    """``okx-journal simulate --seed --anchor-ms`` serves the history the same seed and
    anchor generate in process, its clock five minutes after the anchor (windows that hold
    the whole history are compared, so the seconds between the two servers change nothing)."""
    args = ["--seed", "11", "--scale", "300", "--days", "20", "--anchor-ms", str(ANCHOR_MS)]
    proc = subprocess.Popen([*CLI, "simulate", "--port", "0", "--no-rate-limits", *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        url = lines[0].rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:"), lines
        assert "its clock:  2025-12-01 03:05" in lines[1], lines
        history = generate_history(seed=11, scale=300, end_ms=ANCHOR_MS, days=20)
        offset = ANCHOR_MS + 5 * 60_000 - int(time.time() * 1000)
        with Simulator(history, rate_limits=False, clock_offset_ms=offset) as local:
            remote_ms = int(httpx.get(url + "/api/v5/public/time").json()["data"][0]["ts"])
            assert 0 <= remote_ms - (ANCHOR_MS + 5 * 60_000) < 120_000
            acct = history.accounts[0]
            for path in ("/api/v5/account/config", "/api/v5/account/positions",
                         "/api/v5/account/bills-archive?limit=100",
                         "/api/v5/trade/fills-history?instType=SWAP&limit=100",
                         "/api/v5/trade/fills-history?instType=MARGIN&limit=100"):
                got = [call(sim, path, key=acct.api_key, secret=acct.secret,
                            passphrase=acct.passphrase, ts=okx_ts(sim.now_ms() if sim is local
                                                                  else remote_ms))
                       for sim in (local, _Remote(url))]
                assert got[0].json()["code"] == "0" and got[0].json()["data"], path
                assert got[0].content == got[1].content, path
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class _Remote:
    """The parts of a Simulator that ``call`` uses, for a server in another process."""

    def __init__(self, url: str) -> None:
        self.url = url
