"""The newest-first ledger walks that ``fills`` and ``bills`` share, and their planning.

A ledger resource is served by a short "recent" endpoint and a long "history" one
(``_Ledger``): ``bills-archive`` keeps 3 months as documented, ``fills-history`` has no
window the walks rely on (OKX's docs say 3 months or 1 year): it is walked back until
OKX returns nothing older. Each run walks the recent endpoint from the newest record
down to the checkpoint and, when the checkpoint is older than that window (or on the
first run), walks the history endpoint in parallel time slices for everything up to a
boundary inside the recent window; the oldest slice has no lower bound and a first walk
ends on OKX's empty page; a gap the recent endpoint turns out not to cover is walked
afterwards. A backfill larger than a package is planned here as time windows of the
last 3 months, oldest first (``_ledger_plan``, ``_probe_first_window``, ``_next_window``);
an open-ended history with more than a page per instType below those 3 months is first
walked down to its end in packages of about ``package_rows`` rows ("deep" packages,
``_probe_deep``). The module docstring of ``sources.okx.source`` describes the state
these walks keep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sources.okx.pagination import (
    Checkpoint,
    Page,
    WalkReport,
    parallel_pages,
    walk_back,
)
from sources.okx.run import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    _Batcher,
    _fmt_day,
    _int,
    _loaded_keys,
    _option_family,
    _Run,
)
from sources.okx.schema import TableSpec

#: 3 months: OKX's documented retention of bills-archive and positions-history, the least
#: any reading of OKX's docs gives fills-history, and the span the backfill's time windows
#: are planned in (older fills, if OKX returns any, come first, in "deep" packages).
HISTORY_WINDOW_MS = 90 * DAY_MS
#: Re-read below each checkpoint; the merge deduplicates.
OVERLAP_MS = 10 * MINUTE_MS
#: How far inside the recent endpoint's window the long endpoint's walk starts.
BOUNDARY_MARGIN_MS = 12 * HOUR_MS
#: Parallel time slices of a long walk when requests are not rate limited.
UNLIMITED_SLICES = 4


@dataclass(frozen=True)
class _Ledger:
    """A ledger resource served by a short "recent" endpoint and a long "history" one.

    Attributes:
        resource: The resource's name (and its key in the source state).
        table: Its raw table.
        recent_path: The endpoint of the last days (read unfiltered).
        recent_window_ms: How far back ``recent_path`` reaches.
        history_path: The long endpoint.
        history_scopes: One walk of ``history_path`` per instType; ``(None,)`` for one
            unfiltered walk.
        history_window_ms: How far back ``history_path`` reaches, when OKX documents it;
            None: open-ended, walked back until OKX returns nothing older.
    """

    resource: str
    table: TableSpec
    recent_path: str
    recent_window_ms: int
    history_path: str
    history_scopes: tuple[str | None, ...]
    history_window_ms: int | None = HISTORY_WINDOW_MS

    @property
    def planning_window_ms(self) -> int:
        """The span the backfill's time windows are planned in (3 months if open-ended)."""
        return self.history_window_ms or HISTORY_WINDOW_MS


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
        deep: A "deep" package of an open-ended history: scope ("*" for None) → the
            cursor its walk below ``window_end`` goes on from (None: from the top), for
            the scopes that have not reached OKX's end yet; each walks about
            ``package_rows / len(deep)`` rows.
    """

    window_end: int
    final: bool
    window_ms: int = 0
    begin: int | None = None
    deep: Mapping[str, int | None] | None = None


def _ledger_plan(run: _Run, ledger: _Ledger, top: Mapping[str, Any],
                 first_window: Callable[[], int | None]) -> _Plan:
    """Decides whether this package walks a backfill window or runs as usual.

    State ``backfill = {through, window_ms}`` (committed with each window's package) says
    a backfill is under way: the next window starts ``OVERLAP_MS`` below ``through``. A
    new backfill starts when the 3-month endpoint must be walked over more than one
    window (first sync, or a sync after a pause longer than the recent window). A full
    refresh is always one package. ``first_window`` sizes a new backfill's first window
    (None: everything fits one package).

    An open-ended history (``history_window_ms`` None) walked from scratch is probed
    below the last 3 months first (``_probe_deep``, one request per scope): when a scope
    has a full page there, the backfill starts with deep packages that walk every scope
    down to OKX's end (``backfill = {deep: {end, after, oldest_ts}, window_ms}``), then
    goes on with the windows from ``end`` (``through = end``).
    """
    boundary = run.now_ms - ledger.recent_window_ms + BOUNDARY_MARGIN_MS
    oldest = run.now_ms - ledger.planning_window_ms
    open_ended = ledger.history_window_ms is None
    if run.full_refresh or run.package_rows <= 0:
        return _Plan(boundary, True)
    backfill = top.get("backfill") or {}
    through = _int(backfill.get("through"))
    window = _int(backfill.get("window_ms")) or 0
    deep = backfill.get("deep")
    begin: int | None = None
    if isinstance(deep, Mapping) and _int(deep.get("end")) is not None:
        after = deep.get("after") or {}
        return _Plan(
            int(deep["end"]), False, window or ledger.planning_window_ms, None,
            deep={str(k): _int(v) for k, v in after.items()},
        )
    if through is not None:
        # an open-ended history has no floor: the deep packages loaded what lies below
        begin = through - OVERLAP_MS if open_ended else max(oldest, through - OVERLAP_MS)
        start = begin
    else:
        cp = _checkpoint(top)
        if cp is not None and cp.ts is not None and cp.ts >= boundary + OVERLAP_MS:
            return _Plan(boundary, True)  # incremental: the recent endpoint suffices
        walked = set(top.get("history_scopes", ()))
        start = oldest
        from_scratch = True
        if cp is not None and cp.ts is not None and all(
            (scope or "*") in walked for scope in ledger.history_scopes
        ):
            # the oldest walk stops at the checkpoint, however old it is
            start = cp.ts - OVERLAP_MS if open_ended else max(oldest, cp.ts - OVERLAP_MS)
            from_scratch = False
        window = first_window() or 0
        if open_ended and from_scratch and _probe_deep(run, ledger, oldest):
            return _Plan(
                oldest, False, window or ledger.planning_window_ms, None,
                deep={(scope or "*"): None for scope in ledger.history_scopes},
            )
        if not window:
            return _Plan(boundary, True)
    if start + window >= boundary:
        return _Plan(boundary, True, window, begin)
    return _Plan(start + window, False, window, begin)


def _probe_first_window(run: _Run, ledger: _Ledger) -> int | None:
    """The first backfill window: long enough for about ``package_rows`` ledger rows at
    the density of the newest 100 entries of ``ledger``'s 3-month endpoint (one request;
    the source probes ``bills-archive``), or None when the whole 3-month ledger has fewer
    than 100 entries (one package will do)."""
    boundary = run.now_ms - ledger.recent_window_ms + BOUNDARY_MARGIN_MS
    page = run.client.get(ledger.history_path, {"end": str(boundary), "limit": "100"})
    times = [t for t in (_int(r.get("ts")) for r in page) if t is not None]
    if len(times) < 100:
        return None
    span = max(times) - min(times)
    return int(max(HOUR_MS, min(span * run.package_rows // len(times), HISTORY_WINDOW_MS)))


def _probe_deep(run: _Run, ledger: _Ledger, end: int) -> bool:
    """Whether any scope of ``ledger``'s history endpoint has a full page below ``end``
    (one request per scope: an empty page for an account whose records all fit in the
    last 3 months). Fewer rows than a page in every scope are read by the usual oldest
    walk of the first package; more start the backfill with deep packages."""
    for scope in ledger.history_scopes:
        page = run.client.get(
            ledger.history_path, {**_scope_params(scope), "end": str(end), "limit": "100"}
        )
        if len(page) >= 100:
            return True
    return False


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


def _budgeted_walk(
    fetch: Callable[[Mapping[str, str]], Page],
    params: Mapping[str, str],
    start_after: int | None,
    budget: int,
    report: WalkReport,
) -> Callable[[threading.Event], Iterator[Page]]:
    """A billId walk down to OKX's end that stops after the page that reaches ``budget``
    rows (its report's ``oldest`` cursor is where the next package goes on)."""

    def run(stop: threading.Event) -> Iterator[Page]:
        rows = 0
        for page in walk_back(fetch, params=params, start_after=start_after, report=report,
                              stop=stop):
            yield page
            rows += len(page)
            if rows >= budget:
                return

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
    ends: dict[str, WalkReport] | None = None,
) -> Iterator[Page]:
    """Every page a ledger resource needs this run (recent and long endpoints).

    ``ends`` receives, per scope ("*" for None), the report of the history walk that has
    no lower bound (the oldest slice, or a deep walk): the one that may reach OKX's end.
    """
    ends = ends if ends is not None else {}
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
    if plan.deep is not None:
        # a deep package: every scope not at OKX's end yet walks on below ``window_end``
        budget = max(100, run.package_rows // max(1, len(plan.deep)))
        deep_walks = []
        for key, after in plan.deep.items():
            scope = None if key == "*" else key
            rep = WalkReport(name=f"{ledger.history_path} {scope or ''} ..{plan.window_end} deep")
            run.observer.add_walk(rep)
            ends[key] = rep
            params = {**_scope_params(scope), "end": str(plan.window_end)}
            deep_walks.append(_budgeted_walk(fetch_history, params, after, budget, rep))
        yield from parallel_pages(deep_walks, on_idle=on_idle)
        return
    # a backfill window before the last walks the 3-month endpoint only
    walks = [_walk(fetch_recent, {}, cp, OVERLAP_MS, None, recent)] if plan.final else []
    history: dict[str | None, list[WalkReport]] = {}
    if need_history:
        for scope in ledger.history_scopes:
            c = scope_cp(scope)
            lowest = run.now_ms - ledger.planning_window_ms
            if plan.begin is not None:  # bounded by ``begin`` instead
                lowest = plan.begin if ledger.history_window_ms is None else max(lowest, plan.begin)
                c = None
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
                if begin is None:
                    ends[scope or "*"] = rep
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
    ends: dict[str, WalkReport] = {}
    batcher = _Batcher(run, ledger.resource, ledger.table, {"account_uid": run.uid})
    prev_cp = _checkpoint(top)
    skip_below = None if run.full_refresh or prev_cp is None else prev_cp.cursor
    newest: dict[str, tuple[int, int | None]] = {}
    families: set[str] = set()
    funding: dict[str, int] = {}
    walked_rows = 0
    oldest_ts: int | None = None
    for page in _ledger_pages(run, ledger, state, run.beat if ledger.resource == "fills" else None,
                              ends):
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
    for key in RETURNED_KEYS:  # what OKX returned at the end of an earlier walk
        if key in top:
            new_top[key] = top[key]
    plan = run.plans.get(ledger.resource)
    # An open-ended history names what OKX returned once its walks reached OKX's end:
    # the oldest record read by the whole (first) walk, over every package of a backfill.
    open_ended = ledger.history_window_ms is None
    before = top.get("backfill") or {}
    seen = _min_ts(before.get("oldest_ts"), (before.get("deep") or {}).get("oldest_ts"),
                   oldest_ts)
    at_end = bool(before.get("at_end")) or (
        bool(ends) and all(rep.exhausted for rep in ends.values())
        and (plan is None or plan.deep is None)
    )
    if plan is not None and plan.deep is not None:
        new_top["backfill"] = backfill = _after_deep(plan, ends, seen)
        at_end = "through" in backfill
    elif plan is not None and not plan.final:
        new_top["backfill"] = backfill = {
            "through": plan.window_end,
            "window_ms": _next_window(
                plan.window_ms, walked_rows, run.package_rows,
                plan.window_end - (oldest_ts if oldest_ts is not None else plan.window_end),
            ),
        }
        if open_ended:
            backfill.update(at_end=at_end, oldest_ts=seen)
    elif open_ended and at_end:
        # every walk down to OKX's end ended on an empty page: that is what OKX keeps
        _returned(run, ledger, new_top, seen)
    if ledger.resource == "fills":
        for scope, (bill_id, ts) in newest.items():
            old = _checkpoint(state.get(scope))
            if scope and (old is None or bill_id > old.cursor):
                state[scope] = {"hwm": str(bill_id), "hwm_ts": ts}
    state["*"] = new_top


#: State keys (``<resource>.*``) of an open-ended history: the oldest record time OKX
#: returned when a walk last reached its end, and the longest window (ms) OKX has shown.
RETURNED_KEYS = ("returned_oldest_ts", "returned_window_ms")


def _min_ts(*values: Any) -> int | None:
    return min((t for t in (_int(v) for v in values) if t is not None), default=None)


def _after_deep(plan: _Plan, ends: Mapping[str, WalkReport], oldest: int | None) -> dict[str, Any]:
    """The backfill state after a deep package: the scopes still short of OKX's end and
    where they go on, or, once every scope is there, the windows from ``end`` on."""
    pending: dict[str, str | None] = {}
    for key, after in (plan.deep or {}).items():
        rep = ends.get(key)
        if rep is None or not rep.exhausted:
            cursor = rep.oldest[0] if rep is not None and rep.oldest is not None else after
            pending[key] = None if cursor is None else str(cursor)
    if pending:
        return {
            "deep": {"end": plan.window_end, "after": pending, "oldest_ts": oldest},
            "window_ms": plan.window_ms,
        }
    return {"through": plan.window_end, "window_ms": plan.window_ms, "at_end": True,
            "oldest_ts": oldest}


def _returned(run: _Run, ledger: _Ledger, new_top: dict[str, Any], oldest: int | None) -> None:
    """Records (and tells) how far back OKX returned an open-ended history, once its
    walks reached OKX's end."""
    if oldest is None:
        return
    window = max(run.now_ms - oldest, _int(new_top.get("returned_window_ms")) or 0)
    new_top.update(returned_oldest_ts=oldest, returned_window_ms=window)
    run.observer.warn(
        f"{ledger.resource}: OKX returned {ledger.resource} back to "
        f"{_fmt_date(oldest)} ({_about(run.now_ms - oldest)}; "
        f"{ledger.history_path.removeprefix('/api/v5/')} was walked until it returned "
        "nothing older); older trades can only come from the ledger."
    )


def _fmt_date(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


def _about(ms: int) -> str:
    """``about 12 months`` / ``about 5 days``."""
    days = ms / DAY_MS
    if days < 60:
        return f"about {max(1, round(days))} days"
    return f"about {round(days / 30.44)} months"


def _retention_warning(run: _Run, resource: str, top: Mapping[str, Any],
                       window_ms: int | None) -> None:
    """Warns when the last sync of ``resource`` is older than OKX's window.

    ``window_ms`` is the documented window; None (an open-ended history) takes the
    longest window OKX has shown for this account (``returned_window_ms``), at least
    ``HISTORY_WINDOW_MS``. The records between that sync and the oldest OKX still serves
    cannot be read any more.
    """
    synced = _int(top.get("synced_at"))
    shown = _int(top.get("returned_window_ms")) or 0
    window = window_ms if window_ms is not None else max(HISTORY_WINDOW_MS, shown)
    if synced is None or run.now_ms - synced <= window:
        return
    if window_ms is not None:
        kept = f"longer ago than OKX keeps {resource} ({window // DAY_MS} days)"
    elif shown >= HISTORY_WINDOW_MS:
        returned = _int(top.get("returned_oldest_ts"))
        kept = (f"longer ago than OKX has returned {resource} for this account "
                f"({shown // DAY_MS} days" + (f", back to {_fmt_date(returned)})" if returned
                                             else ")"))
    else:
        kept = (f"longer ago than OKX surely keeps {resource} ({window // DAY_MS} days; "
                "its docs say 3 months or 1 year)")
    run.observer.warn(
        f"{resource}: the last successful sync of this account was on {_fmt_day(synced)}, "
        f"{kept}: records from {_fmt_day(synced)} to {_fmt_day(run.now_ms - window)} are "
        "no longer available from OKX and are missing for good (sync at least monthly to "
        "avoid this)."
    )


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
