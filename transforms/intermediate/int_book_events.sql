-- grain: one row per position event of every book (SPOT/MARGIN fills, derivative fills
-- and position bills), numbered into round trips
-- materialized: table
-- depends_on: journal_int.int_spot_book_events, journal_int.int_derivative_book_events
-- A round trip runs from flat to flat. trip_after counts the trips started up to and
-- including this event; an event starts one when it moves the book off zero or flips its
-- sign (a flip closes trip_before and opens trip_after = trip_before + 1).
-- close_qty / open_qty: how much of the event reduced the position it found / opened
-- or increased the position it left (absolute quantities).
with spot_events as (

    select * from journal_int.int_spot_book_events

),

derivative_events as (

    select * from journal_int.int_derivative_book_events

),

events as (

    select * from spot_events
    union all by name
    select * from derivative_events

),

flagged as (

    select
        *,
        (pos_before = 0 and pos_after <> 0)
            or (pos_before > 0 and pos_after < 0)
            or (pos_before < 0 and pos_after > 0)                 as starts_trip,
        (pos_before > 0 and pos_after < 0)
            or (pos_before < 0 and pos_after > 0)                 as is_flip
    from events

),

numbered as (

    select
        *,
        -- a count as a DOUBLE sum: exact for integers, and the fastest window aggregate
        cast(sum(case when starts_trip then 1.0 else 0.0 end :: double) over (
            partition by book_key order by event_at, bill_seq, bill_id
            rows between unbounded preceding and current row
        ) as bigint)                                              as trip_after
    from flagged

),

final as (

    select
        *,
        trip_after - case when starts_trip then 1 else 0 end      as trip_before,
        case when pos_before = 0 then cast(0 as decimal(38, 12))
             when is_flip or pos_after = 0 then abs(pos_before)
             when abs(pos_after) < abs(pos_before) then abs(pos_before) - abs(pos_after)
             else cast(0 as decimal(38, 12)) end                  as close_qty,
        case when is_flip then abs(pos_after)
             when abs(pos_after) > abs(pos_before) then abs(pos_after) - abs(pos_before)
             else cast(0 as decimal(38, 12)) end                  as open_qty
    from numbered

)

select * from final
