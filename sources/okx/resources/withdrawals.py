"""``withdrawals``: the funding account's withdrawal history.

``asset/withdrawal-history`` (6 requests / 1 s) pages newest first on ``ts`` (``after``
= older); OKX documents no retention, so a first run walks until it returns nothing.
Fields (okx-api §3.11): ``ccy, chain, nonTradableAsset, amt, ts, from, areaCodeFrom, to,
areaCodeTo, toAddrType, tag, pmtId, memo, addrEx, txId, fee, feeCcy, state, wdId,
clientId, note`` (``addrEx``, an object, as JSON text). Final states: ``2`` success,
``-1`` failed, ``-2`` cancelled; the others (waiting, broadcasting, under review ...) may
still change, so every run re-reads the last 30 days or back to the oldest withdrawal
loaded that was not final yet, whichever is further back, and the merge updates it in
place (``sources/okx/asset.py``'s ``record_history``).

State: ``accounts.<uid>.withdrawals = {hwm_ts, pending_ts, synced_at}``: the newest
``ts`` loaded and the oldest ``ts`` of a withdrawal not final when it was loaded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from sources.okx.asset import record_history
from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import _Run
from sources.okx.schema import WITHDRAWALS

__all__ = ["FINAL_STATES", "PATH", "withdrawals"]

PATH = "/api/v5/asset/withdrawal-history"
#: A withdrawal in any other state may still change.
FINAL_STATES = frozenset({"2", "-1", "-2"})


# merge on (account_uid, wd_id): a re-read withdrawal replaces its row (its state changed).
@okx_resource(WITHDRAWALS, write_disposition=MERGE, cursor="ts")
def withdrawals(run: _Run) -> Iterator[pa.Table]:
    """``asset/withdrawal-history``, re-reading the withdrawals that may still change."""
    yield from record_history(run, table=WITHDRAWALS, path=PATH, id_field="wdId",
                              final_states=FINAL_STATES)
