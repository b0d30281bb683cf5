"""``dlt.toml`` is really read, through dlt's resolution, with the environment winning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "from okx_journal.config import check_mode, connection_settings;"
    "s = connection_settings({arg}, False);"
    "print(s.base_url, s.timeout_s, s.max_retries, check_mode())"
)


def _probe(cwd: Path, env: dict[str, str] | None = None, arg: str = "None") -> str:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OKX_", "SOURCES__OKX", "OKX_JOURNAL__"))}
    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(arg=arg)], cwd=cwd, capture_output=True, text=True,
        env=clean | {"PYTHONPATH": str(repo)} | (env or {}), timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_project_dlt_toml_gives_the_defaults(tmp_path: Path) -> None:
    assert _probe(tmp_path) == "https://www.okx.com 10.0 6 warn"


def test_local_dlt_toml_overrides_the_project_copy_key_by_key(tmp_path: Path) -> None:
    (tmp_path / "dlt.toml").write_text(
        '[sources.okx]\nbase_url = "https://eea.okx.com"\n[okx_journal]\nchecks = "fail"\n'
    )
    assert _probe(tmp_path) == "https://eea.okx.com 10.0 6 fail"


def test_environment_wins_over_dlt_toml_and_the_option_over_both(tmp_path: Path) -> None:
    (tmp_path / "dlt.toml").write_text('[sources.okx]\nbase_url = "https://eea.okx.com"\n')
    env = {"SOURCES__OKX__BASE_URL": "https://us.okx.com", "OKX_JOURNAL__CHECKS": "off",
           "SOURCES__OKX__MAX_RETRIES": "2"}
    assert _probe(tmp_path, env) == "https://us.okx.com 10.0 2 off"
    assert _probe(tmp_path, env | {"OKX_BASE_URL": "https://www.okx.com"}).startswith(
        "https://www.okx.com "
    )
    assert _probe(tmp_path, env, arg="'http://127.0.0.1:9'").startswith("http://127.0.0.1:9 ")


def test_invalid_check_mode_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "dlt.toml").write_text('[okx_journal]\nchecks = "sometimes"\n')
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OKX_", "SOURCES__OKX"))}
    result = subprocess.run(
        [sys.executable, "-m", "okx_journal.cli", "sync", "--db", "x.duckdb"], cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
        env=clean | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent),
                     "OKX_API_KEY": "k", "OKX_API_SECRET": "s", "OKX_API_PASSPHRASE": "p"},
    )
    assert result.returncode == 2, result.stderr
    assert "okx_journal.checks" in result.stderr and len(result.stderr.strip().splitlines()) == 1


LOAD_PROBE = (
    "from okx_journal.config import register_providers; register_providers();"
    "from dlt.common.configuration import resolve_configuration;"
    "from dlt.load.configuration import LoaderConfiguration;"
    "print(resolve_configuration(LoaderConfiguration(), sections=('load',),"
    " accept_partial=True).workers)"
)


def test_dlt_reads_its_own_sections_from_dlt_toml(tmp_path: Path) -> None:
    """``[load] workers`` (one load job at a time: lower peak memory) reaches dlt's loader."""
    repo = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOAD__")}
    env["PYTHONPATH"] = str(repo)

    def probe(extra: dict[str, str]) -> str:
        result = subprocess.run([sys.executable, "-c", LOAD_PROBE], cwd=tmp_path,
                                capture_output=True, text=True, env=env | extra, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert probe({}) == "1"
    assert probe({"LOAD__WORKERS": "4"}) == "4"
