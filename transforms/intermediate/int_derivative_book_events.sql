-- grain: one row per SWAP/FUTURES/OPTION position event: a fill, or a bill that changes
-- a position without a fill (delivery, exercise, expiry, daily settlement, and a
-- liquidation or ADL bill whose fill is not in the data)
-- materialized: view
-- depends_on: journal_int.int_fills, journal_staging.stg_okx__bills, journal_int.int_instrument_specs
-- A book is account_uid × inst_type × inst_id × pos_side (hedge mode: long and short
-- books; net mode: one book). signed_qty is in contracts, + for buys, - for sells.
-- event_gross: fill_pnl of the fill, or the bill's pnl for bill events. A liquidation or
-- ADL fill shares its bill_id with a type 5 / 9 bill: its P&L is counted once (from the
-- fill), and its fee is the bill's fee (the liquidation penalty the ledger charged).
-- Bills carry no pos_side: a bill event goes to the net book when the instrument's last
-- fill before it was in net mode, else to the long or short book its sub_type names
-- (112/170/100/104/125 long; 113/171/101/105/126 short). Delivery, exercise and expiry
-- close the whole position (signed_qty = -pos_before); settlement (355) moves none.
-- Fills are journal_int.int_fills: OKX's fills and the trades rebuilt from trade bills
-- where the fill is gone (type 2/14 only; a type 5/9 bill without a fill stays a bill
-- event here, so a liquidation or ADL is counted once either way).
-- Quantities (contracts) and prices are DECIMAL(38,12).
with fills as (

    select * from journal_int.int_fills
    where inst_type in ('SWAP', 'FUTURES', 'OPTION')

),

bills as (

    select * from journal_staging.stg_okx__bills
    where inst_type in ('SWAP', 'FUTURES', 'OPTION')

),

specs as (

    select * from journal_int.int_instrument_specs

),

forced_bills as (

    select account_uid, bill_id, bill_type, fee
    from bills
    where bill_type in ('5', '9')

),

fill_events as (

    select
        fills.account_uid,
        fills.inst_type,
        fills.inst_id,
        fills.pos_side,
        fills.bill_id,
        fills.bill_seq,
        fills.event_at,
        'fill'                                                    as event_source,
        case forced_bills.bill_type when '5' then 'liquidation'
                                    when '9' then 'adl'
                                    else 'trade' end              as event_kind,
        fills.side,
        fills.px,
        case when fills.side = 'buy' then fills.sz else -fills.sz end as signed_qty,
        false                                                     as closes_to_flat,
        fills.fill_pnl                                            as event_gross,
        coalesce(forced_bills.fee, fills.fee)                     as event_fee
    from fills
    left join forced_bills
        on forced_bills.account_uid = fills.account_uid and forced_bills.bill_id = fills.bill_id

),

event_bills as (

    select bills.*
    from bills
    left join fills
        on fills.account_uid = bills.account_uid and fills.bill_id = bills.bill_id
    where fills.bill_id is null
      and (bills.bill_type in ('3', '5', '9') or bills.sub_type = '355')

),

bill_events as (

    select
        event_bills.account_uid,
        event_bills.inst_type,
        event_bills.inst_id,
        case when last_fill.pos_side = 'net' then 'net'
             when event_bills.sub_type in ('100', '104', '112', '125', '170') then 'long'
             when event_bills.sub_type in ('101', '105', '113', '126', '171') then 'short'
             else coalesce(last_fill.pos_side, 'net') end         as pos_side,
        event_bills.bill_id,
        event_bills.bill_seq,
        event_bills.event_at,
        'bill'                                                    as event_source,
        case when event_bills.sub_type = '355' then 'settlement'
             when event_bills.bill_type = '5' then 'liquidation'
             when event_bills.bill_type = '9' then 'adl'
             when event_bills.sub_type in ('170', '171') then 'exercise'
             when event_bills.sub_type = '172' then 'expiry'
             else 'delivery' end                                  as event_kind,
        case when event_bills.sub_type in ('102', '106', '127', '101', '105', '126') then 'buy'
             when event_bills.sub_type in ('103', '107', '128', '100', '104', '125') then 'sell'
             end                                                  as side,
        -- expiry worthless: the position is worth 0; an exercise's settlement value per
        -- contract is not in the bill: no price
        case when event_bills.sub_type = '172' then cast(0 as decimal(38, 12))
             when event_bills.sub_type in ('170', '171') then null
             else cast(event_bills.px as decimal(38, 12)) end     as px,
        cast(case when event_bills.sub_type = '355' then 0
                  when event_bills.sub_type in ('102', '106', '127', '101', '105', '126')
                      then coalesce(event_bills.sz, 0)
                  when event_bills.sub_type in ('103', '107', '128', '100', '104', '125')
                      then -coalesce(event_bills.sz, 0)
                  end as decimal(38, 12))                         as signed_qty,
        event_bills.bill_type = '3'
            or (event_bills.sub_type is distinct from '355' and event_bills.sub_type not in (
                '100', '101', '102', '103', '104', '105', '106', '107',
                '125', '126', '127', '128'))                      as closes_to_flat,
        event_bills.pnl                                           as event_gross,
        event_bills.fee                                           as event_fee
    from event_bills
    asof left join fills as last_fill
        on last_fill.account_uid = event_bills.account_uid
        and last_fill.inst_type = event_bills.inst_type
        and last_fill.inst_id = event_bills.inst_id
        and event_bills.event_at >= last_fill.event_at

),

events as (

    select * from fill_events
    union all
    select * from bill_events

),

segmented as (

    -- closes_to_flat events start a new segment after themselves
    select
        *,
        -- a count as a DOUBLE sum: exact for integers, and the fastest window aggregate
        cast(sum(case when closes_to_flat then 1.0 else 0.0 end :: double) over (
            partition by book_key order by event_at, bill_seq, bill_id
            rows between unbounded preceding and current row
        ) as bigint) - case when closes_to_flat then 1 else 0 end as flat_segment
    from (
        select *, hash(account_uid, inst_type, inst_id, pos_side) as book_key from events
    )

),

positioned as (

    select
        *,
        sum(case when closes_to_flat then 0 else signed_qty end) over (
            partition by book_key, flat_segment order by event_at, bill_seq, bill_id
            rows between unbounded preceding and current row
        ) - case when closes_to_flat then 0 else signed_qty end   as pos_before
    from segmented

),

final as (

    select
        positioned.account_uid,
        positioned.inst_type,
        positioned.inst_id,
        positioned.pos_side,
        positioned.book_key,
        positioned.bill_id,
        positioned.bill_seq,
        positioned.event_at,
        positioned.event_source,
        positioned.event_kind,
        'derivative'                                              as family,
        positioned.side,
        positioned.px,
        specs.pnl_ccy,
        case when positioned.closes_to_flat then -positioned.pos_before
             else positioned.signed_qty end                       as signed_qty,
        positioned.pos_before,
        case when positioned.closes_to_flat then cast(0 as decimal(38, 12))
             else positioned.pos_before + positioned.signed_qty end as pos_after,
        cast(0 as decimal(38, 12))                                as uncovered_qty,
        positioned.event_gross,
        positioned.event_fee,
        false                                                     as fee_unvalued
    from positioned
    left join specs
        on specs.inst_type = positioned.inst_type and specs.inst_id = positioned.inst_id

)

select * from final
