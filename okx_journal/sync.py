"""One sync run: lock, OKX client, read-only check, dlt pipeline, journal, summary.

``run_sync`` is what ``okx-journal sync`` calls. In order:

1. take the database's lock (``<db>.lock``, ``fcntl``): a second sync of the same
   database raises ``SyncLocked`` (exit 6) at once;
2. finish a load package left by an interrupted run (its data and cursors were
   extracted together; loading it first is what makes a killed run lose nothing);
3. read ``account/config`` and refuse keys that can trade or withdraw
   (``okx_journal.permissions.enforce_read_only``);
4. run the dlt pipeline (``sources.okx.okx_source``) into DuckDB at ``db_path``, dataset
   ``okx_raw``; dlt's pipeline folder is ``<db>.dlt/`` beside the database, so two
   databases never share cursor state, and dlt's telemetry is off;
5. rebuild the journal (``okx_journal.transform.build_journal``) when that module exists;
6. return a ``SyncSummary``.

Progress goes to stderr: a live line on a terminal (rows per resource, rate-limit
waits), plain log lines otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from okx_journal.destination import Destination
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError, OkxError, OkxJournalError

__all__ = [
    "PIPELINE_NAME",
    "RAW_DATASET",
    "SyncOptions",
    "SyncSummary",
    "pipelines_dir_for",
    "run_sync",
]

PIPELINE_NAME = "okx_journal"
RAW_DATASET = "okx_raw"
#: raw tables whose new rows the summary counts, in display order
SUMMARY_TABLES = (
    "fills",
    "bills",
    "positions_history",
    "positions",
    "balances",
    "instruments",
    "funding_rates",
    "account_config",
    "funding_bills",
    "deposits",
    "withdrawals",
    "index_candles",
)
#: raw tables of public data, shared by the accounts of a database
_PUBLIC_TABLES = ("instruments", "funding_rates", "index_candles")
_LEDGER_TABLES = ("fills", "bills", "positions_history")
#: Load packages one sync may load (a backfill window each, then the last one).
MAX_PACKAGES = 500


def pipelines_dir_for(db_path: Path) -> Path:
    """dlt's working folder for a database: ``<db>.dlt/`` in the same directory."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".dlt")


@dataclass(frozen=True)
class SyncOptions:
    """What one sync does (CONTRACT §2 ``okx-journal sync``).

    Attributes:
        db_path: The DuckDB file.
        credentials: The read-only API key.
        base_url: OKX host (``https://www.okx.com``, ``https://eea.okx.com``,
            ``https://us.okx.com``) or the simulator's loopback URL.
        demo_trading: Send ``x-simulated-trading: 1``.
        full_refresh: Ignore the cursors and read everything OKX still keeps. Nothing is
            deleted: rows OKX no longer serves (older than its 3 months) stay.
        allow_write_permissions: Accept a key that can trade or withdraw (warns).
        rate_limits: Pace requests to OKX's documented limits (off only for simulators
            without limits).
        progress: Live progress line; None: when stderr is a terminal.
        quiet: No log lines at all.
        transforms: Rebuild the journal after loading.
        checks: Data checks after the journal build: ``off``, ``warn`` (report
            failures, succeed) or ``fail`` (raise ``DataCheckFailed``, exit 5).
        cost_basis: How SPOT and MARGIN lots are matched in the journal: ``fifo``,
            ``lifo``, ``hifo`` or ``average`` (README "Cost basis").
        ledger_export: Import the quarterly ledger export (``bills-history-archive``)
            for every finished quarter older than the REST pages' 3 months.
        since: The oldest day the ledger export is asked for (UTC); None: from the
            account's first activity (all that OKX has).
        export_wait_s: How long a sync waits, once everything else is loaded, for
            quarter files OKX is still preparing (the next sync picks them up).
        transport: The httpx transport of the OKX client (None: the network); tests
            route OKX's official hosts to the simulator with it.
        remember_site: Remember the OKX site found for a key that ``base_url`` did not
            know (``okx_journal.sites``), so the next runs go straight there.
        destination: ``duckdb`` or ``postgres`` (``okx_journal.destination``); None:
            from the environment or ``dlt.toml``, else ``duckdb``.
    """

    db_path: Path
    credentials: OkxCredentials
    base_url: str = "https://www.okx.com"
    demo_trading: bool = False
    full_refresh: bool = False
    allow_write_permissions: bool = False
    rate_limits: bool = True
    progress: bool | None = None
    quiet: bool = False
    transforms: bool = True
    checks: str = "off"
    cost_basis: str = "fifo"
    ledger_export: bool = True
    since: datetime | None = None
    export_wait_s: float = 10.0
    transport: Any = None
    remember_site: bool = True
    destination: str | None = None


@dataclass
class SyncSummary:
    """What a sync did.

    Attributes:
        db_path: The database.
        account_uid: OKX uid of the key's account.
        new_rows: Rows that were not in the database before, per raw table (for this
            account; ``instruments`` are shared by all accounts).
        fetched_rows: Rows read from OKX per resource (includes the re-read overlap).
        span: ``(first, last)`` record time (UTC) of this account's fills, bills and
            positions history in the database after the sync.
        fetched_span: The same for the records read in this run.
        rate_limit_waits: Times the client waited for OKX's rate limits.
        rate_limit_wait_seconds: Seconds spent in those waits.
        rate_limited_answers: 50011 / HTTP 429 answers received (and retried).
        requests: HTTP requests sent.
        seconds: Wall time of the whole sync.
        warnings: Sentences for the user.
        resumed_package: An interrupted run's pending load was completed first.
        packages: Load packages this sync loaded (a backfill comes in several).
        journal_built: The journal transforms ran.
        checks_ok: The data checks passed (None: not run).
        ledger_export: Quarters of the ledger export by state (``imported``,
            ``pending``, ``failed``, ``no_data``), e.g. ``{"imported": ["2025Q3"]}``;
            ``imported_now`` lists the quarters imported by this run.
        ledger_export_rows: Bills the ledger export added in this run.
        price_requests: Requests for OKX's USD index candles in this run.
        journal_rebuilt: The journal relations rebuilt by this run (``schema.name``);
            the others were built from unchanged data and were left as they are.
        checks_kept: The data checks were not run again: nothing they read changed
            but the snapshots (their last results, in ``checks_ok``, still hold).
        checks_ran: Check frames validated by this run (the others kept their results).
        time_split: Where the wall time went, in seconds (see ``TIME_SPLIT``).
        site_found: ``(host asked, the site found)`` when the host asked did not know
            the key and another official OKX site did (the sync ran there).
    """

    db_path: Path
    account_uid: str = ""
    new_rows: dict[str, int] = field(default_factory=dict)
    fetched_rows: dict[str, int] = field(default_factory=dict)
    span: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    fetched_span: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    rate_limited_answers: int = 0
    requests: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    resumed_package: bool = False
    packages: int = 0
    journal_built: bool = False
    checks_ok: bool | None = None
    ledger_export: dict[str, list[str]] = field(default_factory=dict)
    ledger_export_rows: int = 0
    price_requests: int = 0
    journal_rebuilt: list[str] = field(default_factory=list)
    checks_kept: bool = False
    checks_ran: int = 0
    time_split: dict[str, float] = field(default_factory=dict)
    site_found: tuple[str, str] | None = None
    #: what messages call the database (a PostgreSQL server's ``postgresql://user@host/db``)
    label: str = ""

    def to_text(self) -> str:
        """One paragraph for the terminal."""
        n = self.new_rows
        parts = [
            f"{n.get('fills', 0):,} new fills",
            f"{n.get('bills', 0):,} new ledger entries",
            f"{n.get('positions_history', 0):,} new position-history records",
            f"{n.get('instruments', 0):,} new instruments",
            f"{n.get('funding_rates', 0):,} new funding rates",
            f"{n.get('funding_bills', 0):,} new funding-account entries",
            f"{n.get('deposits', 0):,} new deposits and {n.get('withdrawals', 0):,} withdrawals",
            f"{n.get('index_candles', 0):,} new hourly USD prices",
        ]
        text = ""
        if self.site_found is not None:
            text += (
                f"This API key belongs to {self.site_found[1]}, not to {self.site_found[0]}: "
                "synced from there, and remembered for the next runs (without --base-url). "
            )
        text += (
            f"Synced OKX account {self.account_uid} into {self.label or self.db_path} in {self.seconds:.1f} s: "
            + ", ".join(parts)
            + f"; snapshot of {n.get('positions', 0):,} open positions and "
            + f"{n.get('balances', 0):,} currency balances."
        )
        first = [s[0] for s in self.span.values()]
        last = [s[1] for s in self.span.values()]
        if first and last:
            text += f" The database holds this account's history from {_day(min(first))} to {_day(max(last))}."
        if self.rate_limit_waits:
            text += (
                f" Requests paused {self.rate_limit_waits} times for OKX's rate limits"
                f" ({self.rate_limit_wait_seconds:.1f} s summed over the endpoints read in parallel)."
            )
        if self.rate_limited_answers:
            text += f" OKX answered 'rate limit' {self.rate_limited_answers} times (retried)."
        if self.resumed_package:
            text += " First completed the load of an interrupted sync."
        if self.packages > 1:
            text += f" Backfilled in {self.packages} parts, oldest first, each saved as it loaded."
        text += _export_text(self.ledger_export, self.ledger_export_rows)
        text += _journal_text(self.journal_built, self.journal_rebuilt)
        if self.checks_ok is not None:
            if self.checks_kept:
                text += " Data checks not run again (nothing they read changed):"
                text += " they passed." if self.checks_ok else " they FAILED: run `okx-journal check`."
            else:
                text += " Data checks passed." if self.checks_ok else " Data checks FAILED: run `okx-journal check`."
            if not self.checks_ok and self.ledger_export.get("pending"):
                text += (
                    " While OKX prepares the older quarters, round trips that began before the"
                    " ledger in the database are incomplete and their checks fail; the sync"
                    " that imports them completes them."
                )
        if self.time_split:
            text += " Time: " + _split_text(self.time_split) + "."
        for warning in self.warnings:
            text += " Warning: " + warning.removeprefix("warning: ")
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "db_path": str(self.db_path),
            "account_uid": self.account_uid,
            "new_rows": dict(self.new_rows),
            "fetched_rows": dict(self.fetched_rows),
            "span": {k: [v[0].isoformat(), v[1].isoformat()] for k, v in self.span.items()},
            "fetched_span": {
                k: [v[0].isoformat(), v[1].isoformat()] for k, v in self.fetched_span.items()
            },
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
            "rate_limited_answers": self.rate_limited_answers,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "warnings": list(self.warnings),
            "resumed_package": self.resumed_package,
            "load_packages": self.packages,
            "journal_built": self.journal_built,
            "checks_ok": self.checks_ok,
            "ledger_export": {k: list(v) for k, v in self.ledger_export.items()},
            "ledger_export_rows": self.ledger_export_rows,
            "price_requests": self.price_requests,
            "journal_rebuilt": list(self.journal_rebuilt),
            "checks_kept": self.checks_kept,
            "checks_ran": self.checks_ran,
            "time_split_s": {k: round(v, 3) for k, v in self.time_split.items()},
            "site_found": None if self.site_found is None else {
                "asked": self.site_found[0], "site": self.site_found[1]},
        }


#: The summary's time split, in order: what each part of a sync's wall time measures.
TIME_SPLIT: dict[str, str] = {
    "setup": "the lock, dlt's pipeline and OKX's account configuration",
    "okx": "reading OKX: the walks, paced by OKX's rate limits (what OKX allows sets it), and "
           "the USD prices their last pages still wanted",
    "okx_limit_wait": "of that, the slowest endpoint's waits on its rate limit",
    "loading": "writing what was read into the database (dlt), the ledger export's files and "
               "the USD prices fetched after the walks",
    "journal": "rebuilding the journal relations whose data changed",
    "checks": "what the data checks on changed data added after the journal (the suites on raw "
              "tables run beside its rebuild; waiting for great-expectations' import included)",
}


def _split_text(split: Mapping[str, float]) -> str:
    names = {"setup": "set-up", "okx": "OKX", "okx_limit_wait": "of which rate-limit waits",
             "loading": "loading", "journal": "journal", "checks": "checks"}
    parts = []
    for key in TIME_SPLIT:
        if key in split:
            text = f"{names[key]} {split[key]:.1f} s"
            parts.append(f"({text})" if key == "okx_limit_wait" else text)
    return ", ".join(parts).replace(", (", " (")


def _journal_text(built: bool, rebuilt: list[str]) -> str:
    if not built:
        return ""
    everything = _transform_count()
    if rebuilt and len(rebuilt) >= everything:
        return " Journal rebuilt."
    if not rebuilt:
        return " Journal unchanged (no new data)."
    shown = ", ".join(r.split(".", 1)[1] for r in rebuilt if r.startswith("journal."))
    return (
        f" Journal: {len(rebuilt)} of {everything} relations rebuilt"
        + (f" ({shown})" if shown else "")
        + ", the others built from unchanged data kept."
    )


def _transform_count() -> int:
    from okx_journal.transform import transform_files

    return len(transform_files())


def _export_text(states: Mapping[str, list[str]], rows: int) -> str:
    """The summary's sentence on the quarterly ledger export."""
    if not states:
        return ""
    parts = []
    now = states.get("imported_now") or []
    if now:
        parts.append(f"{len(now)} imported now ({', '.join(now)}: {rows:,} ledger entries)")
    before = [q for q in states.get("imported", []) if q not in now]
    if before:
        parts.append(f"{len(before)} imported before")
    if states.get("pending"):
        parts.append(f"{', '.join(states['pending'])} pending: OKX is preparing the file or it "
                     "was not requested yet; the next sync picks it up")
    if states.get("failed"):
        parts.append(f"{', '.join(states['failed'])} failed at OKX: requested again by the next sync")
    if states.get("no_data"):
        parts.append(f"{len(states['no_data'])} without data")
    return " Quarterly ledger export: " + "; ".join(parts) + "."


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# ----------------------------------------------------------------------------- progress


#: Resources walked back in time, whose progress line shows how far back they are.
_DATED_RESOURCES = frozenset({"fills", "bills", "positions_history"})


class _Progress:
    """Counts rows and rate-limit waits; shows them live on a terminal or as log lines."""

    def __init__(self, log: Callable[[str], None] | None, live: bool) -> None:
        self.log = log
        self.live = live and log is not None
        self.rows: dict[str, int] = {}
        self.waits = 0
        self.wait_seconds = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_line = 0.0
        self._shown = False
        #: the oldest record time (epoch ms) read so far, per resource
        self.reached: Callable[[], Mapping[str, int]] | None = None
        #: the quarterly ledger export's part of the line
        self.extra: Callable[[], str] | None = None

    def on_rows(self, resource: str, n: int) -> None:
        with self._lock:
            self.rows[resource] = self.rows.get(resource, 0) + n

    def on_wait(self, path: str, seconds: float) -> None:
        with self._lock:
            self.waits += 1
            self.wait_seconds += max(0.0, seconds)

    def line(self) -> str:
        """``syncing: bills 32,321 (back to 2026-09-14)  fills ... | rate-limit waits ...``.

        The walks go from the newest record back in time, so the oldest record fetched
        so far says how far a long first load has come (OKX keeps 3 months).
        """
        reached = dict(self.reached()) if self.reached is not None else {}
        with self._lock:
            parts = []
            for name, count in sorted(self.rows.items()):
                part = f"{name} {count:,}"
                if name in _DATED_RESOURCES and name in reached:
                    part += f" (back to {_ms_to_dt(reached[name]):%Y-%m-%d})"
                parts.append(part)
            waits = f"rate-limit waits {self.waits} ({self.wait_seconds:.1f} s)"
        extra = self.extra() if self.extra is not None else ""
        if extra:
            parts.append(extra)
        return f"syncing: {'  '.join(parts) or 'starting'}  |  {waits}"

    def _loop(self) -> None:
        interval = 0.5 if self.live else 15.0
        while not self._stop.wait(interval):
            self.show()

    def show(self) -> None:
        if self.log is None:
            return
        if self.live:
            # one terminal row: a wrapped line would not be redrawn in place
            width = max(20, shutil.get_terminal_size((120, 24)).columns - 1)
            line = self.line()
            if len(line) > width:
                line = line[: width - 3] + "..."
            sys.stderr.write("\r\x1b[K" + line)
            sys.stderr.flush()
            self._shown = True
        else:
            self.log(self.line())

    def start(self) -> None:
        if self.log is None:
            return
        self._thread = threading.Thread(target=self._loop, daemon=True, name="okx-progress")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


# ----------------------------------------------------------------------------- database reads


@contextmanager
def _duckdb(db: Path | Destination, read_only: bool = True) -> Iterator[Any]:
    """A connection to the database (DuckDB file or ``Destination``)."""
    dest = db if isinstance(db, Destination) else Destination("duckdb", Path(db))
    with dest.connect(read_only=read_only) as con:
        yield con


def _sql_text(value: str) -> str:
    """A SQL string literal (values are inlined: DuckDB's Python client imports pandas,
    half a second, on the first parameterised query)."""
    return "'" + value.replace("'", "''") + "'"


def _existing_tables(con: Any) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_schema = {_sql_text(RAW_DATASET)}"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _read_db(db_path: Path | Destination, uid: str, spans: bool) -> tuple[dict[str, int], dict[str, tuple[datetime, datetime]]]:
    """Rows per raw table (this account's; all instruments) and, optionally, time spans."""
    counts: dict[str, int] = {}
    found: dict[str, tuple[datetime, datetime]] = {}
    if not _exists(db_path):
        return counts, found
    account = _sql_text(uid)
    with _duckdb(db_path) as con:
        tables = _existing_tables(con)
        for name in SUMMARY_TABLES:
            if name not in tables:
                continue
            where = "" if name in _PUBLIC_TABLES else f" WHERE account_uid = {account}"
            row = con.execute(f'SELECT count(*) FROM {RAW_DATASET}."{name}"{where}').fetchone()
            counts[name] = int(row[0]) if row else 0
        if spans:
            for name, col in (("fills", "ts"), ("bills", "ts"), ("positions_history", "u_time")):
                if name not in tables:
                    continue
                row = con.execute(
                    f'SELECT min("{col}"), max("{col}") FROM {RAW_DATASET}."{name}" '
                    f"WHERE account_uid = {account}"
                ).fetchone()
                if row and row[0] is not None and row[1] is not None:
                    found[name] = (row[0].astimezone(UTC), row[1].astimezone(UTC))
    return counts, found


# ----------------------------------------------------------------------------- dlt


def _quiet_dlt() -> None:
    """dlt settings of a sync, unless the environment sets them explicitly.

    Telemetry off (an offline tool handling trading data); ``_dlt_load_id`` on every
    raw row (the staging transforms order re-loaded rows by it); job files of loaded
    packages deleted.
    """
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    # a loaded package's files are not needed again: keep the folder from growing each run
    os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")


#: DuckDB settings for the load: no insertion-order bookkeeping (less memory in large
#: merges). No ``memory_limit``: a merge's transaction holds its rows in memory and a
#: limit makes a large backfill fail with "Out of Memory" instead of spilling.
DUCKDB_LOAD_CONFIG: dict[str, Any] = {
    "preserve_insertion_order": False,
}


_import_objects_frozen = False


def _freeze_import_time_objects() -> None:
    """Takes the objects alive now out of the cyclic garbage collector's reach, once.

    Called right after dlt, pyarrow, DuckDB, the source and pandas (which DuckDB's client
    imports on dlt's first parameterised query in any case) are imported: their modules,
    classes and configuration specs live as long as the process anyway, but every full
    collection traverses them, including the final one at interpreter exit (~0.3 s of a
    sync with nothing new, measured). Objects created later are collected as usual; the
    only cost is that cyclic garbage existing at this moment is never freed (once per
    process).
    """
    global _import_objects_frozen
    if _import_objects_frozen:
        return
    _import_objects_frozen = True
    try:  # DuckDB's client imports it on dlt's first parameterised query anyway
        import pandas  # noqa: F401
    except ImportError:
        pass
    gc.freeze()


def _pipeline(db: Path | Destination) -> Any:
    import dlt

    dest = db if isinstance(db, Destination) else Destination("duckdb", Path(db))
    pipelines_dir = pipelines_dir_for(dest.db_path)
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        pipelines_dir=str(pipelines_dir),
        destination=dest.dlt_destination(DUCKDB_LOAD_CONFIG),
        dataset_name=RAW_DATASET,
    )


def _exists(db: Path | Destination) -> bool:
    return db.exists() if isinstance(db, Destination) else Path(db).exists()


def _okx_error_in(exc: BaseException) -> OkxJournalError | None:
    """The ``OkxJournalError`` a dlt step failure wraps, if any."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, OkxJournalError):
            return cur
        stack.extend([cur.__cause__, cur.__context__, getattr(cur, "exception", None)])
    return None


def _forget_state_of_a_missing_database(
    db: Path | Destination, log: Callable[[str], None] | None
) -> None:
    """Drops dlt's folder when its database file is gone (deleted to start over, moved),
    or, on PostgreSQL, when the database holds no load of dlt's (dropped, or a new one).

    Its cursors describe data that no longer exists: keeping them would make the next
    sync skip everything up to them.
    """
    dest = db if isinstance(db, Destination) else Destination("duckdb", Path(db))
    db_path = dest.db_path
    folder = pipelines_dir_for(db_path)
    if not folder.exists() or dest.has_loads():
        return
    loaded = folder / PIPELINE_NAME / "load" / "loaded"
    if not loaded.is_dir() or not any(loaded.iterdir()):
        return  # nothing was ever loaded: a pending first package is still good
    if log:
        what = "holds no load" if dest.is_postgres else "does not exist"
        log(f"{dest.label} {what}: starting from scratch (removing {folder})")
    shutil.rmtree(folder)


def _drop_committed_leftovers(pipeline: Any) -> None:
    """Deletes the extracted copy of a package that dlt's normalize has already committed.

    normalize commits a package by renaming it into the load storage (one atomic rename),
    then deletes its extracted copy; a run killed between the two leaves both, and
    normalizing the copy again fails at the rename ("Directory not empty") on every later
    sync. A package in the load storage is complete: its extracted copy is a leftover.
    """
    committed = (set(pipeline.list_normalized_load_packages())
                 | set(pipeline.list_completed_load_packages()))
    for load_id in pipeline.list_extracted_load_packages():
        if load_id in committed:
            pipeline._get_normalize_storage().extracted_packages.delete_package(load_id)


@contextmanager
def _load_connection(dest: Destination) -> Iterator[Any]:
    """One DuckDB connection for a whole load step, lent to dlt (which would open and
    close one per job: ~40 ms each with the journal's catalog in the file, a dozen or more
    per sync); None (dlt's own connections) on PostgreSQL. The pipeline keeps the
    credentials it was last given: every later step that reaches the database (``load``,
    ``run``) is given a connection of its own again."""
    if dest.is_postgres:
        yield None
        return
    import duckdb

    con = duckdb.connect(str(dest.db_path), config=dict(DUCKDB_LOAD_CONFIG))
    try:
        yield con
    finally:
        con.close()


def _finish_pending(pipeline: Any, log: Callable[[str], None] | None) -> bool:
    """Loads a package an interrupted run extracted (data and cursors together)."""
    _drop_committed_leftovers(pipeline)
    if not pipeline.has_pending_data:
        return False
    if log:
        log("completing the load of an interrupted sync first")
    pipeline.run()
    return True


# ----------------------------------------------------------------------------- run


def run_sync(opts: SyncOptions, *, log: Callable[[str], None] | None = None) -> SyncSummary:
    """Runs one sync (see the module docstring).

    Args:
        opts: What to sync where.
        log: Receives progress lines; default stderr. Nothing is logged when
            ``opts.quiet``.

    Returns:
        The summary of the run.

    Raises:
        SyncLocked: Another sync holds the database (exit 6), raised before any request.
        PermissionRefused: The key can trade or withdraw (exit 3).
        OkxAuthError: OKX rejected the key (exit 3); the database keeps all its data.
        OkxRateLimitError, OkxUnavailableError: OKX unreachable or limiting (exit 4).
        ConfigError: Bad options (exit 2).
    """
    started = time.monotonic()
    out: Callable[[str], None] | None = None if opts.quiet else (log or _stderr)
    dest = Destination.resolve(opts.db_path, opts.destination)
    db_path = dest.db_path
    if not dest.is_postgres and db_path.is_dir():
        raise ConfigError(f"--db {db_path} is a folder: give a DuckDB file name such as journal.duckdb.")
    live = opts.progress if opts.progress is not None else sys.stderr.isatty()
    summary = SyncSummary(db_path=db_path, label=dest.label)

    split: dict[str, float] = {}
    # great-expectations takes seconds to import: that happens while the walks wait on
    # OKX, as soon as they bring rows that the checks will have to validate (not before:
    # the import would hold the interpreter while dlt starts the walks)
    warm = _Warmup() if opts.transforms and opts.checks != "off" else None

    with dest.lock():
        _quiet_dlt()
        from okx_journal.config import register_providers
        from okx_journal.permissions import enforce_read_only
        from sources.okx.client import OkxClient
        from sources.okx.source import SourceObserver, okx_source

        register_providers()  # dlt.toml's settings hold for library use too ([load] workers)
        _freeze_import_time_objects()
        _forget_state_of_a_missing_database(dest, out)
        pipeline = _pipeline(dest)
        mark = time.monotonic()
        summary.resumed_package = _finish_pending(pipeline, out)
        if summary.resumed_package:
            pipeline = _pipeline(dest)  # a fresh instance syncs its state anew
        split["loading"] = time.monotonic() - mark

        progress = _Progress(out, live)
        make_client = functools.partial(
            OkxClient,
            opts.credentials,
            demo_trading=opts.demo_trading,
            rate_limits=opts.rate_limits,
            on_wait=progress.on_wait,
            transport=opts.transport,
        )
        client = make_client(base_url=opts.base_url)
        prices: Any = None
        try:
            try:
                configs = client.get("/api/v5/account/config")
            except OkxError as exc:
                found = _find_site(opts, client, exc)
                if found is None:
                    raise
                site, answer = found
                offset = client.clock_offset_ms
                client.close()
                client = make_client(base_url=site.base_url, clock_offset_ms=offset)
                summary.site_found = (opts.base_url, site.describe())
                opts = dataclasses.replace(opts, base_url=site.base_url)
                if opts.remember_site:
                    from okx_journal.sites import remember

                    remember(opts.credentials, site.base_url)
                configs = answer if answer is not None else client.get("/api/v5/account/config")
            if not configs:
                raise ConfigError("OKX returned no account configuration for this key.")
            config = configs[0]
            uid = str(config.get("uid") or "")
            summary.account_uid = uid
            summary.warnings.extend(
                enforce_read_only(str(config.get("perm") or ""), opts.allow_write_permissions)
            )
            for warning in summary.warnings:
                if out:
                    out(warning)
            if out:
                out(f"syncing OKX account {uid} from {client.base_url} into {dest.label}")
            before, _ = _read_db(dest, uid, spans=False)

            def on_rows(resource: str, n: int) -> None:
                progress.on_rows(resource, n)
                if warm is not None and n and resource not in _SNAPSHOT_RESOURCES:
                    warm.start()

            def on_page(resource: str, page: Any) -> None:
                if prices is not None:
                    prices.want_rows(resource, page)

            observer = SourceObserver(on_rows=on_rows, on_page=on_page)
            progress.reached = observer.reached
            pipeline_over = threading.Event()
            # USD prices are fetched beside everything else, as the hours become known
            prices = _start_prices(pipeline, client, uid, dest, opts.full_refresh, out)
            split["setup"] = time.monotonic() - started - split["loading"]
            exporter = (
                _start_ledger_export(opts, client, uid, dest, observer, pipeline_over, out,
                                     on_downloaded=lambda path: prices.want_archive(path, uid))
                if opts.ledger_export else None
            )
            if exporter is not None:
                progress.extra = exporter.progress
            progress.start()
            try:
                # a backfill comes in several packages (each loaded, with its cursors,
                # before the next is extracted); the last one is a usual incremental run
                while True:
                    source = okx_source(
                        credentials=opts.credentials,
                        base_url=opts.base_url,
                        demo_trading=opts.demo_trading,
                        rate_limits=opts.rate_limits,
                        full_refresh=opts.full_refresh and summary.packages == 0,
                        client=client,
                        account_config=config,
                        observer=observer,
                        reader=dest.reader(RAW_DATASET),
                    )
                    mark = time.monotonic()
                    rows_before = sum(observer.rows.values())
                    pipeline.extract(source)
                    split["okx"] = split.get("okx", 0.0) + time.monotonic() - mark
                    mark = time.monotonic()
                    pipeline.normalize()
                    if not observer.backfill_pending:
                        # the prices of the walks' pages, loaded with them (one load; the
                        # package is extracted after the walks' is normalized, so that it
                        # sees the schema that one settled)
                        waited = time.monotonic()
                        prices.drain()
                        split["okx"] += time.monotonic() - waited
                        mark += time.monotonic() - waited
                        if prices.has_news():
                            _extract_prices(pipeline, prices, client, uid)
                            pipeline.normalize()
                    with _load_connection(dest) as credentials:
                        pipeline.load(credentials=credentials,
                                      workers=_load_workers(sum(observer.rows.values()) - rows_before))
                    split["loading"] += time.monotonic() - mark
                    summary.packages += 1
                    if not observer.backfill_pending:
                        break
                    if summary.packages >= MAX_PACKAGES:
                        raise OkxJournalError(
                            f"the backfill did not finish in {MAX_PACKAGES} load packages; "
                            "run the sync again to continue where it stopped"
                        )
                    if out:
                        done = min(observer.backfill_through.values(), default=None)
                        out(
                            f"backfill: {summary.packages} part(s) loaded"
                            + (f", through {_ms_to_dt(done):%Y-%m-%d %H:%M} UTC" if done else "")
                            + f" ({observer.rows.get('fills', 0):,} fills, "
                            f"{observer.rows.get('bills', 0):,} ledger entries so far)"
                        )
            except Exception as exc:
                pipeline_over.set()
                prices.abandon()
                if exporter is not None:
                    exporter.abandon()
                okx_error = _okx_error_in(exc)
                if okx_error is not None:
                    raise okx_error from None
                raise
            finally:
                pipeline_over.set()
            _want_loaded(prices, dest, uid)
            if exporter is not None:
                # the REST walks are loaded: wait (at most export_wait_s) for quarter files
                # OKX is still preparing, then import what was downloaded
                mark = time.monotonic()
                exporter.finish()
                split["okx"] = split.get("okx", 0.0) + time.monotonic() - mark
                mark = time.monotonic()
                with _duckdb(dest, read_only=False) as con:
                    imported = exporter.import_downloaded(con)
                split["loading"] += time.monotonic() - mark
                summary.ledger_export = exporter.by_state()
                summary.ledger_export["imported_now"] = [q.label for q in imported]
                summary.ledger_export_rows = sum(q.rows for q in imported)
                _want_loaded(prices, dest, uid)
            mark = time.monotonic()
            prices.finish()  # what the walks' last pages and the export asked for
            split["okx"] = split.get("okx", 0.0) + time.monotonic() - mark
            mark = time.monotonic()
            _load_prices(pipeline, prices, client, uid, dest)
            split["loading"] += time.monotonic() - mark
            summary.price_requests = prices.requests
            for warning in prices.warnings:
                observer.warn(warning)
        finally:
            if prices is not None:
                prices.abandon()
            progress.stop()
            client.close()

        mark = time.monotonic()
        after, summary.span = _read_db(dest, uid, spans=True)
        split["loading"] += time.monotonic() - mark
        for name in SUMMARY_TABLES:
            summary.new_rows[name] = max(0, after.get(name, 0) - before.get(name, 0))
        summary.fetched_rows = dict(observer.rows)
        summary.fetched_span = {
            k: (_ms_to_dt(v[0]), _ms_to_dt(v[1])) for k, v in observer.span_ms.items()
        }
        for warning in observer.warnings:
            if warning not in summary.warnings:
                summary.warnings.append(warning)
                if out:
                    out("warning: " + warning)
        stats = client.stats
        summary.rate_limit_waits = progress.waits
        summary.rate_limit_wait_seconds = stats.rate_limit_wait_seconds + stats.backoff_seconds
        summary.rate_limited_answers = stats.rate_limited_answers
        summary.requests = stats.requests_sent
        slowest = max(stats.rate_limit_wait_by_endpoint.values(), default=0.0)
        split["okx_limit_wait"] = min(slowest, split.get("okx", 0.0))
        if out:
            out(
                "loaded: "
                + ", ".join(f"{name} +{summary.new_rows[name]:,}" for name in SUMMARY_TABLES)
            )

        if opts.transforms and dest.is_postgres:
            _refresh_postgres(dest, opts, summary, split, warm, out)
        elif opts.transforms:
            _refresh(db_path, opts, summary, split, warm, out)
    if warm is not None:
        warm.join()  # never leave the import running (it holds stdout while it runs)
    summary.time_split = split
    summary.seconds = time.monotonic() - started
    return summary


#: A load package of at most this many rows loads its tables in parallel (``SMALL_LOAD_WORKERS``
#: jobs at once): the dozen small merges of an incremental sync or a small account's first
#: sync take half the time. Larger packages (a backfill's) keep dlt.toml's ``[load] workers``
#: (1: a 200,000-fill backfill peaks at 766 MB instead of 1,125 MB with 20 jobs).
SMALL_PACKAGE_ROWS = 50_000
SMALL_LOAD_WORKERS = 4


def _load_workers(rows: int) -> int:
    from okx_journal.config import setting

    try:
        configured = int(setting("load.workers", 1))
    except (TypeError, ValueError):
        configured = 1
    return max(configured, SMALL_LOAD_WORKERS) if rows <= SMALL_PACKAGE_ROWS else configured


def _find_site(opts: SyncOptions, client: Any, exc: OkxError) -> Any:
    """The official site that knows the key when ``client``'s host answered ``exc`` with
    a wrong-site code (``sources.okx.sites``), with its ``account/config`` answer."""
    from sources.okx.client import OkxClient
    from sources.okx.sites import WRONG_SITE_CODES, find_site, is_official

    if exc.code not in WRONG_SITE_CODES or not is_official(client.base_url):
        return None
    offset = client.clock_offset_ms

    def make(url: str) -> Any:
        return OkxClient(opts.credentials, base_url=url, demo_trading=opts.demo_trading,
                         rate_limits=opts.rate_limits, max_retries=1,
                         transport=opts.transport, clock_offset_ms=offset)

    return find_site(opts.credentials, client.base_url, make)


#: Resources whose rows are refreshed on every sync (see ``okx_journal.freshness``).
_SNAPSHOT_RESOURCES = frozenset({"positions", "balances", "snapshots", "account_config",
                                 "instruments"})


class _Warmup:
    """great-expectations imported in a thread, started at most once."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, daemon=True, name="okx-checks-import")
            self._thread.start()

    def _run(self) -> None:
        try:
            from okx_journal.checks import warm_up

            warm_up()
        except BaseException as exc:  # the checks import it again and say what failed
            self.error = exc

    def join(self) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()


def _refresh_postgres(
    dest: Destination,
    opts: SyncOptions,
    summary: SyncSummary,
    split: dict[str, float],
    warm: _Warmup | None,
    out: Callable[[str], None] | None,
) -> None:
    """On PostgreSQL: the whole journal rebuilt, then every data check (the freshness
    records that let a DuckDB sync skip unchanged relations and checks are DuckDB's)."""
    from okx_journal.checks import run_checks_after_sync
    from okx_journal.transform import build_journal

    mark = time.monotonic()
    if out:
        out("rebuilding the journal")
    with dest.connect(read_only=False) as con:
        summary.journal_rebuilt = list(build_journal(con).relations)
    summary.journal_built = True
    split["journal"] = time.monotonic() - mark
    if opts.checks == "off":
        return
    mark = time.monotonic()
    if warm is not None:
        warm.join()
    report = run_checks_after_sync(dest, opts.checks, log=out)
    summary.checks_ok = None if report is None else report.ok
    summary.checks_ran = 0 if report is None else len(report.frames)
    split["checks"] = time.monotonic() - mark


def _refresh(
    db_path: Path,
    opts: SyncOptions,
    summary: SyncSummary,
    split: dict[str, float],
    warm: _Warmup | None,
    out: Callable[[str], None] | None,
) -> None:
    """Rebuilds the journal relations and reruns the checks whose data changed.

    What each relation and check frame was computed from is kept in the database
    (``okx_journal.freshness``): a relation whose inputs are unchanged is left as it is;
    when nothing but the snapshot tables changed, no check runs and their last results
    hold. The suites that read raw tables only run beside the journal's rebuild.
    """
    from okx_journal import freshness
    from okx_journal.transform import build_journal, ensure_raw_tables, transform_files

    mark = time.monotonic()
    files = transform_files()
    check_tables: set[str] = set()
    previous: dict[str, Any] = {}
    frames: list[tuple[str, tuple[str, ...]]] = []
    run_checks = opts.checks != "off"
    # one read-write connection until the journal is built: the checks run beside the
    # build open theirs on the same database instance (a read-only one would conflict)
    import duckdb

    con = duckdb.connect(str(db_path))
    try:
        ensure_raw_tables(con)  # as the build would: an empty table is not a change later
        if run_checks:
            from okx_journal.checks import frame_id, frame_inputs, load_suites

            existing = {
                f"{r[0]}.{r[1]}"
                for r in con.execute(
                    "SELECT table_schema, table_name FROM information_schema.tables"
                ).fetchall()
            }
            for suite, suite_frames in load_suites().items():
                for frame in suite_frames:
                    frames.append((frame_id(suite, frame), frame_inputs(frame, existing)))
                    check_tables |= set(frames[-1][1])
            previous = freshness.read_checked(con)
        raw = {t for tf in files for t in tf.raw_inputs}
        raw |= {t.split(".", 1)[1] for t in check_tables if t.startswith(RAW_DATASET + ".")}
        fingerprints = freshness.raw_fingerprints(con, raw)
        keys = freshness.relation_keys(files, fingerprints, {"cost_basis": opts.cost_basis})
        stale = freshness.stale_relations(con, files, keys, freshness.read_built(con))
        split["journal"] = time.monotonic() - mark

        inputs = {f"{RAW_DATASET}.{t}": fp for t, fp in fingerprints.items()} | keys
        snapshots = {f"{RAW_DATASET}.{t}" for t in freshness.SNAPSHOT_TABLES}
        changed: set[str] = set()
        for fid, tables in frames:
            last = previous.get(fid)
            if last is None:
                changed.add("(never checked)")
                continue
            changed |= {t for t in tables if last[0].get(t) != inputs.get(t, "absent")}
        check_now = run_checks and bool(changed) and not changed <= snapshots

        # the suites that read only raw tables need no journal: they run beside its rebuild
        early: list[str] = []
        late: list[str] = []
        if check_now:
            for fid, _ in frames:
                suite = fid.split("/", 1)[0]
                if suite in early or suite in late:
                    continue
                suite_tables = {t for f, ts in frames if f.split("/", 1)[0] == suite for t in ts}
                raw_only = all(t.startswith(RAW_DATASET + ".") for t in suite_tables)
                (early if raw_only else late).append(suite)
        reports: dict[str, Any] = {}
        failures: list[BaseException] = []
        checks_started = time.monotonic()

        def run_suites(names: list[str]) -> None:
            from okx_journal.checks import run_checks as run_suites_of

            try:
                if warm is not None:
                    warm.start()
                    warm.join()
                for name in names:
                    reports[name] = run_suites_of(db_path, suites=[name], write_json=False,
                                                  inputs=inputs, previous=previous)
            except BaseException as exc:  # raised again in the sync's thread
                failures.append(exc)

        beside = threading.Thread(target=run_suites, args=(early,), name="okx-checks")
        if early:
            beside.start()
        try:
            mark = time.monotonic()
            if stale:
                if out:
                    out(
                        f"rebuilding the journal (cost basis {opts.cost_basis})"
                        if len(stale) == len(files)
                        else f"rebuilding {len(stale)} of {len(files)} journal relations"
                        f" (cost basis {opts.cost_basis})"
                    )
                build_journal(con, only=stale, cost_basis=opts.cost_basis)
                freshness.write_built(con, keys, stale)
            split["journal"] += time.monotonic() - mark
        finally:
            if early:
                beside.join()
    finally:
        con.close()
    summary.journal_built = True
    summary.journal_rebuilt = stale
    if failures:
        raise failures[0]
    if not run_checks:
        return

    mark = time.monotonic()
    if not check_now:
        # nothing the checks read changed but the snapshots: the last results hold
        outcomes = [o for fid, _ in frames for o in previous[fid][1]]
        summary.checks_kept = True
        summary.checks_ok = not any(o.get("status") in ("failed", "error") for o in outcomes)
        if out:
            out("data checks: nothing they read changed, their last results hold")
        split["checks"] = time.monotonic() - mark
        if not summary.checks_ok and opts.checks == "fail":
            from okx_journal.checks import CheckReport, Outcome

            kept = CheckReport(db_path=db_path, suites=[], seconds=0.0,
                               outcomes=[Outcome(**o) for o in outcomes])
            kept.raise_for_failures()
        return
    from okx_journal.checks import combine, run_checks_after_sync, write_results

    run_suites(late)
    if failures:
        raise failures[0]
    report = combine([reports[name] for name in [*early, *late] if name in reports])
    order = {s: i for i, s in enumerate(dict.fromkeys(fid.split("/", 1)[0] for fid, _ in frames))}
    report.suites.sort(key=lambda r: order.get(r.suite, len(order)))
    report.seconds = time.monotonic() - checks_started
    write_results(report)
    # the time the checks added after the journal (those beside it ran in its shadow)
    split["checks"] = time.monotonic() - mark

    def record(done: Any) -> None:
        """What the checks were computed from, kept even when they fail (exit 5)."""
        summary.checks_ok = done.ok
        summary.checks_ran = len(done.ran)
        with _duckdb(db_path, read_only=False) as meta:
            freshness.write_checked(meta, done.computed_from)
        split["checks"] = time.monotonic() - mark

    run_checks_after_sync(db_path, opts.checks, log=out, on_report=record, report=report)


def _first_activity_in_db(db_path: Path | Destination, uid: str) -> dict[str, int]:
    """The oldest record time (epoch ms) per ledger table of the account in the database."""
    if not _exists(db_path):
        return {}
    oldest: dict[str, int] = {}
    with _duckdb(db_path) as con:
        tables = _existing_tables(con)
        for name in ("funding_bills", "bills", "fills", "deposits"):
            if name not in tables:
                continue
            row = con.execute(
                f'SELECT epoch_ms(min(ts)) FROM {RAW_DATASET}."{name}" '
                f"WHERE account_uid = {_sql_text(uid)}"
            ).fetchone()
            if row and row[0] is not None:
                oldest[name] = int(row[0])
    return oldest


def _start_ledger_export(
    opts: SyncOptions,
    client: Any,
    uid: str,
    db: Path | Destination,
    observer: Any,
    pipeline_over: threading.Event,
    out: Callable[[str], None] | None,
    on_downloaded: Callable[[Path], None] | None = None,
) -> Any:
    """Starts the quarterly ledger export's requests beside the REST walks."""
    from sources.okx.ledger_export import REST_WINDOW_MS, LedgerExport, read_quarter_states

    states = {}
    dest = db if isinstance(db, Destination) else Destination("duckdb", Path(db))
    db_path = dest.db_path
    if dest.exists():
        with _duckdb(dest) as con:
            states = read_quarter_states(con, uid)
    known = _first_activity_in_db(dest, uid)
    now_ms = int(time.time() * 1000) + int(getattr(client, "clock_offset_ms", 0) or 0)

    def first_activity() -> int | None:
        """Where the account's history begins, or None when unknown.

        Its funding-account ledger holds every deposit and transfer since 2021-02-01: its
        oldest entry (this run's walk, or the database) is where the trading began. Without
        it (a key that may not read the funding account), the oldest ledger entry or fill
        counts when it lies well inside the REST pages' 3 months (the whole account is
        there); otherwise the start is unknown.
        """
        while not observer.wait_done("funding_bills", 0.25):
            if pipeline_over.is_set():
                break
        reached = observer.reached()
        funding: list[int] = [int(v) for v in (reached.get("funding_bills"),
                                                known.get("funding_bills")) if v is not None]
        trading: list[int] = [int(v) for k, v in reached.items() if k in ("bills", "fills")]
        trading += [v for k, v in known.items() if k in ("bills", "fills", "deposits")]
        if funding:
            return min(funding + trading)
        rest_from = now_ms - REST_WINDOW_MS
        oldest = min(trading) if trading else None
        if oldest is not None and oldest > rest_from + 2 * 86_400_000:
            return oldest  # the whole account lies inside the REST pages' window
        return None  # unknown: quarters are asked newest first until two have no data

    since_ms = int(opts.since.timestamp() * 1000) if opts.since is not None else None
    exporter = LedgerExport(
        client,
        uid,
        now_ms=now_ms,
        states=states,
        first_activity=first_activity,
        since_ms=since_ms,
        workdir=pipelines_dir_for(db_path) / "ledger-export",
        wait_s=opts.export_wait_s,
        log=out,
        on_downloaded=on_downloaded,
    )
    exporter.start()
    return exporter


def _start_prices(pipeline: Any, client: Any, uid: str, db_path: Path | Destination,
                  full_refresh: bool, out: Callable[[str], None] | None) -> Any:
    """Starts fetching USD prices (``sources.okx.prices``): first the hours of what is
    already loaded and not priced yet (a run stopped before its prices were loaded)."""
    from sources.okx.prices import IndexPrices, needed_hours, read_price_state, stored_hours

    stored: dict[str, list[int]] = {}
    needs: dict[str, set[int]] = {}
    if _exists(db_path):
        with _duckdb(db_path) as con:
            stored = stored_hours(con)
            needs = needed_hours(con, uid)
    now_ms = int(time.time() * 1000) + int(getattr(client, "clock_offset_ms", 0) or 0)
    prices = IndexPrices(client, now_ms=now_ms, stored=stored,
                         state=None if full_refresh else read_price_state(pipeline), log=out)
    prices.start()
    prices.want(needs)
    return prices


def _want_loaded(prices: Any, db_path: Path | Destination, uid: str) -> None:
    """Asks for the USD prices of every hour of the account's events now loaded."""
    from sources.okx.prices import needed_hours

    if _exists(db_path):
        with _duckdb(db_path) as con:
            prices.want(needed_hours(con, uid))


def _extract_prices(pipeline: Any, prices: Any, client: Any, uid: str) -> None:
    """The USD prices fetched so far as a package of their own, loaded with the walks'."""
    from sources.okx.prices import okx_prices_source

    pipeline.extract(okx_prices_source(prices=prices, client=client, uid=uid))


def _load_prices(pipeline: Any, prices: Any, client: Any, uid: str, dest: Destination) -> None:
    """Loads the USD prices fetched after the walks' package (one more load package, when
    any: hours the walks' pages did not show, the quarterly export's); the caller has
    waited for them (``prices.finish()``)."""
    from sources.okx.prices import okx_prices_source

    if not prices.has_news():
        return
    try:
        with _load_connection(dest) as credentials:
            pipeline.run(okx_prices_source(prices=prices, client=client, uid=uid),
                         credentials=credentials)
    except Exception as exc:
        okx_error = _okx_error_in(exc)
        if okx_error is not None:
            raise okx_error from None
        raise

