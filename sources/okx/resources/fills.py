"""``fills``: every trade of the account, from the two fills endpoints.

``trade/fills`` serves the last 3 days, ``trade/fills-history`` (per instType) as far
back as OKX keeps fills: its docs say 3 months in older copies and 1 year since 2025, so
no window is assumed: it is walked back until OKX returns nothing older (in deep
packages of a backfill when there is more than a page per instType below 3 months).
Both page newest first on ``billId`` (the walks are in ``sources/okx/walks.py``). Besides its rows, the resource records the OPTION families it
saw (``instruments`` lists their options) and keeps one checkpoint per instType.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import DAY_MS, INST_TYPES, _Run
from sources.okx.schema import FILLS
from sources.okx.walks import _Ledger, _ledger_resource

__all__ = ["FILLS_LEDGER", "fills"]

FILLS_LEDGER = _Ledger(
    resource="fills",
    table=FILLS,
    recent_path="/api/v5/trade/fills",
    recent_window_ms=3 * DAY_MS,
    history_path="/api/v5/trade/fills-history",
    history_scopes=INST_TYPES,
    history_window_ms=None,  # open-ended: until OKX returns an empty page
)


# merge: each run re-reads an overlap below the checkpoint, and the walks of the two
# endpoints overlap; the key (account_uid, bill_id) deduplicates them.
@okx_resource(
    FILLS,
    write_disposition=MERGE,
    cursor="billId",
    every_package=True,
    ledger=FILLS_LEDGER,
    finished=lambda run: run.fills_done.set(),
)
def fills(run: _Run) -> Iterator[pa.Table]:
    """``trade/fills`` (3 days) and ``trade/fills-history`` per instType (until empty).

    Read in every package of a backfill. When it ends, however it ends, ``instruments``
    stops waiting for the OPTION families of its fills.
    """
    yield from _ledger_resource(run, FILLS_LEDGER)
