"""The loopback OKX simulator: a real HTTP server that answers like OKX v5 REST.

It serves a generated (or hand-built) account history over the endpoints a read-only
journal needs, with OKX's signature check, error codes and HTTP statuses, newest-first
cursor pagination, retention windows, per-endpoint rate limits and injectable faults.
References below (``okx-api §x``) are to the project's shared OKX notes.

What is reproduced, and the choices made where OKX's behaviour is not documented
(each marked *[choice]*):

Authentication (okx-api §1, §8), checked in this order for private endpoints:

1. header presence: ``OK-ACCESS-KEY`` 50103, ``OK-ACCESS-SIGN`` 50106,
   ``OK-ACCESS-TIMESTAMP`` 50107, ``OK-ACCESS-PASSPHRASE`` 50104 (all HTTP 401)
   *[choice: the order of these checks]*;
2. timestamp format 50112: exactly ``YYYY-MM-DDTHH:MM:SS.mmmZ`` *[choice: strict; OKX's
   documented format, other ISO forms are refused]*;
3. timestamp outside ±``timestamp_window_s`` (default 30 s, *[unverified for REST]*) of
   the server's clock (local clock + ``clock_offset_ms``) → 50102, both directions;
4. key lookup: a registered key is found whatever its shape; an unknown key shaped like
   an OKX key (a UUID) → 50119 "API key doesn't exist" (HTTP 200, as in okx-api §8);
   an unknown key of any other shape → 50111 "Invalid OK-ACCESS-KEY"; a revoked key →
   50119 *[choice: OKX deletes keys, so a deleted key "doesn't exist"]*;
5. region: a key registered in ``sim.key_regions`` (or carrying a ``region`` attribute)
   for another site than the one asked → 50119, as OKX does for an EEA key used on
   www.okx.com. The site asked is the request's ``Host`` when it is one of OKX's hosts
   (``www.okx.com`` global, ``eea.okx.com`` EEA, ``us.okx.com`` US: ``SITE_HOSTS``), so
   one server serves the three sites at once, as virtual hosts; any other ``Host``
   (loopback) is ``Simulator(region=...)``;
6. environment: a demo key without ``x-simulated-trading: 1`` or a live key with it →
   50101 (``x-simulated-trading: 0``, as python-okx sends for live, is accepted);
7. passphrase 50105; 8. signature 50113, recomputed over ``timestamp + METHOD + the raw
   request target exactly as received (path and query) + the raw body``;
9. IP binding: a key whose ``ip`` (comma-separated) does not contain the client address
   → 50110 "Your IP 127.0.0.1 is not included in your API key's IP whitelist.";
10. a key whose ``perm`` lacks ``read_only`` → 50120 *[choice: on OKX every key can
    read; this only exists for permission tests]*.

Routing: an unknown path → HTTP 404 with ``{"code":"50005",...}`` *[choice: OKX's
"endpoint inactive or unavailable" code, but HTTP 404 rather than its 410]*; a method the
endpoint does not take → 50115 with HTTP 405.

Pagination (okx-api §0.4-5, §3.2-3.6): every list is newest first; ``after`` returns
rows older than the cursor, ``before`` rows newer; ``begin``/``end`` filter ``ts``
*[choice: both inclusive]* and, like ``after``, return the NEWEST ``limit`` rows of what
remains. ``before`` used alone returns the ``limit`` rows just newer than the cursor
(still newest first) *[choice, unverified; ``before_semantics="newest"`` makes it return
the newest rows newer than the cursor instead]*. ``limit`` defaults to 100; values above
100 are clamped to 100 *[choice, unverified]*; a non-integer or < 1 → 51000.
Positions history pages on ``uTime`` and returns every row sharing the page's boundary
``uTime`` together, so a page may exceed ``limit`` (documented).

Retention (okx-api §3.1, §3.2), relative to the server's clock at request time: fills 3
days, fills-history ``fills_retention_days`` (default 365: OKX's docs say "3 months" in
older copies and "last 1 year" since 2025, *[unverified]*; 90 gives the older reading),
bills 7 days, bills-archive and positions-history 90 days *[choice: "3 months" = 90
days]*, funding bills (``asset/bills``) 30 days *[choice: "1 month" = 30 days]*,
``asset/bills-history`` back to 2021-02-01, deposit/withdrawal history unlimited
*[choice: OKX states no window]*. Expired FUTURES/OPTION (``expTime`` in the past) are
not listed by ``/public/instruments``.

Funding account (okx-api §3.1, §3.11): ``asset/bills`` and ``asset/bills-history`` page on
``ts`` (``after`` older, ``before`` newer, ``begin``/``end`` inclusive), or on ``billId``
with ``pagingType=2`` (bills-history only; elsewhere the parameter is ignored
*[choice]*); filters ``ccy``, ``type``, ``clientId``. ``deposit-history`` and
``withdrawal-history`` page on ``ts``; filters as documented, ``type`` ``3`` internal
(a deposit with ``from``, a withdrawal whose ``toAddrType`` is not ``1``) / ``4``
on-chain *[choice: the records carry no type field]*. On every ``ts`` cursor the rows
sharing the page's boundary ``ts`` come together, so a page may exceed ``limit``
*[choice, unverified: it keeps a strict ``after`` walk lossless when several records
share one ms, e.g. transfers of three currencies at once]*.

Quarterly ledger export (okx-api §3.4), keyed per account, year, quarter (and the
optional ``type`` filter):

* POST ``{"year","quarter"[,"type"]}``: ``51606`` for the current (or a future) quarter;
  ``51608`` when the quarter ends on/before 2021-02-01 or before the account's first
  trading bill; ``51607`` while a generation is ``ongoing`` for that quarter
  (``archive_busy_scope="quarter"``, default) or for any quarter of the account
  (``"account"``) *[choice, unverified: which request "the previous request" means]*;
  ``result "true"`` when the file exists (``finished``), otherwise ``"false"`` and a
  generation starts (also after ``failed``). A generation ends ``archive_ready_after_s``
  later (simulator clock; OKX says about 2 h), as ``failed`` the first time for a quarter
  in ``archive_fail_quarters`` (``"2025Q3"``), else ``finished``.
* GET ``?year&quarter``: ``51604`` before any POST for it; ``state``
  ``ongoing``/``finished``/``failed``; ``ts`` = the apply time while ongoing, the end of
  generation after. Each finished answer carries a new ``fileHref`` on this server under
  ``/archive-files/<token>``, valid 5.5 h of simulator clock (``archive_link_ttl_ms``);
  an unknown or expired link answers HTTP 403 (S3-style XML). Downloads need no OKX auth;
  ``sim.download_log`` records each one with the headers it carried, so tests can check
  that no ``OK-ACCESS-*`` header went to the file host.
* The file: the account's trading bills only (not the funding account), ``ts`` in
  ``[quarter start, next quarter start)`` UTC plus ``archive_boundary_overlap_ms`` after
  the end (such rows then sit in two files, as OKX's disagreeing examples allow), in
  reverse ``billId`` order, CSV (``\n`` line ends, header row) with exactly the 28
  documented columns (``ARCHIVE_COLUMNS``, no ``type``). Container ``archive_format``:
  ``zip`` (one member ``<uid>_bills_<year><quarter>.csv``; default *[unverified]*),
  ``gzip`` or ``csv``. Numbers ``archive_numbers``: ``plain`` (as the REST records) or
  ``statement`` (zero ``0E-8``/``0E-18``; balances, changes, pnl, fee, interest with 18
  decimals; sz and prices with 8; more when a value has more, never rounded).

Index candles (okx-api §3.1, §3.13): ``market/history-index-candles`` (public, 10 per
2 s per IP) serves bars of the generator's price paths, newest first, as arrays of strings
``[ts, o, h, l, c, confirm]``; ``instId`` required, ``bar`` default ``1m`` (``1m`` to
``4H``, ``6H``/``12H``/``1D``-``3D``/``1W`` aligned to Hong Kong time and their ``utc``
variants), ``after`` older / ``before`` newer than a ``ts`` (exclusive), ``limit`` up to
100; the bar still open has ``confirm`` "0". ``BTC-USD`` and ``ETH-USD`` exist;
``USDT-USD``/``USDC-USD`` with ``stablecoin_indexes=True`` only *[unverified: OKX's index
list]*; ``BTC-USDT`` and ``ETH-USDT`` (okx-api §3.13: USDT is an index quote currency);
``usdt_only_indexes`` takes currencies' ``-USD`` index away (a coin OKX indexes only
against USDT); any other index answers 51001 *[choice]*.

Rate limits (okx-api §3.1): per endpoint, sliding window counted on arrival; private per
account uid, public per client IP (instruments per IP + instType). Refused requests do
not count against the window *[choice, unverified]*. A breach answers
``{"code":"50011","msg":"Too Many Requests","data":[]}`` with HTTP 429 (or 200 with
``rate_limit_http_status=200``, OKX uses both). ``POST bills-history-archive`` is held to
both documented limits, 1 per 10 s and 12 per day *[choice: the stricter union]*;
``archive_daily_limit=False`` drops the 12 per day (the docs since 2026-06-11 give only
1 per 10 s).

Faults: ``sim.inject(Fault(...))`` queues faults matched by path prefix and consumed
``times`` times, checked before routing and auth: ``code`` (an OKX error with its HTTP
status), ``http`` (bare status with an HTML body, like a gateway), ``slow`` (delay, then
the normal answer), ``drop`` (read the request, close the connection without answering).
"""

from __future__ import annotations

import base64
import bisect
import calendar
import csv
import gzip
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import socket
import sys
import threading
import time
import zipfile
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

try:  # orjson comes with dlt; it serialises pages about 1.5x faster than json
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - fallback when orjson is absent
    _ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def _dumps(obj: Any) -> bytes:
        return _ENCODER.encode(obj).encode("utf-8")


__all__ = [
    "ERRORS",
    "RATE_LIMITS",
    "SITE_HOSTS",
    "RETENTION_MS",
    "Fault",
    "SimStats",
    "Simulator",
    "run_simulator",
]

_log = logging.getLogger(__name__)

DAY_MS = 86_400_000

#: Retention windows (ms) of the list endpoints, relative to the server's clock.
RETENTION_MS: dict[str, int] = {
    "/api/v5/trade/fills": 3 * DAY_MS,
    "/api/v5/account/bills": 7 * DAY_MS,
    "/api/v5/account/bills-archive": 90 * DAY_MS,
    "/api/v5/account/positions-history": 90 * DAY_MS,
    "/api/v5/public/funding-rate-history": 90 * DAY_MS,
    "/api/v5/asset/bills": 30 * DAY_MS,
}
#: ``trade/fills-history`` keeps ``Simulator(fills_retention_days=...)`` days (default 365)
FILLS_HISTORY = "/api/v5/trade/fills-history"
#: the oldest data of ``asset/bills-history`` and of the quarterly export: 2021-02-01 UTC
DATA_SINCE_MS = 1_612_137_600_000
#: a ``fileHref`` of the quarterly export is valid 5.5 h (simulator clock) after it is handed out
ARCHIVE_LINK_TTL_MS = 5 * 3_600_000 + 1_800_000
#: where the export files are served (no OKX auth; every request is logged in ``download_log``)
ARCHIVE_FILE_PATH = "/archive-files/"
#: the 28 columns of the export's CSV, in the documented order (okx-api §3.4); no ``type``
ARCHIVE_COLUMNS = (
    "instType", "billId", "subType", "ts", "balChg", "posBalChg", "bal", "posBal", "sz", "px",
    "ccy", "pnl", "fee", "mgnMode", "instId", "ordId", "execType", "interest", "tag", "fillTime",
    "tradeId", "clOrdId", "fillIdxPx", "fillMarkPx", "fillPxVol", "fillPxUsd", "fillMarkVol",
    "fillFwdPx",
)
#: ``archive_numbers="statement"``: decimals written per column (balances and money 18,
#: sizes and prices 8); every other column is written as in the REST records
ARCHIVE_STATEMENT_DP: dict[str, int] = {
    **dict.fromkeys(("balChg", "posBalChg", "bal", "posBal", "pnl", "fee", "interest"), 18),
    **dict.fromkeys(("sz", "px", "fillIdxPx", "fillMarkPx", "fillPxVol", "fillPxUsd",
                     "fillMarkVol", "fillFwdPx"), 8),
}

#: OKX's REST hosts (okx-api §1.5) → the site (``region``) a request to them asks.
SITE_HOSTS: dict[str, str] = {"www.okx.com": "global", "eea.okx.com": "eea", "us.okx.com": "us"}

#: Documented per-endpoint limits: (method, path) → ((requests, window seconds), ...).
RATE_LIMITS: dict[tuple[str, str], tuple[tuple[int, float], ...]] = {
    ("GET", "/api/v5/public/time"): ((10, 2.0),),
    ("GET", "/api/v5/public/instruments"): ((20, 2.0),),
    ("GET", "/api/v5/public/funding-rate-history"): ((10, 2.0),),
    ("GET", "/api/v5/market/history-index-candles"): ((10, 2.0),),
    ("GET", "/api/v5/account/config"): ((5, 2.0),),
    ("GET", "/api/v5/account/balance"): ((10, 2.0),),
    ("GET", "/api/v5/account/positions"): ((10, 2.0),),
    ("GET", "/api/v5/account/positions-history"): ((10, 2.0),),
    ("GET", "/api/v5/trade/fills"): ((60, 2.0),),
    ("GET", "/api/v5/trade/fills-history"): ((10, 2.0),),
    ("GET", "/api/v5/account/bills"): ((5, 1.0),),
    ("GET", "/api/v5/account/bills-archive"): ((5, 2.0),),
    ("POST", "/api/v5/account/bills-history-archive"): ((1, 10.0), (12, 86_400.0)),
    ("GET", "/api/v5/account/bills-history-archive"): ((10, 2.0),),
    ("GET", "/api/v5/asset/currencies"): ((6, 1.0),),
    ("GET", "/api/v5/asset/bills"): ((6, 1.0),),
    ("GET", "/api/v5/asset/bills-history"): ((1, 1.0),),
    ("GET", "/api/v5/asset/deposit-history"): ((6, 1.0),),
    ("GET", "/api/v5/asset/withdrawal-history"): ((6, 1.0),),
}

#: OKX error code → (HTTP status, message); ``{0}`` is filled in per request (okx-api §8).
ERRORS: dict[str, tuple[int, str]] = {
    "50001": (503, "Service temporarily unavailable. Please try again later."),
    "50004": (400, "API endpoint request timeout (does not mean that the request was "
                   "successful or failed, please check the request result)."),
    "50005": (410, "API is offline or unavailable."),
    "50011": (429, "Too Many Requests"),
    "50013": (429, "Systems are busy. Please try again later."),
    "50014": (400, "Parameter {0} can not be empty."),
    "50026": (500, "System error. Try again later."),
    "50030": (200, "No permission to use this API."),
    "50035": (403, "This endpoint requires that APIKey must be bound to IP."),
    "50101": (401, "APIKey does not match current environment."),
    "50102": (401, "Timestamp request expired."),
    "50103": (401, 'Request header "OK-ACCESS-KEY" can not be empty.'),
    "50104": (401, 'Request header "OK-ACCESS-PASSPHRASE" can not be empty.'),
    "50105": (401, 'Request header "OK-ACCESS-PASSPHRASE" incorrect.'),
    "50106": (401, 'Request header "OK-ACCESS-SIGN" can not be empty.'),
    "50107": (401, 'Request header "OK-ACCESS-TIMESTAMP" can not be empty.'),
    "50110": (401, "Your IP {0} is not included in your API key's IP whitelist."),
    "50111": (401, "Invalid OK-ACCESS-KEY."),
    "50112": (401, "Invalid OK-ACCESS-TIMESTAMP."),
    "50113": (401, "Invalid Sign."),
    "50114": (401, "Invalid authorization."),
    "50115": (405, "Invalid request method."),
    "50119": (200, "API key doesn't exist."),
    "50120": (200, "API key doesn't have permission to use this function."),
    "51000": (400, "Parameter {0} error."),
    "51001": (200, "Instrument ID does not exist."),
    "51604": (200, "Initiate a download request before obtaining the hyperlink."),
    "51606": (200, "Data for the current quarter is not available for download yet."),
    "51607": (200, "Your previous download request is still being processed."),
    "51608": (200, "No transaction data found for the selected quarter."),
}

INST_TYPES = frozenset({"SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "EVENTS"})
_TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_OK_PREFIX = b'{"code":"0","msg":"","data":'
_OK_SUFFIX = b"}"


# --------------------------------------------------------------------------- data shapes


class AccountLike(Protocol):
    """What the server reads of a ``generator.SimAccount`` (read-only view)."""

    @property
    def uid(self) -> str: ...
    @property
    def api_key(self) -> str: ...
    @property
    def secret(self) -> str: ...
    @property
    def passphrase(self) -> str: ...
    @property
    def perm(self) -> str: ...
    @property
    def ip(self) -> str: ...
    @property
    def demo(self) -> bool: ...
    @property
    def revoked(self) -> bool: ...
    @property
    def config(self) -> Mapping[str, Any]: ...
    @property
    def fills(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def bills(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def positions(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def positions_history(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def balance(self) -> Mapping[str, Any]: ...


class HistoryLike(Protocol):
    """What the server reads of a ``generator.History``."""

    @property
    def accounts(self) -> Sequence[AccountLike]: ...
    @property
    def instruments(self) -> Sequence[Mapping[str, Any]]: ...


@dataclass
class Fault:
    """One injected fault, consumed ``times`` times by requests whose path starts with ``path``.

    Attributes:
        kind: ``"code"`` answer with OKX error ``code`` (HTTP status from ``ERRORS`` unless
            ``http_status`` is given); ``"http"`` answer a bare ``http_status`` with an
            HTML body, as a gateway does; ``"slow"`` sleep ``delay`` seconds, then answer
            normally; ``"drop"`` close the connection without answering.
        path: path prefix such as ``"/api/v5/trade/fills"``; None matches every path.
        code: the OKX code for ``kind="code"`` (e.g. ``"50011"``, ``"50001"``).
        http_status: HTTP status for ``kind="http"``, or an override for ``kind="code"``.
        delay: seconds for ``kind="slow"``.
        times: how many matching requests the fault applies to.
        msg: message override for ``kind="code"``.
    """

    kind: Literal["code", "http", "slow", "drop"]
    path: str | None = None
    code: str | int | None = None
    http_status: int | None = None
    delay: float = 0.0
    times: int = 1
    msg: str | None = None


@dataclass
class SimStats:
    """What the server answered: requests per path, OKX codes sent, 50011 count."""

    requests: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    faults_applied: int = 0
    #: path → (first, last) arrival of its requests, ``time.monotonic()`` seconds
    times: dict[str, tuple[float, float]] = field(default_factory=dict)

    def reset(self) -> None:
        self.requests.clear()
        self.times.clear()
        self.codes.clear()
        self.rate_limited = 0
        self.faults_applied = 0


class _OkxError(Exception):
    def __init__(self, code: str, *args: str) -> None:
        super().__init__(code)
        self.code = code
        self.args_fmt = args


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"


# --------------------------------------------------------------------------- record index


class _Index:
    """Fills or bills sorted by ascending int ``billId``, with int ``ts`` alongside.

    Cursor and window lookups are ``bisect`` calls; a page is one ``dumps`` of up to 100
    records (~0.1 ms). Sub-indexes (one per filter combination, built on first use) hold
    positions into the base arrays. Records appended with larger billIds (``extend``,
    bursts) are picked up incrementally; any other change of the list rebuilds.
    """

    __slots__ = ("source", "n", "last", "ids", "ts", "records", "subs")

    def __init__(self, source: Sequence[Mapping[str, Any]]) -> None:
        self.source = source
        self.n = 0
        self.last: Mapping[str, Any] | None = None
        self.ids: list[int] = []
        self.ts: list[int] = []
        self.records: list[Mapping[str, Any]] = []
        self.subs: dict[tuple[tuple[str, str], ...], _Sub] = {}
        self.sync()

    def fresh(self) -> bool:
        n = len(self.source)
        return n == self.n and (n == 0 or self.source[n - 1] is self.last)

    def sync(self) -> None:
        """Bring the index up to date with its source list (append fast path or rebuild)."""
        src = self.source
        n = len(src)
        appended = (
            self.n > 0 and n > self.n and src[self.n - 1] is self.last
            and int(src[self.n]["billId"]) > self.ids[-1]
        )
        if appended:
            new = list(src[self.n:])
        else:
            new = list(src)
            self.ids, self.ts, self.records = [], [], []
        ids = [int(r["billId"]) for r in new]
        if any(b < a for a, b in zip(ids, ids[1:], strict=False)):  # unsorted: sort it
            pairs = sorted(zip(ids, range(len(new)), strict=True))
            new = [new[i] for _, i in pairs]
            ids = [p[0] for p in pairs]
        self.ids.extend(ids)
        self.ts.extend(int(r["ts"]) for r in new)
        self.records.extend(new)
        self.n = n
        self.last = src[n - 1] if n else None
        self.subs = {}

    def sub(self, filters: tuple[tuple[str, str], ...],
            match: Callable[[Mapping[str, Any]], bool] | None) -> _Sub:
        s = self.subs.get(filters)
        if s is None:
            if match is None:
                s = _Sub(None, self.ids, self.ts)
            else:
                pos = [i for i, r in enumerate(self.records) if match(r)]
                s = _Sub(pos, [self.ids[i] for i in pos], [self.ts[i] for i in pos])
            self.subs[filters] = s
        return s


class _Sub:
    __slots__ = ("pos", "ids", "ts", "ts_sorted")

    def __init__(self, pos: list[int] | None, ids: list[int], ts: list[int]) -> None:
        self.pos = pos
        self.ids = ids
        self.ts = ts
        self.ts_sorted = all(b >= a for a, b in zip(ts, ts[1:], strict=False))


# --------------------------------------------------------------------------- the server


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    sim: Simulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client goes away (timeouts, drops); log anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        _log.exception("simulator: error while answering %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler; every answer is written in one ``send`` with a length."""

    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sim._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        resp = self.server.sim._dispatch(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body,
            self.client_address[0],
        )
        if resp is None:  # "drop" fault: close without a byte of answer
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        phrase = HTTPStatus(resp.status).phrase if resp.status in HTTPStatus._value2member_map_ else ""
        head = (
            f"HTTP/1.1 {resp.status} {phrase}\r\n"
            f"Content-Type: {resp.content_type}\r\n"
            f"Content-Length: {len(resp.body)}\r\n"
            + ("Connection: close\r\n" if self.close_connection else "")
            + "\r\n"
        ).encode("latin-1")
        self.wfile.write(head + resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class Simulator:
    """A loopback HTTP server that behaves like OKX v5 REST over a ``History``.

    Use as a context manager or with ``start()``/``stop()``; ``url`` is the base URL to
    give a client. ``history`` may be mutated while the server runs (``extend``, bursts):
    do it under ``sim.lock`` (or between requests); fills/bills indexes notice appended
    records and rebuild lazily.

    Args:
        history: the account history (``generator.History`` or anything shaped like it).
        host, port: where to listen (port 0 picks a free one).
        rate_limits: enforce the documented per-endpoint limits.
        clock_offset_ms: the server's clock is the local clock plus this offset (to test
            clients that sync through ``/public/time``).
        region: the host this server stands for (``"global"``, ``"eea"``, ``"us"``); keys
            registered for another region in ``key_regions`` get 50119.
        timestamp_window_s: accepted distance between ``OK-ACCESS-TIMESTAMP`` and the
            server's clock.
        rate_limit_http_status: HTTP status sent with 50011 (OKX uses 429 and 200).
        before_semantics: what ``before`` alone returns: ``"adjacent"`` (the rows just
            newer than the cursor) or ``"newest"`` (the newest rows newer than it).
        fills_retention_days: how far back ``trade/fills-history`` serves (OKX's docs say
            3 months in older copies, 1 year since 2025; default 365, tests also use 90).
        archive_ready_after_s: seconds (simulator clock) from a quarterly-export apply
            until its file is ``finished`` (or ``failed``).
        archive_fail_quarters: quarters such as ``"2025Q3"`` whose first generation ends
            ``failed``; the next apply starts a generation that succeeds.
        archive_format: the download's container: ``"zip"`` (one CSV inside),
            ``"gzip"`` or ``"csv"`` (uncompressed).
        archive_numbers: ``"plain"`` (numbers as in the REST records) or ``"statement"``
            (zero as ``0E-8``/``0E-18``, other numbers with 8 or 18 fixed decimals).
        archive_boundary_overlap_ms: bills up to this many ms after a quarter's end are
            also written into that quarter's file (so they are in two files).
        archive_daily_limit: hold the apply POST to 12 / day besides 1 / 10 s (OKX's docs
            before 2026-06-11); False keeps only 1 / 10 s (the docs since).
        archive_busy_scope: when an apply answers 51607: ``"quarter"`` while the same
            quarter is still being generated, ``"account"`` while any quarter of the
            account is.
        stablecoin_indexes: whether ``market/history-index-candles`` lists ``USDT-USD``
            and ``USDC-USD`` (OKX's index list is not documented: both answers are tested);
            without them those instIds answer 51001 like any index OKX does not have.
        usdt_only_indexes: currencies whose ``<ccy>-USD`` index answers 51001 while
            ``<ccy>-USDT`` is served (OKX indexes some coins only against USDT).
    """

    def __init__(
        self,
        history: HistoryLike,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
        clock_offset_ms: int = 0,
        region: str = "global",
        timestamp_window_s: float = 30,
        rate_limit_http_status: int = 429,
        before_semantics: Literal["adjacent", "newest"] = "adjacent",
        fills_retention_days: int = 365,
        archive_ready_after_s: float = 0.5,
        archive_fail_quarters: Iterable[str] = (),
        archive_format: Literal["zip", "gzip", "csv"] = "zip",
        archive_numbers: Literal["plain", "statement"] = "plain",
        archive_boundary_overlap_ms: int = 0,
        archive_daily_limit: bool = True,
        archive_busy_scope: Literal["quarter", "account"] = "quarter",
        stablecoin_indexes: bool = False,
        usdt_only_indexes: Iterable[str] = (),
    ) -> None:
        self.history = history
        self.host = host
        self.port = port
        self.rate_limits = rate_limits
        self.clock_offset_ms = clock_offset_ms
        self.region = region
        self.timestamp_window_s = timestamp_window_s
        self.rate_limit_http_status = rate_limit_http_status
        self.before_semantics = before_semantics
        self.fills_retention_days = fills_retention_days
        self.archive_ready_after_s = archive_ready_after_s
        self.archive_fail_quarters = set(archive_fail_quarters)
        self.archive_format = archive_format
        self.archive_numbers = archive_numbers
        self.archive_boundary_overlap_ms = archive_boundary_overlap_ms
        self.archive_daily_limit = archive_daily_limit
        self.archive_busy_scope = archive_busy_scope
        self.stablecoin_indexes = stablecoin_indexes
        self.usdt_only_indexes = frozenset(usdt_only_indexes)
        self.archive_link_ttl_ms = ARCHIVE_LINK_TTL_MS
        #: one entry per request under ``ARCHIVE_FILE_PATH``: ``path``, ``token``,
        #: ``status``, ``headers`` (all, lower case) and ``okx_headers`` (the names of the
        #: ``ok-access-*`` headers it carried; the file host needs none)
        self.download_log: list[dict[str, Any]] = []
        self._archives: dict[tuple[str, str, str, str], _Archive] = {}
        self._archive_failed: set[tuple[str, str, str, str]] = set()
        self._archive_links: dict[str, tuple[tuple[str, str, str, str], int]] = {}
        self.key_regions: dict[str, str] = {}
        self.stats = SimStats()
        self.lock = threading.RLock()
        self._faults: list[Fault] = []
        self._rl: dict[tuple[Any, ...], deque[float]] = {}
        self._rl_lock = threading.Lock()
        self._indexes: dict[tuple[int, str], _Index] = {}
        self._ph_sorted: dict[
            int, tuple[tuple[int, int, int], list[Mapping[str, Any]], list[int]]
        ] = {}
        self._inst_cache: tuple[int, int, dict[str, Mapping[str, Any]]] | None = None
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> Simulator:
        """Index every account's fills and bills by billId and start serving."""
        with self.lock:
            for acc in self.history.accounts:
                self._index(acc, "fills")
                self._index(acc, "bills")
        server = _HTTPServer((self.host, self.port), _Handler)
        server.sim = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1},
            name="okx-simulator", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open keep-alive connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # ----------------------------------------------------------------- controls

    def now_ms(self) -> int:
        """The server's clock in ms: local clock + ``clock_offset_ms``."""
        return int(time.time() * 1000) + self.clock_offset_ms

    def inject(self, fault: Fault) -> None:
        """Queue a fault; faults are matched in the order injected."""
        with self._rl_lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._rl_lock:
            self._faults.clear()

    def reset_rate_limits(self) -> None:
        with self._rl_lock:
            self._rl.clear()

    def retention_ms(self, path: str) -> int:
        """How far back (ms before the server's clock) a list endpoint serves."""
        if path == FILLS_HISTORY:
            return self.fills_retention_days * DAY_MS
        return RETENTION_MS[path]

    def invalidate(self) -> None:
        """Forget every index (after editing records in place rather than appending)."""
        with self.lock:
            self._indexes.clear()
            self._inst_cache = None
            self._ph_sorted.clear()

    def _positions_history_sorted(
        self, account: AccountLike
    ) -> tuple[list[Mapping[str, Any]], list[int]]:
        """Positions history ordered by (uTime, posId), rebuilt when rows are added.

        Call with ``self.lock`` held. Sorting once per change, not per page, keeps a
        page in the millisecond range for accounts with tens of thousands of positions.
        """
        source = account.positions_history
        key = (id(account), id(source), len(source))
        cached = self._ph_sorted.get(id(account))
        if cached is None or cached[0] != key:
            ordered = sorted(source, key=lambda r: (int(r.get("uTime") or 0), int(r.get("posId") or 0)))
            cached = (key, ordered, [int(r.get("uTime") or 0) for r in ordered])
            self._ph_sorted[id(account)] = cached
        return cached[1], cached[2]

    # ----------------------------------------------------------------- dispatch

    def _dispatch(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes, client_ip: str
    ) -> _Response | None:
        """Answer one request (``headers`` keyed in lower case); None means "drop"."""
        path = urlsplit(raw_path).path
        with self._rl_lock:
            self.stats.requests[path] += 1
            now = time.monotonic()
            self.stats.times[path] = (self.stats.times.get(path, (now, now))[0], now)
        fault = self._take_fault(path)
        if fault is not None:
            with self._rl_lock:
                self.stats.faults_applied += 1
            if fault.kind == "drop":
                return None
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "http":
                status = fault.http_status or 503
                phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
                html = (f"<html><head><title>{status} {phrase}</title></head><body>"
                        f"<center><h1>{status} {phrase}</h1></center></body></html>")
                return _Response(status, html.encode(), "text/html")
            else:
                code = str(fault.code or "50001")
                status, msg = ERRORS.get(code, (200, "Simulated error."))
                if code == "50011":
                    status = self.rate_limit_http_status
                    with self._rl_lock:
                        self.stats.rate_limited += 1
                arg = client_ip if code == "50110" else path
                return self._error(code, fault.msg or msg.format(arg),
                                   fault.http_status or status)
        if path.startswith(ARCHIVE_FILE_PATH):
            return self._download(method, path, headers)
        try:
            route = _ROUTES.get(path)
            if route is None:
                return self._error("50005", "API endpoint doesn't exist.", 404)
            handler_by_method, private = route
            handler = handler_by_method.get(method)
            if handler is None:
                raise _OkxError("50115")
            account = None
            if private:
                account = self._authenticate(method, raw_path, headers, body, client_ip)
            params = {k: v for k, v in parse_qsl(urlsplit(raw_path).query,
                                                 keep_blank_values=True) if v != ""}
            if self.rate_limits:
                self._check_rate(method, path, account, client_ip, params)
            data = handler(self, account, params, body, path)
        except _OkxError as e:
            status, msg = ERRORS.get(e.code, (200, "Simulated error."))
            if e.code == "50011":
                status = self.rate_limit_http_status
            return self._error(e.code, msg.format(*e.args_fmt) if e.args_fmt else msg, status)
        with self._rl_lock:
            self.stats.codes["0"] += 1
        return _Response(200, _OK_PREFIX + data + _OK_SUFFIX)

    def _download(self, method: str, path: str, headers: Mapping[str, str]) -> _Response:
        """A quarterly-export file under ``ARCHIVE_FILE_PATH`` (no OKX auth, logged).

        An unknown or expired link answers HTTP 403 with an S3-style XML error *[choice:
        OKX's file host is not documented; signed object-store links answer 403]*.
        """
        token = path[len(ARCHIVE_FILE_PATH):]
        entry: dict[str, Any] = {
            "path": path, "token": token, "headers": dict(headers),
            "okx_headers": sorted(h for h in headers if h.lower().startswith("ok-access-")),
        }
        with self.lock:
            self.download_log.append(entry)
            link = self._archive_links.get(token)
            if method != "GET":
                entry["status"] = 405
                return _Response(405, b"Method Not Allowed", "text/plain")
            if link is None or self.now_ms() >= link[1]:
                entry["status"] = 403
                return _Response(403, b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
                                 b"AccessDenied</Code><Message>Request has expired</Message>"
                                 b"</Error>", "application/xml")
            (uid, year, quarter, types) = link[0]
            acc = next(a for a in self.history.accounts if a.uid == uid)
            rows = self.archive_rows(acc, int(year), int(quarter[1]),
                                     set(types.split(",")) if types else None)
        data = archive_csv(rows, self.archive_numbers)
        name = f"{uid}_bills_{year}{quarter}.csv"
        entry["status"] = 200
        if self.archive_format == "csv":
            return _Response(200, data, "text/csv")
        if self.archive_format == "gzip":
            return _Response(200, gzip.compress(data, mtime=0), "application/gzip")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(zipfile.ZipInfo(name, date_time=(int(year), 1, 1, 0, 0, 0)), data,
                       compress_type=zipfile.ZIP_DEFLATED)
        return _Response(200, buf.getvalue(), "application/zip")

    def archive_rows(self, account: AccountLike, year: int, quarter: int,
                     types: set[str] | None = None) -> list[Mapping[str, Any]]:
        """The trading-account bills of a quarter's export, in reverse ``billId`` order:
        ``ts`` in ``[quarter start, next quarter start + archive_boundary_overlap_ms)``."""
        start, end = quarter_bounds(year, quarter)
        end += self.archive_boundary_overlap_ms
        rows = [b for b in account.bills if start <= int(b["ts"]) < end
                and (types is None or str(b.get("type")) in types)]
        rows.sort(key=lambda b: int(b["billId"]), reverse=True)
        return rows

    def _error(self, code: str, msg: str, status: int) -> _Response:
        with self._rl_lock:
            self.stats.codes[code] += 1
        return _Response(status, _dumps({"code": code, "msg": msg, "data": []}))

    def _take_fault(self, path: str) -> Fault | None:
        if not self._faults:
            return None
        with self._rl_lock:
            for f in self._faults:
                if f.path is None or path.startswith(f.path):
                    f.times -= 1
                    if f.times <= 0:
                        self._faults.remove(f)
                    return f
        return None

    def _check_rate(self, method: str, path: str, account: AccountLike | None,
                    client_ip: str, params: Mapping[str, str]) -> None:
        limits = RATE_LIMITS.get((method, path))
        if not limits:
            return
        if not self.archive_daily_limit and path == "/api/v5/account/bills-history-archive":
            limits = tuple(lim for lim in limits if lim[1] < 86_400)
        if account is not None:
            who: tuple[str, ...] = ("uid", account.uid)
        elif path == "/api/v5/public/instruments":
            who = ("ip", client_ip, params.get("instType", ""))
        elif path == "/api/v5/public/funding-rate-history":
            who = ("ip", client_ip, params.get("instId", ""))
        else:
            who = ("ip", client_ip)
        now = time.monotonic()
        with self._rl_lock:
            queues = []
            for n, window in limits:
                q = self._rl.setdefault((method, path, window, *who), deque())
                while q and q[0] <= now - window:
                    q.popleft()
                if len(q) >= n:
                    self.stats.rate_limited += 1
                    raise _OkxError("50011")
                queues.append(q)
            for q in queues:
                q.append(now)

    # ----------------------------------------------------------------- auth

    def _authenticate(self, method: str, raw_path: str, headers: Mapping[str, str],
                      body: bytes, client_ip: str) -> AccountLike:
        key = headers.get("ok-access-key") or ""
        sign = headers.get("ok-access-sign") or ""
        ts = headers.get("ok-access-timestamp") or ""
        passphrase = headers.get("ok-access-passphrase") or ""
        if not key:
            raise _OkxError("50103")
        if not sign:
            raise _OkxError("50106")
        if not ts:
            raise _OkxError("50107")
        if not passphrase:
            raise _OkxError("50104")
        m = _TS_RE.match(ts)
        if m is None:
            raise _OkxError("50112")
        y, mo, d, hh, mi, ss, ms = (int(g) for g in m.groups())
        try:
            ts_ms = calendar.timegm((y, mo, d, hh, mi, ss, 0, 0, 0)) * 1000 + ms
        except (ValueError, OverflowError) as e:  # pragma: no cover - regex guards shape
            raise _OkxError("50112") from e
        if not (1 <= mo <= 12 and 1 <= d <= 31 and hh < 24 and mi < 60 and ss < 61):
            raise _OkxError("50112")
        if abs(self.now_ms() - ts_ms) > self.timestamp_window_s * 1000:
            raise _OkxError("50102")
        account = None
        for acc in self.history.accounts:
            if acc.api_key == key:
                account = acc
                break
        if account is None:
            raise _OkxError("50119" if _UUID_RE.match(key) else "50111")
        if account.revoked:
            raise _OkxError("50119")
        key_region = self.key_regions.get(key) or getattr(account, "region", None) or "global"
        host = (headers.get("host") or "").rsplit(":", 1)[0].lower()
        if key_region != SITE_HOSTS.get(host, self.region):
            raise _OkxError("50119")
        demo_header = (headers.get("x-simulated-trading") or "").strip()
        if account.demo != (demo_header == "1"):
            raise _OkxError("50101")
        if not hmac.compare_digest(passphrase.encode(), account.passphrase.encode()):
            raise _OkxError("50105")
        prehash = ts.encode() + method.encode() + raw_path.encode("latin-1") + body
        expected = base64.b64encode(
            hmac.new(account.secret.encode(), prehash, hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, sign):
            raise _OkxError("50113")
        if account.ip:
            allowed = {a.strip() for a in account.ip.split(",") if a.strip()}
            if client_ip not in allowed:
                raise _OkxError("50110", client_ip)
        if "read_only" not in {p.strip() for p in account.perm.split(",")}:
            raise _OkxError("50120")
        return account

    # ----------------------------------------------------------------- data helpers

    def _index(self, account: AccountLike, name: str) -> _Index:
        """The fills/bills index of ``account``, synced with its list (call under lock)."""
        src: Sequence[Mapping[str, Any]] = getattr(account, name)
        key = (id(account), name)
        idx = self._indexes.get(key)
        if idx is None or idx.source is not src:
            idx = _Index(src)
            self._indexes[key] = idx
        elif not idx.fresh():
            idx.sync()
        return idx

    def _instruments_by_id(self) -> dict[str, Mapping[str, Any]]:
        insts = self.history.instruments
        c = self._inst_cache
        if c is None or c[0] != id(insts) or c[1] != len(insts):
            c = (id(insts), len(insts), {str(i.get("instId")): i for i in insts})
            self._inst_cache = c
        return c[2]

    def _inst_attr(self, inst_id: str, attr: str) -> str:
        inst = self._instruments_by_id().get(inst_id)
        if inst is not None and inst.get(attr):
            return str(inst[attr])
        if attr in ("instFamily", "uly"):  # derive: BTC-USDT-SWAP → BTC-USDT
            parts = inst_id.split("-")
            return "-".join(parts[:2]) if len(parts) > 2 else ""
        return ""

    def _page(self, account: AccountLike, name: str, path: str,
              params: Mapping[str, str], filter_fields: Sequence[str]) -> bytes:
        """Serve one newest-first page of fills or bills (billId cursors, ts window)."""
        limit = _limit(params)
        after = _int_param(params, "after")
        before = _int_param(params, "before")
        begin = _int_param(params, "begin")
        end = _int_param(params, "end")
        inst_type = params.get("instType")
        if inst_type is not None and inst_type not in INST_TYPES:
            raise _OkxError("51000", "instType")
        filters = tuple((f, params[f]) for f in filter_fields if f in params)
        lo_ts = self.now_ms() - self.retention_ms(path)
        if begin is not None:
            lo_ts = max(lo_ts, begin)
        with self.lock:
            idx = self._index(account, name)
            sub = idx.sub(filters, self._matcher(filters) if filters else None)
            ids, tss = sub.ids, sub.ts
            lo, hi = 0, len(ids)
            if after is not None:
                hi = bisect.bisect_left(ids, after)
            if before is not None:
                lo = bisect.bisect_right(ids, before)
            adjacent = (before is not None and after is None
                        and self.before_semantics == "adjacent")
            chosen: Sequence[int]
            if sub.ts_sorted:
                lo = max(lo, bisect.bisect_left(tss, lo_ts))
                if end is not None:
                    hi = min(hi, bisect.bisect_right(tss, end))
                chosen = range(lo, min(hi, lo + limit)) if adjacent else range(max(lo, hi - limit), hi)
            else:  # ts not monotonic in billId: scan from the cursor end, stop at limit
                walk = range(lo, hi) if adjacent else range(hi - 1, lo - 1, -1)
                picked = []
                for i in walk:
                    if tss[i] >= lo_ts and (end is None or tss[i] <= end):
                        picked.append(i)
                        if len(picked) == limit:
                            break
                chosen = picked if adjacent else picked[::-1]
            recs = idx.records
            pos = sub.pos
            if pos is None:
                page = [recs[i] for i in reversed(chosen)]
            else:
                page = [recs[pos[i]] for i in reversed(chosen)]
            # one dumps call per page: ~0.1 ms for 100 fills, and no cache to keep in memory
            return _dumps(page)

    def _matcher(self, filters: tuple[tuple[str, str], ...]) -> Callable[[Mapping[str, Any]], bool]:
        derived = {"instFamily", "uly", "ctType"}
        simple = [(f, v) for f, v in filters if f not in derived]
        special = [(f, v) for f, v in filters if f in derived]

        def match(r: Mapping[str, Any]) -> bool:
            for f, v in simple:
                if r.get(f) != v:
                    return False
            for f, v in special:
                attr = "instFamily" if f == "uly" else f
                if self._inst_attr(str(r.get("instId", "")), attr) != v:
                    return False
            return True

        return match


# --------------------------------------------------------------------------- parameters


def _int_param(params: Mapping[str, str], name: str) -> int | None:
    v = params.get(name)
    if v is None:
        return None
    try:
        return int(v)
    except ValueError as e:
        raise _OkxError("51000", name) from e


def _limit(params: Mapping[str, str], maximum: int = 100) -> int:
    """``limit``: default and cap ``maximum`` (100 on the account endpoints)."""
    n = _int_param(params, "limit")
    if n is None:
        return maximum
    if n < 1:
        raise _OkxError("51000", "limit")
    return min(n, maximum)


def _csv(params: Mapping[str, str], name: str) -> set[str] | None:
    v = params.get(name)
    return None if v is None else {x.strip() for x in v.split(",") if x.strip()}


def _json_list(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return _dumps(list(rows))


# --------------------------------------------------------------------------- endpoints
# Each handler returns the JSON text of the ``data`` array.


def _h_time(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
            path: str) -> bytes:
    return _dumps([{"ts": str(sim.now_ms())}])


def _h_instruments(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
                   path: str) -> bytes:
    """``/public/instruments``: instType required; OPTION needs instFamily or uly; live only."""
    inst_type = p.get("instType")
    if inst_type is None:
        raise _OkxError("50014", "instType")
    if inst_type not in INST_TYPES:
        raise _OkxError("51000", "instType")
    family = p.get("instFamily")
    uly = p.get("uly")
    if inst_type == "OPTION" and family is None and uly is None:
        raise _OkxError("50014", "instFamily")
    inst_id = p.get("instId")
    now = sim.now_ms()
    rows = []
    with sim.lock:
        for i in sim.history.instruments:
            if i.get("instType") != inst_type:
                continue
            if inst_id is not None and i.get("instId") != inst_id:
                continue
            if family is not None and i.get("instFamily") != family:
                continue
            if uly is not None and i.get("uly") != uly:
                continue
            exp = i.get("expTime") or ""
            if exp and int(exp) <= now:
                continue  # expired/delivered instruments vanish (okx-api §0.9)
            rows.append(i)
        return _json_list(rows)


def _h_funding_rate_history(sim: Simulator, acc: AccountLike | None, p: dict[str, str],
                           body: bytes, path: str) -> bytes:
    """``/public/funding-rate-history``: one SWAP (``instId`` required), 3 months, newest
    first; ``after``/``before`` by ``fundingTime``; ``limit`` up to 400 (default 400)."""
    inst_id = p.get("instId")
    if not inst_id:
        raise _OkxError("50014", "instId")
    limit = _limit(p, maximum=400)
    after = _int_param(p, "after")
    before = _int_param(p, "before")
    now = sim.now_ms()
    hi = now if after is None else min(now, after - 1)
    lo = now - RETENTION_MS[path] if before is None else max(
        now - RETENTION_MS[path], before + 1)
    fn = getattr(sim.history, "funding_rate_history", None)
    rows = fn(inst_id, lo, hi) if fn is not None else None
    if rows is None:
        raise _OkxError("51001")
    return _json_list(reversed(rows[-limit:]))


#: ``bar`` → (length ms, alignment offset ms): Hong Kong time (UTC+8) for the 6H and longer
#: bars without ``utc``; weeks start on Monday (okx-api §3.13)
_HOUR_MS = 3_600_000
_BARS: dict[str, tuple[int, int]] = {
    **{f"{n}m": (n * 60_000, 0) for n in (1, 3, 5, 15, 30)},
    **{f"{n}H": (n * _HOUR_MS, 0) for n in (1, 2, 4)},
    **{f"{n}H": (n * _HOUR_MS, -8 * _HOUR_MS) for n in (6, 12)},
    **{f"{n}Hutc": (n * _HOUR_MS, 0) for n in (6, 12)},
    **{f"{n}D": (n * DAY_MS, -8 * _HOUR_MS) for n in (1, 2, 3)},
    **{f"{n}Dutc": (n * DAY_MS, 0) for n in (1, 2, 3)},
    "1W": (7 * DAY_MS, 4 * DAY_MS - 8 * _HOUR_MS),
    "1Wutc": (7 * DAY_MS, 4 * DAY_MS),
}


def _h_index_candles(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
                     path: str) -> bytes:
    """``/market/history-index-candles`` (okx-api §3.1, §3.13): ``instId`` required (an
    index such as ``BTC-USD``), ``bar`` (default ``1m``), ``after`` (bars older than
    this ``ts``), ``before`` (newer), ``limit`` up to 100 (default 100). Bars newest first
    as arrays of strings ``[ts, o, h, l, c, confirm]``; the newest ``limit`` bars of what
    the cursors leave (``before`` alone: the latest). An index the market does not have
    answers 51001 *[choice: as for an unknown instrument]*; monthly bars are not served
    (51000) *[choice]*.
    """
    inst_id = p.get("instId")
    if not inst_id:
        raise _OkxError("50014", "instId")
    bar = _BARS.get(p.get("bar", "1m"))
    if bar is None:
        raise _OkxError("51000", "bar")
    limit = _limit(p)
    after = _int_param(p, "after")
    before = _int_param(p, "before")
    now = sim.now_ms()
    length, offset = bar
    hi = now if after is None else min(now, after - 1)
    # the newest ``limit`` bars: never walk further back than that from ``hi``
    lo = hi - limit * length if before is None else max(before + 1, hi - limit * length)
    fn = getattr(sim.history, "index_candles", None)
    with sim.lock:
        rows = (fn(inst_id, length, offset, lo, hi, now, stablecoins=sim.stablecoin_indexes,
                   usdt_only=sim.usdt_only_indexes)
                if fn is not None else None)
    if rows is None:
        raise _OkxError("51001")
    return _dumps(list(reversed(rows[-limit:])))


def _h_currencies(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
                  path: str) -> bytes:
    """``/asset/currencies`` (minimal, one chain per currency): what ccxt's load_markets asks."""
    ccys: set[str] = set()
    with sim.lock:
        for i in sim.history.instruments:
            for f in ("baseCcy", "quoteCcy", "settleCcy"):
                if i.get(f):
                    ccys.add(str(i[f]))
        if acc is not None:
            for d in acc.balance.get("details", []) or []:
                if d.get("ccy"):
                    ccys.add(str(d["ccy"]))
    wanted = _csv(p, "ccy")
    rows = [
        {"canDep": True, "canInternal": True, "canWd": True, "ccy": c, "chain": f"{c}-{c}",
         "depQuotaFixed": "", "depQuoteDailyLayer2": "", "logoLink": "", "mainNet": True,
         "maxFee": "0", "maxFeeForCtAddr": "", "maxWd": "1000000", "minDep": "0.00000001",
         "minDepArrivalConfirm": "1", "minFee": "0", "minFeeForCtAddr": "", "minWd": "0.0001",
         "minWdUnlockConfirm": "1", "name": c, "needTag": False, "usedDepQuotaFixed": "",
         "usedWdQuota": "0", "wdQuota": "10000000", "wdTickSz": "8"}
        for c in sorted(ccys) if wanted is None or c in wanted
    ]
    return _json_list(rows)


def _h_config(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
              path: str) -> bytes:
    assert acc is not None
    with sim.lock:
        cfg = dict(acc.config)
    cfg.update({"uid": acc.uid, "perm": acc.perm, "ip": acc.ip})
    cfg.setdefault("mainUid", acc.uid)
    return _dumps([cfg])


def _h_balance(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
               path: str) -> bytes:
    """``/account/balance``: one account object; ``ccy`` (≤ 20, comma-separated) filters details."""
    assert acc is not None
    wanted = _csv(p, "ccy")
    if wanted is not None and len(wanted) > 20:
        raise _OkxError("51000", "ccy")
    with sim.lock:
        bal = dict(acc.balance)
        if wanted is not None:
            bal["details"] = [d for d in bal.get("details", []) if d.get("ccy") in wanted]
        return _dumps([bal])


def _h_positions(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
                 path: str) -> bytes:
    """``/account/positions``: instType/instId/posId filters, reverse ``cTime`` order."""
    assert acc is not None
    inst_type = p.get("instType")
    if inst_type is not None and inst_type not in {"MARGIN", "SWAP", "FUTURES", "OPTION"}:
        raise _OkxError("51000", "instType")
    inst_ids = _csv(p, "instId")
    if inst_ids is not None and len(inst_ids) > 10:
        raise _OkxError("51000", "instId")
    pos_ids = _csv(p, "posId")
    if pos_ids is not None and len(pos_ids) > 20:
        raise _OkxError("51000", "posId")
    with sim.lock:
        rows = [r for r in acc.positions
                if (inst_type is None or r.get("instType") == inst_type)
                and (inst_ids is None or r.get("instId") in inst_ids)
                and (pos_ids is None or r.get("posId") in pos_ids)]
        rows.sort(key=lambda r: int(r.get("cTime") or 0), reverse=True)
        return _json_list(rows)


def _h_positions_history(sim: Simulator, acc: AccountLike | None, p: dict[str, str],
                         body: bytes, path: str) -> bytes:
    """``/account/positions-history``: uTime cursors; boundary-uTime rows kept together.

    Ties on ``uTime`` are ordered by ``posId`` descending *[choice: OKX's order within
    one uTime is not documented; the boundary rule makes it irrelevant to a cursor walk]*.
    """
    assert acc is not None
    limit = _limit(p)
    after = _int_param(p, "after")
    before = _int_param(p, "before")
    inst_type = p.get("instType")
    if inst_type is not None and inst_type not in {"MARGIN", "SWAP", "FUTURES", "OPTION", "EVENTS"}:
        raise _OkxError("51000", "instType")
    flt = [(f, p[f]) for f in ("instType", "instId", "mgnMode", "type", "posId") if f in p]
    lo_ts = sim.now_ms() - RETENTION_MS[path]
    with sim.lock:
        ordered, ordered_keys = sim._positions_history_sorted(acc)
        first = bisect.bisect_left(ordered_keys, lo_ts)
        if flt:
            rows = [r for r in ordered[first:] if all(r.get(f) == v for f, v in flt)]
            keys = [int(r.get("uTime") or 0) for r in rows]
        else:
            rows, keys = ordered[first:], ordered_keys[first:]
        return _json_list(_ts_page(rows, keys, after, before, limit,
                                   sim.before_semantics == "adjacent"))


_FILL_FILTERS = ("instType", "instFamily", "uly", "instId", "ordId", "subType")
_BILL_FILTERS = ("instType", "instId", "ccy", "mgnMode", "ctType", "type", "subType")


def _h_fills(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
             path: str) -> bytes:
    """``/trade/fills`` (3 days) and ``/trade/fills-history`` (90 days, instType required)."""
    assert acc is not None
    if path.endswith("fills-history") and "instType" not in p:
        raise _OkxError("50014", "instType")
    return sim._page(acc, "fills", path, p, _FILL_FILTERS)


def _h_bills(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
             path: str) -> bytes:
    """``/account/bills`` (7 days) and ``/account/bills-archive`` (90 days)."""
    assert acc is not None
    return sim._page(acc, "bills", path, p, _BILL_FILTERS)


def _quarter_params(p: Mapping[str, Any]) -> tuple[str, str, str]:
    """(year, quarter, type filter) of a quarterly-export request (body or query)."""
    year, quarter = p.get("year"), p.get("quarter")
    if not year:
        raise _OkxError("50014", "year")
    if not quarter:
        raise _OkxError("50014", "quarter")
    if not str(year).isdigit() or len(str(year)) != 4:
        raise _OkxError("51000", "year")
    if quarter not in ("Q1", "Q2", "Q3", "Q4"):
        raise _OkxError("51000", "quarter")
    types = p.get("type") or ""
    if not isinstance(types, str) or not all(t.strip().isdigit() for t in types.split(",") if t):
        raise _OkxError("51000", "type")
    return str(year), str(quarter), ",".join(sorted({t.strip() for t in types.split(",") if t}))


def quarter_bounds(year: int, quarter: int) -> tuple[int, int]:
    """``[start, next start)`` of a calendar quarter in UTC ms."""
    start = calendar.timegm((year, 3 * quarter - 2, 1, 0, 0, 0, 0, 0, 0)) * 1000
    ny, nq = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return start, calendar.timegm((ny, 3 * nq - 2, 1, 0, 0, 0, 0, 0, 0)) * 1000


def _quarter_of(ms: int) -> tuple[int, int]:
    t = time.gmtime(ms / 1000)
    return t.tm_year, (t.tm_mon - 1) // 3 + 1


@dataclass
class _Archive:
    """One generation of a quarter's export file (simulator-clock ms)."""

    requested_ms: int
    ready_ms: int
    fails: bool

    def state(self, now: int) -> str:
        if now < self.ready_ms:
            return "ongoing"
        return "failed" if self.fails else "finished"


def _archive_body(p: bytes) -> dict[str, Any]:
    try:
        req = json.loads(p or b"{}")
    except ValueError as e:
        raise _OkxError("51000", "body") from e
    if not isinstance(req, dict):
        raise _OkxError("51000", "body")
    return req


def _h_archive_apply(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
                     path: str) -> bytes:
    """POST ``bills-history-archive``: start a generation (``"false"``) or ``"true"`` if the
    file exists; 51606 current (or future) quarter, 51608 no data, 51607 busy."""
    assert acc is not None
    year, quarter, types = _quarter_params(_archive_body(body))
    y, qn = int(year), int(quarter[1])
    start, end = quarter_bounds(y, qn)
    now = sim.now_ms()
    if (y, qn) >= _quarter_of(now):
        raise _OkxError("51606")
    with sim.lock:
        first = min((int(b["ts"]) for b in acc.bills), default=None)
        if end <= DATA_SINCE_MS or first is None or end <= first:
            raise _OkxError("51608")
        key = (acc.uid, year, quarter, types)
        entry = sim._archives.get(key)
        busy = ([entry] if entry is not None else []) if sim.archive_busy_scope == "quarter" else [
            e for k, e in sim._archives.items() if k[0] == acc.uid]
        if any(e.state(now) == "ongoing" for e in busy):
            raise _OkxError("51607")
        if entry is not None and entry.state(now) == "finished":
            return _dumps([{"result": "true", "ts": str(now)}])
        fails = f"{year}{quarter}" in sim.archive_fail_quarters and key not in sim._archive_failed
        if fails:
            sim._archive_failed.add(key)
        sim._archives[key] = _Archive(now, now + int(sim.archive_ready_after_s * 1000), fails)
    return _dumps([{"result": "false", "ts": str(now)}])


def _h_archive_get(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
                   path: str) -> bytes:
    """GET ``bills-history-archive``: the state of the quarter's file and, once finished,
    a fresh download link (valid ``archive_link_ttl_ms``); 51604 before any apply."""
    assert acc is not None
    year, quarter, types = _quarter_params(p)
    key = (acc.uid, year, quarter, types)
    now = sim.now_ms()
    with sim.lock:
        entry = sim._archives.get(key)
        if entry is None:
            raise _OkxError("51604")
        state = entry.state(now)
        href = ""
        if state == "finished":
            token = secrets.token_urlsafe(18)
            sim._archive_links[token] = (key, now + sim.archive_link_ttl_ms)
            href = f"{sim.url}{ARCHIVE_FILE_PATH}{token}"
        ts = entry.requested_ms if state == "ongoing" else entry.ready_ms
    return _dumps([{"fileHref": href, "state": state, "ts": str(ts)}])


def _statement_number(v: str, dp: int) -> str:
    """A number as OKX's statements write it: zero ``0E-<dp>``, else ``dp`` fixed decimals
    (more when the value has more, so the value never changes)."""
    if v == "":
        return v
    with localcontext() as ctx:
        ctx.prec = 80
        d = Decimal(v)
        if d == 0:
            return f"0E-{dp}"
        exp = d.normalize().as_tuple().exponent
        places = max(dp, -exp if isinstance(exp, int) else 0)
        return format(d.quantize(Decimal(1).scaleb(-places)), "f")


def archive_csv(bills: Iterable[Mapping[str, Any]], numbers: str = "plain") -> bytes:
    """The export's CSV of ``bills`` (already chosen and ordered): header + one row each."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ARCHIVE_COLUMNS)
    statement = numbers == "statement"
    for b in bills:
        row = []
        for col in ARCHIVE_COLUMNS:
            v = str(b.get(col, "") if b.get(col) is not None else "")
            dp = ARCHIVE_STATEMENT_DP.get(col)
            row.append(_statement_number(v, dp) if statement and dp is not None else v)
        w.writerow(row)
    return buf.getvalue().encode("utf-8")


def _ts_page(rows: Sequence[Mapping[str, Any]], keys: Sequence[int], after: int | None,
             before: int | None, limit: int, adjacent: bool) -> list[Mapping[str, Any]]:
    """Newest-first page of ``rows`` (ascending by ``keys``) for ``after``/``before``
    cursors; every row sharing the page's boundary key comes with it (so nothing is
    skipped by a strict ``after``/``before`` on a key several rows share)."""
    lo, hi = 0, len(rows)
    if after is not None:
        hi = bisect.bisect_left(keys, after)
    if before is not None:
        lo = max(lo, bisect.bisect_right(keys, before))
    if hi <= lo:
        return []
    if before is not None and after is None and adjacent:
        stop = min(hi, lo + limit)
        while stop < hi and keys[stop] == keys[stop - 1]:
            stop += 1
        chosen = rows[lo:stop]
    else:
        start = max(lo, hi - limit)
        while start > lo and keys[start - 1] == keys[start]:
            start -= 1
        chosen = rows[start:hi]
    return list(reversed(chosen))


def _records(acc: AccountLike | None, name: str) -> Sequence[Mapping[str, Any]]:
    assert acc is not None
    rows: Sequence[Mapping[str, Any]] = getattr(acc, name, None) or []
    return rows


def _h_asset_bills(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
                   path: str) -> bytes:
    """``/asset/bills`` (past 30 days) and ``/asset/bills-history`` (since 2021-02-01):
    the funding account's ledger, newest first; ``ccy``, ``type``, ``clientId`` filters;
    ``after``/``before`` are ``ts`` cursors, or ``billId`` ones with ``pagingType=2``
    (bills-history only); ``begin``/``end`` filter ``ts`` (inclusive)."""
    limit = _limit(p)
    after, before = _int_param(p, "after"), _int_param(p, "before")
    begin, end = _int_param(p, "begin"), _int_param(p, "end")
    by_id = False
    if path.endswith("bills-history"):
        paging = p.get("pagingType", "1")
        if paging not in ("1", "2"):
            raise _OkxError("51000", "pagingType")
        by_id = paging == "2"
        lo_ts = DATA_SINCE_MS
    else:
        lo_ts = sim.now_ms() - RETENTION_MS[path]
    if begin is not None:
        lo_ts = max(lo_ts, begin)
    flt = [(f, p[f]) for f in ("ccy", "type", "clientId") if f in p]
    with sim.lock:
        rows = [r for r in _records(acc, "funding_bills")
                if lo_ts <= int(r["ts"]) and (end is None or int(r["ts"]) <= end)
                and all(r.get(f) == v for f, v in flt)]
    field_ = "billId" if by_id else "ts"
    rows.sort(key=lambda r: (int(r[field_]), int(r["billId"])))
    keys = [int(r[field_]) for r in rows]
    return _json_list(_ts_page(rows, keys, after, before, limit,
                               sim.before_semantics == "adjacent"))


def _h_deposits(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
                path: str) -> bytes:
    """``/asset/deposit-history``: newest first by ``ts``; ``ccy``, ``depId``, ``fromWdId``,
    ``txId``, ``state``, ``type`` (``3`` internal = has ``from``, ``4`` on-chain) filters."""
    return _asset_history(sim, acc, p, "deposits", ("ccy", "depId", "fromWdId", "txId", "state"),
                          lambda r: "3" if r.get("from") else "4", "depId")


def _h_withdrawals(sim: Simulator, acc: AccountLike | None, p: dict[str, str], body: bytes,
                   path: str) -> bytes:
    """``/asset/withdrawal-history``: newest first by ``ts``; ``ccy``, ``wdId``,
    ``clientId``, ``txId``, ``state``, ``type`` (``3`` internal = ``toAddrType`` other
    than ``1``, ``4`` on-chain) filters."""
    return _asset_history(sim, acc, p, "withdrawals", ("ccy", "wdId", "clientId", "txId", "state"),
                          lambda r: "4" if r.get("toAddrType", "1") in ("1", "") else "3", "wdId")


def _asset_history(sim: Simulator, acc: AccountLike | None, p: dict[str, str], name: str,
                   fields: Sequence[str], kind: Callable[[Mapping[str, Any]], str],
                   id_field: str) -> bytes:
    limit = _limit(p)
    after, before = _int_param(p, "after"), _int_param(p, "before")
    type_ = p.get("type")
    if type_ is not None and type_ not in ("3", "4"):
        raise _OkxError("51000", "type")
    flt = [(f, p[f]) for f in fields if f in p]
    with sim.lock:
        rows = [r for r in _records(acc, name) if all(str(r.get(f)) == v for f, v in flt)
                and (type_ is None or kind(r) == type_)]
    rows.sort(key=lambda r: (int(r["ts"]), int(r.get(id_field) or 0)))
    keys = [int(r["ts"]) for r in rows]
    return _json_list(_ts_page(rows, keys, after, before, limit,
                               sim.before_semantics == "adjacent"))


_H = Callable[[Simulator, "AccountLike | None", dict[str, str], bytes, str], bytes]

#: path → ({method: handler}, private?)
_ROUTES: dict[str, tuple[dict[str, _H], bool]] = {
    "/api/v5/public/time": ({"GET": _h_time}, False),
    "/api/v5/public/instruments": ({"GET": _h_instruments}, False),
    "/api/v5/public/funding-rate-history": ({"GET": _h_funding_rate_history}, False),
    "/api/v5/market/history-index-candles": ({"GET": _h_index_candles}, False),
    "/api/v5/asset/currencies": ({"GET": _h_currencies}, True),
    "/api/v5/account/config": ({"GET": _h_config}, True),
    "/api/v5/account/balance": ({"GET": _h_balance}, True),
    "/api/v5/account/positions": ({"GET": _h_positions}, True),
    "/api/v5/account/positions-history": ({"GET": _h_positions_history}, True),
    "/api/v5/trade/fills": ({"GET": _h_fills}, True),
    "/api/v5/trade/fills-history": ({"GET": _h_fills}, True),
    "/api/v5/account/bills": ({"GET": _h_bills}, True),
    "/api/v5/account/bills-archive": ({"GET": _h_bills}, True),
    "/api/v5/account/bills-history-archive": (
        {"GET": _h_archive_get, "POST": _h_archive_apply}, True),
    "/api/v5/asset/bills": ({"GET": _h_asset_bills}, True),
    "/api/v5/asset/bills-history": ({"GET": _h_asset_bills}, True),
    "/api/v5/asset/deposit-history": ({"GET": _h_deposits}, True),
    "/api/v5/asset/withdrawal-history": ({"GET": _h_withdrawals}, True),
}


# --------------------------------------------------------------------------- CLI entry


def run_simulator(port: int = 0, seed: int = 7, scale: int = 2000, rate_limits: bool = True,
                  history_file: str | Path | None = None, host: str = "127.0.0.1", *,
                  fills_retention_days: int = 365, anchor_ms: int | None = None,
                  days: int | None = None) -> None:
    """Serve a generated (or loaded) history in the foreground until Ctrl-C.

    Prints the URL and the demo credentials the server accepts (for ``okx-journal
    simulate``). ``anchor_ms`` fixes the generated history's end (same seed and anchor,
    same history) and starts the server's clock five minutes after it (as a history
    without an anchor ends five minutes before now): the retention windows then cut the
    same records whenever it runs, for a client that follows OKX's clock (``public/time``,
    as okx-journal does). ``days`` is the history's length (the generator's default when
    None).
    """
    from okx_journal.simulator import generator

    gen_kw: dict[str, Any] = {"end_ms": anchor_ms}
    if days is not None:
        gen_kw["days"] = days
    history = (generator.load_history(Path(history_file)) if history_file
               else generator.generate_history(seed=seed, scale=scale, **gen_kw))
    creds = generator.DEMO_CREDENTIALS
    offset = 0
    if anchor_ms is not None and not history_file:
        offset = anchor_ms + 5 * 60_000 - int(time.time() * 1000)
    sim = Simulator(history, host=host, port=port, rate_limits=rate_limits,
                    fills_retention_days=fills_retention_days, clock_offset_ms=offset)
    sim.start()
    try:
        print(f"OKX simulator listening on {sim.url}", flush=True)  # noqa: T201
        if offset:
            clock = datetime.fromtimestamp(sim.now_ms() / 1000, tz=UTC)
            print(f"  its clock:  {clock:%Y-%m-%d %H:%M:%S} UTC (five minutes after the anchor)")  # noqa: T201
        print(f"  api key:    {creds.api_key}")  # noqa: T201
        print(f"  secret:     {creds.secret}")  # noqa: T201
        print(f"  passphrase: {creds.passphrase}", flush=True)  # noqa: T201
        print("Ctrl-C to stop.", flush=True)  # noqa: T201
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
