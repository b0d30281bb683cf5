-- grain: one row per account_uid × pnl_ccy (scope 'account', inst_type NULL) and per account_uid × inst_type × pnl_ccy (scope 'account_inst_type')
-- materialized: table
-- depends_on: journal.round_trips
-- description: Trading statistics over closed round trips. Money never mixes currencies, so the per-account scope is per account × pnl_ccy. A win is net_pnl > 0, a loss net_pnl < 0. Drawdown and streaks follow the order trips closed in.
-- column scope: account (all instrument types of the account in that pnl_ccy) or account_inst_type
-- column win_rate: wins / closed round trips
-- column profit_factor: Σ net_pnl of wins / |Σ net_pnl of losses| (NULL without losses)
-- column expectancy: average net_pnl per closed round trip
-- column avg_win: average net_pnl of wins
-- column avg_loss: average net_pnl of losses (negative)
-- column largest_win: largest net_pnl
-- column largest_loss: most negative net_pnl
-- column max_drawdown: largest fall of cumulative net_pnl (trips in closing order, starting at 0) from its running peak, as a positive amount
-- column longest_losing_streak: most consecutive losing round trips (breakeven trips end a streak)
-- column avg_holding_seconds: average holding time of closed round trips
with trips as (

    select * from journal.round_trips
    where is_closed

),

scoped as (

    select 'account' as scope, account_uid, cast(null as varchar) as inst_type, pnl_ccy,
           round_trip_id, closed_at, net_pnl, gross_pnl, fees, funding, interest, holding_seconds
    from trips
    union all
    select 'account_inst_type' as scope, account_uid, inst_type, pnl_ccy,
           round_trip_id, closed_at, net_pnl, gross_pnl, fees, funding, interest, holding_seconds
    from trips

),

ordered as (

    select
        *,
        sum(net_pnl) over closing_order                           as cumulative_net,
        row_number() over closing_order                           as seq,
        net_pnl < 0                                               as is_loss
    from scoped
    window closing_order as (
        partition by scope, account_uid, inst_type, pnl_ccy
        order by closed_at, round_trip_id
        rows between unbounded preceding and current row
    )

),

drawdowns as (

    select
        *,
        max(cumulative_net) over closing_order                    as running_peak,
        seq - row_number() over (
            partition by scope, account_uid, inst_type, pnl_ccy, is_loss
            order by closed_at, round_trip_id
        )                                                         as streak_group
    from ordered
    window closing_order as (
        partition by scope, account_uid, inst_type, pnl_ccy
        order by closed_at, round_trip_id
        rows between unbounded preceding and current row
    )

),

streaks as (

    select scope, account_uid, inst_type, pnl_ccy, max(streak_length) as longest_losing_streak
    from (
        select scope, account_uid, inst_type, pnl_ccy, streak_group, count(*) as streak_length
        from drawdowns
        where is_loss
        group by all
    )
    group by all

),

aggregated as (

    select
        scope,
        account_uid,
        inst_type,
        pnl_ccy,
        count(*)                                                  as round_trips_closed,
        count(*) filter (where net_pnl > 0)                       as wins,
        count(*) filter (where net_pnl < 0)                       as losses,
        count(*) filter (where net_pnl = 0)                       as breakevens,
        coalesce(sum(net_pnl) filter (where net_pnl > 0), 0)      as total_win,
        coalesce(sum(net_pnl) filter (where net_pnl < 0), 0)      as total_loss,
        sum(net_pnl)                                              as net_pnl,
        sum(gross_pnl)                                            as gross_pnl,
        sum(fees)                                                 as fees,
        sum(funding)                                              as funding,
        sum(interest)                                             as interest,
        max(net_pnl) filter (where net_pnl > 0)                   as largest_win,
        min(net_pnl) filter (where net_pnl < 0)                   as largest_loss,
        max(case when running_peak > 0 then running_peak else 0 end - cumulative_net)
                                                                  as max_drawdown,
        sum(holding_seconds)                                      as holding_seconds_total
    from drawdowns
    group by scope, account_uid, inst_type, pnl_ccy

),

final as (

    select
        aggregated.scope,
        aggregated.account_uid,
        aggregated.inst_type,
        aggregated.pnl_ccy,
        aggregated.round_trips_closed,
        aggregated.wins,
        aggregated.losses,
        aggregated.breakevens,
        cast(aggregated.wins / aggregated.round_trips_closed as decimal(38, 12)) as win_rate,
        case when aggregated.losses > 0 then
            cast(cast(aggregated.total_win as double) / -cast(aggregated.total_loss as double)
                 as decimal(38, 12)) end                          as profit_factor,
        cast(cast(aggregated.net_pnl as double) / aggregated.round_trips_closed
             as decimal(38, 12))                                  as expectancy,
        case when aggregated.wins > 0 then
            cast(cast(aggregated.total_win as double) / aggregated.wins as decimal(38, 12))
             end                                                  as avg_win,
        case when aggregated.losses > 0 then
            cast(cast(aggregated.total_loss as double) / aggregated.losses as decimal(38, 12))
             end                                                  as avg_loss,
        cast(aggregated.largest_win as decimal(38, 18))           as largest_win,
        cast(aggregated.largest_loss as decimal(38, 18))          as largest_loss,
        cast(aggregated.max_drawdown as decimal(38, 18))          as max_drawdown,
        coalesce(streaks.longest_losing_streak, 0)                as longest_losing_streak,
        cast(aggregated.total_win as decimal(38, 18))             as total_win,
        cast(aggregated.total_loss as decimal(38, 18))            as total_loss,
        cast(aggregated.gross_pnl as decimal(38, 18))             as gross_pnl,
        cast(aggregated.fees as decimal(38, 18))                  as fees,
        cast(aggregated.funding as decimal(38, 18))               as funding,
        cast(aggregated.interest as decimal(38, 18))              as interest,
        cast(aggregated.net_pnl as decimal(38, 18))               as net_pnl,
        cast(aggregated.holding_seconds_total // aggregated.round_trips_closed as bigint)
                                                                  as avg_holding_seconds
    from aggregated
    left join streaks
        on streaks.scope = aggregated.scope
        and streaks.account_uid = aggregated.account_uid
        and streaks.inst_type is not distinct from aggregated.inst_type
        and streaks.pnl_ccy = aggregated.pnl_ccy

)

select * from final
