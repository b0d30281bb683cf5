-- grain: one row per funding (type 8) or interest (type 7) bill, valued in its P&L
-- currency and attributed to the round trip it fell in (or to none)
-- materialized: table
-- depends_on: journal_staging.stg_okx__bills, journal_staging.stg_okx__funding_rates, journal_int.int_book_events, journal_int.int_instrument_specs
-- The amount (negative = paid) is what the event cost or earned, in either margin mode:
-- funding reads the bill's pnl (OKX: "refer to pnl for the fee payment"; in isolated
-- margin the funding is paid from the position, so bal_chg is 0 and pos_bal_chg = pnl);
-- interest reads bal_chg + pos_bal_chg (what left the account's balance plus what left
-- the position's; pos_bal_chg is 0 or NULL in cross margin). Never bal_chg alone.
-- Funding: a position of the bill's instrument held when it was charged (OKX charges
-- funding, and interest, only on a position held). Candidates, per book: the position
-- the ledger leaves just before the bill (ledger order: ts, then bill id, which grows
-- with time within an account: okx-api §9, inferred), and when the book has events in
-- the bill's own millisecond (a fill, or several fills of one order), every position it
-- held in that ms (before and after each of them): the time cannot say whether OKX
-- booked the charge before or after a close, open or flip of the same ms, and its bill
-- id order there is not documented. Flat positions are never candidates, so a funding
-- booked in the ms of a close goes to the closing life in either order (positions
-- history counts it in that life's fundingFee), one booked in the ms of an open from
-- flat to the new life. OKX charges funding on the position held at the funding time (a
-- whole hour) and books the bill a moment later (a real bill: 1.466 s after it, okx-api
-- §10.5): a funding bill booked after the start of its hour also has as candidates the
-- positions held at the funding time (as the ledger leaves the book just before it, and
-- before and after each event of that ms), so a position closed, flipped, or closed and
-- reopened in between is the one charged. Among the candidates: the one whose size
-- equals the bill's sz (OKX's funding bills carry no posSide; sz = the contracts
-- charged); then the side the funding rate says paid: with a positive realised rate (the
-- last funding time at most an hour before the bill) longs pay and shorts receive; then
-- a position held at the funding time; then the position of the ledger order; then long
-- before short; then the earliest.
-- Interest (MARGIN): the MARGIN book of the pair the bill names (inst_type SPOT when the
-- bill says SPOT), chosen as above among its positions. A bill without inst_id belongs
-- to no trip (only daily and per-type relations).
-- Valuation: an amount in the instrument's P&L currency counts as it is; interest in the
-- base currency is valued at the book's last fill price before the bill in ledger order
-- (valued_at_px); anything else stays in its own currency (pnl_ccy = ccy) and is never
-- attributed to a trip.
with bills as (

    select * from journal_staging.stg_okx__bills
    where bill_type in ('7', '8')

),

events as (

    -- every event, several fills of one order in one ms included: the ASOF join below is
    -- on the ledger's order (unique), the charge's own ms is read event by event
    select * from journal_int.int_book_events

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

keyed_events as (

    -- the ledger's order as one key: the time in ms, then the bill id (OKX's bill ids
    -- grow within an account); unique per account, so the ASOF below has no ties
    select
        account_uid, inst_type, inst_id, pos_side, event_at, px,
        pos_before, pos_after, trip_before, trip_after,
        epoch_ms(event_at)                                        as event_ms,
        cast(epoch_ms(event_at) as decimal(38, 0)) * 100000000000000000000
            + coalesce(bill_seq, 0)                               as ledger_key
    from events

),

books as (

    select distinct account_uid, inst_type, inst_id, pos_side from events

),

candidates as (

    select
        charges.*,
        books.pos_side,
        epoch_ms(charges.event_at)                                as event_ms,
        cast(epoch_ms(charges.event_at) as decimal(38, 0)) * 100000000000000000000
            + coalesce(charges.bill_seq, 0)                       as ledger_key,
        -- funding time: the whole hour a funding bill was booked in (OKX's funding times
        -- are whole hours; the bill comes a moment later); interest: the bill's own ms
        case when charges.kind = 'funding'
             then epoch_ms(charges.event_at) - epoch_ms(charges.event_at) % 3600000
             else epoch_ms(charges.event_at) end                  as charged_ms
    from charges
    inner join books
        on books.account_uid = charges.account_uid
        and books.inst_type = charges.inst_type
        and books.inst_id = charges.inst_id

),

in_ledger_order as (

    -- each candidate book as the ledger leaves it just before the charge
    select
        candidates.account_uid,
        candidates.bill_id,
        candidates.pos_side,
        keyed_events.trip_after                                   as trip_no,
        keyed_events.pos_after                                    as pos,
        keyed_events.px                                           as last_px,
        keyed_events.ledger_key                                   as last_key,
        keyed_events.ledger_key * 2 + 1                           as state_key
    from candidates
    asof join keyed_events
        on keyed_events.account_uid = candidates.account_uid
        and keyed_events.inst_type = candidates.inst_type
        and keyed_events.inst_id = candidates.inst_id
        and keyed_events.pos_side = candidates.pos_side
        and candidates.ledger_key >= keyed_events.ledger_key

),

same_ms_events as (

    select
        candidates.account_uid,
        candidates.bill_id,
        candidates.pos_side,
        keyed_events.trip_before,
        keyed_events.pos_before,
        keyed_events.trip_after,
        keyed_events.pos_after,
        keyed_events.ledger_key
    from candidates
    inner join keyed_events
        on keyed_events.account_uid = candidates.account_uid
        and keyed_events.inst_type = candidates.inst_type
        and keyed_events.inst_id = candidates.inst_id
        and keyed_events.pos_side = candidates.pos_side
        and keyed_events.event_ms = candidates.event_ms

),

lagged as (

    -- funding booked after its funding time: the position held then is the one charged
    select *, cast(charged_ms as decimal(38, 0)) * 100000000000000000000 - 1 as charged_key
    from candidates
    where charged_ms < event_ms

),

at_funding_time as (

    -- each such book as the ledger leaves it just before the funding time
    select
        lagged.account_uid,
        lagged.bill_id,
        lagged.pos_side,
        keyed_events.trip_after                                   as trip_no,
        keyed_events.pos_after                                    as pos,
        keyed_events.ledger_key * 2 + 1                           as state_key
    from lagged
    asof join keyed_events
        on keyed_events.account_uid = lagged.account_uid
        and keyed_events.inst_type = lagged.inst_type
        and keyed_events.inst_id = lagged.inst_id
        and keyed_events.pos_side = lagged.pos_side
        and lagged.charged_key >= keyed_events.ledger_key

),

funding_ms_events as (

    select
        lagged.account_uid,
        lagged.bill_id,
        lagged.pos_side,
        keyed_events.trip_before,
        keyed_events.pos_before,
        keyed_events.trip_after,
        keyed_events.pos_after,
        keyed_events.ledger_key
    from lagged
    inner join keyed_events
        on keyed_events.account_uid = lagged.account_uid
        and keyed_events.inst_type = lagged.inst_type
        and keyed_events.inst_id = lagged.inst_id
        and keyed_events.pos_side = lagged.pos_side
        and keyed_events.event_ms = lagged.charged_ms

),

states as (

    -- every position each candidate book held during the charge's millisecond: the one
    -- the ledger order gives, and the ones before and after each event of that ms
    select
        account_uid, bill_id, pos_side, trip_no, pos,
        bool_or(in_force)                                         as in_force,
        bool_or(at_funding_time)                                  as at_funding_time,
        min(state_key)                                            as state_key
    from (
        select account_uid, bill_id, pos_side, trip_no, pos, true as in_force,
               false as at_funding_time, state_key
        from in_ledger_order
        union all
        select account_uid, bill_id, pos_side, trip_before, pos_before, false, false,
               ledger_key * 2
        from same_ms_events
        union all
        select account_uid, bill_id, pos_side, trip_after, pos_after, false, false,
               ledger_key * 2 + 1
        from same_ms_events
        union all
        select account_uid, bill_id, pos_side, trip_no, pos, false, true, state_key
        from at_funding_time
        union all
        select account_uid, bill_id, pos_side, trip_before, pos_before, false, true,
               ledger_key * 2
        from funding_ms_events
        union all
        select account_uid, bill_id, pos_side, trip_after, pos_after, false, true,
               ledger_key * 2 + 1
        from funding_ms_events
    ) as held
    where pos <> 0
    group by account_uid, bill_id, pos_side, trip_no, pos

),

open_at_charge as (

    select
        states.account_uid, states.bill_id, states.pos_side, states.trip_no
    from states
    inner join candidates
        on candidates.account_uid = states.account_uid
        and candidates.bill_id = states.bill_id
        and candidates.pos_side = states.pos_side
    left join rated
        on rated.account_uid = states.account_uid and rated.bill_id = states.bill_id
    qualify row_number() over (
        partition by states.account_uid, states.bill_id
        order by coalesce(abs(states.pos) = candidates.sz, false) desc,
                 -- the side that pays: long when the rate is positive (amount < 0)
                 coalesce(sign(candidates.amount)
                          = -sign(rated.funding_rate) * sign(states.pos), false) desc,
                 -- held at the funding time (funding booked after it)
                 states.at_funding_time desc,
                 states.in_force desc,
                 states.pos_side,
                 states.state_key
    ) = 1

),

last_price as (

    select account_uid, bill_id, last_px
    from in_ledger_order
    where last_px is not null
    qualify row_number() over (
        partition by account_uid, bill_id order by last_key desc, pos_side
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
        open_at_charge.trip_no                                    as open_trip_no
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
