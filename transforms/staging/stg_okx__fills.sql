-- grain: one row per fill (account_uid, bill_id)
-- materialized: view
-- depends_on: okx_raw.fills
-- Renames and casts only. dlt merges fills on (account_uid, bill_id), so rows are
-- unique (journal.reconciliation checks it). px and sz are fill_px and fill_sz at
-- DECIMAL(38,12), the scale the P&L arithmetic runs at: px × sz is an exact
-- DECIMAL(38,24), without rescaling DECIMAL(38,18) at every use (slow in DuckDB).
-- event_at (OKX `ts`, the record time) orders fills against bills; filled_at is the
-- trade time (`fillTime`) users see. bill_seq is bill_id as a number, for ordering.
with source as (

    select * from okx_raw.fills

),

renamed as (

    select
        cast(account_uid as varchar)                    as account_uid,
        cast(bill_id as varchar)                        as bill_id,
        try_cast(bill_id as ubigint)                    as bill_seq,
        upper(cast(inst_type as varchar))               as inst_type,
        cast(inst_id as varchar)                        as inst_id,
        cast(trade_id as varchar)                       as trade_id,
        cast(ord_id as varchar)                         as ord_id,
        cast(sub_type as varchar)                       as sub_type,
        lower(cast(side as varchar))                    as side,
        coalesce(lower(cast(pos_side as varchar)), 'net') as pos_side,
        cast(exec_type as varchar)                      as exec_type,
        cast(fill_px as decimal(38, 18))                as fill_px,
        cast(fill_sz as decimal(38, 18))                as fill_sz,
        round(cast(fill_px as decimal(38, 18)), 12)     as px,  -- round(): the fast rescale
        round(cast(fill_sz as decimal(38, 18)), 12)     as sz,
        coalesce(cast(fill_pnl as decimal(38, 18)), 0)  as fill_pnl,
        cast(fill_idx_px as decimal(38, 18))            as fill_idx_px,
        cast(fill_mark_px as decimal(38, 18))           as fill_mark_px,
        coalesce(cast(fee as decimal(38, 18)), 0)       as fee,
        cast(fee_ccy as varchar)                        as fee_ccy,
        cast(fee_rate as decimal(38, 18))               as fee_rate,
        cast(ts as timestamptz)                         as ts,
        cast(fill_time as timestamptz)                  as fill_time,
        coalesce(cast(fill_time as timestamptz), cast(ts as timestamptz)) as filled_at,
        coalesce(cast(ts as timestamptz), cast(fill_time as timestamptz)) as event_at,
        cast(_dlt_load_id as varchar)                   as _dlt_load_id
    from source

)

select * exclude (_dlt_load_id) from renamed
