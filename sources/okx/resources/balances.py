"""``balances``: one row per currency of the account, one snapshot per run.

``account/balance`` is read once per run, when the package is planned (see
``sources.okx.source``), so that ``balances`` and ``snapshots`` see the same snapshot.
Each row is one currency of ``details[]`` with the account-level fields beside it
(``BALANCE_ACCOUNT_FIELDS``: ``total_eq`` ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from sources.okx.client import OkxClient
from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import _Run
from sources.okx.schema import BALANCE_ACCOUNT_FIELDS, BALANCES, rows_to_arrow

__all__ = ["PATH", "balances", "read_balances"]

#: A snapshot: no history, no cursor.
PATH = "/api/v5/account/balance"


def read_balances(client: OkxClient) -> list[dict[str, Any]]:
    """One row per currency of the account's balance now (one request)."""
    return _balance_rows(client.get(PATH))


# merge on (account_uid, snapshot_at, ccy): an append that a resumed load cannot double.
@okx_resource(BALANCES, write_disposition=MERGE)
def balances(run: _Run) -> Iterator[pa.Table]:
    """``account/balance``: one row per currency, one snapshot per run."""
    rows = run.balance_rows
    if rows:
        run.observer.add_rows("balances", len(rows), None, None)
        yield rows_to_arrow(rows, BALANCES, {"account_uid": run.uid, "snapshot_at": run.now_ms})


def _balance_rows(accounts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for account in accounts:
        acct_values = {col: account.get(okx) for okx, col in BALANCE_ACCOUNT_FIELDS.items()}
        for detail in account.get("details") or []:
            rows.append({**detail, **acct_values})
    return rows
