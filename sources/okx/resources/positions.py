"""``positions``: the open positions, one snapshot per run.

``account/positions`` is read once per run, when the package is planned (see
``sources.okx.source``), so that ``positions``, ``snapshots`` and ``instruments`` (the
OPTION families of open positions) see the same snapshot. Nothing open: no row (the
``snapshots`` row tells that apart from "not synced").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from sources.okx.client import OkxClient
from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import _Run
from sources.okx.schema import POSITIONS, rows_to_arrow

__all__ = ["PATH", "positions", "read_positions"]

#: A snapshot: no history, no cursor.
PATH = "/api/v5/account/positions"


def read_positions(client: OkxClient) -> list[dict[str, Any]]:
    """The open positions now (one request)."""
    return client.get(PATH)


# merge on (account_uid, snapshot_at, pos_id): an append that a resumed load cannot double.
@okx_resource(POSITIONS, write_disposition=MERGE)
def positions(run: _Run) -> Iterator[pa.Table]:
    """``account/positions``: open positions now, one snapshot per run."""
    rows = run.positions_rows
    if rows:
        run.observer.add_rows("positions", len(rows), None, None)
        yield rows_to_arrow(rows, POSITIONS, {"account_uid": run.uid, "snapshot_at": run.now_ms})
