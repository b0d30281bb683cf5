-- grain: one row per cash movement into or out of an account (account_uid, source_table, source_id, kind)
-- materialized: table
-- depends_on: journal_staging.stg_okx__bills, journal_staging.stg_okx__deposits, journal_staging.stg_okx__withdrawals, journal_staging.stg_okx__funding_bills
-- description: Deposits, withdrawals (and their fees) and transfers, one row per movement, per account and currency: money that entered or left an account, kept apart from P&L. amount is signed: + into the account, - out of it. Every movement is counted once, from one source per kind: deposits from the deposit history (only successful ones, state 2), withdrawals and their fees from the withdrawal history (only successful ones, state 2), transfers between the funding and the trading account from the trading account's ledger (bills of type 1), sub-account transfers from the funding account's ledger (types 20-23). The mirrors (a deposit's, a withdrawal's and a cancelled withdrawal's funding bill, types 1/2/13; a transfer's funding bill, types 130/131) are not counted.
-- column flow_at: time of the movement (UTC): deposit/withdrawal record time, bill time
-- column day: UTC calendar day of flow_at
-- column ccy: currency of amount
-- column kind: deposit, withdrawal, withdrawal_fee, transfer_in, transfer_out, subaccount_transfer_in, subaccount_transfer_out
-- column amount: signed amount in ccy: + into the account, - out of it (a withdrawal fee is negative)
-- column account: the account the money moved in or out of: funding (deposits, withdrawals, sub-account transfers) or trading (transfers to and from the funding account)
-- column source_table: the raw table the row comes from
-- column source_id: its id there: dep_id, wd_id or bill_id
-- column counterparty: the other side: the funding or trading account for a transfer, the chain address for deposits and withdrawals
-- column tx_id: on-chain transaction id of a deposit or withdrawal
--
-- Which source counts each kind, and why:
-- * deposit: okx_raw.deposits, state 2 (successful) only. The deposit history says
--   whether the deposit is final; the funding bill (type 1) is its mirror and is not
--   counted. State 1 (credited, not yet withdrawable) is not counted yet: OKX can still
--   hold it; the row is merged on dep_id, so it counts from the sync that sees state 2.
--   States 0, 8, 11-14, 17 (waiting, held, blocked) count nothing.
-- * withdrawal, withdrawal_fee: okx_raw.withdrawals, state 2 (success) only: -amt in
--   ccy, and -fee in fee_ccy as its own row. Failed (-1) and cancelled (-2) withdrawals
--   and every pending state count nothing. Funding bills of types 2 and 13 (debit and
--   refund of a cancelled withdrawal) are mirrors.
-- * transfer_in, transfer_out: the trading account's bills of type 1 (sub_type 11 in /
--   12 out; other type 1 sub_types by the sign of bal_chg), amount = bal_chg, which for
--   a transfer is the money moved (a transfer has no pnl or fee). These bills are the
--   ledger the journal's P&L is built from and reach back to 2021 (quarterly export,
--   where bill_type is inferred from sub_type); the funding account's mirror (130/131)
--   is not counted.
-- * subaccount_transfer_in/out: funding bills of types 20-23, by the sign of bal_chg.
with bills as (

    select * from journal_staging.stg_okx__bills
    where bill_type = '1'

),

deposits as (

    select * from journal_staging.stg_okx__deposits
    where state = '2'

),

withdrawals as (

    select * from journal_staging.stg_okx__withdrawals
    where state = '2'

),

funding_bills as (

    select * from journal_staging.stg_okx__funding_bills
    where bill_type in ('20', '21', '22', '23')

),

transfers as (

    select
        account_uid,
        event_at                                                  as flow_at,
        ccy,
        case when sub_type = '11' then 'transfer_in'
             when sub_type = '12' then 'transfer_out'
             when bal_chg > 0 then 'transfer_in'
             else 'transfer_out' end                              as kind,
        case when bal_chg <> 0 then bal_chg
             when sub_type = '11' then abs(sz)
             when sub_type = '12' then -abs(sz)
             end                                                  as amount,
        'trading'                                                 as account,
        'okx_raw.bills'                                           as source_table,
        bill_id                                                   as source_id,
        case when coalesce(sub_type = '11', bal_chg > 0) then coalesce(from_account, '6')
             else coalesce(to_account, '6') end                   as counterparty_code,
        cast(null as varchar)                                     as tx_id
    from bills

),

deposit_flows as (

    select
        account_uid,
        event_at                                                  as flow_at,
        ccy,
        'deposit'                                                 as kind,
        amount,
        'funding'                                                 as account,
        'okx_raw.deposits'                                        as source_table,
        dep_id                                                    as source_id,
        from_address                                              as counterparty_code,
        tx_id
    from deposits

),

withdrawal_flows as (

    select
        account_uid,
        event_at                                                  as flow_at,
        ccy,
        'withdrawal'                                              as kind,
        -abs(amount)                                              as amount,
        'funding'                                                 as account,
        'okx_raw.withdrawals'                                     as source_table,
        wd_id                                                     as source_id,
        to_address                                                as counterparty_code,
        tx_id
    from withdrawals

),

withdrawal_fee_flows as (

    select
        account_uid,
        event_at                                                  as flow_at,
        fee_ccy                                                   as ccy,
        'withdrawal_fee'                                          as kind,
        -abs(fee)                                                 as amount,
        'funding'                                                 as account,
        'okx_raw.withdrawals'                                     as source_table,
        wd_id                                                     as source_id,
        to_address                                                as counterparty_code,
        tx_id
    from withdrawals
    where fee <> 0

),

subaccount_flows as (

    select
        account_uid,
        event_at                                                  as flow_at,
        ccy,
        case when bal_chg > 0 then 'subaccount_transfer_in'
             else 'subaccount_transfer_out' end                   as kind,
        bal_chg                                                   as amount,
        'funding'                                                 as account,
        'okx_raw.funding_bills'                                   as source_table,
        bill_id                                                   as source_id,
        'sub-account'                                             as counterparty_code,
        cast(null as varchar)                                     as tx_id
    from funding_bills

),

unioned as (

    select * from transfers
    union all
    select * from deposit_flows
    union all
    select * from withdrawal_flows
    union all
    select * from withdrawal_fee_flows
    union all
    select * from subaccount_flows

),

final as (

    select
        account_uid,
        flow_at,
        cast(timezone('UTC', flow_at) as date)                    as day,
        ccy,
        kind,
        cast(amount as decimal(38, 18))                           as amount,
        account,
        source_table,
        source_id,
        case counterparty_code when '6' then 'funding'
                               when '18' then 'trading'
                               else counterparty_code end         as counterparty,
        tx_id
    from unioned
    where amount is not null and amount <> 0

)

select * from final
