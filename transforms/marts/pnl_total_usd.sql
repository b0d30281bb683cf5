-- grain: one row per account_uid
-- materialized: view
-- depends_on: journal.pnl_by_instrument_type, journal.open_positions
-- description: The account's whole P&L in one currency: every instrument type and every P&L currency added up in USD, each event valued at the open of OKX's hourly USD index bar of its own hour (the total is the sum of each currency's P&L valued at its events' prices; journal.daily_pnl_total_usd has it day by day), plus the unrealised P&L of the open positions at the latest price. NULL where an amount has no USD price: journal.reconciliation (usd_price_coverage) says which and why.
-- column gross_pnl_usd: realised gross P&L, in USD
-- column fees_usd: fees, in USD (negative = paid)
-- column funding_usd: funding, in USD
-- column interest_usd: interest, in USD
-- column net_pnl_usd: gross_pnl_usd + fees_usd + funding_usd + interest_usd: the realised P&L in USD
-- column unrealised_pnl_usd: unrealised P&L of the open positions (OKX's latest snapshot) at the latest USD price (journal.open_positions.okx_upl_usd)
-- column total_pnl_usd: net_pnl_usd + unrealised_pnl_usd
-- column unpriced_events: realised P&L events without a USD price
-- column first_day: first day with P&L
-- column last_day: last day with P&L
with by_type as (

    select
        account_uid,
        count(*) filter (where net_pnl_usd is null)               as unpriced_rows,
        sum(unpriced_events)                                      as unpriced_events,
        sum(gross_pnl_usd)                                        as gross_pnl_usd,
        sum(fees_usd)                                             as fees_usd,
        sum(funding_usd)                                          as funding_usd,
        sum(interest_usd)                                         as interest_usd,
        sum(net_pnl_usd)                                          as net_pnl_usd,
        min(first_day)                                            as first_day,
        max(last_day)                                             as last_day
    from journal.pnl_by_instrument_type
    group by account_uid

),

unrealised as (

    select
        account_uid,
        count(*) filter (where okx_upl is not null and okx_upl_usd is null) as unpriced_rows,
        sum(okx_upl_usd)                                          as unrealised_pnl_usd
    from journal.open_positions
    group by account_uid

),

final as (

    select
        by_type.account_uid,
        case when by_type.unpriced_rows = 0 then cast(by_type.gross_pnl_usd as decimal(38, 18)) end as gross_pnl_usd,
        case when by_type.unpriced_rows = 0 then cast(by_type.fees_usd as decimal(38, 18)) end as fees_usd,
        case when by_type.unpriced_rows = 0 then cast(by_type.funding_usd as decimal(38, 18)) end as funding_usd,
        case when by_type.unpriced_rows = 0 then cast(by_type.interest_usd as decimal(38, 18)) end as interest_usd,
        case when by_type.unpriced_rows = 0 then cast(by_type.net_pnl_usd as decimal(38, 18)) end as net_pnl_usd,
        case when coalesce(unrealised.unpriced_rows, 0) = 0
             then cast(coalesce(unrealised.unrealised_pnl_usd, 0) as decimal(38, 18)) end as unrealised_pnl_usd,
        case when by_type.unpriced_rows = 0 and coalesce(unrealised.unpriced_rows, 0) = 0
             then cast(by_type.net_pnl_usd + coalesce(unrealised.unrealised_pnl_usd, 0)
                       as decimal(38, 18)) end                    as total_pnl_usd,
        cast(by_type.unpriced_events as bigint)                   as unpriced_events,
        by_type.first_day,
        by_type.last_day
    from by_type
    left join unrealised
        on unrealised.account_uid = by_type.account_uid

)

select * from final
