"""The generated OKX account history is consistent: every invariant is recomputed here.

The replay below is an independent re-implementation of OKX's ledger rules (DESIGN.md
"The ledger model", okx-api §5) over the generated records, using exact fractions, so
it checks the generator rather than re-running it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from okx_journal.simulator.generator import (
    DEMO_CREDENTIALS,
    History,
    SimAccount,
    generate_history,
    load_history,
    save_history,
)

END = 1_760_000_000_000  # 2025-10-09 08:53:20 UTC
DAY = 86_400_000
HOUR = 3_600_000
F0 = Fraction(0)

# ------------------------------------------------------------------ okx-api §10 samples
# Copied from the reference (field names only matter; values as published).
SAMPLE_FILL = json.loads("""
{"instType":"SWAP","instId":"BTC-USDT-SWAP","tradeId":"1502134567","ordId":"2093475839123456000",
 "clOrdId":"","billId":"2093475839131844610","subType":"5","tag":"","fillPx":"61000",
 "fillSz":"10","fillIdxPx":"60995.3","fillPnl":"100","fillPxVol":"","fillPxUsd":"",
 "fillMarkVol":"","fillFwdPx":"","fillMarkPx":"60998.1","side":"sell","posSide":"long",
 "execType":"T","feeCcy":"USDT","fee":"-3.05","ts":"1735689600123","fillTime":"1735689600120",
 "feeRate":"","tradeQuoteCcy":""}""")
SAMPLE_BILL = json.loads("""
{"bal":"10093.345","balChg":"96.95","billId":"2093475839131844610","ccy":"USDT","clOrdId":"",
 "earnAmt":"","earnApr":"","execType":"T","fee":"-3.05","fillFwdPx":"","fillIdxPx":"60995.3",
 "fillMarkPx":"60998.1","fillMarkVol":"","fillPxUsd":"","fillPxVol":"","fillTime":"1735689600120",
 "from":"","instId":"BTC-USDT-SWAP","instType":"SWAP","interest":"0","mgnMode":"cross","notes":"",
 "ordId":"2093475839123456000","pnl":"100","posBal":"0","posBalChg":"0","px":"61000",
 "subType":"5","sz":"10","tag":"","to":"","tradeId":"1502134567","ts":"1735689600123","type":"2"}""")
SAMPLE_POSITION = json.loads("""
{"adl":"2","availPos":"","avgPx":"60000","baseBal":"","baseBorrowed":"","baseInterest":"",
 "bePx":"60066.06","bizRefId":"","bizRefType":"","cTime":"1735600000000","ccy":"USDT",
 "clSpotInUseAmt":"","closeOrderAlgo":[],"deltaBS":"","deltaPA":"","fee":"-3","fundingFee":"-0.605",
 "gammaBS":"","gammaPA":"","hedgedPos":"","idxPx":"60490.2","imr":"605","instId":"BTC-USDT-SWAP",
 "instType":"SWAP","interest":"","last":"60501.1","lever":"10","liab":"","liabCcy":"",
 "liqPenalty":"0","liqPx":"30405.2","margin":"","markPx":"60500","maxSpotInUseAmt":"",
 "mgnMode":"cross","mgnRatio":"412.5","mmr":"24.2","nonSettleAvgPx":"","notionalUsd":"6051.2",
 "optVal":"","pendingCloseOrdLiabVal":"","pnl":"0","pos":"10","posCcy":"",
 "posId":"2093470000000000001","posSide":"long","quoteBal":"","quoteBorrowed":"",
 "quoteInterest":"","realizedPnl":"-3.605","settledPnl":"","spotInUseAmt":"","spotInUseCcy":"",
 "thetaBS":"","thetaPA":"","tradeId":"1502100000","uTime":"1735660800000","upl":"50",
 "uplLastPx":"50.11","uplRatio":"0.0833333333333333","uplRatioLastPx":"0.0835166666666667",
 "usdPx":"1.0002","vegaBS":"","vegaPA":""}""")
SAMPLE_POSITION_HISTORY = json.loads("""
{"cTime":"1654177169995","ccy":"BTC","closeAvgPx":"29786.5999999789081085","closeTotalPos":"1",
 "instId":"BTC-USD-SWAP","instType":"SWAP","lever":"10.0","mgnMode":"cross",
 "openAvgPx":"29783.8999999995535393","openMaxPos":"1","realizedPnl":"0.001","fee":"-0.0001",
 "fundingFee":"0","liqPenalty":"0","pnl":"0.0011","pnlRatio":"0.000906447858888",
 "posId":"452587086133239818","posSide":"long","direction":"long","triggerPx":"","type":"1",
 "uTime":"1654177174419","uly":"BTC-USD","nonSettleAvgPx":"","settledPnl":""}""")
SAMPLE_CONFIG = json.loads("""
{"acctLv":"2","acctStpMode":"cancel_maker","autoLoan":false,"ctIsoMode":"automatic",
 "enableSpotBorrow":false,"greeksType":"PA","feeType":"0","ip":"","type":"0","kycLv":"3",
 "label":"v5 test","level":"Lv1","levelTmp":"","liquidationGear":"-1",
 "mainUid":"44705892343619584","mgnIsoMode":"automatic","opAuth":"1",
 "perm":"read_only,withdraw,trade","posMode":"long_short_mode","roleType":"0",
 "spotBorrowAutoRepay":false,"spotOffsetType":"","spotRoleType":"0","spotTraderInsts":[],
 "stgyType":"0","traderInsts":[],"uid":"44705892343619584","settleCcy":"USDC",
 "settleCcyList":["USD","USDC","USDG"]}""")
SAMPLE_INSTRUMENT = json.loads("""
{"alias":"","auctionEndTime":"","baseCcy":"","category":"1","contTdSwTime":"","ctMult":"1",
 "ctType":"linear","ctVal":"0.01","ctValCcy":"BTC","expTime":"","futureSettlement":false,
 "instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instIdCode":10001,"instType":"SWAP",
 "lever":"100","listTime":"1573557408000","lotSz":"0.01","maxIcebergSz":"100000000.0000000000000000",
 "maxLmtAmt":"20000000","maxLmtSz":"100000000","maxMktAmt":"","maxMktSz":"12000",
 "maxStopSz":"12000","maxTriggerSz":"100000000.0000000000000000","maxTwapSz":"100000000.0000000000000000",
 "minSz":"0.01","openType":"","optType":"","preMktSwTime":"","quoteCcy":"","ruleType":"normal",
 "settleCcy":"USDT","state":"live","stk":"","tickSz":"0.1","tradeQuoteCcyList":[],"uly":"BTC-USDT"}""")
BALANCE_KEYS = {
    "uTime", "totalEq", "isoEq", "adjEq", "availEq", "ordFroz", "imr", "mmr", "borrowFroz",
    "mgnRatio", "notionalUsd", "notionalUsdForBorrow", "notionalUsdForSwap",
    "notionalUsdForFutures", "notionalUsdForOption", "upl", "details",
}


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def history() -> History:
    return generate_history(seed=11, scale=3000, end_ms=END, accounts=2)


@pytest.fixture(scope="module")
def replays(history: History) -> tuple[Replay, Replay]:
    """Every invariant checked on both accounts (net mode, hedge mode); their replays."""
    return check_account(history, history.accounts[0]), check_account(history, history.accounts[1])


@pytest.fixture(scope="module")
def extended() -> History:
    h = generate_history(seed=5, scale=1500, end_ms=END - 2 * DAY, days=40, accounts=2)
    for acct in h.accounts:
        h.extend(acct, 400, end_ms=END - DAY)
        h.add_same_ms_burst(acct, 250)
        h.extend(acct, 100)
    return h


# ------------------------------------------------------------------ helpers


def d(x: str) -> Decimal:
    return Decimal(x)


def fr(x: str) -> Fraction:
    return Fraction(Decimal(x))


def qf(x: Fraction, dp: int) -> Decimal:
    """Exact half-even rounding of a fraction (Python's ``round`` on Fraction is exact)."""
    return Decimal(round(x * 10**dp)).scaleb(-dp)


def fd(x: Fraction) -> Decimal:
    """An exact Fraction with a terminating decimal expansion (sizes) as Decimal."""
    with localcontext() as ctx:
        ctx.prec = 80
        return Decimal(x.numerator) / Decimal(x.denominator)


def qd(x: Decimal, dp: int) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_EVEN)


@dataclass
class Inst:
    inst_type: str
    inst_id: str
    ct_type: str
    ct_val: Fraction
    ct_mult: Fraction
    settle: str
    opt_type: str
    stk: Fraction
    exp: int

    @property
    def kind(self) -> str:
        return "option" if self.inst_type == "OPTION" else self.ct_type

    @property
    def dp(self) -> int:
        return 10 if self.kind in ("inverse", "option") else 8


def instruments(h: History) -> dict[str, Inst]:
    out = {}
    for i in h.instruments:
        if i["instType"] in ("SWAP", "FUTURES", "OPTION"):
            out[i["instId"]] = Inst(
                i["instType"], i["instId"], i["ctType"], fr(i["ctVal"]), fr(i["ctMult"]),
                i["settleCcy"], i["optType"], fr(i["stk"]) if i["stk"] else F0,
                int(i["expTime"]) if i["expTime"] else 0)
    return out


def contract_pnl(ins: Inst, entry: Fraction, exit_: Fraction, n: Fraction, long: bool) -> Decimal:
    if ins.kind == "linear":
        v = ins.ct_val * ins.ct_mult * n * (exit_ - entry)
    elif ins.kind == "inverse":
        v = ins.ct_val * ins.ct_mult * n * (1 / entry - 1 / exit_)
    else:
        v = (exit_ - entry) * n * ins.ct_mult * ins.ct_val
    return qf(v if long else -v, ins.dp)


def notional(ins: Inst, n: Fraction, px: Fraction) -> Fraction:
    if ins.kind == "inverse":
        return n * ins.ct_val * ins.ct_mult / px
    return n * ins.ct_val * ins.ct_mult * px


@dataclass
class Life:
    c_time: int
    direction: str
    qty: Fraction = F0
    avg: Fraction = F0
    pnl: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)
    liq: Decimal = Decimal(0)
    open_max: Fraction = F0
    closed: Fraction = F0
    close_type: str = "2"


@dataclass
class Replay:
    open: dict[tuple[str, str], Life] = field(default_factory=dict)
    closed: list[tuple[str, str, Life, int]] = field(default_factory=list)
    funding_sets: dict[int, set[tuple[str, str]]] = field(default_factory=dict)
    margin_inv: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    flips: Counter[str] = field(default_factory=Counter)
    #: (instType, linear/inverse/option) of fills that cross zero, and of orders whose
    #: first fill closes the position exactly and whose next fill opens the other side
    flip_kinds: Counter[tuple[str, str]] = field(default_factory=Counter)
    split_flips: Counter[tuple[str, str]] = field(default_factory=Counter)
    closed_by: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


def replay(h: History, acct: SimAccount) -> Replay:
    """Replays fills, funding and expiry bills in billId order, asserting every P&L number."""
    insts = instruments(h)
    assert h.market is not None
    fills_by_id = {f["billId"]: f for f in acct.fills}
    events: list[tuple[int, str, dict[str, Any]]] = []
    for f in acct.fills:
        if f["instType"] in ("SWAP", "FUTURES", "OPTION"):
            events.append((int(f["billId"]), "fill", f))
    for b in acct.bills:
        if b["type"] in ("3", "8"):
            events.append((int(b["billId"]), "bill", b))
    events.sort(key=lambda e: e[0])
    r = Replay()
    next_boundary: int | None = None
    for _bid, kind, rec in events:
        ts = int(rec["ts"])
        # state just before each funding boundary: which SWAP positions are open
        if next_boundary is None:
            next_boundary = (ts // (8 * HOUR)) * 8 * HOUR
            if next_boundary < ts:
                next_boundary += 8 * HOUR
        while ts >= next_boundary:
            r.funding_sets[next_boundary] = {
                k for k, life in r.open.items()
                if life.qty != 0 and insts[k[0]].inst_type == "SWAP"}
            next_boundary += 8 * HOUR
        if kind == "fill":
            _replay_fill(r, insts[rec["instId"]], rec, acct, fills_by_id)
        elif rec["type"] == "8":
            _replay_funding(r, h, insts[rec["instId"]], rec)
        else:
            _replay_expiry(r, insts[rec["instId"]], rec)
    return r


def _replay_fill(r: Replay, ins: Inst, f: dict[str, Any], acct: SimAccount,
                 fills_by_id: dict[str, dict[str, Any]]) -> None:
    key = (f["instId"], f["posSide"])
    life = r.open.get(key)
    qty = life.qty if life else F0
    n = fr(f["fillSz"])
    px = fr(f["fillPx"])
    buy = f["side"] == "buy"
    close_n = min(n, abs(qty)) if qty != 0 and (qty > 0) != buy else F0
    open_n = n - close_n
    expected = contract_pnl(ins, life.avg, px, close_n, qty > 0) if life and close_n else Decimal(0)
    assert d(f["fillPnl"]) == expected, f
    fee = d(f["fee"])
    liq = f["subType"] in ("100", "101", "102", "103", "104", "105", "106", "107")
    adl = f["subType"] in ("125", "126", "127", "128")
    if liq:
        assert f["tradeId"].startswith("-") and f["execType"] == "" and fee < 0
        assert fee == -qf(notional(ins, n, px) * Fraction("0.005"), ins.dp)
    elif adl:
        assert f["tradeId"].startswith("-") and f["execType"] == "" and fee == 0
    elif ins.kind == "option":
        premium = px * n * ins.ct_mult * ins.ct_val
        assert fee == -qf(min(Fraction("0.0003") * n * ins.ct_mult * ins.ct_val,
                              Fraction("0.125") * premium), ins.dp)
    else:
        rate = Fraction("0.0005") if f["execType"] == "T" else Fraction("0.0002")
        if f["execType"] == "M" and fee > 0:  # the odd maker rebate
            rate = Fraction("-0.00005")
        assert fee == -qf(notional(ins, n, px) * rate, ins.dp), f
    fee_close = fee if open_n == 0 else qf(Fraction(fee) * close_n / n, ins.dp)
    if life is not None and close_n:
        life.qty += close_n if buy else -close_n
        life.pnl += expected
        life.closed += close_n
        if liq:
            life.liq += fee_close
            life.close_type = "3"
        else:
            life.fee += fee_close
            life.close_type = "5" if adl else "2"
        if life.qty == 0:
            del r.open[key]
            r.closed.append((key[0], key[1], life, int(f["ts"])))
            r.closed_by[key] = (f["ordId"], f["ts"])
    if open_n:
        if close_n:
            r.flips[ins.inst_type] += 1
            r.flip_kinds[(ins.inst_type, ins.kind)] += 1
        life = r.open.get(key)
        if life is None and r.closed_by.get(key) == (f["ordId"], f["ts"]):
            r.split_flips[(ins.inst_type, ins.kind)] += 1
        if life is None:
            life = Life(int(f["ts"]), "long" if buy else "short", avg=px)
            r.open[key] = life
        else:
            aq = abs(life.qty)
            if ins.kind == "inverse":
                life.avg = (aq + open_n) / (aq / life.avg + open_n / px)
            else:
                life.avg = (life.avg * aq + px * open_n) / (aq + open_n)
        life.qty += open_n if buy else -open_n
        life.open_max = max(life.open_max, abs(life.qty))
        life.fee += fee - fee_close


def _replay_funding(r: Replay, h: History, ins: Inst, b: dict[str, Any]) -> None:
    assert h.market is not None
    ts = int(b["ts"])
    assert ts % (8 * HOUR) == 0
    # the rate the simulator publishes on public/funding-rate-history is the one charged
    (published,) = h.funding_rate_history(ins.inst_id, ts, ts) or [None]
    assert published is not None and published["fundingTime"] == b["ts"], b
    rate = Fraction(published["realizedRate"])
    mark, n, amt = fr(b["px"]), fr(b["sz"]), d(b["pnl"])
    assert b["subType"] == ("173" if amt < 0 else "174")
    # the amount is in pnl; cross: the account pays it; isolated: the position does
    assert equity_chg(b) == amt
    if b["mgnMode"] == "isolated":
        assert d(b["balChg"]) == 0 and d(b["posBalChg"]) == amt and b["tradeId"] == "0"
    else:
        assert b["mgnMode"] == "cross" and d(b["posBalChg"]) == 0
    candidates = [k for k in r.open if k[0] == ins.inst_id and abs(r.open[k].qty) == n]
    match = [k for k in candidates
             if qf(-notional(ins, n, mark) * rate if r.open[k].qty > 0
                   else notional(ins, n, mark) * rate, ins.dp) == amt]
    assert match, b
    r.open[match[0]].funding += amt


def _replay_expiry(r: Replay, ins: Inst, b: dict[str, Any]) -> None:
    ts = int(b["ts"])
    assert ts == ins.exp
    sub = b["subType"]
    if ins.kind == "option" or sub in ("170", "171", "172"):
        key = (ins.inst_id, "net")
    else:
        key = next(k for k in r.open if k[0] == ins.inst_id
                   and (k[1] == "net" or k[1] == ("long" if sub == "112" else "short")))
    life = r.open.pop(key)
    n, px = abs(life.qty), fr(b["px"])
    long = life.qty > 0
    assert fr(b["sz"]) == n
    if ins.kind == "option":
        intrinsic = max(px - ins.stk, F0) if ins.opt_type == "C" else max(ins.stk - px, F0)
        cash = qf(intrinsic / px * n * ins.ct_mult * ins.ct_val, ins.dp)
        pnl = qf((Fraction(cash) - life.avg * n * ins.ct_mult * ins.ct_val) * (1 if long else -1),
                 ins.dp)
        if cash == 0:
            assert sub == "172" and equity_chg(b) == 0
        elif long:
            assert sub == "170" and equity_chg(b) == cash + d(b["fee"])
        else:
            assert sub == "171" and equity_chg(b) == -cash + d(b["fee"])
    else:
        assert sub == ("112" if long else "113")
        pnl = contract_pnl(ins, life.avg, px, n, long)
        fee = -qf(notional(ins, n, px) * Fraction("0.00015"), ins.dp)
        assert d(b["fee"]) == fee and equity_chg(b) == pnl + fee
    assert d(b["pnl"]) == pnl, b
    life.pnl += pnl
    life.fee += d(b["fee"])
    life.closed += n
    life.close_type = "2"
    r.closed.append((key[0], key[1], life, ts))


def check_account(h: History, acct: SimAccount) -> Replay:
    """Every invariant of one account; returns the replay for further checks."""
    check_ids_and_times(acct)
    check_bal_chain(acct)
    check_isolated_margin(acct)
    check_spot_and_margin(acct)
    check_derivative_bills(h, acct)
    r = replay(h, acct)
    check_positions(acct, r)
    check_positions_history(acct, r)
    check_funding_schedule(h, acct, r)
    check_balance(acct)
    return r


def check_ids_and_times(acct: SimAccount) -> None:
    bill_ids = [int(b["billId"]) for b in acct.bills]
    assert all(a < b for a, b in zip(bill_ids, bill_ids[1:], strict=False)), "billIds not increasing"
    ts = [int(b["ts"]) for b in acct.bills]
    assert all(a <= b for a, b in zip(ts, ts[1:], strict=False)), "bill ts not sorted with billId"
    fill_ids = [int(f["billId"]) for f in acct.fills]
    assert all(a < b for a, b in zip(fill_ids, fill_ids[1:], strict=False))
    assert set(fill_ids) <= set(bill_ids)
    for rec in (*acct.fills, *acct.bills):
        assert all(v is not None for v in rec.values())
        assert all(isinstance(v, str) for v in rec.values())
        assert 18 <= len(rec["billId"]) <= 19 and rec["billId"].isdigit()
        if rec["ordId"]:
            assert 18 <= len(rec["ordId"]) <= 19 and rec["ordId"].isdigit()
        assert len(rec["ts"]) == 13
    for f in acct.fills:
        assert 0 < int(f["ts"]) - int(f["fillTime"]) <= 10
        assert len(f["tradeId"].lstrip("-")) < 18
    ord_ids = [int(f["ordId"]) for f in acct.fills]
    for f, g in zip(acct.fills, acct.fills[1:], strict=False):
        if f["ordId"] != g["ordId"]:
            assert int(f["ordId"]) < int(g["ordId"])
    assert len(set(ord_ids)) <= len(ord_ids)
    for p in (*acct.positions, *acct.positions_history):
        assert 18 <= len(p["posId"]) <= 19 and p["posId"].isdigit()


def equity_chg(b: dict[str, Any]) -> Decimal:
    """What a bill moved of the account's equity: its balance plus the position's margin
    (isolated margin moves money between the two; cross bills have posBalChg 0)."""
    return d(b["balChg"]) + d(b["posBalChg"])


def check_isolated_margin(acct: SimAccount) -> None:
    """Isolated lives book margin in the position's balance: what bills moved into
    positions (Σ posBalChg per instrument) is what the open isolated positions hold now;
    cross bills never touch posBal; both modes occur on every derivative type."""
    modes: dict[str, set[str]] = {}
    moved: dict[str, Decimal] = {}
    for b in acct.bills:
        if b["instType"] not in ("SWAP", "FUTURES", "OPTION") or b["mgnMode"] == "cross":
            assert b["posBal"] == "0" and b["posBalChg"] == "0", b
        else:
            assert b["mgnMode"] == "isolated", b
            assert d(b["posBal"]) >= 0, b
            moved[b["instId"]] = moved.get(b["instId"], Decimal(0)) + d(b["posBalChg"])
            if b["type"] == "3":  # delivery / exercise / expiry releases everything
                assert d(b["posBal"]) == 0 and d(b["posBalChg"]) <= 0, b
        if b["instType"] in ("SWAP", "FUTURES", "OPTION"):
            modes.setdefault(b["instType"], set()).add(b["mgnMode"])
    held: dict[str, Decimal] = {}
    for p in acct.positions:
        if p["mgnMode"] == "isolated":
            held[p["instId"]] = held.get(p["instId"], Decimal(0)) + d(p["margin"])
    assert {k: v for k, v in moved.items() if v} == {k: v for k, v in held.items() if v}
    for inst_type in ("SWAP", "FUTURES", "OPTION"):
        assert modes.get(inst_type) == {"cross", "isolated"}, (inst_type, modes)
    assert {life["mgnMode"] for life in acct.positions_history} == {"cross", "isolated"}


def check_bal_chain(acct: SimAccount) -> None:
    last: dict[str, Decimal] = {}
    for b in acct.bills:
        ccy = b["ccy"]
        bal, chg = d(b["bal"]), d(b["balChg"])
        prev = last.get(ccy, Decimal(0))
        assert bal == prev + chg, b
        if bal < 0 and prev >= 0:
            # a balance only goes negative through MARGIN borrowing
            assert b["instType"] == "MARGIN", b
        last[ccy] = bal
        assert qd(chg, 10) == chg and len(b["balChg"].partition(".")[2]) <= 10
    assert set(last) == {"USDT", "BTC", "ETH"}


def check_spot_and_margin(acct: SimAccount) -> None:
    bills = {b["billId"]: (i, b) for i, b in enumerate(acct.bills)}
    spot_inv: dict[str, Decimal] = defaultdict(Decimal)
    margin_inv: dict[str, Decimal] = defaultdict(Decimal)
    for f in acct.fills:
        if f["instType"] not in ("SPOT", "MARGIN"):
            continue
        base, quote = f["instId"].split("-")
        i, b1 = bills[f["billId"]]
        b2 = acct.bills[i + 1]
        assert int(b2["billId"]) == int(b1["billId"]) + 1
        sz, px, fee = d(f["fillSz"]), d(f["fillPx"]), d(f["fee"])
        gross = qd(sz * px, 8)
        rate = d(f["feeRate"])
        assert f["feeRate"] in ("-0.001", "-0.0008", "0.0001")
        assert (f["feeRate"] == "-0.001") == (f["execType"] == "T")
        assert f["fillPnl"] == "0" and f["posSide"] == "net"
        for b in (b1, b2):
            assert b["type"] == "2" and b["subType"] == ("1" if f["side"] == "buy" else "2")
            assert b["ordId"] == f["ordId"] and b["tradeId"] == f["tradeId"]
            assert b["px"] == f["fillPx"] and b["pnl"] == "0" and b["ts"] == f["ts"]
        assert b1["ccy"] == base and b2["ccy"] == quote
        assert d(b1["sz"]) == sz and d(b2["sz"]) == gross
        if f["side"] == "buy":
            assert f["feeCcy"] == base and fee == qd(sz * rate, 8)
            assert d(b1["balChg"]) == sz + fee and d(b1["fee"]) == fee
            assert d(b2["balChg"]) == -gross and d(b2["fee"]) == 0
        else:
            assert f["feeCcy"] == quote and fee == qd(gross * rate, 8)
            assert d(b1["balChg"]) == -sz and d(b1["fee"]) == 0
            assert d(b2["balChg"]) == gross + fee and d(b2["fee"]) == fee
        inv = spot_inv if f["instType"] == "SPOT" else margin_inv
        inv[f["instId"]] += sz + fee if f["side"] == "buy" else -sz
        if f["instType"] == "SPOT":
            assert inv[f["instId"]] >= 0, "a sell not covered by earlier buys of the same book"
    open_margin = {p["instId"]: d(p["pos"]) for p in acct.positions if p["instType"] == "MARGIN"}
    assert open_margin == {k: v for k, v in margin_inv.items() if v != 0}
    for p in acct.positions:
        if p["instType"] == "MARGIN":  # posCcy base: long, quote: short (okx-api §4.4)
            base, quote = p["instId"].split("-")
            short = d(p["pos"]) < 0
            assert (p["posCcy"], p["liabCcy"]) == ((quote, base) if short else (base, quote))


def check_derivative_bills(h: History, acct: SimAccount) -> None:
    insts = instruments(h)
    bills = {b["billId"]: b for b in acct.bills}
    for f in acct.fills:
        if f["instType"] in ("SPOT", "MARGIN"):
            continue
        ins = insts[f["instId"]]
        b = bills[f["billId"]]
        assert f["feeCcy"] == ins.settle == b["ccy"] and f["feeRate"] == ""
        assert b["pnl"] == f["fillPnl"] and b["fee"] == f["fee"] and b["sz"] == f["fillSz"]
        assert b["px"] == f["fillPx"] and b["subType"] == f["subType"]
        assert b["type"] == {"104": "5", "105": "5", "106": "5", "107": "5",
                             "125": "9", "126": "9"}.get(f["subType"], "2")
        fee, chg = d(f["fee"]), equity_chg(b)
        if ins.kind == "option":
            premium = qf(fr(f["fillPx"]) * fr(f["fillSz"]) * ins.ct_mult * ins.ct_val, 10)
            assert chg == (-premium if f["side"] == "buy" else premium) + fee
            assert f["posSide"] == "net" and f["subType"] in ("1", "2")
            for k in ("fillPxVol", "fillPxUsd", "fillMarkVol", "fillFwdPx"):
                assert f[k] != ""
        else:
            assert chg == d(f["fillPnl"]) + fee
            assert f["fillPxVol"] == "" and f["fillMarkPx"] != ""
        if f["posSide"] == "net" and f["execType"]:
            assert f["subType"] == ("1" if f["side"] == "buy" else "2")
        elif f["execType"]:
            assert f["subType"] == {("long", "buy"): "3", ("short", "sell"): "4",
                                    ("long", "sell"): "5", ("short", "buy"): "6"}[
                (f["posSide"], f["side"])]


def _pos_key(p: dict[str, Any]) -> tuple[str, str]:
    return p["instId"], p["posSide"]


def check_positions(acct: SimAccount, r: Replay) -> None:
    derivs = {_pos_key(p): p for p in acct.positions if p["instType"] != "MARGIN"}
    assert set(derivs) == set(r.open)
    for key, life in r.open.items():
        p = derivs[key]
        pos = d(p["pos"])
        assert pos == (fd(life.qty) if key[1] == "net" else abs(fd(life.qty)))
        assert d(p["avgPx"]) == qf(life.avg, 8)
        assert d(p["pnl"]) == life.pnl and d(p["fee"]) == life.fee
        assert d(p["fundingFee"]) == life.funding and d(p["liqPenalty"]) == life.liq
        assert d(p["realizedPnl"]) == life.pnl + life.fee + life.funding + life.liq
        assert int(p["cTime"]) == life.c_time
        assert set(p) == set(SAMPLE_POSITION)


def check_positions_history(acct: SimAccount, r: Replay) -> None:
    rows = {(p["instId"], p["posSide"], int(p["cTime"])): p for p in acct.positions_history}
    assert len(rows) == len(acct.positions_history) == len(r.closed)
    for inst_id, side, life, closed_at in r.closed:
        p = rows[(inst_id, side, life.c_time)]
        assert set(p) == set(SAMPLE_POSITION_HISTORY)
        assert int(p["uTime"]) == closed_at
        assert d(p["pnl"]) == life.pnl and d(p["fee"]) == life.fee
        assert d(p["fundingFee"]) == life.funding and d(p["liqPenalty"]) == life.liq
        assert d(p["realizedPnl"]) == (d(p["pnl"]) + d(p["fee"]) + d(p["fundingFee"])
                                       + d(p["liqPenalty"]))
        assert d(p["openMaxPos"]) == fd(life.open_max) and d(p["closeTotalPos"]) == fd(life.closed)
        assert p["direction"] == life.direction and p["type"] == life.close_type
        assert p["settledPnl"] == ""
    # posId is reused when the same instrument and side reopen within 30 days
    by_pos = Counter(p["posId"] for p in acct.positions_history)
    assert by_pos.most_common(1)[0][1] > 1


def check_funding_schedule(h: History, acct: SimAccount, r: Replay) -> None:
    assert h.market is not None
    funding: dict[int, set[str]] = defaultdict(set)
    for b in acct.bills:
        if b["type"] == "8":
            funding[int(b["ts"])].add(b["instId"])
            assert int(b["ts"]) % (8 * HOUR) == 0 and b["instType"] == "SWAP"
    for boundary, open_keys in r.funding_sets.items():
        expected = {k[0] for k in open_keys
                    if h.market.funding_rate(k[0], boundary) != 0}
        assert funding.get(boundary, set()) == expected, boundary


def check_balance(acct: SimAccount) -> None:
    last: dict[str, str] = {}
    for b in acct.bills:
        last[b["ccy"]] = b["bal"]
    details = {x["ccy"]: x for x in acct.balance["details"]}
    assert {k: v["cashBal"] for k, v in details.items()} == {
        k: v for k, v in last.items() if d(v) != 0}
    assert set(acct.balance) == BALANCE_KEYS
    assert all(x["uTime"] == acct.balance["uTime"] for x in details.values())


# ------------------------------------------------------------------ tests


def test_every_invariant_both_position_modes(history: History, replays: tuple[Replay, Replay]) -> None:
    r1, r2 = replays
    assert r1.flips["SWAP"] > 0, "net mode should include position flips"
    assert r2.flips["SWAP"] == r2.flips["FUTURES"] == 0  # options are always net
    a1, a2 = history.accounts
    assert a1.config["posMode"] == "net_mode" and a2.config["posMode"] == "long_short_mode"
    assert {f["posSide"] for f in a1.fills} == {"net"}
    assert {f["posSide"] for f in a2.fills if f["instType"] in ("SWAP", "FUTURES")} == {
        "long", "short"}
    assert {"3", "4", "5", "6"} <= {f["subType"] for f in a2.fills}


def test_field_sets_match_okx_samples(history: History) -> None:
    acct = history.accounts[0]
    assert all(list(f) == list(SAMPLE_FILL) for f in acct.fills)
    assert all(set(b) == set(SAMPLE_BILL) for b in acct.bills)
    assert all(set(p) == set(SAMPLE_POSITION) for p in acct.positions)
    assert all(set(p) == set(SAMPLE_POSITION_HISTORY) for p in acct.positions_history)
    assert set(acct.config) == set(SAMPLE_CONFIG)
    assert all(set(i) == set(SAMPLE_INSTRUMENT) for i in history.instruments)
    assert acct.config["uid"] == acct.uid and acct.config["perm"] == "read_only"
    assert len(acct.uid) == 18 and acct.uid.isdigit()
    assert all(isinstance(i["instIdCode"], int) for i in history.instruments)


def test_demo_credentials_are_the_first_account(history: History) -> None:
    a = history.accounts[0]
    assert (a.api_key, a.secret, a.passphrase) == (
        DEMO_CREDENTIALS.api_key, DEMO_CREDENTIALS.secret, DEMO_CREDENTIALS.passphrase)
    assert DEMO_CREDENTIALS.api_key == "5f3c6a2e-8d41-4b7a-9c2e-0a1b2c3d4e5f"
    assert len(DEMO_CREDENTIALS.secret) == 32 and DEMO_CREDENTIALS.secret == DEMO_CREDENTIALS.secret.upper()
    int(DEMO_CREDENTIALS.secret, 16)
    assert DEMO_CREDENTIALS.passphrase == "Demo-Passphrase-1"
    assert history.account(a.api_key) is a and history.account("nope") is None
    assert history.accounts[1].api_key != a.api_key


def test_events_of_the_ledger_model(history: History) -> None:
    acct = history.accounts[0]
    kinds = Counter((b["type"], b["subType"]) for b in acct.bills)
    start = int(acct.bills[0]["ts"])
    first = acct.bills[:3]
    assert [(b["type"], b["subType"], b["from"], b["to"]) for b in first] == [("1", "11", "6", "18")] * 3
    assert {b["ccy"] for b in first} == {"USDT", "BTC", "ETH"}
    assert END - 80 * DAY == start
    assert kinds[("8", "173")] and kinds[("8", "174")] and kinds[("7", "9")]
    interest_ccys = {b["ccy"] for b in acct.bills if b["type"] == "7"}
    assert {"USDT", "BTC", "ETH"} <= interest_ccys, "MARGIN longs and shorts both pay interest"
    assert kinds[("3", "112")] and kinds[("3", "113")]
    assert kinds[("3", "170")] and kinds[("3", "171")] and kinds[("3", "172")]
    assert sum(v for (t, _s), v in kinds.items() if t == "5") >= 1
    assert sum(v for (t, _s), v in kinds.items() if t == "9") >= 1
    for b in acct.bills:
        if b["type"] == "7":
            # a long borrows USDT, a short the base coin: interest in what is borrowed
            assert int(b["ts"]) % HOUR == 0 and b["instType"] == "MARGIN"
            assert b["ccy"] in ("USDT", b["instId"].split("-")[0])
            assert d(b["balChg"]) < 0 and d(b["interest"]) == -d(b["balChg"])
        if b["type"] == "1":
            assert b["instId"] == "" and b["from"] in ("6", "18")
    liq = [p for p in acct.positions_history if p["type"] == "3"]
    assert liq and all(d(p["liqPenalty"]) < 0 and p["triggerPx"] for p in liq)
    # instrument mix (scale 3000): roughly 35/15/30/10/10
    mix = Counter(f["instType"] for f in acct.fills)
    assert len(acct.fills) == 3000
    for t, share in (("SPOT", 0.35), ("MARGIN", 0.15), ("SWAP", 0.30), ("FUTURES", 0.10),
                     ("OPTION", 0.10)):
        assert abs(mix[t] / 3000 - share) < 0.05, mix
    swaps = Counter(f["instId"] for f in acct.fills if f["instType"] == "SWAP")
    assert set(swaps) == {"BTC-USDT-SWAP", "ETH-USDT-SWAP", "BTC-USD-SWAP"}
    assert any(f["fee"].startswith("0.") or (d(f["fee"]) > 0) for f in acct.fills), "maker rebate"


def test_instruments_expired_and_live(history: History) -> None:
    insts = {i["instId"]: i for i in history.instruments}
    traded = {f["instId"] for a in history.accounts for f in a.fills}
    assert traded <= set(insts)
    assert set(insts) - traded, "a few untraded instruments"
    fut = [i for i in history.instruments if i["instType"] == "FUTURES"]
    opt = [i for i in history.instruments if i["instType"] == "OPTION"]
    assert any(int(i["expTime"]) < END for i in fut) and any(int(i["expTime"]) > END for i in fut)
    assert any(int(i["expTime"]) < END for i in opt) and any(int(i["expTime"]) > END for i in opt)
    assert {i["ctType"] for i in fut} == {"linear", "inverse"}
    for i in history.instruments:
        if i["instType"] in ("FUTURES", "OPTION"):
            exp = int(i["expTime"])
            for f in history.accounts[0].fills:
                if f["instId"] == i["instId"]:
                    assert int(f["ts"]) < exp
    # an option closed by trade (not only by expiry)
    acct = history.accounts[0]
    assert any(p["instType"] == "OPTION" and p["type"] == "2" and
               all(int(p["uTime"]) != int(i["expTime"]) for i in opt if i["instId"] == p["instId"])
               for p in acct.positions_history)


def test_prices_are_consistent_random_walks(history: History) -> None:
    acct = history.accounts[0]
    for f in acct.fills:
        if f["instId"] in ("BTC-USDT", "BTC-USDT-SWAP", "BTC-USD-SWAP"):
            assert 60000 < d(f["fillPx"]) < 100000
            assert abs(d(f["fillPx"]) / d(f["fillIdxPx"]) - 1) < Decimal("0.01")
        if f["instId"] in ("ETH-USDT", "ETH-USDT-SWAP"):
            assert 2000 < d(f["fillPx"]) < 5000
        if f["instType"] == "OPTION":
            assert 60000 < d(f["fillIdxPx"]) < 100000 or f["instId"].startswith("ETH")
            assert Decimal("0.0001") <= d(f["fillPx"]) < 1


def test_deterministic_for_a_seed() -> None:
    a = generate_history(seed=3, scale=400, end_ms=END, days=20)
    b = generate_history(seed=3, scale=400, end_ms=END, days=20)
    c = generate_history(seed=4, scale=400, end_ms=END, days=20)
    assert a.accounts[0].fills == b.accounts[0].fills and a.accounts[0].bills == b.accounts[0].bills
    assert a.accounts[0].positions == b.accounts[0].positions
    assert a.accounts[0].positions_history == b.accounts[0].positions_history
    assert a.instruments == b.instruments
    assert a.accounts[0].fills != c.accounts[0].fills


def test_extend_and_same_ms_burst_keep_invariants(extended: History) -> None:
    for acct in extended.accounts:
        check_account(extended, acct)
        assert len(acct.fills) == 1500 + 400 + 250 + 100
        burst_ts = Counter(f["ts"] for f in acct.fills).most_common(1)[0]
        assert burst_ts[1] == 250
        same = [b for b in acct.bills if b["ts"] == burst_ts[0]]
        assert len(same) >= 500
        assert len({b["billId"] for b in same}) == len(same)
        assert len({f["ordId"] for f in acct.fills if f["ts"] == burst_ts[0]}) == 1
    # extension added funding and interest for the new period too
    acct = extended.accounts[0]
    last_ts = int(acct.bills[-1]["ts"])
    assert last_ts > END - DAY
    assert any(b["type"] == "8" and int(b["ts"]) > END - 2 * DAY for b in acct.bills)


def test_save_load_round_trip_and_extend_after_load(tmp_path: Path) -> None:
    h = generate_history(seed=9, scale=300, end_ms=END, days=10, accounts=2)
    path = tmp_path / "history.json"
    save_history(h, path)
    loaded = load_history(path)
    for a, b in zip(h.accounts, loaded.accounts, strict=True):
        for name in ("uid", "api_key", "secret", "passphrase", "config", "fills", "bills",
                     "positions", "positions_history", "balance"):
            assert getattr(a, name) == getattr(b, name), name
    assert loaded.instruments == h.instruments
    h.extend(h.accounts[0], 50, end_ms=END + DAY)
    loaded.extend(loaded.accounts[0], 50, end_ms=END + DAY)
    assert h.accounts[0].bills == loaded.accounts[0].bills
    assert h.accounts[0].positions_history == loaded.accounts[0].positions_history
    check_account(loaded, loaded.accounts[0])


def test_partial_fills_and_flips_on_every_derivative_type(
    history: History, replays: tuple[Replay, Replay]
) -> None:
    """Orders filled in several fills (each fill with its own tradeId, billId, bills and
    fee: check_account verifies every fill's bills, fee and P&L, and the positions and
    positions-history they sum to) on every instrument type; net mode flips every kind of
    derivative, within one fill and as an order whose first fill closes exactly."""
    kinds = {("SWAP", "linear"), ("SWAP", "inverse"), ("FUTURES", "linear"),
             ("FUTURES", "inverse"), ("OPTION", "option")}
    for acct in history.accounts:
        by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for f in acct.fills:
            by_order[f["ordId"]].append(f)
        split = [fs for fs in by_order.values() if len(fs) > 1]
        assert {fs[0]["instType"] for fs in split} == {"SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"}
        assert {len(fs) for fs in split if fs[0]["instType"] == "SPOT"} >= {2, 3}
        for fs in split:
            assert len({(f["instId"], f["side"], f["ts"], f["execType"]) for f in fs}) == 1
            assert len({f["tradeId"] for f in fs}) == len({f["billId"] for f in fs}) == len(fs)
            bids = [int(f["billId"]) for f in fs]
            assert bids == sorted(bids)
            if fs[0]["instType"] in ("SPOT", "MARGIN"):  # one tick apart, sweeping the book
                pxs = [d(f["fillPx"]) for f in fs]
                assert pxs == sorted(pxs, reverse=fs[0]["side"] == "sell") and len(set(pxs)) == len(pxs)
    net, hedge = replays
    assert set(net.flip_kinds) == kinds, net.flip_kinds
    assert sum(net.split_flips.values()) >= 5, net.split_flips
    assert set(hedge.flip_kinds) == {("OPTION", "option")}  # options are net in both modes


def test_scale_is_the_exact_number_of_fills() -> None:
    # Speed is measured in bench/, not asserted here (timed tests flake on busy machines).
    h = generate_history(seed=1, scale=5_000, end_ms=END)
    assert len(h.accounts[0].fills) == 5_000
