-- grain: one row per day (UTC) × account_uid × pnl_ccy, every day from the first activity (P&L or cash flow) to the last day in the data
-- materialized: table
-- depends_on: journal.daily_pnl, journal.cash_flows, journal_int.int_usd_rates
-- description: Cumulative realised net P&L per account and P&L currency, day by day (days without activity carry the previous total), and, apart from it, the money moved into and out of the trading account in that currency (transfers from and to the funding account, journal.cash_flows). Cash flows are never part of P&L; a day with only cash flows has a row too. Currencies are never added together: one curve per pnl_ccy.
-- column net_pnl: net P&L realised that day (gross + fees + funding + interest)
-- column cumulative_net_pnl: net P&L realised up to and including that day
-- column peak_cumulative_net_pnl: highest cumulative_net_pnl so far (at least 0)
-- column drawdown: peak_cumulative_net_pnl - cumulative_net_pnl
-- column net_cash_flow: money moved into (+) or out of (-) the trading account that day in pnl_ccy (journal.cash_flows with account = trading); not P&L
-- column cumulative_cash_flow: net_cash_flow up to and including that day
-- column gross_pnl_usd: that day's gross P&L in USD, each event valued at the price of its hour (journal.daily_pnl); NULL when an event has no USD price
-- column fees_usd: that day's fees in USD, each event valued at the price of its hour (journal.daily_pnl); NULL when an event has no USD price
-- column funding_usd: that day's funding in USD, each event valued at the price of its hour (journal.daily_pnl); NULL when an event has no USD price
-- column interest_usd: that day's interest in USD, each event valued at the price of its hour (journal.daily_pnl); NULL when an event has no USD price
-- column net_pnl_usd: that day's net P&L in USD, each event valued at the price of its hour (journal.daily_pnl); NULL when an event has no USD price
-- column cumulative_net_pnl_usd: net_pnl_usd up to and including that day (NULL from the first day with an unpriced event on)
-- column net_cash_flow_usd: net_cash_flow in USD, each movement valued at the price of its hour
-- column cumulative_cash_flow_usd: net_cash_flow_usd up to and including that day (NULL from the first unpriced movement on)
-- column unpriced_events: P&L events and cash flows of the day without a USD price
with daily as (

    select
        day, account_uid, pnl_ccy,
        sum(gross_pnl) as gross_pnl, sum(fees) as fees, sum(funding) as funding,
        sum(interest) as interest, sum(net_pnl) as net_pnl,
        sum(gross_pnl_usd) as gross_pnl_usd, sum(fees_usd) as fees_usd,
        sum(funding_usd) as funding_usd, sum(interest_usd) as interest_usd,
        sum(net_pnl_usd) as net_pnl_usd, sum(unpriced_events) as unpriced_events
    from journal.daily_pnl
    group by all

),

flows as (

    -- the trading account's cash flows: the money the P&L was made with
    select
        flows.day, flows.account_uid, flows.ccy as pnl_ccy, sum(flows.amount) as net_cash_flow,
        sum(cast(cast(flows.amount as decimal(38, 12)) * cast(rates.usd_price as decimal(24, 12))
                 as decimal(38, 18)))                             as net_cash_flow_usd,
        count(*) filter (where rates.usd_price is null)           as unpriced_flows
    from journal.cash_flows as flows
    left join journal_int.int_usd_rates as rates
        on rates.ccy = flows.ccy
        and rates.hour_utc = date_trunc('hour', timezone('UTC', flows.flow_at))
    where flows.account = 'trading'
    group by flows.day, flows.account_uid, flows.ccy

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
        coalesce(flows.net_cash_flow, 0)                          as net_cash_flow,
        coalesce(daily.gross_pnl_usd, 0)                          as gross_pnl_usd,
        coalesce(daily.fees_usd, 0)                               as fees_usd,
        coalesce(daily.funding_usd, 0)                            as funding_usd,
        coalesce(daily.interest_usd, 0)                           as interest_usd,
        coalesce(daily.net_pnl_usd, 0)                            as net_pnl_usd,
        coalesce(flows.net_cash_flow_usd, 0)                      as net_cash_flow_usd,
        coalesce(daily.unpriced_events, 0)                        as unpriced_pnl_events,
        coalesce(flows.unpriced_flows, 0)                         as unpriced_flows
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
        sum(net_cash_flow) over curve                             as cumulative_cash_flow,
        sum(net_pnl_usd) over curve                               as cumulative_net_pnl_usd,
        sum(unpriced_pnl_events) over curve                       as unpriced_pnl_so_far,
        sum(net_cash_flow_usd) over curve                         as cumulative_cash_flow_usd,
        sum(unpriced_flows) over curve                            as unpriced_flows_so_far
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
        cast(cumulative_cash_flow as decimal(38, 18))             as cumulative_cash_flow,
        case when unpriced_pnl_events = 0 then cast(gross_pnl_usd as decimal(38, 18)) end as gross_pnl_usd,
        case when unpriced_pnl_events = 0 then cast(fees_usd as decimal(38, 18)) end as fees_usd,
        case when unpriced_pnl_events = 0 then cast(funding_usd as decimal(38, 18)) end as funding_usd,
        case when unpriced_pnl_events = 0 then cast(interest_usd as decimal(38, 18)) end as interest_usd,
        case when unpriced_pnl_events = 0 then cast(net_pnl_usd as decimal(38, 18)) end as net_pnl_usd,
        case when unpriced_pnl_so_far = 0 then cast(cumulative_net_pnl_usd as decimal(38, 18)) end
                                                                  as cumulative_net_pnl_usd,
        case when unpriced_flows = 0 then cast(net_cash_flow_usd as decimal(38, 18)) end
                                                                  as net_cash_flow_usd,
        case when unpriced_flows_so_far = 0 then cast(cumulative_cash_flow_usd as decimal(38, 18)) end
                                                                  as cumulative_cash_flow_usd,
        cast(unpriced_pnl_events + unpriced_flows as bigint)      as unpriced_events
    from cumulated
    window curve as (
        partition by account_uid, pnl_ccy order by day
        rows between unbounded preceding and current row
    )

)

select * from final
