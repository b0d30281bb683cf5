-- grain: one row per event × leg: the part of an event that closes its round trip
-- ('close'), opens or grows one ('open'), touches an open trip without moving it
-- ('adjust', e.g. a daily settlement), or belongs to no trip ('uncovered': a SPOT sell
-- beyond the FIFO book; 'outside': an event while flat)
-- materialized: view
-- depends_on: journal_int.int_book_events
-- Money is split so that the legs of an event add up to the event exactly:
-- event_gross (fill_pnl / bill pnl) goes whole to the close leg, else the open leg, else
-- the other leg. The fee of an event with several legs (a flip, a partly uncovered sell)
-- is split by quantity, rounded to 10 decimals; the last leg takes the remainder.
-- A round trip is identified by its book (account_uid, inst_type, inst_id, pos_side) and
-- trip_no; journal.round_trips spells it as round_trip_id = 'account:type:inst:side:no'.
with events as (

    select * from journal_int.int_book_events

),

shares as (

    select
        *,
        close_qty + open_qty + uncovered_qty                      as total_qty,
        case when close_qty = 0 then cast(0 as decimal(38, 18))
             when open_qty = 0 and uncovered_qty = 0 then event_fee
             else cast(cast(cast(event_fee as double) * cast(close_qty as double)
                            / cast(close_qty + open_qty + uncovered_qty as double)
                            as decimal(38, 10)) as decimal(38, 18))
             end                                                  as close_fee
    from events

),

shares_open as (

    select
        *,
        case when open_qty = 0 then cast(0 as decimal(38, 18))
             when uncovered_qty = 0 then event_fee - close_fee
             else cast(cast(cast(event_fee as double) * cast(open_qty as double)
                            / cast(total_qty as double)
                            as decimal(38, 10)) as decimal(38, 18))
             end                                                  as open_fee
    from shares

),

close_legs as (

    select
        *,
        'close'                                                   as leg_kind,
        trip_before                                               as trip_no,
        case when pos_before > 0 then 'long' else 'short' end     as direction,
        close_qty                                                 as leg_qty,
        case when is_flip then cast(0 as decimal(38, 12)) else abs(pos_after) end as size_after,
        event_gross                                               as gross,
        close_fee                                                 as fee
    from shares_open
    where close_qty > 0

),

open_legs as (

    select
        *,
        'open'                                                    as leg_kind,
        trip_after                                                as trip_no,
        case when pos_after > 0 then 'long' else 'short' end      as direction,
        open_qty                                                  as leg_qty,
        abs(pos_after)                                            as size_after,
        case when close_qty > 0 then cast(0 as decimal(38, 18)) else event_gross end as gross,
        open_fee                                                  as fee
    from shares_open
    where open_qty > 0

),

other_legs as (

    select
        *,
        case when uncovered_qty > 0 then 'uncovered'
             when pos_before <> 0 then 'adjust'
             else 'outside' end                                   as leg_kind,
        case when uncovered_qty = 0 and pos_before <> 0 then trip_before end as trip_no,
        case when uncovered_qty = 0 and pos_before > 0 then 'long'
             when uncovered_qty = 0 and pos_before < 0 then 'short' end as direction,
        uncovered_qty                                             as leg_qty,
        abs(pos_after)                                            as size_after,
        case when close_qty > 0 or open_qty > 0 then cast(0 as decimal(38, 18))
             else event_gross end                                 as gross,
        event_fee - close_fee - open_fee                          as fee
    from shares_open
    where uncovered_qty > 0 or (close_qty = 0 and open_qty = 0)

),

legs as (

    select * from close_legs
    union all
    select * from open_legs
    union all
    select * from other_legs

),

final as (

    select
        account_uid,
        inst_type,
        inst_id,
        pos_side,
        cast(trip_no as bigint)                                   as trip_no,
        direction,
        family,
        bill_id,
        bill_seq,
        event_at,
        event_source,
        event_kind,
        side,
        px,
        pnl_ccy,
        leg_kind,
        leg_qty,
        size_after,
        gross,
        fee,
        fee_unvalued
    from legs

)

select * from final
