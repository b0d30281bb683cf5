-- grain: one row per instrument (inst_type, inst_id); the most recently seen spec wins
-- materialized: view
-- depends_on: okx_raw.instruments
with source as (

    select * from okx_raw.instruments

),

renamed as (

    select
        upper(cast(inst_type as varchar))               as inst_type,
        cast(inst_id as varchar)                        as inst_id,
        cast(base_ccy as varchar)                       as base_ccy,
        cast(quote_ccy as varchar)                      as quote_ccy,
        cast(settle_ccy as varchar)                     as settle_ccy,
        cast(ct_val as decimal(38, 18))                 as ct_val,
        cast(ct_mult as decimal(38, 18))                as ct_mult,
        cast(ct_val_ccy as varchar)                     as ct_val_ccy,
        lower(cast(ct_type as varchar))                 as ct_type,
        cast(opt_type as varchar)                       as opt_type,
        cast(stk as decimal(38, 18))                    as stk,
        cast(exp_time as timestamptz)                   as expires_at,
        cast(inst_family as varchar)                    as inst_family,
        cast(uly as varchar)                            as uly,
        cast(state as varchar)                          as state,
        cast(last_seen_at as timestamptz)               as last_seen_at,
        cast(_dlt_load_id as varchar)                   as _dlt_load_id
    from source

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by inst_type, inst_id
        order by last_seen_at desc nulls last, _dlt_load_id desc nulls last
    ) = 1

)

select * exclude (_dlt_load_id) from deduplicated
