"""``okx-journal report``: the self-contained HTML report, from a hand-built journal.

The fixture creates the CONTRACT §3 ``journal.*`` relations directly (DECIMAL money), so
these tests do not depend on the transforms. The browser test renders the report in
headless Chromium (installed by scripts/install-chromium.sh) and looks at the pixels.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from okx_journal.report import (
    EQUITY_COLOUR,
    FEES_COLOUR,
    GAIN_COLOUR,
    LOSS_COLOUR,
    format_money,
    format_price,
    write_report,
)
from sources.okx.errors import ConfigError
from tests import browser

ACCOUNT = "acct-1001"
OTHER = "acct-2002"
START = date(2024, 3, 1)
DAYS = 30

DDL = """
create schema journal;
create table journal.round_trips (
    round_trip_id varchar, account_uid varchar, inst_type varchar, inst_id varchar, direction varchar,
    opened_at timestamptz, closed_at timestamptz, entry_px decimal(38,18), exit_px decimal(38,18),
    max_size decimal(38,18), gross_pnl decimal(38,18), fees decimal(38,18), funding decimal(38,18),
    interest decimal(38,18), net_pnl decimal(38,18), pnl_ccy varchar);
create table journal.daily_pnl (
    day date, account_uid varchar, inst_type varchar, inst_id varchar, pnl_ccy varchar,
    gross_pnl decimal(38,18), fees decimal(38,18), funding decimal(38,18), interest decimal(38,18),
    net_pnl decimal(38,18));
create table journal.pnl_by_instrument_type (
    account_uid varchar, inst_type varchar, pnl_ccy varchar, gross_pnl decimal(38,18),
    fees decimal(38,18), funding decimal(38,18), interest decimal(38,18), net_pnl decimal(38,18));
create table journal.open_positions (
    account_uid varchar, inst_type varchar, inst_id varchar, pos_side varchar, size decimal(38,18),
    avg_px decimal(38,18), upl decimal(38,18), pnl_ccy varchar, opened_at timestamptz);
create table journal.stats (
    account_uid varchar, inst_type varchar, pnl_ccy varchar, trades bigint, win_rate decimal(10,6),
    profit_factor decimal(20,6), expectancy decimal(38,18), avg_win decimal(38,18),
    avg_loss decimal(38,18), largest_win decimal(38,18), largest_loss decimal(38,18),
    max_drawdown decimal(38,18), longest_losing_streak integer);
create table journal.equity_curve (
    day date, account_uid varchar, pnl_ccy varchar, cumulative_net_pnl decimal(38,18));
create table journal.reconciliation (
    check_name varchar, subject varchar, value_a decimal(38,18), value_b decimal(38,18),
    difference decimal(38,18), ok boolean);
"""

# account, inst_type, ccy, gross, fees, funding, interest, net  (net = gross + fees + funding + interest)
PNL_BY_TYPE = [
    (ACCOUNT, "SPOT", "USDT", "1523.456789", "-12.3456", "0", "0", "1511.111189"),
    (ACCOUNT, "MARGIN", "USDT", "-200.5", "-3.25", "0", "-1.125", "-204.875"),
    (ACCOUNT, "SWAP", "USDT", "845.1", "-20.02", "-15.555", "0", "809.525"),
    (ACCOUNT, "FUTURES", "BTC", "0.01234567", "-0.0001", "0", "0", "0.01224567"),
    (ACCOUNT, "OPTION", "BTC", "-0.005", "-0.0003", "0", "0", "-0.0053"),
]


def _daily_rows(account: str, scale: Decimal) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for i in range(DAYS):
        day = START + timedelta(days=i)
        gross = Decimal((i * 37) % 23 - 9) * Decimal("12.5") * scale
        fees = Decimal("-1.75") * scale
        funding = (Decimal("-0.8") if i % 3 else Decimal("0.35")) * scale
        rows.append((day, account, "SWAP", "BTC-USDT-SWAP", "USDT", gross, fees, funding, Decimal(0),
                     gross + fees + funding))
        btc = Decimal((i * 11) % 7 - 3) * Decimal("0.00012345")
        rows.append((day, account, "FUTURES", "BTC-USD-240628", "BTC", btc, Decimal("-0.00001"),
                     Decimal(0), Decimal(0), btc - Decimal("0.00001")))
    return rows


def build_journal_db(path: Path, *, second_account: bool = False, failing: bool = False) -> Path:
    con = duckdb.connect(str(path))
    con.execute(DDL)
    con.executemany("insert into journal.pnl_by_instrument_type values (?,?,?,?,?,?,?,?)",
                    [tuple(Decimal(v) if n > 2 else v for n, v in enumerate(r)) for r in PNL_BY_TYPE])
    daily = _daily_rows(ACCOUNT, Decimal(1))
    if second_account:
        daily += _daily_rows(OTHER, Decimal("0.5"))
        con.execute("insert into journal.pnl_by_instrument_type values "
                    "(?, 'SWAP', 'USDT', 77.77, -7.07, 0, 0, 70.70)", [OTHER])
    con.executemany("insert into journal.daily_pnl values (?,?,?,?,?,?,?,?,?,?)", daily)
    con.execute("""
        insert into journal.equity_curve
        select day, account_uid, pnl_ccy,
               sum(sum(net_pnl)) over (partition by account_uid, pnl_ccy order by day)
        from journal.daily_pnl group by day, account_uid, pnl_ccy""")
    con.execute("""
        insert into journal.stats values
        (?, null,      'USDT', 48, 0.583333, 1.874512, 44.078358, 160.25, -92.5, 1210.5, -480.125, 655.4321, 4),
        (?, 'SPOT',    'USDT', 20, 0.65,     2.5,      75.555559, 150,    -80,   1210.5, -300,     250,      2),
        (?, 'SWAP',    'USDT', 16, 0.5,      1.3,      50.595313, 170,    -110,  900,    -480.125, 655.4321, 4),
        (?, null,      'BTC',  12, 0.416667, 0.8,      0.00057,   0.004,  -0.002, 0.009, -0.0061,  0.0123, 3)
    """, [ACCOUNT] * 4)
    con.execute("""
        insert into journal.open_positions values
        (?, 'SWAP', 'BTC-USDT-SWAP', 'long', 3, 64250.5, 123.45, 'USDT', '2024-03-28 09:15:00+00'),
        (?, 'OPTION', 'BTC-USD-240628-70000-C', 'short', 10, 0.0425, -0.0012, 'BTC', '2024-03-29 14:00:00+00')
    """, [ACCOUNT, ACCOUNT])
    con.execute("""
        insert into journal.round_trips values
        ('rt1', ?, 'SWAP', 'BTC-USDT-SWAP', 'long', '2024-03-02 01:00:00+00', '2024-03-03 02:00:00+00',
         61000.100000000016, 61500.2, 2, 100.02, -1.5, -0.4, 0, 98.12, 'USDT'),
        ('rt2', ?, 'SPOT', 'ETH-USDT', 'long', '2024-03-04 01:00:00+00', '2024-03-05 02:00:00+00',
         3400, 3350.5, 1.25, -61.875, -0.9, 0, 0, -62.775, 'USDT'),
        ('rt3', ?, 'SWAP', 'BTC-USDT-SWAP', 'short', '2024-03-28 09:15:00+00', null,
         64250.5, null, 3, 0, -1.2, 0, 0, -1.2, 'USDT')
    """, [ACCOUNT] * 3)
    recon = [
        ("fills_vs_bills", "SWAP BTC-USDT-SWAP", "845.1", "845.1", "0", True),
        ("recomputed_gross_pnl", "FUTURES BTC-USD-240628", "0.01234567", "0.01234567", "0", True),
    ]
    if failing:
        recon.append(("uncovered_spot_sell", "SPOT <script>alert(1)</script> & co", "0.5", "0", "0.5", False))
    con.executemany("insert into journal.reconciliation values (?,?,?,?,?,?)", recon)
    _add_usd(con)
    con.close()
    return path


#: the USD price of each P&L currency in the hand-built journal (BTC at 60,000)
USD_PRICE = {"USDT": "1", "BTC": "60000"}


def _add_usd(con: duckdb.DuckDBPyConnection) -> None:
    """The USD relations: *_usd columns, journal.pnl_total_usd, journal.daily_pnl_total_usd."""
    price = "case pnl_ccy when 'BTC' then 60000 else 1 end"
    parts = ("gross_pnl", "fees", "funding", "interest", "net_pnl")
    for part in parts:
        con.execute(f"alter table journal.pnl_by_instrument_type add column {part}_usd decimal(38,18)")
        con.execute(f"update journal.pnl_by_instrument_type set {part}_usd = {part} * {price}")
    con.execute(f"""
        create table journal.pnl_total_usd as
        select account_uid, {', '.join(f'sum({p}_usd) as {p}_usd' for p in parts)},
               cast(123.45 as decimal(38,18)) as unrealised_pnl_usd,
               sum(net_pnl_usd) + 123.45 as total_pnl_usd, 0 as unpriced_events
        from journal.pnl_by_instrument_type group by account_uid""")
    con.execute(f"""
        create table journal.daily_pnl_total_usd as
        select day, account_uid, sum(net_pnl * {price}) as net_pnl_usd,
               sum(sum(net_pnl * {price})) over (partition by account_uid order by day)
                   as cumulative_net_pnl_usd
        from journal.daily_pnl group by day, account_uid""")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("report")
    db = build_journal_db(root / "okx.duckdb")
    out = root / "report.html"
    info = write_report(db, out)
    assert info.path == out and info.has_data
    return out, out.read_text(encoding="utf-8")


def test_report_info_and_header(tmp_path: Path) -> None:
    db = build_journal_db(tmp_path / "j.duckdb")
    info = write_report(db, tmp_path / "sub" / "r.html")
    assert info.accounts == (ACCOUNT,)
    assert info.currencies == ("BTC", "USDT")
    assert (info.first_day, info.last_day) == (START, START + timedelta(days=DAYS - 1))
    assert info.reconciliation_checks == 2 and info.reconciliation_failures == 0
    assert info.open_positions == 2 and info.missing_relations == ()
    assert info.size_bytes == (tmp_path / "sub" / "r.html").stat().st_size
    page = (tmp_path / "sub" / "r.html").read_text()
    assert ACCOUNT in page
    assert "2024-03-01 → 2024-03-30 (30 days)" in page
    assert "Generated:" in page


def test_expected_numbers_exact_per_currency(report: tuple[Path, str]) -> None:
    _, page = report
    # P&L by instrument type, from the DECIMALs (half-up), USDT at 2 places, BTC at 8
    for shown in ("+1,523.46", "-12.35", "+1,511.11", "-204.88", "-1.13", "+809.53", "-15.56",
                  "+0.01224567", "-0.00530000", "-0.00010000"):
        assert f">{shown}<" in page, shown
    # totals per currency, never across currencies
    assert ">+2,115.76<" in page  # 1511.111189 - 204.875 + 809.525
    assert ">+0.00694567<" in page  # 0.01224567 - 0.0053
    assert "2,115.77" not in page and "2115.768" not in page
    # the exact stored value is kept in the tooltip
    assert 'title="1,511.111189 USDT"' in page
    # stats: win rate, profit factor, drawdown
    assert "58.3%" in page and ">1.87<" in page and ">655.43<" in page and ">0.01230000<" in page
    assert "41.7%" in page and ">0.80<" in page
    # open positions, prices and sizes exactly as stored
    assert "BTC-USDT-SWAP" in page and ">64,250.5<" in page and ">+123.45<" in page
    assert "BTC-USD-240628-70000-C" in page and ">0.0425<" in page and ">-0.00120000<" in page
    # round trips (closed only) and reconciliation
    assert ">-62.78<" in page and ">61,500.2<" in page
    # averages with a float tail are shown to 10 significant digits, exact in the tooltip
    assert 'title="61,000.100000000016">61,000.1<' in page
    assert "All 2 reconciliation checks pass" in page and "fills_vs_bills ×1" in page
    # sections
    for title in ("P&amp;L by instrument type", "Equity curve", "Daily P&amp;L", "Fees and funding over time",
                  "Win rate and profit factor", "Open positions", "Reconciliation"):
        assert f"<h2>{title}</h2>" in page


def test_charts_are_inline_svg(report: tuple[Path, str]) -> None:
    _, page = report
    assert page.count("<svg class=\"chart line\"") == 5  # equity + costs, per currency; USD equity
    assert page.count("<svg class=\"chart bars\"") == 2
    assert f'stroke="{EQUITY_COLOUR}"' in page and f'stroke="{FEES_COLOUR}"' in page
    assert page.count('class="bar"') == 2 * DAYS
    assert f'fill="{GAIN_COLOUR}"' in page and f'fill="{LOSS_COLOUR}"' in page


def test_no_network_references(report: tuple[Path, str]) -> None:
    _, page = report
    lowered = page.lower()
    assert not re.search(r"""(src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(https?:|//)""", lowered)
    assert not re.search(r"""url\(\s*["']?\s*(https?:|//)""", lowered)
    assert not re.search(r"@import", lowered)
    assert "http://" not in lowered and "https://" not in lowered
    assert "<script" not in lowered and "<link" not in lowered and "<img" not in lowered


def test_strings_are_escaped_and_failures_listed(tmp_path: Path) -> None:
    db = build_journal_db(tmp_path / "j.duckdb", failing=True)
    info = write_report(db, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert info.reconciliation_failures == 1
    assert "<script>alert(1)</script>" not in page
    assert "SPOT &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "1 of 3 reconciliation checks fail" in page and "uncovered_spot_sell" in page


def test_account_filter_and_several_accounts(tmp_path: Path) -> None:
    db = build_journal_db(tmp_path / "j.duckdb", second_account=True)
    both = write_report(db, tmp_path / "both.html")
    assert both.accounts == (ACCOUNT, OTHER)
    page = (tmp_path / "both.html").read_text()
    assert ">+70.70<" in page and "<th class=\"\">Account</th>" in page
    one = write_report(db, tmp_path / "one.html", account_uid=OTHER)
    assert one.accounts == (OTHER,)
    page = (tmp_path / "one.html").read_text()
    assert ">+70.70<" in page and ACCOUNT not in page and "+1,511.11" not in page


@pytest.mark.parametrize("schema", ["none", "raw_only", "empty"])
def test_empty_journal_says_no_data(tmp_path: Path, schema: str) -> None:
    db = tmp_path / "empty.duckdb"
    con = duckdb.connect(str(db))
    if schema == "empty":
        con.execute(DDL)
    elif schema == "raw_only":  # loaded, but the journal build failed or never ran
        con.execute("create schema okx_raw; create table okx_raw.account_config(uid varchar, label varchar);"
                    "insert into okx_raw.account_config values ('777', 'main <key>')")
    else:
        con.execute("create table t(x int)")
    con.close()
    info = write_report(db, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert not info.has_data
    assert "No data yet" in page and "okx-journal sync" in page
    if schema == "raw_only":
        assert info.accounts == ("777",) and "777 (main &lt;key&gt;)" in page
        assert "the journal has not been built" in page
    else:
        assert info.accounts == ()
    if schema != "empty":
        assert "round_trips" in info.missing_relations


def test_database_file_named_like_the_schema(tmp_path: Path) -> None:
    # DuckDB names the catalog after the file: journal.duckdb is catalog "journal"
    built = build_journal_db(tmp_path / "okx.duckdb")
    db = built.rename(tmp_path / "journal.duckdb")
    info = write_report(db, tmp_path / "r.html")
    assert info.has_data and ">+1,511.11<" in (tmp_path / "r.html").read_text()


def test_missing_database_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        write_report(tmp_path / "nope.duckdb", tmp_path / "r.html")
    assert not (tmp_path / "nope.duckdb").exists()


def test_opens_read_only_and_reports_a_running_sync(tmp_path: Path) -> None:
    db = build_journal_db(tmp_path / "j.duckdb")
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from okx_journal.report import write_report
        from sources.okx.errors import OkxJournalError
        try:
            write_report(Path(sys.argv[1]), Path(sys.argv[2]))
        except OkxJournalError as exc:
            print(type(exc).__name__, exc.exit_code, exc)
            sys.exit(1)
        print("ok")
        """
    )
    # another reader holds the file: a read-only report can share it
    reader = duckdb.connect(str(db), read_only=True)
    try:
        done = subprocess.run([sys.executable, "-c", script, str(db), str(tmp_path / "a.html")],
                              capture_output=True, text=True, timeout=60, cwd=browser.REPO)
    finally:
        reader.close()
    assert done.stdout.strip() == "ok", done.stderr
    # a writer (a running sync) holds it: one clear line, exit code 6
    writer = duckdb.connect(str(db))
    try:
        done = subprocess.run([sys.executable, "-c", script, str(db), str(tmp_path / "b.html")],
                              capture_output=True, text=True, timeout=60, cwd=browser.REPO)
    finally:
        writer.close()
    assert done.stdout.startswith("SyncLocked 6 "), (done.stdout, done.stderr)


def test_format_price_drops_meaningless_tails() -> None:
    assert format_price(Decimal("73635.200000000016")) == "73,635.2"
    assert format_price(Decimal("0.054405882353")) == "0.05440588235"
    assert format_price(Decimal("123456789012.5")) == "123,456,789,013"
    assert format_price(Decimal("0.0425")) == "0.0425" and format_price(None) == "—"


def test_format_money_is_decimal_exact() -> None:
    assert format_money(Decimal("0.125"), "USDT") == "0.13"
    assert format_money(Decimal("-0.125"), "USDT") == "-0.13"
    assert format_money(Decimal("-0.001"), "USDT") == "0.00"
    assert format_money(Decimal("1.005"), "USDC") == "1.01"  # float(1.005) would round to 1.00
    assert format_money(Decimal("123456789.123456789"), "BTC", signed=True) == "+123,456,789.12345679"
    assert format_money(Decimal("0.1234565"), "ETH") == "0.123457"
    assert format_money(None, "USDT") == "—"


def test_report_leads_with_the_usd_total(report: tuple[Path, str]) -> None:
    _, page = report
    # 1511.111189 - 204.875 + 809.525 + (0.01224567 - 0.0053) × 60000 = 2532.501389
    assert 'data-usd-total="2532.501389' in page
    assert "+2,532.50 USD" in page and "unrealised +123.45" in page
    usd = page.index('id="usd-total"')
    assert usd < page.index("<h2>P&amp;L by instrument type</h2>") < page.index("<h3>In USDT</h3>")
    table = page[usd:page.index("</table>", usd)]
    assert "<td>FUTURES</td>" in table and "+734.74" in table and "Total USD" in table
    assert "Equity curve in USD" in page


def test_chromium_renders_report(report: tuple[Path, str], tmp_path: Path) -> None:
    page_path, _ = report
    browser.require_chromium()
    dom = browser.dump_dom(page_path)
    # the USD total leads the page, before the per-currency tables
    assert 'id="usd-total-value"' in dom and "+2,532.50 USD" in dom
    assert dom.index('id="usd-total"') < dom.index("P&amp;L by instrument type</h2>")
    assert dom.count("<svg") >= 6 and "<polyline" in dom and 'class="bar"' in dom
    assert "Win rate and profit factor" in dom

    png = browser.screenshot(page_path, tmp_path / "report.png", width=1280, height=2000)
    image = browser.read_png(png)
    assert (image.width, image.height) == (1280, 2000)
    assert image.distinct_colours() > 50, "the screenshot is blank"
    assert image.non_background() > 0.04 * image.width * image.height, "the screenshot is nearly empty"
    assert image.count_colour(EQUITY_COLOUR, tolerance=30) > 800, "the equity curve did not draw"
    assert image.count_colour(GAIN_COLOUR, tolerance=30) > 300, "no green daily bars"
    assert image.count_colour(LOSS_COLOUR, tolerance=30) > 300, "no red daily bars"
