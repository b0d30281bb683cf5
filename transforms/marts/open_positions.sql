-- grain: one row per open position: account_uid × inst_type × inst_id × pos_side
-- materialized: table
-- depends_on: journal.round_trips, journal_int.int_leg_pnl, journal_int.int_spot_lots, journal_staging.stg_okx__positions, journal_staging.stg_okx__index_candles, journal_int.int_usd_pricing
-- description: Positions open at the end of the data: the open round trip of each book (size, cost of the remaining lots for SPOT/MARGIN under the journal's cost basis, average entry for derivatives, realised P&L so far), joined with OKX's latest positions snapshot of the account (mark price, unrealised P&L). A position only in the snapshot (opened before the fill history) has source 'snapshot'.
-- column size: absolute open size (base ccy for SPOT/MARGIN, contracts for derivatives)
-- column avg_entry_px: SPOT/MARGIN: average cost of the lots left under the cost basis (cost_basis); derivatives: size-weighted average opening price of the trip (display precision)
-- column realized_net_pnl: net P&L realised so far in the open trip (partial closes, fees, funding, interest), in pnl_ccy
-- column okx_upl: unrealised P&L reported by OKX in the latest snapshot (in okx_ccy)
-- column source: journal (from fills), snapshot (only in the positions snapshot), both
-- column okx_upl_usd: okx_upl in USD at the latest price: the open of the newest OKX hourly index bar of okx_ccy at or before the snapshot (1 for USD and a stablecoin OKX has no index for); NULL without a price
-- column okx_upl_usd_price: the USD price of one unit of okx_ccy used for okx_upl_usd
-- column okx_upl_usd_price_at: the open time of the index bar that price comes from (NULL at par)
with trips as (

    select * from journal.round_trips
    where not is_closed

),

spot_lots as (

    select account_uid, inst_type, inst_id, direction, bill_id, px, leg_qty
    from journal_int.int_leg_pnl
    where family = 'spot' and leg_kind = 'open'

),

spot_taken as (

    -- what the closes took from each lot, under the journal's cost basis
    select account_uid, inst_type, inst_id, direction, lot_bill_id, sum(qty) as taken
    from journal_int.int_spot_lots
    group by all

),

spot_remaining as (

    select
        spot_lots.account_uid, spot_lots.inst_type, spot_lots.inst_id,
        sum(spot_lots.px * (spot_lots.leg_qty - coalesce(spot_taken.taken, 0))) as remaining_cost,
        sum(spot_lots.leg_qty - coalesce(spot_taken.taken, 0))   as remaining_qty
    from spot_lots
    left join spot_taken
        on spot_taken.account_uid = spot_lots.account_uid
        and spot_taken.inst_type = spot_lots.inst_type
        and spot_taken.inst_id = spot_lots.inst_id
        and spot_taken.direction = spot_lots.direction
        and spot_taken.lot_bill_id = spot_lots.bill_id
    where spot_lots.leg_qty > coalesce(spot_taken.taken, 0)
    group by all

),

journal_positions as (

    select
        trips.account_uid,
        trips.inst_type,
        trips.inst_id,
        trips.pos_side,
        trips.direction,
        trips.round_trip_id,
        trips.opened_at,
        trips.current_size                                        as size,
        case when trips.inst_type in ('SPOT', 'MARGIN') and spot_remaining.remaining_qty > 0
             then cast(cast(spot_remaining.remaining_cost as double)
                       / cast(spot_remaining.remaining_qty as double) as decimal(38, 12))
             else trips.entry_px end                              as avg_entry_px,
        trips.net_pnl                                             as realized_net_pnl,
        trips.pnl_ccy,
        trips.cost_basis
    from trips
    left join spot_remaining
        on spot_remaining.account_uid = trips.account_uid
        and spot_remaining.inst_type = trips.inst_type
        and spot_remaining.inst_id = trips.inst_id

),

latest_snapshot as (

    select *
    from journal_staging.stg_okx__positions
    qualify snapshot_at = max(snapshot_at) over (partition by account_uid)

),

snapshot_positions as (

    select * from latest_snapshot
    where pos is not null and pos <> 0

),

final as (

    select
        coalesce(j.account_uid, s.account_uid)                    as account_uid,
        coalesce(j.inst_type, s.inst_type)                        as inst_type,
        coalesce(j.inst_id, s.inst_id)                            as inst_id,
        coalesce(j.pos_side, s.pos_side)                          as pos_side,
        coalesce(j.direction,
                 case when s.pos_side in ('long', 'short') then s.pos_side
                      when s.pos > 0 then 'long' else 'short' end) as direction,
        j.round_trip_id,
        coalesce(j.opened_at, s.opened_at)                        as opened_at,
        coalesce(j.size, abs(s.pos))                              as size,
        coalesce(j.avg_entry_px, cast(s.avg_px as decimal(38, 12))) as avg_entry_px,
        j.realized_net_pnl,
        j.pnl_ccy,
        j.cost_basis,
        s.snapshot_at,
        s.pos                                                     as okx_pos,
        s.avg_px                                                  as okx_avg_px,
        s.mark_px                                                 as okx_mark_px,
        s.upl                                                     as okx_upl,
        s.ccy                                                     as okx_ccy,
        s.liq_px                                                  as okx_liq_px,
        s.lever                                                   as okx_lever,
        case when j.account_uid is not null and s.account_uid is not null then 'both'
             when j.account_uid is not null then 'journal'
             else 'snapshot' end                                  as source
    from journal_positions as j
    full outer join snapshot_positions as s
        on s.account_uid = j.account_uid
        and s.inst_type = j.inst_type
        and s.inst_id = j.inst_id
        and s.pos_side = j.pos_side

),

-- the latest USD price of each currency of unrealised P&L at its snapshot
upl_price_bars as (

    select s.ccy, s.snapshot_at, max(c.bar_at) as price_at
    from (select distinct ccy, snapshot_at from snapshot_positions) as s
    join journal_staging.stg_okx__index_candles as c
        on c.ccy = s.ccy and c.quote_ccy = 'USD' and c.bar_at <= s.snapshot_at
    group by s.ccy, s.snapshot_at

),

upl_prices as (

    select
        bars.ccy,
        bars.snapshot_at,
        bars.price_at,
        candles.open_px                                           as usd_price
    from upl_price_bars as bars
    join journal_staging.stg_okx__index_candles as candles
        on candles.ccy = bars.ccy and candles.quote_ccy = 'USD' and candles.bar_at = bars.price_at

),

with_usd as (

    select
        final.*,
        cast(cast(final.okx_upl as decimal(38, 12))
             * cast(case when pricing.pricing in ('usd', 'stablecoin_par') then 1
                         when pricing.pricing = 'index' then prices.usd_price end
                    as decimal(24, 12)) as decimal(38, 18))       as okx_upl_usd,
        case when pricing.pricing in ('usd', 'stablecoin_par') then cast(1 as decimal(38, 18))
             when pricing.pricing = 'index' then prices.usd_price end as okx_upl_usd_price,
        case when pricing.pricing = 'index' then prices.price_at end as okx_upl_usd_price_at
    from final
    left join journal_int.int_usd_pricing as pricing
        on pricing.ccy = final.okx_ccy
    left join upl_prices as prices
        on prices.ccy = final.okx_ccy and prices.snapshot_at = final.snapshot_at

)

select * from with_usd
