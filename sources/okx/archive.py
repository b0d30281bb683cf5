"""OKX's quarterly ledger export (``account/bills-history-archive``, okx-api §3.4): the file.

OKX keeps the trading account's ledger on its REST pages for 3 months; older bills, back
to 2021-02-01, come only from a quarterly export: a POST asks OKX to build a quarter's
file, a GET returns its state and link, and the link serves a compressed CSV. This module
reads such a file; the requests live with the resource that imports it.

What OKX does not pin down, and how it is read here:

* Container: the docs say "decompressed CSV" without saying zip or gzip. The first bytes
  decide: ``PK\\x03\\x04`` is a zip (its first ``.csv`` member, else its first member),
  ``\\x1f\\x8b`` gzip, anything else plain CSV text (a UTF-8 byte-order mark is skipped).
* Columns: the header row names them. The 28 documented columns (``ARCHIVE_COLUMNS``) are
  matched by name, in any order; a documented column that is missing is NULL; a column
  OKX adds later is kept as text under its snake_case name. There is no ``type`` column:
  ``type`` is NULL in the loaded rows (the journal reads a trade bill from its
  ``sub_type``, ``ord_id``, ``trade_id`` and ``fill_time``, see docs/DESIGN.md).
* Numbers: exact decimals, exponent notation accepted (OKX's statements write zero as
  ``0E-8``); they land as ``DECIMAL(38, 18)`` like the REST rows, so a bill present in both
  compares equal by value. Times are epoch milliseconds, as on the REST pages.
* Rows are trusted by their own ``ts``, never by the quarter the file was asked for.

The file is read in Arrow record batches (pyarrow's streaming CSV reader, C++; a zip or
gzip member is decompressed by a thread into a pipe the reader reads): no Python object
per row, memory bounded by the batch size whatever the file's size.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sources.okx.schema import (
    BILLS,
    _empty_to_null,
    _fast_decimal,
    _fast_timestamp,
    snake,
)

__all__ = [
    "ARCHIVE_COLUMNS",
    "ArchiveFormatError",
    "archive_batches",
    "finished_quarters",
    "open_archive",
    "quarter_bounds",
    "quarter_of",
]

#: the documented columns of the decompressed CSV (okx-api §3.4), in the documented order
ARCHIVE_COLUMNS: tuple[str, ...] = (
    "instType", "billId", "subType", "ts", "balChg", "posBalChg", "bal", "posBal", "sz", "px",
    "ccy", "pnl", "fee", "mgnMode", "instId", "ordId", "execType", "interest", "tag",
    "fillTime", "tradeId", "clOrdId", "fillIdxPx", "fillMarkPx", "fillPxVol", "fillPxUsd",
    "fillMarkVol", "fillFwdPx",
)

#: OKX's export has data from this day on (okx-api §0 item 3)
ARCHIVE_START_MS = int(datetime(2021, 2, 1, tzinfo=UTC).timestamp() * 1000)

_ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b"
_BLOCK_BYTES = 1 << 20
_DECIMAL = pa.decimal128(38, 18)

#: the bills columns of OKX's fields: dlt's snake_case (``tests/test_archive_file.py``
#: checks that it is), spelled out so that reading a file does not need dlt
BILLS_COLUMN: dict[str, str] = {
    name: re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() for name in BILLS.fields
}
_TS = pa.timestamp("us", tz="UTC")


class ArchiveFormatError(ValueError):
    """The downloaded file is not a CSV ledger export that this reader understands."""


def open_archive(path: Path | str) -> IO[bytes]:
    """Opens a downloaded export as a stream of CSV bytes, whatever its container.

    Args:
        path: The downloaded file.

    Returns:
        A binary stream of the CSV text (the caller closes it).

    Raises:
        ArchiveFormatError: A zip without members, or a damaged zip or gzip.
    """
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(4)
    try:
        if head.startswith(_ZIP_MAGIC):
            archive = zipfile.ZipFile(path)
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if not names:
                raise ArchiveFormatError("the ledger export is an empty zip file")
            csvs = [n for n in names if n.lower().endswith(".csv")]
            return archive.open((csvs or names)[0])
        if head.startswith(_GZIP_MAGIC):
            return cast(IO[bytes], gzip.open(path, "rb"))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArchiveFormatError(f"the ledger export could not be decompressed ({exc})") from exc
    return path.open("rb")


def _header(stream: IO[bytes]) -> list[str]:
    """The header line's column names (a byte-order mark and quotes removed)."""
    text = stream.readline().decode("utf-8-sig").strip("\r\n")
    return [n.strip().strip('"').strip() for n in text.split(",")] if text else []


@contextmanager
def _csv_stream(path: Path) -> Iterator[tuple[Path, list[str], Callable[[], None]]]:
    """The export as plain CSV that the CSV reader opens natively: the file itself, or a
    pipe that a thread fills with the decompressed zip or gzip member (decompression and
    parsing run side by side; nothing is written to disk). Yields the path to read, the
    header's column names and a check to call once the reader is done (it raises when
    decompression failed, so a damaged file is never taken as a short one)."""
    with path.open("rb") as f:
        head = f.read(4)
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_GZIP_MAGIC)):
        with path.open("rb") as f:
            names = _header(f)
        yield path, names, lambda: None
        return
    try:
        with open_archive(path) as member:
            names = _header(member)
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveFormatError(f"the ledger export could not be decompressed ({exc})") from exc
    folder = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
    pipe = folder / "export.csv"
    os.mkfifo(pipe)
    errors: list[BaseException] = []

    def feed() -> None:
        try:
            with pipe.open("wb") as out, open_archive(path) as src:
                shutil.copyfileobj(src, out, 1 << 20)
        except BrokenPipeError:
            pass  # the reader stopped early: its own error tells why
        except (OSError, EOFError, zlib.error, ArchiveFormatError) as exc:
            errors.append(exc)

    feeder = threading.Thread(target=feed, name="okx-export-unzip", daemon=True)
    feeder.start()

    def check() -> None:
        feeder.join()
        if errors:
            raise ArchiveFormatError(
                f"the ledger export could not be decompressed ({errors[0]})"
            ) from errors[0]

    try:
        yield pipe, names, check
    finally:
        if feeder.is_alive():  # the reader never opened the pipe, or left it early
            try:
                os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))
            except OSError:
                pass
            feeder.join(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def archive_batches(
    path: Path | str, account_uid: str, *, block_bytes: int = _BLOCK_BYTES, exact: bool = False
) -> Iterator[pa.Table]:
    """The export's rows as typed Arrow tables shaped like ``okx_raw.bills``.

    Numbers are parsed straight into ``DECIMAL(38, 18)`` by the CSV reader. A value it
    cannot take exactly (more than 18 decimals) raises ``pyarrow.ArrowInvalid``: read the
    file again with ``exact=True`` (text first, then the per-value conversion the REST rows
    use, which rounds past 18 decimals and says so in the log).

    Args:
        path: The downloaded file (zip, gzip or plain CSV).
        account_uid: The account the file belongs to (added to every row).
        block_bytes: CSV bytes per record batch (about 7,500 bills per 2 MB).
        exact: Read every column as text first (the slow, always exact path).

    Yields:
        One table per record batch: every column of ``okx_raw.bills`` (``type`` NULL),
        ``account_uid``, and any column OKX added to the file, as text.

    Raises:
        ArchiveFormatError: A damaged file, or no ``billId`` or ``ts`` column.
    """
    with _csv_stream(Path(path)) as (csv_path, names, check), ExitStack() as stack:
        if not names:
            return
        missing = {"billId", "ts"} - set(names)
        if missing:
            raise ArchiveFormatError(
                "the ledger export has no " + " or ".join(sorted(missing)) + " column"
            )
        types: dict[str, pa.DataType] = {}
        for name in names:
            kind = BILLS.fields.get(name)
            if kind == "decimal" and not exact:
                types[name] = _DECIMAL
            elif kind == "timestamp" and not exact:
                types[name] = pa.int64()
            else:
                types[name] = pa.string()
        try:
            source = stack.enter_context(csv_path.open("rb"))  # a stream: a pipe cannot seek
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(
                    column_names=names, skip_rows=1, block_size=block_bytes, use_threads=False
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
            for batch in reader:
                if batch.num_rows:
                    yield _typed(batch, account_uid)
            check()
        except pa.ArrowInvalid:
            check()  # a damaged file: the decompression's error, not the reader's
            raise
        except (OSError, EOFError) as exc:
            check()
            raise ArchiveFormatError(f"the ledger export could not be read ({exc})") from exc


def _typed(batch: pa.RecordBatch, account_uid: str) -> pa.Table:
    n = batch.num_rows
    by_name = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
    arrays: dict[str, Any] = {"account_uid": pa.repeat(pa.scalar(account_uid, pa.string()), n)}
    for okx_name, kind in BILLS.fields.items():
        col = BILLS_COLUMN[okx_name]
        raw = by_name.get(okx_name)
        if raw is None:
            arrays[col] = pa.nulls(n, type=_arrow_type(kind))
        elif raw.type == pa.int64():  # epoch milliseconds
            arrays[col] = pc.cast(pc.multiply(raw, 1000), _TS)
        elif raw.type == _DECIMAL:
            arrays[col] = raw
        elif kind == "decimal":
            arrays[col] = _fast_decimal(_empty_to_null(pc.utf8_trim_whitespace(raw)), col, "bills")
        elif kind == "timestamp":
            arrays[col] = _fast_timestamp(_empty_to_null(pc.utf8_trim_whitespace(raw)))
        else:
            arrays[col] = raw
    known = set(BILLS.fields)
    for name, raw in by_name.items():
        if name in known:
            continue
        col = snake(name)
        if col in arrays:
            col = f"okx_{col}"
        arrays[col] = raw
    schema = pa.schema(
        [pa.field(c, a.type, nullable=c not in BILLS.primary_key) for c, a in arrays.items()]
    )
    return pa.Table.from_arrays(list(arrays.values()), schema=schema)


def _arrow_type(kind: str) -> pa.DataType:
    if kind == "decimal":
        return pa.decimal128(38, 18)
    if kind == "timestamp":
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def quarter_bounds(year: int, quarter: int) -> tuple[int, int]:
    """``[start, next start)`` of a calendar quarter in UTC epoch milliseconds."""
    start = datetime(year, 3 * (quarter - 1) + 1, 1, tzinfo=UTC)
    end = datetime(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def quarter_of(ms: int) -> tuple[int, int]:
    """The (year, quarter) holding an epoch-millisecond time (UTC)."""
    t = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return t.year, (t.month - 1) // 3 + 1


def finished_quarters(first_ms: int, now_ms: int) -> list[tuple[int, int]]:
    """Every quarter from the one holding ``first_ms`` (not before 2021-02-01) up to the
    last finished one before ``now_ms``, oldest first (OKX never exports the current
    quarter)."""
    year, q = quarter_of(max(first_ms, ARCHIVE_START_MS))
    current = quarter_of(now_ms)
    out: list[tuple[int, int]] = []
    while (year, q) < current:
        out.append((year, q))
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)
    return out
