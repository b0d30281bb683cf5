-- grain: one row per event × leg (as int_trip_legs), with its realised gross P&L
-- materialized: table
-- depends_on: journal_int.int_trip_legs, journal_int.int_spot_lots, journal_staging.build_settings
-- Derivative legs keep OKX's P&L (fill_pnl, delivery/exercise/liquidation bill pnl);
-- SPOT/MARGIN close legs get the gross of their matched lots under the journal's cost
-- basis (exact at DECIMAL(38,24), rounded to 18 decimals per close leg: money is
-- DECIMAL(38,18)). cost_basis names the method on SPOT/MARGIN legs (NULL on derivatives).
-- notional = px × leg_qty (DECIMAL(38,24)) is what round trips average prices from.
with legs as (

    select * from journal_int.int_trip_legs

),

settings as (

    select cost_basis from journal_staging.build_settings

),

lots as (

    -- one row per SPOT/MARGIN close leg; an event has at most one close leg per direction
    select
        account_uid, inst_type, inst_id, direction, close_bill_id,
        sum(gross)                                                as lots_gross
    from journal_int.int_spot_lots
    group by all

),

final as (

    select
        legs.* exclude (gross),
        legs.gross + coalesce(round(lots.lots_gross, 18), 0)      as gross,
        case when legs.leg_kind in ('open', 'close') then legs.px * legs.leg_qty end as notional,
        case when legs.family = 'spot' then settings.cost_basis end as cost_basis
    from legs
    cross join settings
    left join lots
        on lots.account_uid = legs.account_uid
        and lots.inst_type = legs.inst_type
        and lots.inst_id = legs.inst_id
        and lots.direction = legs.direction
        and lots.close_bill_id = legs.bill_id

)

select * from final
