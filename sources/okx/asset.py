"""The funding account's endpoints (``/api/v5/asset/``): walks on a time cursor, and the
rules its three resources (``funding_bills``, ``deposits``, ``withdrawals``) share.

These endpoints page newest first on ``ts``, a millisecond time that several records
may share (okx-api §0.4, §3.11): ``after=<ts>`` returns records strictly older. Whether
OKX returns every record of the page's last millisecond on that page is not documented
(the simulator does, as positions-history does on ``uTime``), so ``ts_walk`` relies on
neither: after a full page the next one starts at the page's oldest ``ts`` **plus one**,
re-reading that millisecond (the resources drop the rows they already have, by key, and the merge
deduplicates across runs). Only a page that holds nothing but one millisecond, as full
as ``limit``, cannot move on that way: then ``same_ms`` (when given) reads that
millisecond exhaustively some other way (``asset/bills-history`` with ``begin``/``end``
around it and ``pagingType=2`` pages on the unique ``billId``) before the walk goes below
it; ``deposit-history`` and ``withdrawal-history`` have no such way, and warn.

A key without access to the funding account (a sub-account's key, a key with fewer
permissions) gets ``50030``/``50120``, and OKX answers some accounts' requests with a
``51xxx`` code: the resource is skipped with a warning (the trading data is still
complete, and the cursor stays where it was); any other error fails the sync as
everywhere else (``501xx``, ``50119``: the key itself is wrong).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from sources.okx.errors import OkxError
from sources.okx.pagination import PAGE_LIMIT, Fetch, Page, PaginationError, WalkReport
from sources.okx.run import DAY_MS, HOUR_MS, _Batcher, _fmt_day, _int, _loaded_keys, _Run
from sources.okx.schema import TableSpec, snake

__all__ = [
    "OVERLAP_MS",
    "PAGE_ROWS",
    "REREAD_MS",
    "SKIPPED_CODES",
    "drop_loaded",
    "new_rows",
    "record_history",
    "resume_ts",
    "skip_reason",
    "ts_walk",
    "warn_skipped",
]

logger = logging.getLogger("okx_journal.source")

#: Re-read below each checkpoint (the ``ts`` of the newest record loaded): records OKX
#: lists with a time a little in the past (``asset/bills-history`` is refreshed about every
#: 30 s) are picked up by the next run; the merge deduplicates.
OVERLAP_MS = HOUR_MS
#: Deposits and withdrawals change ``state`` after they are first listed: every run
#: re-reads at least this far back (and back to the oldest one not yet final).
REREAD_MS = 30 * DAY_MS
#: Page size asked of the funding-account endpoints (OKX's maximum).
PAGE_ROWS = PAGE_LIMIT
#: OKX codes that skip a funding-account resource instead of failing the sync: no
#: permission for the endpoint (50030), the key lacks the permission (50120).
SKIPPED_CODES = frozenset({"50030", "50120"})


def skip_reason(exc: OkxError) -> bool:
    """Whether ``exc`` skips a funding-account resource (with a warning) rather than
    failing the sync: 50030, 50120, or a ``51xxx`` answer."""
    code = str(exc.code or "")
    return code in SKIPPED_CODES or (len(code) == 5 and code.startswith("51"))


def warn_skipped(run: _Run, resource: str, path: str, exc: OkxError) -> None:
    """Tells the user, in one sentence, that ``resource`` was not synced and why."""
    detail = f"code {exc.code}" + (f": {exc.okx_msg}" if exc.okx_msg else "")
    if str(exc.code) in SKIPPED_CODES:
        why = ("this API key has no access to the funding account (give it the Read "
               "permission on the main account's key to load it)")
    else:
        why = "OKX refused the request for this account"
    run.observer.warn(
        f"{resource}: not synced, {why} ({path}, {detail}); the trading data is complete "
        "and the next sync tries again."
    )
    logger.warning("%s skipped: %s %s", resource, path, detail)


def ts_walk(
    fetch: Fetch,
    *,
    params: Mapping[str, str] | None = None,
    stop_ts: int | None = None,
    start_after: int | None = None,
    limit: int = PAGE_LIMIT,
    report: WalkReport | None = None,
    same_ms: Callable[[int], Iterator[Page]] | None = None,
    on_crowded_ms: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Page]:
    """Pages backwards on ``ts`` from the newest record (or ``start_after``) to ``stop_ts``.

    Args:
        fetch: Called with the query of one page; returns OKX's ``data``.
        params: Fixed query parameters; ``after`` and ``limit`` are added.
        stop_ts: Stop after the page that reaches a record at or below this time; None
            walks until OKX returns an empty page.
        start_after: The first page's ``after`` (records strictly older than it).
        limit: Page size sent.
        report: Filled in as the walk goes (``newest``/``oldest`` as ``(ts, ts)``).
        same_ms: Yields every record of one millisecond; used when a full page holds
            only that millisecond (OKX may have more of it than one page).
        on_crowded_ms: Called instead when there is no ``same_ms``: records of that
            millisecond beyond the page may be missed.
        stop: When set, the walk ends before its next request.

    Yields:
        Non-empty pages (the same record may come twice: the caller deduplicates by key).

    Raises:
        PaginationError: A page without ``ts``, or one that did not move backwards.
    """
    rep = report if report is not None else WalkReport()
    base = dict(params or {})
    after = start_after
    while True:
        if stop is not None and stop.is_set():
            return
        query = dict(base)
        if after is not None:
            query["after"] = str(after)
        query["limit"] = str(limit)
        page = fetch(query)
        rep.pages += 1
        if not page:
            rep.exhausted = rep.done = True
            return
        times = [t for t in (_int(r.get("ts")) for r in page) if t is not None]
        if not times:
            raise PaginationError(f"{rep.name}: a page of {len(page)} rows has no ts")
        lowest, highest = min(times), max(times)
        if after is not None and lowest >= after:
            raise PaginationError(
                f"{rep.name}: the server returned ts {lowest} for after={after}; "
                "the cursor did not move backwards"
            )
        rep.rows += len(page)
        if rep.newest is None or highest > rep.newest[0]:
            rep.newest = (highest, highest)
        if rep.oldest is None or lowest < rep.oldest[0]:
            rep.oldest = (lowest, lowest)
        yield page
        if stop_ts is not None and lowest <= stop_ts:
            rep.reached_checkpoint = rep.done = True
            return
        if len(page) < limit:
            nxt = lowest  # a page OKX did not fill was not cut inside its oldest millisecond
        else:
            nxt = lowest + 1  # re-read the oldest millisecond: OKX may have cut the page in it
        if after is not None and nxt >= after:
            # the page is one millisecond only, and that millisecond was already asked for
            if len(page) >= limit:
                if same_ms is not None:
                    yield from same_ms(lowest)
                elif on_crowded_ms is not None:
                    on_crowded_ms(lowest)
            nxt = lowest
        after = nxt


def new_rows(page: Page, key: str, seen: set[str]) -> Page:
    """The rows of ``page`` whose ``key`` was not seen yet this run (and notes them)."""
    out: Page = []
    for row in page:
        value = str(row.get(key) or "")
        if value in seen:
            continue
        if value:
            seen.add(value)
        out.append(row)
    return out


def drop_loaded(run: _Run, table: str, page: Page, id_field: str,
                state_field: str | None = None) -> Page:
    """Removes re-read rows the destination already holds as they are.

    A row is dropped when a row of this account with its id (and, given
    ``state_field``, the same state) is loaded: re-reading the overlap then costs no
    merge, and a sync with nothing new leaves the table untouched. Rows whose state
    changed (a deposit credited since) are kept, so the merge updates them.
    """
    ids = [str(r.get(id_field) or "") for r in page]
    ids = [i for i in ids if i and i.replace("-", "").isalnum()]
    if not ids:
        return page
    key_col = snake(id_field)
    cols = key_col + (f", coalesce({snake(state_field)}, '')" if state_field else "")
    known = _loaded_keys(run, table, cols,
                         f"{key_col} IN (" + ",".join(f"'{i}'" for i in ids) + ")")
    if not known:
        return page

    def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
        value = str(row.get(id_field) or "")
        return (value, str(row.get(state_field) or "")) if state_field else (value,)

    return [r for r in page if key(r) not in known]


def resume_ts(state: Mapping[str, Any]) -> int | None:
    """Where an incremental walk of a funding-account resource may stop: the newest
    ``ts`` loaded (``hwm_ts``) less ``OVERLAP_MS``; None before any record was loaded
    (walk everything)."""
    hwm = _int(state.get("hwm_ts"))
    return None if hwm is None else hwm - OVERLAP_MS


def _span(rows: Page, lo: int | None, hi: int | None) -> tuple[int | None, int | None]:
    """``(lo, hi)`` widened by the ``ts`` of ``rows``."""
    for row in rows:
        ts = _int(row.get("ts"))
        if ts is None:
            continue
        lo = ts if lo is None else min(lo, ts)
        hi = ts if hi is None else max(hi, ts)
    return lo, hi


def record_history(
    run: _Run,
    *,
    table: TableSpec,
    path: str,
    id_field: str,
    final_states: frozenset[str],
) -> Iterator[pa.Table]:
    """``deposit-history`` or ``withdrawal-history``: one ``ts`` walk, newest first.

    The first run walks until OKX returns nothing (their retention is not documented).
    Later runs walk back to the earliest of: the newest ``ts`` loaded less
    ``OVERLAP_MS`` (``resume_ts``), ``REREAD_MS`` ago, and the oldest record loaded
    whose ``state`` was not final then (``pending_ts``), so that the merge updates a
    record whose state changed. State: ``accounts.<uid>.<table> = {hwm_ts, pending_ts, synced_at}``.
    A ``50030``/``50120``/``51xxx`` answer skips the resource with a warning.
    """
    acct = run.account_state()
    state: dict[str, Any] = acct.setdefault(table.name, {})
    stop_ts = None if run.full_refresh else resume_ts(state)
    if stop_ts is not None:
        stop_ts = min(stop_ts, run.now_ms - REREAD_MS)
        pending = _int(state.get("pending_ts"))
        if pending is not None:
            stop_ts = min(stop_ts, pending - 1)
    batcher = _Batcher(run, table.name, table, {"account_uid": run.uid})
    seen: set[str] = set()
    lo = hi = pending_now = None
    rep = WalkReport(name=path)
    run.observer.add_walk(rep)

    def crowded(ms: int) -> None:
        run.observer.warn(
            f"{table.name}: a whole page of {path} holds records of one millisecond "
            f"({_fmt_day(ms)}); if OKX had more of that millisecond, some may be missing."
        )

    try:
        for page in ts_walk(run.fetcher(path), stop_ts=stop_ts, limit=PAGE_ROWS, report=rep,
                            on_crowded_ms=crowded):
            fresh = new_rows(page, id_field, seen)
            lo, hi = _span(fresh, lo, hi)
            for row in fresh:
                ts = _int(row.get("ts"))
                if ts is not None and str(row.get("state") or "") not in final_states:
                    pending_now = ts if pending_now is None else min(pending_now, ts)
            out = batcher.add(drop_loaded(run, table.name, fresh, id_field, "state"))
            if out is not None:
                yield out
    except OkxError as exc:
        if not skip_reason(exc):
            raise
        warn_skipped(run, table.name, path, exc)
        return
    out = batcher.flush()
    if out is not None:
        yield out
    # everything read is in this load package: the cursors move with it
    newest = max((t for t in (hi, _int(state.get("hwm_ts"))) if t is not None), default=None)
    state["synced_at"] = run.now_ms
    if newest is not None:
        state["hwm_ts"] = newest
    if pending_now is None:
        state.pop("pending_ts", None)
    else:
        state["pending_ts"] = pending_now
