-- grain: one row per funding (type 8) or interest (type 7) bill, valued in its P&L
-- currency and attributed to the round trip it fell in (or to none)
-- materialized: table
-- depends_on: journal_staging.stg_okx__bills, journal_staging.stg_okx__funding_rates, journal_int.int_book_events, journal_int.int_instrument_specs
-- The amount (negative = paid) is what the event cost or earned, in either margin mode:
-- funding reads the bill's pnl (OKX: "refer to pnl for the fee payment"; in isolated
-- margin the funding is paid from the position, so bal_chg is 0 and pos_bal_chg = pnl);
-- interest reads bal_chg + pos_bal_chg (what left the account's balance plus what left
-- the position's; pos_bal_chg is 0 or NULL in cross margin). Never bal_chg alone.
-- Funding: the books of the bill's instrument with a position open at the bill's time
-- (ASOF the last event at or before it). OKX's funding bills carry no posSide, so with
-- two (hedge long and short) the one whose size equals the bill's sz wins; when both
-- sizes are equal, the side the funding rate says paid: with a positive realised rate
-- (the last funding time at most an hour before the bill) longs pay and shorts receive;
-- then long before short.
-- Interest (MARGIN): the MARGIN book of the pair the bill names (inst_type SPOT when the
-- bill says SPOT), when its position is open at the bill's time. A bill without inst_id
-- belongs to no trip (only daily and per-type relations).
-- Valuation: an amount in the instrument's P&L currency counts as it is; interest in the
-- base currency is valued at the book's last fill price at or before the bill
-- (valued_at_px); anything else stays in its own currency (pnl_ccy = ccy) and is never
-- attributed to a trip.
with bills as (

    select * from journal_staging.stg_okx__bills
    where bill_type in ('7', '8')

),

events as (

    -- the state after the last event of each millisecond of a book (the ASOF join below
    -- would take any one of several events at the same time: the fills of one order)
    select * from journal_int.int_book_events
    qualify row_number() over (
        partition by account_uid, inst_type, inst_id, pos_side, event_at
        order by bill_seq desc nulls last, bill_id desc
    ) = 1

),

specs as (

    select * from journal_int.int_instrument_specs

),

rates as (

    select * from journal_staging.stg_okx__funding_rates

),

charges as (

    select
        account_uid,
        bill_id,
        bill_seq,
        bill_type,
        sub_type,
        event_at,
        case when bill_type = '8' then 'funding' else 'interest' end as kind,
        case when bill_type = '8' then inst_type
             when inst_type in ('SPOT', 'MARGIN') then inst_type
             else 'MARGIN' end                                    as inst_type,
        inst_id,
        ccy,
        sz,
        case when bill_type = '8' then pnl
             else bal_chg + coalesce(pos_bal_chg, 0) end          as amount
    from bills

),

rated as (

    select
        charges.account_uid,
        charges.bill_id,
        rates.rate                                                as funding_rate
    from charges
    asof join rates
        on rates.inst_id = charges.inst_id
        and charges.event_at >= rates.funding_at
    where charges.kind = 'funding'
        and charges.event_at - rates.funding_at <= interval 1 hour

),

books as (

    select distinct account_uid, inst_type, inst_id, pos_side from events

),

candidates as (

    select charges.*, books.pos_side
    from charges
    inner join books
        on books.account_uid = charges.account_uid
        and books.inst_type = charges.inst_type
        and books.inst_id = charges.inst_id

),

positioned as (

    select
        candidates.*,
        events.pos_after,
        events.trip_after,
        events.px                                                 as last_px,
        events.event_at                                           as last_event_at
    from candidates
    asof join events
        on events.account_uid = candidates.account_uid
        and events.inst_type = candidates.inst_type
        and events.inst_id = candidates.inst_id
        and events.pos_side = candidates.pos_side
        and candidates.event_at >= events.event_at

),

open_at_charge as (

    select positioned.account_uid, positioned.bill_id, pos_side, trip_after, pos_after
    from positioned
    left join rated
        on rated.account_uid = positioned.account_uid and rated.bill_id = positioned.bill_id
    where pos_after <> 0
    qualify row_number() over (
        partition by positioned.account_uid, positioned.bill_id
        order by coalesce(abs(pos_after) = sz, false) desc,
                 -- the side that pays: long when the rate is positive (amount < 0)
                 coalesce(sign(amount) = -sign(rated.funding_rate) * sign(pos_after), false) desc,
                 pos_side
    ) = 1

),

last_price as (

    select account_uid, bill_id, last_px
    from positioned
    where last_px is not null
    qualify row_number() over (
        partition by account_uid, bill_id order by last_event_at desc, pos_side
    ) = 1

),

valued as (

    select
        charges.*,
        specs.pnl_ccy                                             as instrument_pnl_ccy,
        case when charges.ccy = specs.pnl_ccy then charges.amount
             when charges.kind = 'interest' and charges.ccy = specs.base_ccy
                  and last_price.last_px is not null then
                 cast(cast(charges.amount as decimal(38, 16))
                      * cast(last_price.last_px as decimal(38, 12)) as decimal(38, 18))
             end                                                  as amount_in_instrument_ccy,
        case when charges.kind = 'interest' and charges.ccy = specs.base_ccy
                  and charges.ccy is distinct from specs.pnl_ccy
             then last_price.last_px end                          as valued_at_px,
        open_at_charge.pos_side                                   as open_pos_side,
        open_at_charge.trip_after                                 as open_trip_no
    from charges
    left join specs
        on specs.inst_type = charges.inst_type and specs.inst_id = charges.inst_id
    left join last_price
        on last_price.account_uid = charges.account_uid and last_price.bill_id = charges.bill_id
    left join open_at_charge
        on open_at_charge.account_uid = charges.account_uid
        and open_at_charge.bill_id = charges.bill_id

),

final as (

    select
        case when amount_in_instrument_ccy is not null and open_trip_no is not null then
            account_uid || ':' || inst_type || ':' || inst_id || ':' || open_pos_side || ':'
            || cast(open_trip_no as varchar) end                  as round_trip_id,
        account_uid,
        bill_id,
        bill_seq,
        bill_type,
        sub_type,
        kind,
        event_at,
        inst_type,
        inst_id,
        case when amount_in_instrument_ccy is not null and open_trip_no is not null
             then open_pos_side end                               as pos_side,
        case when amount_in_instrument_ccy is not null
             then cast(open_trip_no as bigint) end                as trip_no,
        ccy,
        amount,
        coalesce(case when amount_in_instrument_ccy is not null then instrument_pnl_ccy end,
                 ccy)                                             as pnl_ccy,
        coalesce(amount_in_instrument_ccy, amount)                as amount_pnl_ccy,
        valued_at_px
    from valued

)

select * from final
