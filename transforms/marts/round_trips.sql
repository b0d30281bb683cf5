-- grain: one row per round trip: account_uid × inst_type × inst_id × pos_side, from flat to flat
-- materialized: table
-- depends_on: journal_int.int_leg_pnl, journal_int.int_bill_attributions, journal_int.int_pnl_usd
-- description: One row per position cycle, from flat to flat (a flip closes one trip and opens the next with the remainder). SPOT/MARGIN: cycles of the FIFO book per account × inst_type × inst_id. Derivatives: per account × inst_type × inst_id × pos_side. Money in pnl_ccy; net_pnl = gross_pnl + fees + funding + interest.
-- column round_trip_id: account_uid:inst_type:inst_id:pos_side:sequence number of the trip in its book
-- column pos_side: long/short (hedge mode books) or net
-- column direction: long or short
-- column opened_at: time of the first opening event (UTC)
-- column closed_at: time of the event that brought the position back to zero; NULL while open
-- column entry_px: size-weighted average price of the opening legs (display precision, 12 decimals)
-- column exit_px: size-weighted average price of the closing legs with a price (display precision)
-- column max_size: largest absolute position during the trip (base ccy for SPOT/MARGIN, contracts for derivatives)
-- column current_size: absolute position now (0 when closed)
-- column gross_pnl: realised gross P&L: FIFO for SPOT/MARGIN; Σ fill_pnl + delivery/exercise/expiry/liquidation/ADL/settlement bill pnl for derivatives
-- column fees: trading fees in pnl_ccy (negative = paid), liquidation penalties included; a flip fill's fee is split by quantity
-- column funding: funding bills (type 8) attributed to this trip
-- column interest: MARGIN interest bills (type 7) naming this pair that fell inside the trip
-- column net_pnl: gross_pnl + fees + funding + interest
-- column pnl_ccy: currency of all money columns
-- column holding_seconds: closed_at - opened_at in seconds (NULL while open)
-- column outcome: win (net_pnl > 0), loss (< 0), breakeven (= 0); NULL while open
-- column gross_pnl_usd: gross_pnl in USD, each event of the trip valued at the price of its own hour (journal_int.int_pnl_usd); NULL when one has no USD price
-- column fees_usd: fees in USD (idem)
-- column funding_usd: funding in USD (idem)
-- column interest_usd: interest in USD (idem)
-- column net_pnl_usd: gross_pnl_usd + fees_usd + funding_usd + interest_usd
with legs as (

    select * from journal_int.int_leg_pnl
    where trip_no is not null

),

charges as (

    select
        account_uid, inst_type, inst_id, pos_side, trip_no,
        coalesce(sum(amount_pnl_ccy) filter (where kind = 'funding'), 0)  as funding,
        coalesce(sum(amount_pnl_ccy) filter (where kind = 'interest'), 0) as interest,
        count(*) filter (where kind = 'funding')                   as funding_events,
        count(*) filter (where kind = 'interest')                  as interest_events
    from journal_int.int_bill_attributions
    where trip_no is not null
    group by all

),

trips as (

    select
        account_uid,
        inst_type,
        inst_id,
        pos_side,
        trip_no,
        any_value(direction)                                      as direction,
        any_value(pnl_ccy)                                        as pnl_ccy,
        min(event_at)                                             as opened_at,
        max(event_at) filter (where leg_kind = 'close' and size_after = 0) as closed_at,
        arg_max(size_after, (event_at, bill_seq, bill_id, leg_kind = 'open')) as last_size,
        max(size_after) filter (where leg_kind = 'open')          as max_size,
        sum(leg_qty) filter (where leg_kind = 'open')             as opened_size,
        sum(leg_qty) filter (where leg_kind = 'close')            as closed_size,
        sum(notional) filter (where leg_kind = 'open')            as entry_notional,
        sum(leg_qty) filter (where leg_kind = 'open' and notional is not null) as entry_priced_size,
        sum(notional) filter (where leg_kind = 'close')           as exit_notional,
        sum(leg_qty) filter (where leg_kind = 'close' and notional is not null) as exit_priced_size,
        sum(gross)                                                as gross_pnl,
        sum(fee)                                                  as fees,
        count(*) filter (where leg_kind = 'open')                 as opening_events,
        count(*) filter (where leg_kind = 'close')                as closing_events,
        bool_or(event_kind = 'liquidation')                       as liquidated,
        string_agg(distinct event_kind, ',' order by event_kind)  as event_kinds
    from legs
    group by account_uid, inst_type, inst_id, pos_side, trip_no

),

final as (

    select
        trips.account_uid || ':' || trips.inst_type || ':' || trips.inst_id || ':'
            || trips.pos_side || ':' || cast(trips.trip_no as varchar) as round_trip_id,
        trips.account_uid,
        trips.inst_type,
        trips.inst_id,
        trips.pos_side,
        trips.direction,
        trips.opened_at,
        trips.closed_at,
        cast(cast(trips.entry_notional as double) / cast(trips.entry_priced_size as double)
             as decimal(38, 12))                                  as entry_px,
        cast(cast(trips.exit_notional as double) / cast(trips.exit_priced_size as double)
             as decimal(38, 12))                                  as exit_px,
        trips.max_size,
        case when trips.closed_at is null then trips.last_size
             else cast(0 as decimal(38, 18)) end                  as current_size,
        cast(trips.gross_pnl as decimal(38, 18))                  as gross_pnl,
        cast(trips.fees as decimal(38, 18))                       as fees,
        cast(coalesce(charges.funding, 0) as decimal(38, 18))     as funding,
        cast(coalesce(charges.interest, 0) as decimal(38, 18))    as interest,
        cast(trips.gross_pnl + trips.fees + coalesce(charges.funding, 0)
             + coalesce(charges.interest, 0) as decimal(38, 18))  as net_pnl,
        trips.pnl_ccy,
        trips.closed_at is not null                               as is_closed,
        case when trips.closed_at is not null then
            cast(epoch_ms(trips.closed_at) - epoch_ms(trips.opened_at) as bigint) // 1000
             end                                                  as holding_seconds,
        trips.closed_at - trips.opened_at                         as holding_time,
        case when trips.closed_at is null then null
             when trips.gross_pnl + trips.fees + coalesce(charges.funding, 0)
                  + coalesce(charges.interest, 0) > 0 then 'win'
             when trips.gross_pnl + trips.fees + coalesce(charges.funding, 0)
                  + coalesce(charges.interest, 0) < 0 then 'loss'
             else 'breakeven' end                                 as outcome,
        trips.opened_size,
        coalesce(trips.closed_size, 0)                            as closed_size,
        trips.opening_events,
        trips.closing_events,
        coalesce(charges.funding_events, 0)                       as funding_events,
        coalesce(charges.interest_events, 0)                      as interest_events,
        trips.liquidated,
        trips.event_kinds,
        trips.trip_no,
        cast(timezone('UTC', trips.opened_at) as date)            as opened_day,
        cast(timezone('UTC', trips.closed_at) as date)            as closed_day
    from trips
    left join charges
        on charges.account_uid = trips.account_uid
        and charges.inst_type = trips.inst_type
        and charges.inst_id = trips.inst_id
        and charges.pos_side = trips.pos_side
        and charges.trip_no = trips.trip_no

),

trips_usd as (

    select
        account_uid, inst_type, inst_id, pos_side, trip_no,
        count(*) filter (where usd_price is null)                 as unpriced_events,
        sum(gross_usd)                                            as gross_pnl_usd,
        sum(fees_usd)                                             as fees_usd,
        sum(funding_usd)                                          as funding_usd,
        sum(interest_usd)                                         as interest_usd,
        sum(net_usd)                                              as net_pnl_usd
    from journal_int.int_pnl_usd
    where trip_no is not null
    group by account_uid, inst_type, inst_id, pos_side, trip_no

),

with_usd as (

    select
        final.*,
        case when u.unpriced_events = 0 then cast(u.gross_pnl_usd as decimal(38, 18)) end as gross_pnl_usd,
        case when u.unpriced_events = 0 then cast(u.fees_usd as decimal(38, 18)) end as fees_usd,
        case when u.unpriced_events = 0 then cast(u.funding_usd as decimal(38, 18)) end as funding_usd,
        case when u.unpriced_events = 0 then cast(u.interest_usd as decimal(38, 18)) end as interest_usd,
        case when u.unpriced_events = 0 then cast(u.net_pnl_usd as decimal(38, 18)) end as net_pnl_usd
    from final
    left join trips_usd as u
        on u.account_uid = final.account_uid
        and u.inst_type = final.inst_type
        and u.inst_id = final.inst_id
        and u.pos_side = final.pos_side
        and u.trip_no = final.trip_no

)

select * from with_usd
