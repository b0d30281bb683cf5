-- grain: one row per trade (account_uid, bill_id): OKX's fills, and the trades rebuilt from trade bills where the fills are gone
-- materialized: view
-- depends_on: journal_staging.stg_okx__fills, journal_int.int_fills_from_bills
-- What every journal model reads instead of stg_okx__fills. source says where a row
-- comes from: 'fills' (okx_raw.fills, as OKX reported it) or 'bills' (rebuilt from the
-- ledger by int_fills_from_bills, which already dropped every trade that has a fill:
-- where fills exist for a period they are used, where they are gone, bills).
-- other_leg_bill_id: the quote leg's bill of a SPOT/MARGIN trade rebuilt from bills.
with fills as (

    select * from journal_staging.stg_okx__fills

),

fills_from_bills as (

    select * from journal_int.int_fills_from_bills

),

unioned as (

    select *, cast(null as varchar) as other_leg_bill_id, 'fills' as source from fills
    union all by name
    select * exclude (bill_type), 'bills' as source from fills_from_bills

),

final as (

    select * from unioned

)

select * from final
