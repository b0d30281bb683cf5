-- grain: one row per account_uid × inst_type × pnl_ccy
-- materialized: view
-- depends_on: journal.daily_pnl, journal.round_trips
-- description: Realised P&L per account, instrument type and P&L currency (sum of journal.daily_pnl), with round-trip counts and cost drag. net_pnl = gross_pnl + fees + funding + interest.
-- column gross_pnl: realised gross P&L
-- column fees: fees (negative = paid)
-- column funding: funding (type 8)
-- column interest: interest (type 7)
-- column net_pnl: gross_pnl + fees + funding + interest
-- column cost_basis: SPOT/MARGIN rows: the cost-basis method their gross P&L was matched with (fifo, lifo, hifo, average); NULL for derivatives
-- column costs: fees + funding + interest
-- column cost_share_of_gross: -costs / gross_pnl, when gross_pnl > 0 (share of the gross eaten by costs)
-- column round_trips_closed: closed round trips
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
        cost_basis
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
        totals.cost_basis
    from totals
    left join trips
        on trips.account_uid = totals.account_uid
        and trips.inst_type = totals.inst_type
        and trips.pnl_ccy = totals.pnl_ccy

)

select * from final
