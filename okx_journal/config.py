"""Configuration: ``dlt.toml`` and the credential store as dlt configuration providers.

dlt itself reads only ``.dlt/config.toml`` and ``.dlt/secrets.toml``. okx-journal keeps
its settings in a top-level ``dlt.toml`` and registers it as a dlt provider, so every
setting resolves the dlt way: environment variables first, then ``.dlt/`` files, then
``dlt.toml`` (the working directory's copy over the project's own).

Credentials resolve in this order: ``--profile NAME`` (the encrypted store, with dlt's
own ``SOURCES__OKX__CREDENTIALS__*`` variables still winning), else the contract's
``OKX_API_KEY`` / ``OKX_API_SECRET`` / ``OKX_API_PASSPHRASE``, else dlt's configuration
(``SOURCES__OKX__CREDENTIALS__*`` or ``.dlt/secrets.toml``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE_URL = "https://www.okx.com"
DEFAULT_DB = "okx_journal.duckdb"
CHECK_MODES = ("off", "warn", "fail")

_registered = False


def quiet_dlt_defaults() -> None:
    """Keep dlt offline and quiet unless the user's environment says otherwise."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def dlt_toml_paths() -> list[Path]:
    """The ``dlt.toml`` files read, lowest precedence first."""
    paths = [PROJECT_ROOT / "dlt.toml"]
    local = Path.cwd() / "dlt.toml"
    if local.resolve() != paths[0].resolve():
        paths.append(local)
    return [p for p in paths if p.is_file()]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_dlt_toml() -> dict[str, Any]:
    """Parse and merge the ``dlt.toml`` files.

    Raises:
        ConfigError: a file is not valid TOML.
    """
    doc: dict[str, Any] = {}
    for path in dlt_toml_paths():
        try:
            doc = _merge(doc, tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}): fix or remove it") from None
    return doc


def register_providers() -> None:
    """Register ``dlt.toml`` with dlt's configuration resolution (idempotent)."""
    global _registered
    if _registered:
        return
    quiet_dlt_defaults()
    import dlt
    from dlt.common.configuration.providers import CustomLoaderDocProvider

    provider = CustomLoaderDocProvider(
        "dlt.toml",
        load_dlt_toml,
        supports_secrets=False,
        locations=[str(p) for p in dlt_toml_paths()],
    )
    dlt.config.register_provider(provider)
    _registered = True


def setting(key: str, default: Any) -> Any:
    """Resolve one setting (``"okx_journal.checks"``) through dlt, or ``default``."""
    register_providers()
    import dlt

    value: Any = dlt.config.get(key)
    return default if value is None else value


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to reach OKX, resolved from options, environment and dlt.toml."""

    base_url: str
    demo_trading: bool
    timeout_s: float
    max_retries: int
    #: the host was chosen (``--base-url``, ``OKX_BASE_URL``, or a dlt.toml value other
    #: than the default): a site remembered for the key does not replace it
    explicit: bool = False


def connection_settings(base_url: str | None, demo_trading: bool) -> ConnectionSettings:
    """Resolve the host: ``--base-url`` > ``OKX_BASE_URL`` > dlt config > default."""
    configured = setting("sources.okx.base_url", None)
    url = base_url or os.environ.get("OKX_BASE_URL") or configured
    url = str(url or DEFAULT_BASE_URL).rstrip("/")
    explicit = bool(base_url or os.environ.get("OKX_BASE_URL")) or (
        configured is not None and str(configured).rstrip("/") != DEFAULT_BASE_URL
    )
    try:
        timeout = float(setting("sources.okx.timeout_s", 10.0))
        retries = int(setting("sources.okx.max_retries", 6))
    except (TypeError, ValueError):
        raise ConfigError(
            "sources.okx.timeout_s and max_retries in dlt.toml must be numbers"
        ) from None
    return ConnectionSettings(url, demo_trading, timeout, retries, explicit)


def with_site(settings: ConnectionSettings, credentials: OkxCredentials) -> ConnectionSettings:
    """The settings on the site remembered for this key (``okx_journal.sites``), unless
    the host was chosen explicitly."""
    if settings.explicit:
        return settings
    from okx_journal.sites import remembered

    url = remembered(credentials)
    if url is None or url == settings.base_url:
        return settings
    return dataclasses.replace(settings, base_url=url)


def check_mode(override: str | None = None) -> str:
    """The data-check mode after a sync: ``off``, ``warn`` or ``fail``."""
    mode = str(override or setting("okx_journal.checks", "warn")).strip().lower()
    if mode not in CHECK_MODES:
        raise ConfigError(f"okx_journal.checks must be one of {', '.join(CHECK_MODES)}, not {mode!r}")
    return mode


def resolve_credentials(profile: str | None) -> OkxCredentials:
    """Find the credentials for this run.

    Raises:
        ConfigError: none found, or only part of them (with what is missing).
    """
    if profile:
        from okx_journal.credentials import register_store_provider

        register_store_provider(profile)
        return _from_dlt(f"profile {profile!r}")
    env = {
        "OKX_API_KEY": os.environ.get("OKX_API_KEY", ""),
        "OKX_API_SECRET": os.environ.get("OKX_API_SECRET", ""),
        "OKX_API_PASSPHRASE": os.environ.get("OKX_API_PASSPHRASE", ""),
    }
    if any(env.values()):
        missing = [name for name, value in env.items() if not value]
        if missing:
            what = " and ".join(missing)
            hint = (
                " (the passphrase is the one you chose when creating the API key)"
                if "OKX_API_PASSPHRASE" in missing
                else ""
            )
            verb, obj = ("are", "them") if len(missing) > 1 else ("is", "it")
            raise ConfigError(f"{what} {verb} not set{hint}: set {obj}, or use --profile NAME")
        return OkxCredentials(env["OKX_API_KEY"], env["OKX_API_SECRET"], env["OKX_API_PASSPHRASE"])
    return _from_dlt("the environment")


def _from_dlt(where: str) -> OkxCredentials:
    register_providers()
    import dlt

    values: dict[str, Any] = {
        name: dlt.secrets.get(f"sources.okx.credentials.{name}")
        for name in ("api_key", "secret", "passphrase")
    }
    missing = [name for name, value in values.items() if not value]
    if len(missing) == 3:
        raise ConfigError(
            "no OKX credentials: run `okx-journal credentials set --profile NAME` and pass "
            "--profile NAME, or set OKX_API_KEY, OKX_API_SECRET and OKX_API_PASSPHRASE"
        )
    if missing:
        raise ConfigError(f"credentials from {where} lack {', '.join(missing)}: set them again")
    return OkxCredentials(str(values["api_key"]), str(values["secret"]), str(values["passphrase"]))
