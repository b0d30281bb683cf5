"""USD prices for the journal: OKX's hourly index candles of exactly the hours it needs.

``market/history-index-candles`` (okx-api §3.1, §3.13) serves OKX's indexes (``BTC-USD``,
``ETH-USD``, ...) as bars, newest first, 100 a page at most, 10 requests per 2 s per IP.
The journal values every amount of currency ``X`` at time ``t`` at the **open** of the
hourly bar of ``X-USD`` that contains ``t`` (the bar whose ``ts`` is ``t`` truncated to the
hour, UTC): the open is final as soon as the bar starts, so a bar fetched while still open
never needs fetching again.

Which hours: every (currency, hour) of the account's ledger entries (P&L, fees, funding,
interest, transfers), of its fills' fee and P&L currencies, and of the rows of each
quarterly-export file as it is downloaded (``needed_hours``, ``archive_hours``), less the
hours already in ``okx_raw.index_candles``, those OKX was asked for and had no bar for,
and the currencies OKX has no index for. ``USD`` is worth 1 and is never asked for. A
currency whose ``X-USD`` index OKX does not have (51001) is asked for by its second route,
``X-USDT`` and ``USDT-USD`` for the same hours (USDT at par when OKX has no USDT index).

``IndexPrices`` fetches in a thread of its own while the sync goes on (its endpoint has its
own rate limit), as the walks bring their pages (the sync hands it the hours of each page
of fills and ledger entries): each currency's missing hours are covered, newest first, by
the fixed blocks of 100 hours (counted from the epoch) that hold them, cut so that no
window reaches a stored hour (``after`` = the window's end, ``before`` = the hour before
its start): no stored hour is fetched again, and hours arriving page by page cost no more
requests than the same hours known at once. The hours of a window OKX answered are not
asked again this run (an old hour it had no bar for counts as absent). The bars are loaded with dlt by the
``index_candles`` resource of ``okx_prices_source`` (merge on ``inst_id, ts``), after the
rest of the sync; what OKX did not have is remembered in that source's state, committed
with the same load package. A run killed before that load has stored nothing: the next
one asks again for the same hours, and only for those.

State (source ``okx_prices``)::

    index_candles.unlisted  {instId: ms}          OKX answered 51001: no such index
    index_candles.absent    {instId: [[lo, hi]]}  hours asked for that OKX had no bar for
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.extract.resource import DltResource

from sources.okx.errors import OkxRequestError
from sources.okx.run import HOUR_MS, SourceObserver, _int, _Run

__all__ = [
    "INDEX_PATH",
    "SOURCE_NAME",
    "IndexPrices",
    "archive_hours",
    "index_of",
    "needed_hours",
    "okx_prices_source",
    "read_price_state",
    "stored_hours",
]

logger = logging.getLogger("okx_journal.source")

INDEX_PATH = "/api/v5/market/history-index-candles"
SOURCE_NAME = "okx_prices"
BAR = "1H"
#: bars per page (the endpoint's maximum)
PAGE_BARS = 100
#: the currency every price is in: worth 1 by definition, never asked for
USD = "USD"
#: OKX's answer for an index it does not have
_NO_SUCH_INDEX = frozenset({"51001"})
#: an hour this recent that OKX returned no bar for is asked again by the next sync
_RECENT_MS = 2 * HOUR_MS


def index_of(ccy: str) -> str:
    """OKX's USD index of a currency: ``BTC`` → ``BTC-USD``."""
    return f"{ccy}-USD"


#: the quote of the second route to USD: ``<ccy>-USDT`` × ``USDT-USD`` (or USDT at par)
USDT = "USDT"


def _hour(ms: int) -> int:
    return ms - ms % HOUR_MS


# ----------------------------------------------------------------------------- what is needed


def _tables(con: Any) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'okx_raw'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def needed_hours(con: Any, uid: str) -> dict[str, set[int]]:
    """currency → hours (epoch ms, on the hour) of the account's money events loaded so far.

    Ledger entries (every bill: P&L, fees, funding, interest, deliveries, transfers) in
    their ``ccy``; fills in their fee currency and their P&L currency (the quote currency
    of SPOT/MARGIN, the settlement currency of derivatives: the instrument's
    ``settle_ccy``, else read from the instId), for fills whose ledger entries are gone.
    """
    tables = _tables(con)
    account = _sql_text(uid)
    parts = []
    hour = "(epoch_ms(ts) // 3600000) * 3600000"
    if "bills" in tables:
        parts.append(f"SELECT ccy, {hour} FROM okx_raw.bills WHERE account_uid = {account} "
                     "AND ccy IS NOT NULL AND ts IS NOT NULL")
    if "fills" in tables:
        parts.append(f"SELECT fee_ccy, {hour} FROM okx_raw.fills WHERE account_uid = {account} "
                     "AND fee_ccy IS NOT NULL AND ts IS NOT NULL")
        settle = "NULL"
        join = ""
        if "instruments" in tables:
            join = ("LEFT JOIN (SELECT inst_id, any_value(settle_ccy) AS settle_ccy "
                    "FROM okx_raw.instruments GROUP BY inst_id) i USING (inst_id)")
            settle = "i.settle_ccy"
        parts.append(
            "SELECT CASE WHEN f.inst_type IN ('SPOT', 'MARGIN') THEN split_part(f.inst_id, '-', 2) "
            f"WHEN {settle} IS NOT NULL THEN {settle} "
            "WHEN split_part(f.inst_id, '-', 2) = 'USD' THEN split_part(f.inst_id, '-', 1) "
            f"ELSE split_part(f.inst_id, '-', 2) END, (epoch_ms(f.ts) // 3600000) * 3600000 "
            f"FROM okx_raw.fills f {join} WHERE f.account_uid = {account} AND f.ts IS NOT NULL"
        )
    if not parts:
        return {}
    out: dict[str, set[int]] = {}
    for ccy, hour_ms in con.execute(" UNION ".join(parts)).fetchall():
        if ccy and hour_ms is not None:
            out.setdefault(str(ccy), set()).add(int(hour_ms))
    return out


def stored_hours(con: Any) -> dict[str, list[int]]:
    """instId → the hours (sorted epoch ms) already in ``okx_raw.index_candles``."""
    if "index_candles" not in _tables(con):
        return {}
    out: dict[str, list[int]] = {}
    for inst, ts in con.execute(
        "SELECT inst_id, epoch_ms(ts) FROM okx_raw.index_candles ORDER BY 1, 2"
    ).fetchall():
        out.setdefault(str(inst), []).append(int(ts))
    return out


def archive_hours(path: Path, uid: str) -> dict[str, set[int]]:
    """currency → hours of the rows of a downloaded quarterly-export file (its bills)."""
    from sources.okx.archive import archive_batches

    out: dict[str, set[int]] = {}
    for table in archive_batches(path, uid):
        if "ccy" not in table.column_names or "ts" not in table.column_names:
            continue
        ms = pc.cast(table.column("ts"), pa.int64())  # microseconds
        hours = pc.multiply(pc.divide(ms, pa.scalar(HOUR_MS * 1000, pa.int64())),
                            pa.scalar(HOUR_MS, pa.int64()))
        pairs = pa.table({"ccy": table.column("ccy"), "hour": hours}).group_by(
            ["ccy", "hour"]).aggregate([])
        for ccy, hour_ms in zip(pairs.column("ccy").to_pylist(),
                                pairs.column("hour").to_pylist(), strict=True):
            if ccy and hour_ms is not None:
                out.setdefault(str(ccy), set()).add(int(hour_ms))
    return out


def read_price_state(pipeline: Any) -> dict[str, Any]:
    """The ``index_candles`` part of the ``okx_prices`` source state (committed loads)."""
    try:
        sources = pipeline.state.get("sources", {})
    except Exception:  # a pipeline without state yet
        return {}
    state = (sources.get(SOURCE_NAME) or {}).get("index_candles") or {}
    return dict(state)


# ----------------------------------------------------------------------------- fetching


def _windows(wanted: Sequence[int], stored: Sequence[int]) -> list[tuple[int, int]]:
    """``[start, end)`` windows covering ``wanted`` (sorted), newest first: the blocks of
    ``PAGE_BARS`` hours counted from the epoch that hold a wanted hour, cut at the
    ``stored`` hours (sorted) so that no window holds one. The blocks are fixed, so the
    order in which the hours arrive (page by page, from walks at different speeds) never
    costs a request more than knowing them all at once would."""
    span = PAGE_BARS * HOUR_MS
    out: list[tuple[int, int]] = []
    for block in sorted({h // span for h in wanted}, reverse=True):
        lo, hi = block * span, (block + 1) * span
        cuts = stored[bisect.bisect_left(stored, lo):bisect.bisect_left(stored, hi)]
        edges = [lo, *cuts, hi]  # windows between stored hours: [edge(+1h), next edge)
        inside = wanted[bisect.bisect_left(wanted, lo):bisect.bisect_left(wanted, hi)]
        for k in range(len(edges) - 2, -1, -1):
            start = edges[k] + (HOUR_MS if k else 0)
            end = edges[k + 1]
            i = bisect.bisect_left(inside, start)
            if start < end and i < len(inside) and inside[i] < end:
                out.append((start, end))
    return out


def _pnl_ccy(inst_type: str, inst_id: str) -> str | None:
    """The P&L currency of a fill read from its instId (``needed_hours`` prefers the
    instrument's ``settleCcy``): SPOT/MARGIN the quote; a ``-USD-`` derivative (inverse)
    the base; others the second part (``BTC-USDT-SWAP`` → USDT)."""
    parts = inst_id.split("-")
    if len(parts) < 2:
        return None
    if inst_type in ("SPOT", "MARGIN"):
        return parts[1]
    return parts[0] if parts[1] == USD else parts[1]


def _in_ranges(ranges: Sequence[Sequence[int]], hour: int) -> bool:
    return any(lo <= hour < hi for lo, hi in ranges)


def _merge_ranges(ranges: Iterable[Sequence[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for lo, hi in sorted((int(r[0]), int(r[1])) for r in ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


class IndexPrices:
    """Fetches the hourly USD index bars a sync needs, in a thread, under OKX's limit.

    ``want()`` may be called from any thread, any number of times (hours already
    stored, fetched, known to be missing at OKX, or of a currency OKX has no index for are
    dropped); ``finish()`` waits until everything wanted is fetched. The bars are in
    ``rows`` (OKX's fields as a dict per bar), what OKX did not have in ``unlisted`` and
    ``absent``, for the ``index_candles`` resource to load.

    Args:
        client: The sync's ``OkxClient`` (its limiter paces the endpoint: 10 per 2 s).
        now_ms: OKX's time now.
        stored: instId → sorted hours already in ``okx_raw.index_candles``.
        state: The source state read before the run (``read_price_state``), unless a full
            refresh asks OKX again for what it did not have.
        log: Progress lines.
    """

    def __init__(
        self,
        client: Any,
        *,
        now_ms: int,
        stored: Mapping[str, list[int]] | None = None,
        state: Mapping[str, Any] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.now_ms = now_ms
        self.log = log
        state = state or {}
        self.stored: dict[str, list[int]] = {k: sorted(v) for k, v in (stored or {}).items()}
        self.unlisted: dict[str, int] = dict(state.get("unlisted") or {})
        self.absent: dict[str, list[list[int]]] = {
            k: _merge_ranges(v) for k, v in (state.get("absent") or {}).items()
        }
        self.rows: list[dict[str, Any]] = []
        self.requests = 0
        self.warnings: list[str] = []
        self.changed = False
        self._got: dict[str, set[int]] = {}
        #: instId → the ranges of hours OKX has answered for this run
        self._fetched: dict[str, list[list[int]]] = {}
        self._asked: dict[str, set[int]] = {}
        self._pending: dict[str, set[int]] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._closing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ demands
    def _answered(self, inst: str, hours: Iterable[int]) -> list[int]:
        """``hours`` less those in a window OKX has answered this run (called with the lock
        held): an old one without a bar is remembered as absent."""
        fetched = self._fetched.get(inst)
        if not fetched:
            return list(hours)
        left: list[int] = []
        got = self._got.get(inst, set())
        for h in hours:
            if not _in_ranges(fetched, h):
                left.append(h)
            elif h not in got and h < self.now_ms - _RECENT_MS:
                self.absent[inst] = _merge_ranges([*self.absent.get(inst, []), [h, h + HOUR_MS]])
                self.changed = True
        return left

    def want_rows(self, resource: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """The hours of a page of OKX records as a walk reads it (``fills`` or ``bills``;
        others are ignored): the ledger entry's ``ccy``, the fill's fee currency and P&L
        currency (read from its ``instId``). Whatever this misses is asked for once the
        page is loaded (``needed_hours``)."""
        if resource not in ("bills", "fills") or not rows:
            return
        needs: dict[str, set[int]] = {}
        for row in rows:
            ts = _int(row.get("ts"))
            if ts is None:
                continue
            hour = _hour(ts)
            if resource == "bills":
                ccys = [row.get("ccy")]
            else:
                ccys = [row.get("feeCcy"), _pnl_ccy(str(row.get("instType") or ""),
                                                    str(row.get("instId") or ""))]
            for ccy in ccys:
                if ccy:
                    needs.setdefault(str(ccy), set()).add(hour)
        self.want(needs)

    def want(self, needs: Mapping[str, Iterable[int]]) -> None:
        """Adds (currency → hours) to fetch; hours are rounded down to the hour."""
        with self._cond:
            added = False
            for ccy, hours in needs.items():
                if not ccy or ccy == USD:
                    continue
                hours = [_hour(int(x)) for x in hours]
                for inst in self._routes(ccy):
                    added = self._want_index(inst, hours) or added
            if added:
                self._cond.notify_all()

    def _routes(self, ccy: str) -> list[str]:
        """The indexes that price ``ccy`` in USD (called with the lock held): its
        ``-USD`` index; when OKX has none, its ``-USDT`` index and USDT's own route (none
        when USDT is taken at par); nothing when OKX has neither."""
        if index_of(ccy) not in self.unlisted:
            return [index_of(ccy)]
        usdt = f"{ccy}-{USDT}"
        if ccy == USDT or usdt in self.unlisted:
            return []
        return [usdt, *self._routes(USDT)]

    def _want_index(self, inst: str, hours: Iterable[int]) -> bool:
        """Adds hours of one index to fetch (lock held); True when any is new."""
        stored = set(self.stored.get(inst, ()))
        asked = self._asked.setdefault(inst, set())
        absent = self.absent.get(inst, [])
        fresh = {
            h for h in hours
            if h not in stored and h not in asked and h <= self.now_ms
            and not _in_ranges(absent, h)
        }
        fresh = set(self._answered(inst, fresh))
        if not fresh:
            return False
        asked |= fresh
        self._pending.setdefault(inst, set()).update(fresh)
        return True

    def want_archive(self, path: Path, uid: str) -> None:
        """The hours of a downloaded quarterly-export file (never raises: the hours are
        asked for anyway once the file is imported)."""
        try:
            self.want(archive_hours(path, uid))
        except Exception as exc:
            logger.debug("could not read the hours of %s: %s", path, exc)

    # ------------------------------------------------------------------ thread
    def start(self) -> IndexPrices:
        self._thread = threading.Thread(target=self._run, name="okx-index-prices", daemon=True)
        self._thread.start()
        return self

    def finish(self) -> None:
        """Waits until every hour wanted so far is fetched, then ends the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            self.warnings.append(
                f"USD prices: OKX's index candles could not be read ({error}); the "
                "next sync asks for them again"
            )

    def drain(self) -> None:
        """Waits until every hour wanted so far is fetched; the thread goes on (a
        quarterly-export file may still want hours)."""
        with self._cond:
            while ((self._pending or self._busy) and not self._stop.is_set()
                   and self._thread is not None and self._thread.is_alive()):
                self._cond.wait(0.5)

    def has_news(self) -> bool:
        """Bars or state not handed to a load package yet (``take``)."""
        with self._cond:
            return bool(self.rows) or self.changed

    def take(self) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """The bars fetched since the last ``take`` and, when it changed since, the state
        to commit with them (a package loads them; the next one only what came after)."""
        with self._cond:
            rows, self.rows = self.rows, []
            state = self.state() if self.changed else None
            self.changed = False
            return rows, state

    def abandon(self) -> None:
        """Stops at once (the sync failed); nothing is loaded."""
        self._stop.set()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _next(self) -> tuple[str, list[int]] | None:
        with self._cond:
            while True:
                if self._stop.is_set():
                    return None
                if self._pending:
                    inst = sorted(self._pending)[0]
                    self._busy = True
                    return inst, sorted(self._pending.pop(inst))
                if self._closing:
                    return None
                self._cond.wait(0.5)

    def _run(self) -> None:
        try:
            while (item := self._next()) is not None:
                inst, hours = item
                try:
                    self._fetch(inst, hours)
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
        except BaseException as exc:  # reported by finish()
            self._error = exc

    def _fetch(self, inst: str, hours: list[int]) -> None:
        stored = self.stored.get(inst, [])
        for start, end in _windows(hours, stored):
            if self._stop.is_set():
                return
            with self._cond:  # a window fetched meanwhile may hold them already
                if not self._answered(inst, [h for h in hours if start <= h < end]):
                    continue
            params = {
                "instId": inst,
                "bar": BAR,
                "after": str(end),
                "before": str(start - 1),
                "limit": str(min(PAGE_BARS, (end - start) // HOUR_MS)),
            }
            try:
                page = self.client.get(INDEX_PATH, params)
            except OkxRequestError as exc:
                if exc.code in _NO_SUCH_INDEX:
                    ccy, _, quote = inst.partition("-")
                    with self._cond:
                        self.unlisted[inst] = self.now_ms
                        self.changed = True
                        self._pending.pop(inst, None)
                        routes = self._routes(ccy) if quote == USD else []
                    if self.log:
                        self.log(f"USD prices: OKX has no {inst} index ({exc.code})"
                                 + (f"; asking for {routes[0]}" if routes else ""))
                    if routes:  # the same hours by the second route
                        self.want({ccy: sorted(self._asked.get(inst, ()))})
                    return
                raise
            finally:
                self.requests += 1
            with self._cond:
                got = self._got.setdefault(inst, set())
                for bar in page:
                    ts = int(bar[0])
                    if start <= ts < end and ts not in got:
                        got.add(ts)
                        self.rows.append({"instId": inst, "ts": bar[0], "o": bar[1],
                                          "h": bar[2], "l": bar[3], "c": bar[4],
                                          "confirm": bar[5] if len(bar) > 5 else ""})
                self._fetched[inst] = _merge_ranges([*self._fetched.get(inst, []), [start, end]])
                missing = [h for h in hours if start <= h < end and h not in got
                           and h < self.now_ms - _RECENT_MS]
                if missing:
                    self.absent[inst] = _merge_ranges(
                        [*self.absent.get(inst, []), *([h, h + HOUR_MS] for h in missing)])
                    self.changed = True

    def state(self) -> dict[str, Any]:
        """What to keep in the source state."""
        return {"unlisted": dict(self.unlisted),
                "absent": {k: v for k, v in self.absent.items() if v}}


# ----------------------------------------------------------------------------- the dlt source


@dlt.source(name=SOURCE_NAME, section="okx", max_table_nesting=0)
def okx_prices_source(prices: Any = None, client: Any = None, uid: str = "") -> Sequence[DltResource]:
    """The USD prices a sync fetched (``IndexPrices``) as the ``index_candles`` resource."""
    from sources.okx.resources.index_candles import index_candles

    run = _Run(
        client=client,
        uid=uid,
        config_row={},
        now_ms=int(time.time() * 1000),
        full_refresh=False,
        observer=SourceObserver(),
        prices=prices,
    )

    def items() -> Iterator[Any]:
        yield from index_candles.extract(run)

    return [index_candles.to_dlt(items)]
