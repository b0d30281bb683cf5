-- grain: one row per instrument (inst_type, inst_id) that was traded, billed or listed
-- materialized: table
-- depends_on: journal_staging.stg_okx__fills, journal_staging.stg_okx__bills, journal_staging.stg_okx__instruments
-- The P&L currency and contract size of every instrument. A MARGIN pair without its
-- own spec uses the SPOT spec of the same pair. Without any spec the currencies are
-- parsed from inst_id (BASE-QUOTE[-...]; QUOTE 'USD' on a derivative = inverse, settled
-- in BASE) and has_spec is false; contract_value stays NULL (no made-up contract size).
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

joined as (

    select
        seen.inst_type,
        seen.inst_id,
        coalesce(own.inst_id, spot.inst_id) is not null          as has_spec,
        coalesce(own.base_ccy, spot.base_ccy)                     as spec_base_ccy,
        coalesce(own.quote_ccy, spot.quote_ccy)                   as spec_quote_ccy,
        own.settle_ccy                                            as spec_settle_ccy,
        own.ct_type                                               as spec_ct_type,
        own.ct_val,
        own.ct_mult,
        own.ct_val_ccy,
        own.opt_type,
        own.stk,
        own.expires_at,
        split_part(seen.inst_id, '-', 1)                          as parsed_base,
        split_part(split_part(seen.inst_id, '-', 2), '_', 1)      as parsed_quote
    from seen
    left join instruments as own
        on own.inst_type = seen.inst_type and own.inst_id = seen.inst_id
    left join instruments as spot
        on seen.inst_type = 'MARGIN' and spot.inst_type = 'SPOT' and spot.inst_id = seen.inst_id

),

final as (

    select
        inst_type,
        inst_id,
        has_spec,
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
        opt_type,
        stk,
        expires_at
    from joined

)

select * from final
