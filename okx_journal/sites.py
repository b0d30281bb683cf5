"""Which OKX site each API key belongs to, remembered between runs.

When ``doctor`` or ``sync`` finds a key's site (``sources.okx.sites.find_site``), it is
written to ``<home>/sites.json`` (``home`` is ``OKX_JOURNAL_HOME``, default
``~/.config/okx-journal``, the credential store's folder), keyed by a SHA-256 digest of
the API key (never the key itself, never the secret or passphrase), so a stored profile
and the same key in the environment share it. A run without ``--base-url`` (nor
``OKX_BASE_URL``, nor a ``base_url`` in dlt.toml other than the default) then goes
straight to that site.

The file holds host names only, mode 0600, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from sources.okx.credentials import OkxCredentials
from sources.okx.sites import site_for

__all__ = ["SITES_FILE", "forget", "remember", "remembered", "sites_path"]

SITES_FILE = "sites.json"
_HOME_ENV = "OKX_JOURNAL_HOME"


def sites_path() -> Path:
    """``<home>/sites.json``."""
    home = os.environ.get(_HOME_ENV, "").strip()
    base = Path(home).expanduser() if home else Path.home() / ".config" / "okx-journal"
    return base / SITES_FILE


def _key_id(credentials: OkxCredentials) -> str:
    return hashlib.sha256(credentials.api_key.encode("utf-8")).hexdigest()


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, dict):
        return {}
    return {str(k): str(v) for k, v in keys.items()}


def remembered(credentials: OkxCredentials) -> str | None:
    """The official base URL remembered for this key, or None."""
    url = _read(sites_path()).get(_key_id(credentials))
    return url if url and site_for(url) is not None else None


def remember(credentials: OkxCredentials, base_url: str) -> None:
    """Remembers ``base_url`` (an official host) as this key's site."""
    if site_for(base_url) is None:
        return
    _write({**_read(sites_path()), _key_id(credentials): base_url})


def forget(credentials: OkxCredentials) -> None:
    """Forgets this key's site (``credentials delete``)."""
    current = _read(sites_path())
    if current.pop(_key_id(credentials), None) is not None:
        _write(current)


def _write(keys: dict[str, str]) -> None:
    path = sites_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".sites-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"keys": keys}, fh, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
