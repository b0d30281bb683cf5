-- grain: one row per closed position life (account_uid, pos_id, opened_at)
-- materialized: view
-- depends_on: okx_raw.positions_history
with source as (

    select * from okx_raw.positions_history

),

renamed as (

    select
        cast(account_uid as varchar)                    as account_uid,
        cast(pos_id as varchar)                         as pos_id,
        cast(c_time as timestamptz)                     as opened_at,
        cast(u_time as timestamptz)                     as updated_at,
        upper(cast(inst_type as varchar))               as inst_type,
        cast(inst_id as varchar)                        as inst_id,
        cast(mgn_mode as varchar)                       as mgn_mode,
        cast("type" as varchar)                         as close_type,
        coalesce(lower(cast(pos_side as varchar)), 'net') as pos_side,
        lower(cast(direction as varchar))               as direction,
        cast(open_avg_px as decimal(38, 18))            as open_avg_px,
        cast(close_avg_px as decimal(38, 18))           as close_avg_px,
        cast(open_max_pos as decimal(38, 18))           as open_max_pos,
        cast(close_total_pos as decimal(38, 18))        as close_total_pos,
        coalesce(cast(pnl as decimal(38, 18)), 0)       as pnl,
        coalesce(cast(fee as decimal(38, 18)), 0)       as fee,
        coalesce(cast(funding_fee as decimal(38, 18)), 0) as funding_fee,
        coalesce(cast(liq_penalty as decimal(38, 18)), 0) as liq_penalty,
        coalesce(cast(settled_pnl as decimal(38, 18)), 0) as settled_pnl,
        cast(realized_pnl as decimal(38, 18))           as realized_pnl,
        cast(ccy as varchar)                            as ccy,
        cast(_dlt_load_id as varchar)                   as _dlt_load_id
    from source

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by account_uid, pos_id, opened_at order by _dlt_load_id desc nulls last
    ) = 1

)

select * exclude (_dlt_load_id) from deduplicated
