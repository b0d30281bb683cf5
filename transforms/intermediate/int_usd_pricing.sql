-- grain: one row per currency with a USD price (ccy)
-- materialized: table
-- depends_on: journal_staging.stg_okx__index_candles
-- How each currency is valued in USD: 'index' (OKX's <ccy>-USD index bars were loaded:
-- the bar of each hour, and no price for an hour without a bar), 'index_usdt' (OKX has
-- no <ccy>-USD index, its <ccy>-USDT bars were loaded: the bar of each hour times USDT's
-- own USD price of that hour), 'usd' (USD itself, worth exactly 1) or 'stablecoin_par'
-- (a USD stablecoin for which OKX has no index: worth exactly 1 USD by convention). A
-- currency not listed here has no USD price at all: its amounts stay NULL in USD and
-- journal.reconciliation says so (usd_price_coverage).
with indexed as (

    select distinct ccy from journal_staging.stg_okx__index_candles where quote_ccy = 'USD'

),

indexed_usdt as (

    select distinct ccy from journal_staging.stg_okx__index_candles
    where quote_ccy = 'USDT' and ccy not in (select ccy from indexed)

),

stablecoins as (

    select ccy from (values ('USDT'), ('USDC'), ('DAI'), ('TUSD'), ('USDP'), ('FDUSD'),
                            ('PYUSD'), ('USDG'), ('BUSD')) as stable(ccy)

),

final as (

    select ccy, 'index' as pricing from indexed
    union all
    select ccy, 'index_usdt' from indexed_usdt
    where ccy not in (select ccy from stablecoins)
    union all
    select 'USD', 'usd'
    where 'USD' not in (select ccy from indexed)
    union all
    select ccy, 'stablecoin_par' from stablecoins
    where ccy not in (select ccy from indexed)

)

select * from final
