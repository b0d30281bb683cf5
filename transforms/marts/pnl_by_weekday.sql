-- grain: one row per account_uid × inst_type × pnl_ccy × weekday (UTC) of the closing time
-- materialized: view
-- depends_on: journal.round_trips
-- description: Closed round trips grouped by the UTC weekday they closed on: count, win rate and P&L. net_pnl = gross_pnl + fees + funding + interest.
-- column weekday_number: ISO weekday, 1 = Monday … 7 = Sunday
-- column weekday: weekday name
-- column win_rate: wins / closed round trips
with trips as (

    select * from journal.round_trips
    where is_closed

),

final as (

    select
        account_uid,
        inst_type,
        pnl_ccy,
        isodow(timezone('UTC', closed_at))                        as weekday_number,
        dayname(timezone('UTC', closed_at))                       as weekday,
        count(*)                                                  as round_trips_closed,
        count(*) filter (where outcome = 'win')                   as wins,
        count(*) filter (where outcome = 'loss')                  as losses,
        cast(count(*) filter (where outcome = 'win') / count(*) as decimal(38, 12)) as win_rate,
        cast(sum(gross_pnl) as decimal(38, 18))                   as gross_pnl,
        cast(sum(fees) as decimal(38, 18))                        as fees,
        cast(sum(funding) as decimal(38, 18))                     as funding,
        cast(sum(interest) as decimal(38, 18))                    as interest,
        cast(sum(net_pnl) as decimal(38, 18))                     as net_pnl,
        cast(sum(holding_seconds) // count(*) as bigint)          as avg_holding_seconds
    from trips
    group by all

)

select * from final
