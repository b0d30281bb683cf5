"""The data-quality suites of okx-journal, in one readable place.

Run by ``okx-journal check`` and after every sync (``okx_journal.checks``). Each suite is
a list of *frames*: one SQL query against the database (a raw table, a journal table,
or a small comparison computed in SQL) and the great-expectations expectations that
must hold on its rows. great-expectations decides pass/fail; the SQL only shapes the
rows it looks at. Nothing here imports great-expectations: an expectation is written as
its class name and keyword arguments.

Conventions:

- ``example`` lists the columns shown when a row fails (the first failing row becomes
  the one-line example in the report).
- ``skip_without`` lists tables whose absence means "nothing of this kind was loaded"
  (an account that never traded has no ``okx_raw.fills``): the frame is skipped. Any
  other missing table is a failure, and when nothing at all has been synced, every
  suite fails with "nothing synced yet".
- ``severity="info"`` marks facts worth counting that are not errors (maker rebates).
- ``Now(...)`` is the time the checks run, in UTC.
- Money columns stay exact where they are compared for equality (DECIMAL, or the
  DECIMAL's text where millions of rows are compared); columns that are only
  sign-checked are cast to DOUBLE (the sign survives, and it is faster).

Choices (documented here because they change what "ok" means):

- **Clock margin**: a timestamp may be up to ``CLOCK_MARGIN`` ahead of this machine's
  clock (OKX's clock and ours differ by a few seconds; the source corrects its own
  signing clock, not the data).
- **Ledger gaps** are found from ``okx_raw.bills`` itself: per account and currency, in
  ledger order (numeric ``bill_id``, as OKX numbers its bills), every bill's ``bal - bal_chg`` must
  equal the previous bill's ``bal``. A bill missing between two loaded ones breaks the
  chain. (``journal.reconciliation`` is checked row by row in the journal suite too.)
- **Retention**: OKX keeps 3 months of the ledger (``/account/bills-archive``, as
  documented); fills (``/trade/fills-history``) as far back as OKX returns them (3 months
  or 1 year: the sync names what it got), never less than the ledger, so the ledger's
  3 months are the window that binds. Sync times come from dlt's own record of
  completed loads, ``okx_raw._dlt_loads.inserted_at`` (status 0): no two consecutive
  syncs, and not the last sync and now, may be more than ``RETENTION_DAYS`` apart,
  or OKX has already deleted data the database never received. Without
  ``_dlt_loads`` (a database not written by dlt), the newest ``ts`` in fills and bills
  stands in for the last sync, which is stricter: an account idle for 3 months fails.
  (``RETENTION_DAYS`` is the ledger's documented window, not a fills window.)
  No completed sync at all fails too.
"""

from __future__ import annotations

from datetime import timedelta

from okx_journal.checks import Expect, Frame, Now, Query

CLOCK_MARGIN = timedelta(minutes=5)
#: bills-archive's documented 3 months: the shortest window of the ledgers the journal needs
RETENTION_DAYS = 90

INST_TYPES: list[object] = ["SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"]
NOT_IN_FUTURE = Now(plus=CLOCK_MARGIN)


def not_null(
    column: str,
    meaning: str = "",
    *,
    where: tuple[str, object] | None = None,
    severity: str = "critical",
) -> Expect:
    """``column`` is not NULL (only on the rows where ``where[0] == where[1]``, if given)."""
    return Expect(
        "ExpectColumnValuesToNotBeNull",
        {"column": column},
        meaning or f"{column} is present",
        severity,
        where,
    )


def in_set(column: str, values: list[object], meaning: str = "") -> Expect:
    return Expect(
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": values},
        meaning or f"{column} in {'/'.join(map(str, values))}",
    )


def unique(*columns: str, meaning: str = "") -> Expect:
    return Expect(
        "ExpectCompoundColumnsToBeUnique",
        {"column_list": list(columns)},
        meaning or f"({', '.join(columns)}) is unique",
    )


def not_in_future(column: str) -> Expect:
    return Expect(
        "ExpectColumnValuesToBeBetween",
        {"column": column, "max_value": NOT_IN_FUTURE},
        f"{column} is not in the future (clock margin {int(CLOCK_MARGIN.total_seconds() // 60)} min)",
    )


def at_most(column: str, value: float, meaning: str, *, severity: str = "critical") -> Expect:
    return Expect("ExpectColumnValuesToBeBetween", {"column": column, "max_value": value}, meaning, severity)


def at_least(column: str, value: float, meaning: str, *, strict: bool = False) -> Expect:
    kwargs: dict[str, object] = {"column": column, "min_value": value}
    if strict:
        kwargs["strict_min"] = True
    return Expect("ExpectColumnValuesToBeBetween", kwargs, meaning)


def equal(column_a: str, column_b: str, meaning: str) -> Expect:
    """Row by row ``column_a == column_b`` (rows where both are NULL are ignored)."""
    return Expect(
        "ExpectColumnPairValuesToBeEqual",
        {"column_A": column_a, "column_B": column_b, "ignore_row_if": "both_values_are_missing"},
        meaning,
    )


def sql(text: str, *requires: str) -> tuple[Query, ...]:
    return (Query(requires=requires, sql=text),)


# ----------------------------------------------------------------------------- raw

RAW: list[Frame] = [
    Frame(
        name="okx_raw.fills",
        queries=sql(
            """
            select account_uid, bill_id, trade_id, inst_type, inst_id, side, pos_side,
                   exec_type, fill_px::double as fill_px, fill_sz::double as fill_sz,
                   fee::double as fee, fee_ccy, ts, fill_time
            from okx_raw.fills
            """,
            "okx_raw.fills",
        ),
        skip_without=("okx_raw.fills",),
        example=("account_uid", "bill_id", "inst_id", "ts"),
        expectations=(
            not_null("account_uid"),
            not_null("bill_id"),
            unique("account_uid", "bill_id", meaning="bill_id is unique per account"),
            in_set("inst_type", INST_TYPES),
            not_null("inst_type"),
            not_null("inst_id"),
            in_set("side", ["buy", "sell"]),
            not_null("side"),
            in_set("pos_side", ["long", "short", "net"]),
            in_set("exec_type", ["T", "M"], "exec_type in T/M (empty for system fills)"),
            at_least("fill_sz", 0, "fill_sz is positive", strict=True),
            at_least("fill_px", 0, "fill_px is positive", strict=True),
            at_most(
                "fee",
                0,
                "fee <= 0 (OKX signs a charged fee negative; a positive fee is a rebate)",
                severity="info",
            ),
            not_in_future("ts"),
            not_in_future("fill_time"),
        ),
    ),
    Frame(
        name="okx_raw.bills",
        queries=sql(
            """
            select account_uid, bill_id, type, sub_type, inst_type, inst_id, ccy, ts,
                   fee::double as fee,
                   -- rows of the quarterly export have no type: their sub_type says it
                   -- (173/174 only occur in type 8, 9/14 in 7, 100-107/110/111 in 5)
                   case when sub_type = '173' then pnl::double end as funding_paid,
                   case when sub_type = '174' then pnl::double end as funding_received,
                   case when type = '7' or (type is null and sub_type in ('9', '14'))
                        then (bal_chg + coalesce(pos_bal_chg, 0))::double end
                       as interest_charged,
                   case when type = '5' or (type is null and sub_type in (
                            '100', '101', '102', '103', '104', '105', '106', '107',
                            '110', '111'))
                        then fee::double end as liquidation_penalty
            from okx_raw.bills
            """,
            "okx_raw.bills",
        ),
        skip_without=("okx_raw.bills",),
        example=("account_uid", "bill_id", "type", "sub_type", "ccy", "ts"),
        expectations=(
            not_null("account_uid"),
            not_null("bill_id"),
            unique("account_uid", "bill_id", meaning="bill_id is unique per account"),
            # type is NULL on rows of the quarterly export (its CSV has no type column)
            not_null("sub_type"),
            not_null("ccy"),
            in_set("inst_type", INST_TYPES),
            at_most("funding_paid", 0, "funding expense (type 8/173) is negative or zero"),
            at_least("funding_received", 0, "funding income (type 8/174) is positive or zero"),
            at_most("interest_charged", 0, "margin interest (type 7) is negative or zero"),
            at_most("liquidation_penalty", 0, "liquidation penalty (type 5 fee) is negative or zero"),
            at_most(
                "fee",
                0,
                "fee <= 0 (OKX signs a charged fee negative; a positive fee is a rebate)",
                severity="info",
            ),
            not_in_future("ts"),
        ),
    ),
    # OKX lists only live instruments: a future or option that expired before the first
    # sync can never get a spec. That is reported (info), not failed; any other traded
    # instrument without a spec is a failure (P&L cannot be checked against specs).
    Frame(
        name="okx_raw.instruments for fills",
        queries=sql(
            """
            select f.account_uid, f.inst_type, f.inst_id, f.fills, i.inst_id as spec_inst_id,
                   coalesce(
                       f.inst_type in ('FUTURES', 'OPTION')
                       and try_strptime(split_part(f.inst_id, '-', 3), '%y%m%d')
                           + interval 8 hour < (now() at time zone 'UTC'),
                       false
                   ) as expired
            from (
                select account_uid, inst_type, inst_id, count(*) as fills
                from okx_raw.fills group by all
            ) f
            left join okx_raw.instruments i
                   on i.inst_type = f.inst_type and i.inst_id = f.inst_id
            """,
            "okx_raw.fills",
            "okx_raw.instruments",
        ),
        skip_without=("okx_raw.fills",),
        example=("account_uid", "inst_type", "inst_id", "fills"),
        expectations=(
            not_null(
                "spec_inst_id",
                "every traded instrument has a spec in okx_raw.instruments (inst_type, inst_id)",
                where=("expired", False),
            ),
            not_null(
                "spec_inst_id",
                "expired futures/options without a spec (expired before they were first "
                "synced; OKX lists only live instruments)",
                where=("expired", True),
                severity="info",
            ),
        ),
    ),
    Frame(
        name="okx_raw.positions",
        queries=sql(
            "select account_uid, pos_id, inst_type, inst_id, snapshot_at from okx_raw.positions",
            "okx_raw.positions",
        ),
        skip_without=("okx_raw.positions",),
        example=("account_uid", "pos_id", "inst_id", "snapshot_at"),
        expectations=(
            not_null("account_uid"),
            in_set("inst_type", INST_TYPES),
            not_in_future("snapshot_at"),
        ),
    ),
    Frame(
        name="okx_raw.positions_history",
        queries=sql(
            "select account_uid, pos_id, inst_type, inst_id, c_time, u_time "
            "from okx_raw.positions_history",
            "okx_raw.positions_history",
        ),
        skip_without=("okx_raw.positions_history",),
        example=("account_uid", "pos_id", "inst_id", "u_time"),
        expectations=(
            not_null("account_uid"),
            in_set("inst_type", INST_TYPES),
            not_in_future("u_time"),
        ),
    ),
    Frame(
        name="okx_raw.balances",
        queries=sql(
            "select account_uid, ccy, snapshot_at from okx_raw.balances", "okx_raw.balances"
        ),
        skip_without=("okx_raw.balances",),
        example=("account_uid", "ccy", "snapshot_at"),
        expectations=(not_null("account_uid"), not_in_future("snapshot_at")),
    ),
    Frame(
        name="okx_raw.account_config",
        queries=sql(
            "select account_uid, uid from okx_raw.account_config", "okx_raw.account_config"
        ),
        skip_without=("okx_raw.account_config",),
        example=("account_uid", "uid"),
        expectations=(not_null("account_uid"), not_null("uid")),
    ),
]

# ----------------------------------------------------------------------------- journal

#: ``expected_net`` is computed in exact DECIMAL arithmetic; NULL components count as 0
#: unless all four are NULL (an open round trip may have no P&L yet).
EXPECTED_NET = """
    case when gross_pnl is null and fees is null and funding is null and interest is null
         then null
         else coalesce(gross_pnl, 0) + coalesce(fees, 0) + coalesce(funding, 0)
              + coalesce(interest, 0)
    end as expected_net
"""
NET_RULE = "net_pnl = gross_pnl + fees + funding + interest"

JOURNAL: list[Frame] = [
    Frame(
        name="journal.round_trips",
        queries=sql(
            f"""
            select round_trip_id, account_uid, inst_type, inst_id, direction, pnl_ccy,
                   opened_at, closed_at, gross_pnl, fees, funding, interest, net_pnl,
                   {EXPECTED_NET}
            from journal.round_trips
            """,
            "journal.round_trips",
        ),
        example=("account_uid", "round_trip_id", "inst_id", "opened_at", "closed_at"),
        expectations=(
            not_null("account_uid"),
            unique("account_uid", "round_trip_id", meaning="round_trip_id is unique per account"),
            in_set("inst_type", INST_TYPES),
            equal("net_pnl", "expected_net", NET_RULE),
            Expect(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": "closed_at",
                    "column_B": "opened_at",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                "closed_at >= opened_at",
            ),
        ),
    ),
    Frame(
        name="journal.daily_pnl",
        queries=sql(
            f"""
            select day, account_uid, inst_type, inst_id, pnl_ccy,
                   gross_pnl, fees, funding, interest, net_pnl, {EXPECTED_NET}
            from journal.daily_pnl
            """,
            "journal.daily_pnl",
        ),
        example=("day", "account_uid", "inst_type", "inst_id", "pnl_ccy"),
        expectations=(
            not_null("account_uid"),
            in_set("inst_type", INST_TYPES),
            unique(
                "day", "account_uid", "inst_type", "inst_id", "pnl_ccy",
                meaning="one row per day x account x instrument x P&L currency",
            ),
            equal("net_pnl", "expected_net", NET_RULE),
        ),
    ),
    Frame(
        name="journal.pnl_by_instrument_type",
        queries=sql(
            f"""
            select account_uid, inst_type, pnl_ccy,
                   gross_pnl, fees, funding, interest, net_pnl, {EXPECTED_NET}
            from journal.pnl_by_instrument_type
            """,
            "journal.pnl_by_instrument_type",
        ),
        example=("account_uid", "inst_type", "pnl_ccy"),
        expectations=(
            not_null("account_uid"),
            in_set("inst_type", INST_TYPES),
            unique(
                "account_uid", "inst_type", "pnl_ccy",
                meaning="one row per account x instrument type x P&L currency",
            ),
            equal("net_pnl", "expected_net", NET_RULE),
        ),
    ),
    Frame(
        name="journal.daily_pnl vs journal.pnl_by_instrument_type",
        queries=sql(
            """
            with daily as (
                select account_uid, inst_type, pnl_ccy,
                       sum(gross_pnl) as gross_pnl, sum(fees) as fees,
                       sum(funding) as funding, sum(interest) as interest,
                       sum(net_pnl) as net_pnl
                from journal.daily_pnl group by all
            )
            select coalesce(d.account_uid, t.account_uid) as account_uid,
                   coalesce(d.inst_type, t.inst_type) as inst_type,
                   coalesce(d.pnl_ccy, t.pnl_ccy) as pnl_ccy,
                   coalesce(d.gross_pnl, 0) as daily_gross_pnl,
                   coalesce(t.gross_pnl, 0) as by_type_gross_pnl,
                   coalesce(d.fees, 0) as daily_fees,
                   coalesce(t.fees, 0) as by_type_fees,
                   coalesce(d.funding, 0) as daily_funding,
                   coalesce(t.funding, 0) as by_type_funding,
                   coalesce(d.interest, 0) as daily_interest,
                   coalesce(t.interest, 0) as by_type_interest,
                   coalesce(d.net_pnl, 0) as daily_net_pnl,
                   coalesce(t.net_pnl, 0) as by_type_net_pnl
            from daily d
            full outer join journal.pnl_by_instrument_type t
              on  d.account_uid = t.account_uid and d.inst_type = t.inst_type
              and d.pnl_ccy is not distinct from t.pnl_ccy
            """,
            "journal.daily_pnl",
            "journal.pnl_by_instrument_type",
        ),
        example=("account_uid", "inst_type", "pnl_ccy"),
        expectations=tuple(
            equal(
                f"daily_{part}",
                f"by_type_{part}",
                f"sum of daily_pnl.{part} = pnl_by_instrument_type.{part}",
            )
            for part in ("net_pnl", "gross_pnl", "fees", "funding", "interest")
        ),
    ),
    Frame(
        name="journal.daily_pnl_total_usd vs each currency valued at its events' prices",
        # the USD total of the marts (daily -> the USD equity curve) against, per account,
        # the sum over P&L currencies of each event's amount × the USD price of its hour,
        # computed here from the legs and charges themselves; exact (DECIMAL text)
        queries=sql(
            """
            with events as (
                select account_uid, pnl_ccy, event_at, gross as amount, fee as other_amount
                from journal_int.int_leg_pnl
                union all
                select account_uid, pnl_ccy, event_at, amount_pnl_ccy, 0
                from journal_int.int_bill_attributions
            ),
            per_ccy as (
                select e.account_uid, e.pnl_ccy,
                       sum(cast(cast(coalesce(e.amount, 0) as decimal(38, 12))
                                * cast(r.usd_price as decimal(24, 12)) as decimal(38, 18))
                           + cast(cast(coalesce(e.other_amount, 0) as decimal(38, 12))
                                  * cast(r.usd_price as decimal(24, 12)) as decimal(38, 18))) as usd,
                       count(*) - count(r.usd_price) as unpriced
                from events e
                left join journal_int.int_usd_rates r
                  on r.ccy = e.pnl_ccy
                 and r.hour_utc = date_trunc('hour', timezone('UTC', e.event_at))
                group by all
            ),
            per_account as (
                select account_uid, sum(usd) as usd, sum(unpriced) as unpriced
                from per_ccy group by all
            )
            select a.account_uid,
                   cast(cast(a.usd as decimal(38, 18)) as varchar) as events_usd,
                   cast(t.cumulative_net_pnl_usd as varchar) as total_usd
            from per_account a
            left join (
                select account_uid, arg_max(cumulative_net_pnl_usd, day) as cumulative_net_pnl_usd
                from journal.daily_pnl_total_usd group by all
            ) t on t.account_uid = a.account_uid
            where a.unpriced = 0
            """,
            "journal.daily_pnl_total_usd",
        ),
        # a journal built before USD valuation existed has no USD relations to check
        # (neither reads a snapshot: a sync that brings nothing new keeps their results)
        skip_without=("journal.daily_pnl_total_usd",),
        example=("account_uid", "events_usd", "total_usd"),
        expectations=(
            not_null("total_usd", "every account with P&L has a USD total"),
            equal("events_usd", "total_usd",
                  "USD total = sum over currencies of each event valued at its hour's price"),
        ),
    ),
    Frame(
        name="journal_int.int_pnl_usd: a USD price for every P&L currency",
        # a currency in the P&L is priced for every event, or journal.reconciliation has
        # a usd_price_coverage row for it saying why not
        queries=sql(
            """
            select d.account_uid, d.pnl_ccy, count(*) - count(d.usd_price) as unpriced_events,
                   count(*) = count(d.usd_price) or bool_or(r.subject is not null)
                       as priced_or_explained
            from journal_int.int_pnl_usd d
            left join journal.reconciliation r
              on r.check_name = 'usd_price_coverage' and r.account_uid = d.account_uid
             and r.subject = d.pnl_ccy
            group by all
            """,
            "journal_int.int_pnl_usd",
            "journal.reconciliation",
        ),
        skip_without=("journal_int.int_pnl_usd",),
        example=("account_uid", "pnl_ccy", "unpriced_events"),
        expectations=(
            in_set("priced_or_explained", [True],
                   "every P&L currency has a USD price or a reconciliation row saying why not"),
        ),
    ),
    Frame(
        name="journal.reconciliation",
        queries=sql("select * from journal.reconciliation", "journal.reconciliation"),
        # the real columns (transforms/marts/reconciliation.sql): check_name, account_uid,
        # subject, compared, expected_value, actual_value, difference, tolerance, ok, details
        example=(
            "check_name", "account_uid", "subject", "expected_value", "actual_value",
            "difference", "details",
        ),
        expectations=(
            not_null("ok", "every reconciliation row has a verdict"),
            in_set("ok", [True], "every journal.reconciliation row is ok"),
        ),
    ),
]

# ----------------------------------------------------------------------------- coverage

COVERAGE: list[Frame] = [
    # The two balances are compared as the text of one DECIMAL type: equal values have
    # equal text, so the comparison stays exact, and it is ~3 x faster than comparing
    # Decimal objects on millions of bills (and holds less memory).
    Frame(
        name="ledger chain (okx_raw.bills)",
        queries=sql(
            """
            select * from (
                select account_uid, ccy, bill_id, type, ts,
                       (lag(bal) over chain)::decimal(38, 18)::varchar as previous_bal,
                       lag(bill_id) over chain as previous_bill_id,
                       (bal - bal_chg)::decimal(38, 18)::varchar as bal_before
                from okx_raw.bills
                where ccy is not null and bal is not null and bal_chg is not null
                window chain as (
                    partition by account_uid, ccy
                    order by try_cast(bill_id as hugeint) nulls last, ts, bill_id
                )
            ) where previous_bal is not null
            """,
            "okx_raw.bills",
        ),
        skip_without=("okx_raw.bills",),
        example=("account_uid", "ccy", "previous_bill_id", "bill_id", "ts"),
        expectations=(
            equal(
                "bal_before",
                "previous_bal",
                "no gap in the ledger: bal - bal_chg = the previous bill's bal (per account x ccy)",
            ),
        ),
    ),
    Frame(
        name="sync recency (OKX keeps the ledger 3 months)",
        queries=(
            Query(
                requires=("okx_raw._dlt_loads",),
                sql="""
                with syncs as (
                    select inserted_at as synced_at, 'sync' as what
                    from okx_raw._dlt_loads where status = 0
                    union all
                    select current_timestamp, 'now'
                ),
                pairs as (
                    select lag(synced_at) over (order by synced_at) as since_at,
                           lag(what) over (order by synced_at) as since_what,
                           synced_at as until_at, what as until_what
                    from syncs
                )
                select strftime(since_at, '%Y-%m-%d %H:%M') || ' (' || since_what || ')' as since,
                       strftime(until_at, '%Y-%m-%d %H:%M') || ' (' || until_what || ')' as until,
                       (epoch(until_at) - epoch(since_at)) / 86400.0 as days_apart
                from pairs
                where since_at is not null
                union all
                select 'no completed sync recorded', 'now', null
                where not exists (select 1 from okx_raw._dlt_loads where status = 0)
                """,
            ),
            Query(
                requires=("okx_raw.bills", "okx_raw.fills"),
                sql="""
                with newest as (
                    select max(ts) as newest_ts from (
                        select ts from okx_raw.fills union all select ts from okx_raw.bills
                    )
                )
                select coalesce(strftime(newest_ts, '%Y-%m-%d %H:%M') || ' (newest fill or bill)',
                                'no fill or bill loaded') as since,
                       'now' as until,
                       (epoch(current_timestamp) - epoch(newest_ts)) / 86400.0 as days_apart
                from newest
                """,
            ),
        ),
        example=("since", "until", "days_apart"),
        expectations=(
            not_null("days_apart", "a completed sync is on record"),
            at_most(
                "days_apart",
                RETENTION_DAYS,
                f"syncs at most {RETENTION_DAYS} days apart, last one within {RETENTION_DAYS} days "
                "(OKX serves the ledger for 3 months, fills for 3 months or 1 year)",
            ),
        ),
    ),
]

SUITES: dict[str, list[Frame]] = {"raw": RAW, "journal": JOURNAL, "coverage": COVERAGE}
