"""``instruments``: the contract specs of every listed instrument, kept after delisting.

``public/instruments`` is read per instType (all but OPTION) and, for OPTION, per
family: the families of the open positions, of earlier runs and of this run's fills.
No history and no cursor: each run lists what OKX lists now, and merges the instruments
not loaded yet and those not merged for ``INSTRUMENT_REFRESH_MS``; the merge never
deletes, so an expired or delisted instrument keeps its row. ``first_seen_at`` is kept
from the destination, ``last_seen_at`` is the run that last merged the instrument.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from sources.okx.errors import OkxRequestError
from sources.okx.resources import MERGE, okx_resource
from sources.okx.run import BATCH_ROWS, HOUR_MS, INST_TYPES, _Run
from sources.okx.schema import INSTRUMENTS, rows_to_arrow

__all__ = ["PATH", "instruments"]

logger = logging.getLogger("okx_journal.source")

PATH = "/api/v5/public/instruments"
#: Seconds without progress of the fills resource after which ``instruments`` stops
#: waiting for its OPTION families (the extract is failing elsewhere).
FILLS_STALL_S = 60.0
#: A listed instrument already loaded is merged again (attributes, ``last_seen_at``) at
#: most this often; new instruments are merged on every run.
INSTRUMENT_REFRESH_MS = 6 * HOUR_MS


# merge on (inst_type, inst_id), never deleted: OKX stops listing an instrument when it
# expires, and the journal still needs its contract specs.
@okx_resource(INSTRUMENTS, write_disposition=MERGE)
def instruments(run: _Run) -> Iterator[pa.Table]:
    """``public/instruments``: contract specs, kept after OKX delists them.

    Every listed instrument of every type; OPTION per family seen in positions or fills.

    The OPTION families of this run's fills are known once the fills resource is done:
    it is waited for, unless it stops making progress (an extract failing elsewhere),
    in which case the families known at start are used and the others follow next run.
    """
    fetch = run.fetcher(PATH)
    rows: list[dict[str, Any]] = []
    for inst_type in INST_TYPES:
        if inst_type != "OPTION":
            rows.extend(fetch({"instType": inst_type}))
    families = run.base_families()
    while not run.fills_done.wait(0.2):
        if run.failed.is_set() or time.monotonic() - run.last_beat > FILLS_STALL_S:
            break
    with run.lock:
        families |= run.fill_families
    rows.extend(_option_instruments(run, families))
    yield from _instrument_tables(run, rows)


def _instrument_tables(run: _Run, rows: list[dict[str, Any]]) -> Iterator[pa.Table]:
    """The listed instruments to merge this run, with their ``first_seen_at``."""
    if not rows:
        return
    known = run.known_instruments()
    fresh: list[dict[str, Any]] = []
    for row in rows:
        seen = known.get((str(row.get("instType")), str(row.get("instId"))))
        if seen is not None and run.now_ms - seen[1] < INSTRUMENT_REFRESH_MS:
            continue  # loaded and refreshed recently: no need to merge it again
        row["first_seen_at"] = seen[0] if seen is not None else run.now_ms
        fresh.append(row)
    rows = fresh
    if not rows:
        return
    run.observer.add_rows("instruments", len(rows), None, None)
    for start in range(0, len(rows), BATCH_ROWS * 5):
        yield rows_to_arrow(
            rows[start : start + BATCH_ROWS * 5],
            INSTRUMENTS,
            {"account_uid": run.uid, "last_seen_at": run.now_ms},
        )


def _option_instruments(run: _Run, families: Iterable[str]) -> list[dict[str, Any]]:
    """The listed options of each family (a family OKX no longer lists has none)."""
    fetch = run.fetcher(PATH)
    rows: list[dict[str, Any]] = []
    for family in sorted(families):
        try:
            rows.extend(fetch({"instType": "OPTION", "instFamily": family}))
        except OkxRequestError as exc:  # a family OKX no longer lists
            logger.info("no OPTION instruments for %s: %s", family, exc)
    return rows
