-- grain: one row per currency × hour (UTC) in which the journal has an amount (ccy, hour_utc)
-- materialized: table
-- depends_on: journal_staging.stg_okx__bills, journal_int.int_fills, journal_int.int_leg_pnl, journal_int.int_bill_attributions, journal_staging.stg_okx__index_candles, journal_int.int_usd_pricing
-- The USD price of one unit of ccy for every hour the journal values an amount in:
-- ledger entries, fees, P&L legs, funding and interest. Convention: an amount at time t
-- is valued at the OPEN of OKX's hourly index bar that contains t (the bar whose ts is t
-- truncated to the hour, UTC); USD is worth 1; a stablecoin OKX has no index for is worth
-- 1 (price_source 'stablecoin_par'); a currency with index bars but none for that hour,
-- or without any price, has usd_price NULL (never a guess).
with hours as (

    select ccy, date_trunc('hour', timezone('UTC', event_at)) as hour_utc
    from journal_staging.stg_okx__bills
    where ccy is not null and event_at is not null
    union
    select fee_ccy, date_trunc('hour', timezone('UTC', filled_at))
    from journal_int.int_fills
    where fee_ccy is not null and filled_at is not null
    union
    select pnl_ccy, date_trunc('hour', timezone('UTC', event_at))
    from journal_int.int_leg_pnl
    where pnl_ccy is not null and event_at is not null
    union
    select pnl_ccy, date_trunc('hour', timezone('UTC', event_at))
    from journal_int.int_bill_attributions
    where pnl_ccy is not null and event_at is not null

),

final as (

    select
        hours.ccy,
        hours.hour_utc,
        case pricing.pricing
            when 'index' then candles.open_px
            when 'usd' then cast(1 as decimal(38, 18))
            when 'stablecoin_par' then cast(1 as decimal(38, 18))
        end                                                       as usd_price,
        case when pricing.pricing = 'index' and candles.open_px is null then null
             else pricing.pricing end                             as price_source
    from hours
    left join journal_int.int_usd_pricing as pricing
        on pricing.ccy = hours.ccy
    left join journal_staging.stg_okx__index_candles as candles
        on pricing.pricing = 'index'
        and candles.ccy = hours.ccy
        and candles.hour_utc = hours.hour_utc

)

select * from final
