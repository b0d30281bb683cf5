-- grain: one row per USD index and hour (inst_id, bar_at)
-- materialized: view
-- depends_on: okx_raw.index_candles
-- OKX's hourly index bars (market/history-index-candles, bar 1H) of the USD indexes
-- (BTC-USD, ETH-USD, ...) and, for currencies OKX has no USD index for, of their USDT
-- indexes (XYZ-USDT): ccy is the currency the index prices, quote_ccy what in (USD or
-- USDT). open_px is the price the journal values an amount at: the bar that contains the
-- amount's time (see journal_int.int_usd_rates). A bar re-loaded keeps its newest load.
with source as (

    select * from okx_raw.index_candles

),

renamed as (

    select
        cast(inst_id as varchar)                                  as inst_id,
        split_part(cast(inst_id as varchar), '-', 1)              as ccy,
        split_part(cast(inst_id as varchar), '-', 2)              as quote_ccy,
        cast(ts as timestamptz)                                   as bar_at,
        timezone('UTC', cast(ts as timestamptz))                  as hour_utc,
        cast(o as decimal(38, 18))                                as open_px,
        cast(h as decimal(38, 18))                                as high_px,
        cast(l as decimal(38, 18))                                as low_px,
        cast(c as decimal(38, 18))                                as close_px,
        coalesce(cast(confirm as varchar) = '1', false)           as confirmed,
        cast(_dlt_load_id as varchar)                             as _dlt_load_id
    from source
    where inst_id is not null and ts is not null and o is not null
        and split_part(cast(inst_id as varchar), '-', 2) in ('USD', 'USDT')

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by inst_id, bar_at order by _dlt_load_id desc nulls last
    ) = 1

)

select * exclude (_dlt_load_id) from deduplicated
