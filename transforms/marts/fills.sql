-- grain: one row per fill (account_uid, bill_id), including trades rebuilt from trade bills where OKX no longer lists the fill
-- materialized: table
-- depends_on: journal_int.int_fills, journal_int.int_book_events, journal_int.int_leg_pnl, journal_int.int_usd_rates
-- description: One row per OKX fill (account_uid, bill_id), as OKX reported it (source 'fills'), or rebuilt from the trade's bills where the fill is older than OKX's fills history (source 'bills'; a SPOT/MARGIN trade's bill_id is its base-currency leg), plus its realised P&L in the P&L currency (FIFO for SPOT/MARGIN, OKX fill_pnl for derivatives) and the round trip it belongs to.
-- column bill_id: OKX bill id of the fill (unique per account); for a SPOT/MARGIN trade rebuilt from bills: the base-currency leg's bill
-- column source: fills (okx_raw.fills) or bills (rebuilt from trade bills: no fill in the data for that trade)
-- column fill_px: fill price as OKX sent it (inverse contracts: USD; options: in coin)
-- column fill_sz: fill size: base currency for SPOT/MARGIN, contracts for derivatives
-- column fee: fee as OKX sent it, in fee_ccy; negative = charged, positive = rebate
-- column fill_pnl: OKX realised P&L of a closing derivative fill (0 for SPOT/MARGIN and opening fills)
-- column filled_at: trade time (OKX fillTime), UTC
-- column is_liquidation: a liquidation fill (sub_type 100-107 or negative trade_id)
-- column pnl_ccy: currency of gross_pnl, fee_pnl_ccy and net_pnl: quote ccy for SPOT/MARGIN, settle ccy for derivatives
-- column fee_pnl_ccy: the fee in pnl_ccy (base-currency fees valued at fill_px; liquidation fills: the liquidation bill's fee incl. penalty)
-- column fee_unvalued: the fee is in a currency that is neither base nor quote: left out of P&L (see journal.reconciliation)
-- column gross_pnl: realised gross P&L of this fill in pnl_ccy
-- column net_pnl: gross_pnl + fee_pnl_ccy
-- column uncovered_sz: SPOT sell quantity not covered by earlier buys in the data (no cost basis; see journal.reconciliation)
-- column round_trip_id: round trip this fill closes (or opens, when it closes none)
-- column next_round_trip_id: for a fill that flips the position: the round trip its remainder opens
-- column usd_price: USD price of one unit of pnl_ccy at the fill (open of OKX's hourly index bar of filled_at; 1 for USD and for a stablecoin OKX has no index for); NULL without a price
-- column fee_usd_price: USD price of one unit of fee_ccy at the fill (idem)
-- column fee_usd: fee in USD (fee × fee_usd_price)
-- column fill_pnl_usd: fill_pnl in USD (× usd_price)
-- column fee_pnl_ccy_usd: fee_pnl_ccy in USD (× usd_price)
-- column gross_pnl_usd: gross_pnl in USD (× usd_price)
-- column net_pnl_usd: gross_pnl_usd + fee_pnl_ccy_usd
with fills as (

    select * from journal_int.int_fills

),

events as (

    select * from journal_int.int_book_events
    where event_source = 'fill'

),

fifo_gross as (

    -- SPOT/MARGIN: the FIFO gross of the close leg (the only leg with gross)
    select account_uid, bill_id, gross
    from journal_int.int_leg_pnl
    where family = 'spot' and leg_kind = 'close'

),

final as (

    select
        fills.bill_id,
        fills.account_uid,
        fills.inst_type,
        fills.inst_id,
        fills.side,
        fills.pos_side,
        fills.fill_px,
        fills.fill_sz,
        fills.fee,
        fills.fee_ccy,
        fills.fill_pnl,
        fills.filled_at,
        fills.trade_id,
        fills.ord_id,
        fills.sub_type,
        fills.exec_type,
        fills.source,
        fills.sub_type in ('100', '101', '102', '103', '104', '105', '106', '107')
            or starts_with(coalesce(fills.trade_id, ''), '-')     as is_liquidation,
        events.pnl_ccy,
        coalesce(events.event_fee, 0)                             as fee_pnl_ccy,
        coalesce(events.fee_unvalued, false)                      as fee_unvalued,
        coalesce(events.event_gross, 0) + coalesce(fifo_gross.gross, 0) as gross_pnl,
        coalesce(events.event_gross, 0) + coalesce(fifo_gross.gross, 0)
            + coalesce(events.event_fee, 0)                       as net_pnl,
        coalesce(events.uncovered_qty, 0)                         as uncovered_sz,
        events.account_uid || ':' || events.inst_type || ':' || events.inst_id || ':'
            || events.pos_side || ':'
            || cast(case when events.close_qty > 0 then events.trip_before
                         when events.open_qty > 0 then events.trip_after
                         when events.pos_before <> 0 then events.trip_before
                         end as varchar)                          as round_trip_id,
        case when events.is_flip then
            events.account_uid || ':' || events.inst_type || ':' || events.inst_id || ':'
            || events.pos_side || ':' || cast(events.trip_after as varchar) end as next_round_trip_id
    from fills
    left join events
        on events.account_uid = fills.account_uid and events.bill_id = fills.bill_id
    left join fifo_gross
        on fifo_gross.account_uid = fills.account_uid and fifo_gross.bill_id = fills.bill_id

),

-- USD at the hour of the fill (amount rounded to 12 decimals × price, 18 decimals kept)
priced as (

    select
        final.*,
        pnl_rate.usd_price,
        fee_rate.usd_price                                        as fee_usd_price
    from final
    left join journal_int.int_usd_rates as pnl_rate
        on pnl_rate.ccy = final.pnl_ccy
        and pnl_rate.hour_utc = date_trunc('hour', timezone('UTC', final.filled_at))
    left join journal_int.int_usd_rates as fee_rate
        on fee_rate.ccy = final.fee_ccy
        and fee_rate.hour_utc = date_trunc('hour', timezone('UTC', final.filled_at))

),

with_usd as (

    select
        *,
        cast(cast(fee as decimal(38, 12))
             * cast(fee_usd_price as decimal(24, 12)) as decimal(38, 18)) as fee_usd,
        cast(cast(fill_pnl as decimal(38, 12))
             * cast(usd_price as decimal(24, 12)) as decimal(38, 18))     as fill_pnl_usd,
        cast(cast(fee_pnl_ccy as decimal(38, 12))
             * cast(usd_price as decimal(24, 12)) as decimal(38, 18))     as fee_pnl_ccy_usd,
        cast(cast(gross_pnl as decimal(38, 12))
             * cast(usd_price as decimal(24, 12)) as decimal(38, 18))     as gross_pnl_usd,
        cast(cast(gross_pnl as decimal(38, 12))
             * cast(usd_price as decimal(24, 12)) as decimal(38, 18))
            + cast(cast(fee_pnl_ccy as decimal(38, 12))
                   * cast(usd_price as decimal(24, 12)) as decimal(38, 18)) as net_pnl_usd
    from priced

)

select * from with_usd
