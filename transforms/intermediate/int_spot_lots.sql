-- grain: one row per piece of a SPOT/MARGIN closing leg matched to one lot, under the journal's cost basis
-- materialized: view
-- depends_on: journal_int.int_spot_lots_matched, journal_int.int_spot_lots_stateful, journal_staging.build_settings
-- One of the two matchers is empty (each is built only for its methods): fifo comes from
-- int_spot_lots_matched, lifo/hifo/average from int_spot_lots_stateful. cost_basis names
-- the method on every row.
with settings as (

    select cost_basis from journal_staging.build_settings

),

matched as (

    select
        account_uid, inst_type, inst_id, direction, trip_no, pnl_ccy,
        close_bill_id, closed_at, close_px,
        lot_bill_id, lot_at, lot_px, lot_qty,
        qty, gross
    from journal_int.int_spot_lots_matched
    union all
    select
        account_uid, inst_type, inst_id, direction, trip_no, pnl_ccy,
        close_bill_id, closed_at, close_px,
        lot_bill_id, lot_at, lot_px, lot_qty,
        qty, gross
    from journal_int.int_spot_lots_stateful

),

final as (

    select matched.*, settings.cost_basis
    from matched
    cross join settings

)

select * from final
