-- grain: one row per deposit (account_uid, dep_id)
-- materialized: view
-- depends_on: okx_raw.deposits
-- Renames and casts only (asset/deposit-history). state (okx-api §3.11): 0 waiting for
-- confirmation, 1 credited but not yet withdrawable, 2 successful, 8/11-14/17 held.
with source as (

    select * from okx_raw.deposits

),

renamed as (

    select
        cast(account_uid as varchar)                    as account_uid,
        cast(dep_id as varchar)                         as dep_id,
        cast(ccy as varchar)                            as ccy,
        cast(chain as varchar)                          as chain,
        cast(amt as decimal(38, 18))                    as amount,
        cast("from" as varchar)                         as from_address,
        cast(area_code_from as varchar)                 as area_code_from,
        cast("to" as varchar)                           as to_address,
        cast(tx_id as varchar)                          as tx_id,
        cast(state as varchar)                          as state,
        cast(from_wd_id as varchar)                     as from_wd_id,
        cast(actual_dep_blk_confirm as varchar)         as actual_dep_blk_confirm,
        cast(ts as timestamptz)                         as event_at
    from source

)

select * from renamed
