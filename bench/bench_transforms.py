"""Benchmark: build the journal over N synthetic fills (default 1,000,000) plus bills.

The raw rows are generated inside DuckDB with SQL (seconds, not minutes), then
``build_journal`` runs once; wall time and peak RSS are printed.

    .venv/bin/python bench/bench_transforms.py [--fills 1000000] [--db PATH]
        [--cost-basis fifo|lifo|hifo|average]
    .venv/bin/python bench/bench_transforms.py --fills 200000 --destination postgres [--pg-dsn DSN]

With ``--destination postgres`` the same raw rows are copied (``COPY``, exact digits)
into a PostgreSQL database (a throwaway local cluster unless ``--pg-dsn`` is given) and
the journal is built there: wall time, the client's peak RSS and the server's peak
memory (the sum of its processes' proportional set size, sampled every 0.1 s) are
printed.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from okx_journal.transform import (  # noqa: E402
    COST_BASIS_METHODS,
    build_journal,
    ensure_raw_tables,
)

INSTRUMENTS = """
    select * from (values
        ('SPOT', 'BTC-USDT', 'BTC', 'USDT', null, null, null, null, 60000.0),
        ('SPOT', 'ETH-USDT', 'ETH', 'USDT', null, null, null, null, 3000.0),
        ('SPOT', 'ETH-BTC', 'ETH', 'BTC', null, null, null, null, 0.05),
        ('SPOT', 'SOL-USDT', 'SOL', 'USDT', null, null, null, null, 150.0),
        ('MARGIN', 'BTC-USDT', 'BTC', 'USDT', null, null, null, null, 60000.0),
        ('MARGIN', 'ETH-USDT', 'ETH', 'USDT', null, null, null, null, 3000.0),
        ('SWAP', 'BTC-USDT-SWAP', null, null, 'USDT', 0.01, 1, 'linear', 60000.0),
        ('SWAP', 'ETH-USDT-SWAP', null, null, 'USDT', 0.1, 1, 'linear', 3000.0),
        ('SWAP', 'BTC-USD-SWAP', null, null, 'BTC', 100, 1, 'inverse', 60000.0),
        ('SWAP', 'SOL-USDT-SWAP', null, null, 'USDT', 1, 1, 'linear', 150.0),
        ('FUTURES', 'BTC-USDT-250328', null, null, 'USDT', 0.01, 1, 'linear', 60000.0),
        ('FUTURES', 'BTC-USD-250328', null, null, 'BTC', 100, 1, 'inverse', 60000.0),
        ('OPTION', 'BTC-USD-250328-100000-C', null, null, 'BTC', 1, 0.01, null, 0.02),
        ('OPTION', 'BTC-USD-250328-90000-P', null, null, 'BTC', 1, 0.01, null, 0.03)
    ) as t(inst_type, inst_id, base_ccy, quote_ccy, settle_ccy, ct_val, ct_mult, ct_type, px)
"""


def generate(con: duckdb.DuckDBPyConnection, n_fills: int, accounts: int = 4) -> None:
    """Synthetic raw rows: fills spread over accounts and instruments, bills to match."""
    ensure_raw_tables(con)
    con.execute(
        f"create or replace temp table bench_inst as select row_number() over () - 1 as k, * from ({INSTRUMENTS})"
    )
    n_inst = con.execute("select count(*) from bench_inst").fetchone()[0]  # type: ignore[index]
    con.execute(
        """
        insert into okx_raw.instruments (account_uid, inst_type, inst_id, base_ccy, quote_ccy,
            settle_ccy, ct_val, ct_mult, ct_type, state, last_seen_at)
        select 'acct-0', inst_type, inst_id, base_ccy, quote_ccy, settle_ccy, ct_val, ct_mult,
               ct_type, 'live', now()
        from bench_inst
        """
    )
    con.execute(
        f"""
        create or replace temp table bench_fills as
        with pairs as (
            -- half of the fills come in open/close pairs of one book (a round trip each),
            -- the other half is a random walk
            select i, i // 2 as p, hash(i // 2) % 2 = 0 as paired from range({n_fills}) t(i)
        ),
        g as (
            select i, (p % {accounts}) as a, cast(hash(p) % {n_inst} as bigint) as k,
                   case when paired then (case when (i % 2 = 0) = (hash(p * 3) % 2 = 0) then 0 else 999 end)
                        else cast(hash(i * 7 + 1) % 1000 as bigint) end as r1,
                   case when paired then cast(hash(p * 13 + 5) % 1000 as bigint)
                        else cast(hash(i * 13 + 5) % 1000 as bigint) end as r2
            from pairs
        )
        select
            'acct-' || a as account_uid,
            cast(10000000 + 3 * i as varchar) as bill_id,
            bi.inst_type, bi.inst_id,
            case when r1 < 505 then 'buy' else 'sell' end as side,
            case when bi.inst_type in ('SWAP', 'FUTURES') and a = 1
                 then (case when r2 < 500 then 'long' else 'short' end) else 'net' end as pos_side,
            cast(bi.px * (1 + (r2 - 500) / 10000.0) as decimal(38, 18)) as fill_px,
            cast(case when bi.inst_type in ('SPOT', 'MARGIN') then (1 + r2 % 50) / 100.0
                      else 1 + r2 % 20 end as decimal(38, 18)) as fill_sz,
            cast(case when bi.inst_type in ('SWAP', 'FUTURES', 'OPTION') and r1 % 2 = 0
                      then (r2 - 500) / 1000.0 else 0 end as decimal(38, 18)) as fill_pnl,
            cast(-(1 + r1 % 9) / 100000.0 as decimal(38, 18)) as fee,
            case when bi.inst_type in ('SPOT', 'MARGIN')
                 then (case when r1 < 505 then bi.base_ccy else bi.quote_ccy end)
                 else bi.settle_ccy end as fee_ccy,
            timestamptz '2024-01-01 00:00:00+00' + to_seconds(i * 30) as ts
        from g join bench_inst bi on bi.k = g.k
        """
    )
    con.execute(
        """
        insert into okx_raw.fills (account_uid, bill_id, inst_type, inst_id, trade_id, ord_id,
            sub_type, side, pos_side, exec_type, fill_px, fill_sz, fill_pnl, fee, fee_ccy, ts,
            fill_time)
        select account_uid, bill_id, inst_type, inst_id, bill_id, bill_id,
               case when side = 'buy' then '1' else '2' end, side, pos_side, 'T',
               fill_px, fill_sz, fill_pnl, fee, fee_ccy, ts, ts
        from bench_fills
        """
    )
    # trade bills (one per derivative fill, two legs per SPOT/MARGIN fill), funding every
    # 8 h per swap and account, interest every hour per MARGIN pair; bal chained per ccy
    con.execute(
        f"""
        create or replace temp table bench_bills as
        select account_uid, bill_id, '2' as type, inst_type, inst_id, ccy, bal_chg, pnl, fee, ts
        from (
            select f.account_uid, f.bill_id, f.inst_type, f.inst_id,
                   case when f.inst_type in ('SPOT', 'MARGIN') then bi.base_ccy else bi.settle_ccy end as ccy,
                   case when f.inst_type in ('SPOT', 'MARGIN')
                        then (case when f.side = 'buy' then f.fill_sz else -f.fill_sz end)
                             + case when f.fee_ccy = bi.base_ccy then f.fee else 0 end
                        else f.fill_pnl + f.fee end as bal_chg,
                   f.fill_pnl as pnl, f.fee, f.ts
            from bench_fills f join bench_inst bi using (inst_type, inst_id)
            union all
            select f.account_uid, cast(cast(f.bill_id as bigint) + 1 as varchar), f.inst_type,
                   f.inst_id, bi.quote_ccy,
                   cast(cast(case when f.side = 'buy' then -1 else 1 end * f.fill_px as decimal(38, 12))
                        * cast(f.fill_sz as decimal(38, 12)) as decimal(38, 18))
                        + case when f.fee_ccy = bi.quote_ccy then f.fee else 0 end,
                   0, case when f.fee_ccy = bi.quote_ccy then f.fee else 0 end, f.ts
            from bench_fills f join bench_inst bi using (inst_type, inst_id)
            where f.inst_type in ('SPOT', 'MARGIN')
        )
        union all
        select 'acct-' || a, cast(5000000000 + h * 100 + a * 10 + bi.k as varchar), '8',
               bi.inst_type, bi.inst_id, bi.settle_ccy, -0.001, -0.001, 0,
               timestamptz '2024-01-01 00:00:00+00' + to_hours(h)
        from range(0, {n_fills} * 30 // 3600, 8) r(h), range({accounts}) acc(a), bench_inst bi
        where bi.inst_type = 'SWAP'
        union all
        select 'acct-' || a, cast(6000000000 + h * 100 + a * 10 + bi.k as varchar), '7',
               'MARGIN', bi.inst_id, bi.quote_ccy, -0.0001, 0, 0,
               timestamptz '2024-01-01 00:00:00+00' + to_hours(h)
        from range(0, {n_fills} * 30 // 3600, 1) r(h), range({accounts}) acc(a), bench_inst bi
        where bi.inst_type = 'MARGIN'
        """
    )
    con.execute(
        """
        insert into okx_raw.bills (account_uid, bill_id, type, sub_type, ts, inst_type, inst_id,
            ccy, bal_chg, bal, pnl, fee)
        select account_uid, bill_id, type, '1', ts, inst_type, inst_id, ccy, bal_chg,
               1000000 + sum(bal_chg) over (partition by account_uid, ccy
                                            order by cast(bill_id as bigint)
                                            rows between unbounded preceding and current row),
               pnl, fee
        from bench_bills
        """
    )


def _server_pss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def _copy_to_postgres(db: Path, dsn: str) -> None:
    """The generated raw tables, copied into PostgreSQL (run in a child process)."""
    import io

    import pyarrow.csv as pacsv

    from okx_journal.postgres import PgConnection

    duck = duckdb.connect(str(db), read_only=True)
    pg = PgConnection(dsn)
    ensure_raw_tables(pg)
    for table in ("instruments", "fills", "bills"):
        arrow = duck.execute(f"select * from okx_raw.{table}").to_arrow_table()
        buf = io.BytesIO()
        pacsv.write_csv(arrow, buf, pacsv.WriteOptions(include_header=False))
        buf.seek(0)
        cols = ", ".join(f'"{c}"' for c in arrow.column_names)
        pg._cur.copy_expert(f"COPY okx_raw.{table} ({cols}) FROM STDIN WITH (FORMAT csv)", buf)
    pg.execute_native("VACUUM ANALYZE")
    pg.close()
    duck.close()


def _bench_postgres(db: Path, fills: int, dsn: str | None) -> None:
    import threading

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pg_cluster import PgCluster

    from okx_journal.postgres import PgConnection

    cluster = None
    if dsn is None:
        cluster = PgCluster().start()
        dsn = cluster.create_database("bench")
    try:
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--copy-only", "--db", str(db), "--pg-dsn", dsn],
                       check=True)
        print(f"copied the raw rows into PostgreSQL in {time.perf_counter() - started:.1f} s")
        pids = cluster.server_pids() if cluster is not None else []
        peak = [0.0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.1):
                try:
                    current = cluster.server_pids() if cluster is not None else []
                except OSError:
                    return
                peak[0] = max(peak[0], _server_pss_mb(current))

        baseline = _server_pss_mb(pids)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        con = PgConnection(dsn)
        result = build_journal(con)
        stop.set()
        sampler.join()
        client_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        server = (f", server peak PSS {peak[0]:.0f} MB (idle {baseline:.0f} MB)"
                  if cluster is not None else "")
        print(f"build_journal on PostgreSQL: {result.seconds:.2f} s wall, client peak RSS "
              f"{client_mb:.0f} MB{server}")
        for rel in ("journal.fills", "journal.round_trips", "journal.daily_pnl", "journal.reconciliation"):
            print(f"  {rel}: {result.row_counts.get(rel, 0):,} rows")
        con.close()
    finally:
        if cluster is not None:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--cost-basis", choices=COST_BASIS_METHODS, default="fifo")
    parser.add_argument("--destination", choices=["duckdb", "postgres"], default="duckdb")
    parser.add_argument("--pg-dsn", default=None, help="an existing PostgreSQL database (emptied)")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--copy-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.copy_only:
        _copy_to_postgres(args.db, args.pg_dsn)
        return
    if args.generate_only:
        con = duckdb.connect(str(args.db))
        generate(con, args.fills)
        con.execute("checkpoint")
        con.close()
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        # generate in a child process, so that the peak RSS below is the build's alone
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--generate-only",
                "--fills",
                str(args.fills),
                "--db",
                str(db),
            ],
            check=True,
        )
        generated = time.perf_counter() - started
        if args.destination == "postgres":
            print(f"generated {args.fills:,} fills in DuckDB in {generated:.1f} s")
            _bench_postgres(db, args.fills, args.pg_dsn)
            return
        con = duckdb.connect(str(db))
        counts = {
            t: con.execute(f"select count(*) from okx_raw.{t}").fetchone()[0]  # type: ignore[index]
            for t in ("fills", "bills")
        }
        print(
            f"generated {counts['fills']:,} fills and {counts['bills']:,} bills in {generated:.1f} s"
        )
        result = build_journal(con, cost_basis=args.cost_basis)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"build_journal ({args.cost_basis}): {result.seconds:.2f} s wall, peak RSS {peak_mb:.0f} MB "
            f"(this process: open the database + build)"
        )
        for rel in (
            "journal.fills",
            "journal.round_trips",
            "journal.daily_pnl",
            "journal.reconciliation",
            "journal.lots",
        ):
            print(f"  {rel}: {result.row_counts.get(rel, 0):,} rows")
        con.close()


if __name__ == "__main__":
    main()
