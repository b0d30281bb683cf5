-- grain: one row per currency × hour (UTC) in which the journal has an amount (ccy, hour_utc)
-- materialized: table
-- depends_on: journal_staging.stg_okx__bills, journal_int.int_fills, journal_int.int_leg_pnl, journal_int.int_bill_attributions, journal_staging.stg_okx__index_candles, journal_int.int_usd_pricing
-- The USD price of one unit of ccy for every hour the journal values an amount in:
-- ledger entries, fees, P&L legs, funding and interest. Convention: an amount at time t
-- is valued at the OPEN of OKX's hourly index bar that contains t (the bar whose ts is t
-- truncated to the hour, UTC); USD is worth 1; a stablecoin OKX has no index for is worth
-- 1 (price_source 'stablecoin_par'); a currency OKX indexes only against USDT takes the
-- open of its <ccy>-USDT bar times USDT's USD price of the same hour (price_source
-- 'index_usdt', rounded to 18 decimals); a currency with index bars but none for that
-- hour, or without any price, has usd_price NULL (never a guess).
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

-- USDT's own USD price per hour, for the currencies priced through their USDT index
usdt_rates as (

    select
        candles.hour_utc,
        candles.open_px                                           as usd_price
    from journal_staging.stg_okx__index_candles as candles
    where candles.ccy = 'USDT' and candles.quote_ccy = 'USD'

),

priced as (

    select
        hours.ccy,
        hours.hour_utc,
        pricing.pricing,
        candles.open_px,
        case (select pricing from journal_int.int_usd_pricing where ccy = 'USDT')
            when 'index' then usdt.usd_price
            when 'stablecoin_par' then cast(1 as decimal(38, 18))
        end                                                       as usdt_price
    from hours
    left join journal_int.int_usd_pricing as pricing
        on pricing.ccy = hours.ccy
    left join journal_staging.stg_okx__index_candles as candles
        on candles.ccy = hours.ccy
        and candles.hour_utc = hours.hour_utc
        and candles.quote_ccy = case pricing.pricing when 'index' then 'USD'
                                                     when 'index_usdt' then 'USDT' end
    left join usdt_rates as usdt
        on pricing.pricing = 'index_usdt'
        and usdt.hour_utc = hours.hour_utc

),

final as (

    select
        ccy,
        hour_utc,
        case pricing
            when 'index' then open_px
            when 'index_usdt' then cast(cast(open_px as decimal(24, 12))
                                        * cast(usdt_price as decimal(24, 12)) as decimal(38, 18))
            when 'usd' then cast(1 as decimal(38, 18))
            when 'stablecoin_par' then cast(1 as decimal(38, 18))
        end                                                       as usd_price,
        case when pricing = 'index' and open_px is null then null
             when pricing = 'index_usdt' and (open_px is null or usdt_price is null) then null
             else pricing end                                     as price_source
    from priced

)

select * from final
