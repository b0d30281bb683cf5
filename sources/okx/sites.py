"""OKX's sites (okx-api.md §1.5) and finding the one an API key belongs to.

An OKX account lives on one site: the global one (``www.okx.com``), the EEA one
(accounts of my.okx.com, REST host ``eea.okx.com``) or the US one (app.okx.com, REST host
``us.okx.com``). A key used on another site's host is answered as if it did not exist
(50119) or refused for the region (50121); OKX's "domain" codes (50108, 50109) say the
same. ``find_site`` then asks the other official hosts, and only those, over https, one
read-only GET (``account/config``) each, and returns the first that knows the key.

These are the only hosts ``OkxClient`` accepts besides loopback (the simulator).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sources.okx.credentials import OkxCredentials
from sources.okx.errors import OkxError, OkxJournalError

__all__ = [
    "OFFICIAL_HOSTS",
    "SITES",
    "WRONG_SITE_CODES",
    "Site",
    "find_site",
    "is_official",
    "site_for",
]


@dataclass(frozen=True)
class Site:
    """One OKX site: its REST base URL and what a user calls it."""

    base_url: str
    name: str
    web: str

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    def describe(self) -> str:
        """``the EEA site (accounts of my.okx.com, https://eea.okx.com)``."""
        return f"the {self.name} site (accounts of {self.web}, {self.base_url})"


#: okx-api.md §1.5, in the order they are tried.
SITES: tuple[Site, ...] = (
    Site("https://www.okx.com", "global", "www.okx.com"),
    Site("https://eea.okx.com", "EEA", "my.okx.com"),
    Site("https://us.okx.com", "US", "app.okx.com"),
)
OFFICIAL_HOSTS = frozenset(site.host for site in SITES)
#: Answers that mean "this key is not on this site": key unknown (50119), region refused
#: (50121), exchange ID / domain unknown (50108, 50109).
WRONG_SITE_CODES = frozenset({"50119", "50121", "50108", "50109"})


def site_for(base_url: str) -> Site | None:
    """The official site of a base URL (https only), or None (loopback, anything else)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme != "https" or parts.port not in (None, 443):
        return None
    host = (parts.hostname or "").lower()
    return next((site for site in SITES if site.host == host), None)


def is_official(base_url: str) -> bool:
    """``base_url`` is one of OKX's official REST hosts over https."""
    return site_for(base_url) is not None


def find_site(
    credentials: OkxCredentials,
    tried: str,
    make_client: Callable[[str], Any],
) -> tuple[Site, list[dict[str, Any]] | None] | None:
    """The official site whose host knows ``credentials``, other than ``tried``.

    Each other host gets one ``GET /api/v5/account/config`` (read-only), in the order of
    ``SITES``. A host that answers with a wrong-site code (or cannot be reached) is
    passed over; any other answer, success or a different refusal (a wrong passphrase,
    say), means the key exists there.

    Args:
        credentials: The key.
        tried: The base URL that answered with a wrong-site code.
        make_client: Builds a client for a base URL (``OkxClient`` with the caller's
            transport, demo flag and clock offset); it is closed here.

    Returns:
        The site and its ``account/config`` answer (None when it refused the key for
        another reason: asking again gives the caller that error), or None when no
        other site knows the key.
    """
    del credentials  # the clients carry it; named so the call reads as what it does
    current = site_for(tried)
    for site in SITES:
        if current is not None and site.host == current.host:
            continue
        client = make_client(site.base_url)
        try:
            return site, client.get("/api/v5/account/config")
        except OkxError as exc:
            if exc.code in WRONG_SITE_CODES or exc.code is None:
                continue
            return site, None
        except OkxJournalError:
            continue
        finally:
            client.close()
    return None
