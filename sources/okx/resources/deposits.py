"""``deposits``: the funding account's deposit history.

``asset/deposit-history`` (6 requests / 1 s) pages newest first on ``ts`` (``after`` =
older); OKX documents no retention, so a first run walks until it returns nothing.
Fields (okx-api §3.11): ``ccy, chain, amt, from, areaCodeFrom, to, txId, ts, state,
depId, fromWdId, actualDepBlkConfirm``. A deposit's ``state`` changes after it is first
listed (``0`` waiting for confirmations → ``1`` credited → ``2`` successful; ``8``,
``11``-``14``, ``17`` held): only ``2`` is final, and every run re-reads the last 30 days
or back to the oldest deposit loaded that was not final yet, whichever is further back,
so that the merge updates it in place (``sources/okx/asset.py``'s ``record_history``).

State: ``accounts.<uid>.deposits = {hwm_ts, pending_ts, synced_at}``: the newest ``ts``
loaded and the oldest ``ts`` of a deposit not final when it was loaded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from sources.okx.asset import record_history
from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import _Run
from sources.okx.schema import DEPOSITS

__all__ = ["FINAL_STATES", "PATH", "deposits"]

PATH = "/api/v5/asset/deposit-history"
#: A deposit in any other state may still change.
FINAL_STATES = frozenset({"2"})


# merge on (account_uid, dep_id): a re-read deposit replaces its row (its state changed).
@okx_resource(DEPOSITS, write_disposition=MERGE, cursor="ts")
def deposits(run: _Run) -> Iterator[pa.Table]:
    """``asset/deposit-history``, re-reading the deposits whose state may still change."""
    yield from record_history(run, table=DEPOSITS, path=PATH, id_field="depId",
                              final_states=FINAL_STATES)
