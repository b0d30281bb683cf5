"""``positions_history``: one row per position life (opened, changed, closed).

``account/positions-history`` keeps 3 months and pages newest first on ``uTime``, which
is not unique (a millisecond time). A life can be read again with a newer ``uTime``; the
merge keeps the newest ``u_time`` of each key.
State: ``accounts.<uid>.positions_history.* = {hwm, synced_at}`` (hwm = newest uTime).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from sources.okx.pagination import Checkpoint, Page, WalkReport, walk_back
from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import _Batcher, _int, _loaded_keys, _Run
from sources.okx.schema import POSITIONS_HISTORY
from sources.okx.walks import HISTORY_WINDOW_MS, OVERLAP_MS, _retention_warning

__all__ = ["PATH", "positions_history"]

#: 3 months of history (``HISTORY_WINDOW_MS``).
PATH = "/api/v5/account/positions-history"
CURSOR = "uTime"


# merge: a life re-read with a newer uTime replaces the older row of its key
# (account_uid, pos_id, c_time); the newest ``u_time`` wins within a package.
@okx_resource(POSITIONS_HISTORY, write_disposition=MERGE, cursor=CURSOR, dedup_sort="u_time")
def positions_history(run: _Run) -> Iterator[pa.Table]:
    """``account/positions-history`` (3 months), ``uTime`` cursor.

    Walks back to the newest ``uTime`` loaded, less an overlap; re-read lives already
    loaded unchanged are dropped before the merge.
    """
    acct = run.account_state()
    state: dict[str, Any] = acct.setdefault("positions_history", {})
    top = state.get("*", {})
    _retention_warning(run, "positions_history", top, HISTORY_WINDOW_MS)
    hwm = None if run.full_refresh else _int(top.get("hwm"))
    rep = WalkReport(name=PATH)
    run.observer.add_walk(rep)
    batcher = _Batcher(run, "positions_history", POSITIONS_HISTORY, {"account_uid": run.uid},
                       time_field="uTime")
    for page in walk_back(
        run.fetcher(PATH),
        cursor_field=CURSOR,
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
