-- grain: one row per check × subject
-- materialized: table
-- depends_on: journal.round_trips, journal_int.int_leg_pnl, journal_int.int_book_events, journal_int.int_instrument_specs, journal_staging.stg_okx__bills, journal_staging.stg_okx__fills, journal_staging.stg_okx__positions_history, journal_int.int_fills, journal_int.int_usd_rates, journal_int.int_usd_pricing, journal_int.int_bill_attributions, journal.pnl_by_instrument_type
-- description: Cross-checks of the journal against OKX's own numbers, one row per check and subject: what was compared, the expected and the actual value, actual - expected, the tolerance and whether it is within it. Failing rows (ok = false) need a look before the P&L is trusted.
-- column check_name: raw_rows_unique, book_key_unique, gross_pnl_recomputed, ledger_balance_chain, ledger_balance_break, positions_history_formula, round_trip_vs_positions_history, round_trip_funding_vs_positions_history, uncovered_spot_sells, instrument_spec_missing, instrument_spec_inferred, fee_currency_unvalued, usd_price_coverage, usd_total_vs_events
-- column subject: what the row is about (round trip id, currency, bill ids, instrument)
-- column compared: the two values compared, in words
-- column expected_value: the reference value (recomputed from prices/specs, previous balance + change, OKX's number, 0)
-- column actual_value: the value found (journal P&L, OKX balance, quantity)
-- column difference: actual_value - expected_value (inverse contracts: both rounded to 8 decimals first)
-- column tolerance: largest accepted |difference|: 0.00000001 per closing event for recomputed gross P&L (OKX rounds each fill_pnl); 0.00000001 for OKX/journal P&L; 0 for balances and quantities
-- column ok: |difference| <= tolerance
-- column details: the ids and numbers needed to follow the row up
with trips as (

    select * from journal.round_trips

),

legs as (

    select * from journal_int.int_leg_pnl

),

specs as (

    select * from journal_int.int_instrument_specs

),

bills as (

    select * from journal_staging.stg_okx__bills

),

fills as (

    select * from journal_staging.stg_okx__fills

),

-- OKX's fills and the trades rebuilt from the ledger where the fills are gone
journal_fills as (

    select * from journal_int.int_fills

),

positions_history as (

    select * from journal_staging.stg_okx__positions_history
    where inst_type in ('SWAP', 'FUTURES', 'OPTION')

),

-- gross P&L recomputed from prices and contract specs, per closed derivative round trip.
-- linear and option: ctVal·ctMult·(Σ n·px of closes - Σ n·px of opens) (long; short:
-- the opposite); inverse: ctVal·ctMult·(Σ n/px of opens - Σ n/px of closes) (long).
-- With flat-to-flat trips this equals the formulas on averaged prices. Trips with an
-- exercise (no settlement price) or without a contract spec are not recomputed; a spec
-- inferred from the instrument's family (int_instrument_specs) is used and named.
derivative_legs as (

    select legs.*, specs.contract_kind, specs.contract_value, specs.spec_source,
           specs.spec_sibling_inst_id
    from legs
    inner join specs
        on specs.inst_type = legs.inst_type and specs.inst_id = legs.inst_id
    where legs.family = 'derivative' and legs.trip_no is not null
      and legs.leg_kind in ('open', 'close')

),

recomputed as (

    select
        account_uid, inst_type, inst_id, pos_side, trip_no,
        any_value(contract_kind)                                  as contract_kind,
        any_value(contract_value)                                 as contract_value,
        any_value(spec_source)                                    as spec_source,
        any_value(spec_sibling_inst_id)                           as spec_sibling_inst_id,
        bool_and(px is not null and (contract_kind <> 'inverse' or px <> 0))
            and any_value(contract_value) is not null             as computable,
        count(*) filter (where leg_kind = 'close')                as closing_events,
        -- Σ n·px of closes - Σ n·px of opens (exact, DECIMAL(38,24))
        sum(case when leg_kind = 'close' then notional else -notional end) as linear_close_minus_open,
        -- ctVal·ctMult·(Σ n/px of closes - Σ n/px of opens) (each quotient to 18 decimals)
        sum(case when contract_kind = 'inverse' and px <> 0 then
                cast(cast(leg_qty as double) * cast(contract_value as double) / cast(px as double)
                     as decimal(38, 18))
                * case when leg_kind = 'close' then 1 else -1 end end) as inverse_close_minus_open
    from derivative_legs
    group by account_uid, inst_type, inst_id, pos_side, trip_no

),

gross_checks as (

    select
        'gross_pnl_recomputed'                                    as check_name,
        trips.account_uid,
        trips.round_trip_id                                       as subject,
        'gross P&L from prices and contract specs (' || recomputed.contract_kind
            || ') vs Σ OKX fill_pnl + event pnl of the round trip' as compared,
        cast(case when recomputed.contract_kind = 'inverse'
                  then -recomputed.inverse_close_minus_open
                  else cast(recomputed.linear_close_minus_open as decimal(38, 14))
                       * cast(recomputed.contract_value as decimal(38, 10)) end
             * case when trips.direction = 'long' then 1 else -1 end
             as decimal(38, 18))                                  as expected_value,
        trips.gross_pnl                                           as actual_value,
        recomputed.closing_events,
        recomputed.contract_kind,
        recomputed.spec_source,
        recomputed.spec_sibling_inst_id
    from trips
    inner join recomputed
        on recomputed.account_uid = trips.account_uid
        and recomputed.inst_type = trips.inst_type
        and recomputed.inst_id = trips.inst_id
        and recomputed.pos_side = trips.pos_side
        and recomputed.trip_no = trips.trip_no
    where trips.is_closed and recomputed.computable

),

gross_rows as (

    select
        check_name, account_uid, subject, compared, expected_value, actual_value,
        -- the cast keeps both branches DECIMAL(38,18): DuckDB types a CASE of a DECIMAL(38,8)
        -- and a DECIMAL(38,18) as DECIMAL(38,8) (rounding the other branch), and the UNION
        -- below would then round every check's difference to 8 decimals
        case when contract_kind = 'inverse'
             then cast(round(actual_value, 8) - round(expected_value, 8) as decimal(38, 18))
             else actual_value - expected_value end               as difference,
        cast(0.00000001 * closing_events as decimal(38, 18))      as tolerance,
        'closing events: ' || closing_events
            || case when spec_source = 'inferred_from_family'
                    then '; spec inferred from ' || spec_sibling_inst_id else '' end as details
    from gross_checks

),

-- ledger chain: per account × ccy in bill_id order, bal = previous bal + bal_chg
chain as (

    select
        account_uid, ccy, bill_id, bill_seq, bal, bal_chg,
        lag(bal) over ledger_order                                as prev_bal,
        lag(bill_id) over ledger_order                            as prev_bill_id
    from bills
    where ccy is not null and bal is not null
    window ledger_order as (partition by account_uid, ccy order by bill_seq, bill_id)

),

chain_breaks as (

    select * from chain
    where prev_bal is not null and prev_bal + bal_chg <> bal

),

break_rows as (

    select
        'ledger_balance_break'                                    as check_name,
        account_uid,
        ccy || ' bill ' || prev_bill_id || ' → ' || bill_id       as subject,
        'previous bal + bal_chg vs bal'                           as compared,
        cast(prev_bal + bal_chg as decimal(38, 18))               as expected_value,
        bal                                                       as actual_value,
        cast(bal - (prev_bal + bal_chg) as decimal(38, 18))       as difference,
        cast(0 as decimal(38, 18))                                as tolerance,
        'bill_id ' || prev_bill_id || ' bal ' || cast(prev_bal as varchar)
            || ', then bill_id ' || bill_id || ' bal_chg ' || cast(bal_chg as varchar)
            || ' bal ' || cast(bal as varchar)                    as details
    from chain_breaks

),

chain_rows as (

    select
        'ledger_balance_chain'                                    as check_name,
        chain.account_uid,
        chain.ccy                                                 as subject,
        'first bal + Σ later bal_chg vs last bal (ok: no break between any two bills)' as compared,
        cast(arg_min(chain.bal, (chain.bill_seq, chain.bill_id))
             + sum(chain.bal_chg) - arg_min(chain.bal_chg, (chain.bill_seq, chain.bill_id))
             as decimal(38, 18))                                  as expected_value,
        arg_max(chain.bal, (chain.bill_seq, chain.bill_id))       as actual_value,
        count(*)                                                  as bill_count,
        count(*) filter (where chain.prev_bal is not null
                         and chain.prev_bal + chain.bal_chg <> chain.bal) as break_count
    from chain
    group by chain.account_uid, chain.ccy

),

chain_summary_rows as (

    select
        check_name, account_uid, subject, compared, expected_value, actual_value,
        cast(actual_value - expected_value as decimal(38, 18))    as difference,
        cast(0 as decimal(38, 18))                                as tolerance,
        bill_count || ' bills, ' || break_count || ' breaks'      as details,
        break_count
    from chain_rows

),

-- positions history: OKX's own formula, and our round trip against it
formula_rows as (

    select
        'positions_history_formula'                               as check_name,
        account_uid,
        inst_id || ' ' || pos_side || ' pos ' || pos_id || ' opened ' || cast(opened_at as varchar) as subject,
        'pnl + fee + funding_fee + liq_penalty + settled_pnl vs OKX realized_pnl' as compared,
        cast(pnl + fee + funding_fee + liq_penalty + settled_pnl as decimal(38, 18)) as expected_value,
        realized_pnl                                              as actual_value,
        cast(realized_pnl - (pnl + fee + funding_fee + liq_penalty + settled_pnl)
             as decimal(38, 18))                                  as difference,
        cast(0.00000001 as decimal(38, 18))                       as tolerance,
        'ccy ' || coalesce(ccy, '?')                              as details
    from positions_history

),

history_matches as (

    select
        positions_history.*,
        trips.round_trip_id,
        trips.net_pnl                                             as trip_net_pnl,
        trips.funding                                             as trip_funding
    from positions_history
    left join trips
        on trips.account_uid = positions_history.account_uid
        and trips.inst_type = positions_history.inst_type
        and trips.inst_id = positions_history.inst_id
        and trips.pos_side = positions_history.pos_side
        and trips.is_closed
        and abs(epoch_ms(trips.closed_at) - epoch_ms(positions_history.updated_at)) <= 60000
    qualify row_number() over (
        partition by positions_history.account_uid, positions_history.pos_id,
                     positions_history.opened_at
        order by abs(epoch_ms(trips.closed_at) - epoch_ms(positions_history.updated_at)) nulls last
    ) = 1

),

history_rows as (

    select
        'round_trip_vs_positions_history'                         as check_name,
        account_uid,
        inst_id || ' ' || pos_side || ' pos ' || pos_id || ' closed ' || cast(updated_at as varchar) as subject,
        'OKX realized_pnl vs journal round trip net_pnl'          as compared,
        realized_pnl                                              as expected_value,
        trip_net_pnl                                              as actual_value,
        cast(trip_net_pnl - realized_pnl as decimal(38, 18))      as difference,
        cast(0.00000001 as decimal(38, 18))                       as tolerance,
        coalesce('round trip ' || round_trip_id,
                 'no closed round trip of this book within 60 s of u_time') as details
    from history_matches

),

-- funding per closed position: the funding bills the journal gave the round trip (read
-- from the bills' pnl, in cross and isolated margin) against OKX's fundingFee
history_funding_rows as (

    select
        'round_trip_funding_vs_positions_history'                 as check_name,
        account_uid,
        inst_id || ' ' || pos_side || ' ' || coalesce(mgn_mode, '?') || ' pos ' || pos_id
            || ' closed ' || cast(updated_at as varchar)          as subject,
        'OKX funding_fee vs journal round trip funding'           as compared,
        funding_fee                                               as expected_value,
        trip_funding                                              as actual_value,
        cast(trip_funding - funding_fee as decimal(38, 18))       as difference,
        cast(0.00000001 as decimal(38, 18))                       as tolerance,
        coalesce('round trip ' || round_trip_id,
                 'no closed round trip of this book within 60 s of u_time') as details
    from history_matches

),

-- SPOT sells beyond the FIFO book: quantity with no cost basis in the data
uncovered_rows as (

    select
        'uncovered_spot_sells'                                    as check_name,
        account_uid,
        inst_id                                                   as subject,
        'quantity of SPOT sells not covered by earlier buys (no cost basis, no gross P&L)' as compared,
        cast(0 as decimal(38, 18))                                as expected_value,
        cast(coalesce(sum(leg_qty) filter (where leg_kind = 'uncovered'), 0) as decimal(38, 18)) as actual_value,
        cast(coalesce(sum(leg_qty) filter (where leg_kind = 'uncovered'), 0) as decimal(38, 18)) as difference,
        cast(0 as decimal(38, 18))                                as tolerance,
        count(distinct bill_id) filter (where leg_kind = 'uncovered') || ' sells, bill_ids '
            || coalesce(array_to_string(list_slice(
                   list(bill_id order by bill_seq, bill_id) filter (where leg_kind = 'uncovered'),
                   1, 10), ','), '-')                             as details
    from legs
    where inst_type = 'SPOT' and leg_kind in ('open', 'uncovered')
    group by account_uid, inst_id

),

-- instruments traded without a spec in okx_raw.instruments: inferred from a listed
-- sibling of the same family (ok, the sibling named) or missing (not ok)
spec_rows as (

    select
        case when any_value(specs.spec_source) = 'inferred_from_family'
             then 'instrument_spec_inferred'
             else 'instrument_spec_missing' end                   as check_name,
        fills.account_uid,
        fills.inst_type || ' ' || fills.inst_id                   as subject,
        'instrument spec present (1) vs found (0)'                as compared,
        cast(1 as decimal(38, 18))                                as expected_value,
        cast(case when any_value(specs.has_spec) then 1 else 0 end as decimal(38, 18)) as actual_value,
        cast(case when any_value(specs.has_spec) then 0 else -1 end as decimal(38, 18)) as difference,
        cast(0 as decimal(38, 18))                                as tolerance,
        count(*) || ' fills; pnl_ccy ' || coalesce(any_value(specs.pnl_ccy), '?')
            || case when any_value(specs.spec_source) = 'inferred_from_family'
                    then ' inferred from ' || any_value(specs.inst_type) || ' '
                         || any_value(specs.spec_sibling_inst_id)
                         || ' (same family; ct_val '
                         || coalesce(rtrim(rtrim(cast(any_value(specs.ct_val) as varchar), '0'), '.'), '?')
                         || ', ct_mult '
                         || coalesce(rtrim(rtrim(cast(any_value(specs.ct_mult) as varchar), '0'), '.'), '?')
                         || ', ' || any_value(specs.contract_kind) || ')'
                    when any_value(specs.has_spec) then ''
                    else ' parsed from inst_id, contract size unknown' end as details
    from journal_fills as fills
    left join specs
        on specs.inst_type = fills.inst_type and specs.inst_id = fills.inst_id
    group by fills.account_uid, fills.inst_type, fills.inst_id

),

fee_rows as (

    select
        'fee_currency_unvalued'                                   as check_name,
        account_uid,
        inst_type || ' ' || inst_id                               as subject,
        'SPOT/MARGIN fills whose fee currency is neither base nor quote (fee left out of P&L)' as compared,
        cast(0 as decimal(38, 18))                                as expected_value,
        cast(count(distinct bill_id) as decimal(38, 18))          as actual_value,
        cast(count(distinct bill_id) as decimal(38, 18))          as difference,
        cast(0 as decimal(38, 18))                                as tolerance,
        'bill_ids ' || array_to_string(list_slice(list(distinct bill_id), 1, 10), ',') as details
    from legs
    where fee_unvalued
    group by account_uid, inst_type, inst_id

),

-- integrity: fills and bills unique per (account_uid, bill_id); book keys without collision
integrity_rows as (

    select
        'raw_rows_unique'                                         as check_name,
        cast(null as varchar)                                     as account_uid,
        'okx_raw.' || source                                      as subject,
        'rows vs distinct (account_uid, bill_id)'                 as compared,
        cast(distinct_keys as decimal(38, 18))                    as expected_value,
        cast(row_count as decimal(38, 18))                        as actual_value,
        cast(row_count - distinct_keys as decimal(38, 18))        as difference,
        cast(0 as decimal(38, 18))                                as tolerance,
        'a duplicate would be counted twice'                      as details
    from (
        select 'fills' as source, count(*) as row_count,
               count(distinct (account_uid, bill_id)) as distinct_keys
        from fills
        union all
        select 'bills', count(*), count(distinct (account_uid, bill_id)) from bills
    )
    union all
    select
        'book_key_unique', null, 'journal_int.int_book_events',
        'books vs distinct 64-bit book keys (window partitions)',
        cast(count(*) as decimal(38, 18)), cast(count(distinct book_key) as decimal(38, 18)),
        cast(count(distinct book_key) - count(*) as decimal(38, 18)),
        cast(0 as decimal(38, 18)), 'a collision would merge two books'
    from (select distinct book_key, account_uid, inst_type, inst_id, pos_side
          from journal_int.int_book_events)

),

-- USD valuation: every currency the P&L is in, whether each of its events has a price
-- (the open of OKX's hourly index bar of its hour; 1 for USD and for a stablecoin OKX has
-- no index for) and, when not, why; and the USD total of each account against its
-- events valued one by one (legs and charges joined to their hour's price here, apart
-- from journal_int.int_pnl_usd, which the marts add up).
usd_events as (

    select account_uid, pnl_ccy, event_at, gross as amount, fee as other_amount
    from legs
    union all
    select account_uid, pnl_ccy, event_at, amount_pnl_ccy, cast(0 as decimal(38, 18))
    from journal_int.int_bill_attributions

),

usd_valued as (

    select
        usd_events.*,
        rates.usd_price,
        -- each amount rounded to 12 decimals × the price, kept at 18 decimals, as the marts do
        cast(cast(coalesce(usd_events.amount, 0) as decimal(38, 12))
             * cast(rates.usd_price as decimal(24, 12)) as decimal(38, 18))
        + cast(cast(coalesce(usd_events.other_amount, 0) as decimal(38, 12))
               * cast(rates.usd_price as decimal(24, 12)) as decimal(38, 18)) as amount_usd
    from usd_events
    left join journal_int.int_usd_rates as rates
        on rates.ccy = usd_events.pnl_ccy
        and rates.hour_utc = date_trunc('hour', timezone('UTC', usd_events.event_at))

),

usd_coverage_rows as (

    select
        'usd_price_coverage'                                      as check_name,
        valued.account_uid,
        valued.pnl_ccy                                            as subject,
        'P&L events in this currency vs those with a USD price'  as compared,
        cast(count(*) as decimal(38, 18))                         as expected_value,
        cast(count(valued.usd_price) as decimal(38, 18))          as actual_value,
        cast(count(valued.usd_price) - count(*) as decimal(38, 18)) as difference,
        cast(0 as decimal(38, 18))                                as tolerance,
        case
            when any_value(pricing.pricing) is null then
                'no USD price at all: OKX has no ' || valued.pnl_ccy || '-USD or ' || valued.pnl_ccy
                || '-USDT index (and it is not a USD stablecoin)'
            when count(valued.usd_price) < count(*) then
                cast(count(*) - count(valued.usd_price) as varchar) || ' events in hours without an OKX '
                || valued.pnl_ccy
                || case when any_value(pricing.pricing) = 'index_usdt' then '-USDT (or USDT-USD)'
                        else '-USD' end
                || ' index bar, first at '
                || cast(min(valued.event_at) filter (where valued.usd_price is null) as varchar)
                || ' (the next sync asks OKX again for hours it could not fetch)'
            when any_value(pricing.pricing) = 'index' then 'priced by OKX''s ' || valued.pnl_ccy || '-USD index (hourly bars)'
            when any_value(pricing.pricing) = 'index_usdt' then 'priced by OKX''s ' || valued.pnl_ccy
                || '-USDT index (hourly bars; OKX has no ' || valued.pnl_ccy || '-USD index) times USDT''s USD price'
            when any_value(pricing.pricing) = 'usd' then 'USD: worth 1'
            else 'no ' || valued.pnl_ccy || '-USD index at OKX: a USD stablecoin, valued at 1 USD'
        end                                                       as details
    from usd_valued as valued
    left join journal_int.int_usd_pricing as pricing
        on pricing.ccy = valued.pnl_ccy
    group by valued.account_uid, valued.pnl_ccy

),

usd_total_rows as (

    select
        'usd_total_vs_events'                                     as check_name,
        valued.account_uid,
        'realised P&L in USD'                                     as subject,
        'sum of journal.pnl_by_instrument_type.net_pnl_usd vs every event valued at its hour''s price' as compared,
        cast(sum(valued.amount_usd) as decimal(38, 18))           as expected_value,
        cast(any_value(total.net_pnl_usd) as decimal(38, 18))     as actual_value,
        cast(any_value(total.net_pnl_usd) - sum(valued.amount_usd) as decimal(38, 18)) as difference,
        cast(0 as decimal(38, 18))                                as tolerance,
        case when count(valued.usd_price) < count(*)
             then 'not comparable: ' || cast(count(*) - count(valued.usd_price) as varchar)
                  || ' events without a USD price (usd_price_coverage)'
             else cast(count(*) as varchar) || ' events in '
                  || cast(count(distinct valued.pnl_ccy) as varchar) || ' currencies' end as details,
        count(valued.usd_price) < count(*)                        as unpriced
    from usd_valued as valued
    -- the realised total of the marts (journal.pnl_total_usd adds the open positions'
    -- unrealised P&L, which changes with every snapshot)
    left join (
        select account_uid,
               case when count(*) filter (where net_pnl_usd is null) = 0
                    then sum(net_pnl_usd) end                     as net_pnl_usd
        from journal.pnl_by_instrument_type
        group by account_uid
    ) as total
        on total.account_uid = valued.account_uid
    group by valued.account_uid

),

unioned as (

    select *, abs(difference) <= tolerance as ok from gross_rows
    union all
    select *, false as ok from break_rows
    union all
    select * exclude (break_count), break_count = 0 as ok from chain_summary_rows
    union all
    select *, abs(difference) <= tolerance as ok from formula_rows
    union all
    select *, coalesce(abs(difference) <= tolerance, false) as ok from history_rows
    union all
    select *, coalesce(abs(difference) <= tolerance, false) as ok from history_funding_rows
    union all
    select *, actual_value = 0 as ok from uncovered_rows
    union all
    select *, actual_value = 1 as ok from spec_rows
    union all
    select *, false as ok from fee_rows
    union all
    select *, difference = 0 as ok from integrity_rows
    union all
    select *, difference = 0 as ok from usd_coverage_rows
    union all
    select * exclude (unpriced), unpriced or difference = 0 as ok from usd_total_rows

),

final as (

    select
        check_name,
        account_uid,
        subject,
        compared,
        cast(expected_value as decimal(38, 18))                   as expected_value,
        cast(actual_value as decimal(38, 18))                     as actual_value,
        cast(difference as decimal(38, 18))                       as difference,
        cast(tolerance as decimal(38, 18))                        as tolerance,
        coalesce(ok, false)                                       as ok,
        details
    from unioned

)

select * from final
