-- grain: one row per withdrawal (account_uid, wd_id)
-- materialized: view
-- depends_on: okx_raw.withdrawals
-- Renames and casts only (asset/withdrawal-history). Final states (okx-api §3.11):
-- 2 success, -1 failed, -2 cancelled; the others are pending or review stages.
-- fee is as OKX sends it (a positive number: what the withdrawal cost, in fee_ccy).
with source as (

    select * from okx_raw.withdrawals

),

renamed as (

    select
        cast(account_uid as varchar)                    as account_uid,
        cast(wd_id as varchar)                          as wd_id,
        cast(ccy as varchar)                            as ccy,
        cast(chain as varchar)                          as chain,
        cast(amt as decimal(38, 18))                    as amount,
        coalesce(cast(fee as decimal(38, 18)), 0)       as fee,
        coalesce(cast(fee_ccy as varchar), cast(ccy as varchar)) as fee_ccy,
        cast("from" as varchar)                         as from_address,
        cast("to" as varchar)                           as to_address,
        cast(tx_id as varchar)                          as tx_id,
        cast(state as varchar)                          as state,
        cast(client_id as varchar)                      as client_id,
        cast(note as varchar)                           as note,
        cast(ts as timestamptz)                         as event_at
    from source

)

select * from renamed
