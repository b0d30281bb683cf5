-- grain: one row per trade rebuilt from trade bills (account_uid, bill_id) that has no fill in okx_raw.fills
-- materialized: table
-- depends_on: journal_staging.stg_okx__bills, journal_staging.stg_okx__fills, journal_int.int_instrument_specs
-- OKX keeps fills for 3 months or 1 year (fills-history) but the ledger back to 2021 (quarterly
-- export): older trades exist only as trade bills (type 2, and 14 block trades, whose
-- fills OKX lists too; bill_type is inferred from sub_type for export rows). Each trade
-- is rebuilt as the fill OKX would have listed, with the columns of stg_okx__fills:
-- * SPOT/MARGIN: two bills, one per currency leg, with the same ord_id, trade_id and
--   sub_type (1 buy, 2 sell; 204/205 block buy/sell); each leg's sz is the gross amount
--   in its ccy, px the fill price, the fee only on the leg that is charged. One fill:
--   fill_sz = the base leg's sz (base = the instrument's base_ccy, from instruments or
--   parsed from inst_id), fill_px = px, fee and fee_ccy from the leg with a non-zero fee
--   (no fee: fee 0, fee_ccy = the currency received: base on a buy, quote on a sell).
--   bill_id = the base leg's bill id (OKX's and the simulator's convention: a fill's
--   billId is its base-currency leg; the quote leg is other_leg_bill_id). A trade whose
--   base leg is not in the data is not rebuilt (its base quantity is unknown).
--   Legs with a fee on both sides (not seen in OKX data) keep the fee of the currency
--   received only.
-- * SWAP/FUTURES/OPTION: one bill in the settle currency: fill_sz = sz (contracts),
--   fill_pnl = the bill's pnl, fee = its fee, fee_ccy = its ccy. Side and pos_side from
--   sub_type: 1 buy / 2 sell (net); 3 open long = buy/long; 4 open short = sell/short;
--   5 close long = sell/long; 6 close short = buy/short (block trades 204-209 alike).
-- P&L comes from pnl and fee only, never from bal_chg (in isolated margin bal_chg also
-- carries the margin moved into and out of the position).
-- The seam: a trade is counted once. A rebuilt trade is dropped when okx_raw.fills holds
-- the same trade: same (account_uid, inst_id, ord_id, trade_id), or a fill whose
-- bill_id is the trade's bill id (either leg's for SPOT/MARGIN). Liquidation (type 5)
-- and ADL (type 9) bills are not rebuilt here: int_derivative_book_events turns those
-- without a fill into position events.
with bills as (

    select * from journal_staging.stg_okx__bills
    where bill_type in ('2', '14')
      and inst_type in ('SPOT', 'MARGIN', 'SWAP', 'FUTURES', 'OPTION')
      and inst_id is not null

),

fills as (

    select account_uid, bill_id, inst_id, ord_id, trade_id
    from journal_staging.stg_okx__fills

),

specs as (

    select * from journal_int.int_instrument_specs

),

spot_legs as (

    select
        bills.*,
        bills.ccy = coalesce(specs.base_ccy, split_part(bills.inst_id, '-', 1)) as is_base_leg,
        coalesce(specs.quote_ccy, split_part(split_part(bills.inst_id, '-', 2), '_', 1))
                                                                  as quote_ccy,
        coalesce(trade_id, 'ts ' || cast(epoch_ms(event_at) as varchar)) as trade_key
    from bills
    left join specs
        on specs.inst_type = bills.inst_type and specs.inst_id = bills.inst_id
    where bills.inst_type in ('SPOT', 'MARGIN')

),

spot_grouped as (

    select
        account_uid,
        inst_type,
        inst_id,
        ord_id,
        trade_key,
        sub_type,
        count(*) filter (where is_base_leg)                       as base_legs,
        any_value(bill_id) filter (where is_base_leg)             as bill_id,
        any_value(bill_id) filter (where not is_base_leg)         as other_leg_bill_id,
        any_value(ccy) filter (where is_base_leg)                 as base_ccy,
        any_value(quote_ccy)                                      as quote_ccy,
        any_value(sz) filter (where is_base_leg)                  as base_sz,
        coalesce(any_value(px) filter (where is_base_leg), any_value(px)) as fill_px,
        any_value(fee) filter (where is_base_leg)                 as base_fee,
        any_value(fee) filter (where not is_base_leg)             as quote_fee,
        any_value(trade_id)                                       as trade_id,
        any_value(exec_type)                                      as exec_type,
        min(event_at)                                             as ts,
        min(fill_time)                                            as fill_time,
        any_value(bill_type)                                      as bill_type
    from spot_legs
    group by account_uid, inst_type, inst_id, ord_id, trade_key, sub_type

),

spot_trades as (

    select
        account_uid,
        bill_id,
        other_leg_bill_id,
        bill_type,
        inst_type,
        inst_id,
        trade_id,
        ord_id,
        sub_type,
        case when sub_type in ('1', '204') then 'buy' else 'sell' end as side,
        'net'                                                     as pos_side,
        exec_type,
        fill_px,
        base_sz                                                   as fill_sz,
        cast(0 as decimal(38, 18))                                as fill_pnl,
        -- the fee of the received currency's leg when both carry one, else the non-zero one
        case when sub_type in ('1', '204') and coalesce(base_fee, 0) <> 0 then base_fee
             when sub_type in ('2', '205') and coalesce(quote_fee, 0) <> 0 then quote_fee
             when coalesce(base_fee, 0) <> 0 then base_fee
             when coalesce(quote_fee, 0) <> 0 then quote_fee
             else cast(0 as decimal(38, 18)) end                  as fee,
        case when sub_type in ('1', '204') and coalesce(base_fee, 0) <> 0 then base_ccy
             when sub_type in ('2', '205') and coalesce(quote_fee, 0) <> 0 then quote_ccy
             when coalesce(base_fee, 0) <> 0 then base_ccy
             when coalesce(quote_fee, 0) <> 0 then quote_ccy
             when sub_type in ('1', '204') then base_ccy
             else quote_ccy end                                   as fee_ccy,
        ts,
        fill_time
    from spot_grouped
    where base_legs = 1 and sub_type in ('1', '2', '204', '205')

),

derivative_trades as (

    select
        account_uid,
        bill_id,
        cast(null as varchar)                                     as other_leg_bill_id,
        bill_type,
        inst_type,
        inst_id,
        trade_id,
        ord_id,
        sub_type,
        case when sub_type in ('1', '3', '6', '204', '206', '209') then 'buy'
             when sub_type in ('2', '4', '5', '205', '207', '208') then 'sell' end as side,
        case when sub_type in ('3', '5', '206', '208') then 'long'
             when sub_type in ('4', '6', '207', '209') then 'short'
             else 'net' end                                       as pos_side,
        exec_type,
        px                                                        as fill_px,
        sz                                                        as fill_sz,
        pnl                                                       as fill_pnl,
        fee,
        ccy                                                       as fee_ccy,
        event_at                                                  as ts,
        fill_time
    from bills
    where inst_type in ('SWAP', 'FUTURES', 'OPTION')
      and sub_type in ('1', '2', '3', '4', '5', '6', '204', '205', '206', '207', '208', '209')

),

rebuilt as (

    select * from spot_trades
    union all
    select * from derivative_trades

),

unmatched as (

    select rebuilt.*
    from rebuilt
    where not exists (
              select 1 from fills
              where fills.account_uid = rebuilt.account_uid and fills.bill_id = rebuilt.bill_id)
      and not exists (
              select 1 from fills
              where fills.account_uid = rebuilt.account_uid
                and fills.bill_id = rebuilt.other_leg_bill_id)
      and not exists (
              select 1 from fills
              where fills.account_uid = rebuilt.account_uid
                and fills.inst_id = rebuilt.inst_id
                and fills.trade_id = rebuilt.trade_id
                and fills.ord_id is not distinct from rebuilt.ord_id)

),

final as (

    select
        account_uid,
        bill_id,
        try_cast(bill_id as ubigint)                              as bill_seq,
        inst_type,
        inst_id,
        trade_id,
        ord_id,
        sub_type,
        side,
        pos_side,
        exec_type,
        cast(fill_px as decimal(38, 18))                          as fill_px,
        cast(fill_sz as decimal(38, 18))                          as fill_sz,
        round(cast(fill_px as decimal(38, 18)), 12)               as px,
        round(cast(fill_sz as decimal(38, 18)), 12)               as sz,
        cast(fill_pnl as decimal(38, 18))                         as fill_pnl,
        cast(null as decimal(38, 18))                             as fill_idx_px,
        cast(null as decimal(38, 18))                             as fill_mark_px,
        cast(fee as decimal(38, 18))                              as fee,
        fee_ccy,
        cast(null as decimal(38, 18))                             as fee_rate,
        ts,
        fill_time,
        coalesce(fill_time, ts)                                   as filled_at,
        coalesce(ts, fill_time)                                   as event_at,
        other_leg_bill_id,
        bill_type
    from unmatched

)

select * from final
