-- grain: one row per SPOT or MARGIN fill, with its FIFO book's position before and after
-- materialized: view
-- depends_on: journal_int.int_fills, journal_int.int_instrument_specs
-- A book is account_uid × inst_type × inst_id (SPOT and MARGIN books of one pair are
-- separate). signed_qty is the base quantity that moved: +sz on a buy, -sz on a sell,
-- plus the fee when it is charged in the base currency (negative, so a buy adds sz less
-- the fee). Fees in the quote (= P&L) currency count as they are, fees in the base
-- currency are valued at the fill price; any other fee currency is not valued
-- (event_fee 0, fee_unvalued true, reported in journal.reconciliation).
-- MARGIN positions are the running sum S of signed_qty and may go short. SPOT positions
-- never go below zero: a sell beyond the long position is "uncovered" (no cost basis in
-- the data) and its quantity is kept in uncovered_qty. The floored running sum is the
-- Lindley recursion pos_n = S_n - min(0, min_k<=n S_k).
-- Quantities and prices are DECIMAL(38,12). book_key (a 64-bit hash of the book) keeps
-- the window partitions cheap; journal.reconciliation checks it has no collision.
with fills as (

    select * from journal_int.int_fills
    where inst_type in ('SPOT', 'MARGIN')

),

specs as (

    select * from journal_int.int_instrument_specs

),

valued as (

    select
        fills.account_uid,
        fills.inst_type,
        fills.inst_id,
        'net'                                                     as pos_side,
        hash(fills.account_uid, fills.inst_type, fills.inst_id, 'net') as book_key,
        fills.bill_id,
        fills.bill_seq,
        fills.event_at,
        fills.side,
        fills.px,
        specs.pnl_ccy,
        case when fills.fee_ccy = specs.base_ccy and fills.fee <> 0 then
                 round(case when fills.side = 'buy' then fills.sz else -fills.sz end + fills.fee, 12)
             when fills.side = 'buy' then fills.sz
             else -fills.sz end                                   as signed_qty,
        case when fills.fee = 0 then cast(0 as decimal(38, 18))
             when fills.fee_ccy = specs.quote_ccy then fills.fee
             when fills.fee_ccy = specs.base_ccy then
                 round(fills.fee * fills.px, 18)
             else cast(0 as decimal(38, 18)) end                  as event_fee,
        fills.fee <> 0 and fills.fee_ccy is distinct from specs.quote_ccy
            and fills.fee_ccy is distinct from specs.base_ccy     as fee_unvalued
    from fills
    left join specs
        on specs.inst_type = fills.inst_type and specs.inst_id = fills.inst_id

),

cumulated as (

    select
        *,
        sum(signed_qty) over (
            partition by book_key order by event_at, bill_seq, bill_id
            rows between unbounded preceding and current row
        )                                                         as running_qty
    from valued

),

floored as (

    -- floor_before = min(0, min S over earlier fills); floor_after also counts this one
    select
        *,
        case when inst_type = 'SPOT'
             then least(cast(0 as decimal(38, 12)), coalesce(min(running_qty) over (
                      partition by book_key order by event_at, bill_seq, bill_id
                      rows between unbounded preceding and 1 preceding), 0))
             else cast(0 as decimal(38, 12)) end                  as floor_before
    from cumulated

),

bounded as (

    select
        *,
        case when inst_type = 'SPOT' then least(floor_before, running_qty)
             else cast(0 as decimal(38, 12)) end                  as floor_after
    from floored

),

final as (

    select
        account_uid,
        inst_type,
        inst_id,
        pos_side,
        book_key,
        bill_id,
        bill_seq,
        event_at,
        'fill'                                                    as event_source,
        'trade'                                                   as event_kind,
        'spot'                                                    as family,
        side,
        px,
        pnl_ccy,
        signed_qty,
        running_qty - signed_qty - floor_before                   as pos_before,
        running_qty - floor_after                                 as pos_after,
        floor_before - floor_after                                as uncovered_qty,
        cast(0 as decimal(38, 18))                                as event_gross,
        event_fee,
        fee_unvalued
    from bounded

)

select * from final
