-- grain: one row per instrument (inst_type, inst_id) that was traded, billed or listed
-- materialized: table
-- depends_on: journal_staging.stg_okx__fills, journal_staging.stg_okx__bills, journal_staging.stg_okx__instruments
-- The P&L currency and contract size of every instrument. A MARGIN pair without its
-- own spec uses the SPOT spec of the same pair.
-- OKX lists only live instruments, so a future or option that expired before the first
-- sync has no row in okx_raw.instruments. Every contract of one instrument family shares
-- its contract terms (ctVal, ctMult, ctValCcy, ctType, settleCcy), so a SWAP, FUTURES or
-- OPTION without its own spec takes them from a listed sibling of the same inst_type and
-- family (family = the first two dash-separated parts of inst_id, e.g. BTC-USD), provided
-- every listed sibling agrees on them; the sibling preferred is the live one seen last.
-- Expiry, strike and option type then come from inst_id (BTC-USD-261009[-100000-C]; the
-- expiry's time of day is the sibling's). spec_source says which: 'okx' (own or SPOT
-- spec), 'inferred_from_family' (spec_sibling_inst_id names the sibling), or NULL.
-- Without any spec the currencies are parsed from inst_id (BASE-QUOTE[-...]; QUOTE 'USD'
-- on a derivative = inverse, settled in BASE) and has_spec is false; contract_value stays
-- NULL (no made-up contract size).
with fills as (

    select distinct inst_type, inst_id from journal_staging.stg_okx__fills

),

bills as (

    select distinct inst_type, inst_id
    from journal_staging.stg_okx__bills
    where inst_type in ('SPOT', 'MARGIN', 'SWAP', 'FUTURES', 'OPTION') and inst_id is not null

),

instruments as (

    select * from journal_staging.stg_okx__instruments

),

seen as (

    select inst_type, inst_id from fills
    union
    select inst_type, inst_id from bills
    union
    select inst_type, inst_id from instruments

),

-- listed derivatives as possible siblings, with the family their contract terms belong to
family_members as (

    select
        inst_type,
        coalesce(inst_family,
                 split_part(inst_id, '-', 1) || '-' || split_part(inst_id, '-', 2)) as family,
        inst_id,
        base_ccy,
        quote_ccy,
        settle_ccy,
        ct_type,
        ct_val,
        ct_mult,
        ct_val_ccy,
        expires_at,
        state,
        last_seen_at
    from instruments
    where inst_type in ('SWAP', 'FUTURES', 'OPTION') and ct_val is not null

),

-- one sibling per (inst_type, family), only when all listed members agree on the terms
family_terms as (

    select
        inst_type,
        family,
        arg_max(inst_id, (state = 'live', last_seen_at, inst_id))  as sibling_inst_id,
        count(distinct (settle_ccy, ct_type, ct_val, ct_mult, ct_val_ccy)) as term_variants
    from family_members
    group by inst_type, family

),

siblings as (

    select family_members.*
    from family_terms
    inner join family_members
        on family_members.inst_type = family_terms.inst_type
        and family_members.family = family_terms.family
        and family_members.inst_id = family_terms.sibling_inst_id
    where family_terms.term_variants = 1

),

joined as (

    select
        seen.inst_type,
        seen.inst_id,
        case when coalesce(own.inst_id, spot.inst_id) is not null then 'okx'
             when sib.inst_id is not null then 'inferred_from_family' end as spec_source,
        sib.inst_id                                               as spec_sibling_inst_id,
        coalesce(own.base_ccy, spot.base_ccy, sib.base_ccy)       as spec_base_ccy,
        coalesce(own.quote_ccy, spot.quote_ccy, sib.quote_ccy)    as spec_quote_ccy,
        coalesce(own.settle_ccy, sib.settle_ccy)                  as spec_settle_ccy,
        coalesce(own.ct_type, sib.ct_type)                        as spec_ct_type,
        coalesce(own.ct_val, sib.ct_val)                          as ct_val,
        coalesce(own.ct_mult, sib.ct_mult)                        as ct_mult,
        coalesce(own.ct_val_ccy, sib.ct_val_ccy)                  as ct_val_ccy,
        own.opt_type,
        own.stk,
        own.expires_at,
        sib.expires_at                                            as sibling_expires_at,
        split_part(seen.inst_id, '-', 1)                          as parsed_base,
        split_part(split_part(seen.inst_id, '-', 2), '_', 1)      as parsed_quote,
        split_part(seen.inst_id, '-', 3)                          as parsed_expiry,
        split_part(seen.inst_id, '-', 4)                          as parsed_strike,
        split_part(seen.inst_id, '-', 5)                          as parsed_opt_type
    from seen
    left join instruments as own
        on own.inst_type = seen.inst_type and own.inst_id = seen.inst_id
    left join instruments as spot
        on seen.inst_type = 'MARGIN' and spot.inst_type = 'SPOT' and spot.inst_id = seen.inst_id
    left join siblings as sib
        on own.inst_id is null
        and sib.inst_type = seen.inst_type
        and sib.family = split_part(seen.inst_id, '-', 1) || '-' || split_part(seen.inst_id, '-', 2)

),

final as (

    select
        inst_type,
        inst_id,
        spec_source is not null                                   as has_spec,
        spec_source,
        spec_sibling_inst_id,
        case when inst_type in ('SPOT', 'MARGIN') then 'spot'
             when inst_type = 'OPTION' then 'option'
             when spec_ct_type in ('linear', 'inverse') then spec_ct_type
             when parsed_quote = 'USD' then 'inverse'
             else 'linear' end                                     as contract_kind,
        coalesce(spec_base_ccy, parsed_base)                      as base_ccy,
        coalesce(spec_quote_ccy, parsed_quote)                    as quote_ccy,
        case when inst_type in ('SPOT', 'MARGIN') then coalesce(spec_quote_ccy, parsed_quote)
             else coalesce(spec_settle_ccy,
                           case when parsed_quote = 'USD' then parsed_base else parsed_quote end)
             end                                                  as pnl_ccy,
        ct_val,
        ct_mult,
        case when ct_val is not null then
            cast(cast(ct_val as decimal(38, 12)) * cast(coalesce(ct_mult, 1) as decimal(38, 12))
                 as decimal(38, 18))
             end                                                  as contract_value,
        ct_val_ccy,
        case when spec_source = 'inferred_from_family' and inst_type = 'OPTION'
                  and parsed_opt_type in ('C', 'P') then parsed_opt_type
             else opt_type end                                    as opt_type,
        case when spec_source = 'inferred_from_family' and inst_type = 'OPTION'
             then try_cast(nullif(parsed_strike, '') as decimal(38, 18))
             else stk end                                         as stk,
        case when spec_source = 'inferred_from_family' and inst_type in ('FUTURES', 'OPTION')
             then to_timestamp(
                      epoch(try_strptime(parsed_expiry, '%y%m%d'))
                      + coalesce(epoch(sibling_expires_at) % 86400, 0))
             else expires_at end                                  as expires_at
    from joined

)

select * from final
