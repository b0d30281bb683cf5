-- grain: one row per bill (ledger entry) (account_uid, bill_id)
-- materialized: view
-- depends_on: okx_raw.bills
-- Renames and casts: `type` → bill_type, "from"/"to" → from_account/to_account.
-- Bills of the quarterly export (okx-api §3.4) arrive with `type` NULL (the CSV has no
-- type column): bill_type is then inferred from sub_type by the subType table of
-- okx-api §4.3: 1-6 → 2 trade; 9/14 → 7 interest; 11/12 → 1 transfer; 173/174 → 8
-- funding; 100-107, 110/111 → 5 liquidation; 112/113, 170-172 → 3 delivery/exercise;
-- 125-128 → 9 ADL; 204-209 → 14 block trade; 355 → 34 settlement (355 "Settlement PnL"
-- under type 34 "Settlement"; the P&L models key on sub_type 355 itself, so the type is
-- only informative). Any other sub_type leaves bill_type NULL: unknown stays unknown,
-- and sub_type keeps the code as OKX sent it.
-- bill_type_source: 'given' (OKX's type), 'inferred' (from sub_type), 'unknown'.
with source as (

    select * from okx_raw.bills

),

renamed as (

    select
        cast(account_uid as varchar)                    as account_uid,
        cast(bill_id as varchar)                        as bill_id,
        try_cast(bill_id as ubigint)                    as bill_seq,
        cast("type" as varchar)                         as given_type,
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

),

typed as (

    select
        *,
        case when sub_type in ('1', '2', '3', '4', '5', '6') then '2'
             when sub_type in ('9', '14') then '7'
             when sub_type in ('11', '12') then '1'
             when sub_type in ('173', '174') then '8'
             when sub_type in ('100', '101', '102', '103', '104', '105', '106', '107',
                               '110', '111') then '5'
             when sub_type in ('112', '113', '170', '171', '172') then '3'
             when sub_type in ('125', '126', '127', '128') then '9'
             when sub_type in ('204', '205', '206', '207', '208', '209') then '14'
             when sub_type = '355' then '34'
             end                                        as type_from_sub_type
    from renamed

),

final as (

    select
        account_uid,
        bill_id,
        bill_seq,
        coalesce(given_type, type_from_sub_type)        as bill_type,
        case when given_type is not null then 'given'
             when type_from_sub_type is not null then 'inferred'
             else 'unknown' end                         as bill_type_source,
        * exclude (account_uid, bill_id, bill_seq, given_type, type_from_sub_type, _dlt_load_id)
    from typed

)

select * from final
