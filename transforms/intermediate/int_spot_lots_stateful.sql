-- grain: one row per piece of a SPOT/MARGIN closing leg matched to one lot, under lifo, hifo or average cost
-- materialized: table
-- depends_on: journal_int.int_trip_legs, journal_staging.build_settings
-- Built only when the journal's cost basis is lifo, hifo or average (fifo: int_spot_lots_matched).
-- These methods depend on the path: which lots a sale takes depends on what earlier sales
-- left. A recursive CTE walks each round trip's closing legs in order (step k handles the
-- k-th close of every trip at once), carrying the remaining quantity of every lot of the
-- trip. A round trip runs from flat to flat, so the lots held at a sale are exactly the
-- trip's opening legs before it with quantity left: no method ever reaches into another
-- trip or takes a lot acquired after the sale.
-- lifo: the newest lot held first. hifo: the highest lot price first, equal prices the
-- older lot first. Short books (MARGIN: a sell that opens a short position is a lot of
-- borrowed base, a buy closes it) follow the same rules on their lots' prices.
-- average: the sale takes from every lot held a share proportional to its remaining
-- quantity, so its cost is the weighted average cost of the whole holding. Shares are
-- rounded to 12 decimals (the quantities' scale); the held lot with the most left (then
-- the newest) takes the rounding remainder, so the shares add up to the sale exactly, and
-- a sale of the whole holding takes every lot whole. Costs and gross are exact DECIMAL:
-- gross = (close px - lot px) × qty for long lots, (lot px - close px) × qty for short.
-- Once a trip is flat, every method has taken every lot whole: gross P&L per trip is the
-- same under all methods.
with recursive settings as (

    select cost_basis from journal_staging.build_settings

),

legs as (

    select
        legs.account_uid,
        legs.inst_type,
        legs.inst_id,
        legs.trip_no,
        legs.direction,
        legs.leg_kind,
        legs.bill_id,
        legs.event_at,
        legs.px,
        legs.pnl_ccy,
        cast(legs.leg_qty as decimal(38, 12))                     as leg_qty,
        settings.cost_basis,
        dense_rank() over (
            order by legs.account_uid, legs.inst_type, legs.inst_id, legs.trip_no
        )                                                         as trip_key,
        row_number() over (
            partition by legs.account_uid, legs.inst_type, legs.inst_id, legs.trip_no
            order by legs.event_at, legs.bill_seq, legs.bill_id
        )                                                         as seq
    from journal_int.int_trip_legs as legs
    cross join settings
    where legs.family = 'spot' and legs.leg_kind in ('open', 'close')
        and settings.cost_basis in ('lifo', 'hifo', 'average')

),

lots as (

    select
        trip_key,
        seq                                                       as lot_seq,
        bill_id                                                   as lot_bill_id,
        event_at                                                  as lot_at,
        px                                                        as lot_px,
        leg_qty                                                   as lot_qty,
        -- the order a sale takes lots in (average: only the remainder's tie-break)
        row_number() over (
            partition by trip_key
            order by case when cost_basis = 'hifo' then px end desc nulls last,
                     case when cost_basis = 'lifo' then -seq else seq end
        )                                                         as prio
    from legs
    where leg_kind = 'open'

),

closes as (

    select
        trip_key,
        account_uid,
        inst_type,
        inst_id,
        trip_no,
        direction,
        pnl_ccy,
        cost_basis,
        seq                                                       as close_seq,
        bill_id                                                   as close_bill_id,
        event_at                                                  as closed_at,
        px                                                        as close_px,
        leg_qty                                                   as close_qty,
        row_number() over (partition by trip_key order by seq)    as close_no
    from legs
    where leg_kind = 'close'

),

matching (trip_key, close_no, lot_seq, prio, remaining, taken) as (

    -- before the first close: every lot of a trip that has one, whole
    select
        lots.trip_key,
        cast(0 as bigint),
        lots.lot_seq,
        lots.prio,
        lots.lot_qty,
        cast(0 as decimal(38, 12))
    from lots
    where lots.trip_key in (select trip_key from closes)

    union all

    -- close k + 1 of each trip takes from the lots held at its time
    select
        trip_key,
        close_no,
        lot_seq,
        prio,
        cast(remaining - taken as decimal(38, 12)),
        taken
    from (

        select
            trip_key,
            close_no,
            lot_seq,
            prio,
            remaining,
            cast(case
                when not held then 0
                when cost_basis <> 'average' then
                    greatest(0, least(remaining, close_qty - (cum_held - remaining)))
                when close_qty = total_held then remaining
                when takes_remainder then
                    close_qty - (sum(share) over (partition by trip_key) - share)
                else share
            end as decimal(38, 12))                               as taken
        from (

            select
                *,
                case when held then cast(
                    cast(close_qty as double) * cast(remaining as double)
                    / cast(total_held as double) as decimal(38, 12))
                    else cast(0 as decimal(38, 12)) end           as share,
                held and row_number() over (
                    partition by trip_key
                    order by held desc, remaining desc, lot_seq desc
                ) = 1                                             as takes_remainder
            from (

                select
                    matching.trip_key,
                    closes.close_no,
                    matching.lot_seq,
                    matching.prio,
                    matching.remaining,
                    closes.close_qty,
                    closes.cost_basis,
                    matching.lot_seq < closes.close_seq           as held,
                    sum(case when matching.lot_seq < closes.close_seq
                             then matching.remaining else 0 end) over (
                        partition by matching.trip_key order by matching.prio
                        rows between unbounded preceding and current row
                    )                                             as cum_held,
                    sum(case when matching.lot_seq < closes.close_seq
                             then matching.remaining else 0 end) over (
                        partition by matching.trip_key
                    )                                             as total_held
                from matching
                inner join closes
                    on closes.trip_key = matching.trip_key
                    and closes.close_no = matching.close_no + 1
                where matching.remaining > 0

            ) as held_lots

        ) as shared

    ) as taken_lots

),

pieces as (

    select trip_key, close_no, lot_seq, taken as qty
    from matching
    where close_no > 0 and taken > 0

),

final as (

    select
        closes.account_uid,
        closes.inst_type,
        closes.inst_id,
        closes.direction,
        pieces.qty,
        lots.lot_bill_id,
        lots.lot_at,
        lots.lot_px,
        lots.lot_qty,
        closes.close_bill_id,
        closes.closed_at,
        closes.close_px,
        closes.trip_no,
        closes.pnl_ccy,
        (case when closes.direction = 'long' then closes.close_px - lots.lot_px
              else lots.lot_px - closes.close_px end) * pieces.qty as gross
    from pieces
    inner join closes
        on closes.trip_key = pieces.trip_key and closes.close_no = pieces.close_no
    inner join lots
        on lots.trip_key = pieces.trip_key and lots.lot_seq = pieces.lot_seq

)

select * from final
