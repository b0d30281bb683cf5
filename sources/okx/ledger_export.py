"""The trading account's ledger older than 3 months: OKX's quarterly export, imported.

``account/bills-history-archive`` (okx-api §3.4) serves the ledger from 2021-02-01 on, a
whole quarter per file and never the current quarter. For every quarter wanted, one
``LedgerExport`` run:

1. **applies** (``POST``, the only non-GET request okx-journal sends; read-only, works
   with a Read-only key) unless the quarter was applied before and not failed. OKX limits
   applies to 1 per 10 s (docs since 2026-06-11; 12 per day before): the applies are
   paced by the client's limiter in a thread of their own, so they never hold up the REST
   walks; an apply OKX refuses for its rate limit is not retried: the quarters left are
   applied by the next sync;
2. **polls** the ``GET`` for the file: ``finished`` is downloaded, ``ongoing`` is normal
   (OKX takes about 2 hours; the next sync picks it up: the quarter is remembered as
   ``ongoing``), ``failed`` is applied again by the next sync and reported;
3. **downloads** the file from the link OKX returns, with a client of its own: none of
   OKX's auth headers (the key, signature, passphrase) ever go to the file host; https
   only, except a loopback host (the simulator);
4. **imports** it into ``okx_raw.bills`` under the same key as the REST rows
   (``account_uid, bill_id``): a bill already loaded (from ``bills-archive``, which carries
   its ``type``) is kept as it is, so a bill in both lands once; rows are streamed in
   Arrow batches (``sources.okx.archive``), never one Python object per row.

Exactly once, whatever kills a run: a quarter's rows and its ``imported`` mark
(``okx_raw.ledger_export_quarters``) are written in one DuckDB transaction, and a bill
already in ``okx_raw.bills`` (same account and ``bill_id``) is never inserted again. The
rows go in as one Arrow stream, so DuckDB writes full row groups to the file as they fill
and its memory stays bounded. (This bypasses dlt's loader on purpose: dlt's merge loaded
a million-bill quarter at 98k rows/s with a 1.7 GB peak here; see ``bench/RESULTS.md``.)

Which quarters: from the quarter of the account's first activity (the oldest record of
its funding-account ledger, which holds every deposit and transfer since 2021-02-01, or
of its trading ledger and fills when older) or of ``since_ms``, to the last finished
quarter. A quarter OKX has no data for (``51608``) is remembered as ``no_data``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from sources.okx.archive import (
    ArchiveFormatError,
    archive_batches,
    finished_quarters,
    quarter_bounds,
)
from sources.okx.client import ARCHIVE_PATH, OkxClient
from sources.okx.errors import OkxAuthError, OkxError, OkxRateLimitError, OkxUnavailableError
from sources.okx.schema import BILLS, column_hints

__all__ = [
    "STATE_TABLE",
    "LedgerExport",
    "QuarterState",
    "import_export_file",
    "read_quarter_states",
]

T = TypeVar("T")

STATE_TABLE = "ledger_export_quarters"
#: how far back the REST pages (``bills-archive``) serve the ledger, with two days to spare
REST_WINDOW_MS = 88 * 86_400_000
#: quarters without data in a row that end the search for an account's first quarter
EMPTY_QUARTERS_TO_STOP = 2
#: states a quarter can be in; ``imported`` and ``no_data`` are final
FINAL_STATES = frozenset({"imported", "no_data"})
_NO_DATA = "51608"
_NOT_APPLIED = "51604"
_CURRENT_QUARTER = "51606"
_STILL_PROCESSING = "51607"
_RATE_LIMIT = "50011"


@dataclass
class QuarterState:
    """One quarter of one account's ledger export."""

    year: int
    quarter: int
    state: str = "new"  # new | applied | ongoing | failed | downloaded | imported | no_data
    rows: int = 0
    applied_at_ms: int | None = None
    message: str = ""
    file: Path | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.quarter}"


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_quarter_states(con: Any, uid: str) -> dict[tuple[int, int], QuarterState]:
    """The quarters of ``uid`` recorded in the database (none when the table is absent)."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'okx_raw' "
        f"and table_name = {_sql_text(STATE_TABLE)}"
    ).fetchone()
    if not found or not found[0]:
        return {}
    rows = con.execute(
        f"select year, quarter, state, rows, applied_at, message from okx_raw.{STATE_TABLE} "
        f"where account_uid = {_sql_text(uid)}"
    ).fetchall()
    out: dict[tuple[int, int], QuarterState] = {}
    for year, quarter, state, n, applied_at, message in rows:
        applied_ms = int(applied_at.timestamp() * 1000) if applied_at is not None else None
        out[(int(year), int(quarter))] = QuarterState(
            int(year), int(quarter), str(state), int(n or 0), applied_ms, str(message or "")
        )
    return out


def _ensure_tables(con: Any) -> None:
    con.execute("create schema if not exists okx_raw")
    con.execute(
        f"""create table if not exists okx_raw.{STATE_TABLE} (
            account_uid varchar not null,
            year integer not null,
            quarter integer not null,
            state varchar not null,
            rows bigint,
            applied_at timestamptz,
            updated_at timestamptz,
            message varchar,
            primary key (account_uid, year, quarter))"""
    )
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'okx_raw' "
        "and table_name = 'bills'"
    ).fetchone()
    if exists and exists[0]:
        return
    # no REST bill loaded yet: the table dlt would create, with dlt's own row columns
    cols = []
    for name, hint in column_hints(BILLS).items():
        sql_type = {
            "decimal": "DECIMAL(38, 18)",
            "timestamp": "TIMESTAMP WITH TIME ZONE",
            "bool": "BOOLEAN",
            "bigint": "BIGINT",
        }.get(str(hint["data_type"]), "VARCHAR")
        cols.append(f'"{name}" {sql_type}' + ("" if hint["nullable"] else " NOT NULL"))
    cols.append('"_dlt_load_id" VARCHAR NOT NULL')  # as dlt's Arrow loads write it
    con.execute(f"create table okx_raw.bills ({', '.join(cols)})")


def _save_state(con: Any, uid: str, q: QuarterState) -> None:
    applied = "NULL" if q.applied_at_ms is None else f"make_timestamp({q.applied_at_ms * 1000})"
    con.execute(
        f"""insert into okx_raw.{STATE_TABLE}
            (account_uid, year, quarter, state, rows, applied_at, updated_at, message)
            values ({_sql_text(uid)}, {q.year}, {q.quarter}, {_sql_text(q.state)}, {q.rows},
                    {applied}, now(), {_sql_text(q.message)})
            on conflict (account_uid, year, quarter) do update set state = excluded.state,
                rows = excluded.rows, applied_at = excluded.applied_at,
                updated_at = excluded.updated_at, message = excluded.message"""
    )


def import_export_file(con: Any, uid: str, q: QuarterState, path: Path) -> int:
    """Imports one downloaded quarter into ``okx_raw.bills`` and marks it imported, in one
    transaction. Bills already in the table (same ``account_uid, bill_id``) are kept.

    Returns:
        The number of bills added.
    """
    import pyarrow as pa

    _ensure_tables(con)
    if hasattr(con, "copy_arrow"):  # PostgreSQL (okx_journal.postgres.PgConnection)
        try:
            return _import(con, uid, q, path, exact=False)
        except pa.ArrowInvalid:
            return _import(con, uid, q, path, exact=True)
    # One INSERT reads the whole file as an Arrow stream: DuckDB then writes full row
    # groups straight to the database file as they fill (its memory stays bounded, even in
    # one transaction), parallel and unordered; its buffers are capped.
    con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")
    try:
        return _import(con, uid, q, path, exact=False)
    except pa.ArrowInvalid:
        # a number with more than 18 decimals: the exact (slower) path, which rounds it
        # and says so in the log, as for the REST rows
        return _import(con, uid, q, path, exact=True)
    finally:
        con.execute("RESET memory_limit")
        con.execute("RESET preserve_insertion_order")


#: a file's rows are trusted by their own ``ts``; the bills already loaded are looked up
#: this far around the quarter (OKX's own examples disagree on the quarter's bounds)
_AROUND_MS = 92 * 86_400_000
#: DuckDB's buffer memory during an import
IMPORT_MEMORY_LIMIT = "64MB"


def _import(con: Any, uid: str, q: QuarterState, path: Path, *, exact: bool) -> int:
    import itertools

    import pyarrow as pa
    import pyarrow.compute as pc

    table_cols = {
        str(r[0]) for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'okx_raw' "
            "and table_name = 'bills'"
        ).fetchall()
    }
    load_id = f"{time.time():.6f}"
    account = _sql_text(uid)
    lo, hi = quarter_bounds(q.year, q.quarter)
    failures: list[BaseException] = []
    con.execute("begin transaction")
    try:
        # the bills this account already has around the quarter (from bills-archive, a
        # neighbouring quarter's file) are kept as they are: filtered out in Arrow
        loaded_sql = f"""select bill_id from okx_raw.bills where account_uid = {account}
                and ts >= make_timestamp({(lo - _AROUND_MS) * 1000})
                and ts < make_timestamp({(hi + _AROUND_MS) * 1000})"""
        loaded = (con.arrow(loaded_sql) if hasattr(con, "copy_arrow")
                  else con.execute(loaded_sql).to_arrow_table()).column("bill_id")
        seen = pc.unique(loaded.combine_chunks()) if len(loaded) else None

        def rows() -> Iterator[pa.RecordBatch]:
            try:
                for batch in archive_batches(path, uid, exact=exact):
                    ids = batch.column("bill_id")
                    if pc.count_distinct(ids).as_py() != len(ids):
                        # a ledger lists a bill once (the data checks would also flag it)
                        raise ArchiveFormatError(
                            f"the ledger export of {q.label} lists a bill twice: not imported")
                    if seen is not None:
                        batch = batch.filter(pc.invert(pc.is_in(batch.column("bill_id"),
                                                                value_set=seen)))
                    if "_dlt_load_id" in table_cols:
                        batch = batch.append_column(
                            "_dlt_load_id",
                            pa.repeat(pa.scalar(load_id, pa.string()), batch.num_rows))
                    if "_dlt_id" in table_cols:
                        batch = batch.append_column(
                            "_dlt_id",
                            pc.binary_join_element_wise("export-", batch.column("bill_id"), ""))
                    yield from batch.to_batches()
            except BaseException as exc:  # re-raised as it is, not as DuckDB's error
                failures.append(exc)
                raise

        stream = rows()
        first = next(stream, None)
        if first is None:
            added = 0
        else:
            for name in first.schema.names:  # a column OKX added to the file: kept, as text
                if name not in table_cols:
                    con.execute(f'alter table okx_raw.bills add column "{name}" varchar')
                    table_cols.add(name)
            if hasattr(con, "copy_arrow"):  # PostgreSQL: COPY, the digits as they are
                added = sum(con.copy_arrow("okx_raw.bills", b.schema.names, b)
                            for b in itertools.chain([first], stream))
                q.state, q.rows, q.message = "imported", added, ""
                _save_state(con, uid, q)
                con.execute("commit")
                return added
            reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], stream))
            names = ", ".join(f'"{c}"' for c in first.schema.names)
            con.register("okx_export_rows", reader)
            try:
                result = con.execute(
                    f"insert into okx_raw.bills ({names}) select {names} from okx_export_rows"
                ).fetchone()
            except Exception:
                if failures:
                    raise failures[0] from None
                raise
            finally:
                con.unregister("okx_export_rows")
            added = int(result[0]) if result else 0
        q.state, q.rows, q.message = "imported", added, ""
        _save_state(con, uid, q)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return added


class LedgerExport:
    """Applies for, waits for and downloads the quarterly exports of one account.

    ``start()`` runs the requests in a thread while the REST walks go on; ``finish()``
    waits for it (at most ``wait_s`` for files OKX is still preparing), then the caller
    imports the downloaded files with ``import_downloaded(con)``.

    Args:
        client: The sync's ``OkxClient`` (its limiter paces the apply and the GET).
        uid: The account.
        now_ms: OKX's time now.
        states: What the database remembers (``read_quarter_states``).
        first_activity: Returns the oldest known record time of the account (epoch ms),
            called once the funding ledger walk has ended; None: unknown.
        since_ms: Import from this time on instead of the account's first activity.
        workdir: Where downloads are kept until imported.
        wait_s: How long ``finish`` waits for files still being prepared.
        log: Progress lines.
        poll_s: Seconds between two looks at a quarter being prepared.
        on_downloaded: Called with each file once downloaded, before its import (the
            sync asks for the USD prices of its hours then).
    """

    def __init__(
        self,
        client: OkxClient,
        uid: str,
        *,
        now_ms: int,
        states: dict[tuple[int, int], QuarterState],
        first_activity: Callable[[], int | None],
        since_ms: int | None = None,
        workdir: Path,
        wait_s: float = 10.0,
        log: Callable[[str], None] | None = None,
        poll_s: float = 1.0,
        download_timeout_s: float = 300.0,
        on_downloaded: Callable[[Path], None] | None = None,
    ) -> None:
        self.client = client
        self.uid = uid
        self.now_ms = now_ms
        self.states = dict(states)
        self.first_activity = first_activity
        self.since_ms = since_ms
        self.workdir = Path(workdir)
        self.wait_s = wait_s
        self.log = log
        self.poll_s = poll_s
        self.download_timeout_s = download_timeout_s
        self.on_downloaded = on_downloaded
        self.error: BaseException | None = None
        self.apply_refused = False
        self.quarters: list[QuarterState] = []
        self._stop = threading.Event()
        self._applied_until = 0.0  # monotonic time of the last apply
        self._deadline: float | None = None
        self._deadline_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ plan
    def wanted(self, first_ms: int | None) -> list[tuple[int, int]]:
        """The finished quarters the REST pages cannot serve, newest first: those that
        begin before the REST window (3 months back) and end after ``since_ms`` (or the
        account's first activity; unknown: 2021-02-01)."""
        start = self.since_ms if self.since_ms is not None else first_ms
        rest_from = self.now_ms - REST_WINDOW_MS
        out = []
        for year, quarter in finished_quarters(start or 0, self.now_ms):
            lo, hi = quarter_bounds(year, quarter)
            if lo < rest_from and (start is None or hi > start):
                out.append((year, quarter))
        return list(reversed(out))

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="okx-ledger-export", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """Lets the thread end: files still being prepared are waited for ``wait_s`` from
        now or from the last apply, whichever is later."""
        with self._deadline_lock:
            self._deadline = time.monotonic() + self.wait_s
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """Stops the requests at once (the sync failed); nothing is imported."""
        self._stop.set()
        with self._deadline_lock:
            self._deadline = time.monotonic()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _past_deadline(self) -> bool:
        if self._stop.is_set():
            return True
        with self._deadline_lock:
            if self._deadline is None:
                return False
            deadline = max(self._deadline, self._applied_until + self.wait_s)
            return time.monotonic() >= deadline

    def _say(self, text: str) -> None:
        if self.log is not None:
            self.log("ledger export: " + text)

    def _run(self) -> None:
        try:
            first_ms = self.first_activity()
            unknown_start = first_ms is None and self.since_ms is None
            wanted = set(self.wanted(first_ms))
            # a quarter asked for by an earlier sync is followed up whatever the plan says
            wanted |= {k for k, q in self.states.items() if q.state not in FINAL_STATES}
            for year, quarter in sorted(wanted, reverse=True):
                q = self.states.get((year, quarter)) or QuarterState(year, quarter)
                self.states[(year, quarter)] = q
                self.quarters.append(q)
            empty_in_a_row = 0
            for q in self.quarters:  # newest first
                if self._stop.is_set():
                    return
                if unknown_start and empty_in_a_row >= EMPTY_QUARTERS_TO_STOP:
                    # where the account began is unknown (no funding-account ledger): two
                    # quarters in a row without data mark its start; older ones are not asked
                    self.quarters = [x for x in self.quarters if x.state != "new"]
                    break
                if q.state not in FINAL_STATES:
                    # the files asked for before this one may be ready by now (each apply
                    # waits for OKX's 1 per 10 s): downloading them at once lets the sync
                    # use them (their USD prices are fetched as they arrive)
                    for earlier in self.quarters:
                        if earlier is q:
                            break
                        if earlier.state in ("applied", "ongoing") and not self._stop.is_set():
                            self._look(earlier)
                    self._advance(q)
                empty_in_a_row = empty_in_a_row + 1 if q.state == "no_data" else 0
            while any(q.state in ("applied", "ongoing") for q in self.quarters):
                if self._past_deadline():
                    break
                time.sleep(self.poll_s)
                for q in self.quarters:
                    if q.state in ("applied", "ongoing"):
                        self._look(q)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def _advance(self, q: QuarterState) -> None:
        if q.state in ("new", "failed", "downloaded") and not self.apply_refused:
            if q.state == "downloaded":  # a file of an interrupted run: fetch it again
                q.state = "ongoing"
            else:
                self._apply(q)
        if q.state in ("applied", "ongoing"):
            self._look(q)

    def _apply(self, q: QuarterState) -> None:
        try:
            answer = self.client.apply_bills_history_archive(q.year, q.quarter, retry_rate_limited=False)
        except OkxRateLimitError:
            self.apply_refused = True
            self._say(f"OKX's limit on export requests reached at {q.label}; "
                      "the quarters left are requested by the next sync")
            return
        except OkxError as exc:
            self._on_code(q, exc)
            return
        q.applied_at_ms = int(time.time() * 1000)
        with self._deadline_lock:
            self._applied_until = time.monotonic()
        result = str((answer[0] if answer else {}).get("result", "")).lower()
        q.state = "applied"
        q.message = "file ready" if result == "true" else "OKX is preparing the file"
        self._say(f"{q.label} requested ({q.message})")

    def _on_code(self, q: QuarterState, exc: OkxError) -> None:
        """What an OKX error answer means for the quarter; a rejected key or an OKX that
        cannot be reached stops the sync as anywhere else."""
        if isinstance(exc, OkxAuthError | OkxUnavailableError | OkxRateLimitError):
            raise exc
        if exc.code == _NO_DATA:
            q.state, q.rows, q.message = "no_data", 0, "OKX has no ledger data for this quarter"
        elif exc.code == _STILL_PROCESSING:
            q.state, q.message = "ongoing", "OKX is still preparing an earlier request"
        elif exc.code == _NOT_APPLIED:
            q.state, q.message = "new", "not requested yet"
        elif exc.code == _CURRENT_QUARTER:
            q.state, q.message = "new", "the quarter is not over yet"
        else:
            q.state, q.message = "failed", f"{exc} (requested again next sync)"

    def _look(self, q: QuarterState) -> None:
        try:
            answer = self.client.get(ARCHIVE_PATH, {"year": str(q.year), "quarter": f"Q{q.quarter}"})
        except OkxError as exc:
            self._on_code(q, exc)
            return
        item = answer[0] if answer else {}
        state = str(item.get("state") or "")
        if state == "finished" and item.get("fileHref"):
            self._download(q, str(item["fileHref"]))
        elif state == "failed":
            q.state, q.message = "failed", "OKX failed to prepare the file; requested again next sync"
        else:
            q.state, q.message = "ongoing", "OKX is preparing the file; the next sync picks it up"

    def _download(self, q: QuarterState, href: str) -> None:
        try:
            self._fetch_file(q, href)
        except (httpx.HTTPError, OSError) as exc:
            q.state = "failed"
            q.message = (f"the file could not be downloaded ({type(exc).__name__}); "
                         "requested again next sync")

    def _fetch_file(self, q: QuarterState, href: str) -> None:
        parts = urlsplit(href)
        host = parts.hostname or ""
        if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(host)):
            q.state, q.message = "failed", f"OKX gave a link that is not https ({parts.scheme}://{host})"
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        target = self.workdir / f"{self.uid}-{q.label}.download"
        # a client of its own: no OKX auth hook, no OKX headers, no redirects to elsewhere
        with httpx.Client(timeout=httpx.Timeout(self.download_timeout_s, connect=10.0),
                          follow_redirects=False, headers={"User-Agent": "okx-journal"}) as http:
            with http.stream("GET", href) as response:
                if response.status_code != 200:
                    q.state = "failed"
                    q.message = (f"the file's link answered HTTP {response.status_code} "
                                 "(expired?); requested again next sync")
                    return
                with tempfile.NamedTemporaryFile(dir=self.workdir, delete=False) as tmp:
                    for chunk in response.iter_bytes(1 << 20):
                        tmp.write(chunk)
        shutil.move(tmp.name, target)
        q.file = target
        q.state, q.message = "downloaded", ""
        if self.on_downloaded is not None:
            self.on_downloaded(target)

    # ------------------------------------------------------------------ import
    def import_downloaded(self, con: Any) -> list[QuarterState]:
        """Imports every downloaded quarter (``import_export_file``) and records the state
        of the others; returns the quarters imported now."""
        _ensure_tables(con)
        done: list[QuarterState] = []
        for q in self.quarters:
            if q.state == "downloaded" and q.file is not None:
                lo, hi = quarter_bounds(q.year, q.quarter)
                try:
                    import_export_file(con, self.uid, q, q.file)
                except ArchiveFormatError as exc:
                    q.state, q.message = "failed", f"{exc}; requested again next sync"
                    _save_state(con, self.uid, q)
                    continue
                finally:
                    q.file.unlink(missing_ok=True)
                done.append(q)
                self._say(f"{q.label} imported ({q.rows:,} bills not already loaded; "
                          f"{_day(lo)} to {_day(hi - 1)})")
            elif q.state not in FINAL_STATES or q.state == "no_data":
                _save_state(con, self.uid, q)
        return done

    def progress(self) -> str:
        """``quarters 3/9 downloaded`` for the live progress line ('' before the plan)."""
        quarters = list(self.quarters)
        wanted = [q for q in quarters if q.state != "no_data"]
        if not wanted:
            return ""
        ready = sum(1 for q in wanted if q.state in ("downloaded", "imported"))
        return f"ledger export: quarters {ready}/{len(wanted)} ready"

    def by_state(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for q in sorted(self.quarters, key=lambda x: (x.year, x.quarter)):
            key = {"applied": "pending", "ongoing": "pending", "new": "pending",
                   "downloaded": "pending"}.get(q.state, q.state)
            out.setdefault(key, []).append(q.label)
        return out


def _day(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))
