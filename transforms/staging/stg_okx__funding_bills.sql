-- grain: one row per funding-account bill (account_uid, bill_id)
-- materialized: view
-- depends_on: okx_raw.funding_bills
-- Renames and casts only. The funding account's ledger (asset/bills, asset/bills-history).
-- bill_type codes (okx-api §3.11): 1 deposit, 2 withdrawal, 13 cancelled withdrawal,
-- 20-23 sub-account transfers, 130/131 transfer from / to the trading account, plus
-- earn, airdrop and fiat codes kept as OKX sent them.
with source as (

    select * from okx_raw.funding_bills

),

renamed as (

    select
        cast(account_uid as varchar)                    as account_uid,
        cast(bill_id as varchar)                        as bill_id,
        cast("type" as varchar)                         as bill_type,
        cast(ccy as varchar)                            as ccy,
        coalesce(cast(bal_chg as decimal(38, 18)), 0)   as bal_chg,
        cast(bal as decimal(38, 18))                    as bal,
        cast(client_id as varchar)                      as client_id,
        cast(notes as varchar)                          as notes,
        cast(ts as timestamptz)                         as event_at
    from source

)

select * from renamed
