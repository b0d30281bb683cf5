-- grain: one row per position per snapshot (account_uid, snapshot_at, pos_id)
-- materialized: view
-- depends_on: okx_raw.positions
with source as (

    select * from okx_raw.positions

),

renamed as (

    select
        cast(account_uid as varchar)                    as account_uid,
        cast(snapshot_at as timestamptz)                as snapshot_at,
        cast(pos_id as varchar)                         as pos_id,
        upper(cast(inst_type as varchar))               as inst_type,
        cast(inst_id as varchar)                        as inst_id,
        cast(mgn_mode as varchar)                       as mgn_mode,
        coalesce(lower(cast(pos_side as varchar)), 'net') as pos_side,
        cast(pos as decimal(38, 18))                    as pos,
        cast(pos_ccy as varchar)                        as pos_ccy,
        cast(avg_px as decimal(38, 18))                 as avg_px,
        cast(mark_px as decimal(38, 18))                as mark_px,
        cast(upl as decimal(38, 18))                    as upl,
        cast(ccy as varchar)                            as ccy,
        cast(lever as decimal(38, 18))                  as lever,
        cast(liq_px as decimal(38, 18))                 as liq_px,
        cast(realized_pnl as decimal(38, 18))           as realized_pnl,
        cast(c_time as timestamptz)                     as opened_at,
        cast(u_time as timestamptz)                     as updated_at
    from source

)

select * from renamed
