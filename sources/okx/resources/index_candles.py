"""``index_candles``: OKX's hourly USD index bars of the hours the journal values.

``market/history-index-candles`` (okx-api §3.1, §3.13): public, 10 requests per 2 s per
IP, 100 bars a page, newest first, "recent years" of history. One row per index and hour
(``inst_id, ts``), merged, so a bar fetched twice (two accounts of one database) is kept
once; the ``account_uid`` is the account whose sync fetched it. The hours asked for and
how (never an hour already stored) are decided by ``sources.okx.prices.IndexPrices``,
which fetches them while the rest of the sync runs; this resource loads what it fetched
(in the package after the walks' and, for what came later, one more at the end of the
sync), with what OKX did not have (``unlisted`` indexes, ``absent`` hours) in the state of the
same package. State: ``index_candles = {unlisted: {instId: ms}, absent: {instId: [[lo,
hi]]}}`` in the ``okx_prices`` source.
"""

from __future__ import annotations

from collections.abc import Iterator

import dlt
import pyarrow as pa

from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import BATCH_ROWS, _Run
from sources.okx.schema import INDEX_CANDLES, rows_to_arrow

__all__ = ["PATH", "index_candles"]

PATH = "/api/v5/market/history-index-candles"


# merge on (inst_id, ts): public data, one bar per index and hour whoever fetched it
@okx_resource(INDEX_CANDLES, write_disposition=MERGE, cursor="ts")
def index_candles(run: _Run) -> Iterator[pa.Table]:
    """The bars ``run.prices`` fetched since its last package, in Arrow batches (the sync
    waits for what it wants in this package before it extracts it)."""
    prices = run.prices
    if prices is None:
        return
    rows, state = prices.take()
    if state is not None:
        dlt.current.source_state().setdefault("index_candles", {}).update(state)
    for i in range(0, len(rows), BATCH_ROWS):
        yield rows_to_arrow(rows[i:i + BATCH_ROWS], INDEX_CANDLES, {"account_uid": run.uid})
