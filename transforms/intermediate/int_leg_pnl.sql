-- grain: one row per event × leg (as int_trip_legs), with its realised gross P&L
-- materialized: table
-- depends_on: journal_int.int_trip_legs, journal_int.int_spot_lots_matched
-- Derivative legs keep OKX's P&L (fill_pnl, delivery/exercise/liquidation bill pnl);
-- SPOT/MARGIN close legs get the FIFO gross of their matched lots (exact at
-- DECIMAL(38,24), rounded to 18 decimals per close leg: money is DECIMAL(38,18)).
-- notional = px × leg_qty (DECIMAL(38,24)) is what round trips average prices from.
with legs as (

    select * from journal_int.int_trip_legs

),

fifo as (

    -- one row per SPOT/MARGIN close leg; an event has at most one close leg per direction
    select
        account_uid, inst_type, inst_id, direction, close_bill_id,
        sum(gross)                                                as fifo_gross
    from journal_int.int_spot_lots_matched
    group by all

),

final as (

    select
        legs.* exclude (gross),
        legs.gross + coalesce(round(fifo.fifo_gross, 18), 0)      as gross,
        case when legs.leg_kind in ('open', 'close') then legs.px * legs.leg_qty end as notional
    from legs
    left join fifo
        on fifo.account_uid = legs.account_uid
        and fifo.inst_type = legs.inst_type
        and fifo.inst_id = legs.inst_id
        and fifo.direction = legs.direction
        and fifo.close_bill_id = legs.bill_id

)

select * from final
