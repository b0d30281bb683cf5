-- grain: one row per day (UTC) × account_uid, every day from the account's first activity to the last day in the data
-- materialized: table
-- depends_on: journal.equity_curve
-- description: The account's P&L in USD across every instrument type and currency, day by day, and its cumulative total: the USD equity curve. Every event is valued at the open of OKX's hourly USD index bar of its own hour (journal_int.int_usd_rates), so the total is the sum of each currency's P&L valued at its events' prices. Money moved into or out of the trading account is apart from it (net_cash_flow_usd). NULL where an event has no USD price (journal.reconciliation, usd_price_coverage, says why).
-- column gross_pnl_usd: gross P&L realised that day, in USD
-- column fees_usd: fees that day, in USD (negative = paid)
-- column funding_usd: funding that day, in USD
-- column interest_usd: interest that day, in USD
-- column net_pnl_usd: gross_pnl_usd + fees_usd + funding_usd + interest_usd
-- column cumulative_net_pnl_usd: net_pnl_usd up to and including that day (NULL from the first day with an unpriced event on)
-- column peak_cumulative_net_pnl_usd: highest cumulative_net_pnl_usd so far (at least 0)
-- column drawdown_usd: peak_cumulative_net_pnl_usd - cumulative_net_pnl_usd
-- column net_cash_flow_usd: money moved into (+) or out of (-) the trading account that day, in USD; not P&L
-- column cumulative_cash_flow_usd: net_cash_flow_usd up to and including that day
-- column unpriced_events: events and cash flows of the day without a USD price
with curve as (

    select * from journal.equity_curve

),

days as (

    select
        day,
        account_uid,
        sum(gross_pnl_usd)                                        as gross_pnl_usd,
        sum(fees_usd)                                             as fees_usd,
        sum(funding_usd)                                          as funding_usd,
        sum(interest_usd)                                         as interest_usd,
        sum(net_pnl_usd)                                          as net_pnl_usd,
        sum(net_cash_flow_usd)                                    as net_cash_flow_usd,
        sum(unpriced_events)                                      as unpriced_events,
        count(*) filter (where net_pnl_usd is null)               as unpriced_pnl_rows,
        count(*) filter (where net_cash_flow_usd is null)         as unpriced_flow_rows
    from curve
    group by day, account_uid

),

cumulated as (

    select
        *,
        sum(coalesce(net_pnl_usd, 0)) over acct                   as running_net_pnl_usd,
        sum(unpriced_pnl_rows) over acct                          as unpriced_pnl_so_far,
        sum(coalesce(net_cash_flow_usd, 0)) over acct             as running_cash_flow_usd,
        sum(unpriced_flow_rows) over acct                         as unpriced_flows_so_far
    from days
    window acct as (
        partition by account_uid order by day
        rows between unbounded preceding and current row
    )

),

totals as (

    select
        day,
        account_uid,
        case when unpriced_pnl_rows = 0 then gross_pnl_usd end    as gross_pnl_usd,
        case when unpriced_pnl_rows = 0 then fees_usd end         as fees_usd,
        case when unpriced_pnl_rows = 0 then funding_usd end      as funding_usd,
        case when unpriced_pnl_rows = 0 then interest_usd end     as interest_usd,
        case when unpriced_pnl_rows = 0 then net_pnl_usd end      as net_pnl_usd,
        case when unpriced_pnl_so_far = 0 then running_net_pnl_usd end as cumulative_net_pnl_usd,
        case when unpriced_flow_rows = 0 then net_cash_flow_usd end as net_cash_flow_usd,
        case when unpriced_flows_so_far = 0 then running_cash_flow_usd end as cumulative_cash_flow_usd,
        unpriced_events
    from cumulated

),

final as (

    select
        day,
        account_uid,
        cast(gross_pnl_usd as decimal(38, 18))                    as gross_pnl_usd,
        cast(fees_usd as decimal(38, 18))                         as fees_usd,
        cast(funding_usd as decimal(38, 18))                      as funding_usd,
        cast(interest_usd as decimal(38, 18))                     as interest_usd,
        cast(net_pnl_usd as decimal(38, 18))                      as net_pnl_usd,
        cast(cumulative_net_pnl_usd as decimal(38, 18))           as cumulative_net_pnl_usd,
        cast(greatest(max(cumulative_net_pnl_usd) over acct, 0) as decimal(38, 18))
                                                                  as peak_cumulative_net_pnl_usd,
        cast(greatest(max(cumulative_net_pnl_usd) over acct, 0) - cumulative_net_pnl_usd
             as decimal(38, 18))                                  as drawdown_usd,
        cast(net_cash_flow_usd as decimal(38, 18))                as net_cash_flow_usd,
        cast(cumulative_cash_flow_usd as decimal(38, 18))         as cumulative_cash_flow_usd,
        cast(unpriced_events as bigint)                           as unpriced_events
    from totals
    window acct as (
        partition by account_uid order by day
        rows between unbounded preceding and current row
    )

)

select * from final
