-- grain: one row per account_uid × inst_type × pnl_ccy
-- materialized: view
-- depends_on: journal.daily_pnl, journal.round_trips
-- description: Realised P&L per account, instrument type and P&L currency (sum of journal.daily_pnl), with round-trip counts and cost drag. net_pnl = gross_pnl + fees + funding + interest.
-- column gross_pnl: realised gross P&L
-- column fees: fees (negative = paid)
-- column funding: funding (type 8)
-- column interest: interest (type 7)
-- column net_pnl: gross_pnl + fees + funding + interest
-- column costs: fees + funding + interest
-- column cost_share_of_gross: -costs / gross_pnl, when gross_pnl > 0 (share of the gross eaten by costs)
-- column round_trips_closed: closed round trips
-- column gross_pnl_usd: gross P&L in USD, every event valued at the price of its hour (sum of journal.daily_pnl.gross_pnl_usd); NULL when an event has no USD price
-- column fees_usd: fees in USD (idem)
-- column funding_usd: funding in USD (idem)
-- column interest_usd: interest in USD (idem)
-- column net_pnl_usd: gross_pnl_usd + fees_usd + funding_usd + interest_usd
-- column costs_usd: fees_usd + funding_usd + interest_usd
-- column unpriced_events: events without a USD price
with daily as (

    select * from journal.daily_pnl

),

trips as (

    select account_uid, inst_type, pnl_ccy, count(*) as round_trips_closed
    from journal.round_trips
    where is_closed
    group by all

),

totals as (

    select
        account_uid,
        inst_type,
        pnl_ccy,
        sum(gross_pnl)                                            as gross_pnl,
        sum(fees)                                                 as fees,
        sum(funding)                                              as funding,
        sum(interest)                                             as interest,
        sum(net_pnl)                                              as net_pnl,
        sum(fill_count)                                           as fill_count,
        min(day)                                                  as first_day,
        max(day)                                                  as last_day,
        sum(unpriced_events)                                      as unpriced_events,
        sum(gross_pnl_usd)                                        as gross_pnl_usd,
        sum(fees_usd)                                             as fees_usd,
        sum(funding_usd)                                          as funding_usd,
        sum(interest_usd)                                         as interest_usd,
        sum(net_pnl_usd)                                          as net_pnl_usd
    from daily
    group by all

),

final as (

    select
        totals.account_uid,
        totals.inst_type,
        totals.pnl_ccy,
        cast(totals.gross_pnl as decimal(38, 18))                 as gross_pnl,
        cast(totals.fees as decimal(38, 18))                      as fees,
        cast(totals.funding as decimal(38, 18))                   as funding,
        cast(totals.interest as decimal(38, 18))                  as interest,
        cast(totals.net_pnl as decimal(38, 18))                   as net_pnl,
        cast(totals.fees + totals.funding + totals.interest as decimal(38, 18)) as costs,
        case when totals.gross_pnl > 0 then
            cast(-cast(totals.fees + totals.funding + totals.interest as double)
                 / cast(totals.gross_pnl as double) as decimal(38, 12)) end as cost_share_of_gross,
        coalesce(trips.round_trips_closed, 0)                     as round_trips_closed,
        cast(totals.fill_count as bigint)                         as fill_count,
        totals.first_day,
        totals.last_day,
        case when totals.unpriced_events = 0 then cast(totals.gross_pnl_usd as decimal(38, 18)) end as gross_pnl_usd,
        case when totals.unpriced_events = 0 then cast(totals.fees_usd as decimal(38, 18)) end as fees_usd,
        case when totals.unpriced_events = 0 then cast(totals.funding_usd as decimal(38, 18)) end as funding_usd,
        case when totals.unpriced_events = 0 then cast(totals.interest_usd as decimal(38, 18)) end as interest_usd,
        case when totals.unpriced_events = 0 then cast(totals.net_pnl_usd as decimal(38, 18)) end as net_pnl_usd,
        case when totals.unpriced_events = 0 then
            cast(totals.fees_usd + totals.funding_usd + totals.interest_usd as decimal(38, 18)) end as costs_usd,
        cast(totals.unpriced_events as bigint)                    as unpriced_events
    from totals
    left join trips
        on trips.account_uid = totals.account_uid
        and trips.inst_type = totals.inst_type
        and trips.pnl_ccy = totals.pnl_ccy

)

select * from final
