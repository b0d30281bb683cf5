"""Import speed and memory of one quarterly ledger export (``bills-history-archive``).

Writes a zipped CSV of N bills in OKX's documented export columns (a realistic mix of
trade, funding and transfer bills, amounts with 8 to 18 decimals, a share of zeros in
``0E-8`` form), then, in a fresh child process, streams it through
``sources.okx.archive.archive_batches`` into ``okx_raw.bills`` of a new DuckDB file with
``import_export_file``, the way a sync imports a quarter (Arrow batches inserted into
DuckDB in one transaction, bills already loaded kept). Prints rows/s of the import (file
read, parse, insert, commit) and the child's peak resident memory (VmHWM).

Usage: python bench/bench_archive.py [N] [--dlt] (default 1,000,000 bills; --dlt also
times the same batches through dlt's merge). Results: bench/RESULTS.md.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sources.okx.archive import ARCHIVE_COLUMNS  # noqa: E402


def write_export(path: Path, n: int, seed: int = 7) -> None:
    """A zipped CSV of ``n`` bills, newest first (as OKX orders files after 2024-10-11)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n, 0, -1, dtype=np.int64)
    start = 1_727_740_800_000  # 2024-10-01
    ts = start + idx * (90 * 86_400_000 // max(n, 1))
    kind = rng.integers(0, 10, n)  # 0-6 trade, 7-8 funding, 9 transfer
    sub = np.where(kind < 7, rng.integers(1, 7, n), np.where(kind < 9, 173, 11)).astype(str)

    def money(scale: float, dp: int) -> pa.Array:
        v = np.round(rng.normal(0, scale, n), dp)
        s = pc.cast(pa.array(v), pa.string())
        return pc.if_else(pc.equal(pa.array(v), 0.0), pa.scalar("0E-8"), s)

    cols = {
        "instType": pa.array(np.where(kind < 9, "SWAP", "")),
        "billId": pc.cast(pa.array(3_000_000_000_000_000_000 + idx), pa.string()),
        "subType": pa.array(sub),
        "ts": pc.cast(pa.array(ts), pa.string()),
        "balChg": money(50.0, 8),
        "posBalChg": money(1.0, 8),
        "bal": money(10_000.0, 8),
        "posBal": money(5.0, 8),
        "sz": pc.cast(pa.array(rng.integers(1, 500, n)), pa.string()),
        "px": money(60_000.0, 1),
        "ccy": pa.array(np.where(kind % 3 == 0, "BTC", "USDT")),
        "pnl": money(20.0, 16),
        "fee": money(0.5, 10),
        "mgnMode": pa.array(np.where(kind % 2 == 0, "cross", "isolated")),
        "instId": pa.array(np.where(kind < 9, "BTC-USDT-SWAP", "")),
        "ordId": pc.cast(pa.array(2_000_000_000_000_000_000 + idx), pa.string()),
        "execType": pa.array(np.where(kind < 7, "T", "")),
        "interest": pa.array(["0"] * n),
        "tag": pa.array([""] * n),
        "fillTime": pc.cast(pa.array(ts - 1), pa.string()),
        "tradeId": pc.cast(pa.array(idx), pa.string()),
        "clOrdId": pa.array([""] * n),
        "fillIdxPx": money(60_000.0, 1),
        "fillMarkPx": money(60_000.0, 1),
        "fillPxVol": pa.array([""] * n),
        "fillPxUsd": pa.array([""] * n),
        "fillMarkVol": pa.array([""] * n),
        "fillFwdPx": pa.array([""] * n),
    }
    table = pa.table({c: cols[c] for c in ARCHIVE_COLUMNS})
    csv_path = path.with_suffix(".csv")
    pacsv.write_csv(table, csv_path, pacsv.WriteOptions(quoting_style="none"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(csv_path, "bills-2024Q4.csv")
    csv_path.unlink()


def _import(path: str, db: str, workdir: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """The import as a sync runs it: ``import_export_file`` into a new DuckDB file."""
    import duckdb

    from sources.okx.ledger_export import QuarterState, import_export_file

    con = duckdb.connect(db)
    t = time.perf_counter()
    added = import_export_file(con, "123456789", QuarterState(2024, 4), Path(path))
    wall = time.perf_counter() - t
    (rows,) = con.execute("select count(*) from okx_raw.bills").fetchone() or (0,)
    con.close()
    assert rows == added
    hwm = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) // 1024
    out.put((wall, rows, hwm))


def _import_dlt(path: str, db: str, workdir: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """For comparison: the same batches through dlt's merge (not what a sync does)."""
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt

    from sources.okx.archive import archive_batches
    from sources.okx.schema import BILLS, column_hints

    @dlt.resource(name="bills", write_disposition={"disposition": "merge",
                                                   "strategy": "delete-insert"},
                  primary_key=list(BILLS.primary_key), columns=column_hints(BILLS))  # type: ignore[arg-type]
    def bills():  # type: ignore[no-untyped-def]
        yield from archive_batches(path, "123456789")

    pipeline = dlt.pipeline("bench_archive", destination=dlt.destinations.duckdb(db),
                            dataset_name="okx_raw", pipelines_dir=workdir)
    t = time.perf_counter()
    pipeline.run(bills())
    wall = time.perf_counter() - t
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        (rows,) = con.execute("select count(*) from okx_raw.bills").fetchone() or (0,)
    hwm = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) // 1024
    out.put((wall, rows, hwm))


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bills-2024Q4.zip"
        t = time.perf_counter()
        write_export(path, n)
        print(f"export file: {n:,} bills, {path.stat().st_size / 2**20:.1f} MB zipped "
              f"(written in {time.perf_counter() - t:.1f} s)")
        ctx = mp.get_context("spawn")
        targets = [("import (as a sync does it)", _import)]
        if "--dlt" in sys.argv:
            targets.append(("dlt merge, for comparison", _import_dlt))
        for i, (label, target) in enumerate(targets):
            q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
            p = ctx.Process(target=target, args=(str(path), str(Path(tmp) / f"b{i}.duckdb"), tmp, q))
            p.start()
            wall, rows, hwm = q.get()
            p.join()
            print(f"{label}: {rows:,} rows in {wall:.2f} s = {rows / wall:,.0f} rows/s; "
                  f"peak memory (VmHWM) {hwm} MB")


if __name__ == "__main__":
    main()
