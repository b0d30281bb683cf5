"""A generated, internally consistent OKX account history for the built-in simulator.

``generate_history(seed, scale)`` simulates a trading account (``acctLv 2``; derivatives
in cross and isolated margin) over ``days`` (default 80) days ending shortly before now,
and returns the records OKX would serve for it: fills, bills (the trading-account
ledger), open positions, closed position lives, a balance snapshot, the account config
and the instrument list, plus the funding account: its ledger (``funding_bills``,
``/asset/bills``), ``deposits`` and ``withdrawals`` (see ``_FundingLedger``). The same
seed, scale, ``days`` and ``end_ms`` always give the same history. Two-year histories
(``days=730``) take well under a second at ``scale=2000``.

What the account trades (about ``scale`` fills in all):

* SPOT (~35 %): ``BTC-USDT``, ``ETH-USDT``, ``ETH-BTC``. Fees 0.1 % taker / 0.08 % maker
  in the currency received, with the odd maker rebate. A SPOT sell never exceeds what
  earlier SPOT buys of that pair delivered, so first-in-first-out lots always cover it.
* MARGIN (~15 %): ``BTC-USDT``, ``ETH-USDT`` in cross margin, long (bought with borrowed
  USDT) or short (base borrowed and sold, bought back later, partly or at once); hourly
  interest bills (type 7) on what is borrowed, in the borrowed currency (USDT for a long,
  the base coin for a short). A buy that covers a short is sized so that what it
  receives after its base-currency fee closes the short exactly.
* Partial fills: about one random order in 6 is filled in several fills of one ``ordId``
  at the same ``ts``, each with its own ``tradeId``, ``billId``, bills and fee (SPOT/MARGIN:
  2 or 3 fills one tick apart, a buy sweeping up, a sell down; SWAP/FUTURES/OPTION: an
  order of 2+ contracts in two fills, half rounded down then the rest, at their own
  prices, whether it opens, adds, reduces, closes or flips the position; half of the split
  flips close exactly on the first fill and open the other side on the second). ``scale``
  still counts fills: the extra fills of an order take the place of later random orders.
* Derivative fees: 0.05 % taker / 0.02 % maker; about one maker fill in 15 of a swap or
  future earns a rebate of 0.005 % (a positive fee).
* SWAP (~30 %): linear ``BTC-USDT-SWAP`` and ``ETH-USDT-SWAP`` (settled in USDT) and
  inverse ``BTC-USD-SWAP`` (settled in BTC); funding every 8 h at 00:00/08:00/16:00 UTC
  on open positions; one liquidation and one auto-deleveraging (ADL).
* FUTURES (~10 %): linear ``BTC-USDT-<date>`` and inverse ``BTC-USD-<date>``: one pair
  that expired inside the history (open positions delivered at expiry) and one live pair.
* OPTION (~10 %): BTC and ETH options settled in coin: a call that expired in the money
  and was exercised (holder), a put that expired worthless (writer), a put exercised
  against the account (writer), plus live options traded and closed by trade.

Events in the ledger: transfers from the funding account (USDT, BTC, ETH at the start;
top-ups whenever a balance would drop too low; one transfer out), trades, funding,
interest, delivery, exercise, liquidation and ADL, following the ledger model of
``docs/DESIGN.md``. Account 1 uses ``net_mode`` (including position flips); a second
account (``accounts=2``) uses ``long_short_mode``. Prices follow one deterministic random
walk per underlying (BTC 62k-98k, ETH 2.1k-4.9k) shared by all accounts and products.

Conventions a consumer must know (also listed in ``CONVENTIONS``):

* Amounts are decimal strings, rounded half-even before the running balance is formed, so
  every bill satisfies ``bal = previous bal of that ccy + balChg`` exactly. Coin amounts
  of coin-settled derivatives (inverse swaps/futures, options: P&L, fees, premium,
  funding) have 10 decimals; everything else (USDT, spot/margin coin amounts) 8.
* ``fillPnl`` is computed against the position's average entry price: arithmetic mean of
  the opening prices for linear contracts and options, harmonic mean (``n / sum(n/px)``)
  for inverse contracts; reducing fills leave the average unchanged; it is then rounded
  as above. A net-mode flip gets ``fillPnl`` for the closed part only and its fee is split
  pro rata between the closed and the new position life.
* SPOT/MARGIN fills have two bills; the fill's ``billId`` is the base-currency leg, the
  quote leg has the next ``billId``. The quote leg's ``sz`` is ``fillSz * fillPx``
  rounded to 8 decimals.
* Option trade bills move the premium: ``balChg = -premium + fee`` on a buy, ``+premium +
  fee`` on a sell, with ``premium = fillPx * fillSz * ctMult * ctVal``; ``pnl`` carries
  ``fillPnl`` but is not part of ``balChg``. Exercise bills (type 3, 170/171/172) have
  ``px`` = settlement index price, ``sz`` = contracts, ``balChg`` = cash settled + fee and
  ``pnl`` = settlement value minus entry premium.
* Positions history ``fee`` includes delivery and exercise fees besides trade fees.
* Margin modes: about a third of derivative position lives (SWAP, FUTURES and OPTION, in
  both position modes) are isolated, chosen by a hash of instrument, side and opening time
  (so the choice consumes no random numbers). OKX books them in the position's balance
  (okx-api §4.2, the real funding capture in §10.5): an opening trade moves margin
  (10 % of the opened notional) from the account into the position (``balChg =
  -margin + fee`` (options: ``-premium + fee - margin``), ``posBalChg = +margin``);
  funding is paid from the position (``balChg 0``, ``posBalChg = pnl``); a close releases
  the margin pro rata (all of what is left on the last close, delivery, exercise,
  liquidation or ADL: ``balChg = pnl + fee + released``, ``posBalChg = -released``).
  ``posBal`` is the position's balance after the bill; cross bills have ``posBal`` and
  ``posBalChg`` "0". The account's ``bal`` chain holds in both modes.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

from sources.okx.credentials import OkxCredentials

__all__ = [
    "CONVENTIONS",
    "DEMO_CREDENTIALS",
    "History",
    "SimAccount",
    "generate_history",
    "load_history",
    "save_history",
]

# ------------------------------------------------------------------------------ constants

DEMO_CREDENTIALS = OkxCredentials(
    api_key="5f3c6a2e-8d41-4b7a-9c2e-0a1b2c3d4e5f",
    secret="7A3F9C2E5B8D4061A2C4E6F8091B3D5E",
    passphrase="Demo-Passphrase-1",
)
_SECOND_CREDENTIALS = OkxCredentials(
    api_key="9e1d7b3a-2c4f-4e6a-8b0d-1f2e3d4c5b6a",
    secret="C4E6F8091B3D5E7A3F9C2E5B8D4061A2",
    passphrase="Demo-Passphrase-2",
)

HOUR = 3_600_000
DAY = 86_400_000
FUNDING_INTERVAL = 8 * HOUR
ID_EPOCH = 1_500_000_000_000
POSID_REUSE_MS = 30 * DAY

COIN_DERIV_DP = 10
DEFAULT_DP = 8
CONVENTIONS: dict[str, Any] = {
    "rounding": "ROUND_HALF_EVEN",
    "coin_settled_derivative_dp": COIN_DERIV_DP,
    "default_dp": DEFAULT_DP,
    "avg_entry": "linear/option arithmetic mean, inverse harmonic mean; unchanged by reductions",
    "spot_fill_bill_id": "base-currency leg; quote leg = next billId",
    "option_trade_bal_chg": "-premium + fee (buy) / +premium + fee (sell)",
    "positions_history_fee": "trade fees + delivery/exercise fees (liquidation penalty in liqPenalty)",
    "spot_fee_rates": {"taker": "-0.001", "maker": "-0.0008", "maker_rebate": "0.0001"},
    "derivative_fee_rates": {"taker": "0.0005", "maker": "0.0002", "maker_rebate": "-0.00005"},
}

D0 = Decimal(0)
D1 = Decimal(1)
_QUANT = {dp: Decimal(1).scaleb(-dp) for dp in range(0, 16)}
SPOT_TAKER = Decimal("-0.001")
SPOT_MAKER = Decimal("-0.0008")
SPOT_REBATE = Decimal("0.0001")
DERIV_TAKER = Fraction("0.0005")
DERIV_MAKER = Fraction("0.0002")
_DERIV_TAKER_D = Decimal("0.0005")
_DERIV_MAKER_D = Decimal("0.0002")
DERIV_REBATE = Fraction("-0.00005")  # about one maker fill in 15 earns a rebate (fee > 0)
_DERIV_REBATE_D = Decimal("-0.00005")
OPTION_FEE = Fraction("0.0003")
OPTION_FEE_CAP = Fraction("0.125")
EXERCISE_FEE = Fraction("0.0002")
DELIVERY_FEE = Fraction("0.00015")
LIQ_PENALTY = Fraction("0.005")
HOURLY_INTEREST = Decimal("0.000005")
LEVER = Decimal(10)
#: share of isolated derivative position lives: crc32(inst_id|side|c_time) % 3 == 0
ISOLATED_ONE_IN = 3

INITIAL_FUNDS = {"USDT": Decimal(250000), "BTC": Decimal(3), "ETH": Decimal(40)}
FLOOR = {"USDT": Decimal(20000), "BTC": Decimal("0.3"), "ETH": Decimal(4)}

# Field sets of okx-api §10 (order as in the samples).
FILL_FIELDS = (
    "instType", "instId", "tradeId", "ordId", "clOrdId", "billId", "subType", "tag", "fillPx",
    "fillSz", "fillIdxPx", "fillPnl", "fillPxVol", "fillPxUsd", "fillMarkVol", "fillFwdPx",
    "fillMarkPx", "side", "posSide", "execType", "feeCcy", "fee", "ts", "fillTime", "feeRate",
    "tradeQuoteCcy",
)
BILL_FIELDS = (
    "bal", "balChg", "billId", "ccy", "clOrdId", "earnAmt", "earnApr", "execType", "fee",
    "fillFwdPx", "fillIdxPx", "fillMarkPx", "fillMarkVol", "fillPxUsd", "fillPxVol", "fillTime",
    "from", "instId", "instType", "interest", "mgnMode", "notes", "ordId", "pnl", "posBal",
    "posBalChg", "px", "subType", "sz", "tag", "to", "tradeId", "ts", "type",
)
POSITION_FIELDS = (
    "adl", "availPos", "avgPx", "baseBal", "baseBorrowed", "baseInterest", "bePx", "bizRefId",
    "bizRefType", "cTime", "ccy", "clSpotInUseAmt", "closeOrderAlgo", "deltaBS", "deltaPA", "fee",
    "fundingFee", "gammaBS", "gammaPA", "hedgedPos", "idxPx", "imr", "instId", "instType",
    "interest", "last", "lever", "liab", "liabCcy", "liqPenalty", "liqPx", "margin", "markPx",
    "maxSpotInUseAmt", "mgnMode", "mgnRatio", "mmr", "nonSettleAvgPx", "notionalUsd", "optVal",
    "pendingCloseOrdLiabVal", "pnl", "pos", "posCcy", "posId", "posSide", "quoteBal",
    "quoteBorrowed", "quoteInterest", "realizedPnl", "settledPnl", "spotInUseAmt",
    "spotInUseCcy", "thetaBS", "thetaPA", "tradeId", "uTime", "upl", "uplLastPx", "uplRatio",
    "uplRatioLastPx", "usdPx", "vegaBS", "vegaPA",
)
POSITION_HISTORY_FIELDS = (
    "cTime", "ccy", "closeAvgPx", "closeTotalPos", "instId", "instType", "lever", "mgnMode",
    "openAvgPx", "openMaxPos", "realizedPnl", "fee", "fundingFee", "liqPenalty", "pnl",
    "pnlRatio", "posId", "posSide", "direction", "triggerPx", "type", "uTime", "uly",
    "nonSettleAvgPx", "settledPnl",
)
INSTRUMENT_FIELDS = (
    "alias", "auctionEndTime", "baseCcy", "category", "contTdSwTime", "ctMult", "ctType", "ctVal",
    "ctValCcy", "expTime", "futureSettlement", "instFamily", "instId", "instIdCode", "instType",
    "lever", "listTime", "lotSz", "maxIcebergSz", "maxLmtAmt", "maxLmtSz", "maxMktAmt",
    "maxMktSz", "maxStopSz", "maxTriggerSz", "maxTwapSz", "minSz", "openType", "optType",
    "preMktSwTime", "quoteCcy", "ruleType", "settleCcy", "state", "stk", "tickSz",
    "tradeQuoteCcyList", "uly",
)
BALANCE_FIELDS = (
    "uTime", "totalEq", "isoEq", "adjEq", "availEq", "ordFroz", "imr", "mmr", "borrowFroz",
    "mgnRatio", "notionalUsd", "notionalUsdForBorrow", "notionalUsdForSwap",
    "notionalUsdForFutures", "notionalUsdForOption", "upl", "details",
)
BALANCE_DETAIL_FIELDS = (
    "ccy", "eq", "cashBal", "uTime", "isoEq", "availEq", "disEq", "fixedBal", "availBal",
    "frozenBal", "ordFrozen", "liab", "upl", "uplLiab", "crossLiab", "rewardBal", "isoLiab",
    "mgnRatio", "imr", "mmr", "interest", "twap", "frpType", "maxLoan", "eqUsd", "borrowFroz",
    "notionalLever", "stgyEq", "isoUpl", "spotInUseAmt", "clSpotInUseAmt", "maxSpotInUse",
    "spotIsoBal", "smtSyncEq", "spotCopyTradingEq", "spotBal", "openAvgPx", "accAvgPx",
    "spotUpl", "spotUplRatio", "totalPnl", "totalPnlRatio", "colRes", "colBorrAutoConversion",
    "collateralRestrict", "collateralEnabled", "autoLendStatus", "autoLendMtAmt",
)
CONFIG_SAMPLE: dict[str, Any] = {
    "acctLv": "2", "acctStpMode": "cancel_maker", "autoLoan": False, "ctIsoMode": "automatic",
    "enableSpotBorrow": False, "greeksType": "PA", "feeType": "0", "ip": "", "type": "0",
    "kycLv": "3", "label": "v5 test", "level": "Lv1", "levelTmp": "", "liquidationGear": "-1",
    "mainUid": "44705892343619584", "mgnIsoMode": "automatic", "opAuth": "1",
    "perm": "read_only,withdraw,trade", "posMode": "long_short_mode", "roleType": "0",
    "spotBorrowAutoRepay": False, "spotOffsetType": "", "spotRoleType": "0",
    "spotTraderInsts": [], "stgyType": "0", "traderInsts": [], "uid": "44705892343619584",
    "settleCcy": "USDC", "settleCcyList": ["USD", "USDC", "USDG"],
}


# ------------------------------------------------------------------------------ helpers


def q(x: Decimal, dp: int) -> Decimal:
    """Rounds half-even to ``dp`` decimals."""
    return x.quantize(_QUANT[dp], rounding=ROUND_HALF_EVEN)


_POW10 = {dp: 10**dp for dp in range(0, 16)}
F0 = Fraction(0)


def qx(x: Fraction, dp: int) -> Decimal:
    """Rounds an exact fraction half-even to ``dp`` decimals (no intermediate rounding)."""
    return Decimal(round(x * _POW10[dp])).scaleb(-dp)


def fmt(x: Decimal) -> str:
    """OKX-style decimal string: plain notation, no trailing zeros, never ``-0``."""
    t = str(x)
    if "E" in t:
        t = format(x, "f")
    if "." in t:
        t = t.rstrip("0").rstrip(".")
    if t == "-0":
        return "0"
    return t


def _dec_from_float(x: float, step: Decimal) -> Decimal:
    return Decimal(x).quantize(step, rounding=ROUND_HALF_EVEN)


class _FillRow:
    """Never used itself: its instances' ``__dict__`` share one key table (CPython), so a
    fill record costs about a third of the memory of a plain dict with the same content."""


class _HistRow:
    """As ``_FillRow``, for positions-history records."""


def _fill_record(values: tuple[str, ...]) -> dict[str, Any]:
    d: dict[str, Any] = _FillRow().__dict__
    d.update(zip(FILL_FIELDS, values, strict=True))
    return d


def _hist_record(values: tuple[str, ...]) -> dict[str, Any]:
    d: dict[str, Any] = _HistRow().__dict__
    d.update(zip(POSITION_HISTORY_FIELDS, values, strict=True))
    return d


class _Ids:
    """Snowflake-like ids: ``(ts - epoch) << 22`` plus a sequence, strictly increasing."""

    def __init__(self, last: int = 0) -> None:
        self.last = last

    def next(self, ts: int) -> str:
        v = max(self.last + 1, (ts - ID_EPOCH) << 22)
        self.last = v
        return str(v)


# ------------------------------------------------------------------------------ market


@dataclass(frozen=True)
class Spec:
    """One instrument as the generator uses it."""

    inst_type: str
    inst_id: str
    kind: str  # "spot" | "linear" | "inverse" | "option"
    und: str  # underlying coin whose index drives the price
    base: str
    quote: str
    settle: str
    ct_val: Decimal
    ct_mult: Decimal
    tick: Decimal
    lot: Decimal
    list_ms: int
    exp_ms: int = 0
    opt_type: str = ""
    strike: Decimal = D0
    family: str = ""
    code: int = 0
    traded: bool = True
    max_size: int = 0  # max contracts per random fill

    @property
    def dp(self) -> int:
        """Decimals of amounts in the settle currency."""
        if self.kind in ("inverse", "option"):
            return COIN_DERIV_DP
        return DEFAULT_DP

    def live(self, ts: int) -> bool:
        return self.list_ms <= ts and (self.exp_ms == 0 or ts < self.exp_ms)


def _spec_to_json(s: Spec) -> dict[str, Any]:
    return {
        "inst_type": s.inst_type, "inst_id": s.inst_id, "kind": s.kind, "und": s.und,
        "base": s.base, "quote": s.quote, "settle": s.settle, "ct_val": str(s.ct_val),
        "ct_mult": str(s.ct_mult), "tick": str(s.tick), "lot": str(s.lot),
        "list_ms": s.list_ms, "exp_ms": s.exp_ms, "opt_type": s.opt_type,
        "strike": str(s.strike), "family": s.family, "code": s.code, "traded": s.traded,
        "max_size": s.max_size,
    }


def _spec_from_json(d: dict[str, Any]) -> Spec:
    return Spec(
        inst_type=d["inst_type"], inst_id=d["inst_id"], kind=d["kind"], und=d["und"],
        base=d["base"], quote=d["quote"], settle=d["settle"], ct_val=Decimal(d["ct_val"]),
        ct_mult=Decimal(d["ct_mult"]), tick=Decimal(d["tick"]), lot=Decimal(d["lot"]),
        list_ms=d["list_ms"], exp_ms=d["exp_ms"], opt_type=d["opt_type"],
        strike=Decimal(d["strike"]), family=d["family"], code=d["code"], traded=d["traded"],
        max_size=d["max_size"],
    )


_WALK = {  # centre, low, high, hourly sigma
    "BTC": (80000.0, 62000.0, 98000.0, 0.006),
    "ETH": (3300.0, 2100.0, 4900.0, 0.008),
}
_VOL = {"BTC": 0.55, "ETH": 0.65}
#: decimals of the index prices served as candles (OKX: BTC-USD 1, ETH-USD 2)
_INDEX_DP = {"BTC": 1, "ETH": 2}
#: stablecoin indexes served only with ``Simulator(stablecoin_indexes=True)``
_STABLE_INDEXES = ("USDT", "USDC")


class Market:
    """Index prices (hourly random walk, linearly interpolated), funding rates, specs."""

    def __init__(self, seed: int, start_ms: int, end_ms: int) -> None:
        self.seed = seed
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.g0 = (start_ms // HOUR - 2) * HOUR
        self.grid: dict[str, list[float]] = {"BTC": [], "ETH": []}
        self.specs: dict[tuple[str, str], Spec] = {}
        self._funding: dict[tuple[str, int], Decimal] = {}
        self.grow(end_ms + 2 * HOUR)

    def grow(self, until_ms: int) -> None:
        """Extends the hourly grid (deterministically) to cover ``until_ms``."""
        btc, eth = self.grid["BTC"], self.grid["ETH"]
        need = (until_ms - self.g0) // HOUR + 2
        if len(btc) >= need:
            return
        rng = random.Random(f"okx-journal-grid-{self.seed}-{len(btc)}")
        if not btc:
            btc.append(_WALK["BTC"][0] * rng.uniform(0.92, 1.08))
            eth.append(_WALK["ETH"][0] * rng.uniform(0.9, 1.1))
        while len(btc) < need:
            z1 = rng.gauss(0.0, 1.0)
            z2 = 0.7 * z1 + 0.71 * rng.gauss(0.0, 1.0)
            for series, und, z in ((btc, "BTC", z1), (eth, "ETH", z2)):
                centre, lo, hi, sig = _WALK[und]
                x = math.log(series[-1])
                x += sig * z + 0.002 * (math.log(centre) - x)
                p = math.exp(x)
                if p < lo:
                    p = lo * lo / p
                elif p > hi:
                    p = hi * hi / p
                series.append(p)

    def index(self, und: str, ts: int) -> float:
        """Index price of ``und`` in USD at ``ts``."""
        off = ts - self.g0
        i, frac = divmod(off, HOUR)
        grid = self.grid[und]
        if i + 1 >= len(grid):
            self.grow(ts + HOUR)
            grid = self.grid[und]
        a = grid[i]
        return a + (grid[i + 1] - a) * (frac / HOUR)

    def stable_index(self, ccy: str, ts: int) -> float:
        """A stablecoin's USD index: within 0.0005 of 1, linear between hourly points."""
        def point(hour: int) -> float:
            return 1.0 + (zlib.crc32(f"{self.seed}-{ccy}-{hour}".encode()) % 11 - 5) / 10_000

        i, frac = divmod(ts, HOUR)
        a = point(i)
        return a + (point(i + 1) - a) * (frac / HOUR)

    def pair_index(self, spec: Spec, ts: int) -> float:
        """Index of a spot pair (ETH-BTC is the ETH/BTC ratio)."""
        if spec.quote == "BTC":
            return self.index("ETH", ts) / self.index("BTC", ts)
        return self.index(spec.base, ts)

    def funding_rate(self, inst_id: str, t: int) -> Decimal:
        key = (inst_id, t)
        r = self._funding.get(key)
        if r is None:
            rng = random.Random(f"okx-journal-funding-{self.seed}-{inst_id}-{t}")
            x = min(max(rng.gauss(0.0001, 0.00012), -0.0004), 0.00075)
            r = _dec_from_float(x, _QUANT[8])
            self._funding[key] = r
        return r

    def option_price(self, spec: Spec, ts: int, idx: float) -> float:
        """Black-Scholes premium in coin per unit of underlying."""
        k = float(spec.strike)
        t_years = max(spec.exp_ms - ts, HOUR) / (365.0 * DAY)
        vol = _VOL[spec.und]
        sd = vol * math.sqrt(t_years)
        d1 = (math.log(idx / k) + 0.5 * sd * sd) / sd
        d2 = d1 - sd

        def n(x: float) -> float:
            return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))

        if spec.opt_type == "C":
            usd = idx * n(d1) - k * n(d2)
        else:
            usd = k * n(-d2) - idx * n(-d1)
        return max(usd / idx, 0.0)

    def state(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "start_ms": self.start_ms, "end_ms": self.end_ms,
            "g0": self.g0, "grid": self.grid,
            "specs": [_spec_to_json(s) for s in self.specs.values()],
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> Market:
        m = cls.__new__(cls)
        m.seed = d["seed"]
        m.start_ms = d["start_ms"]
        m.end_ms = d["end_ms"]
        m.g0 = d["g0"]
        m.grid = {k: list(v) for k, v in d["grid"].items()}
        m.specs = {}
        for sd in d["specs"]:
            s = _spec_from_json(sd)
            m.specs[(s.inst_type, s.inst_id)] = s
        m._funding = {}
        return m


def _friday_0800(ms: int) -> int:
    """08:00 UTC of the Friday nearest to ``ms``."""
    d = datetime.fromtimestamp(ms / 1000, tz=UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    delta = (4 - d.weekday()) % 7
    if delta > 3:
        delta -= 7
    return int((d + timedelta(days=delta)).timestamp() * 1000)


def _yymmdd(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%y%m%d")


def _round_to(x: float, step: int) -> int:
    return max(step, int(round(x / step)) * step)


def _build_specs(m: Market) -> None:
    start, end = m.start_ms, m.end_ms
    span = end - start
    listed = start - 200 * DAY
    code = iter(range(10001, 20000))
    specs: list[Spec] = []

    def spot(inst_type: str, base: str, quote: str, tick: str, traded: bool = True) -> Spec:
        return Spec(inst_type, f"{base}-{quote}", "spot", base if quote != "BTC" else "ETH",
                    base, quote, "", D0, D0, Decimal(tick), Decimal("0.00000001"), listed,
                    code=next(code), traded=traded)

    specs += [
        spot("SPOT", "BTC", "USDT", "0.1"), spot("SPOT", "ETH", "USDT", "0.01"),
        spot("SPOT", "ETH", "BTC", "0.00001"), spot("SPOT", "SOL", "USDT", "0.01", False),
        spot("MARGIN", "BTC", "USDT", "0.1"), spot("MARGIN", "ETH", "USDT", "0.01"),
    ]

    def linear(inst_type: str, und: str, inst_id: str, ct_val: str, tick: str, exp: int,
               max_size: int, list_ms: int = listed, traded: bool = True) -> Spec:
        return Spec(inst_type, inst_id, "linear", und, "", "", "USDT", Decimal(ct_val), D1,
                    Decimal(tick), D1, list_ms, exp, family=f"{und}-USDT", code=next(code),
                    traded=traded, max_size=max_size)

    def inverse(inst_type: str, und: str, inst_id: str, ct_val: str, exp: int,
                max_size: int, list_ms: int = listed, traded: bool = True) -> Spec:
        return Spec(inst_type, inst_id, "inverse", und, "", "", und, Decimal(ct_val), D1,
                    Decimal("0.1") if und == "BTC" else Decimal("0.01"), D1, list_ms, exp,
                    family=f"{und}-USD", code=next(code), traded=traded, max_size=max_size)

    specs += [
        linear("SWAP", "BTC", "BTC-USDT-SWAP", "0.01", "0.1", 0, 60),
        linear("SWAP", "ETH", "ETH-USDT-SWAP", "0.1", "0.01", 0, 80),
        inverse("SWAP", "BTC", "BTC-USD-SWAP", "100", 0, 150),
        inverse("SWAP", "ETH", "ETH-USD-SWAP", "10", 0, 100, traded=False),
    ]
    e1 = _friday_0800(start + int(span * 0.4))
    if not start + HOUR < e1 < end - HOUR:
        e1 = (start + int(span * 0.4)) // HOUR * HOUR
    e2 = _friday_0800(end + 45 * DAY)
    for exp, list_ms in ((e1, start - 60 * DAY), (e2, start - 20 * DAY)):
        specs.append(linear("FUTURES", "BTC", f"BTC-USDT-{_yymmdd(exp)}", "0.01", "0.1", exp,
                            60, list_ms))
        specs.append(inverse("FUTURES", "BTC", f"BTC-USD-{_yymmdd(exp)}", "100", exp, 150,
                             list_ms))

    def option(und: str, exp: int, strike: int, opt_type: str, list_ms: int) -> Spec:
        return Spec("OPTION", f"{und}-USD-{_yymmdd(exp)}-{strike}-{opt_type}", "option", und,
                    "", "", und, D1, Decimal("0.01") if und == "BTC" else Decimal("0.1"),
                    Decimal("0.0001"), D1, list_ms, exp, opt_type, Decimal(strike),
                    family=f"{und}-USD", code=next(code), max_size=10)

    eo = _friday_0800(start + int(span * 0.55))
    if not start + HOUR < eo < end - HOUR:
        eo = (start + int(span * 0.55)) // HOUR * HOUR
    s_exp = m.index("BTC", eo)
    olist = start - 30 * DAY
    specs += [
        option("BTC", eo, _round_to(s_exp * 0.9, 1000), "C", olist),  # ITM: exercised (long)
        option("BTC", eo, _round_to(s_exp * 0.8, 1000), "P", olist),  # worthless (short)
        option("BTC", eo, _round_to(s_exp * 1.1, 1000) + 1000, "P", olist),  # ITM written
    ]
    lo = _friday_0800(end + 21 * DAY)
    p_end_btc, p_end_eth = m.index("BTC", end), m.index("ETH", end)
    specs += [
        option("BTC", lo, _round_to(p_end_btc * 1.05, 1000), "C", start - 2 * DAY),
        option("BTC", lo, _round_to(p_end_btc * 0.95, 1000), "P", start - 2 * DAY),
        option("ETH", lo, _round_to(p_end_eth * 0.95, 50), "P", start - 2 * DAY),
    ]
    m.specs = {(s.inst_type, s.inst_id): s for s in specs}


def _instrument_record(s: Spec) -> dict[str, Any]:
    is_spot = s.kind == "spot"
    uly = "" if is_spot else s.family
    rec: dict[str, Any] = {
        "alias": "", "auctionEndTime": "", "baseCcy": s.base if is_spot else "", "category": "1",
        "contTdSwTime": "", "ctMult": "" if is_spot else fmt(s.ct_mult),
        "ctType": s.kind if s.kind in ("linear", "inverse") else "",
        "ctVal": "" if is_spot else fmt(s.ct_val),
        "ctValCcy": "" if is_spot else ("USD" if s.kind == "inverse" else s.und),
        "expTime": str(s.exp_ms) if s.exp_ms else "", "futureSettlement": False,
        "instFamily": uly, "instId": s.inst_id, "instIdCode": s.code, "instType": s.inst_type,
        "lever": "" if s.kind == "option" else ("10" if is_spot else "100"),
        "listTime": str(s.list_ms), "lotSz": fmt(s.lot), "maxIcebergSz": "9999999999.0000000000000000",
        "maxLmtAmt": "20000000", "maxLmtSz": "100000000", "maxMktAmt": "1000000" if is_spot else "",
        "maxMktSz": "" if is_spot else "12000", "maxStopSz": "" if is_spot else "12000",
        "maxTriggerSz": "9999999999.0000000000000000", "maxTwapSz": "9999999999.0000000000000000",
        "minSz": "0.00001" if is_spot else fmt(s.lot), "openType": "", "optType": s.opt_type,
        "preMktSwTime": "", "quoteCcy": s.quote if is_spot else "", "ruleType": "normal",
        "settleCcy": s.settle, "state": "live", "stk": fmt(s.strike) if s.opt_type else "",
        "tickSz": fmt(s.tick), "tradeQuoteCcyList": [s.quote] if is_spot else [], "uly": uly,
    }
    return rec


# ------------------------------------------------------------------------------ state


@dataclass
class _Pos:
    """One derivative position life (state of an instrument and position side)."""

    inst_type: str
    inst_id: str
    side_key: str  # "net" | "long" | "short"
    pos_id: str
    c_time: int
    u_time: int
    qty: Decimal = D0  # signed: > 0 long, < 0 short
    avg: Fraction = F0  # exact average entry price
    open_n: Decimal = D0
    open_val: Decimal = D0  # linear/option: sum n*px; inverse: sum n/px
    close_n: Decimal = D0
    close_val: Decimal = D0
    open_max: Decimal = D0
    pnl: Decimal = D0
    fee: Decimal = D0
    funding: Decimal = D0
    liq: Decimal = D0
    last_type: str = "2"
    trigger_px: str = ""
    trade_id: str = ""
    direction: int = 0
    mgn_mode: str = "cross"
    iso_bal: Decimal = D0  # isolated: the position's balance (okx-api posBal)


@dataclass
class _Margin:
    inst_id: str
    pos_id: str
    c_time: int
    u_time: int
    qty: Decimal = D0  # signed: > 0 long, < 0 short (base coin borrowed and sold)
    cost: Decimal = D0  # quote spent on the current inventory (short: -proceeds; average cost)
    liab: Decimal = D0  # borrowed USDT (long)
    interest: Decimal = D0  # interest charged, in the borrowed currency
    trade_id: str = ""
    liab_base: Decimal = D0  # borrowed base coin (short)


_DEC_FIELDS_POS = ("qty", "open_n", "open_val", "close_n", "close_val", "open_max", "pnl",
                   "fee", "funding", "liq", "iso_bal")
_DEC_FIELDS_MARGIN = ("qty", "cost", "liab", "interest", "liab_base")


def _obj_to_json(o: Any) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal | Fraction) else v) for k, v in vars(o).items()}


# ------------------------------------------------------------------------------ public data


@dataclass
class SimAccount:
    """One simulated OKX account: its API key and every record the server serves."""

    uid: str
    api_key: str
    secret: str
    passphrase: str
    perm: str = "read_only"
    ip: str = ""
    demo: bool = False
    revoked: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    bills: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    positions_history: list[dict[str, Any]] = field(default_factory=list)
    balance: dict[str, Any] = field(default_factory=dict)
    #: funding-account ledger (``/asset/bills``), oldest first
    funding_bills: list[dict[str, Any]] = field(default_factory=list)
    #: ``/asset/deposit-history`` records, oldest first
    deposits: list[dict[str, Any]] = field(default_factory=list)
    #: ``/asset/withdrawal-history`` records, oldest first
    withdrawals: list[dict[str, Any]] = field(default_factory=list)
    engine: _Engine | None = field(default=None, repr=False, compare=False)


@dataclass
class History:
    """Every simulated account plus the instruments they traded (and a few untraded)."""

    accounts: list[SimAccount]
    instruments: list[dict[str, Any]]
    market: Market | None = field(default=None, repr=False, compare=False)
    #: ``public/funding-rate-history`` records of a recorded history (one without
    #: ``market``); a generated history computes them from its market instead
    funding_rates: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def account(self, api_key: str) -> SimAccount | None:
        for a in self.accounts:
            if a.api_key == api_key:
                return a
        return None

    def funding_rate_history(self, inst_id: str, lo_ms: int, hi_ms: int) -> list[dict[str, Any]] | None:
        """``public/funding-rate-history`` records of a SWAP with ``lo_ms <= fundingTime
        <= hi_ms``, oldest first; None when the history knows no such SWAP.

        The realised rate is the one the history's funding bills were charged at (a long
        position pays ``notional * rate``, a short one receives it).
        """
        if self.market is None:
            rows = [r for r in self.funding_rates if r.get("instId") == inst_id]
            if not rows and not any(i.get("instType") == "SWAP" and i.get("instId") == inst_id
                                    for i in self.instruments):
                return None
            rows = [r for r in rows if lo_ms <= int(r.get("fundingTime") or 0) <= hi_ms]
            return sorted(rows, key=lambda r: int(r["fundingTime"]))
        spec = self.market.specs.get(("SWAP", inst_id))
        if spec is None:
            return None
        first = max(lo_ms, spec.list_ms)
        t = -(-first // FUNDING_INTERVAL) * FUNDING_INTERVAL
        out: list[dict[str, Any]] = []
        while t <= hi_ms:
            rate = fmt(self.market.funding_rate(inst_id, t))
            out.append({"formulaType": "noRate", "fundingRate": rate, "fundingTime": str(t),
                        "instId": inst_id, "instType": "SWAP", "method": "current_period",
                        "realizedRate": rate})
            t += FUNDING_INTERVAL
        return out

    def index_candles(self, inst_id: str, bar_ms: int, offset_ms: int, lo_ms: int, hi_ms: int,
                      now_ms: int, *, stablecoins: bool = False,
                      usdt_only: Iterable[str] = ()) -> list[list[str]] | None:
        """``market/history-index-candles`` bars of an index, oldest first; None when the
        history knows no such index.

        Bars of ``bar_ms`` whose open time ``ts`` (aligned so that ``(ts - offset_ms) %
        bar_ms == 0``) lies in ``[lo_ms, hi_ms]`` and not after ``now_ms``, from the
        market's start on. Each bar is ``[ts, o, h, l, c, confirm]`` (strings) read off the
        price path the fills were generated from: the index is linear between its hourly
        points, so ``o`` is the index at ``ts``, ``c`` at the bar's end (or now, for the bar
        still open: ``confirm`` "0"), ``h``/``l`` the extremes of the points in between.
        ``BTC-USD`` and ``ETH-USD`` exist; ``USDT-USD`` and ``USDC-USD`` (a path within
        0.0005 of 1) only with ``stablecoins``; a currency of ``usdt_only`` has no ``-USD``
        index. ``BTC-USDT`` and ``ETH-USDT`` exist too: the same path divided by
        ``USDT-USD``'s (by 1 without ``stablecoins``).
        """
        if self.market is None:
            return None
        und, _, quote = inst_id.partition("-")
        usdt_only = frozenset(usdt_only)
        if quote == "USDT":
            if und not in self.market.grid:
                return None
        elif quote != "USD" or und in usdt_only or (
                und not in self.market.grid and not (stablecoins and und in _STABLE_INDEXES)):
            return None
        market = self.market

        def px(t: int) -> float:
            if und in _STABLE_INDEXES:
                return market.stable_index(und, t)
            if quote == "USDT" and stablecoins:
                return market.index(und, t) / market.stable_index("USDT", t)
            return market.index(und, t)

        step = _QUANT[_INDEX_DP.get(und, 4)]
        first = max(lo_ms, market.g0)
        ts = first + (-(first - offset_ms) % bar_ms)
        out: list[list[str]] = []
        while ts <= min(hi_ms, now_ms):
            end = min(ts + bar_ms, now_ms)
            points = [ts, end]
            t = (ts // HOUR + 1) * HOUR
            while t < end:
                points.append(t)
                t += HOUR
            values = [px(t) for t in points]
            o, c = values[0], values[1]
            out.append([str(ts), *(str(_dec_from_float(v, step))
                                   for v in (o, max(values), min(values), c)),
                        "1" if ts + bar_ms <= now_ms else "0"])
            ts += bar_ms
        return out

    def _engine(self, account: SimAccount) -> _Engine:
        if account.engine is None or self.market is None:
            raise ValueError("this history has no simulation state (hand-built or recorded data)")
        return account.engine

    def extend(self, account: SimAccount, n_fills: int, *, end_ms: int | None = None) -> None:
        """Adds ``n_fills`` random fills (with funding, interest... due) after the current end."""
        eng = self._engine(account)
        start = eng.now
        if end_ms is None:
            end_ms = start + max(HOUR, n_fills * 30_000)
        if end_ms <= start:
            raise ValueError("end_ms must be after the account's current end")
        with localcontext() as ctx:
            ctx.prec = 50
            rng = random.Random(f"okx-journal-extend-{eng.seed}-{account.uid}-{len(account.bills)}")
            eng.rng = rng
            times = sorted(rng.randrange(start + 1, end_ms + 1) for _ in range(n_fills))
            eng.run(times, end_ms)
            eng.snapshot()

    def add_same_ms_burst(self, account: SimAccount, n: int, *, ts_ms: int | None = None) -> None:
        """Adds ``n`` SPOT fills of one market order (and their bills), all at one ``ts``."""
        eng = self._engine(account)
        ts = ts_ms if ts_ms is not None else eng.now + 1000
        if ts < eng.now:
            raise ValueError("ts_ms must not be before the account's current end")
        with localcontext() as ctx:
            ctx.prec = 50
            eng.rng = random.Random(f"okx-journal-burst-{eng.seed}-{account.uid}-{len(account.bills)}")
            eng.burst(n, ts)
            eng.snapshot()


# ------------------------------------------------------------------------------ funding account

#: ``/asset/bills`` record fields (okx-api §3.11)
FUNDING_BILL_FIELDS = ("billId", "ccy", "clientId", "balChg", "bal", "type", "notes", "ts")
#: ``/asset/deposit-history`` record fields (okx-api §3.11)
DEPOSIT_FIELDS = ("ccy", "chain", "amt", "from", "areaCodeFrom", "to", "txId", "ts", "state",
                  "depId", "fromWdId", "actualDepBlkConfirm")
#: ``/asset/withdrawal-history`` record fields (okx-api §3.11)
WITHDRAWAL_FIELDS = ("ccy", "chain", "nonTradableAsset", "amt", "ts", "from", "areaCodeFrom",
                     "to", "areaCodeTo", "toAddrType", "tag", "pmtId", "memo", "addrEx", "txId",
                     "fee", "feeCcy", "state", "wdId", "clientId", "note")
#: funding bill types used (okx-api §3.11): deposit, withdrawal, cancelled withdrawal,
#: "from trading account" (money arrives in funding), "to trading account" (money leaves)
FUNDING_DEPOSIT, FUNDING_WITHDRAWAL, FUNDING_WD_CANCEL = "1", "2", "13"
FUNDING_FROM_TRADING, FUNDING_TO_TRADING = "130", "131"
CHAINS = {"USDT": "USDT-TRC20", "BTC": "BTC-Bitcoin", "ETH": "ETH-ERC20"}
WITHDRAWAL_FEES = {"USDT": Decimal("1"), "BTC": Decimal("0.0002"), "ETH": Decimal("0.0015")}
_FUNDING_DP = {"USDT": 2, "BTC": 4, "ETH": 4}
_DEPOSIT_RANGE = {"USDT": (1000, 60000), "BTC": (0.05, 2.0), "ETH": (0.5, 25.0)}
_MINUTE = 60_000
#: a scheduled funding activity is emitted only once this much time is free after it (so a
#: cancelled withdrawal's refund, at most 30 s later, precedes the next funding record)
_ACTIVITY_ROOM = _MINUTE


class _FundingIds(_Ids):
    """Funding-bill ids: the trading ledger's snowflake shape, offset by 2**21, so a funding
    bill never shares a ``billId`` with a trading bill of the same millisecond."""

    def next(self, ts: int) -> str:
        v = max(self.last + 1, ((ts - ID_EPOCH) << 22) + (1 << 21))
        self.last = v
        return str(v)


class _FundingLedger:
    """The funding account (``6``) of one simulated account, kept consistent with its
    trading ledger.

    * every trading transfer bill (type 1, subType 11 ``from 6 to 18`` / 12 ``from 18 to 6``)
      gets a mirror funding bill at the same ``ts`` with the opposite sign: type ``131``
      "to trading account" (funding debited) for a transfer into trading, ``130`` "from
      trading account" (funding credited) for a transfer out of it *[choice: read from
      okx-api §3.11 "130/131 from/to trading account", i.e. named from the funding
      account's side; OKX's own labels are "Transferred from/to Trading account"]*;
    * before the first transfer, one on-chain deposit per starting currency (USDT, BTC,
      ETH; 1-6 h earlier) funds the account; later, a transfer into trading that the
      funding balance cannot cover is preceded (5 min to 2 h earlier, never before the
      previous funding record, so possibly in the same ms) by an on-chain deposit of the
      missing amount plus a random extra. A deposit is a funding bill type ``1`` + a
      deposit-history record with ``state "2"`` (successful) and the same ``ts``
      *[choice: credited at once; OKX's ``ts`` is when the deposit was seen]*;
    * besides, every 2-12 days (from the history's start) a deposit (on-chain, or one in
      five internal: ``from`` an e-mail, no ``txId``) or a withdrawal (funding bill type
      ``2`` with ``balChg = -(amt + fee)``, withdrawal-history record with ``fee``/``feeCcy``;
      ``state "2"`` success, one in six ``"-2"`` cancelled: its ``2`` debit is refunded by
      a type ``13`` bill 1-30 s later and it has no ``txId``);
    * ``bal`` chains per currency over the funding bills (``bal = previous bal + balChg``)
      and never goes negative; funding ``ts`` never decreases along ``billId``.

    Randomness comes from ``random.Random`` instances derived from the seed, the uid and
    an event counter, never from the engine's ``rng``: adding the funding account did not
    change any trading record.
    """

    def __init__(self, acct: SimAccount, seed: int, start_ms: int) -> None:
        self.acct = acct
        self.seed = seed
        self.ids = _FundingIds()
        self.bal: dict[str, Decimal] = {}
        self.last_ts = 0
        self.n_need = 0
        self.n_sched = 0
        self.next_at = start_ms + self._gap(0)
        self.seq = 0

    # ---------------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        return {"ids": self.ids.last, "bal": {k: str(v) for k, v in self.bal.items()},
                "last_ts": self.last_ts, "n_need": self.n_need, "n_sched": self.n_sched,
                "next_at": self.next_at, "seq": self.seq}

    @classmethod
    def from_state(cls, acct: SimAccount, seed: int, start_ms: int, now: int,
                   d: dict[str, Any] | None) -> _FundingLedger:
        f = cls(acct, seed, start_ms)
        if d is None:  # saved before the funding account existed: carry on from ``now``
            f.last_ts = now
            f.next_at = now + f._gap(0)
            return f
        f.ids.last = d["ids"]
        f.bal = {k: Decimal(v) for k, v in d["bal"].items()}
        f.last_ts, f.n_need, f.n_sched = d["last_ts"], d["n_need"], d["n_sched"]
        f.next_at, f.seq = d["next_at"], d["seq"]
        return f

    # ---------------------------------------------------------------- helpers
    def _rng(self, kind: str, n: int) -> random.Random:
        return random.Random(f"okx-journal-asset-{self.seed}-{self.acct.uid}-{kind}-{n}")

    def _gap(self, k: int) -> int:
        return self._rng("gap", k).randrange(2 * DAY, 12 * DAY)

    def _bill(self, ts: int, type_: str, ccy: str, chg: Decimal) -> dict[str, Any]:
        bal = self.bal.get(ccy, D0) + chg
        if bal < 0:  # pragma: no cover - guarded by the callers
            raise AssertionError(f"funding balance of {ccy} would go negative")
        self.bal[ccy] = bal
        self.last_ts = max(self.last_ts, ts)
        b = {"billId": self.ids.next(ts), "ccy": ccy, "clientId": "", "balChg": fmt(chg),
             "bal": fmt(bal), "type": type_, "notes": "", "ts": str(ts)}
        self.acct.funding_bills.append(b)
        return b

    def _next_id(self) -> str:
        self.seq += 1
        return str(150_000_000 + self.seq * 1_013)

    @staticmethod
    def _address(rng: random.Random, ccy: str) -> str:
        if ccy == "USDT":
            alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
            return "T" + "".join(rng.choice(alphabet) for _ in range(33))
        if ccy == "BTC":
            return "bc1q" + "".join(rng.choice("023456789acdefghjklmnpqrstuvwxyz") for _ in range(38))
        return f"0x{rng.getrandbits(160):040x}"

    def _deposit(self, rng: random.Random, ts: int, ccy: str, amt: Decimal,
                 internal: bool = False) -> None:
        self._bill(ts, FUNDING_DEPOSIT, ccy, amt)
        rec = dict.fromkeys(DEPOSIT_FIELDS, "")
        rec.update({
            "ccy": ccy, "chain": CHAINS.get(ccy, f"{ccy}-{ccy}"), "amt": fmt(amt),
            "to": self._address(rng, ccy), "ts": str(ts), "state": "2", "depId": self._next_id(),
            "actualDepBlkConfirm": "" if internal else str(rng.randrange(2, 60)),
        })
        if internal:
            rec.update({"from": f"{'abcdefgh'[rng.randrange(8)]}***@example.com",
                        "fromWdId": self._next_id()})
        else:
            rec["txId"] = f"{rng.getrandbits(256):064x}"
        self.acct.deposits.append(rec)

    def _withdraw(self, rng: random.Random, ts: int, ccy: str, amt: Decimal,
                  cancelled: bool) -> None:
        fee = WITHDRAWAL_FEES.get(ccy, D0)
        self._bill(ts, FUNDING_WITHDRAWAL, ccy, -(amt + fee))
        rec: dict[str, Any] = dict.fromkeys(WITHDRAWAL_FIELDS, "")
        rec.update({
            "ccy": ccy, "chain": CHAINS.get(ccy, f"{ccy}-{ccy}"), "nonTradableAsset": False,
            "amt": fmt(amt), "ts": str(ts), "to": self._address(rng, ccy), "toAddrType": "1",
            "addrEx": None, "txId": "" if cancelled else f"{rng.getrandbits(256):064x}",
            "fee": fmt(fee), "feeCcy": ccy, "state": "-2" if cancelled else "2",
            "wdId": self._next_id(),
        })
        self.acct.withdrawals.append(rec)
        if cancelled:
            self._bill(ts + rng.randrange(1_000, 30_000), FUNDING_WD_CANCEL, ccy, amt + fee)

    # ---------------------------------------------------------------- events
    def flush(self, until: int) -> None:
        """Emits the scheduled deposits/withdrawals due before ``until`` (with room after)."""
        while self.next_at + _ACTIVITY_ROOM < until:
            ts = max(self.next_at, self.last_ts + 1)
            rng = self._rng("act", self.n_sched)
            ccy = rng.choices(("USDT", "BTC", "ETH"), (3, 1, 1))[0]
            dp = _FUNDING_DP[ccy]
            fee = WITHDRAWAL_FEES[ccy]
            avail = self.bal.get(ccy, D0) - fee
            share = Decimal(rng.randrange(10, 61)) / 100
            amt = (avail * share).quantize(_QUANT[dp], rounding=ROUND_DOWN) if avail > 0 else D0
            if rng.random() < 0.55 or amt <= 0:
                lo, hi = _DEPOSIT_RANGE[ccy]
                dep = _dec_from_float(rng.uniform(lo, hi), _QUANT[dp])
                self._deposit(rng, ts, ccy, dep, internal=rng.random() < 0.2)
            else:
                self._withdraw(rng, ts, ccy, amt, cancelled=rng.random() < 1 / 6)
            self.n_sched += 1
            self.next_at += self._gap(self.n_sched)

    def _opening_deposits(self, ts: int) -> None:
        """Before the first transfer: one deposit per currency of ``INITIAL_FUNDS`` (the
        amount plus up to 50 %), 1-6 h before it, one minute apart at least."""
        rng = self._rng("opening", 0)
        offsets = sorted((rng.randrange(HOUR, 6 * HOUR) for _ in INITIAL_FUNDS), reverse=True)
        prev = 0
        for (ccy, amt), off in zip(INITIAL_FUNDS.items(), offsets, strict=True):
            at = max(ts - off, prev + _MINUTE)
            prev = at
            extra = _dec_from_float(float(amt) * rng.uniform(0.0, 0.5), _QUANT[_FUNDING_DP[ccy]])
            self._deposit(rng, at, ccy, amt + extra)

    def mirror(self, ccy: str, amt: Decimal, ts: int) -> None:
        """The funding side of a trading transfer of ``amt`` (> 0 into trading) at ``ts``."""
        if not self.acct.funding_bills:
            self._opening_deposits(ts)
        self.flush(ts)
        if amt > 0:
            have = self.bal.get(ccy, D0)
            if have < amt:
                rng = self._rng("need", self.n_need)
                self.n_need += 1
                extra = D0
                if ccy in INITIAL_FUNDS:
                    extra = _dec_from_float(float(INITIAL_FUNDS[ccy]) * rng.uniform(0.0, 0.5),
                                            _QUANT[_FUNDING_DP.get(ccy, 8)])
                dep_ts = min(ts, max(self.last_ts + 1, ts - rng.randrange(5 * _MINUTE, 2 * HOUR)))
                self._deposit(rng, dep_ts, ccy, amt - have + extra)
            self._bill(ts, FUNDING_TO_TRADING, ccy, -amt)
        else:
            self._bill(ts, FUNDING_FROM_TRADING, ccy, -amt)


# ------------------------------------------------------------------------------ engine


_CATEGORIES = (("SPOT", 35), ("MARGIN", 15), ("SWAP", 30), ("FUTURES", 10), ("OPTION", 10))
_SWAP_WEIGHTS = {"BTC-USDT-SWAP": 4, "ETH-USDT-SWAP": 3, "BTC-USD-SWAP": 3}

# heap priorities for events at the same ms
_P_EXPIRY, _P_FUNDING, _P_INTEREST, _P_FORCE = 0, 1, 2, 3


class _Engine:
    """Simulates one account; every record is appended to the ``SimAccount`` lists."""

    def __init__(self, market: Market, acct: SimAccount, seed: int, net: bool) -> None:
        self.m = market
        self.acct = acct
        self.seed = seed
        self.net = net
        self.rng = random.Random(f"okx-journal-account-{seed}-{acct.uid}")
        self.fund = _FundingLedger(acct, seed, market.start_ms)
        self.bill_ids = _Ids()
        self.ord_ids = _Ids()
        self.pos_ids = _Ids()
        self.trade_ids: dict[str, int] = {}
        self.bal: dict[str, Decimal] = {}
        self.pos: dict[tuple[str, str], _Pos] = {}
        self.pos_memory: dict[str, list[Any]] = {}  # "inst|side" -> [posId, closed_at]
        self.margin: dict[str, _Margin] = {}
        self.spot_inv: dict[str, Decimal] = {}
        self.locks: dict[str, list[int]] = {}
        self.heap: list[list[Any]] = []
        self.seq = 0
        self.now = market.start_ms
        #: fills an order may add beyond its first (see ``run``)
        self.spare = 0
        self._ctvm_cache: dict[str, Fraction] = {}
        self._by_cat: dict[str, list[Spec]] = {c: [] for c, _w in _CATEGORIES}
        for sp in market.specs.values():
            if sp.traded:
                self._by_cat[sp.inst_type].append(sp)

    # ---------------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "net": self.net, "bill_ids": self.bill_ids.last,
            "ord_ids": self.ord_ids.last, "pos_ids": self.pos_ids.last,
            "trade_ids": self.trade_ids, "bal": {k: str(v) for k, v in self.bal.items()},
            "pos": [_obj_to_json(p) for p in self.pos.values()],
            "pos_memory": self.pos_memory,
            "margin": [_obj_to_json(p) for p in self.margin.values()],
            "spot_inv": {k: str(v) for k, v in self.spot_inv.items()},
            "locks": self.locks, "heap": self.heap, "seq": self.seq, "now": self.now,
            "funding": self.fund.state(),
        }

    @classmethod
    def from_state(cls, market: Market, acct: SimAccount, d: dict[str, Any]) -> _Engine:
        e = cls(market, acct, d["seed"], d["net"])
        e.bill_ids.last, e.ord_ids.last, e.pos_ids.last = d["bill_ids"], d["ord_ids"], d["pos_ids"]
        e.trade_ids = dict(d["trade_ids"])
        e.bal = {k: Decimal(v) for k, v in d["bal"].items()}
        for pd in d["pos"]:
            kw: dict[str, Any] = {k: (Decimal(v) if k in _DEC_FIELDS_POS else v) for k, v in pd.items()}
            kw["avg"] = Fraction(pd["avg"])
            p = _Pos(**kw)
            e.pos[(p.inst_id, p.side_key)] = p
        e.pos_memory = {k: list(v) for k, v in d["pos_memory"].items()}
        for md in d["margin"]:
            kwm: dict[str, Any] = {k: (Decimal(v) if k in _DEC_FIELDS_MARGIN else v)
                                   for k, v in md.items()}
            mg = _Margin(**kwm)
            e.margin[mg.inst_id] = mg
        e.spot_inv = {k: Decimal(v) for k, v in d["spot_inv"].items()}
        e.locks = {k: list(v) for k, v in d["locks"].items()}
        e.heap = [list(h) for h in d["heap"]]
        heapq.heapify(e.heap)
        e.seq, e.now = d["seq"], d["now"]
        e.fund = _FundingLedger.from_state(acct, e.seed, market.start_ms, e.now, d.get("funding"))
        return e

    # ---------------------------------------------------------------- scheduling
    def push(self, ts: int, prio: int, kind: str, payload: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, [ts, prio, self.seq, kind, payload])

    def setup(self, n_random: int, end_ms: int) -> list[int]:
        """Initial transfers, recurring and scripted events; returns the random fill times."""
        m, rng = self.m, self.rng
        start = m.start_ms
        for ccy, amt in INITIAL_FUNDS.items():
            self._transfer(ccy, amt, start)
        self.push((start // FUNDING_INTERVAL + 1) * FUNDING_INTERVAL, _P_FUNDING, "funding")
        self.push((start // HOUR + 1) * HOUR, _P_INTEREST, "interest")
        for s in m.specs.values():
            if s.exp_ms and s.traded:
                self.push(s.exp_ms, _P_EXPIRY, "expiry", [s.inst_type, s.inst_id])
        span = end_ms - start
        lo = start + 60_000

        def at(ts: int) -> int:
            return max(lo, min(ts, end_ms - 1))

        # expiring contracts: hold a position into expiry (delivery / exercise / worthless)
        expired = [s for s in m.specs.values() if s.exp_ms and s.exp_ms < end_ms and s.traded]
        for s in expired:
            if s.kind == "linear":
                direction = 1
            elif s.kind == "inverse":
                direction = -1
            elif s.opt_type == "C":
                direction = 1  # long ITM call: exercised (170)
            else:
                direction = -1  # short puts: worthless (172) and exercised against (171)
            t = at(s.exp_ms - rng.randrange(2 * HOUR, 6 * HOUR))
            self._scripted(s, t, s.exp_ms, direction, None)
        # liquidation and ADL on swaps, direction chosen by the (known) path
        liq_t = at(start + int(span * 0.62))
        liq_open = at(liq_t - 6 * HOUR)
        up = m.index("BTC", liq_t) > m.index("BTC", liq_open)
        self._scripted(m.specs[("SWAP", "BTC-USDT-SWAP")], liq_open, liq_t,
                       -1 if up else 1, "liq", size=Decimal(200))
        adl_t = at(start + int(span * 0.8))
        adl_open = at(adl_t - 4 * HOUR)
        up = m.index("ETH", adl_t) > m.index("ETH", adl_open)
        self._scripted(m.specs[("SWAP", "ETH-USDT-SWAP")], adl_open, adl_t,
                       1 if up else -1, "adl", size=Decimal(150))
        self.push(at(start + span // 2), _P_FORCE, "transfer_out", None)
        n_scripted = sum(1 for h in self.heap if h[3] in ("position", "liq", "adl"))
        n = max(0, n_random - n_scripted)
        return sorted(rng.randrange(lo, end_ms + 1) for _ in range(n))

    def _scripted(self, s: Spec, t_open: int, t_end: int, direction: int, final: str | None,
                  size: Decimal | None = None) -> None:
        side_key = "net" if (self.net or s.kind == "option") else ("long" if direction > 0 else "short")
        self.locks[s.inst_id] = [t_open, t_end]
        self.push(t_open, _P_FORCE, "position",
                  [s.inst_type, s.inst_id, side_key, direction, str(size) if size else ""])
        if final:
            self.push(t_end, _P_FORCE, final, [s.inst_type, s.inst_id, side_key])

    def advance(self, ts: int) -> None:
        """Processes every scheduled event at or before ``ts``."""
        heap = self.heap
        while heap and heap[0][0] <= ts:
            t, _prio, _seq, kind, payload = heapq.heappop(heap)
            self.now = max(self.now, t)
            if kind == "funding":
                self._funding(t)
                self.push(t + FUNDING_INTERVAL, _P_FUNDING, "funding")
            elif kind == "interest":
                self._interest(t)
                self.push(t + HOUR, _P_INTEREST, "interest")
            elif kind == "expiry":
                self._expiry(t, self.m.specs[(payload[0], payload[1])])
            elif kind == "position":
                self._force_position(t, payload)
            elif kind in ("liq", "adl"):
                s = self.m.specs[(payload[0], payload[1])]
                p = self.pos.get((s.inst_id, payload[2]))
                if p is not None and p.qty != 0:
                    self._deriv_trade(s, payload[2], -p.qty, t, "", mode=kind)
            elif kind == "transfer_out":
                amt = q(self.bal.get("USDT", D0) * Decimal("0.1"), 2)
                if amt > 0 and self.bal["USDT"] - amt > FLOOR["USDT"]:
                    self._transfer("USDT", -amt, t)
        self.now = max(self.now, ts)

    def run(self, times: list[int], end_ms: int) -> None:
        """One random order per drawn time; an order filled in ``k`` fills uses up the next
        ``k - 1`` times, so the random fills number ``len(times)`` exactly."""
        fills = self.acct.fills
        i = 0
        while i < len(times):
            ts = times[i]
            self.advance(ts)
            self.spare = len(times) - i - 1
            before = len(fills)
            self._random_fill(ts)
            self.spare = 0
            i += max(1, len(fills) - before)
        self.advance(end_ms)
        self.fund.flush(end_ms)

    # ---------------------------------------------------------------- random policy
    def _random_fill(self, ts: int) -> None:
        rng = self.rng
        r = rng.random() * 100
        acc = 0
        cat = "SPOT"
        for c, w in _CATEGORIES:
            acc += w
            if r < acc:
                cat = c
                break
        locks = self.locks
        cands = [s for s in self._by_cat[cat] if s.list_ms <= ts and (s.exp_ms == 0 or ts < s.exp_ms)
                 and (s.inst_id not in locks or not self._locked(s, ts))]
        if not cands:
            cat = "SPOT"
            cands = self._by_cat["SPOT"]
        if cat == "SWAP":
            s = rng.choices(cands, [_SWAP_WEIGHTS.get(c.inst_id, 1) for c in cands])[0]
        elif cat == "SPOT":
            s = rng.choices(cands, [6 if c.quote == "USDT" and c.base == "BTC" else
                                    3 if c.quote == "USDT" else 1 for c in cands])[0]
        else:
            s = rng.choice(cands)
        if s.kind == "spot":
            self._random_spot(s, ts)
        else:
            self._random_deriv(s, ts)

    def _locked(self, s: Spec, ts: int) -> bool:
        lock = self.locks.get(s.inst_id)
        return lock is not None and lock[0] <= ts <= lock[1]

    def _exec(self) -> str:
        return "T" if self.rng.random() < 0.7 else "M"

    def _buy_size(self, s: Spec) -> Decimal:
        rng = self.rng
        if s.base == "BTC":
            return Decimal(500 + int(rng.random() * 249_500)).scaleb(-6)  # 0.0005 .. 0.25 BTC
        return Decimal(100 + int(rng.random() * 49_900)).scaleb(-4)  # 0.01 .. 5 ETH

    def _random_spot(self, s: Spec, ts: int) -> None:
        rng = self.rng
        margin = s.inst_type == "MARGIN"
        inv = self.margin[s.inst_id].qty if margin and s.inst_id in self.margin else (
            D0 if margin else self.spot_inv.get(s.inst_id, D0))
        stale = margin and inv != 0 and ts - self.margin[s.inst_id].c_time > 12 * HOUR
        if inv < 0:
            # a MARGIN short: buy back (part of) it, or sell more borrowed coin
            if stale or rng.random() < 0.5:
                if stale or rng.random() < 0.3:
                    self._spot_trade(s, "buy", self._cover_size(-inv), ts, "T")
                else:
                    part = q(-inv * Decimal(20 + int(rng.random() * 70)) / 100, 8)
                    self._spot_order(s, "buy", max(part, Decimal("0.00000001")), ts, self._exec())
            else:
                self._spot_order(s, "sell", self._buy_size(s), ts, self._exec())
            return
        if margin and inv == 0 and rng.random() < 0.4:
            self._spot_order(s, "sell", self._buy_size(s), ts, self._exec())  # open a short
            return
        if inv > 0 and (stale or rng.random() < 0.5):
            if stale or rng.random() < 0.3:
                sz = inv
            else:
                sz = q(inv * Decimal(20 + int(rng.random() * 80)) / 100, 8)
            sz = min(max(sz, Decimal("0.00000001")), inv)
            self._spot_order(s, "sell", sz, ts, self._exec())
        else:
            self._spot_order(s, "buy", self._buy_size(s), ts, self._exec())

    def _split(self, key: str, ts: int) -> int:
        """How many fills an order gets: 2 or 3 for about one order in 6, else 1, chosen by
        a hash of instrument and time (no random numbers consumed), and never more than the
        fills left to draw (``spare`` + 1), so ``scale`` stays the number of fills."""
        h = zlib.crc32(f"partial-{key}-{ts}".encode())
        return min(1 if h % 6 else 2 + (h >> 8) % 2, 1 + self.spare)

    def _spot_order(self, s: Spec, side: str, sz: Decimal, ts: int, exec_type: str) -> None:
        """One SPOT/MARGIN order: one fill, or partial fills of one ``ordId`` one tick apart
        (a buy sweeps up, a sell down), the last one taking what is left."""
        n = self._split(s.inst_type + s.inst_id, ts)
        if n == 1 or sz < Decimal("0.0001"):
            self._spot_trade(s, side, sz, ts, exec_type)
            return
        ord_id = self.ord_ids.next(ts - 3)
        px, idx = self._spot_px(s, ts)
        left = sz
        for k in range(n):
            part = left if k == n - 1 else q(sz / n, DEFAULT_DP)
            left -= part
            step = s.tick * k * (1 if side == "buy" else -1)
            self._spot_trade(s, side, part, ts, exec_type, ord_id=ord_id, px=px + step, idx=idx)

    @staticmethod
    def _cover_size(short: Decimal) -> Decimal:
        """The taker buy size that receives exactly ``short`` after its fee in base
        (``sz + q(sz * rate) == short``); the nearest size below when none does."""
        best = D0
        guess = q(short / (D1 + SPOT_TAKER), DEFAULT_DP)
        for k in range(-3, 4):
            sz = guess + Decimal(k).scaleb(-DEFAULT_DP)
            got = sz + q(sz * SPOT_TAKER, DEFAULT_DP)
            if got == short:
                return sz
            if got < short and sz > best:
                best = sz
        return best

    def _random_deriv(self, s: Spec, ts: int) -> None:
        rng = self.rng
        if self.net or s.kind == "option":
            side_key = "net"
        else:
            side_key = "long" if rng.random() < 0.5 else "short"
        p = self.pos.get((s.inst_id, side_key))
        qty = p.qty if p else D0
        n = Decimal(1 + int(rng.random() * s.max_size))
        if qty == 0:
            if side_key == "net":
                delta = n if rng.random() < 0.5 else -n
            else:
                delta = n if side_key == "long" else -n
        else:
            d = 1 if qty > 0 else -1
            aq = abs(qty)
            r = rng.random()
            if r < 0.35 and aq + n <= 5 * s.max_size:
                delta = d * n
            elif r < 0.7:
                delta = -d * min(n, aq)
            elif r < 0.92 or side_key != "net" or (p is not None and p.c_time == ts):
                delta = -qty
            else:
                delta = -qty - d * n  # flip
        # about one order in 6 of 2+ contracts is filled in two fills of one ordId: half
        # (rounded down), then the rest; half of the split flips close the position exactly
        # on their first fill and open the other side on their second (the others cross
        # zero on their second fill)
        if abs(delta) >= 2 and self._split(s.inst_id, ts) > 1:
            exec_type = self._exec()
            ord_id = self.ord_ids.next(ts - 3)
            first = Decimal(int(abs(delta)) // 2) * (1 if delta > 0 else -1)
            if qty * delta < 0 < abs(delta) - abs(qty) and zlib.crc32(
                    f"flip-{s.inst_id}-{ts}".encode()) % 2:
                first = -qty
            self._deriv_trade(s, side_key, first, ts, exec_type, ord_id=ord_id)
            self._deriv_trade(s, side_key, delta - first, ts, exec_type, ord_id=ord_id)
            return
        self._deriv_trade(s, side_key, delta, ts, self._exec())

    def _force_position(self, ts: int, payload: list[Any]) -> None:
        s = self.m.specs[(payload[0], payload[1])]
        side_key, direction = payload[2], payload[3]
        size = Decimal(payload[4]) if payload[4] else Decimal(self.rng.randrange(1, s.max_size + 1))
        p = self.pos.get((s.inst_id, side_key))
        qty = p.qty if p else D0
        if qty * direction > 0:
            delta = direction * Decimal(self.rng.randrange(1, 4))
        else:
            delta = -qty + direction * size
        self._deriv_trade(s, side_key, delta, ts, "T")

    # ---------------------------------------------------------------- ledger primitives
    def _new_trade_id(self, inst_id: str) -> str:
        t = self.trade_ids.get(inst_id)
        if t is None:
            t = self.rng.randrange(10**8, 9 * 10**8)
        t += 1 + int(self.rng.random() * 399)
        self.trade_ids[inst_id] = t
        return str(t)

    def _bill(self, ts: int, type_: str, sub_type: str, ccy: str, chg: Decimal, *,
              inst_type: str = "", inst_id: str = "", mgn_mode: str = "", sz: str = "",
              px: str = "", pnl: str = "0", fee: str = "0", ord_id: str = "", trade_id: str = "",
              exec_type: str = "", fill_time: str = "", idx_px: str = "", mark_px: str = "",
              bill_id: str | None = None, frm: str = "", to: str = "", interest: str = "0",
              opt: tuple[str, str, str, str] = ("", "", "", ""),
              ts_s: str | None = None, pos_bal: Decimal = D0,
              pos_bal_chg: Decimal = D0) -> dict[str, Any]:
        bal = self.bal.get(ccy, D0) + chg
        self.bal[ccy] = bal
        b = {
            "bal": fmt(bal), "balChg": fmt(chg),
            "billId": bill_id if bill_id is not None else self.bill_ids.next(ts),
            "ccy": ccy, "clOrdId": "", "earnAmt": "", "earnApr": "", "execType": exec_type,
            "fee": fee, "fillFwdPx": opt[3], "fillIdxPx": idx_px, "fillMarkPx": mark_px,
            "fillMarkVol": opt[2], "fillPxUsd": opt[1], "fillPxVol": opt[0], "fillTime": fill_time,
            "from": frm, "instId": inst_id, "instType": inst_type, "interest": interest,
            "mgnMode": mgn_mode, "notes": "", "ordId": ord_id, "pnl": pnl,
            "posBal": fmt(pos_bal), "posBalChg": fmt(pos_bal_chg), "px": px, "subType": sub_type, "sz": sz, "tag": "", "to": to,
            "tradeId": trade_id, "ts": ts_s or str(ts), "type": type_,
        }
        self.acct.bills.append(b)
        return b

    def _transfer(self, ccy: str, amt: Decimal, ts: int) -> None:
        if amt > 0:
            self._bill(ts, "1", "11", ccy, amt, sz=fmt(amt), frm="6", to="18")
        else:
            self._bill(ts, "1", "12", ccy, amt, sz=fmt(-amt), frm="18", to="6")
        self.fund.mirror(ccy, amt, ts)

    def _ensure(self, ccy: str, chg: Decimal, ts: int) -> None:
        """Tops the trading account up from the funding account before a debit would
        take ``ccy`` below its floor (non-MARGIN activity never makes a balance negative)."""
        if chg >= 0:
            return
        bal = self.bal.get(ccy, D0)
        floor = FLOOR.get(ccy, D0)
        if bal + chg < floor:
            target = INITIAL_FUNDS.get(ccy, D0) - chg
            self._transfer(ccy, q(target - bal, 2 if ccy == "USDT" else 4) + (
                D1 if ccy == "USDT" else Decimal("0.01")), ts)

    # ---------------------------------------------------------------- spot / margin
    def _spot_px(self, s: Spec, ts: int) -> tuple[Decimal, Decimal]:
        idx = self.m.pair_index(s, ts)
        px = idx * (1.0 + (self.rng.random() - 0.5) * 0.0008)
        return _dec_from_float(px, s.tick), _dec_from_float(idx, s.tick)

    def _spot_trade(self, s: Spec, side: str, sz: Decimal, ts: int, exec_type: str,
                    ord_id: str | None = None, px: Decimal | None = None,
                    idx: Decimal | None = None) -> None:
        margin = s.inst_type == "MARGIN"
        if px is None or idx is None:
            px, idx = self._spot_px(s, ts)
        if exec_type == "T":
            rate = SPOT_TAKER
        else:
            rate = SPOT_REBATE if self.rng.random() < 0.03 else SPOT_MAKER
        gross = q(sz * px, DEFAULT_DP)
        if side == "buy":
            fee = q(sz * rate, DEFAULT_DP)
            fee_ccy = s.base
            base_chg, quote_chg = sz + fee, -gross
            base_fee, quote_fee = fmt(fee), "0"
        else:
            fee = q(gross * rate, DEFAULT_DP)
            fee_ccy = s.quote
            base_chg, quote_chg = -sz, gross + fee
            base_fee, quote_fee = "0", fmt(fee)
        if not margin:
            self._ensure(s.base, base_chg, ts)
            self._ensure(s.quote, quote_chg, ts)
        if ord_id is None:
            ord_id = self.ord_ids.next(ts - 3)
        trade_id = self._new_trade_id(s.inst_id)
        ts_s = str(ts)
        fill_time = str(ts - 1 - (int(trade_id) % 5))
        sub = "1" if side == "buy" else "2"
        px_s, sz_s, idx_s = fmt(px), fmt(sz), fmt(idx)
        mgn = "cross" if margin else "cash"
        b1 = self._bill(ts, "2", sub, s.base, base_chg, inst_type=s.inst_type, inst_id=s.inst_id,
                        mgn_mode=mgn, sz=sz_s, px=px_s, fee=base_fee, ord_id=ord_id,
                        trade_id=trade_id, exec_type=exec_type, fill_time=fill_time, idx_px=idx_s,
                        ts_s=ts_s)
        self._bill(ts, "2", sub, s.quote, quote_chg, inst_type=s.inst_type, inst_id=s.inst_id,
                   mgn_mode=mgn, sz=fmt(gross), px=px_s, fee=quote_fee, ord_id=ord_id,
                   trade_id=trade_id, exec_type=exec_type, fill_time=fill_time, idx_px=idx_s,
                   ts_s=ts_s)
        self.acct.fills.append(_fill_record((
            s.inst_type, s.inst_id, trade_id, ord_id, "", b1["billId"], sub, "", px_s, sz_s,
            idx_s, "0", "", "", "", "", "", side, "net", exec_type, fee_ccy, fmt(fee), ts_s,
            fill_time, fmt(rate), s.quote,
        )))
        if margin:
            mg = self.margin.get(s.inst_id)
            if mg is None:
                mg = _Margin(s.inst_id, self.pos_ids.next(ts), ts, ts)
                self.margin[s.inst_id] = mg
            mg.u_time = ts
            mg.trade_id = trade_id
            if side == "buy" and mg.qty < 0:  # buys back borrowed coin: repays it
                mg.cost -= mg.cost * base_chg / -mg.qty
                mg.qty += base_chg
                mg.liab_base -= min(mg.liab_base, base_chg)
            elif side == "buy":
                mg.qty += base_chg
                mg.cost += gross
                mg.liab += gross
            elif mg.qty <= 0:  # sells borrowed coin: opens or adds to a short
                mg.qty -= sz
                mg.cost -= gross
                mg.liab_base += sz
            else:
                mg.cost -= mg.cost * sz / (mg.qty) if mg.qty else D0
                mg.qty -= sz
                mg.liab -= min(mg.liab, quote_chg)
            if mg.qty == 0:
                del self.margin[s.inst_id]
        else:
            self.spot_inv[s.inst_id] = self.spot_inv.get(s.inst_id, D0) + (
                base_chg if side == "buy" else -sz)

    def burst(self, n: int, ts: int) -> None:
        """``n`` fills of one BTC-USDT market buy, all at ``ts``."""
        self.advance(ts)
        s = self.m.specs[("SPOT", "BTC-USDT")]
        ord_id = self.ord_ids.next(ts - 3)
        px, idx = self._spot_px(s, ts)
        for _ in range(n):
            sz = Decimal(self.rng.randrange(100, 1000)).scaleb(-6)
            self._spot_trade(s, "buy", sz, ts, "T", ord_id=ord_id, px=px, idx=idx)
            if self.rng.random() < 0.3:
                px += s.tick
        self.now = max(self.now, ts)

    def _interest(self, ts: int) -> None:
        for mg in self.margin.values():
            liab, ccy = (mg.liab, "USDT") if mg.qty > 0 else (
                mg.liab_base, self.m.specs[("MARGIN", mg.inst_id)].base)
            if liab <= 0:
                continue
            amt = q(liab * HOURLY_INTEREST, DEFAULT_DP)
            if amt <= 0:
                continue
            mg.interest += amt
            self._bill(ts, "7", "9", ccy, -amt, inst_type="MARGIN", inst_id=mg.inst_id,
                       mgn_mode="cross", interest=fmt(amt))

    # ---------------------------------------------------------------- derivatives
    def _deriv_prices(self, s: Spec, ts: int) -> tuple[Decimal, Decimal, Decimal, float]:
        """(fill px, index px, mark px, raw index) at ``ts``."""
        idx = self.m.index(s.und, ts)
        rng = self.rng
        if s.kind == "option":
            model = self.m.option_price(s, ts, idx)
            px = max(_dec_from_float(model * (1.0 + rng.uniform(-0.03, 0.03)), s.tick), s.tick)
            mark = max(_dec_from_float(model, s.tick), s.tick)
            return px, _dec_from_float(idx, Decimal("0.1")), mark, idx
        basis = 0.0002
        if s.exp_ms:
            basis += 0.06 * max(s.exp_ms - ts, 0) / (365.0 * DAY)
        fair = idx * (1.0 + basis)
        px = _dec_from_float(fair * (1.0 + (rng.random() - 0.5) * 0.0008), s.tick)
        mark = _dec_from_float(fair * (1.0 + (rng.random() - 0.5) * 0.0002), s.tick)
        return px, _dec_from_float(idx, s.tick), mark, idx

    def _ctvm(self, s: Spec) -> Fraction:
        """``ctVal * ctMult`` as an exact fraction."""
        v = self._ctvm_cache.get(s.inst_id)
        if v is None:
            v = Fraction(s.ct_val) * Fraction(s.ct_mult)
            self._ctvm_cache[s.inst_id] = v
        return v

    def pnl(self, s: Spec, avg: Fraction, exit_px: Decimal | Fraction, n: Decimal,
            long: bool) -> Decimal:
        """Contract P&L of closing ``n`` contracts (okx-api §5.1), exact, then rounded."""
        x = Fraction(exit_px)
        if s.kind == "inverse":
            v = self._ctvm(s) * Fraction(n) * (1 / avg - 1 / x)
        else:  # linear: ctVal*ctMult*n*(exit-entry); option: (exit-entry)*n*ctMult*ctVal
            v = self._ctvm(s) * Fraction(n) * (x - avg)
        return qx(v if long else -v, s.dp)

    def _deriv_trade(self, s: Spec, side_key: str, delta: Decimal, ts: int, exec_type: str,
                     mode: str = "trade", ord_id: str | None = None) -> None:
        if delta == 0:
            return
        key = (s.inst_id, side_key)
        p = self.pos.get(key)
        qty = p.qty if p is not None else D0
        n = abs(delta)
        buy = delta > 0
        px, idx, mark, idx_f = self._deriv_prices(s, ts)
        close_n = min(n, abs(qty)) if qty != 0 and (qty > 0) != buy else D0
        open_n = n - close_n
        pnl = self.pnl(s, p.avg, px, close_n, qty > 0) if (p is not None and close_n) else D0
        dp = s.dp
        premium = q(px * n * s.ct_mult * s.ct_val, dp) if s.kind == "option" else D0
        if mode == "adl":
            fee = D0
        elif mode == "liq":
            fee = -qx(self._notional(s, n, px) * LIQ_PENALTY, dp)
        elif s.kind == "option":
            fee = -qx(min(OPTION_FEE * Fraction(n) * self._ctvm(s), OPTION_FEE_CAP * Fraction(premium)),
                      dp)
        elif s.kind == "inverse":
            rate = DERIV_TAKER if exec_type == "T" else (
                DERIV_REBATE if self._rebate(s, ts) else DERIV_MAKER)
            fee = -qx(self._notional(s, n, px) * rate, dp)
        else:  # linear: every factor is a terminating decimal, so Decimal is exact here
            rate_d = _DERIV_TAKER_D if exec_type == "T" else (
                _DERIV_REBATE_D if self._rebate(s, ts) else _DERIV_MAKER_D)
            fee = -q(n * s.ct_val * s.ct_mult * px * rate_d, dp)
        if s.kind == "option":
            chg = (-premium if buy else premium) + fee
        else:
            chg = pnl + fee
        # isolated margin: released from the position on a close, moved into it on an open
        # (a net-mode flip keeps the closed life's mode)
        mgn = p.mgn_mode if p is not None else self._margin_mode(s, side_key, ts)
        released = margin_in = D0
        if mgn == "isolated":
            if p is not None and close_n:
                released = p.iso_bal if close_n == abs(qty) else q(
                    p.iso_bal * close_n / abs(qty), dp)
            if open_n:
                margin_in = self._iso_margin(s, open_n, px)
        chg += released - margin_in
        self._ensure(s.settle, chg, ts)
        if mode == "liq":
            bill_type = "5"
            if side_key == "net":
                sub = "106" if buy else "107"
            else:
                sub = "104" if side_key == "long" else "105"
        elif mode == "adl":
            bill_type = "9"
            sub = "126" if buy else "125"
        else:
            bill_type = "2"
            if side_key == "net":
                sub = "1" if buy else "2"
            elif side_key == "long":
                sub = "3" if buy else "5"
            else:
                sub = "4" if not buy else "6"
        if mode == "trade":
            trade_id = self._new_trade_id(s.inst_id)
            ord_id = ord_id or self.ord_ids.next(ts - 3)
        else:
            trade_id = "-" + self._new_trade_id(s.inst_id)
            ord_id = self.ord_ids.next(ts - 3)
        fill_time = str(ts - 1 - (abs(int(trade_id)) % 5))
        if s.kind == "option":
            vol = _VOL[s.und]
            opt = (f"{vol + self.rng.uniform(-0.02, 0.02):.4f}", fmt(q(px * idx, 2)),
                   f"{vol:.4f}", fmt(_dec_from_float(idx_f * 1.0005, Decimal("0.1"))))
        else:
            opt = ("", "", "", "")
        px_s, n_s, idx_s, mark_s, pnl_s, fee_s = fmt(px), fmt(n), fmt(idx), fmt(mark), fmt(pnl), fmt(fee)
        iso_before = p.iso_bal if p is not None else D0
        b = self._bill(ts, bill_type, sub, s.settle, chg, inst_type=s.inst_type, inst_id=s.inst_id,
                       mgn_mode=mgn, sz=n_s, px=px_s, pnl=pnl_s, fee=fee_s, ord_id=ord_id,
                       trade_id=trade_id, exec_type=exec_type, fill_time=fill_time, idx_px=idx_s,
                       mark_px=mark_s, opt=opt, pos_bal=iso_before - released + margin_in,
                       pos_bal_chg=margin_in - released)
        self.acct.fills.append(_fill_record((
            s.inst_type, s.inst_id, trade_id, ord_id, "", b["billId"], sub, "", px_s, n_s, idx_s,
            pnl_s, opt[0], opt[1], opt[2], opt[3], mark_s, "buy" if buy else "sell", side_key,
            exec_type, s.settle, fee_s, b["ts"], fill_time, "", "",
        )))
        fee_close = fee if open_n == 0 else qx(Fraction(fee) * Fraction(close_n) / Fraction(n), dp)
        if p is not None and close_n:
            p.iso_bal -= released
            p.qty += close_n if buy else -close_n
            p.close_n += close_n
            p.close_val += close_n / px if s.kind == "inverse" else close_n * px
            p.pnl += pnl
            if mode == "liq":
                p.liq += fee_close
                p.last_type = "3"
                p.trigger_px = mark_s
            else:
                p.fee += fee_close
                p.last_type = "5" if mode == "adl" else "2"
                if mode == "adl":
                    p.trigger_px = mark_s
            p.u_time = ts
            p.trade_id = trade_id
            if p.qty == 0:
                self._close_life(s, p, ts)
        if open_n:
            self._open(s, side_key, open_n if buy else -open_n, px, ts, fee - fee_close, trade_id)
            opened = self.pos[key]
            opened.mgn_mode = mgn
            opened.iso_bal += margin_in

    @staticmethod
    def _rebate(s: Spec, ts: int) -> bool:
        """A maker fill earns a rebate (positive fee) about once in 15, chosen by a hash of
        instrument and time, so the choice consumes no random numbers."""
        return zlib.crc32(f"rebate-{s.inst_id}-{ts}".encode()) % 15 == 0

    def _margin_mode(self, s: Spec, side_key: str, ts: int) -> str:
        """Cross or isolated for a new position life: a hash, so no random number is used."""
        h = zlib.crc32(f"{s.inst_id}|{side_key}|{ts}".encode())
        return "isolated" if h % ISOLATED_ONE_IN == 0 else "cross"

    def _iso_margin(self, s: Spec, n: Decimal, px: Decimal) -> Decimal:
        """Initial margin moved into an isolated position: 10 % of the opened notional."""
        return qx(self._notional(s, n, px) / 10, s.dp)

    def _notional(self, s: Spec, n: Decimal, px: Decimal | Fraction) -> Fraction:
        """Fee base in the settle currency (inverse: ``ctVal*ctMult*n/px`` coin), exact."""
        if s.kind == "inverse":
            return self._ctvm(s) * Fraction(n) / Fraction(px)
        return self._ctvm(s) * Fraction(n) * Fraction(px)

    def _open(self, s: Spec, side_key: str, delta: Decimal, px: Decimal, ts: int,
              fee: Decimal, trade_id: str) -> None:
        key = (s.inst_id, side_key)
        p = self.pos.get(key)
        m = abs(delta)
        fpx = Fraction(px)
        if p is None:
            mem_key = f"{s.inst_id}|{side_key}"
            mem = self.pos_memory.get(mem_key)
            if mem is not None and ts - int(mem[1]) <= POSID_REUSE_MS:
                pos_id = str(mem[0])
            else:
                pos_id = self.pos_ids.next(ts)
            p = _Pos(s.inst_type, s.inst_id, side_key, pos_id, ts, ts,
                     direction=1 if delta > 0 else -1)
            self.pos[key] = p
            p.avg = fpx
        else:
            aq = abs(p.qty)
            if s.kind == "inverse":
                fa, fm = Fraction(aq), Fraction(m)
                p.avg = (fa + fm) / (fa / p.avg + fm / fpx)
            else:
                fa, fm = Fraction(aq), Fraction(m)
                p.avg = (p.avg * fa + fpx * fm) / (fa + fm)
        p.qty += delta
        p.open_n += m
        p.open_val += m / px if s.kind == "inverse" else m * px
        p.open_max = max(p.open_max, abs(p.qty))
        p.fee += fee
        p.u_time = ts
        p.trade_id = trade_id

    def _close_life(self, s: Spec, p: _Pos, ts: int) -> None:
        del self.pos[(p.inst_id, p.side_key)]
        self.pos_memory[f"{p.inst_id}|{p.side_key}"] = [p.pos_id, ts]
        self.acct.positions_history.append(self._history_row(s, p, ts))

    @staticmethod
    def _avg(s: Spec, n: Decimal, val: Decimal) -> Decimal:
        if n == 0 or val == 0:
            return D0
        return n / val if s.kind == "inverse" else val / n

    def _history_row(self, s: Spec, p: _Pos, ts: int) -> dict[str, Any]:
        realized = p.pnl + p.fee + p.funding + p.liq
        open_avg = self._avg(s, p.open_n, p.open_val)
        margin = self._notional(s, p.open_max, open_avg) if open_avg else F0
        if s.kind != "option":
            margin = margin / 10
        ratio = fmt(qx(Fraction(realized) / margin, 8)) if margin else "0"
        return _hist_record((
            str(p.c_time), s.settle, fmt(q(self._avg(s, p.close_n, p.close_val), 8)),
            fmt(p.close_n), s.inst_id, s.inst_type, "" if s.kind == "option" else "10", p.mgn_mode,
            fmt(q(open_avg, 8)), fmt(p.open_max), fmt(realized), fmt(p.fee), fmt(p.funding),
            fmt(p.liq), fmt(p.pnl), ratio, p.pos_id, p.side_key,
            "long" if p.direction > 0 else "short",
            p.trigger_px if p.last_type in ("3", "4", "5") else "", p.last_type, str(ts),
            s.family, "", "",
        ))

    def _funding(self, t: int) -> None:
        for p in list(self.pos.values()):
            if p.inst_type != "SWAP" or p.qty == 0:
                continue
            s = self.m.specs[("SWAP", p.inst_id)]
            rate = self.m.funding_rate(s.inst_id, t)
            mark = _dec_from_float(self.m.index(s.und, t) * 1.0002, s.tick)
            n = abs(p.qty)
            notional = self._notional(s, n, mark)
            amt = qx(-notional * Fraction(rate) if p.qty > 0 else notional * Fraction(rate), s.dp)
            if amt == 0:
                continue
            if p.mgn_mode == "isolated":
                # paid from (or into) the position's balance: the account's does not move
                p.iso_bal += amt
                self._bill(t, "8", "173" if amt < 0 else "174", s.settle, D0, inst_type="SWAP",
                           inst_id=s.inst_id, mgn_mode="isolated", sz=fmt(n), px=fmt(mark),
                           pnl=fmt(amt), pos_bal=p.iso_bal, pos_bal_chg=amt,
                           fill_time=str(t), trade_id="0")
            else:
                self._ensure(s.settle, amt, t)
                self._bill(t, "8", "173" if amt < 0 else "174", s.settle, amt, inst_type="SWAP",
                           inst_id=s.inst_id, mgn_mode="cross", sz=fmt(n), px=fmt(mark),
                           pnl=fmt(amt))
            p.funding += amt
            p.u_time = t

    def _expiry(self, t: int, s: Spec) -> None:
        settle_px = _dec_from_float(self.m.index(s.und, t), Decimal("0.1"))
        for side_key in ("net", "long", "short"):
            p = self.pos.get((s.inst_id, side_key))
            if p is None or p.qty == 0:
                continue
            n = abs(p.qty)
            long = p.qty > 0
            if s.kind == "option":
                fs = Fraction(settle_px)
                if s.opt_type == "C":
                    intrinsic = max(fs - Fraction(s.strike), F0) / fs
                else:
                    intrinsic = max(Fraction(s.strike) - fs, F0) / fs
                units = Fraction(n) * self._ctvm(s)
                cash = qx(intrinsic * units, s.dp)
                pnl = qx((Fraction(cash) - p.avg * units) * (1 if long else -1), s.dp)
                if cash == 0:
                    sub, fee, chg = "172", D0, D0
                elif long:
                    sub = "170"
                    fee = -qx(min(EXERCISE_FEE * units, OPTION_FEE_CAP * Fraction(cash)), s.dp)
                    chg = cash + fee
                else:
                    sub, fee, chg = "171", D0, -cash
                exit_val = Decimal(intrinsic.numerator) / Decimal(intrinsic.denominator) * n
            else:
                pnl = self.pnl(s, p.avg, settle_px, n, long)
                fee = -qx(self._notional(s, n, settle_px) * DELIVERY_FEE, s.dp)
                chg = pnl + fee
                sub = "112" if long else "113"
                exit_val = n / settle_px if s.kind == "inverse" else n * settle_px
            released = p.iso_bal
            chg += released
            p.iso_bal = D0
            self._ensure(s.settle, chg, t)
            self._bill(t, "3", sub, s.settle, chg, inst_type=s.inst_type, inst_id=s.inst_id,
                       mgn_mode=p.mgn_mode, sz=fmt(n), px=fmt(settle_px), pnl=fmt(pnl),
                       fee=fmt(fee), pos_bal_chg=-released)
            p.qty = D0
            p.close_n += n
            p.close_val += exit_val
            p.pnl += pnl
            p.fee += fee
            p.last_type = "2"
            p.u_time = t
            self._close_life(s, p, t)
        self.locks.pop(s.inst_id, None)

    # ---------------------------------------------------------------- snapshots
    def snapshot(self) -> None:
        """Rebuilds ``positions``, ``balance`` and ``config`` from the current state."""
        acct, ts = self.acct, self.now
        positions: list[dict[str, Any]] = []
        upl_by_ccy: dict[str, Decimal] = {}
        iso_by_ccy: dict[str, Decimal] = {}
        usd = {"USDT": Decimal(1), "BTC": Decimal(str(round(self.m.index("BTC", ts), 1))),
               "ETH": Decimal(str(round(self.m.index("ETH", ts), 2)))}
        for p in sorted(self.pos.values(), key=lambda x: (x.c_time, x.pos_id), reverse=True):
            s = self.m.specs[(p.inst_type, p.inst_id)]
            _, idx, mark, _idx_f = self._deriv_prices(s, ts)
            n = abs(p.qty)
            upl = self.pnl(s, p.avg, mark, n, p.qty > 0)
            upl_by_ccy[s.settle] = upl_by_ccy.get(s.settle, D0) + upl
            if p.mgn_mode == "isolated":
                iso_by_ccy[s.settle] = iso_by_ccy.get(s.settle, D0) + p.iso_bal
            rec: dict[str, Any] = dict.fromkeys(POSITION_FIELDS, "")
            notional_usd = (n * s.ct_val * s.ct_mult * usd[s.und]) if s.kind != "inverse" else n * s.ct_val
            rec.update({
                "adl": "1", "avgPx": fmt(qx(p.avg, 8)), "cTime": str(p.c_time), "ccy": s.settle,
                "closeOrderAlgo": [], "fee": fmt(p.fee), "fundingFee": fmt(p.funding),
                "idxPx": fmt(idx), "instId": s.inst_id, "instType": s.inst_type,
                "last": fmt(mark), "lever": "" if s.kind == "option" else "10",
                "liqPenalty": fmt(p.liq), "markPx": fmt(mark), "mgnMode": p.mgn_mode,
                "margin": fmt(p.iso_bal) if p.mgn_mode == "isolated" else "",
                "notionalUsd": fmt(q(notional_usd, 2)), "pnl": fmt(p.pnl),
                "pos": fmt(p.qty if p.side_key == "net" else n), "posId": p.pos_id,
                "posSide": p.side_key, "realizedPnl": fmt(p.pnl + p.fee + p.funding + p.liq),
                "tradeId": p.trade_id, "uTime": str(p.u_time), "upl": fmt(upl),
                "uplLastPx": fmt(upl), "usdPx": "1",
                "availPos": fmt(n) if s.kind == "option" else "",
                "optVal": fmt(q(mark * p.qty * s.ct_mult * s.ct_val, s.dp)) if s.kind == "option" else "",
            })
            positions.append(rec)
        liab_usdt = D0
        liab_coin: dict[str, Decimal] = {}
        for mg in sorted(self.margin.values(), key=lambda x: x.c_time, reverse=True):
            s = self.m.specs[("MARGIN", mg.inst_id)]
            px, idx = self._spot_px(s, ts)
            avg = mg.cost / mg.qty if mg.qty else D0
            upl = q((idx - avg) * mg.qty, DEFAULT_DP)
            short = mg.qty < 0
            liab_usdt += mg.liab
            liab_coin[s.base] = liab_coin.get(s.base, D0) + mg.liab_base
            rec = dict.fromkeys(POSITION_FIELDS, "")
            rec.update({
                "adl": "1", "availPos": fmt(abs(mg.qty)), "avgPx": fmt(q(avg, 8)), "cTime": str(mg.c_time),
                "ccy": "USDT", "closeOrderAlgo": [], "idxPx": fmt(idx), "instId": mg.inst_id,
                "instType": "MARGIN", "interest": fmt(mg.interest), "last": fmt(px), "lever": "3",
                "liab": fmt(-q(mg.liab_base if short else mg.liab, 8)),
                "liabCcy": s.base if short else "USDT", "markPx": fmt(idx),
                "mgnMode": "cross", "notionalUsd": fmt(q(abs(mg.qty) * idx, 2)), "pos": fmt(mg.qty),
                "posCcy": s.quote if short else s.base, "posId": mg.pos_id, "posSide": "net",
                "tradeId": mg.trade_id,
                "uTime": str(mg.u_time), "upl": fmt(upl), "uplLastPx": fmt(upl), "usdPx": "1",
            })
            positions.append(rec)
        acct.positions = positions
        details: list[dict[str, Any]] = []
        total = D0
        for ccy in sorted(self.bal):
            cash = self.bal[ccy]
            upl = upl_by_ccy.get(ccy, D0)
            liab = q(liab_usdt, 8) if ccy == "USDT" else q(liab_coin.get(ccy, D0), 8)
            iso = iso_by_ccy.get(ccy, D0)
            eq = cash + iso + upl
            if cash == 0 and eq == 0:
                continue
            eq_usd = q(eq * usd.get(ccy, D1), 2)
            total += eq_usd
            d: dict[str, Any] = dict.fromkeys(BALANCE_DETAIL_FIELDS, "")
            d.update({
                "ccy": ccy, "eq": fmt(eq), "cashBal": fmt(cash), "uTime": str(ts),
                "availEq": fmt(eq), "availBal": fmt(cash), "frozenBal": "0", "ordFrozen": "0",
                "liab": fmt(liab), "crossLiab": fmt(liab), "upl": fmt(upl), "uplLiab": "0",
                "interest": "0", "eqUsd": fmt(eq_usd), "disEq": fmt(eq_usd), "isoEq": fmt(iso),
                "isoLiab": "0", "isoUpl": "0", "fixedBal": "0", "rewardBal": "0",
                "collateralRestrict": False, "collateralEnabled": True,
                "autoLendStatus": "off", "autoLendMtAmt": "0",
            })
            details.append(d)
        bal: dict[str, Any] = dict.fromkeys(BALANCE_FIELDS, "")
        bal.update({"uTime": str(ts), "totalEq": fmt(total), "adjEq": fmt(total),
                    "availEq": fmt(total), "upl": "0", "details": details})
        acct.balance = bal
        cfg = dict(CONFIG_SAMPLE)
        cfg.update({"uid": acct.uid, "mainUid": acct.uid, "perm": acct.perm, "ip": acct.ip,
                    "label": "okx-journal demo", "posMode": "net_mode" if self.net else "long_short_mode",
                    "spotTraderInsts": [], "traderInsts": [], "settleCcyList": ["USD", "USDC", "USDG"]})
        acct.config = cfg


# ------------------------------------------------------------------------------ entry points


def _uid(seed: int, i: int) -> str:
    return str(random.Random(f"okx-journal-uid-{seed}-{i}").randrange(10**17, 10**18))


def generate_history(seed: int = 7, scale: int = 2000, *, end_ms: int | None = None,
                     days: int = 80, accounts: int = 1) -> History:
    """Generates a consistent account history (see the module docstring).

    Args:
        seed: everything is deterministic for a seed (and ``end_ms``).
        scale: number of fills per account (a handful are scripted: expiries, liquidation, ADL).
        end_ms: end of the history in ms; defaults to now minus five minutes.
        days: length of the history.
        accounts: number of accounts; the first uses ``net_mode``, the second
            ``long_short_mode`` (then alternating); the first holds ``DEMO_CREDENTIALS``.
    """
    if end_ms is None:
        end_ms = int(time.time() * 1000) - 5 * 60_000
    start_ms = end_ms - days * DAY
    with localcontext() as ctx:
        ctx.prec = 50
        market = Market(seed, start_ms, end_ms)
        _build_specs(market)
        accts: list[SimAccount] = []
        for i in range(accounts):
            creds = DEMO_CREDENTIALS if i == 0 else (
                _SECOND_CREDENTIALS if i == 1 else OkxCredentials(
                    f"{i:08x}-8d41-4b7a-9c2e-0a1b2c3d4e5f", f"{i:032X}", f"Demo-Passphrase-{i + 1}"))
            acct = SimAccount(uid=_uid(seed, i), api_key=creds.api_key, secret=creds.secret,
                              passphrase=creds.passphrase)
            eng = _Engine(market, acct, seed, net=(i % 2 == 0))
            acct.engine = eng
            times = eng.setup(scale, end_ms)
            eng.run(times, end_ms)
            eng.snapshot()
            accts.append(acct)
        instruments = [_instrument_record(s) for s in market.specs.values()]
    return History(accounts=accts, instruments=instruments, market=market)


_PUBLIC_ACCOUNT_FIELDS = ("uid", "api_key", "secret", "passphrase", "perm", "ip", "demo", "revoked",
                          "config", "fills", "bills", "positions", "positions_history", "balance",
                          "funding_bills", "deposits", "withdrawals")


def save_history(history: History, path: Path | str) -> None:
    """Writes the history (and its simulation state, so ``extend`` works after loading)."""
    doc: dict[str, Any] = {
        "format": "okx-journal-simulator-history",
        "version": 1,
        "instruments": history.instruments,
        "market": history.market.state() if history.market is not None else None,
        "funding_rates": history.funding_rates,
        "accounts": [
            {**{k: getattr(a, k) for k in _PUBLIC_ACCOUNT_FIELDS},
             "engine": a.engine.state() if a.engine is not None else None}
            for a in history.accounts
        ],
    }
    with Path(path).open("w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))


def load_history(path: Path | str) -> History:
    """Reads a file written by ``save_history`` (the engine state is optional)."""
    with Path(path).open(encoding="utf-8") as f:
        doc = json.load(f)
    market = Market.from_state(doc["market"]) if doc.get("market") else None
    accts: list[SimAccount] = []
    for ad in doc["accounts"]:
        acct = SimAccount(**{k: ad[k] for k in _PUBLIC_ACCOUNT_FIELDS if k in ad})
        if market is not None and ad.get("engine"):
            acct.engine = _Engine.from_state(market, acct, ad["engine"])
        accts.append(acct)
    return History(accounts=accts, instruments=doc["instruments"], market=market,
                   funding_rates=list(doc.get("funding_rates") or []))
