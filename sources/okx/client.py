"""The one HTTP client okx-journal uses to talk to OKX's v5 REST API.

``OkxClient`` owns one ``httpx.Client`` (connection reuse, explicit timeouts) and adds
what OKX needs around it:

* signing through an ``httpx.Auth`` hook that signs ``METHOD + url.raw_path + body`` of
  the request actually being sent, so signed bytes are sent bytes;
* the server-clock offset (``/api/v5/public/time``) so timestamps are on OKX's time;
* OKX's per-endpoint rate limits (``ratelimit.RateLimiter``) and retries with exponential
  backoff and full jitter for answers worth retrying;
* the read-only guard: GET only, plus the one documented read-only POST (the quarterly
  ledger export request); anything else is refused before it leaves the process;
* OKX's official hosts only (``sources/okx/sites.py``: www, eea and us.okx.com, over
  ``https``), or loopback (the simulator): no other host ever gets a request.

Errors are raised as the ``errors`` hierarchy, mapped by ``errors.error_for``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import orjson

from sources.okx.credentials import OkxCredentials
from sources.okx.errors import (
    ConfigError,
    OkxError,
    OkxRequestError,
    OkxUnavailableError,
    error_for,
    one_line,
)
from sources.okx.ratelimit import RateLimiter, Slot
from sources.okx.signing import okx_timestamp, sign
from sources.okx.sites import is_official

__all__ = ["ARCHIVE_PATH", "ClientStats", "OkxAuth", "OkxClient"]

logger = logging.getLogger("okx_journal.client")

DEFAULT_BASE_URL = "https://www.okx.com"
TIME_PATH = "/api/v5/public/time"
ARCHIVE_PATH = "/api/v5/account/bills-history-archive"
#: The only non-GET requests okx-journal may send: documented read-only export requests.
_ALLOWED_POSTS = frozenset({ARCHIVE_PATH})
_PUBLIC_PREFIXES = ("/api/v5/public/", "/api/v5/market/")
_RATE_LIMIT_CODE = "50011"
_CLOCK_CODE = "50102"


def _is_public(path: str) -> bool:
    return path.startswith(_PUBLIC_PREFIXES)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str) -> str:
    """Validates the base URL and returns it without a trailing slash."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(
            f"--base-url {base_url!r} is not a web address: use https://www.okx.com, "
            "https://eea.okx.com or https://us.okx.com."
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// for {parts.hostname}: your API key would travel "
            "unencrypted; use https:// (plain http is allowed only on loopback, for the simulator)."
        )
    if not _is_loopback(parts.hostname) and not is_official(base_url.strip().rstrip("/")):
        raise ConfigError(
            f"--base-url {base_url!r} is not one of OKX's hosts: okx-journal sends your key "
            "only to https://www.okx.com, https://eea.okx.com or https://us.okx.com "
            "(or to a simulator on loopback)."
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"--base-url {base_url!r} must not contain '?' or '#': give only the host.")
    return base_url.strip().rstrip("/")


def _guard_request(request: httpx.Request) -> None:
    """Event hook run on every request just before it is sent: GET or allowed POST only."""
    if request.method == "GET":
        return
    if request.method == "POST" and request.url.path in _ALLOWED_POSTS:
        return
    raise OkxRequestError(
        f"okx-journal only reads from OKX: refused to send {request.method} {request.url.path}."
    )


def _query_string(params: Mapping[str, object] | None) -> str:
    """Encodes query parameters once, percent-encoding like ccxt (``,`` → ``%2C``).

    ``None`` values are dropped; booleans become ``true``/``false``; order is kept.
    """
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        else:
            pairs.append((key, str(value)))
    return urlencode(pairs, quote_via=quote)


@dataclass
class ClientStats:
    """Counters of one client's traffic, for the sync summary and progress display.

    Attributes:
        requests_sent: HTTP requests handed to the transport (retries included).
        retries: Requests repeated after a retryable failure.
        rate_limit_wait_seconds: Seconds spent waiting in the rate limiter, in total.
        rate_limit_wait_by_endpoint: The same, per endpoint path.
        rate_limited_answers: Answers with code 50011 or HTTP 429.
        backoff_seconds: Seconds slept between retries.
    """

    requests_sent: int = 0
    retries: int = 0
    rate_limit_wait_seconds: float = 0.0
    rate_limit_wait_by_endpoint: dict[str, float] = field(default_factory=dict)
    rate_limited_answers: int = 0
    backoff_seconds: float = 0.0


class OkxAuth(httpx.Auth):
    """Signs a request with OKX's v5 scheme from the bytes httpx is about to send.

    The signature covers ``timestamp + METHOD + url.raw_path (with ?query) + body``;
    reading ``raw_path`` and ``content`` of the final request makes it impossible to sign
    one encoding and send another.
    """

    requires_request_body = True

    def __init__(self, credentials: OkxCredentials, now_ms: Callable[[], int]) -> None:
        self._credentials = credentials
        self._now_ms = now_ms

    def __repr__(self) -> str:
        return f"OkxAuth({self._credentials!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        timestamp = okx_timestamp(self._now_ms())
        request_path = request.url.raw_path.decode("ascii")
        body = request.content.decode("utf-8")
        creds = self._credentials
        request.headers["OK-ACCESS-KEY"] = creds.api_key
        request.headers["OK-ACCESS-SIGN"] = sign(creds.secret, timestamp, request.method, request_path, body)
        request.headers["OK-ACCESS-TIMESTAMP"] = timestamp
        request.headers["OK-ACCESS-PASSPHRASE"] = creds.passphrase
        yield request


class OkxClient:
    """A read-only, rate-limited, retrying client for OKX's v5 REST API.

    Safe to share between threads (one per dlt resource): httpx's client is thread-safe,
    the clock sync is guarded by a lock and the limiter locks per endpoint.

    Args:
        credentials: The API key; ``None`` allows only public endpoints.
        base_url: ``https://www.okx.com``, ``https://eea.okx.com`` (my.okx.com accounts),
            ``https://us.okx.com`` (app.okx.com accounts), or ``http://127.0.0.1:PORT``
            for the simulator. Plain http is refused for any non-loopback host.
        demo_trading: Send ``x-simulated-trading: 1`` (OKX demo trading keys).
        timeout: Read/write/pool timeout in seconds; connecting gets at most 5 s.
        rate_limiter: A shared limiter; by default one is created for this client.
        rate_limits: ``False`` disables the default limiter (ignored if ``rate_limiter``
            is given).
        max_retries: Retries after the first attempt for retryable failures.
        sync_clock: Read OKX's time before the first private request and stamp every
            request with local time + offset; resync once on a 50102 answer. ``False``
            applies no offset at all.
        transport: httpx transport (``httpx.MockTransport`` in tests).
        sleep: Sleep used between retries (injectable for tests).
        clock: Wall clock in epoch seconds used for timestamps (injectable for tests).
        on_wait: Called with ``(path, seconds)`` before every rate-limit wait (limiter
            waits and backoff after a 50011/429 answer).
        backoff_base: First backoff ceiling in seconds; doubles per retry.
        backoff_cap: Largest backoff ceiling in seconds.
        rng: Random source for the jitter.
        clock_offset_ms: OKX's clock offset already measured (by another client): no
            ``public/time`` request is sent.
    """

    def __init__(
        self,
        credentials: OkxCredentials | None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        demo_trading: bool = False,
        timeout: float = 10.0,
        rate_limiter: RateLimiter | None = None,
        rate_limits: bool = True,
        max_retries: int = 6,
        sync_clock: bool = True,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        on_wait: Callable[[str, float], None] | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        rng: random.Random | None = None,
        clock_offset_ms: int | None = None,
    ) -> None:
        self.base_url = _check_base_url(base_url)
        self.demo_trading = demo_trading
        self.max_retries = max(0, max_retries)
        self.timeout = timeout
        self.clock_offset_ms = 0
        self.stats = ClientStats()
        self.on_wait = on_wait
        self._credentials = credentials
        self._limiter = rate_limiter if rate_limiter is not None else RateLimiter(enabled=rate_limits)
        self._sync_clock = sync_clock
        self._clock_synced = False
        if clock_offset_ms is not None:  # measured by another client (OKX has one clock)
            self.clock_offset_ms = int(clock_offset_ms)
            self._clock_synced = True
        self._clock_lock = threading.RLock()
        self._stats_lock = threading.Lock()
        self._sleep = sleep
        self._clock = clock
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self._ever_connected = False
        self._auth = OkxAuth(credentials, self._now_ms) if credentials is not None else None
        headers = {"Accept": "application/json", "User-Agent": "okx-journal"}
        if demo_trading:
            headers["x-simulated-trading"] = "1"
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            follow_redirects=False,
            event_hooks={"request": [_guard_request]},
        )

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> OkxClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the pooled connections."""
        self._http.close()

    def __repr__(self) -> str:
        return f"OkxClient(base_url={self.base_url!r}, demo_trading={self.demo_trading}, credentials={self._credentials!r})"

    # ------------------------------------------------------------------ public API
    def get(self, path: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        """Sends a GET and returns OKX's ``data`` array.

        ``/api/v5/public/*`` and ``/api/v5/market/*`` go unsigned; everything else is
        signed (and needs credentials). Candle endpoints return arrays of arrays, passed
        through unchanged.

        Args:
            path: Endpoint path from ``/api/v5/``, without a query string.
            params: Query parameters, in the order to send; ``None`` values are dropped.

        Raises:
            OkxAuthError, OkxRateLimitError, OkxUnavailableError, OkxRequestError: as
                mapped by ``errors.ERROR_TABLE``, after retries where retrying helps.
            ConfigError: a private path without credentials.
        """
        return self._call("GET", path, params=params)

    def apply_bills_history_archive(
        self, year: int, quarter: int | str, *, retry_rate_limited: bool = True
    ) -> list[dict[str, Any]]:
        """Asks OKX to prepare the quarterly ledger export (the only POST okx-journal sends).

        ``POST /api/v5/account/bills-history-archive`` with ``{"year":"2024","quarter":"Q1"}``
        (compact JSON, signed exactly as sent). Data exists from 2021-02-01; the current
        quarter is never available. OKX answers ``[{"result": "true"|"false", "ts": ...}]``:
        ``true`` means the file exists, ``false`` that generation started (about 2 h);
        fetch the link with ``get(ARCHIVE_PATH, {"year": ..., "quarter": ...})``.

        Args:
            year: Four-digit year, 2021 or later.
            quarter: 1-4 or "Q1"-"Q4".
            retry_rate_limited: False: a 50011 / HTTP 429 answer raises
                ``OkxRateLimitError`` at once (OKX's older docs allow 12 applies a day:
                waiting for the next one makes no sense within a sync).
        """
        q = str(quarter).upper().removeprefix("Q")
        if q not in ("1", "2", "3", "4"):
            raise ConfigError(f"quarter must be Q1, Q2, Q3 or Q4, not {quarter!r}.")
        if not 2021 <= int(year) <= 9999:
            raise ConfigError(f"OKX keeps ledger exports from 2021 on; year {year!r} is not available.")
        body = json.dumps({"year": str(int(year)), "quarter": f"Q{q}"}, separators=(",", ":"))
        return self._call("POST", ARCHIVE_PATH, body=body, retry_rate_limited=retry_rate_limited)

    def sync_clock(self) -> int:
        """Measures OKX's clock against ours via ``GET /api/v5/public/time``.

        Sets ``clock_offset_ms`` to server time minus the midpoint of the local send
        and receive times, so that request timestamps land inside OKX's ~30 s window even
        when this machine's clock is off.

        Returns:
            The new offset in milliseconds (positive: OKX is ahead).
        """
        with self._clock_lock:
            before = self._clock()
            data = self._call("GET", TIME_PATH)
            after = self._clock()
            try:
                server_ms = int(data[0]["ts"])
            except (IndexError, KeyError, TypeError, ValueError):
                raise OkxUnavailableError(
                    f"{self.base_url} answered /api/v5/public/time without a time: "
                    "check --base-url points at OKX."
                ) from None
            self.clock_offset_ms = server_ms - round((before + after) * 500)
            self._clock_synced = True
            logger.debug("clock offset to %s: %d ms", self.base_url, self.clock_offset_ms)
            return self.clock_offset_ms

    # ------------------------------------------------------------------ internals
    def _now_ms(self) -> int:
        local = round(self._clock() * 1000)
        return local + self.clock_offset_ms if self._sync_clock else local

    def _ensure_clock(self) -> None:
        if not self._sync_clock or self._clock_synced:
            return
        with self._clock_lock:
            if not self._clock_synced:
                self.sync_clock()

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        body: str = "",
        retry_rate_limited: bool = True,
    ) -> list[dict[str, Any]]:
        if method != "GET" and not (method == "POST" and path in _ALLOWED_POSTS):
            raise OkxRequestError(f"okx-journal only reads from OKX: refused to send {method} {path}.")
        if not path.startswith("/") or "?" in path:
            raise ValueError(f"path must start with '/' and carry no query string: {path!r}")
        private = not _is_public(path)
        if private:
            if self._auth is None:
                raise ConfigError(
                    f"{path} needs an API key: store one with `okx-journal credentials set` "
                    "or set OKX_API_KEY, OKX_API_SECRET and OKX_API_PASSPHRASE."
                )
            self._ensure_clock()
        query = _query_string(params)
        url = self.base_url + path + ("?" + query if query else "")
        limiter_key = path if method == "GET" else f"{method} {path}"
        content = body.encode("utf-8")
        headers = {"Content-Type": "application/json"} if method == "POST" else None

        resynced = False
        attempt = 0
        while True:
            slot = self._wait_for_limit(limiter_key)
            try:
                response = self._send(method, url, path, content, headers, private)
            except httpx.TransportError as exc:
                self._limiter.release(limiter_key, slot)
                error = self._transport_error(exc, attempt)
                if isinstance(exc, httpx.ConnectError) and not self._ever_connected:
                    raise error from None
                if attempt >= self.max_retries:
                    raise error from None
                self._backoff(limiter_key, attempt, rate_limited=False)
                attempt += 1
                continue
            self._limiter.release(limiter_key, slot)
            self._ever_connected = True
            try:
                return self._parse(response)
            except OkxError as error:
                if error.code == _CLOCK_CODE and self._sync_clock and not resynced:
                    resynced = True
                    self.sync_clock()
                    continue
                rate_limited = error.code == _RATE_LIMIT_CODE or response.status_code == 429
                if rate_limited:
                    with self._stats_lock:
                        self.stats.rate_limited_answers += 1
                if not error.retryable or (rate_limited and not retry_rate_limited):
                    raise
                if attempt >= self.max_retries:
                    raise _gave_up(error, attempt + 1) from None
                self._backoff(limiter_key, attempt, rate_limited=rate_limited)
                attempt += 1

    def _send(
        self,
        method: str,
        url: str,
        path: str,
        content: bytes,
        headers: dict[str, str] | None,
        private: bool,
    ) -> httpx.Response:
        request = self._http.build_request(method, url, content=content or None, headers=headers)
        with self._stats_lock:
            self.stats.requests_sent += 1
        started = time.perf_counter()
        try:
            response = self._http.send(request, auth=self._auth if private else None)
        except httpx.TransportError as exc:
            logger.debug(
                "%s %s failed after %.0f ms: %s",
                method, path, (time.perf_counter() - started) * 1000, type(exc).__name__,
            )
            raise
        logger.debug(
            "%s %s -> %d in %.0f ms",
            method, path, response.status_code, (time.perf_counter() - started) * 1000,
        )
        return response

    def _parse(self, response: httpx.Response) -> list[dict[str, Any]]:
        """Unwraps OKX's ``{"code": "0", "msg": "", "data": [...]}`` or raises."""
        status = response.status_code
        try:
            # orjson: 2-3x faster than json on OKX pages (the top CPU cost of a page)
            envelope = orjson.loads(response.content)
        except ValueError:  # orjson.JSONDecodeError is a ValueError
            envelope = None
        if not isinstance(envelope, dict):
            raise self._non_okx_answer(status)
        code = envelope.get("code")
        code_text = "" if code is None else str(code).strip()
        okx_msg = self._scrub(str(envelope.get("msg") or envelope.get("error_message") or ""))
        if code_text == "0" and status < 300:
            data = envelope.get("data")
            if data is None:
                return []
            if isinstance(data, dict):
                return [data]
            if isinstance(data, list):
                return data
            raise OkxUnavailableError(
                f"{self.base_url} answered with an unexpected 'data' field: check --base-url points at OKX."
            )
        if code_text in ("", "0"):
            raise self._non_okx_answer(status)
        raise error_for(code_text, okx_msg, status, self.base_url)

    def _non_okx_answer(self, status: int) -> OkxError:
        if status == 429:
            return error_for(_RATE_LIMIT_CODE, "Too Many Requests", status, self.base_url)
        if status >= 500:
            return OkxUnavailableError(
                f"OKX at {self.base_url} answered HTTP {status}: it is having trouble; run again in a few minutes.",
                http_status=status,
                retryable=True,
            )
        return OkxRequestError(
            f"{self.base_url} answered HTTP {status} without OKX's usual reply: "
            "check that --base-url is https://www.okx.com, https://eea.okx.com or https://us.okx.com.",
            http_status=status,
        )

    def _transport_error(self, exc: httpx.TransportError, attempt: int) -> OkxUnavailableError:
        detail = one_line(str(exc))[:120] or type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            text = f"cannot reach {self.base_url}: check the address / network ({detail})."
        elif isinstance(exc, httpx.TimeoutException):
            text = (
                f"{self.base_url} did not answer within {self.timeout:g} s: check the network "
                "or run again later."
            )
        else:
            text = (
                f"the connection to {self.base_url} broke ({type(exc).__name__}: {detail}): "
                "check the network or run again later."
            )
        if attempt:
            text = text[:-1] + f" (gave up after {attempt + 1} attempts)."
        return OkxUnavailableError(text, retryable=True)

    def _scrub(self, text: str) -> str:
        """Removes the secret and passphrase should an answer ever echo them."""
        creds = self._credentials
        if creds is not None:
            for secret in (creds.secret, creds.passphrase):
                if len(secret) >= 4:
                    text = text.replace(secret, "***")
        return text

    def _wait_for_limit(self, key: str) -> Slot | None:
        waited, slot = self._limiter.reserve(key, on_wait=self.on_wait)
        if waited > 0:
            with self._stats_lock:
                self.stats.rate_limit_wait_seconds += waited
                by_endpoint = self.stats.rate_limit_wait_by_endpoint
                by_endpoint[key] = by_endpoint.get(key, 0.0) + waited
        return slot

    def _backoff(self, key: str, attempt: int, *, rate_limited: bool) -> None:
        ceiling = min(self._backoff_cap, self._backoff_base * (2**attempt))
        delay = self._rng.uniform(0.0, ceiling)
        if rate_limited:
            _, window = self._limiter.limit_for(key)
            delay = max(delay, window)
            if self.on_wait is not None:
                self.on_wait(key, delay)
        with self._stats_lock:
            self.stats.retries += 1
            self.stats.backoff_seconds += delay
        logger.debug("retry %d of %s in %.2f s", attempt + 1, key, delay)
        self._sleep(delay)


def _gave_up(error: OkxError, attempts: int) -> OkxError:
    """The same error, saying how many attempts were made."""
    text = str(error).rstrip(".") + f" (gave up after {attempts} attempts)."
    return type(error)(
        text,
        code=error.code,
        http_status=error.http_status,
        okx_msg=error.okx_msg,
        retryable=error.retryable,
    )
