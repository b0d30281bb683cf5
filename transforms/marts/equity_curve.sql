-- grain: one row per day (UTC) × account_uid × pnl_ccy, every day from the first activity (P&L or cash flow) to the last day in the data
-- materialized: table
-- depends_on: journal.daily_pnl, journal.cash_flows
-- description: Cumulative realised net P&L per account and P&L currency, day by day (days without activity carry the previous total), and, apart from it, the money moved into and out of the trading account in that currency (transfers from and to the funding account, journal.cash_flows). Cash flows are never part of P&L; a day with only cash flows has a row too. Currencies are never added together: one curve per pnl_ccy.
-- column net_pnl: net P&L realised that day (gross + fees + funding + interest)
-- column cumulative_net_pnl: net P&L realised up to and including that day
-- column peak_cumulative_net_pnl: highest cumulative_net_pnl so far (at least 0)
-- column drawdown: peak_cumulative_net_pnl - cumulative_net_pnl
-- column net_cash_flow: money moved into (+) or out of (-) the trading account that day in pnl_ccy (journal.cash_flows with account = trading); not P&L
-- column cumulative_cash_flow: net_cash_flow up to and including that day
with daily as (

    select
        day, account_uid, pnl_ccy,
        sum(gross_pnl) as gross_pnl, sum(fees) as fees, sum(funding) as funding,
        sum(interest) as interest, sum(net_pnl) as net_pnl
    from journal.daily_pnl
    group by all

),

flows as (

    -- the trading account's cash flows: the money the P&L was made with
    select day, account_uid, ccy as pnl_ccy, sum(amount) as net_cash_flow
    from journal.cash_flows
    where account = 'trading'
    group by all

),

active_days as (

    select day, account_uid, pnl_ccy from daily
    union all
    select day, account_uid, pnl_ccy from flows

),

bounds as (

    select account_uid, pnl_ccy, min(day) as first_day,
           (select max(day) from active_days) as last_day
    from active_days
    group by all

),

calendar as (

    select account_uid, pnl_ccy,
           cast(unnest(generate_series(first_day, last_day, interval 1 day)) as date) as day
    from bounds

),

filled as (

    select
        calendar.day,
        calendar.account_uid,
        calendar.pnl_ccy,
        coalesce(daily.gross_pnl, 0)                              as gross_pnl,
        coalesce(daily.fees, 0)                                   as fees,
        coalesce(daily.funding, 0)                                as funding,
        coalesce(daily.interest, 0)                               as interest,
        coalesce(daily.net_pnl, 0)                                as net_pnl,
        coalesce(flows.net_cash_flow, 0)                          as net_cash_flow
    from calendar
    left join daily
        on daily.day = calendar.day
        and daily.account_uid = calendar.account_uid
        and daily.pnl_ccy = calendar.pnl_ccy
    left join flows
        on flows.day = calendar.day
        and flows.account_uid = calendar.account_uid
        and flows.pnl_ccy = calendar.pnl_ccy

),

cumulated as (

    select
        *,
        sum(net_pnl) over curve                                   as cumulative_net_pnl,
        sum(net_cash_flow) over curve                             as cumulative_cash_flow
    from filled
    window curve as (
        partition by account_uid, pnl_ccy order by day
        rows between unbounded preceding and current row
    )

),

final as (

    select
        day,
        account_uid,
        pnl_ccy,
        cast(gross_pnl as decimal(38, 18))                        as gross_pnl,
        cast(fees as decimal(38, 18))                             as fees,
        cast(funding as decimal(38, 18))                          as funding,
        cast(interest as decimal(38, 18))                         as interest,
        cast(net_pnl as decimal(38, 18))                          as net_pnl,
        cast(cumulative_net_pnl as decimal(38, 18))               as cumulative_net_pnl,
        cast(greatest(max(cumulative_net_pnl) over curve, 0) as decimal(38, 18))
                                                                  as peak_cumulative_net_pnl,
        cast(greatest(max(cumulative_net_pnl) over curve, 0) - cumulative_net_pnl
             as decimal(38, 18))                                  as drawdown,
        cast(net_cash_flow as decimal(38, 18))                    as net_cash_flow,
        cast(cumulative_cash_flow as decimal(38, 18))             as cumulative_cash_flow
    from cumulated
    window curve as (
        partition by account_uid, pnl_ccy order by day
        rows between unbounded preceding and current row
    )

)

select * from final
