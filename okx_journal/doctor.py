"""``okx-journal doctor``: one line per check, from the network up to the key's rights.

Checks, in order, each depending on the ones before: the host answers
(``GET /api/v5/public/time``), the clock offset to OKX, the credentials are accepted
(``GET /api/v5/account/config``; on OKX's "wrong site" answers the other official hosts
are asked, and the site that knows the key is named and remembered), the key's permissions (``perm``), its IP binding
(``ip``), the account mode (``acctLv``), live or demo trading, and how far back the
account's history reaches in the database (``--db``), or will reach after a first sync.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from okx_journal.config import ConnectionSettings
from okx_journal.permissions import enforce_read_only
from okx_journal.sites import remember
from sources.okx.client import OkxClient
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import OkxError, OkxJournalError, PermissionRefused
from sources.okx.sites import WRONG_SITE_CODES, find_site, is_official, site_for

FIRST_SYNC_REACH = (
    "a first sync reads the ledger back to the account's first quarter (OKX's quarterly "
    "export, 2021-02-01 on; the REST pages keep 3 months) and fills as far back as OKX "
    "serves them (3 or 12 months)"
)


def history_reach(db_path: Path | None, uid: str) -> str:
    """How far back this account's records reach in the database (one line)."""
    if db_path is None or not Path(db_path).exists():
        return f"not synced yet{f' into {db_path}' if db_path else ''}: {FIRST_SYNC_REACH}"
    import duckdb

    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error:
        return f"{db_path} cannot be read now (a sync may be writing it): run doctor again later"
    try:
        tables = {str(r[0]) for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'okx_raw'").fetchall()}
        account = "'" + uid.replace("'", "''") + "'"
        oldest: dict[str, str] = {}
        for table, what in (("bills", "ledger"), ("funding_bills", "funding account"),
                            ("fills", "fills")):
            if table in tables:
                row = con.execute(f"select strftime(min(ts), '%Y-%m-%d') from okx_raw.{table} "
                                  f"where account_uid = {account}").fetchone()
                if row and row[0]:
                    oldest[what] = str(row[0])
        quarters: dict[str, int] = {}
        if "ledger_export_quarters" in tables:
            for state, n in con.execute(
                "select case when state in ('imported', 'no_data', 'failed') then state "
                "else 'pending' end, count(*) from okx_raw.ledger_export_quarters "
                f"where account_uid = {account} group by 1"
            ).fetchall():
                quarters[str(state)] = int(n)
    finally:
        con.close()
    if not oldest:
        return f"nothing of this account in {db_path} yet: {FIRST_SYNC_REACH}"
    text = f"in {db_path}: " + ", ".join(f"{k} from {v}" for k, v in oldest.items())
    if quarters:
        text += "; quarterly ledger export: " + ", ".join(
            f"{quarters[k]} {k.replace('_', ' ')}" for k in ("imported", "pending", "failed", "no_data")
            if quarters.get(k))
    return text


ACCOUNT_MODES = {
    "1": "Spot mode",
    "2": "Futures mode (spot and derivatives, margin per currency)",
    "3": "Multi-currency margin",
    "4": "Portfolio margin",
}


@dataclass(frozen=True)
class Check:
    """One doctor line: ``status`` is ``ok``, ``warn``, ``FAIL`` or ``skip``."""

    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<5} {self.name:<22} {self.detail}"


@dataclass
class DoctorReport:
    """What doctor found; ``error`` is the first failure, the one that sets the exit code."""

    checks: list[Check] = field(default_factory=list)
    error: OkxJournalError | None = None
    #: the site found for the key when the given host did not know it
    site: str | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else self.error.exit_code


CHECK_NAMES = (
    "host reachable",
    "clock offset",
    "credentials accepted",
    "OKX site",
    "key permissions",
    "IP binding",
    "account mode",
    "live or demo",
    "history reach",
)


def run_doctor(
    credentials: OkxCredentials | None,
    settings: ConnectionSettings,
    *,
    allow_write_permissions: bool = False,
    clock_sync: bool = True,
    emit: Callable[[Check], None] | None = None,
    client: OkxClient | None = None,
    db_path: Path | None = None,
    transport: Any = None,
    remember_site: bool = True,
) -> DoctorReport:
    """Run every check and report each through ``emit`` as soon as it is known.

    Args:
        credentials: the key to check; ``None`` stops after the clock check.
        settings: host, demo flag, timeouts.
        allow_write_permissions: accept a key that can trade or withdraw (with a warning).
        clock_sync: apply the measured clock offset to signatures (off only to
            reproduce OKX's 50102 "timestamp expired" answer).
        emit: called with each check as it completes.
        client: an existing client (tests); otherwise one is built from ``settings``.
        db_path: the database ``sync`` loads into: the history line says how far back
            this account's records reach there.
        transport: httpx transport of the clients (tests route OKX's hosts with it).
        remember_site: remember the site found for the key (``okx_journal.sites``).

    When the host answers that it does not know the key (50119, or another wrong-site
    code), the other official OKX hosts are asked, one GET each; the site that knows the
    key is named on the "OKX site" line and remembered, and the checks go on there.
    """
    report = DoctorReport()

    def add(name: str, status: str, detail: str) -> None:
        check = Check(name, status, detail)
        report.checks.append(check)
        if emit:
            emit(check)

    def skip_rest() -> None:
        done = {c.name for c in report.checks}
        for name in CHECK_NAMES:
            if name not in done:
                add(name, "skip", "not checked (see the failure above)")

    own_client = client is None
    if client is None:
        client = OkxClient(
            credentials,
            base_url=settings.base_url,
            demo_trading=settings.demo_trading,
            timeout=settings.timeout_s,
            max_retries=min(settings.max_retries, 2),
            sync_clock=clock_sync,
            transport=transport,
        )
    clients = [client] if own_client else []
    try:
        started = time.monotonic()
        try:
            offset_ms = client.sync_clock()
        except OkxJournalError as exc:
            add("host reachable", "FAIL", str(exc))
            report.error = exc
            skip_rest()
            return report
        elapsed_ms = (time.monotonic() - started) * 1000
        add("host reachable", "ok", f"{settings.base_url} answered in {elapsed_ms:.0f} ms")
        seconds = offset_ms / 1000
        if abs(seconds) < 1:
            add("clock offset", "ok", f"{seconds:+.3f} s to the server's clock")
        elif clock_sync:
            add(
                "clock offset",
                "warn",
                f"this machine's clock is {seconds:+.1f} s off OKX's; okx-journal corrects "
                "for it, but other tools may fail with 50102: enable NTP",
            )
        else:
            add("clock offset", "warn", f"{seconds:+.1f} s, and the correction is switched off")
        if credentials is None:
            add("credentials accepted", "FAIL", "no credentials given")
            skip_rest()
            return report

        found = None
        try:
            config = client.get("/api/v5/account/config")[0]
        except OkxJournalError as exc:
            if (isinstance(exc, OkxError) and exc.code in WRONG_SITE_CODES
                    and is_official(client.base_url)):
                offset = client.clock_offset_ms

                def make(url: str) -> OkxClient:
                    return OkxClient(credentials, base_url=url,
                                     demo_trading=settings.demo_trading,
                                     timeout=settings.timeout_s, max_retries=1,
                                     sync_clock=clock_sync, transport=transport,
                                     clock_offset_ms=offset)

                found = find_site(credentials, client.base_url, make)
            if found is None:
                add("credentials accepted", "FAIL", str(exc))
                report.error = exc
                skip_rest()
                return report
            site, answer = found
            if remember_site:
                remember(credentials, site.base_url)
            report.site = site.base_url
            client = make(site.base_url)
            clients.append(client)
            try:
                config = answer[0] if answer else client.get("/api/v5/account/config")[0]
            except OkxJournalError as again:
                add("credentials accepted", "FAIL", str(again))
                report.error = again
                skip_rest()
                return report
        uid = config.get("uid", "")
        label = config.get("label", "")
        add("credentials accepted", "ok", f"account uid {uid}" + (f", key label {label!r}" if label else ""))
        if found is not None:
            add(
                "OKX site",
                "warn",
                f"{settings.base_url} does not know this key: it belongs to "
                f"{found[0].describe()}"
                + ("; remembered: the next runs go there without --base-url"
                   if remember_site else f"; pass --base-url {found[0].base_url}"),
            )
        else:
            here = site_for(client.base_url)
            add("OKX site", "ok",
                here.describe() if here is not None else f"{client.base_url} (loopback: a simulator)")

        perm = str(config.get("perm", ""))
        try:
            warnings = enforce_read_only(perm, allow_write_permissions)
        except PermissionRefused as exc:
            add("key permissions", "FAIL", f"perm={perm}")
            report.error = exc
            skip_rest()
            return report
        if warnings:
            add("key permissions", "warn", f"perm={perm}, accepted by --allow-write-permissions")
        else:
            add("key permissions", "ok", f"perm={perm} (read only)")

        ip = str(config.get("ip", ""))
        if ip:
            add("IP binding", "ok", f"bound to {ip}: requests from other addresses get 50110")
        else:
            add(
                "IP binding",
                "warn",
                "not bound to an IP: binding the key to this machine's address is recommended "
                "(a read-only key without IPs still works; keys with trade or withdraw rights "
                "and no IPs expire after 14 days without use)",
            )

        acct_lv = str(config.get("acctLv", ""))
        mode = ACCOUNT_MODES.get(acct_lv, f"unknown mode {acct_lv!r}")
        pos_mode = config.get("posMode", "")
        add("account mode", "ok", f"acctLv={acct_lv} {mode}" + (f", posMode={pos_mode}" if pos_mode else ""))
        if settings.demo_trading:
            add("live or demo", "ok", "demo trading (x-simulated-trading: 1): the key is a demo key")
        else:
            add("live or demo", "ok", "live trading: the key is a live key")
        add("history reach", "ok", history_reach(db_path, str(uid)))
        return report
    finally:
        for one in clients:
            one.close()
