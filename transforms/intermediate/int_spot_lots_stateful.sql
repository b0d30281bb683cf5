-- grain: one row per piece of a SPOT/MARGIN closing leg matched to one lot, under lifo, hifo or average cost
-- materialized: table
-- depends_on: journal_int.int_trip_legs, journal_staging.build_settings
-- Built only when the journal's cost basis is lifo, hifo or average (fifo: int_spot_lots_matched).
-- These methods depend on the path: which lots a sale takes depends on what earlier sales
-- left. A round trip runs from flat to flat, so the lots held at a sale are exactly the
-- trip's opening legs before it with quantity left: no method ever reaches into another
-- trip or takes a lot acquired after the sale.
-- lifo: the newest lot held first. The holding is then a stack of levels: a buy fills
-- the levels from the size before it to the size after it, a sale empties the levels
-- from the size after it to the size before it, and whoever holds a level at a sale is
-- the last buy before the sale that filled it. So lifo needs no walk: the trip's levels
-- are cut at every leg's sizes, and an ASOF join gives each piece of a sale the last lot
-- before it on that piece.
-- hifo: the highest lot price first, equal prices the older lot first; average (below).
-- A recursive CTE walks each round trip's closing legs in order (step k handles the k-th
-- close of every trip at once), carrying the remaining quantity of every lot of the
-- trip. Short books (MARGIN: a sell that opens a short position is a lot of
-- borrowed base, a buy closes it) follow the same rules on their lots' prices.
-- average: the sale takes from every lot held a share proportional to what is left of
-- it, so its cost is the weighted average cost of the whole holding. Shares are rounded
-- to 12 decimals (the quantities' scale) cumulatively in purchase order: with H held,
-- C_i what the lots up to lot i hold and q the sale, lot i gives
-- round(q × C_i / H) - round(q × C_(i-1) / H), so the shares add up to q exactly, and a
-- sale of the whole holding takes every lot whole. Costs and gross are exact DECIMAL:
-- gross = (close px - lot px) × qty for long lots, (lot px - close px) × qty for short.
-- Once a trip is flat, every method has taken every lot whole: gross P&L per trip is the
-- same under all methods.
with recursive settings as (

    select cost_basis from journal_staging.build_settings

),

legs as materialized (

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
        cast(legs.size_after as decimal(38, 12))                  as size_after,
        settings.cost_basis,
        dense_rank() over (
            order by legs.account_uid, legs.inst_type, legs.inst_id, legs.trip_no
        )                                                         as trip_key,
        row_number() over (
            partition by legs.account_uid, legs.inst_type, legs.inst_id, legs.trip_no
            order by legs.event_at, legs.bill_seq, legs.bill_id
        )                                                         as seq,
        count(*) filter (where legs.leg_kind = 'close') over (
            partition by legs.account_uid, legs.inst_type, legs.inst_id, legs.trip_no
            order by legs.event_at, legs.bill_seq, legs.bill_id
            rows between unbounded preceding and 1 preceding
        )                                                         as closes_before
    from journal_int.int_trip_legs as legs
    cross join settings
    where legs.family = 'spot' and legs.leg_kind in ('open', 'close')
        and settings.cost_basis in ('lifo', 'hifo', 'average')

),

lots as materialized (

    select
        trip_key,
        seq                                                       as lot_seq,
        bill_id                                                   as lot_bill_id,
        event_at                                                  as lot_at,
        px                                                        as lot_px,
        leg_qty                                                   as lot_qty,
        cost_basis,
        size_after                                                as lot_level_to,
        -- closes of the trip before this lot: it is held from close acquired_before + 1 on
        cast(closes_before as bigint)                             as acquired_before,
        -- the order a sale takes lots in (average: only the remainder's tie-break)
        row_number() over (
            partition by trip_key
            order by case when cost_basis = 'hifo' then px end desc nulls last,
                     case when cost_basis = 'lifo' then -seq else seq end
        )                                                         as prio
    from legs
    where leg_kind = 'open'

),

closes as materialized (

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
        -- what the trip holds before this close (the held lots add up to it)
        leg_qty + size_after                                      as held_qty,
        row_number() over (partition by trip_key order by seq)    as close_no
    from legs
    where leg_kind = 'close'

),

entering as materialized (

    -- what the state rows of step k (matching.close_no = k) become in step k + 1, on the
    -- key (trip_key, from_seq, step): a held lot carries itself (step -1); the trip's
    -- driver row (lot_seq 0) carries itself and brings in the lots bought between close
    -- k and close k + 1 (step k), so a lot enters the walk only once it is held
    select trip_key, lot_seq as from_seq, -1 as step, lot_seq, prio,
           cast(null as decimal(38, 12)) as fresh_qty
    from lots
    union all
    select trip_key, 0 as from_seq, acquired_before as step, lot_seq, prio, lot_qty
    from lots
    union all
    select trip_key, 0 as from_seq, close_no - 1 as step, 0 as lot_seq, 0 as prio,
           cast(0 as decimal(38, 12)) as fresh_qty
    from closes

),

matching (trip_key, close_no, lot_seq, prio, remaining, taken) as (

    -- one driver row per trip with a close; lots come in through it (lifo: no walk)
    select distinct
        trip_key,
        cast(0 as bigint),
        cast(0 as bigint),
        cast(0 as bigint),
        cast(0 as decimal(38, 12)),
        cast(0 as decimal(38, 12))
    from closes
    where cost_basis <> 'lifo'

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
                when close_qty = held_qty then remaining
                else
                    -- round(q × C_i / H) - round(q × C_(i-1) / H): telescopes to q
                    case when cum_held = held_qty then close_qty
                         else cast(cast(close_qty as double) * cast(cum_held as double)
                                   / cast(held_qty as double) as decimal(38, 12)) end
                    - cast(cast(close_qty as double) * cast(cum_held - remaining as double)
                           / cast(held_qty as double) as decimal(38, 12))
            end as decimal(38, 12))                               as taken
        from (

            select
                *,
                sum(case when held then remaining else 0 end) over (
                    partition by trip_key order by prio
                    rows between unbounded preceding and current row
                )                                                 as cum_held
            from (

                -- the big tables on the left, the step's rows on the right: the hash
                -- tables are built on the few rows of the step, not on closes and lots
                -- again at every step
                select
                    state.trip_key,
                    state.close_no,
                    entering.lot_seq,
                    entering.prio,
                    coalesce(entering.fresh_qty, state.remaining) as remaining,
                    state.close_qty,
                    state.held_qty,
                    state.cost_basis,
                    entering.lot_seq > 0                          as held
                from entering
                inner join (

                    select
                        matching.trip_key,
                        matching.lot_seq,
                        matching.remaining,
                        closes.close_no,
                        closes.close_qty,
                        closes.held_qty,
                        closes.cost_basis,
                        case when matching.lot_seq = 0
                             then matching.close_no else -1 end   as step
                    from closes
                    inner join matching
                        on closes.trip_key = matching.trip_key
                        and closes.close_no = matching.close_no + 1
                    where matching.remaining > 0 or matching.lot_seq = 0

                ) as state
                    on entering.trip_key = state.trip_key
                    and entering.from_seq = state.lot_seq
                    and entering.step = state.step

            ) as stepped

        ) as held_lots

    ) as taken_lots

),

-- lifo: the sizes every leg of a trip starts or ends at cut its levels into segments
lifo_cuts as (

    select trip_key, lot_level_to - lot_qty as level from lots where cost_basis = 'lifo'
    union
    select trip_key, lot_level_to from lots where cost_basis = 'lifo'
    union
    select trip_key, held_qty - close_qty from closes where cost_basis = 'lifo'
    union
    select trip_key, held_qty from closes where cost_basis = 'lifo'

),

lifo_segments as (

    select
        trip_key,
        level                                                     as level_from,
        lead(level) over (partition by trip_key order by level)   as level_to
    from lifo_cuts

),

lifo_filled as materialized (

    -- the segments each lot filled when it was bought
    select lots.trip_key, lots.lot_seq, segments.level_from
    from lots
    inner join lifo_segments as segments
        on segments.trip_key = lots.trip_key
        and segments.level_from >= lots.lot_level_to - lots.lot_qty
        and segments.level_to <= lots.lot_level_to
    where lots.cost_basis = 'lifo'

),

lifo_emptied as materialized (

    -- the segments each sale emptied
    select
        closes.trip_key,
        closes.close_no,
        closes.close_seq,
        segments.level_from,
        segments.level_to - segments.level_from                   as qty
    from closes
    inner join lifo_segments as segments
        on segments.trip_key = closes.trip_key
        and segments.level_from >= closes.held_qty - closes.close_qty
        and segments.level_to <= closes.held_qty
    where closes.cost_basis = 'lifo'

),

lifo_pieces as (

    -- each emptied segment came from the last lot before the sale that filled it
    select emptied.trip_key, emptied.close_no, filled.lot_seq, sum(emptied.qty) as qty
    from lifo_emptied as emptied
    asof join lifo_filled as filled
        on filled.trip_key = emptied.trip_key
        and filled.level_from = emptied.level_from
        and emptied.close_seq >= filled.lot_seq
    group by emptied.trip_key, emptied.close_no, filled.lot_seq

),

pieces as (

    select trip_key, close_no, lot_seq, taken as qty
    from matching
    where close_no > 0 and lot_seq > 0 and taken > 0
    union all
    select trip_key, close_no, lot_seq, cast(qty as decimal(38, 12)) as qty
    from lifo_pieces

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
