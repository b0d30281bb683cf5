"""``funding_bills``: the funding account's ledger (deposits, withdrawals, transfers ...).

``asset/bills`` serves the past month (6 requests / 1 s), ``asset/bills-history``
everything since 2021-02-01 (1 request / 1 s, refreshed about every 30 s); both page
newest first on ``ts`` (``after`` = older), with ``sources/okx/asset.py``'s ``ts_walk``.
Fields (okx-api §3.11): ``billId, ccy, clientId, balChg, bal, type, notes, ts``.

Each run walks ``asset/bills`` from the newest record down to its checkpoint (the newest
``ts`` loaded, less ``OVERLAP_MS``) or, when that lies further back than the month it
serves (less ``BOUNDARY_MARGIN_MS``), down to that boundary; then, unless the first walk
reached the checkpoint, ``asset/bills-history`` from the oldest millisecond the first
walk read down to the checkpoint (a first run: until OKX returns nothing). An
``asset/bills`` walk that runs out of records before a checkpoint inside its month (less
the margin) has read everything after it (OKX's documented month is trusted there); one
that runs out before the boundary is continued on ``asset/bills-history``. A millisecond that fills a whole page is read again, exhaustively,
from ``asset/bills-history`` with ``begin``/``end`` around it and ``pagingType=2`` (a
unique ``billId`` cursor), so nothing is lost if OKX cuts a page inside one millisecond.

State: ``accounts.<uid>.funding_bills = {hwm_ts, oldest_ts, synced_at}``: the newest and
oldest ``ts`` loaded so far, and the OKX time of the last run that completed its walk. The oldest ``ts`` this run read goes to
``run.observer.reach("funding_bills", ...)`` (after a first sync: the account's first
funding activity), and ``run.funding_done`` is set when the resource ends, however it
ends. A ``50030``/``50120``/``51xxx`` answer skips it with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from sources.okx import asset
from sources.okx.asset import (
    drop_loaded,
    new_rows,
    resume_ts,
    skip_reason,
    ts_walk,
    warn_skipped,
)
from sources.okx.errors import OkxError
from sources.okx.pagination import Page, WalkReport, walk_back
from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import DAY_MS, _Batcher, _int, _Run
from sources.okx.schema import FUNDING_BILLS

__all__ = ["HISTORY_PATH", "RECENT_PATH", "funding_bills"]

RECENT_PATH = "/api/v5/asset/bills"
HISTORY_PATH = "/api/v5/asset/bills-history"
#: How far back ``asset/bills`` reaches ("past 1 month").
RECENT_WINDOW_MS = 30 * DAY_MS
#: The ``asset/bills-history`` walk takes over this far inside the recent window.
BOUNDARY_MARGIN_MS = 2 * DAY_MS


# merge: each run re-reads an overlap below its checkpoint and the two walks meet on a
# re-read millisecond; the key (account_uid, bill_id) deduplicates them.
@okx_resource(
    FUNDING_BILLS,
    write_disposition=MERGE,
    cursor="ts",
    finished=lambda run: run.funding_done.set(),
)
def funding_bills(run: _Run) -> Iterator[pa.Table]:
    """``asset/bills`` (past month) and ``asset/bills-history`` (since 2021-02-01)."""
    acct = run.account_state()
    state: dict[str, Any] = acct.setdefault("funding_bills", {})
    stop_ts = None if run.full_refresh else resume_ts(state)
    boundary = run.now_ms - RECENT_WINDOW_MS + BOUNDARY_MARGIN_MS
    recent_stop = boundary if stop_ts is None else max(stop_ts, boundary)
    fetch_recent = run.fetcher(RECENT_PATH)
    fetch_history = run.fetcher(HISTORY_PATH)
    batcher = _Batcher(run, "funding_bills", FUNDING_BILLS, {"account_uid": run.uid})
    seen: set[str] = set()
    span: list[int] = []
    path = RECENT_PATH

    def one_ms(ms: int) -> Iterator[Page]:
        """Every funding bill of one millisecond (``billId`` cursor, unique).

        ``begin``/``end`` one ms either side: whether OKX counts them inclusive is not
        documented; the neighbours' rows that may come too are merged like any other.
        """
        rep = WalkReport(name=f"{HISTORY_PATH} ts={ms}")
        run.observer.add_walk(rep)
        return walk_back(fetch_history, params={"pagingType": "2", "begin": str(ms - 1),
                                                "end": str(ms + 1)},
                         cursor_field="billId", time_field="ts", limit=asset.PAGE_ROWS,
                         report=rep)

    def take(page: Page) -> pa.Table | None:
        fresh = new_rows(page, "billId", seen)
        span.extend(t for t in (_int(r.get("ts")) for r in fresh) if t is not None)
        if span:
            span[:] = [min(span), max(span)]
        return batcher.add(drop_loaded(run, "funding_bills", fresh, "billId"))

    recent = WalkReport(name=RECENT_PATH)
    run.observer.add_walk(recent)
    try:
        for page in ts_walk(fetch_recent, stop_ts=recent_stop, limit=asset.PAGE_ROWS,
                            report=recent, same_ms=one_ms):
            table = take(page)
            if table is not None:
                yield table
        # asset/bills keeps a month: a walk that ran out of records with its checkpoint
        # inside that month (less the margin) read everything down to the checkpoint
        covered = recent.exhausted and stop_ts is not None and stop_ts >= boundary
        if not covered and not (recent.reached_checkpoint and recent_stop == stop_ts):
            # older than the recent window (or than what asset/bills turned out to serve)
            path = HISTORY_PATH
            history = WalkReport(name=HISTORY_PATH)
            run.observer.add_walk(history)
            start = recent.oldest[0] + 1 if recent.oldest is not None else None
            for page in ts_walk(fetch_history, stop_ts=stop_ts, start_after=start,
                                limit=asset.PAGE_ROWS, report=history, same_ms=one_ms):
                table = take(page)
                if table is not None:
                    yield table
    except OkxError as exc:
        if not skip_reason(exc):
            raise
        warn_skipped(run, "funding_bills", path, exc)
        return
    table = batcher.flush()
    if table is not None:
        yield table
    # everything read is in this load package: the cursor moves with it
    if span:
        run.observer.reach("funding_bills", span[0])
        old_hwm, old_oldest = _int(state.get("hwm_ts")), _int(state.get("oldest_ts"))
        state["hwm_ts"] = max(span[1], old_hwm) if old_hwm is not None else span[1]
        state["oldest_ts"] = min(span[0], old_oldest) if old_oldest is not None else span[0]
    state["synced_at"] = run.now_ms
