-- grain: one row per SWAP and funding time (inst_id, funding_at)
-- materialized: view
-- depends_on: okx_raw.funding_rates
-- The realised rate (OKX's realizedRate; the predicted fundingRate when it is empty):
-- positive means long positions paid and short positions received.
with source as (

    select * from okx_raw.funding_rates

),

renamed as (

    select
        cast(inst_id as varchar)                        as inst_id,
        cast(funding_time as timestamptz)               as funding_at,
        coalesce(cast(realized_rate as decimal(38, 18)),
                 cast(funding_rate as decimal(38, 18))) as rate,
        cast(_dlt_load_id as varchar)                   as _dlt_load_id
    from source
    where inst_id is not null and funding_time is not null

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by inst_id, funding_at order by _dlt_load_id desc nulls last
    ) = 1

)

select * exclude (_dlt_load_id) from deduplicated
