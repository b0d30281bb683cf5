"""``account_config``: the account's mode, permissions and uid, one row per account.

``okx_source`` reads ``account/config`` before anything else (the uid keys every table
and the source state), unless it is given the record; this resource loads that record.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import _Run
from sources.okx.schema import ACCOUNT_CONFIG, rows_to_arrow

__all__ = ["PATH", "account_config"]

#: The current configuration: no history, no cursor.
PATH = "/api/v5/account/config"


# merge on uid: the newest configuration replaces the last one.
@okx_resource(ACCOUNT_CONFIG, write_disposition=MERGE)
def account_config(run: _Run) -> Iterator[pa.Table]:
    """``account/config``: account mode, permissions, uid."""
    run.observer.add_rows("account_config", 1, None, None)
    yield rows_to_arrow([run.config_row], ACCOUNT_CONFIG,
                        {"account_uid": run.uid, "synced_at": run.now_ms})
