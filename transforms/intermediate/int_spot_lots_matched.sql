-- grain: one row per piece of a SPOT/MARGIN closing leg matched to one FIFO lot
-- materialized: table
-- depends_on: journal_int.int_trip_legs, journal_staging.build_settings
-- Built only when the journal's cost basis is fifo (int_spot_lots_stateful does the others).
-- FIFO, set-based: per book and direction, open legs (lots) and close legs each get a
-- cumulative quantity range. Every boundary of either sequence cuts the matched range
-- into pieces; an ASOF join finds the lot and the close leg covering each piece (the
-- first whose cumulative end reaches the piece's end). Closed quantity never exceeds
-- lot quantity in a book, so lots of one round trip are used up before the next opens.
-- gross = (close px - lot px) × qty for long lots, (lot px - close px) × qty for short.
-- px and qty are DECIMAL(38,12), so gross is an exact DECIMAL(38,24).
with legs as (

    select * from journal_int.int_trip_legs
    where family = 'spot' and leg_kind in ('open', 'close')
        and (select cost_basis from journal_staging.build_settings) = 'fifo'

),

lots as (

    select
        account_uid, inst_type, inst_id, direction,
        bill_id                                                   as lot_bill_id,
        event_at                                                  as lot_at,
        px                                                        as lot_px,
        leg_qty                                                   as lot_qty,
        sum(leg_qty) over (
            partition by account_uid, inst_type, inst_id, direction
            order by event_at, bill_seq, bill_id
            rows between unbounded preceding and current row
        )                                                         as cum_end
    from legs
    where leg_kind = 'open'

),

closes as (

    select
        account_uid, inst_type, inst_id, direction,
        bill_id                                                   as close_bill_id,
        event_at                                                  as closed_at,
        px                                                        as close_px,
        trip_no,
        pnl_ccy,
        sum(leg_qty) over (
            partition by account_uid, inst_type, inst_id, direction
            order by event_at, bill_seq, bill_id
            rows between unbounded preceding and current row
        )                                                         as cum_end
    from legs
    where leg_kind = 'close'

),

closed_totals as (

    select account_uid, inst_type, inst_id, direction, max(cum_end) as total_closed
    from closes
    group by all

),

boundaries as (

    select account_uid, inst_type, inst_id, direction, cum_end as boundary from lots
    union
    select account_uid, inst_type, inst_id, direction, cum_end as boundary from closes

),

pieces as (

    select
        boundaries.*,
        boundaries.boundary - coalesce(lag(boundaries.boundary) over (
            partition by boundaries.account_uid, boundaries.inst_type,
                         boundaries.inst_id, boundaries.direction
            order by boundaries.boundary
        ), 0)                                                     as qty
    from boundaries
    inner join closed_totals
        on closed_totals.account_uid = boundaries.account_uid
        and closed_totals.inst_type = boundaries.inst_type
        and closed_totals.inst_id = boundaries.inst_id
        and closed_totals.direction = boundaries.direction
    where boundaries.boundary <= closed_totals.total_closed

),

matched as (

    select
        pieces.account_uid,
        pieces.inst_type,
        pieces.inst_id,
        pieces.direction,
        pieces.boundary,
        pieces.qty,
        lots.lot_bill_id,
        lots.lot_at,
        lots.lot_px,
        lots.lot_qty,
        closes.close_bill_id,
        closes.closed_at,
        closes.close_px,
        closes.trip_no,
        closes.pnl_ccy
    from pieces
    asof join lots
        on lots.account_uid = pieces.account_uid
        and lots.inst_type = pieces.inst_type
        and lots.inst_id = pieces.inst_id
        and lots.direction = pieces.direction
        and pieces.boundary <= lots.cum_end
    asof join closes
        on closes.account_uid = pieces.account_uid
        and closes.inst_type = pieces.inst_type
        and closes.inst_id = pieces.inst_id
        and closes.direction = pieces.direction
        and pieces.boundary <= closes.cum_end

),

final as (

    select
        *,
        (case when direction = 'long' then close_px - lot_px else lot_px - close_px end)
            * qty                                                 as gross
    from matched

)

select * from final
