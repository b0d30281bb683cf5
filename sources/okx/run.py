"""What the resources of the OKX source share: the run, the observer, Arrow batches.

The per-run context ``_Run`` (client, account, clock, the package's plans and the
signals between resources), the ``SourceObserver`` that reports a run to the sync, the
``TableReader`` on the destination, the credentials as dlt configuration, and the
batching of OKX pages into Arrow tables. The resources themselves are in
``sources/okx/resources/``, the ledger walks in ``sources/okx/walks.py``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import CredentialsConfiguration
from dlt.common.typing import TSecretStrValue

from sources.okx.client import OkxClient
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError
from sources.okx.pagination import Page, WalkReport
from sources.okx.schema import TableSpec, rows_to_arrow, snake

if TYPE_CHECKING:
    from sources.okx.walks import _Plan

__all__ = [
    "BACKFILL_PACKAGE_ROWS",
    "BATCH_ROWS",
    "INST_TYPES",
    "OkxCredentialsConfiguration",
    "SourceObserver",
    "TableReader",
    "duckdb_reader",
]

logger = logging.getLogger("okx_journal.source")

INST_TYPES: tuple[str, ...] = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: A first backfill (or one after a long pause) is loaded in several packages, oldest
#: first, each covering a time window of the last 3 months (fills older than that, if
#: OKX returns any, first, walked down to OKX's end in packages of this size): the load step merges a
#: package's tables in one statement, so its memory follows the package's size. The
#: ledger rows a window aims at: the first window is sized from the density of the newest
#: ledger entries, each next one from the density of the last window.
BACKFILL_PACKAGE_ROWS = 50_000
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
    #: receives each page of OKX records as a walk reads it (resource, records)
    on_page: Callable[[str, Sequence[Mapping[str, Any]]], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _done: dict[str, threading.Event] = field(default_factory=dict, repr=False)

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

    def _event(self, resource: str) -> threading.Event:
        with self._lock:
            return self._done.setdefault(resource, threading.Event())

    def mark_done(self, resource: str) -> None:
        """``resource`` has ended this run (however it ended)."""
        self._event(resource).set()

    def wait_done(self, resource: str, timeout: float | None = None) -> bool:
        """Waits until ``resource`` has ended this run; False on timeout."""
        return self._event(resource).wait(timeout)

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
    #: the plan of each ledger resource for this package (see ``walks._ledger_plan``)
    plans: dict[str, _Plan] = field(default_factory=dict)
    #: this package completes the sync (every ledger reached its recent window)
    final: bool = True
    #: SWAP instId → newest funding bill (ms) seen by this run's bills resource
    funding_bills: dict[str, int] = field(default_factory=dict)
    bills_done: threading.Event = field(default_factory=threading.Event)
    #: set when the funding_bills resource ends, however it ends (``observer.reached_ms``
    #: then holds the oldest funding bill it read)
    funding_done: threading.Event = field(default_factory=threading.Event)
    failed: threading.Event = field(default_factory=threading.Event)
    #: the USD prices fetched for this sync (``sources.okx.prices.IndexPrices``), loaded by
    #: the ``index_candles`` resource of ``sources.okx.prices.okx_prices_source``
    prices: Any = None
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


# ----------------------------------------------------------------------------- small helpers


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


# ----------------------------------------------------------------------------- Arrow batches


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
            if self.run.observer.on_page is not None:
                self.run.observer.on_page(self.resource, page)
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


# ----------------------------------------------------------------------------- loaded rows


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
