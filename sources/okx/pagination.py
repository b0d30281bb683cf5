"""Newest-first cursor walks down to a checkpoint (knows nothing of auth or HTTP).

Every OKX list endpoint the journal reads returns records newest first; ``after=<cursor>``
asks for records strictly older than the cursor (okx-api.md §0.4). ``begin``/``end`` with
``limit`` return the *newest* ``limit`` rows of a window and ``before`` alone is not
documented precisely, so the only walk trusted here is: start at the newest record (or at
an explicit cursor), page backwards with ``after`` and stop once a page reaches the stored
checkpoint (plus an overlap that the merge write disposition deduplicates), or once OKX
returns an empty page.

Two cursor kinds:

* unique cursors (``billId`` of fills and bills): the next ``after`` is the smallest
  cursor of the page; records sharing a timestamp cannot be split or skipped because
  the cursor is not the timestamp;
* non-unique cursors (``uTime`` of positions-history, a millisecond time): the next
  ``after`` is the smallest cursor **plus one**, so rows sharing the boundary time are
  read again rather than skipped, unless that makes no progress (a whole page with one
  time), in which case OKX's rule that all rows of the boundary time come in the same
  page is relied upon.

``walk_back`` yields pages and fills a ``WalkReport``; ``parallel_pages`` runs several
walks in threads (each endpoint has its own OKX rate limit) and yields their pages as
they arrive.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Checkpoint",
    "Fetch",
    "Page",
    "PaginationError",
    "WalkReport",
    "parallel_pages",
    "walk_back",
]

Page = list[dict[str, Any]]
Fetch = Callable[[Mapping[str, str]], Page]

#: OKX's maximum (and default) page size on every journal endpoint.
PAGE_LIMIT = 100


class PaginationError(RuntimeError):
    """The server broke the paging contract (a cursor that does not move backwards)."""


@dataclass(frozen=True)
class Checkpoint:
    """Where a walk may stop: the newest record a previous, completed sync loaded.

    Attributes:
        cursor: The record's cursor as an integer (``billId`` or ``uTime``).
        ts: The record's time in ms, or None. With ``overlap_ms`` the walk goes on
            until it has also passed ``ts - overlap_ms``.
    """

    cursor: int
    ts: int | None = None


@dataclass
class WalkReport:
    """What one walk did; filled in while the walk runs.

    Attributes:
        name: Label for logs (endpoint and scope).
        pages: Requests sent (including the final empty one, if any).
        rows: Rows yielded.
        reached_checkpoint: A page reached the checkpoint (and the overlap).
        exhausted: OKX returned an empty page: nothing older is retained.
        newest: ``(cursor, ts)`` of the newest row seen, None before any row.
        oldest: ``(cursor, ts)`` of the oldest row seen, None before any row.
    """

    name: str = ""
    pages: int = 0
    rows: int = 0
    reached_checkpoint: bool = False
    exhausted: bool = False
    newest: tuple[int, int | None] | None = None
    oldest: tuple[int, int | None] | None = None
    done: bool = field(default=False)


def _as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def walk_back(
    fetch: Fetch,
    *,
    params: Mapping[str, str] | None = None,
    cursor_field: str = "billId",
    time_field: str | None = "ts",
    unique_cursor: bool = True,
    checkpoint: Checkpoint | None = None,
    overlap_ms: int = 0,
    start_after: int | None = None,
    limit: int = PAGE_LIMIT,
    report: WalkReport | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Page]:
    """Pages backwards from the newest record (or ``start_after``) to a checkpoint.

    Args:
        fetch: Called with the query parameters of one page; returns OKX's ``data``.
        params: Fixed query parameters (``instType``, ``end`` ...); ``after`` and
            ``limit`` are added by the walk.
        cursor_field: The record field OKX pages on (``billId``, ``uTime``).
        time_field: The record's time field, used for the overlap; None when the
            cursor is itself the time.
        unique_cursor: Whether the cursor identifies one record (see module doc).
        checkpoint: Stop once a page holds a record at or below it; None walks until
            OKX has nothing older.
        overlap_ms: Keep walking until the page also reaches ``checkpoint.ts -
            overlap_ms`` (or ``checkpoint.cursor - overlap_ms`` for time cursors): the
            re-read rows are deduplicated by the merge.
        start_after: Start below this cursor instead of at the newest record.
        limit: Page size sent to OKX.
        report: Filled in as the walk goes.
        stop: When set, the walk ends before its next request.

    Yields:
        Non-empty pages, newest first, exactly as OKX returned them.

    Raises:
        PaginationError: A page did not move the cursor backwards.
    """
    rep = report if report is not None else WalkReport()
    stop_cursor: int | None = None
    stop_ts: int | None = None
    if checkpoint is not None:
        if time_field is None:
            stop_cursor = checkpoint.cursor - overlap_ms
        else:
            stop_cursor = checkpoint.cursor
            if checkpoint.ts is not None:
                stop_ts = checkpoint.ts - overlap_ms
    after = start_after
    base = dict(params or {})
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
            rep.exhausted = True
            rep.done = True
            return
        lowest: int | None = None
        lowest_ts: int | None = None
        highest: int | None = None
        highest_ts: int | None = None
        reached = False
        for row in page:
            cur = _as_int(row.get(cursor_field))
            if cur is None:
                continue
            ts = _as_int(row.get(time_field)) if time_field is not None else cur
            if lowest is None or cur < lowest:
                lowest, lowest_ts = cur, ts
            if highest is None or cur > highest:
                highest, highest_ts = cur, ts
            if (
                stop_cursor is not None
                and cur <= stop_cursor
                and (stop_ts is None or ts is None or ts <= stop_ts)
            ):
                reached = True
        if lowest is None or highest is None:
            raise PaginationError(f"{rep.name}: a page of {len(page)} rows has no {cursor_field}")
        rep.rows += len(page)
        if rep.newest is None or highest > rep.newest[0]:
            rep.newest = (highest, highest_ts)
        if rep.oldest is None or lowest < rep.oldest[0]:
            rep.oldest = (lowest, lowest_ts)
        yield page
        if reached:
            rep.reached_checkpoint = True
            rep.done = True
            return
        if unique_cursor:
            nxt = lowest
        else:
            nxt = lowest + 1
            if after is not None and nxt >= after:
                nxt = lowest
        if after is not None and nxt >= after:
            raise PaginationError(
                f"{rep.name}: the server returned {cursor_field} {lowest} for after={after}; "
                "the cursor did not move backwards"
            )
        after = nxt


_DONE = object()


def parallel_pages(
    walks: Iterable[Callable[[threading.Event], Iterator[Page]]],
    *,
    max_queued_pages: int = 64,
    on_idle: Callable[[], None] | None = None,
) -> Iterator[Page]:
    """Runs several walks in threads and yields their pages as they arrive.

    Each walk is a callable taking a stop event and returning a page iterator (usually
    a ``walk_back`` with that event). The first error of any walk stops the others and
    is raised here; closing this generator stops them too. Order between walks is not
    kept (the merge does not need it).

    Args:
        walks: The walks to run, one thread each.
        max_queued_pages: Pages buffered before the walks wait for the consumer.
        on_idle: Called about twice a second while waiting, and with every page (a
            heartbeat for whoever waits on this consumer).
    """
    stop = threading.Event()
    out: queue.Queue[Any] = queue.Queue(maxsize=max_queued_pages)
    errors: list[BaseException] = []
    threads: list[threading.Thread] = []

    def _put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(walk: Callable[[threading.Event], Iterator[Page]]) -> None:
        try:
            for page in walk(stop):
                if not _put(page):
                    return
        except BaseException as exc:  # handed to the consumer thread
            errors.append(exc)
            stop.set()
        finally:
            try:
                out.put_nowait(_DONE)
            except queue.Full:
                _put(_DONE)

    for walk in walks:
        thread = threading.Thread(target=_run, args=(walk,), daemon=True, name="okx-walk")
        threads.append(thread)
        thread.start()
    running = len(threads)
    try:
        while running:
            if on_idle is not None:
                on_idle()
            try:
                item = out.get(timeout=0.5)
            except queue.Empty:
                if errors:
                    break
                if not any(t.is_alive() for t in threads) and out.empty():
                    break
                continue
            if item is _DONE:
                running -= 1
                continue
            if errors:
                break
            yield item
        if errors:
            raise errors[0]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
