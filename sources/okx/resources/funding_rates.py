"""``funding_rates``: the funding-rate history of the SWAPs the account paid funding on.

``public/funding-rate-history`` keeps 3 months, pages newest first on ``fundingTime``
(400 a page) and is public data: one row per instrument and funding time, whose
``account_uid`` is the account whose sync fetched it. It tells, in hedge mode, a long
position's funding bill from a short one's (bills carry no ``posSide``).
State: ``accounts.<uid>.funding_rates.<instId> = {hwm}``, the newest fundingTime loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from sources.okx.errors import OkxRequestError
from sources.okx.pagination import Checkpoint, WalkReport, walk_back
from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import DAY_MS, MINUTE_MS, _Batcher, _int, _Run
from sources.okx.schema import FUNDING_RATES

__all__ = ["PATH", "funding_rates"]

logger = logging.getLogger("okx_journal.source")

PATH = "/api/v5/public/funding-rate-history"
CURSOR = "fundingTime"
#: OKX's retention of ``public/funding-rate-history``.
FUNDING_RATE_WINDOW_MS = 90 * DAY_MS
#: Page size of ``public/funding-rate-history`` (its documented maximum).
FUNDING_RATE_PAGE = 400
#: A funding bill is booked shortly after its funding time: a bill no later than this
#: after the newest rate loaded is covered by it (funding is at most hourly).
FUNDING_BILL_LAG_MS = 30 * MINUTE_MS


# merge on (inst_id, funding_time): the page that reaches a checkpoint is loaded whole,
# rates already loaded included, and two accounts of one database fetch the same rates.
@okx_resource(FUNDING_RATES, write_disposition=MERGE, cursor=CURSOR, every_package=True)
def funding_rates(run: _Run) -> Iterator[pa.Table]:
    """``public/funding-rate-history`` of the SWAPs charged funding (3 months).

    The funding-rate history of every SWAP this account was charged funding on, read in
    every package of a backfill.

    Waits for the bills resource (the funding bills of this run name the instruments),
    then walks each instrument's history back to its checkpoint; an instrument whose
    newest funding bill is already covered by a loaded rate is not asked for. The rate
    is what tells a long position's funding bill from a short one's in hedge mode
    (bills carry no ``posSide``).
    """
    while not run.bills_done.wait(0.2):
        if run.failed.is_set():
            return
    if run.failed.is_set():
        return
    acct = run.account_state()
    state: dict[str, Any] = acct.setdefault("funding_rates", {})
    with run.lock:
        due = dict(run.funding_bills)
    if run.uid.isdigit():
        for inst, newest in run.read(
            "bills",
            "SELECT inst_id, max(epoch_ms(ts)) FROM {table} WHERE account_uid = "
            f"'{run.uid}' AND type = '8' AND inst_type = 'SWAP' AND inst_id IS NOT NULL "
            "GROUP BY inst_id",
        ):
            if newest is not None:
                due[str(inst)] = max(int(newest), due.get(str(inst), 0))
    fetch = run.fetcher(PATH)
    batcher = _Batcher(run, "funding_rates", FUNDING_RATES, {"account_uid": run.uid},
                       time_field="fundingTime")
    for inst in sorted(due):
        hwm = None if run.full_refresh else _int((state.get(inst) or {}).get("hwm"))
        if hwm is not None and due[inst] - hwm <= FUNDING_BILL_LAG_MS:
            continue
        if due[inst] < run.now_ms - FUNDING_RATE_WINDOW_MS:
            continue  # OKX no longer has the rates of this instrument's funding bills
        rep = WalkReport(name=f"{PATH} {inst}")
        run.observer.add_walk(rep)
        try:
            for page in walk_back(
                fetch,
                params={"instId": inst},
                cursor_field=CURSOR,
                time_field=None,
                checkpoint=Checkpoint(hwm) if hwm is not None else None,
                limit=FUNDING_RATE_PAGE,
                report=rep,
            ):
                table = batcher.add(page)
                if table is not None:
                    yield table
        except OkxRequestError as exc:  # a delisted swap: its funding bills stay unrated
            logger.info("no funding-rate history for %s: %s", inst, exc)
            continue
        if rep.newest is not None and (hwm is None or rep.newest[0] > hwm):
            state[inst] = {"hwm": rep.newest[0]}
    table = batcher.flush()
    if table is not None:
        yield table
