-- grain: one row per account_uid × inst_type × inst_id × pnl_ccy
-- materialized: view
-- depends_on: journal.daily_pnl, journal.round_trips
-- description: Realised P&L per instrument (sum of journal.daily_pnl) with its round trips: count, win rate, average holding time, fee and funding drag. net_pnl = gross_pnl + fees + funding + interest.
-- column net_pnl: gross_pnl + fees + funding + interest
-- column cost_basis: SPOT/MARGIN rows: the cost-basis method their gross P&L was matched with (fifo, lifo, hifo, average); NULL for derivatives
-- column win_rate: winning closed round trips / closed round trips
-- column avg_holding_seconds: average holding time of closed round trips, in seconds
-- column cost_share_of_gross: -(fees + funding + interest) / gross_pnl, when gross_pnl > 0
with daily as (

    select * from journal.daily_pnl

),

trips as (

    select
        account_uid, inst_type, inst_id, pnl_ccy,
        count(*) filter (where is_closed)                         as round_trips_closed,
        count(*) filter (where outcome = 'win')                   as wins,
        count(*) filter (where outcome = 'loss')                  as losses,
        count(*) filter (where not is_closed)                     as round_trips_open,
        sum(holding_seconds)                                      as holding_seconds_total
    from journal.round_trips
    group by all

),

totals as (

    select
        account_uid, inst_type, inst_id, pnl_ccy,
        sum(gross_pnl) as gross_pnl, sum(fees) as fees, sum(funding) as funding,
        sum(interest) as interest, sum(net_pnl) as net_pnl, sum(fill_count) as fill_count,
        cost_basis
    from daily
    group by all

),

final as (

    select
        totals.account_uid,
        totals.inst_type,
        totals.inst_id,
        totals.pnl_ccy,
        cast(totals.gross_pnl as decimal(38, 18))                 as gross_pnl,
        cast(totals.fees as decimal(38, 18))                      as fees,
        cast(totals.funding as decimal(38, 18))                   as funding,
        cast(totals.interest as decimal(38, 18))                  as interest,
        cast(totals.net_pnl as decimal(38, 18))                   as net_pnl,
        case when totals.gross_pnl > 0 then
            cast(-cast(totals.fees + totals.funding + totals.interest as double)
                 / cast(totals.gross_pnl as double) as decimal(38, 12)) end as cost_share_of_gross,
        cast(totals.fill_count as bigint)                         as fill_count,
        coalesce(trips.round_trips_closed, 0)                     as round_trips_closed,
        coalesce(trips.round_trips_open, 0)                       as round_trips_open,
        coalesce(trips.wins, 0)                                   as wins,
        coalesce(trips.losses, 0)                                 as losses,
        case when trips.round_trips_closed > 0 then
            cast(trips.wins / trips.round_trips_closed as decimal(38, 12)) end as win_rate,
        case when trips.round_trips_closed > 0 then
            cast(trips.holding_seconds_total // trips.round_trips_closed as bigint) end
                                                                  as avg_holding_seconds,
        totals.cost_basis
    from totals
    left join trips
        on trips.account_uid = totals.account_uid
        and trips.inst_type = totals.inst_type
        and trips.inst_id is not distinct from totals.inst_id
        and trips.pnl_ccy = totals.pnl_ccy

)

select * from final
