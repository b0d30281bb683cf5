"""``okx-journal report --out FILE``: one self-contained HTML file from the journal.

The report reads the ``journal`` schema of a DuckDB file (opened read-only) and writes a
single HTML page that needs no network to view: inline CSS, charts drawn here as inline
SVG, no scripts, fonts or images from anywhere. Sections: header (accounts, data span,
generation time), headline figures, P&L by instrument type, equity curve, daily P&L,
fees/funding/interest over time, win rate and profit factor (``journal.stats``), open
positions, recent round trips and the reconciliation status.

Money rules: amounts are DuckDB ``DECIMAL`` values, arrive here as ``decimal.Decimal``
and are formatted from the Decimal (rounded half-up to the currency's precision; the
exact stored value is in the cell's tooltip). Amounts in different P&L currencies are
never added together: every table and chart is split by ``pnl_ccy``. Floats are used
only to place pixels in the charts.

Column names are read defensively (``information_schema``): a relation or column that
is missing shows as "not available" instead of failing, and an empty journal gives a
report that says there is no data yet.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sources.okx.errors import ConfigError, SyncLocked

__all__ = ["ReportInfo", "format_money", "format_price", "money_places", "write_report"]

JOURNAL = "journal"
INST_TYPE_ORDER = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")

# Chart colours. EQUITY_COLOUR is distinctive on purpose: the render test counts its pixels.
EQUITY_COLOUR = "#1f6feb"
SERIES_COLOURS = (EQUITY_COLOUR, "#e36209", "#8250df", "#0a7e8c", "#bf3989", "#6e7781")
GAIN_COLOUR = "#1a7f37"
LOSS_COLOUR = "#cf222e"
FEES_COLOUR = "#e36209"
FUNDING_COLOUR = "#8250df"
INTEREST_COLOUR = "#0a7e8c"

_TWO_PLACES = frozenset(
    {"USD", "USDT", "USDC", "USDG", "DAI", "BUSD", "TUSD", "FDUSD", "PYUSD", "USDK",
     "EUR", "GBP", "AUD", "BRL", "TRY", "AED", "HKD", "SGD"}
)


def money_places(ccy: str | None) -> int:
    """Decimal places shown for an amount in ``ccy``: 2 for fiat and stablecoins,
    8 for BTC (satoshi), 6 for other coins."""
    code = (ccy or "").upper()
    if code in _TWO_PLACES:
        return 2
    if code == "BTC":
        return 8
    return 6


def _quantize(value: Decimal, places: int) -> Decimal:
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return q + Decimal(0) if q.is_zero() else q  # no "-0.00"


def format_money(value: Decimal | int | None, ccy: str | None, *, signed: bool = False) -> str:
    """``value`` rounded half-up to the currency's places, with thousands separators.
    Works on the Decimal itself: no float ever touches a shown amount."""
    if value is None:
        return "—"
    dec = _to_decimal(value)
    if dec is None:
        return html.escape(str(value))
    q = _quantize(dec, money_places(ccy))
    text = format(q, ",f")
    if signed and q > 0:
        text = "+" + text
    return text


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            dec = Decimal(value.strip())
        except InvalidOperation:
            return None
        return dec if dec.is_finite() else None
    return None


def _plain_number(value: Any) -> str:
    """A price or size exactly as stored, without exponent or padding zeros."""
    if value is None:
        return "—"
    dec = _to_decimal(value)
    if dec is None:
        return str(value)
    if dec.is_zero():
        return "0"
    return format(dec.normalize(), ",f")


PRICE_DIGITS = 10


def format_price(value: Any) -> str:
    """A price to at most ``PRICE_DIGITS`` significant digits (never rounding the integer
    part), trailing zeros dropped: averages computed by the transforms carry long tails
    such as 73635.200000000016 that mean nothing to a trader. The exact value stays in
    the cell's tooltip."""
    dec = _to_decimal(value)
    if dec is None or dec.is_zero():
        return _plain_number(value)
    places = max(PRICE_DIGITS - 1 - dec.adjusted(), 0)
    exponent = dec.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        dec = dec.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return _plain_number(dec)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _as_day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _fmt_time(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M")
    return str(value)


@dataclass(frozen=True)
class ReportInfo:
    """What ``write_report`` wrote."""

    path: Path
    accounts: tuple[str, ...]
    currencies: tuple[str, ...]
    first_day: date | None
    last_day: date | None
    has_data: bool
    reconciliation_checks: int
    reconciliation_failures: int
    open_positions: int
    missing_relations: tuple[str, ...]
    size_bytes: int
    generated_at: datetime


# --------------------------------------------------------------------------- reading


Row = dict[str, Any]


@dataclass
class _Journal:
    """Everything the report shows, read once from the database."""

    columns: dict[str, set[str]] = field(default_factory=dict)
    account_labels: dict[str, str] = field(default_factory=dict)
    pnl_by_type: list[Row] = field(default_factory=list)
    daily: list[Row] = field(default_factory=list)
    equity: list[Row] = field(default_factory=list)
    stats: list[Row] = field(default_factory=list)
    open_positions: list[Row] = field(default_factory=list)
    round_trips: list[Row] = field(default_factory=list)
    round_trip_count: int = 0
    position_extras: set[str] = field(default_factory=set)
    raw_loaded: bool = False
    reconciliation: list[Row] = field(default_factory=list)
    accounts: tuple[str, ...] = ()
    first_day: date | None = None
    last_day: date | None = None
    #: journal.pnl_total_usd: one row per account
    usd_total: list[Row] = field(default_factory=list)
    #: P&L per account and instrument type in USD (every P&L currency added up)
    usd_by_type: list[Row] = field(default_factory=list)
    #: journal.daily_pnl_total_usd: the USD equity curve (``value`` = cumulative net P&L)
    usd_equity: list[Row] = field(default_factory=list)

    def has(self, relation: str) -> bool:
        return relation in self.columns


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Reader:
    def __init__(self, con: Any, account_uid: str | None) -> None:
        self.con = con
        self.account_uid = account_uid
        self.columns: dict[str, set[str]] = {}
        # Qualify every name with the catalog: a file called journal.duckdb is itself
        # catalog "journal", and an unqualified journal.x would be ambiguous.
        self.catalog = str(self.scalar("select current_database()"))
        rows = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() and table_schema in ('journal', 'okx_raw')"
        ).fetchall()
        for schema, table, column in rows:
            self.columns.setdefault(f"{schema}.{table}", set()).add(str(column).lower())

    def has(self, relation: str) -> bool:
        return f"{JOURNAL}.{relation}" in self.columns

    def table(self, relation: str, schema: str = JOURNAL) -> str:
        return f"{_quote(self.catalog)}.{_quote(schema)}.{_quote(relation)}"

    def cols(self, relation: str, schema: str = JOURNAL) -> set[str]:
        return self.columns.get(f"{schema}.{relation}", set())

    def pick(self, relation: str, *candidates: str) -> str | None:
        present = self.cols(relation)
        for name in candidates:
            if name in present:
                return name
        return None

    def expr(self, relation: str, *candidates: str) -> str:
        name = self.pick(relation, *candidates)
        return _quote(name) if name else "NULL"

    def where(self, relation: str, extra: str = "") -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.account_uid is not None and "account_uid" in self.cols(relation):
            clauses.append("account_uid = ?")
            params.append(self.account_uid)
        if extra:
            clauses.append(extra)
        return (" where " + " and ".join(clauses) if clauses else ""), params

    def select(
        self,
        relation: str,
        wanted: Mapping[str, Sequence[str]],
        *,
        extra_where: str = "",
        order_by: Sequence[str] = (),
        descending: bool = False,
        limit: int | None = None,
    ) -> list[Row]:
        """Rows of ``journal.relation`` as dicts keyed by ``wanted``'s keys; each key reads
        the first of its candidate columns that exists, else NULL."""
        if not self.has(relation):
            return []
        exprs = [f"{self.expr(relation, *cands)} as {_quote(key)}" for key, cands in wanted.items()]
        where, params = self.where(relation, extra_where)
        sql = f"select {', '.join(exprs)} from {self.table(relation)}{where}"
        direction = " desc nulls last" if descending else " nulls first"
        order = [_quote(k) + direction for k in order_by if k in wanted]
        if order:
            sql += " order by " + ", ".join(order)
        if limit is not None:
            sql += f" limit {int(limit)}"
        cursor = self.con.execute(sql, params)
        keys = list(wanted)
        return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.con.execute(sql, list(params)).fetchone()
        return row[0] if row else None


_MONEY = ("gross_pnl", "fees", "funding", "interest", "net_pnl")
_MONEY_USD = tuple(f"{name}_usd" for name in ("gross_pnl", "fees", "funding", "interest", "net_pnl"))


def _read_usd(r: _Reader, j: _Journal) -> None:
    """The USD relations (journal.pnl_total_usd, daily_pnl_total_usd, the *_usd columns of
    pnl_by_instrument_type); absent in a journal built before USD valuation."""
    j.usd_total = r.select(
        "pnl_total_usd",
        {"account_uid": ("account_uid",), **{k: (k,) for k in _MONEY_USD},
         "unrealised_pnl_usd": ("unrealised_pnl_usd",), "total_pnl_usd": ("total_pnl_usd",),
         "unpriced_events": ("unpriced_events",)},
        order_by=("account_uid",),
    )
    if "net_pnl_usd" in r.cols("pnl_by_instrument_type"):
        # a type's USD figure is NULL when any of its currencies has an unpriced event
        sums = ", ".join(
            f"case when count(*) filter (where {_quote(k)} is null) = 0 then sum({_quote(k)}) end"
            f" as {_quote(k)}" for k in _MONEY_USD
        )
        where, params = r.where("pnl_by_instrument_type")
        cursor = r.con.execute(
            f"select account_uid, inst_type, {sums} from {r.table('pnl_by_instrument_type')}"
            f"{where} group by account_uid, inst_type",
            params,
        )
        keys = ["account_uid", "inst_type", *_MONEY_USD]
        j.usd_by_type = [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]
        j.usd_by_type.sort(key=lambda row: (str(row["account_uid"]), _type_rank(row["inst_type"])))
    j.usd_equity = r.select(
        "daily_pnl_total_usd",
        {"day": ("day",), "account_uid": ("account_uid",), "value": ("cumulative_net_pnl_usd",)},
        order_by=("day",),
    )
    for row in j.usd_equity:
        row["day"] = _as_day(row["day"])
        row["pnl_ccy"] = "USD"
    j.usd_equity = [row for row in j.usd_equity if row["day"] is not None and row["value"] is not None]


def _read(con: Any, account_uid: str | None) -> _Journal:
    r = _Reader(con, account_uid)
    j = _Journal(columns={k.split(".", 1)[1]: v for k, v in r.columns.items() if k.startswith("journal.")})

    money = {name: (name,) for name in _MONEY}
    j.pnl_by_type = r.select(
        "pnl_by_instrument_type",
        {"account_uid": ("account_uid",), "inst_type": ("inst_type",), "pnl_ccy": ("pnl_ccy", "ccy"), **money},
        order_by=("pnl_ccy", "account_uid"),
    )
    j.pnl_by_type.sort(key=lambda row: (_ccy_rank(str(row["pnl_ccy"])), str(row["account_uid"]), _type_rank(row["inst_type"])))
    _read_usd(r, j)

    if r.has("daily_pnl"):
        day = r.expr("daily_pnl", "day", "date")
        ccy = r.expr("daily_pnl", "pnl_ccy", "ccy")
        acct = r.expr("daily_pnl", "account_uid")
        sums = ", ".join(
            f"sum({r.expr('daily_pnl', name)}) as {name}" for name in _MONEY
        )
        where, params = r.where("daily_pnl")
        cursor = con.execute(
            f"select {day} as day, {acct} as account_uid, {ccy} as pnl_ccy, {sums} "
            f"from {r.table('daily_pnl')}{where} group by all order by 1, 2, 3",
            params,
        )
        keys = ["day", "account_uid", "pnl_ccy", *_MONEY]
        j.daily = [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]
        for row in j.daily:
            row["day"] = _as_day(row["day"])
        j.daily = [row for row in j.daily if row["day"] is not None]

    j.equity = r.select(
        "equity_curve",
        {
            "day": ("day", "date"),
            "account_uid": ("account_uid",),
            "pnl_ccy": ("pnl_ccy", "ccy"),
            "value": ("cumulative_net_pnl", "cum_net_pnl", "equity", "cumulative_pnl"),
        },
        order_by=("day",),
    )
    for row in j.equity:
        row["day"] = _as_day(row["day"])
    j.equity = [row for row in j.equity if row["day"] is not None and row["value"] is not None]
    if not j.equity and j.daily:  # derive it: the running sum of daily net P&L
        running: dict[tuple[Any, Any], Decimal] = defaultdict(Decimal)
        for row in j.daily:
            key = (row["account_uid"], row["pnl_ccy"])
            running[key] += _to_decimal(row["net_pnl"]) or Decimal(0)
            j.equity.append({"day": row["day"], "account_uid": key[0], "pnl_ccy": key[1], "value": running[key]})

    j.stats = r.select(
        "stats",
        {
            "account_uid": ("account_uid",),
            "inst_type": ("inst_type",),
            "pnl_ccy": ("pnl_ccy", "ccy"),
            "trades": ("trades", "round_trips_closed", "round_trips", "trade_count"),
            "win_rate": ("win_rate",),
            "profit_factor": ("profit_factor",),
            "expectancy": ("expectancy",),
            "avg_win": ("avg_win", "average_win"),
            "avg_loss": ("avg_loss", "average_loss"),
            "largest_win": ("largest_win",),
            "largest_loss": ("largest_loss",),
            "max_drawdown": ("max_drawdown",),
            "longest_losing_streak": ("longest_losing_streak", "max_losing_streak"),
        },
    )
    j.stats.sort(key=lambda row: (_ccy_rank(str(row["pnl_ccy"])), str(row["account_uid"]), _type_rank(row["inst_type"])))

    j.open_positions = r.select(
        "open_positions",
        {
            "account_uid": ("account_uid",),
            "inst_type": ("inst_type",),
            "inst_id": ("inst_id",),
            "pos_side": ("direction", "pos_side", "side"),
            "size": ("size", "pos", "qty", "quantity"),
            "avg_px": ("avg_px", "avg_entry_px", "entry_px"),
            "mark_px": ("mark_px", "okx_mark_px"),
            "upl": ("upl", "okx_upl", "unrealized_pnl", "unrealised_pnl"),
            "upl_ccy": ("upl_ccy", "okx_ccy", "pnl_ccy", "ccy"),
            "realized": ("realized_net_pnl", "realised_net_pnl", "realized_pnl"),
            "pnl_ccy": ("pnl_ccy", "ccy", "settle_ccy", "okx_ccy"),
            "opened_at": ("opened_at", "c_time", "created_at"),
        },
    )
    j.position_extras = {
        key for key, cands in (("mark_px", ("mark_px", "okx_mark_px")),
                               ("realized", ("realized_net_pnl", "realised_net_pnl", "realized_pnl")))
        if r.pick("open_positions", *cands)
    }
    j.open_positions.sort(key=lambda row: (str(row["account_uid"]), _type_rank(row["inst_type"]), str(row["inst_id"])))

    rt_cols = {
        "account_uid": ("account_uid",),
        "inst_type": ("inst_type",),
        "inst_id": ("inst_id",),
        "direction": ("direction", "pos_side"),
        "opened_at": ("opened_at",),
        "closed_at": ("closed_at",),
        "entry_px": ("entry_px",),
        "exit_px": ("exit_px",),
        "max_size": ("max_size",),
        "net_pnl": ("net_pnl",),
        "pnl_ccy": ("pnl_ccy", "ccy"),
    }
    if r.has("round_trips"):
        closed = r.pick("round_trips", "closed_at")
        extra = f"{_quote(closed)} is not null" if closed else ""
        where, params = r.where("round_trips", extra)
        j.round_trip_count = int(r.scalar(f"select count(*) from {r.table('round_trips')}{where}", params) or 0)
        j.round_trips = r.select("round_trips", rt_cols, extra_where=extra, order_by=("closed_at",), descending=True, limit=20)

    j.reconciliation = r.select(
        "reconciliation",
        {
            "check_name": ("check_name", "check", "name"),
            "subject": ("subject",),
            "compared": ("compared", "description"),
            "value_a": ("value_a", "expected_value", "expected"),
            "value_b": ("value_b", "actual_value", "actual"),
            "difference": ("difference", "diff"),
            "ok": ("ok", "passed"),
        },
        order_by=("check_name", "subject"),
    )

    accounts: set[str] = set()
    for rows in (j.pnl_by_type, j.daily, j.equity, j.stats, j.open_positions, j.round_trips):
        accounts.update(str(row["account_uid"]) for row in rows if row.get("account_uid") is not None)
    j.accounts = tuple(sorted(accounts))

    if "account_config" in {k.split(".", 1)[1] for k in r.columns if k.startswith("okx_raw.")}:
        present = r.cols("account_config", "okx_raw")
        if "uid" in present and "label" in present:
            for uid, label in con.execute(f"select uid, label from {r.table('account_config', 'okx_raw')}").fetchall():
                if uid is not None:
                    j.account_labels[str(uid)] = str(label or "")

    j.raw_loaded = any(key.startswith("okx_raw.") for key in r.columns)
    if not j.accounts:
        known = set(j.account_labels) if account_uid is None else {account_uid} & set(j.account_labels)
        j.accounts = tuple(sorted(known))

    days = [row["day"] for row in j.daily] + [row["day"] for row in j.equity]
    for row in j.round_trips:
        days.extend(d for d in (_as_day(row["opened_at"]), _as_day(row["closed_at"])) if d)
    if days:
        j.first_day, j.last_day = min(days), max(days)
    return j


def _is_all_types(inst_type: Any) -> bool:
    """A stats row over every instrument type: NULL (or a spelled-out 'ALL')."""
    return inst_type is None or str(inst_type).upper() in ("ALL", "*", "TOTAL", "")


def _type_rank(inst_type: Any) -> tuple[int, str]:
    if _is_all_types(inst_type):
        return (-1, "")
    text = str(inst_type)
    return (INST_TYPE_ORDER.index(text) if text in INST_TYPE_ORDER else len(INST_TYPE_ORDER), text)


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class _Series:
    label: str
    colour: str
    points: list[tuple[date, Decimal]]


_W, _H = 1120, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 96, 16, 16, 44


def _nice_ticks(lo: Decimal, hi: Decimal, count: int = 5) -> list[Decimal]:
    """Round tick values covering [lo, hi] (and zero), computed in Decimal."""
    lo, hi = min(lo, Decimal(0)), max(hi, Decimal(0))
    if hi == lo:
        hi = lo + 1
    raw = (hi - lo) / count
    exponent = raw.adjusted()
    unit = Decimal(1).scaleb(exponent)
    mantissa = raw / unit
    for nice in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if mantissa <= nice:
            step = nice * unit
            break
    else:  # pragma: no cover - mantissa < 10 always
        step = 10 * unit
    start = (lo / step).to_integral_value(rounding=ROUND_FLOOR) * step
    end = (hi / step).to_integral_value(rounding=ROUND_CEILING) * step
    ticks: list[Decimal] = []
    tick = start
    while tick <= end and len(ticks) < 50:
        ticks.append(tick)
        tick += step
    return ticks


def _tick_label(value: Decimal) -> str:
    if value.is_zero():
        return "0"
    return format(value.normalize(), ",f")


class _Frame:
    """Shared scales of one chart: days on x (one band per calendar day), Decimal on y."""

    def __init__(self, first: date, last: date, lo: Decimal, hi: Decimal) -> None:
        self.first = first
        self.days = (last - first).days + 1
        self.ticks = _nice_ticks(lo, hi)
        self.y0, self.y1 = self.ticks[0], self.ticks[-1]
        self.plot_w = _W - _LEFT - _RIGHT
        self.plot_h = _H - _TOP - _BOTTOM
        self.band = self.plot_w / self.days

    def x(self, day: date) -> float:
        return _LEFT + ((day - self.first).days + 0.5) * self.band

    def y(self, value: Decimal) -> float:
        span = self.y1 - self.y0
        return _TOP + float((self.y1 - value) / span) * self.plot_h

    def axes(self) -> list[str]:
        parts: list[str] = []
        for tick in self.ticks:
            y = self.y(tick)
            cls = "zero" if tick.is_zero() else "grid"
            parts.append(f'<line class="{cls}" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
            parts.append(f'<text class="ylab" x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{_e(_tick_label(tick))}</text>')
        labels = min(7, self.days)
        seen: set[int] = set()
        for i in range(labels):
            offset = round(i * (self.days - 1) / max(labels - 1, 1))
            if offset in seen:
                continue
            seen.add(offset)
            day = date.fromordinal(self.first.toordinal() + offset)
            x = self.x(day)
            anchor = "start" if i == 0 and labels > 1 else "end" if i == labels - 1 and labels > 1 else "middle"
            parts.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM + 5}"/>')
            parts.append(f'<text class="xlab" x="{x:.1f}" y="{_H - _BOTTOM + 20}" text-anchor="{anchor}">{day.isoformat()}</text>')
        parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_H - _BOTTOM}"/>')
        return parts


def _svg(kind: str, title: str, body: Iterable[str]) -> str:
    return (
        f'<svg class="chart {kind}" role="img" aria-label="{_e(title)}" viewBox="0 0 {_W} {_H}" '
        f'preserveAspectRatio="xMidYMid meet"><title>{_e(title)}</title>' + "".join(body) + "</svg>"
    )


def _legend(series: Sequence[_Series]) -> str:
    items = "".join(
        f'<span class="key"><span class="swatch" style="background:{s.colour}"></span>{_e(s.label)}</span>'
        for s in series
    )
    return f'<div class="legend">{items}</div>'


def line_chart(title: str, series: Sequence[_Series], ccy: str) -> str:
    """Inline SVG line chart, one polyline per series; hover a point for its exact value."""
    points = [p for s in series for p in s.points]
    if not points:
        return '<p class="empty">No data yet.</p>'
    frame = _Frame(min(p[0] for p in points), max(p[0] for p in points),
                   min(p[1] for p in points), max(p[1] for p in points))
    body = frame.axes()
    for s in series:
        pts = sorted(s.points)
        coords = " ".join(f"{frame.x(d):.1f},{frame.y(v):.1f}" for d, v in pts)
        body.append(
            f'<polyline class="series" fill="none" stroke="{s.colour}" stroke-width="2.5" '
            f'stroke-linejoin="round" stroke-linecap="round" points="{coords}"/>'
        )
        step = max(1, len(pts) // 60)
        for i, (d, v) in enumerate(pts):
            if i % step and i != len(pts) - 1:
                continue
            body.append(
                f'<circle cx="{frame.x(d):.1f}" cy="{frame.y(v):.1f}" r="{3 if len(pts) < 60 else 2}" fill="{s.colour}">'
                f"<title>{_e(s.label)} {d.isoformat()}: {_e(format_money(v, ccy, signed=True))} {_e(ccy)}</title></circle>"
            )
    return _svg("line", title, body) + (_legend(series) if len(series) > 1 else "")


def bar_chart(title: str, points: Sequence[tuple[date, Decimal]], ccy: str) -> str:
    """Inline SVG bars around zero: gains green, losses red; hover a bar for its value."""
    if not points:
        return '<p class="empty">No data yet.</p>'
    frame = _Frame(min(p[0] for p in points), max(p[0] for p in points),
                   min(p[1] for p in points), max(p[1] for p in points))
    body = frame.axes()
    width = max(frame.band * 0.8, 1.0)
    zero = frame.y(Decimal(0))
    for d, v in sorted(points):
        y = frame.y(v)
        top, height = (y, zero - y) if v >= 0 else (zero, y - zero)
        colour = GAIN_COLOUR if v >= 0 else LOSS_COLOUR
        body.append(
            f'<rect class="bar" x="{frame.x(d) - width / 2:.2f}" y="{top:.1f}" width="{width:.2f}" '
            f'height="{max(height, 0.5):.1f}" fill="{colour}"><title>{d.isoformat()}: '
            f"{_e(format_money(v, ccy, signed=True))} {_e(ccy)}</title></rect>"
        )
    return _svg("bars", title, body)


# --------------------------------------------------------------------------- HTML pieces


def _money_cell(value: Any, ccy: str | None, *, signed: bool = False, bold: bool = False) -> str:
    dec = _to_decimal(value) if value is not None else None
    cls = "num"
    if dec is not None and signed:
        cls += " pos" if dec > 0 else " neg" if dec < 0 else ""
    if bold:
        cls += " strong"
    if dec is not None and dec.is_zero():
        return f'<td class="{cls} nil">0</td>'
    exact = "" if dec is None else f' title="{_e(_plain_number(dec))} {_e(ccy)}"'
    return f'<td class="{cls}"{exact}>{_e(format_money(value, ccy, signed=signed))}</td>'


def _num_cell(value: Any) -> str:
    return f'<td class="num">{_e(_plain_number(value))}</td>'


def _price_cell(value: Any) -> str:
    shown, exact = format_price(value), _plain_number(value)
    tip = f' title="{_e(exact)}"' if shown != exact else ""
    return f'<td class="num"{tip}>{_e(shown)}</td>'


def _table(headers: Sequence[tuple[str, bool]], rows: Iterable[str], cls: str = "") -> str:
    head = "".join(f'<th class="{"num" if numeric else ""}">{_e(h)}</th>' for h, numeric in headers)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _missing(relation: str) -> str:
    return f'<p class="empty">Not available: <code>journal.{_e(relation)}</code> has not been built.</p>'


def _by_ccy(rows: Iterable[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        out[str(row.get("pnl_ccy") or "?")].append(row)
    return dict(sorted(out.items(), key=lambda item: _ccy_rank(item[0])))


def _ccy_rank(ccy: str) -> tuple[int, str]:
    """Fiat and stablecoin P&L first (the usual main book), then coins by name."""
    return (0 if money_places(ccy) == 2 else 1, ccy)


def _sum(rows: Iterable[Row], key: str) -> Decimal | None:
    values = [_to_decimal(row[key]) for row in rows if row.get(key) is not None]
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


def _ratio(value: Any) -> str:
    dec = _to_decimal(value)
    if dec is None:
        return "—"
    return format(dec.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), ",f")


def _percent(value: Any) -> tuple[str, Decimal | None]:
    """Win rate as a percentage; values up to 1 are read as a fraction."""
    dec = _to_decimal(value)
    if dec is None:
        return "—", None
    pct = dec * 100 if abs(dec) <= 1 else dec
    return format(pct.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), "f") + "%", pct


class _Html:
    def __init__(self, j: _Journal) -> None:
        self.j = j
        self.multi = len(j.accounts) > 1

    def account(self, uid: Any) -> str:
        label = self.j.account_labels.get(str(uid), "")
        return f"{uid} ({label})" if label else str(uid)

    # headline -------------------------------------------------------------
    def headline(self) -> str:
        cards: list[str] = []
        for ccy, rows in _by_ccy(self.j.pnl_by_type).items():
            net = _sum(rows, "net_pnl")
            cls = "pos" if net and net > 0 else "neg" if net and net < 0 else ""
            costs = [(_sum(rows, k) or Decimal(0)) for k in ("fees", "funding", "interest")]
            cards.append(
                f'<div class="card"><div class="label">Net P&amp;L · {_e(ccy)}</div>'
                f'<div class="value {cls}">{_e(format_money(net, ccy, signed=True))}</div>'
                f'<div class="sub">gross {_e(format_money(_sum(rows, "gross_pnl"), ccy, signed=True))}'
                f" · costs {_e(format_money(sum(costs, Decimal(0)), ccy, signed=True))}</div></div>"
            )
        for row in self.j.stats:
            if not _is_all_types(row["inst_type"]):
                continue
            ccy = str(row["pnl_ccy"] or "?")
            rate, _ = _percent(row["win_rate"])
            who = f" · {self.account(row['account_uid'])}" if self.multi else ""
            cards.append(
                f'<div class="card"><div class="label">Win rate · PF · {_e(ccy)}{_e(who)}</div>'
                f'<div class="value">{_e(rate)} <span class="pf">PF {_e(_ratio(row["profit_factor"]))}</span></div>'
                f'<div class="sub">{_e(_plain_number(row["trades"]))} round trips · max drawdown '
                f'{_e(format_money(row["max_drawdown"], ccy))}</div></div>'
            )
        recon = self.j.reconciliation
        failures = [r for r in recon if r["ok"] is not True]
        if self.j.has("reconciliation"):
            status = "all ok" if not failures else f"{len(failures)} failing"
            cls = "pos" if not failures else "neg"
            cards.append(
                f'<div class="card"><div class="label">Reconciliation</div>'
                f'<div class="value {cls}">{_e(status)}</div><div class="sub">{len(recon)} checks</div></div>'
            )
        cards.append(
            f'<div class="card"><div class="label">Open positions</div>'
            f'<div class="value">{len(self.j.open_positions)}</div>'
            f'<div class="sub">{self.j.round_trip_count} closed round trips</div></div>'
        )
        return f'<section class="cards">{"".join(cards)}</section>'

    # USD: every instrument type and currency in one currency ------------------
    def usd_section(self) -> str:
        """The USD total, P&L by instrument type in USD and the USD equity curve."""
        if not self.j.usd_total and not self.j.usd_by_type:
            return ""
        cards: list[str] = []
        for row in self.j.usd_total:
            net = _to_decimal(row["net_pnl_usd"])
            cls = "pos" if net and net > 0 else "neg" if net and net < 0 else ""
            who = f" · {self.account(row['account_uid'])}" if self.multi else ""
            costs = [_to_decimal(row[k]) for k in ("fees_usd", "funding_usd", "interest_usd")]
            cost = sum((c for c in costs if c is not None), Decimal(0)) if None not in costs else None
            unpriced = _to_decimal(row["unpriced_events"]) or Decimal(0)
            note = (f" · {_e(_plain_number(unpriced))} events without a USD price (see reconciliation)"
                    if unpriced else "")
            cards.append(
                f'<div class="card usd" data-usd-total="{_e(row["net_pnl_usd"])}">'
                f'<div class="label">Net P&amp;L in USD · all instrument types and currencies{_e(who)}</div>'
                f'<div class="value {cls}" id="usd-total-value">{_e(format_money(net, "USD", signed=True))} USD</div>'
                f'<div class="sub">gross {_e(format_money(_to_decimal(row["gross_pnl_usd"]), "USD", signed=True))}'
                f" · costs {_e(format_money(cost, 'USD', signed=True))}"
                f" · unrealised {_e(format_money(_to_decimal(row['unrealised_pnl_usd']), 'USD', signed=True))}"
                f"{note}</div></div>"
            )
        parts = [f'<section class="cards">{"".join(cards)}</section>']
        if self.j.usd_by_type:
            headers = [("Account", False)] if self.multi else []
            headers += [("Instrument type", False), ("Gross P&L", True), ("Fees", True),
                        ("Funding", True), ("Interest", True), ("Net P&L", True)]
            body: list[str] = []
            for row in self.j.usd_by_type:
                cells = f"<td>{_e(self.account(row['account_uid']))}</td>" if self.multi else ""
                cells += f"<td>{_e(row['inst_type'])}</td>"
                cells += "".join(_money_cell(row[k], "USD", signed=True, bold=k == "net_pnl_usd")
                                 for k in _MONEY_USD)
                body.append(f"<tr>{cells}</tr>")
            for total in self.j.usd_total:
                cells = f"<td>{_e(self.account(total['account_uid']))}</td>" if self.multi else ""
                cells += "<td>Total USD</td>"
                cells += "".join(_money_cell(total[k], "USD", signed=True, bold=True) for k in _MONEY_USD)
                body.append(f'<tr class="total">{cells}</tr>')
            parts.append("<h3>P&amp;L by instrument type in USD</h3>"
                         + _table(headers, body, "pnl usd-by-type"))
        if self.j.usd_equity:
            per_account: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
            for row in self.j.usd_equity:
                value = _to_decimal(row["value"])
                if value is not None:
                    per_account[str(row["account_uid"])].append((row["day"], value))
            series = [
                _Series(self.account(uid), SERIES_COLOURS[i % len(SERIES_COLOURS)], pts)
                for i, (uid, pts) in enumerate(sorted(per_account.items()))
            ]
            parts.append("<h3>Equity curve in USD (cumulative net P&amp;L)</h3>"
                         + line_chart("Equity curve in USD (cumulative net P&L)", series, "USD"))
        parts.append('<p class="muted">Each event valued at the open of OKX\'s hourly USD index bar of '
                     "its hour (stablecoins without an index at 1 USD); the per-currency tables "
                     "below keep every amount in its own P&amp;L currency.</p>")
        return '<section id="usd-total">' + "".join(parts) + "</section>"

    # P&L by instrument type ----------------------------------------------
    def pnl_table(self) -> str:
        if not self.j.has("pnl_by_instrument_type"):
            return _missing("pnl_by_instrument_type")
        if not self.j.pnl_by_type:
            return '<p class="empty">No realised P&amp;L yet.</p>'
        parts: list[str] = []
        headers = [("Account", False)] if self.multi else []
        headers += [("Instrument type", False), ("Gross P&L", True), ("Fees", True),
                    ("Funding", True), ("Interest", True), ("Net P&L", True)]
        for ccy, rows in _by_ccy(self.j.pnl_by_type).items():
            body: list[str] = []
            for row in rows:
                cells = f"<td>{_e(self.account(row['account_uid']))}</td>" if self.multi else ""
                cells += f"<td>{_e(row['inst_type'])}</td>"
                cells += "".join(_money_cell(row[k], ccy, signed=True, bold=k == "net_pnl") for k in _MONEY)
                body.append(f"<tr>{cells}</tr>")
            if len(rows) > 1:
                cells = '<td></td>' if self.multi else ""
                cells += f"<td>Total {_e(ccy)}</td>"
                cells += "".join(_money_cell(_sum(rows, k), ccy, signed=True, bold=True) for k in _MONEY)
                body.append(f'<tr class="total">{cells}</tr>')
            parts.append(f'<h3>In {_e(ccy)}</h3>' + _table(headers, body, "pnl"))
        return "".join(parts)

    # charts ---------------------------------------------------------------
    def equity_charts(self) -> str:
        if not self.j.equity:
            return _missing("equity_curve") if not self.j.has("equity_curve") else '<p class="empty">No data yet.</p>'
        parts: list[str] = []
        for ccy, rows in _by_ccy(self.j.equity).items():
            per_account: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
            for row in rows:
                value = _to_decimal(row["value"])
                if value is not None:
                    per_account[str(row["account_uid"])].append((row["day"], value))
            series = [
                _Series(self.account(uid), SERIES_COLOURS[i % len(SERIES_COLOURS)], pts)
                for i, (uid, pts) in enumerate(sorted(per_account.items()))
            ]
            last = [sorted(s.points)[-1][1] for s in series if s.points]
            now = (
                f' <span class="muted">last: {_e(", ".join(format_money(v, ccy, signed=True) for v in last))}</span>'
                if last else ""
            )
            parts.append(
                f"<h3>Cumulative net P&amp;L in {_e(ccy)}{now}</h3>"
                + line_chart(f"Equity curve (cumulative net P&L) in {ccy}", series, ccy)
            )
        return "".join(parts)

    def _daily_by_ccy(self) -> dict[str, dict[date, dict[str, Decimal]]]:
        out: dict[str, dict[date, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(Decimal)))
        for row in self.j.daily:
            ccy = str(row["pnl_ccy"] or "?")
            for key in _MONEY:
                value = _to_decimal(row[key]) if row[key] is not None else None
                if value is not None:
                    out[ccy][row["day"]][key] += value
        return dict(sorted(out.items(), key=lambda item: _ccy_rank(item[0])))

    def daily_charts(self) -> str:
        if not self.j.has("daily_pnl"):
            return _missing("daily_pnl")
        if not self.j.daily:
            return '<p class="empty">No data yet.</p>'
        parts: list[str] = []
        for ccy, days in self._daily_by_ccy().items():
            points = [(d, v["net_pnl"]) for d, v in sorted(days.items())]
            wins = sum(1 for _, v in points if v > 0)
            losses = sum(1 for _, v in points if v < 0)
            best = max(points, key=lambda p: p[1])
            worst = min(points, key=lambda p: p[1])
            parts.append(
                f'<h3>Net P&amp;L per day in {_e(ccy)} <span class="muted">{wins} green / {losses} red days · '
                f"best {_e(best[0].isoformat())} {_e(format_money(best[1], ccy, signed=True))} · "
                f"worst {_e(worst[0].isoformat())} {_e(format_money(worst[1], ccy, signed=True))}</span></h3>"
                + bar_chart(f"Daily net P&L in {ccy}", points, ccy)
            )
        return "".join(parts)

    def cost_charts(self) -> str:
        if not self.j.has("daily_pnl"):
            return _missing("daily_pnl")
        if not self.j.daily:
            return '<p class="empty">No data yet.</p>'
        parts: list[str] = []
        for ccy, days in self._daily_by_ccy().items():
            running = {k: Decimal(0) for k in ("fees", "funding", "interest")}
            pts: dict[str, list[tuple[date, Decimal]]] = {k: [] for k in running}
            for d, v in sorted(days.items()):
                for k in running:
                    running[k] += v.get(k, Decimal(0))
                    pts[k].append((d, running[k]))
            series = [_Series("Fees", FEES_COLOUR, pts["fees"])]
            if any(v for _, v in pts["funding"]):
                series.append(_Series("Funding", FUNDING_COLOUR, pts["funding"]))
            if any(v for _, v in pts["interest"]):
                series.append(_Series("Interest", INTEREST_COLOUR, pts["interest"]))
            totals = " · ".join(f"{s.label.lower()} {format_money(s.points[-1][1], ccy, signed=True)}" for s in series)
            parts.append(
                f'<h3>Cumulative fees and funding in {_e(ccy)} <span class="muted">{_e(totals)}</span></h3>'
                + line_chart(f"Cumulative fees, funding and interest in {ccy}", series, ccy)
                + (_legend(series) if len(series) == 1 else "")
            )
        return "".join(parts)

    # stats ------------------------------------------------------------------
    def stats_table(self) -> str:
        if not self.j.has("stats"):
            return _missing("stats")
        if not self.j.stats:
            return '<p class="empty">No closed round trips yet.</p>'
        headers = [("Account", False)] if self.multi else []
        headers += [("Instrument type", False), ("Ccy", False), ("Trades", True), ("Win rate", False),
                    ("Profit factor", True), ("Expectancy", True), ("Avg win", True), ("Avg loss", True),
                    ("Largest win", True), ("Largest loss", True), ("Max drawdown", True),
                    ("Longest losing streak", True)]
        body: list[str] = []
        for row in self.j.stats:
            ccy = str(row["pnl_ccy"] or "")
            rate, pct = _percent(row["win_rate"])
            width = float(max(Decimal(0), min(Decimal(100), pct))) if pct is not None else 0.0
            bar = (
                f'<svg class="winbar" viewBox="0 0 100 8" preserveAspectRatio="none">'
                f'<rect width="100" height="8" fill="#eaeef2"/><rect width="{width:.1f}" height="8" fill="{GAIN_COLOUR}"/></svg>'
            )
            cells = f"<td>{_e(self.account(row['account_uid']))}</td>" if self.multi else ""
            every = _is_all_types(row["inst_type"])
            kind = "All types" if every else str(row["inst_type"])
            cells += f'<td class="{"strong" if every else ""}">{_e(kind)}</td><td>{_e(ccy)}</td>'
            cells += _num_cell(row["trades"])
            cells += f'<td class="rate"><span>{_e(rate)}</span>{bar}</td>'
            cells += f'<td class="num">{_e(_ratio(row["profit_factor"]))}</td>'
            cells += _money_cell(row["expectancy"], ccy, signed=True)
            cells += _money_cell(row["avg_win"], ccy, signed=True)
            cells += _money_cell(row["avg_loss"], ccy, signed=True)
            cells += _money_cell(row["largest_win"], ccy, signed=True)
            cells += _money_cell(row["largest_loss"], ccy, signed=True)
            cells += _money_cell(row["max_drawdown"], ccy)
            cells += _num_cell(row["longest_losing_streak"])
            body.append(f"<tr>{cells}</tr>")
        return _table(headers, body, "stats")

    def positions_table(self) -> str:
        if not self.j.has("open_positions"):
            return _missing("open_positions")
        if not self.j.open_positions:
            return '<p class="empty">No open positions.</p>'
        headers = [("Account", False)] if self.multi else []
        extras = self.j.position_extras
        headers += [("Type", False), ("Instrument", False), ("Side", False), ("Size", True),
                    ("Avg entry", True)]
        headers += [("Mark", True)] if "mark_px" in extras else []
        headers += [("Unrealised P&L", True)]
        headers += [("Realised so far", True)] if "realized" in extras else []
        headers += [("Ccy", False), ("Opened (UTC)", False)]
        body: list[str] = []
        for row in self.j.open_positions:
            ccy = str(row["pnl_ccy"] or row["upl_ccy"] or "")
            upl_ccy = str(row["upl_ccy"] or ccy)
            cells = f"<td>{_e(self.account(row['account_uid']))}</td>" if self.multi else ""
            cells += f"<td>{_e(row['inst_type'])}</td><td>{_e(row['inst_id'])}</td><td>{_e(row['pos_side'] or '—')}</td>"
            cells += _num_cell(row["size"]) + _price_cell(row["avg_px"])
            cells += _price_cell(row["mark_px"]) if "mark_px" in extras else ""
            upl = _money_cell(row["upl"], upl_ccy, signed=True)
            if row["upl"] is not None and upl_ccy != ccy:  # OKX may value it in another currency
                upl = upl.replace("</td>", f" {_e(upl_ccy)}</td>")
            cells += upl
            cells += _money_cell(row["realized"], ccy, signed=True) if "realized" in extras else ""
            cells += f"<td>{_e(ccy)}</td><td>{_e(_fmt_time(row['opened_at']))}</td>"
            body.append(f"<tr>{cells}</tr>")
        totals = []
        by_upl_ccy: dict[str, list[Row]] = defaultdict(list)
        for row in self.j.open_positions:
            by_upl_ccy[str(row["upl_ccy"] or row["pnl_ccy"] or "?")].append(row)
        for ccy, rows in sorted(by_upl_ccy.items(), key=lambda item: _ccy_rank(item[0])):
            total = _sum(rows, "upl")
            if total is not None:
                totals.append(f"{format_money(total, ccy, signed=True)} {ccy}")
        foot = f'<p class="muted">Unrealised P&amp;L: {_e(" · ".join(totals))}</p>' if totals else ""
        return _table(headers, body, "positions") + foot

    def round_trips_table(self) -> str:
        if not self.j.has("round_trips"):
            return _missing("round_trips")
        if not self.j.round_trips:
            return '<p class="empty">No closed round trips yet.</p>'
        headers = [("Account", False)] if self.multi else []
        headers += [("Closed (UTC)", False), ("Type", False), ("Instrument", False), ("Direction", False),
                    ("Entry", True), ("Exit", True), ("Max size", True), ("Net P&L", True), ("Ccy", False)]
        body: list[str] = []
        for row in self.j.round_trips:
            ccy = str(row["pnl_ccy"] or "")
            cells = f"<td>{_e(self.account(row['account_uid']))}</td>" if self.multi else ""
            cells += f"<td>{_e(_fmt_time(row['closed_at']))}</td><td>{_e(row['inst_type'])}</td>"
            cells += f"<td>{_e(row['inst_id'])}</td><td>{_e(row['direction'] or '—')}</td>"
            cells += _price_cell(row["entry_px"]) + _price_cell(row["exit_px"]) + _num_cell(row["max_size"])
            cells += _money_cell(row["net_pnl"], ccy, signed=True, bold=True) + f"<td>{_e(ccy)}</td>"
            body.append(f"<tr>{cells}</tr>")
        note = f'<p class="muted">The {len(self.j.round_trips)} most recent of {self.j.round_trip_count} closed round trips.</p>'
        return _table(headers, body, "trips") + note

    def reconciliation(self) -> str:
        if not self.j.has("reconciliation"):
            return _missing("reconciliation")
        rows = self.j.reconciliation
        if not rows:
            return '<p class="empty">No reconciliation checks have run yet.</p>'
        failures = [r for r in rows if r["ok"] is not True]
        per_check: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in rows:
            per_check[str(r["check_name"])][0] += 1
            per_check[str(r["check_name"])][1] += r["ok"] is not True
        if not failures:
            names = ", ".join(f"{name} ×{n}" for name, (n, _) in sorted(per_check.items()))
            return f'<p class="ok">✔ All {len(rows)} reconciliation checks pass ({_e(names)}).</p>'
        summary = [
            f'<tr><td>{_e(name)}</td><td class="num">{n}</td>'
            f'<td class="num {"neg strong" if bad else "pos"}">{bad}</td></tr>'
            for name, (n, bad) in sorted(per_check.items(), key=lambda item: (-item[1][1], item[0]))
        ]
        shown = failures[:50]
        headers = [("Check", False), ("Subject", False), ("Compared", False), ("Expected", True),
                   ("Actual", True), ("Difference", True), ("Status", False)]
        body = [
            f"<tr><td>{_e(r['check_name'])}</td><td>{_e(r['subject'])}</td>"
            f'<td class="wrap">{_e(r["compared"] or "")}</td>{_num_cell(r["value_a"])}'
            f"{_num_cell(r['value_b'])}{_num_cell(r['difference'])}"
            f'<td class="neg">{"unknown" if r["ok"] is None else "FAIL"}</td></tr>'
            for r in shown
        ]
        more = (
            f'<p class="muted">First {len(shown)} of {len(failures)} failing rows; the rest are in '
            "<code>journal.reconciliation</code> (where not ok).</p>"
            if len(failures) > len(shown) else ""
        )
        return (
            f'<p class="fail">✘ {len(failures)} of {len(rows)} reconciliation checks fail — '
            "look at these before trusting the P&amp;L:</p>"
            + _table([("Check", False), ("Rows", True), ("Failing", True)], summary, "recon-summary")
            + '<div class="scroll">' + _table(headers, body, "recon") + "</div>" + more
        )


_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#ffffff;--panel:#f6f8fa;--pos:#1a7f37;--neg:#cf222e}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"DejaVu Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:20px 24px 48px}
header h1{font-size:22px;margin:0 0 4px}
header .meta{color:var(--muted);display:flex;flex-wrap:wrap;gap:4px 24px}
header .meta b{color:var(--fg);font-weight:600}
h2{font-size:17px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:14px 0 6px}
.muted{color:var(--muted);font-weight:400}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(176px,1fr));gap:10px;margin-top:16px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .label{color:var(--muted);font-size:12px}
.card .value{font-size:21px;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.card .pf{font-size:14px;color:var(--muted);font-weight:500}
.card .sub{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%;margin:4px 0 8px;font-variant-numeric:tabular-nums}
th,td{padding:5px 7px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{background:var(--panel);font-weight:600;font-size:12px;color:var(--muted);white-space:normal;vertical-align:bottom}
td.nil{color:#8c959f}
td.wrap{white-space:normal;min-width:200px;color:var(--muted);font-size:12px}
table.recon-summary{width:auto;min-width:360px}
td.num,th.num{text-align:right}
tr.total td{border-top:2px solid var(--fg);font-weight:600}
.strong{font-weight:600}
.pos{color:var(--pos)}.neg{color:var(--neg)}
.ok{color:var(--pos);font-weight:600}.fail{color:var(--neg);font-weight:600}
.empty{color:var(--muted);font-style:italic}
.nodata{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:24px;margin-top:24px;font-size:16px}
svg.chart{width:100%;height:auto;display:block;background:#fff}
svg.chart .grid{stroke:#eaeef2;stroke-width:1}
svg.chart .zero{stroke:#8c959f;stroke-width:1.2}
svg.chart .axis,svg.chart .tick{stroke:#8c959f;stroke-width:1}
svg.chart text{fill:#59636e;font-size:12px;font-variant-numeric:tabular-nums}
td.rate span{display:inline-block;min-width:46px;text-align:right;margin-right:6px}
svg.winbar{display:inline-block;width:56px;height:8px;vertical-align:middle}
.legend{display:flex;gap:16px;color:var(--muted);font-size:12px;margin:2px 0 8px 96px}
.swatch{display:inline-block;width:14px;height:4px;border-radius:2px;margin-right:6px;vertical-align:middle}
.scroll{overflow-x:auto}
footer{margin-top:32px;color:var(--muted);font-size:12px}
"""


def render_report(j: _Journal, *, generated_at: datetime, db_name: str, account_uid: str | None) -> str:
    """The whole page as a string (no I/O)."""
    h = _Html(j)
    accounts = ", ".join(h.account(a) for a in j.accounts) or (account_uid or "none")
    span = (
        f"{j.first_day.isoformat()} → {j.last_day.isoformat()} ({(j.last_day - j.first_day).days + 1} days)"
        if j.first_day and j.last_day else "no data"
    )
    meta = (
        f"<span>Account{'s' if len(j.accounts) > 1 else ''}: <b>{_e(accounts)}</b></span>"
        f"<span>Data: <b>{_e(span)}</b></span>"
        f"<span>Generated: <b>{_e(generated_at.strftime('%Y-%m-%d %H:%M:%S'))} UTC</b></span>"
        f"<span>Database: <b>{_e(db_name)}</b></span>"
    )
    has_data = bool(j.pnl_by_type or j.daily or j.equity or j.round_trips or j.open_positions or j.stats)
    if not has_data:
        if j.columns:
            why = "The journal in this database is empty: no fills have been loaded yet."
        elif j.raw_loaded:
            why = ("Your OKX data is loaded (schema <code>okx_raw</code>) but the journal has not "
                   "been built: run <code>okx-journal sync</code> again, it rebuilds the journal.")
        else:
            why = "This database holds no OKX data and no journal."
        body = (
            f'<section class="nodata"><b>No data yet.</b> {why} Load your account with '
            "<code>okx-journal sync</code> (or try <code>okx-journal demo</code>), then run "
            "<code>okx-journal report</code> again.</section>"
        )
        if j.has("reconciliation"):
            body += "<h2>Reconciliation</h2>" + h.reconciliation()
    else:
        usd = h.usd_section()
        body = (
            (("<h2>Total P&amp;L in USD</h2>" + usd) if usd else "")
            + h.headline()
            + "<h2>P&amp;L by instrument type</h2>" + h.pnl_table()
            + "<h2>Equity curve</h2>" + h.equity_charts()
            + "<h2>Daily P&amp;L</h2>" + h.daily_charts()
            + "<h2>Fees and funding over time</h2>" + h.cost_charts()
            + "<h2>Win rate and profit factor</h2>" + '<div class="scroll">' + h.stats_table() + "</div>"
            + "<h2>Open positions</h2>" + '<div class="scroll">' + h.positions_table() + "</div>"
            + "<h2>Recent round trips</h2>" + '<div class="scroll">' + h.round_trips_table() + "</div>"
            + "<h2>Reconciliation</h2>" + h.reconciliation()
        )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta name=\"color-scheme\" content=\"light\">"
        f"<title>OKX trade journal · {_e(accounts)}</title><style>{_CSS}</style></head>"
        f"<body><main><header><h1>OKX trade journal</h1><div class=\"meta\">{meta}</div></header>"
        f"{body}"
        "<footer>Money is shown from the stored DECIMAL values, rounded half-up to the currency's "
        "precision (hover a figure for the exact value). Amounts in different P&amp;L currencies are "
        "only added together in USD, each valued at its own hour's price. Fees, funding and interest are negative when they cost you. "
        "Written by okx-journal report; this file needs no network.</footer>"
        "</main></body></html>\n"
    )


def write_report(db_path: Path | Any, out: Path, *, account_uid: str | None = None) -> ReportInfo:
    """Read the journal from ``db_path`` (read-only) and write the HTML report to ``out``.

    ``account_uid`` limits the report to one account. Raises ``ConfigError`` (exit 2) when
    the database does not exist or cannot be read, ``SyncLocked`` (exit 6) when a sync is
    writing it right now.
    """
    import duckdb

    out = Path(out)
    if getattr(db_path, "is_postgres", False):  # okx_journal.destination.Destination
        from okx_journal.postgres import PgConnection

        target: Any = db_path
        pg = PgConnection(target.dsn)
        try:
            journal = _read(pg, account_uid)
        finally:
            pg.close()
        return _write_page(journal, out, target.label.rsplit("/", 1)[-1], account_uid)
    db_path = Path(getattr(db_path, "db_path", db_path))
    if not db_path.is_file():
        raise ConfigError(
            f"database {db_path} does not exist: run `okx-journal sync --db {db_path}` first "
            "(or `okx-journal demo`)"
        )
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise SyncLocked(
                f"database {db_path} is being written by a running sync; run the report when it finishes"
            ) from exc
        raise ConfigError(f"cannot open database {db_path}: {str(exc).splitlines()[0]}") from exc
    except duckdb.Error as exc:
        raise ConfigError(f"cannot open database {db_path}: {str(exc).splitlines()[0]}") from exc
    try:
        con.execute("set TimeZone = 'UTC'")
        journal = _read(con, account_uid)
    finally:
        con.close()

    return _write_page(journal, out, db_path.name, account_uid)


def _write_page(journal: _Journal, out: Path, db_name: str, account_uid: str | None) -> ReportInfo:
    generated_at = datetime.now(UTC).replace(microsecond=0)
    page = render_report(journal, generated_at=generated_at, db_name=db_name, account_uid=account_uid)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)

    failures = sum(1 for r in journal.reconciliation if r["ok"] is not True)
    currencies = sorted(
        {str(r["pnl_ccy"]) for rows in (journal.pnl_by_type, journal.daily, journal.equity) for r in rows if r.get("pnl_ccy")}
    )
    has_data = bool(journal.pnl_by_type or journal.daily or journal.equity or journal.round_trips or journal.open_positions or journal.stats)
    return ReportInfo(
        path=out,
        accounts=journal.accounts,
        currencies=tuple(currencies),
        first_day=journal.first_day,
        last_day=journal.last_day,
        has_data=has_data,
        reconciliation_checks=len(journal.reconciliation),
        reconciliation_failures=failures,
        open_positions=len(journal.open_positions),
        missing_relations=tuple(
            rel for rel in ("round_trips", "daily_pnl", "pnl_by_instrument_type", "open_positions",
                            "stats", "equity_curve", "reconciliation")
            if not journal.has(rel)
        ),
        size_bytes=out.stat().st_size,
        generated_at=generated_at,
    )
