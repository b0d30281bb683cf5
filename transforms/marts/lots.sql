-- grain: one row per disposal × lot it consumed: a SPOT/MARGIN closing fill and one lot it took quantity from
-- materialized: table
-- depends_on: journal_int.int_spot_lots
-- description: The cost-basis audit trail of SPOT and MARGIN: every closing fill (a sell of a long book, a buy that covers a short MARGIN book) with each lot it consumed under the journal's cost basis (cost_basis: fifo, lifo, hifo or average), the lot's opening fill, date, price and quantity, the quantity taken, its cost, proceeds and gross P&L. Σ gross_pnl of one closing fill is that fill's gross_pnl in journal.fills (which rounds to 18 decimals). A sell not covered by earlier buys has no lot and appears in journal.reconciliation instead.
-- column direction: long (lots bought, closed by sells) or short (MARGIN: lots of borrowed base sold, closed by buys)
-- column round_trip_id: the round trip the closing fill belongs to (journal.round_trips)
-- column close_bill_id: bill_id of the closing fill (the disposal)
-- column closed_at: time of the closing fill (UTC)
-- column close_px: price of the closing fill
-- column lot_bill_id: bill_id of the fill that opened the lot (the acquisition; short books: the opening sell)
-- column lot_opened_at: time of the lot's opening fill (UTC)
-- column lot_px: price of the lot (per unit of base)
-- column lot_qty: base quantity of the whole lot (a buy: fill_sz less a fee charged in base)
-- column qty: base quantity this closing fill took from this lot
-- column cost: what the quantity cost: lot_px × qty (short: close_px × qty, the buy-back)
-- column proceeds: what the quantity brought: close_px × qty (short: lot_px × qty, the short sale)
-- column gross_pnl: proceeds - cost, exact (24 decimals)
-- column cost_basis: the method that chose the lots: fifo, lifo, hifo or average (average: a share of every lot held, proportional to what is left of it)
with lots as (

    select * from journal_int.int_spot_lots

),

final as (

    select
        account_uid,
        inst_type,
        inst_id,
        direction,
        account_uid || ':' || inst_type || ':' || inst_id || ':net:'
            || cast(trip_no as varchar)                           as round_trip_id,
        close_bill_id,
        closed_at,
        close_px,
        lot_bill_id,
        lot_at                                                    as lot_opened_at,
        lot_px,
        lot_qty,
        qty,
        case when direction = 'long' then lot_px * qty else close_px * qty end as cost,
        case when direction = 'long' then close_px * qty else lot_px * qty end as proceeds,
        gross                                                     as gross_pnl,
        pnl_ccy,
        cost_basis
    from lots

)

select * from final
