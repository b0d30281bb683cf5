-- grain: one row per day (UTC) × account_uid × inst_type × inst_id × pnl_ccy
-- materialized: table
-- depends_on: journal_int.int_leg_pnl, journal_int.int_bill_attributions, journal_staging.build_settings
-- description: Realised P&L per UTC day, account, instrument and P&L currency: gross P&L realised that day, fees charged that day, funding and interest booked that day (all of them, including those outside any round trip). net_pnl = gross_pnl + fees + funding + interest. Interest bills that name no pair have inst_id NULL.
-- column day: UTC calendar day of the event
-- column pnl_ccy: currency of every money column in the row; never summed across currencies
-- column gross_pnl: realised gross P&L of events that day
-- column fees: fees charged that day (negative = paid), liquidation penalties included
-- column funding: funding bills (type 8) that day
-- column interest: interest bills (type 7) that day
-- column net_pnl: gross_pnl + fees + funding + interest
-- column fill_count: fills that day
-- column cost_basis: SPOT/MARGIN rows: the cost-basis method their gross P&L was matched with (fifo, lifo, hifo, average); NULL for derivatives
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

settings as (

    select cost_basis from journal_staging.build_settings

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
        cast(sum(fill_count) as bigint)                           as fill_count,
        case when inst_type in ('SPOT', 'MARGIN') then any_value(settings.cost_basis) end as cost_basis
    from unioned
    cross join settings
    group by day, account_uid, inst_type, inst_id, pnl_ccy

)

select * from final
