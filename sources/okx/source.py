"""The dlt source: OKX fills, bills, positions, balances and instruments into ``okx_raw``.

| resource | endpoints (history window) | cursor | key | write disposition |
|---|---|---|---|---|
| ``fills`` | ``trade/fills`` (3 days) + ``trade/fills-history`` per instType (3 months) | ``billId`` | ``account_uid, bill_id`` | merge |
| ``bills`` | ``account/bills`` (7 days) + ``account/bills-archive`` (3 months) | ``billId`` | ``account_uid, bill_id`` | merge |
| ``positions_history`` | ``account/positions-history`` (3 months) | ``uTime`` | ``account_uid, pos_id, c_time`` (newest ``u_time`` wins) | merge |
| ``positions`` | ``account/positions`` (snapshot) | none | ``account_uid, snapshot_at, pos_id`` | merge (an append that a resumed load cannot double) |
| ``balances`` | ``account/balance`` (snapshot) | none | ``account_uid, snapshot_at, ccy`` | merge (idem) |
| ``instruments`` | ``public/instruments`` per instType, OPTION per family | none | ``inst_type, inst_id`` | merge, never deleted |
| ``funding_rates`` | ``public/funding-rate-history`` per SWAP charged funding (3 months) | ``fundingTime`` | ``inst_id, funding_time`` | merge |
| ``account_config`` | ``account/config`` | none | ``uid`` | merge |
| ``snapshots`` | (one row per snapshot resource and run) | none | ``account_uid, snapshot_at, resource`` | merge |

Incremental state lives in dlt's source state, committed with the load package (so a
run killed before its load completes leaves the previous cursors in force)::

    accounts.<uid>.fills.*           {hwm, hwm_ts, synced_at, history_scopes, backfill}
    accounts.<uid>.fills.<instType>  {hwm, hwm_ts}        newest fill of that type
    accounts.<uid>.bills.*           {hwm, hwm_ts, synced_at, history_scopes, backfill}
    accounts.<uid>.positions_history.*  {hwm, synced_at}  (hwm = newest uTime)
    accounts.<uid>.option_families   [BTC-USD, ...]      for public/instruments OPTION
    accounts.<uid>.funding_rates.<instId>  {hwm}         newest fundingTime loaded

Each ledger resource walks its recent endpoint (higher limit, short window) from the
newest record down to the checkpoint and, when the checkpoint is older than that window
(or on the first run), walks the 3-month endpoint in parallel for everything up to a
boundary inside the recent window; the two overlap by half a day and the merge
deduplicates. When the recent endpoint turns out not to reach the boundary, the gap is
walked afterwards on the long endpoint. Every walk re-reads a small overlap below the
checkpoint.

A backfill (first sync, or a sync after a pause longer than the recent window) of more
than ``backfill_package_rows`` (50,000) ledger rows comes in several load packages: time
windows of the long endpoints, oldest first, sized from the density of the newest 100
ledger entries and then of each window loaded. ``backfill = {through, window_ms}`` is
committed with each window's package, so a sync stopped half-way keeps the windows it
loaded. Only the last package reads the recent endpoints, positions history, positions,
balances, instruments and the account config; ``run_sync`` runs the pipeline again while
``SourceObserver.backfill_pending`` is set. The load step merges each table of a package
in one statement, so the package's size bounds the sync's memory.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import CredentialsConfiguration
from dlt.common.schema.typing import TTableSchemaColumns, TWriteDispositionConfig
from dlt.common.typing import TSecretStrValue
from dlt.extract.resource import DltResource

from sources.okx.client import OkxClient
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError, OkxRequestError
from sources.okx.pagination import (
    Checkpoint,
    Page,
    WalkReport,
    parallel_pages,
    walk_back,
)
from sources.okx.schema import (
    ACCOUNT_CONFIG,
    BALANCE_ACCOUNT_FIELDS,
    BALANCES,
    BILLS,
    FILLS,
    FUNDING_RATES,
    INSTRUMENTS,
    POSITIONS,
    POSITIONS_HISTORY,
    SNAPSHOTS,
    TableSpec,
    column_hints,
    rows_to_arrow,
    snake,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "INST_TYPES",
    "OkxCredentialsConfiguration",
    "SourceObserver",
    "TableReader",
    "duckdb_reader",
    "okx_source",
]

logger = logging.getLogger("okx_journal.source")

DEFAULT_BASE_URL = "https://www.okx.com"
INST_TYPES: tuple[str, ...] = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
#: OKX's retention of the long endpoints (fills-history, bills-archive, positions-history).
HISTORY_WINDOW_MS = 90 * DAY_MS
#: Re-read below each checkpoint; the merge deduplicates.
OVERLAP_MS = 10 * MINUTE_MS
#: How far inside the recent endpoint's window the long endpoint's walk starts.
BOUNDARY_MARGIN_MS = 12 * HOUR_MS
#: Seconds without progress of the fills resource after which ``instruments`` stops
#: waiting for its OPTION families (the extract is failing elsewhere).
FILLS_STALL_S = 60.0
#: A listed instrument already loaded is merged again (attributes, ``last_seen_at``) at
#: most this often; new instruments are merged on every run.
INSTRUMENT_REFRESH_MS = 6 * HOUR_MS
#: OKX's retention of ``public/funding-rate-history``.
FUNDING_RATE_WINDOW_MS = 90 * DAY_MS
#: Page size of ``public/funding-rate-history`` (its documented maximum).
FUNDING_RATE_PAGE = 400
#: A funding bill is booked shortly after its funding time: a bill no later than this
#: after the newest rate loaded is covered by it (funding is at most hourly).
FUNDING_BILL_LAG_MS = 30 * MINUTE_MS
#: A first backfill (or one after a long pause) is loaded in several packages, oldest
#: first, each covering a time window of the 3-month endpoints: the load step merges a
#: package's tables in one statement, so its memory follows the package's size. The
#: ledger rows a window aims at: the first window is sized from the density of the newest
#: ledger entries, each next one from the density of the last window.
BACKFILL_PACKAGE_ROWS = 50_000
#: Parallel time slices of a long walk when requests are not rate limited.
UNLIMITED_SLICES = 4
#: Rows per Arrow table handed to dlt (dlt loads Arrow batches ~20x faster than dicts).
#: (20,000 was measured too: no faster within noise, +120 MB peak at 50,000 fills.)
BATCH_ROWS = 5000


# ----------------------------------------------------------------------------- credentials


@configspec
class OkxCredentialsConfiguration(CredentialsConfiguration):
    """The OKX key as dlt configuration (``sources.okx.credentials.*``), masked in traces."""

    api_key: TSecretStrValue = None  # type: ignore[assignment]
    secret: TSecretStrValue = None  # type: ignore[assignment]
    passphrase: TSecretStrValue = None  # type: ignore[assignment]

    def parse_native_representation(self, native_value: Any) -> None:
        """Accepts an ``OkxCredentials`` passed directly as ``credentials=``."""
        if isinstance(native_value, OkxCredentials):
            self.api_key = native_value.api_key
            self.secret = native_value.secret
            self.passphrase = native_value.passphrase
            return
        raise NotImplementedError()

    def to_okx(self) -> OkxCredentials:
        """The same key as the client's ``OkxCredentials``."""
        return OkxCredentials(
            api_key=str(self.api_key or ""),
            secret=str(self.secret or ""),
            passphrase=str(self.passphrase or ""),
        )

    def __str__(self) -> str:
        return repr(self.to_okx())


def _as_okx_credentials(value: Any) -> OkxCredentials:
    if isinstance(value, OkxCredentials):
        return value
    if isinstance(value, OkxCredentialsConfiguration):
        return value.to_okx()
    if isinstance(value, Mapping):
        try:
            return OkxCredentials(
                api_key=str(value["api_key"]),
                secret=str(value["secret"]),
                passphrase=str(value["passphrase"]),
            )
        except KeyError as missing:
            raise ConfigError(f"OKX credentials lack {missing.args[0]}.") from None
    raise ConfigError(
        "no OKX credentials: set sources.okx.credentials.api_key, .secret and .passphrase "
        "in .dlt/secrets.toml (or SOURCES__OKX__CREDENTIALS__API_KEY etc.)."
    )


# ----------------------------------------------------------------------------- destination reads

#: ``reader(table, sql)``: runs ``sql`` (with ``{table}`` standing for the qualified raw
#: table) on the destination and returns its rows, or [] when the table does not exist.
TableReader = Callable[[str, str], list[tuple[Any, ...]]]


def duckdb_reader(db_path: str | Path, dataset: str = "okx_raw") -> TableReader:
    """A ``TableReader`` on a DuckDB file (a short connection per query, serialised).

    The source uses it to keep ``instruments.first_seen_at`` and to skip re-read overlap
    rows that are already loaded. Any failure reads as "nothing there".
    """
    lock = threading.Lock()
    path = Path(db_path)

    def read(table: str, sql: str) -> list[tuple[Any, ...]]:
        if not path.exists():
            return []
        import duckdb

        with lock:
            try:
                con = duckdb.connect(str(path))
            except duckdb.Error:
                return []
            try:
                # literals, not parameters: a parameterised query makes DuckDB import pandas
                names = (dataset.replace("'", "''"), table.replace("'", "''"))
                exists = con.execute(
                    "SELECT count(*) FROM duckdb_tables() "
                    f"WHERE schema_name = '{names[0]}' AND table_name = '{names[1]}'"
                ).fetchone()
                if not exists or not exists[0]:
                    return []
                qualified = f'"{dataset}"."{table}"'
                return [tuple(r) for r in con.execute(sql.format(table=qualified)).fetchall()]
            finally:
                con.close()

    return read


# ----------------------------------------------------------------------------- observer


@dataclass
class SourceObserver:
    """What a run did, for the sync summary and the progress display (thread-safe).

    Attributes:
        rows: Rows extracted per resource this run (overlap included).
        span_ms: ``(oldest, newest)`` record time per resource this run.
        reached_ms: The oldest record time per resource read so far (for progress).
        warnings: Sentences for the user (gaps in OKX's retention ...).
        walks: Every cursor walk, for logs and benchmarks.
        uid: The account's uid, once known.
    """

    rows: Counter[str] = field(default_factory=Counter)
    span_ms: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the oldest record time (ms) the walks of each resource have read, page by page
    reached_ms: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    walks: list[WalkReport] = field(default_factory=list)
    uid: str | None = None
    #: the package just extracted is one window of a backfill: run the pipeline again
    backfill_pending: bool = False
    #: ledger resource → end (ms) of the backfill window its last package covered
    backfill_through: dict[str, int] = field(default_factory=dict)
    on_rows: Callable[[str, int], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_rows(self, resource: str, n: int, oldest: int | None, newest: int | None) -> None:
        with self._lock:
            self.rows[resource] += n
        self.add_span(resource, oldest, newest)
        if self.on_rows is not None:
            self.on_rows(resource, n)

    def reach(self, resource: str, oldest: int | None) -> None:
        """The walks of ``resource`` have read back to ``oldest`` (epoch ms), at least."""
        if oldest is None:
            return
        with self._lock:
            if oldest < self.reached_ms.get(resource, oldest + 1):
                self.reached_ms[resource] = oldest

    def reached(self) -> dict[str, int]:
        """A copy of ``reached_ms`` (safe while the resources still run)."""
        with self._lock:
            return dict(self.reached_ms)

    def add_span(self, resource: str, oldest: int | None, newest: int | None) -> None:
        """Widens the time span (epoch ms) of the rows fetched for ``resource``."""
        if oldest is None or newest is None:
            return
        with self._lock:
            old = self.span_ms.get(resource)
            if old is None:
                self.span_ms[resource] = (oldest, newest)
            else:
                self.span_ms[resource] = (min(old[0], oldest), max(old[1], newest))

    def warn(self, text: str) -> None:
        with self._lock:
            if text not in self.warnings:
                self.warnings.append(text)

    def add_walk(self, report: WalkReport) -> None:
        with self._lock:
            self.walks.append(report)


# ----------------------------------------------------------------------------- run context


@dataclass
class _Run:
    """Everything the resources of one source instance share."""

    client: OkxClient
    uid: str
    config_row: dict[str, Any]
    now_ms: int
    full_refresh: bool
    observer: SourceObserver
    lock: threading.Lock = field(default_factory=threading.Lock)
    positions_rows: list[dict[str, Any]] = field(default_factory=list)
    balance_rows: list[dict[str, Any]] = field(default_factory=list)
    reader: TableReader | None = None
    slices: int = 1
    fill_families: set[str] = field(default_factory=set)
    fills_done: threading.Event = field(default_factory=threading.Event)
    #: ledger rows a backfill package aims at (0: one package, however big)
    package_rows: int = BACKFILL_PACKAGE_ROWS
    #: the plan of each ledger resource for this package (see ``_ledger_plan``)
    plans: dict[str, _Plan] = field(default_factory=dict)
    #: this package completes the sync (every ledger reached its recent window)
    final: bool = True
    #: SWAP instId → newest funding bill (ms) seen by this run's bills resource
    funding_bills: dict[str, int] = field(default_factory=dict)
    bills_done: threading.Event = field(default_factory=threading.Event)
    failed: threading.Event = field(default_factory=threading.Event)
    last_beat: float = field(default_factory=time.monotonic)
    _known: dict[tuple[str, str], tuple[int, int]] | None = None
    _families: set[str] | None = None

    def read(self, table: str, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query on a raw table already loaded, or [] without a reader."""
        if self.reader is None:
            return []
        try:
            return self.reader(table, sql)
        except Exception as exc:  # reading is an optimisation: never fail the sync on it
            logger.debug("could not read %s from the destination: %s", table, exc)
            return []

    def beat(self) -> None:
        """The fills resource is alive (it is being iterated)."""
        self.last_beat = time.monotonic()

    def base_families(self) -> set[str]:
        """OPTION families of the open positions and of earlier runs (fixed per run)."""
        acct = self.account_state()
        with self.lock:
            if self._families is None:
                found = {_option_family(str(r.get("instId") or "")) for r in self.positions_rows}
                found |= set(acct.get("option_families", []))
                self._families = {f for f in found if f}
            return set(self._families)

    def known_instruments(self) -> dict[tuple[str, str], tuple[int, int]]:
        with self.lock:
            if self._known is None:
                self._known = _known_instruments(self)
            return self._known

    def account_state(self) -> dict[str, Any]:
        """This account's part of the source state (created on first use)."""
        state = dlt.current.source_state()
        with self.lock:
            accounts: dict[str, Any] = state.setdefault("accounts", {})
            acct: dict[str, Any] = accounts.setdefault(self.uid, {})
            return acct

    def fetcher(self, path: str) -> Callable[[Mapping[str, str]], Page]:
        client = self.client

        def fetch(params: Mapping[str, str]) -> Page:
            return client.get(path, params)

        return fetch



def _option_family(inst_id: str) -> str | None:
    """``BTC-USD-250328-100000-C`` → ``BTC-USD`` (OKX's instFamily of an option)."""
    parts = inst_id.split("-")
    if len(parts) >= 5 and parts[-1] in ("C", "P"):
        return "-".join(parts[:2])
    return None


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _fmt_day(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


class _Batcher:
    """Collects OKX rows and turns them into Arrow tables of ``BATCH_ROWS`` rows."""

    def __init__(self, run: _Run, resource: str, table: TableSpec, constants: Mapping[str, Any],
                 time_field: str | None = "ts") -> None:
        self.run = run
        self.resource = resource
        self.table = table
        self.constants = dict(constants)
        self.time_field = time_field
        self.rows: list[dict[str, Any]] = []

    def add(self, page: Page) -> pa.Table | None:
        self.rows.extend(page)
        if page:  # counted per page, so that the progress display keeps up
            self.run.observer.add_rows(self.resource, len(page), None, None)
            if self.time_field is not None:
                # OKX pages are newest first: the ends of the page bound its time
                ends = (_int(page[0].get(self.time_field)), _int(page[-1].get(self.time_field)))
                self.run.observer.reach(self.resource, min((t for t in ends if t), default=None))
        if len(self.rows) >= BATCH_ROWS:
            return self.flush()
        return None

    def flush(self) -> pa.Table | None:
        if not self.rows:
            return None
        rows, self.rows = self.rows, []
        table = rows_to_arrow(rows, self.table, self.constants)
        del rows
        oldest, newest = _time_span(table, self.time_field)
        self.run.observer.add_span(self.resource, oldest, newest)
        return table


def _time_span(table: pa.Table, time_field: str | None) -> tuple[int | None, int | None]:
    """``(oldest, newest)`` epoch ms of a converted table's time column (vectorised)."""
    if time_field is None:
        return None, None
    col = snake(time_field)
    if col not in table.column_names:
        return None, None
    span = pc.min_max(table.column(col).cast(pa.int64()))
    lo, hi = span["min"].as_py(), span["max"].as_py()
    if lo is None or hi is None:
        return None, None
    return lo // 1000, hi // 1000  # the column is in microseconds


# ----------------------------------------------------------------------------- ledger walks


@dataclass(frozen=True)
class _Ledger:
    """A ledger resource served by a short "recent" endpoint and a 3-month one."""

    resource: str
    table: TableSpec
    recent_path: str
    recent_window_ms: int
    history_path: str
    history_scopes: tuple[str | None, ...]
    history_window_ms: int = HISTORY_WINDOW_MS


FILLS_LEDGER = _Ledger(
    resource="fills",
    table=FILLS,
    recent_path="/api/v5/trade/fills",
    recent_window_ms=3 * DAY_MS,
    history_path="/api/v5/trade/fills-history",
    history_scopes=INST_TYPES,
)
BILLS_LEDGER = _Ledger(
    resource="bills",
    table=BILLS,
    recent_path="/api/v5/account/bills",
    recent_window_ms=7 * DAY_MS,
    history_path="/api/v5/account/bills-archive",
    history_scopes=(None,),
)


@dataclass(frozen=True)
class _Plan:
    """What one ledger resource walks in this package.

    Attributes:
        window_end: Upper end (ms) of the 3-month endpoint's walk: the recent boundary
            when ``final``, else the end of this backfill window.
        final: The walk reaches the recent endpoint's window (the recent endpoint and
            the gap logic run); otherwise only the window is walked.
        window_ms: The window's length (for sizing the next one).
        begin: Lower bound (ms) of a backfill window after the first; None lets the
            oldest walk reach down to the checkpoint (or whatever OKX still keeps).
    """

    window_end: int
    final: bool
    window_ms: int = 0
    begin: int | None = None


def _ledger_plan(run: _Run, ledger: _Ledger, top: Mapping[str, Any],
                 first_window: Callable[[], int | None]) -> _Plan:
    """Decides whether this package walks a backfill window or runs as usual.

    State ``backfill = {through, window_ms}`` (committed with each window's package) says
    a backfill is under way: the next window starts ``OVERLAP_MS`` below ``through``. A
    new backfill starts when the 3-month endpoint must be walked over more than one
    window (first sync, or a sync after a pause longer than the recent window). A full
    refresh is always one package. ``first_window`` sizes a new backfill's first window
    (None: everything fits one package).
    """
    boundary = run.now_ms - ledger.recent_window_ms + BOUNDARY_MARGIN_MS
    oldest = run.now_ms - ledger.history_window_ms
    if run.full_refresh or run.package_rows <= 0:
        return _Plan(boundary, True)
    backfill = top.get("backfill") or {}
    through = _int(backfill.get("through"))
    window = _int(backfill.get("window_ms")) or 0
    begin: int | None = None
    if through is not None:
        begin = max(oldest, through - OVERLAP_MS)
        start = begin
    else:
        cp = _checkpoint(top)
        if cp is not None and cp.ts is not None and cp.ts >= boundary + OVERLAP_MS:
            return _Plan(boundary, True)  # incremental: the recent endpoint suffices
        walked = set(top.get("history_scopes", ()))
        start = oldest
        if cp is not None and cp.ts is not None and all(
            (scope or "*") in walked for scope in ledger.history_scopes
        ):
            start = max(oldest, cp.ts - OVERLAP_MS)
        window = first_window() or 0
        if not window:
            return _Plan(boundary, True)
    if start + window >= boundary:
        return _Plan(boundary, True, window, begin)
    return _Plan(start + window, False, window, begin)


def _probe_first_window(run: _Run) -> int | None:
    """The first backfill window: long enough for about ``package_rows`` ledger rows at
    the density of the newest 100 entries of ``bills-archive`` (one request), or None
    when the whole 3-month ledger has fewer than 100 entries (one package will do)."""
    boundary = run.now_ms - BILLS_LEDGER.recent_window_ms + BOUNDARY_MARGIN_MS
    page = run.client.get(BILLS_LEDGER.history_path, {"end": str(boundary), "limit": "100"})
    times = [t for t in (_int(r.get("ts")) for r in page) if t is not None]
    if len(times) < 100:
        return None
    span = max(times) - min(times)
    return int(max(HOUR_MS, min(span * run.package_rows // len(times), HISTORY_WINDOW_MS)))


def _next_window(window_ms: int, rows: int, target: int, data_span_ms: int) -> int:
    """The next backfill window: about ``target`` rows at the density the last window
    showed between its oldest row and its end (an account's first trade may fall inside
    it), at most twice as long as the last one."""
    if rows <= 0:
        grown = window_ms * 2
    else:
        grown = max(HOUR_MS, min(data_span_ms, window_ms)) * target // rows
    return int(max(HOUR_MS, min(grown, window_ms * 2, HISTORY_WINDOW_MS)))


def _checkpoint(entry: Mapping[str, Any] | None) -> Checkpoint | None:
    if not entry:
        return None
    hwm = _int(entry.get("hwm"))
    if hwm is None:
        return None
    return Checkpoint(hwm, _int(entry.get("hwm_ts")))


def _scope_params(scope: str | None) -> dict[str, str]:
    return {"instType": scope} if scope else {}


def _walk(
    fetch: Callable[[Mapping[str, str]], Page],
    params: Mapping[str, str],
    checkpoint: Checkpoint | None,
    overlap_ms: int,
    start_after: int | None,
    report: WalkReport,
) -> Callable[[threading.Event], Iterator[Page]]:
    """A billId walk, ready for ``parallel_pages``."""

    def run(stop: threading.Event) -> Iterator[Page]:
        return walk_back(fetch, params=params, checkpoint=checkpoint, overlap_ms=overlap_ms,
                         start_after=start_after, report=report, stop=stop)

    return run


def _time_slices(lowest: int, end: int, n: int) -> list[tuple[int | None, int]]:
    """``n`` (begin, end) ms windows covering everything up to ``end``, oldest first.

    Neighbouring windows overlap by 2 ms so that no record at a cut falls between them,
    whether OKX's ``begin``/``end`` are inclusive or not (undocumented); the oldest
    window has no ``begin`` (it reaches whatever OKX still keeps).
    """
    if n <= 1 or end - lowest < n * HOUR_MS:
        return [(None, end)]
    step = (end - lowest) // n
    cuts = [lowest + step * i for i in range(1, n)]
    slices: list[tuple[int | None, int]] = [(None, cuts[0] + 1)]
    for lo, hi in zip(cuts, [*cuts[1:], end], strict=True):
        slices.append((lo - 1, hi if hi == end else hi + 1))
    return slices


def _ledger_pages(
    run: _Run,
    ledger: _Ledger,
    state: Mapping[str, Any],
    on_idle: Callable[[], None] | None = None,
) -> Iterator[Page]:
    """Every page a ledger resource needs this run (recent and long endpoints)."""
    top = state.get("*", {})
    cp = None if run.full_refresh else _checkpoint(top)
    walked_scopes = set(top.get("history_scopes", ())) if not run.full_refresh else set()
    boundary = run.now_ms - ledger.recent_window_ms + BOUNDARY_MARGIN_MS
    plan = run.plans.get(ledger.resource) or _Plan(boundary, True)
    need_history = (
        plan.begin is not None or not plan.final
        or cp is None or cp.ts is None or cp.ts < boundary + OVERLAP_MS
    )
    upper = boundary if plan.final else plan.window_end

    def scope_cp(scope: str | None) -> Checkpoint | None:
        return cp if (scope or "*") in walked_scopes else None

    recent = WalkReport(name=f"{ledger.recent_path}")
    run.observer.add_walk(recent)
    fetch_recent = run.fetcher(ledger.recent_path)
    fetch_history = run.fetcher(ledger.history_path)
    # a backfill window before the last walks the 3-month endpoint only
    walks = [_walk(fetch_recent, {}, cp, OVERLAP_MS, None, recent)] if plan.final else []
    history: dict[str | None, list[WalkReport]] = {}
    if need_history:
        for scope in ledger.history_scopes:
            c = scope_cp(scope)
            lowest = run.now_ms - ledger.history_window_ms
            if plan.begin is not None:
                lowest, c = max(lowest, plan.begin), None  # bounded by ``begin`` instead
            elif c is not None and c.ts is not None:
                lowest = max(lowest, c.ts - OVERLAP_MS)
            for i, (begin, end) in enumerate(_time_slices(lowest, upper, run.slices)):
                if i == 0 and plan.begin is not None:
                    begin = lowest
                params = {**_scope_params(scope), "end": str(end)}
                if begin is not None:
                    params["begin"] = str(begin)
                rep = WalkReport(
                    name=f"{ledger.history_path} {scope or ''} {begin or ''}..{end}".strip()
                )
                run.observer.add_walk(rep)
                history.setdefault(scope, []).append(rep)
                # only the oldest slice reaches down to the checkpoint
                walks.append(
                    _walk(fetch_history, params, c if i == 0 else None, OVERLAP_MS, None, rep)
                )
    yield from parallel_pages(walks, on_idle=on_idle)

    if not plan.final or recent.reached_checkpoint:
        return
    # The recent endpoint ran out before the checkpoint: cover what lies between its
    # oldest record and what the long endpoint already gave (or the checkpoint).
    recent_oldest = recent.oldest
    if history and recent_oldest is not None and recent_oldest[1] is not None \
            and recent_oldest[1] <= boundary:
        return  # the two walks overlap
    gap_walks: list[Callable[[threading.Event], Iterator[Page]]] = []
    for scope in ledger.history_scopes:
        done = history.get(scope)
        newest = max((r.newest for r in done or [] if r.newest is not None), default=None)
        if newest is not None:
            stop_at: Checkpoint | None = Checkpoint(newest[0])
            overlap = 0
        else:
            stop_at = scope_cp(scope) if done is not None else cp
            overlap = OVERLAP_MS
        rep = WalkReport(name=f"{ledger.history_path} {scope or ''} gap".strip())
        run.observer.add_walk(rep)
        start = recent_oldest[0] if recent_oldest is not None else None
        gap_walks.append(_walk(fetch_history, _scope_params(scope), stop_at, overlap, start, rep))
    yield from parallel_pages(gap_walks, on_idle=on_idle)


def _ledger_resource(run: _Run, ledger: _Ledger) -> Iterator[Any]:
    acct = run.account_state()
    base_families = run.base_families()
    state: dict[str, Any] = acct.setdefault(ledger.resource, {})
    top = state.get("*", {})
    _retention_warning(run, ledger.resource, top, ledger.history_window_ms)
    batcher = _Batcher(run, ledger.resource, ledger.table, {"account_uid": run.uid})
    prev_cp = _checkpoint(top)
    skip_below = None if run.full_refresh or prev_cp is None else prev_cp.cursor
    newest: dict[str, tuple[int, int | None]] = {}
    families: set[str] = set()
    funding: dict[str, int] = {}
    walked_rows = 0
    oldest_ts: int | None = None
    for page in _ledger_pages(run, ledger, state, run.beat if ledger.resource == "fills" else None):
        walked_rows += len(page)
        for row in page:
            bill_id = _int(row.get("billId"))
            if bill_id is None:
                continue
            scope = str(row.get("instType") or "")
            row_ts = _int(row.get("ts"))
            if row_ts is not None and (oldest_ts is None or row_ts < oldest_ts):
                oldest_ts = row_ts
            best = newest.get(scope)
            if best is None or bill_id > best[0]:
                newest[scope] = (bill_id, row_ts)
            if scope == "OPTION":
                family = _option_family(str(row.get("instId") or ""))
                if family:
                    families.add(family)
            elif scope == "SWAP" and row.get("type") == "8" and row.get("instId"):
                inst, charged_at = str(row["instId"]), row_ts or 0
                if charged_at > funding.get(inst, 0):
                    funding[inst] = charged_at
        table = batcher.add(_drop_loaded_overlap(run, ledger.table.name, page, skip_below))
        if table is not None:
            yield table
    table = batcher.flush()
    if table is not None:
        yield table
    if funding:
        with run.lock:
            for inst, charged_at in funding.items():
                run.funding_bills[inst] = max(charged_at, run.funding_bills.get(inst, 0))
    if ledger.resource == "fills":
        with run.lock:
            run.fill_families |= families
        acct["option_families"] = sorted(base_families | families)
    # everything up to here is in this load package: advance the cursors with it
    overall = max(newest.values(), default=None)
    prev = _checkpoint(top)
    if prev is not None and (overall is None or prev.cursor > overall[0]):
        overall = (prev.cursor, prev.ts)
    new_top: dict[str, Any] = {
        "synced_at": run.now_ms,
        "history_scopes": sorted({s or "*" for s in ledger.history_scopes}),
    }
    if overall is not None:
        new_top.update(hwm=str(overall[0]), hwm_ts=overall[1])
    plan = run.plans.get(ledger.resource)
    if plan is not None and not plan.final:
        new_top["backfill"] = {
            "through": plan.window_end,
            "window_ms": _next_window(
                plan.window_ms, walked_rows, run.package_rows,
                plan.window_end - (oldest_ts if oldest_ts is not None else plan.window_end),
            ),
        }
    if ledger.resource == "fills":
        for scope, (bill_id, ts) in newest.items():
            old = _checkpoint(state.get(scope))
            if scope and (old is None or bill_id > old.cursor):
                state[scope] = {"hwm": str(bill_id), "hwm_ts": ts}
    state["*"] = new_top


def _retention_warning(run: _Run, resource: str, top: Mapping[str, Any], window_ms: int) -> None:
    synced = _int(top.get("synced_at"))
    if synced is None or run.now_ms - synced <= window_ms:
        return
    run.observer.warn(
        f"{resource}: the last successful sync of this account was on {_fmt_day(synced)}, "
        f"longer ago than OKX keeps {resource} ({window_ms // DAY_MS} days): records from "
        f"{_fmt_day(synced)} to {_fmt_day(run.now_ms - window_ms)} are no longer available "
        "from OKX and are missing for good (sync at least monthly to avoid this)."
    )


# ----------------------------------------------------------------------------- other resources


def _positions_history_resource(run: _Run) -> Iterator[pa.Table]:
    acct = run.account_state()
    state: dict[str, Any] = acct.setdefault("positions_history", {})
    top = state.get("*", {})
    _retention_warning(run, "positions_history", top, HISTORY_WINDOW_MS)
    hwm = None if run.full_refresh else _int(top.get("hwm"))
    rep = WalkReport(name="/api/v5/account/positions-history")
    run.observer.add_walk(rep)
    batcher = _Batcher(run, "positions_history", POSITIONS_HISTORY, {"account_uid": run.uid},
                       time_field="uTime")
    for page in walk_back(
        run.fetcher("/api/v5/account/positions-history"),
        cursor_field="uTime",
        time_field=None,
        unique_cursor=False,
        checkpoint=Checkpoint(hwm) if hwm is not None else None,
        overlap_ms=OVERLAP_MS,
        report=rep,
    ):
        table = batcher.add(_drop_loaded_positions(run, page, hwm))
        if table is not None:
            yield table
    table = batcher.flush()
    if table is not None:
        yield table
    newest = rep.newest[0] if rep.newest is not None else None
    prev = _int(top.get("hwm"))
    if prev is not None and (newest is None or prev > newest):
        newest = prev
    new_top: dict[str, Any] = {"synced_at": run.now_ms}
    if newest is not None:
        new_top["hwm"] = newest
    state["*"] = new_top


def _drop_loaded_positions(run: _Run, page: Page, hwm: int | None) -> Page:
    """Removes re-read position lives whose (posId, cTime, uTime) is already loaded."""
    if hwm is None:
        return page
    old = [r for r in page if (_int(r.get("uTime")) or 0) <= hwm]
    times = sorted({t for t in (_int(r.get("uTime")) for r in old) if t is not None})
    if not times:
        return page
    known = _loaded_keys(
        run, "positions_history", "pos_id, epoch_ms(c_time), epoch_ms(u_time)",
        f"u_time BETWEEN make_timestamp({times[0]} * 1000) AND make_timestamp({times[-1]} * 1000)",
    )
    return [
        r for r in page
        if (str(r.get("posId")), _int(r.get("cTime")), _int(r.get("uTime"))) not in known
    ]


def _snapshots_resource(run: _Run) -> Iterator[pa.Table]:
    """One row per snapshot resource: tells "nothing open" from "not synced"."""
    rows = [
        {"resource": "positions", "row_count": len(run.positions_rows)},
        {"resource": "balances", "row_count": len(run.balance_rows)},
    ]
    yield rows_to_arrow(rows, SNAPSHOTS, {"account_uid": run.uid, "snapshot_at": run.now_ms})


def _positions_resource(run: _Run) -> Iterator[pa.Table]:
    rows = run.positions_rows
    if rows:
        run.observer.add_rows("positions", len(rows), None, None)
        yield rows_to_arrow(rows, POSITIONS, {"account_uid": run.uid, "snapshot_at": run.now_ms})


def _balance_rows(accounts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for account in accounts:
        acct_values = {col: account.get(okx) for okx, col in BALANCE_ACCOUNT_FIELDS.items()}
        for detail in account.get("details") or []:
            rows.append({**detail, **acct_values})
    return rows


def _balances_resource(run: _Run) -> Iterator[pa.Table]:
    rows = run.balance_rows
    if rows:
        run.observer.add_rows("balances", len(rows), None, None)
        yield rows_to_arrow(rows, BALANCES, {"account_uid": run.uid, "snapshot_at": run.now_ms})


def _known_instruments(run: _Run) -> dict[tuple[str, str], tuple[int, int]]:
    """``(inst_type, inst_id) → (first_seen_at, last_seen_at)`` (ms) already loaded."""
    rows = run.read(
        "instruments",
        "SELECT inst_type, inst_id, epoch_ms(first_seen_at), epoch_ms(last_seen_at) FROM {table}",
    )
    return {
        (str(t), str(i)): (int(first), int(last or first))
        for t, i, first, last in rows
        if first is not None
    }


def _loaded_keys(run: _Run, table: str, key_sql: str, where_sql: str) -> set[tuple[Any, ...]]:
    """Keys of this account's rows of ``table`` matching ``where_sql`` in the destination."""
    if not run.uid.isdigit():
        return set()
    rows = run.read(
        table, f"SELECT {key_sql} FROM {{table}} WHERE account_uid = '{run.uid}' AND ({where_sql})"
    )
    return {tuple(r) for r in rows}


def _drop_loaded_overlap(run: _Run, table: str, page: Page, hwm: int | None) -> Page:
    """Removes re-read rows at or below the checkpoint that the destination already has.

    Fills and bills do not change once written, so a row already loaded needs no merge;
    rows below the checkpoint that are *not* loaded (late arrivals) are kept. Saves a
    merge of the overlap on every incremental run.
    """
    if hwm is None:
        return page
    old = [r for r in page if (_int(r.get("billId")) or 0) <= hwm]
    if not old:
        return page
    ids = [str(r.get("billId")) for r in old if str(r.get("billId") or "").isdigit()]
    if not ids:
        return page
    known = _loaded_keys(run, table, "bill_id", "bill_id IN (" + ",".join(f"'{i}'" for i in ids) + ")")
    known_ids = {k[0] for k in known}
    return [r for r in page if str(r.get("billId")) not in known_ids]


def _instrument_tables(run: _Run, rows: list[dict[str, Any]]) -> Iterator[pa.Table]:
    if not rows:
        return
    known = run.known_instruments()
    fresh: list[dict[str, Any]] = []
    for row in rows:
        seen = known.get((str(row.get("instType")), str(row.get("instId"))))
        if seen is not None and run.now_ms - seen[1] < INSTRUMENT_REFRESH_MS:
            continue  # loaded and refreshed recently: no need to merge it again
        row["first_seen_at"] = seen[0] if seen is not None else run.now_ms
        fresh.append(row)
    rows = fresh
    if not rows:
        return
    run.observer.add_rows("instruments", len(rows), None, None)
    for start in range(0, len(rows), BATCH_ROWS * 5):
        yield rows_to_arrow(
            rows[start : start + BATCH_ROWS * 5],
            INSTRUMENTS,
            {"account_uid": run.uid, "last_seen_at": run.now_ms},
        )


def _option_instruments(run: _Run, families: Iterable[str]) -> list[dict[str, Any]]:
    fetch = run.fetcher("/api/v5/public/instruments")
    rows: list[dict[str, Any]] = []
    for family in sorted(families):
        try:
            rows.extend(fetch({"instType": "OPTION", "instFamily": family}))
        except OkxRequestError as exc:  # a family OKX no longer lists
            logger.info("no OPTION instruments for %s: %s", family, exc)
    return rows


def _instruments_resource(run: _Run) -> Iterator[pa.Table]:
    """Every listed instrument of every type; OPTION per family seen in positions or fills.

    The OPTION families of this run's fills are known once the fills resource is done:
    it is waited for, unless it stops making progress (an extract failing elsewhere),
    in which case the families known at start are used and the others follow next run.
    """
    fetch = run.fetcher("/api/v5/public/instruments")
    rows: list[dict[str, Any]] = []
    for inst_type in INST_TYPES:
        if inst_type != "OPTION":
            rows.extend(fetch({"instType": inst_type}))
    families = run.base_families()
    while not run.fills_done.wait(0.2):
        if run.failed.is_set() or time.monotonic() - run.last_beat > FILLS_STALL_S:
            break
    with run.lock:
        families |= run.fill_families
    rows.extend(_option_instruments(run, families))
    yield from _instrument_tables(run, rows)


def _funding_rates_resource(run: _Run) -> Iterator[pa.Table]:
    """The funding-rate history of every SWAP this account was charged funding on.

    Waits for the bills resource (the funding bills of this run name the instruments),
    then walks each instrument's history back to its checkpoint; an instrument whose
    newest funding bill is already covered by a loaded rate is not asked for. The rate
    is what tells a long position's funding bill from a short one's in hedge mode
    (bills carry no ``posSide``).
    """
    while not run.bills_done.wait(0.2):
        if run.failed.is_set():
            return
    if run.failed.is_set():
        return
    acct = run.account_state()
    state: dict[str, Any] = acct.setdefault("funding_rates", {})
    with run.lock:
        due = dict(run.funding_bills)
    if run.uid.isdigit():
        for inst, newest in run.read(
            "bills",
            "SELECT inst_id, max(epoch_ms(ts)) FROM {table} WHERE account_uid = "
            f"'{run.uid}' AND type = '8' AND inst_type = 'SWAP' AND inst_id IS NOT NULL "
            "GROUP BY inst_id",
        ):
            if newest is not None:
                due[str(inst)] = max(int(newest), due.get(str(inst), 0))
    fetch = run.fetcher("/api/v5/public/funding-rate-history")
    batcher = _Batcher(run, "funding_rates", FUNDING_RATES, {"account_uid": run.uid},
                       time_field="fundingTime")
    for inst in sorted(due):
        hwm = None if run.full_refresh else _int((state.get(inst) or {}).get("hwm"))
        if hwm is not None and due[inst] - hwm <= FUNDING_BILL_LAG_MS:
            continue
        if due[inst] < run.now_ms - FUNDING_RATE_WINDOW_MS:
            continue  # OKX no longer has the rates of this instrument's funding bills
        rep = WalkReport(name=f"/api/v5/public/funding-rate-history {inst}")
        run.observer.add_walk(rep)
        try:
            for page in walk_back(
                fetch,
                params={"instId": inst},
                cursor_field="fundingTime",
                time_field=None,
                checkpoint=Checkpoint(hwm) if hwm is not None else None,
                limit=FUNDING_RATE_PAGE,
                report=rep,
            ):
                table = batcher.add(page)
                if table is not None:
                    yield table
        except OkxRequestError as exc:  # a delisted swap: its funding bills stay unrated
            logger.info("no funding-rate history for %s: %s", inst, exc)
            continue
        if rep.newest is not None and (hwm is None or rep.newest[0] > hwm):
            state[inst] = {"hwm": rep.newest[0]}
    table = batcher.flush()
    if table is not None:
        yield table


def _account_config_resource(run: _Run) -> Iterator[pa.Table]:
    run.observer.add_rows("account_config", 1, None, None)
    yield rows_to_arrow([run.config_row], ACCOUNT_CONFIG,
                        {"account_uid": run.uid, "synced_at": run.now_ms})


# ----------------------------------------------------------------------------- the source


def _plan_package(run: _Run, client: Any, obs: SourceObserver) -> None:
    """The ledgers' plans for this package; the snapshots when it is the last one."""
    acct_state = run.account_state()
    first_window = functools.cache(lambda: _probe_first_window(run))  # one probe at most
    run.plans = {
        ledger.resource: _ledger_plan(
            run, ledger, acct_state.get(ledger.resource, {}).get("*", {}), first_window
        )
        for ledger in (FILLS_LEDGER, BILLS_LEDGER)
    }
    run.final = all(plan.final for plan in run.plans.values())
    obs.backfill_pending = not run.final
    obs.backfill_through = {
        name: (run.now_ms if plan.final else plan.window_end) for name, plan in run.plans.items()
    }
    if run.final:
        # the two snapshots are read here, once, so that every resource sees the same ones
        run.positions_rows = client.get("/api/v5/account/positions")
        run.balance_rows = _balance_rows(client.get("/api/v5/account/balance"))


def _guarded(run: _Run, items: Iterator[Any]) -> Iterator[Any]:
    """Flags the run as failed when a resource raises (so no resource waits for it)."""
    try:
        yield from items
    except BaseException:
        run.failed.set()
        raise


_MERGE: TWriteDispositionConfig = {"disposition": "merge", "strategy": "delete-insert"}


def _resource(
    fn: Callable[[], Iterator[Any]], table: TableSpec, dedup_sort: str | None = None
) -> DltResource:
    """A merge resource for ``table``: key, typed column hints (fresh dicts), parallel."""
    hints = column_hints(table)
    if dedup_sort is not None:
        hints[dedup_sort]["dedup_sort"] = "desc"
    return dlt.resource(
        fn,
        name=table.name,
        write_disposition=_MERGE,
        primary_key=list(table.primary_key),
        columns=cast(TTableSchemaColumns, hints),
        parallelized=True,
    )


@dlt.source(name="okx", section="okx", max_table_nesting=0)
def okx_source(
    credentials: OkxCredentialsConfiguration | OkxCredentials = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    demo_trading: bool = False,
    rate_limits: bool = True,
    full_refresh: bool = False,
    client: Any = None,
    account_config: Any = None,
    observer: Any = None,
    reader: Any = None,
    backfill_package_rows: int = BACKFILL_PACKAGE_ROWS,
) -> Sequence[DltResource]:
    """OKX v5 account data for one API key: ledger, fills, positions, balances, instruments.

    Args:
        credentials: An ``OkxCredentials``, or resolved by dlt from
            ``sources.okx.credentials.{api_key,secret,passphrase}`` (secrets, masked).
        base_url: ``https://www.okx.com``, ``https://eea.okx.com``, ``https://us.okx.com``
            (or the simulator's loopback URL).
        demo_trading: Send ``x-simulated-trading: 1``.
        rate_limits: Pace requests to OKX's documented per-endpoint limits.
        full_refresh: Ignore the cursors and read everything OKX still has (nothing is
            deleted: the merge keeps older rows OKX no longer serves).
        client: An ``OkxClient`` to use instead of building one (``run_sync`` passes
            its own, to read its statistics).
        account_config: The ``account/config`` record if already read (saves a call).
        observer: A ``SourceObserver`` that receives row counts and warnings.
        reader: A ``TableReader`` on the destination (``duckdb_reader(db_path)``), used
            to keep ``instruments.first_seen_at`` and to skip overlap rows already loaded.
        backfill_package_rows: A backfill is loaded in packages of about this many
            ledger rows (time windows of the 3-month endpoints, oldest first); while one
            is under way, only fills and bills (and funding rates) are extracted and
            ``observer.backfill_pending`` is set: run the pipeline again. 0 loads
            everything in one package.

    Returns:
        The resources listed in the module docstring, all keyed by ``account_uid``.
    """
    if client is None:
        creds = _as_okx_credentials(credentials)
        client = OkxClient(creds, base_url=base_url, demo_trading=demo_trading,
                           rate_limits=rate_limits)
    if account_config is None:
        configs = client.get("/api/v5/account/config")
        if not configs:
            raise ConfigError("OKX returned no account configuration for this key.")
        account_config = configs[0]
    uid = str(account_config.get("uid") or "")
    if not uid:
        raise ConfigError("OKX's account/config has no uid for this key.")
    obs = observer if observer is not None else SourceObserver()
    obs.uid = uid
    # OKX's clock (the client measured the offset before its first private request)
    now_ms = int(time.time() * 1000) + int(getattr(client, "clock_offset_ms", 0) or 0)
    run = _Run(
        client=client,
        uid=uid,
        config_row=dict(account_config),
        now_ms=now_ms,
        full_refresh=full_refresh,
        observer=obs,
        reader=reader,
        package_rows=backfill_package_rows,
        # without rate limits (a simulator), long walks are split in time and run in
        # parallel; with OKX's limits one walk per endpoint already saturates them
        slices=1 if rate_limits else UNLIMITED_SLICES,
    )
    prepared: list[BaseException | None] = []
    prepare_lock = threading.Lock()

    def ready() -> None:
        """Plans this package, once, when the first resource starts.

        It reads the source state, which dlt offers only while a pipeline runs: doing it
        here (not when ``okx_source()`` is called) lets users create the source before
        their pipeline.
        """
        with prepare_lock:
            if not prepared:
                try:
                    _plan_package(run, client, obs)
                    prepared.append(None)
                except BaseException as exc:
                    prepared.append(exc)
            failure = prepared[0]
        if failure is not None:
            run.failed.set()
            raise failure

    def guarded(
        make: Callable[[_Run], Iterator[Any]], *, every_package: bool = False
    ) -> Iterator[Any]:
        """A resource's items, once this package is planned; most read only in the last."""
        ready()
        if every_package or run.final:
            yield from _guarded(run, make(run))

    def fills() -> Iterator[pa.Table]:
        """``trade/fills`` (3 days) and ``trade/fills-history`` per instType (3 months)."""
        try:
            yield from guarded(lambda r: _ledger_resource(r, FILLS_LEDGER), every_package=True)
        finally:
            run.fills_done.set()

    def bills() -> Iterator[pa.Table]:
        """``account/bills`` (7 days) and ``account/bills-archive`` (3 months), unfiltered."""
        try:
            yield from guarded(lambda r: _ledger_resource(r, BILLS_LEDGER), every_package=True)
        finally:
            run.bills_done.set()

    def funding_rates() -> Iterator[pa.Table]:
        """``public/funding-rate-history`` of the SWAPs charged funding (3 months)."""
        yield from guarded(_funding_rates_resource, every_package=True)

    def positions_history() -> Iterator[pa.Table]:
        """``account/positions-history`` (3 months), ``uTime`` cursor."""
        yield from guarded(_positions_history_resource)

    def positions() -> Iterator[Any]:
        """``account/positions``: open positions now, one snapshot per run."""
        yield from guarded(_positions_resource)

    def balances() -> Iterator[Any]:
        """``account/balance``: one row per currency, one snapshot per run."""
        yield from guarded(_balances_resource)

    def instruments() -> Iterator[pa.Table]:
        """``public/instruments``: contract specs, kept after OKX delists them."""
        yield from guarded(_instruments_resource)

    def account_config_() -> Iterator[pa.Table]:
        """``account/config``: account mode, permissions, uid."""
        yield from guarded(_account_config_resource)

    def snapshots() -> Iterator[pa.Table]:
        """One row per run for ``positions`` and ``balances`` with their row counts."""
        yield from guarded(_snapshots_resource)

    return [
        _resource(fills, FILLS),
        _resource(bills, BILLS),
        _resource(positions_history, POSITIONS_HISTORY, dedup_sort="u_time"),
        _resource(positions, POSITIONS),
        _resource(balances, BALANCES),
        _resource(instruments, INSTRUMENTS),
        _resource(funding_rates, FUNDING_RATES),
        _resource(account_config_, ACCOUNT_CONFIG),
        _resource(snapshots, SNAPSHOTS),
    ]
