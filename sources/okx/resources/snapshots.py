"""``snapshots``: one row per run for each snapshot resource, with its row count.

The ``positions`` table gets no row when nothing is open: this row tells "nothing open"
from "not synced". No endpoint of its own: it counts the snapshots read for the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import _Run
from sources.okx.schema import SNAPSHOTS, rows_to_arrow

__all__ = ["snapshots"]


# merge on (account_uid, snapshot_at, resource): an append that a resumed load cannot double.
@okx_resource(SNAPSHOTS, write_disposition=MERGE)
def snapshots(run: _Run) -> Iterator[pa.Table]:
    """One row per run for ``positions`` and ``balances`` with their row counts."""
    rows = [
        {"resource": "positions", "row_count": len(run.positions_rows)},
        {"resource": "balances", "row_count": len(run.balance_rows)},
    ]
    yield rows_to_arrow(rows, SNAPSHOTS, {"account_uid": run.uid, "snapshot_at": run.now_ms})
