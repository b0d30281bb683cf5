-- grain: one row per P&L leg (journal_int.int_leg_pnl) or funding/interest charge (journal_int.int_bill_attributions), valued in USD
-- materialized: table
-- depends_on: journal_int.int_leg_pnl, journal_int.int_bill_attributions, journal_int.int_usd_rates
-- Every amount the P&L relations add up, in its P&L currency and in USD at the price of
-- the hour it happened in (journal_int.int_usd_rates: the open of OKX's hourly index
-- bar containing event_at). Exact: amount (rounded to 12 decimals) × price (12
-- decimals) is DECIMAL(38,24), rounded to 18 decimals per part (a plain
-- DECIMAL(38,18) × DECIMAL(38,18) would overflow); net_usd is the sum of the rounded
-- parts, so net_usd = gross_usd + fees_usd + funding_usd + interest_usd exactly. No price:
-- usd_price and every *_usd NULL, never a guess.
with legs as (

    select
        'leg'                                                     as source,
        account_uid, inst_type, inst_id, pos_side, trip_no, bill_id, event_at, pnl_ccy,
        gross, fee                                                as fees,
        cast(0 as decimal(38, 18))                                as funding,
        cast(0 as decimal(38, 18))                                as interest
    from journal_int.int_leg_pnl

),

charges as (

    select
        'charge'                                                  as source,
        account_uid, inst_type, inst_id, pos_side, trip_no, bill_id, event_at, pnl_ccy,
        cast(0 as decimal(38, 18))                                as gross,
        cast(0 as decimal(38, 18))                                as fees,
        case when kind = 'funding' then amount_pnl_ccy
             else cast(0 as decimal(38, 18)) end                  as funding,
        case when kind = 'interest' then amount_pnl_ccy
             else cast(0 as decimal(38, 18)) end                  as interest
    from journal_int.int_bill_attributions

),

events as (

    select * from legs
    union all
    select * from charges

),

priced as (

    select
        events.*,
        cast(timezone('UTC', events.event_at) as date)            as day,
        rates.usd_price,
        rates.price_source
    from events
    left join journal_int.int_usd_rates as rates
        on rates.ccy = events.pnl_ccy
        and rates.hour_utc = date_trunc('hour', timezone('UTC', events.event_at))

),

valued as (

    select
        *,
        cast(cast(coalesce(gross, 0) as decimal(38, 12))
             * cast(usd_price as decimal(24, 12)) as decimal(38, 18)) as gross_usd,
        cast(cast(coalesce(fees, 0) as decimal(38, 12))
             * cast(usd_price as decimal(24, 12)) as decimal(38, 18)) as fees_usd,
        cast(cast(coalesce(funding, 0) as decimal(38, 12))
             * cast(usd_price as decimal(24, 12)) as decimal(38, 18)) as funding_usd,
        cast(cast(coalesce(interest, 0) as decimal(38, 12))
             * cast(usd_price as decimal(24, 12)) as decimal(38, 18)) as interest_usd
    from priced

),

final as (

    select
        *,
        cast(gross_usd + fees_usd + funding_usd + interest_usd as decimal(38, 18)) as net_usd
    from valued

)

select * from final
