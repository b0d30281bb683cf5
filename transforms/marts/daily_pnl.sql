-- grain: one row per day (UTC) × account_uid × inst_type × inst_id × pnl_ccy
-- materialized: table
-- depends_on: journal_int.int_leg_pnl, journal_int.int_bill_attributions, journal_int.int_pnl_usd
-- description: Realised P&L per UTC day, account, instrument and P&L currency: gross P&L realised that day, fees charged that day, funding and interest booked that day (all of them, including those outside any round trip). net_pnl = gross_pnl + fees + funding + interest. Interest bills that name no pair have inst_id NULL.
-- column day: UTC calendar day of the event
-- column pnl_ccy: currency of every money column in the row; never summed across currencies
-- column gross_pnl: realised gross P&L of events that day
-- column fees: fees charged that day (negative = paid), liquidation penalties included
-- column funding: funding bills (type 8) that day
-- column interest: interest bills (type 7) that day
-- column net_pnl: gross_pnl + fees + funding + interest
-- column fill_count: fills that day
-- column gross_pnl_usd: gross_pnl in USD, each event valued at the open of OKX's hourly index bar of its hour (journal_int.int_pnl_usd); NULL when an event of the row has no USD price
-- column fees_usd: fees in USD (idem)
-- column funding_usd: funding in USD (idem)
-- column interest_usd: interest in USD (idem)
-- column net_pnl_usd: gross_pnl_usd + fees_usd + funding_usd + interest_usd
-- column unpriced_events: events of the row without a USD price (see journal.reconciliation, usd_price_coverage)
with legs as (

    select * from journal_int.int_leg_pnl

),

charges as (

    select * from journal_int.int_bill_attributions

),

leg_days as (

    select
        cast(timezone('UTC', event_at) as date)                   as day,
        account_uid,
        inst_type,
        inst_id,
        pnl_ccy,
        sum(gross)                                                as gross_pnl,
        sum(fee)                                                  as fees,
        cast(0 as decimal(38, 18))                                as funding,
        cast(0 as decimal(38, 18))                                as interest,
        count(distinct bill_id) filter (where event_source = 'fill') as fill_count
    from legs
    group by all

),

charge_days as (

    select
        cast(timezone('UTC', event_at) as date)                   as day,
        account_uid,
        inst_type,
        inst_id,
        pnl_ccy,
        cast(0 as decimal(38, 18))                                as gross_pnl,
        cast(0 as decimal(38, 18))                                as fees,
        coalesce(sum(amount_pnl_ccy) filter (where kind = 'funding'), 0)  as funding,
        coalesce(sum(amount_pnl_ccy) filter (where kind = 'interest'), 0) as interest,
        0                                                         as fill_count
    from charges
    group by all

),

unioned as (

    select * from leg_days
    union all
    select * from charge_days

),

final as (

    select
        day,
        account_uid,
        inst_type,
        inst_id,
        pnl_ccy,
        cast(sum(gross_pnl) as decimal(38, 18))                   as gross_pnl,
        cast(sum(fees) as decimal(38, 18))                        as fees,
        cast(sum(funding) as decimal(38, 18))                     as funding,
        cast(sum(interest) as decimal(38, 18))                    as interest,
        cast(sum(gross_pnl) + sum(fees) + sum(funding) + sum(interest) as decimal(38, 18)) as net_pnl,
        cast(sum(fill_count) as bigint)                           as fill_count
    from unioned
    group by day, account_uid, inst_type, inst_id, pnl_ccy

),

usd_days as (

    select
        day, account_uid, inst_type, inst_id, pnl_ccy,
        count(*) filter (where usd_price is null)                 as unpriced_events,
        sum(gross_usd)                                            as gross_pnl_usd,
        sum(fees_usd)                                             as fees_usd,
        sum(funding_usd)                                          as funding_usd,
        sum(interest_usd)                                         as interest_usd,
        sum(net_usd)                                              as net_pnl_usd
    from journal_int.int_pnl_usd
    group by day, account_uid, inst_type, inst_id, pnl_ccy

),

with_usd as (

    select
        final.*,
        case when u.unpriced_events = 0 then cast(u.gross_pnl_usd as decimal(38, 18)) end as gross_pnl_usd,
        case when u.unpriced_events = 0 then cast(u.fees_usd as decimal(38, 18)) end as fees_usd,
        case when u.unpriced_events = 0 then cast(u.funding_usd as decimal(38, 18)) end as funding_usd,
        case when u.unpriced_events = 0 then cast(u.interest_usd as decimal(38, 18)) end as interest_usd,
        case when u.unpriced_events = 0 then cast(u.net_pnl_usd as decimal(38, 18)) end as net_pnl_usd,
        cast(coalesce(u.unpriced_events, 0) as bigint)            as unpriced_events
    from final
    left join usd_days as u
        on u.day = final.day
        and u.account_uid = final.account_uid
        and u.inst_type is not distinct from final.inst_type
        and u.inst_id is not distinct from final.inst_id
        and u.pnl_ccy is not distinct from final.pnl_ccy

)

select * from with_usd
