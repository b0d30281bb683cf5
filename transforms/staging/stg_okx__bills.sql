-- grain: one row per bill (ledger entry) (account_uid, bill_id)
-- materialized: view
-- depends_on: okx_raw.bills
-- Renames and casts only: `type` → bill_type, "from"/"to" → from_account/to_account.
with source as (

    select * from okx_raw.bills

),

renamed as (

    select
        cast(account_uid as varchar)                    as account_uid,
        cast(bill_id as varchar)                        as bill_id,
        try_cast(bill_id as ubigint)                    as bill_seq,
        cast("type" as varchar)                         as bill_type,
        cast(sub_type as varchar)                       as sub_type,
        cast(ts as timestamptz)                         as event_at,
        upper(cast(inst_type as varchar))               as inst_type,
        cast(inst_id as varchar)                        as inst_id,
        cast(ccy as varchar)                            as ccy,
        coalesce(cast(bal_chg as decimal(38, 18)), 0)   as bal_chg,
        cast(bal as decimal(38, 18))                    as bal,
        cast(pos_bal_chg as decimal(38, 18))            as pos_bal_chg,
        cast(pos_bal as decimal(38, 18))                as pos_bal,
        cast(sz as decimal(38, 18))                     as sz,
        cast(px as decimal(38, 18))                     as px,
        coalesce(cast(pnl as decimal(38, 18)), 0)       as pnl,
        coalesce(cast(fee as decimal(38, 18)), 0)       as fee,
        cast(interest as decimal(38, 18))               as interest,
        cast(mgn_mode as varchar)                       as mgn_mode,
        cast(ord_id as varchar)                         as ord_id,
        cast(trade_id as varchar)                       as trade_id,
        cast(exec_type as varchar)                      as exec_type,
        cast("from" as varchar)                         as from_account,
        cast("to" as varchar)                           as to_account,
        cast(notes as varchar)                          as notes,
        cast(fill_time as timestamptz)                  as fill_time,
        cast(_dlt_load_id as varchar)                   as _dlt_load_id
    from source

)

select * exclude (_dlt_load_id) from renamed
