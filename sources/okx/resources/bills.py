"""``bills``: the account's ledger, every balance change, from the two bills endpoints.

``account/bills`` serves the last 7 days, ``account/bills-archive`` the last 3 months;
both page newest first on ``billId`` and are read unfiltered (the walks are in
``sources/okx/walks.py``). The resource also notes the newest funding bill of each SWAP
(``funding_rates`` reads the rates they need). The first window of a backfill is sized
from the newest entries of ``bills-archive``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import DAY_MS, _Run
from sources.okx.schema import BILLS
from sources.okx.walks import _Ledger, _ledger_resource

__all__ = ["BILLS_LEDGER", "bills"]

BILLS_LEDGER = _Ledger(
    resource="bills",
    table=BILLS,
    recent_path="/api/v5/account/bills",
    recent_window_ms=7 * DAY_MS,
    history_path="/api/v5/account/bills-archive",
    history_scopes=(None,),
)


# merge: each run re-reads an overlap below the checkpoint, and the walks of the two
# endpoints overlap; the key (account_uid, bill_id) deduplicates them.
@okx_resource(
    BILLS,
    write_disposition=MERGE,
    cursor="billId",
    every_package=True,
    ledger=BILLS_LEDGER,
    finished=lambda run: run.bills_done.set(),
)
def bills(run: _Run) -> Iterator[pa.Table]:
    """``account/bills`` (7 days) and ``account/bills-archive`` (3 months), unfiltered.

    Read in every package of a backfill. When it ends, however it ends,
    ``funding_rates`` stops waiting for its funding bills.
    """
    yield from _ledger_resource(run, BILLS_LEDGER)
