"""okx-journal's exceptions and the one table from OKX error code to meaning.

The hierarchy (drawn once, here)::

    OkxJournalError                 exit_code attribute; str() is the one line for the user
    ├── ConfigError                 exit 2  bad option, missing credentials, store unreadable
    ├── OkxError                    an answer (or no answer) from OKX; .code is OKX's code or None
    │   ├── OkxAuthError            exit 3  501xx, 50110, 50119, 50120, 50035, 50100, 50121
    │   ├── OkxRateLimitError       exit 4  50011 / HTTP 429 still failing after retries
    │   ├── OkxUnavailableError     exit 4  network, timeouts, 5xx, 50001/50004/50013/50026 after retries
    │   └── OkxRequestError         exit 2  51000, 50014 and other "the request was wrong" codes
    ├── PermissionRefused           exit 3  key holds trade/withdraw and --allow-write-permissions not given
    ├── DataCheckFailed             exit 5
    └── SyncLocked                  exit 6  another sync holds the database's lock

Exit codes are the ones promised to schedulers (CONTRACT §2). ``ERROR_TABLE`` is the only
place that knows what an OKX code means: its exception class (hence exit code), whether
the client may retry it, and the sentence a trader reads. ``error_for`` turns an OKX
answer into the exception to raise. Messages never contain the secret or passphrase:
they are built only from the template, OKX's ``msg`` and the host.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

__all__ = [
    "ERROR_TABLE",
    "ConfigError",
    "DataCheckFailed",
    "ErrorInfo",
    "OkxAuthError",
    "OkxError",
    "OkxJournalError",
    "OkxRateLimitError",
    "OkxRequestError",
    "OkxUnavailableError",
    "PermissionRefused",
    "SyncLocked",
    "error_for",
    "one_line",
]

_MAX_OKX_MSG = 200


def one_line(text: str) -> str:
    """Collapses all whitespace (newlines included) into single spaces."""
    return " ".join(text.split())


class OkxJournalError(Exception):
    """Base of every error okx-journal reports to the user.

    ``str()`` is the single line the CLI prints; ``exit_code`` is the process exit code.
    """

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        self.message = one_line(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ConfigError(OkxJournalError):
    """Bad option, missing credentials, unreadable credential store (exit 2)."""

    exit_code = 2


class OkxError(OkxJournalError):
    """An answer (or no answer) from OKX.

    Attributes:
        code: OKX's error code as a string (``"50113"``), or None without one (network).
        http_status: HTTP status of the answer, or None when none arrived.
        okx_msg: OKX's own ``msg`` text (one line, shortened), "" if none.
        retryable: Whether the client may send the same request again.
    """

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        okx_msg: str = "",
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.okx_msg = okx_msg
        self.retryable = retryable


class OkxAuthError(OkxError):
    """OKX rejected the key, secret, passphrase, IP, host or environment (exit 3)."""

    exit_code = 3


class OkxRateLimitError(OkxError):
    """Rate limited (50011 / HTTP 429), still so after the retries (exit 4)."""

    exit_code = 4


class OkxUnavailableError(OkxError):
    """OKX unreachable, timing out, overloaded or in maintenance (exit 4)."""

    exit_code = 4


class OkxRequestError(OkxError):
    """OKX says the request itself was wrong, or an unknown OKX code (exit 2)."""

    exit_code = 2


class PermissionRefused(OkxJournalError):
    """The key can trade or withdraw and ``--allow-write-permissions`` was not given (exit 3)."""

    exit_code = 3


class DataCheckFailed(OkxJournalError):
    """A data-quality check failed on the loaded data (exit 5)."""

    exit_code = 5


class SyncLocked(OkxJournalError):
    """Another sync holds the database's lock (exit 6)."""

    exit_code = 6


@dataclass(frozen=True)
class ErrorInfo:
    """What one OKX error code means to okx-journal.

    Attributes:
        exc_class: The exception raised for it; its ``exit_code`` is the exit code.
        retryable: Whether the client retries it (with backoff) before raising.
        message: The user line; placeholders ``{code}``, ``{okx_msg}``, ``{host}``,
            ``{ip}`` (the IP named in OKX's msg) are filled by ``error_for``.
    """

    exc_class: type[OkxError]
    retryable: bool
    message: str

    @property
    def exit_code(self) -> int:
        """The process exit code this error leads to."""
        return self.exc_class.exit_code


_HOSTS = (
    "https://www.okx.com (global), https://eea.okx.com (accounts from my.okx.com) "
    "or https://us.okx.com (accounts from app.okx.com)"
)
_NEW_KEY = "create a new read-only API key on okx.com (Profile → API) and store it with `okx-journal credentials set`"
_BUG = "this is a bug in okx-journal: please report it with this line"

_A, _R, _U, _Q = OkxAuthError, OkxRateLimitError, OkxUnavailableError, OkxRequestError

ERROR_TABLE: dict[str, ErrorInfo] = {
    # --- OKX busy, down or limiting: retried by the client ---------------------------------
    "50001": ErrorInfo(_U, True, "OKX at {host} says its service is temporarily unavailable (code 50001, usually maintenance): run again in a few minutes."),
    "50004": ErrorInfo(_U, True, "OKX at {host} timed out answering (code 50004): it is probably overloaded; run again in a few minutes."),
    "50011": ErrorInfo(_R, True, "OKX at {host} kept answering 'rate limit reached' (code 50011): another program may be using the same account's request budget; stop it or run again later."),
    "50013": ErrorInfo(_U, True, "OKX at {host} says its systems are busy (code 50013): run again in a few minutes."),
    "50026": ErrorInfo(_U, True, "OKX at {host} reported a system error (code 50026): run again in a few minutes."),
    "50005": ErrorInfo(_U, False, "OKX at {host} says this endpoint is no longer available (code 50005: {okx_msg}): okx-journal needs an update; install a newer version."),
    # --- account state ---------------------------------------------------------------------
    "50007": ErrorInfo(_A, False, "OKX says this account is blocked (code 50007: {okx_msg}): check your OKX notifications or contact OKX support."),
    "50009": ErrorInfo(_A, False, "OKX says this account is frozen after a liquidation (code 50009: {okx_msg}): check your OKX account, then run again."),
    "50012": ErrorInfo(_A, False, "OKX says this account's status is invalid (code 50012: {okx_msg}): check your OKX notifications or contact OKX support."),
    # --- permissions, IP, environment, host -------------------------------------------------
    "50030": ErrorInfo(_A, False, "This API key may not use this endpoint (code 50030: {okx_msg}): give the key the Read permission on okx.com (Profile → API), or " + _NEW_KEY + "."),
    "50035": ErrorInfo(_A, False, "OKX serves this data only to API keys bound to an IP address (code 50035): edit the key on okx.com (Profile → API), bind it to this machine's public IP address, and run again."),
    "50100": ErrorInfo(_A, False, "OKX has frozen this API key (code 50100): check your OKX notifications or contact OKX support, or " + _NEW_KEY + "."),
    "50101": ErrorInfo(_A, False, "This API key is for the other environment (code 50101): a demo-trading key needs --demo-trading and a live key must be used without it; check which kind of key you created."),
    "50102": ErrorInfo(_A, False, "OKX rejected the request time (code 50102, timestamp expired): this computer's clock is off by more than about 30 seconds; turn on automatic time sync (NTP) and run again."),
    "50103": ErrorInfo(_A, False, "OKX received no API key (code 50103): set it with `okx-journal credentials set` or the OKX_API_KEY environment variable."),
    "50104": ErrorInfo(_A, False, "OKX received no passphrase (code 50104): it is the passphrase you chose when you created the API key, not your OKX login password; set it with `okx-journal credentials set` or OKX_API_PASSPHRASE."),
    "50105": ErrorInfo(_A, False, "The passphrase is incorrect for this API key (code 50105): it is the one you chose when you created the key, not your OKX login password; OKX cannot recover it, so if it is lost, delete the key and " + _NEW_KEY + "."),
    "50106": ErrorInfo(_A, False, "OKX received no signature (code 50106): the secret key is missing; set it with `okx-journal credentials set` or OKX_API_SECRET."),
    "50107": ErrorInfo(_A, False, "OKX received no request timestamp (code 50107): " + _BUG + "."),
    "50108": ErrorInfo(_A, False, "OKX at {host} says the exchange ID does not exist (code 50108): check --base-url; use " + _HOSTS + "."),
    "50109": ErrorInfo(_A, False, "OKX at {host} says this domain does not exist (code 50109): check --base-url; use " + _HOSTS + "."),
    "50110": ErrorInfo(_A, False, "OKX refused this machine's IP address {ip} (code 50110): the API key is bound to other IP addresses; add {ip} to the key's IP list on okx.com (Profile → API → Edit) or use a key bound to this machine."),
    "50111": ErrorInfo(_A, False, "OKX does not recognise this API key (code 50111): it was mistyped, revoked or deleted; check it on okx.com (Profile → API) or " + _NEW_KEY + "."),
    "50112": ErrorInfo(_A, False, "OKX rejected the request timestamp's format (code 50112): " + _BUG + "."),
    "50113": ErrorInfo(_A, False, "OKX rejected the request signature (code 50113): the secret key does not belong to this API key or was copied incompletely (truncated; OKX secrets have 32 characters); copy it again, or if you no longer have it (OKX shows it only once) " + _NEW_KEY + "."),
    "50114": ErrorInfo(_A, False, "OKX rejected the authorization (code 50114: {okx_msg}): check the API key, secret and passphrase, or " + _NEW_KEY + "."),
    "50115": ErrorInfo(_A, False, "OKX rejected the request method (code 50115): " + _BUG + "."),
    "50119": ErrorInfo(_A, False, "OKX at {host} does not know this API key (code 50119): it was deleted, or your account is registered on another OKX site; pass --base-url with " + _HOSTS + "."),
    "50120": ErrorInfo(_A, False, "This API key lacks the permission for this request (code 50120): okx-journal needs the Read permission; edit the key on okx.com (Profile → API) or " + _NEW_KEY + "."),
    "50121": ErrorInfo(_A, False, "OKX at {host} refuses access from this IP address or region (code 50121: {okx_msg}): if your account is registered on my.okx.com or app.okx.com, pass --base-url with " + _HOSTS + "."),
    # --- the request was wrong ----------------------------------------------------------------
    "50014": ErrorInfo(_Q, False, "OKX rejected a request with an empty required parameter (code 50014: {okx_msg}): " + _BUG + "."),
    "50038": ErrorInfo(_Q, False, "This data is not available in demo trading (code 50038: {okx_msg}): run without --demo-trading with a live read-only key to load it."),
    "50039": ErrorInfo(_Q, False, "OKX does not support paging with 'before' here (code 50039): " + _BUG + "."),
    "50076": ErrorInfo(_Q, False, "OKX says the date range is too long (code 50076: {okx_msg}): " + _BUG + "."),
    "50077": ErrorInfo(_Q, False, "OKX says the date range is too long (code 50077: {okx_msg}): " + _BUG + "."),
    "51000": ErrorInfo(_Q, False, "OKX rejected a request parameter (code 51000: {okx_msg}): " + _BUG + "."),
    "51001": ErrorInfo(_Q, False, "OKX does not know this instrument (code 51001: {okx_msg}): it may be delisted or expired."),
    "51010": ErrorInfo(_Q, False, "OKX does not support this request in your account mode (code 51010: {okx_msg}): this data exists only in other account modes (OKX: Settings → Account mode)."),
    "52000": ErrorInfo(_Q, False, "OKX has no market data for this request (code 52000: {okx_msg}): the instrument may not have traded in that period; values for it stay empty."),
}

_UNKNOWN = ErrorInfo(_Q, False, "OKX at {host} answered with error {code}: {okx_msg}")
_UNKNOWN_SERVER = ErrorInfo(_U, True, "OKX at {host} answered with a server error ({code}: {okx_msg}): run again in a few minutes.")

_IP_CANDIDATE_RE = re.compile(r"[0-9A-Fa-f:.]{3,}")


def _ip_in(text: str) -> str | None:
    """The first IPv4/IPv6 address named in ``text`` (OKX's 50110 msg names the caller's)."""
    for candidate in _IP_CANDIDATE_RE.findall(text):
        candidate = candidate.strip(".:") if "::" not in candidate else candidate.rstrip(".")
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


class _Fill(dict[str, str]):
    """A format mapping that leaves unknown placeholders visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def info_for(code: str | int | None, okx_msg: str = "", http_status: int | None = None) -> ErrorInfo:
    """Looks up the table row for an OKX code, with the fallbacks ``error_for`` uses.

    Unknown codes become ``OkxRequestError`` (exit 2, not retried), except when the
    answer was an HTTP 5xx or OKX's text says "server error", which are treated as
    ``OkxUnavailableError`` and retried (as ccxt does for gateway errors).
    """
    key = "" if code is None else str(code).strip()
    row = ERROR_TABLE.get(key)
    if row is not None:
        return row
    server_side = (http_status is not None and http_status >= 500) or "server error" in okx_msg.lower()
    return _UNKNOWN_SERVER if server_side else _UNKNOWN


def error_for(
    code: str | int | None,
    okx_msg: str = "",
    http_status: int | None = None,
    host: str | None = None,
) -> OkxError:
    """Builds the exception for an OKX error answer.

    Args:
        code: OKX's ``code`` field (string, or a number from gateway errors).
        okx_msg: OKX's ``msg`` field; quoted in the message (one line, shortened).
            For 50110 the IP address OKX names in it is repeated to the user.
        http_status: HTTP status of the answer, if any.
        host: Base URL the request went to, named in the user line.

    Returns:
        An instance of the row's class (an ``OkxError`` subclass) with ``code``,
        ``http_status``, ``okx_msg`` and ``retryable`` set; not raised.
    """
    msg = one_line(str(okx_msg or ""))
    if len(msg) > _MAX_OKX_MSG:
        msg = msg[: _MAX_OKX_MSG - 1] + "…"
    code_text = "" if code is None else str(code).strip()
    row = info_for(code_text, msg, http_status)
    ip = _ip_in(msg)
    values = _Fill(
        code=code_text or "(none)",
        okx_msg=msg or "no message",
        host=host or "the OKX host",
        ip=ip or "(not named by OKX)",
    )
    text = row.message.format_map(values)
    return row.exc_class(
        text,
        code=code_text or None,
        http_status=http_status,
        okx_msg=msg,
        retryable=row.retryable,
    )
