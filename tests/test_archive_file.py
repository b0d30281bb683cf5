"""Reading OKX's quarterly ledger export file (okx-api §3.4): containers, columns, numbers."""

from __future__ import annotations

import gzip
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from sources.okx.archive import (
    ARCHIVE_COLUMNS,
    ArchiveFormatError,
    archive_batches,
    finished_quarters,
    quarter_bounds,
    quarter_of,
)
from sources.okx.schema import BILLS, rows_to_arrow, snake

# okx-api §10.5: the real isolated funding bill, and the constructed cross close trade
REST_BILLS = [
    json.loads(
        '{"bal":"22.8625531207008386","balChg":"0.0000000000000000","billId":"3373589486042734612",'
        '"ccy":"USDT","clOrdId":"","earnAmt":"","earnApr":"","execType":"","fee":"0","fillFwdPx":"",'
        '"fillIdxPx":"","fillMarkPx":"","fillMarkVol":"","fillPxUsd":"","fillPxVol":"",'
        '"fillTime":"1773043201466","from":"","instId":"SAHARA-USDT-SWAP","instType":"SWAP",'
        '"interest":"0","mgnMode":"isolated","notes":"","ordId":"","pnl":"-0.2540832413497432",'
        '"posBal":"2.7428167586502568","posBalChg":"-0.2540832413497432","px":"0.02606",'
        '"subType":"173","sz":"115","tag":"","to":"","tradeId":"0","ts":"1773043201466","type":"8"}'
    ),
    json.loads(
        '{"bal":"10093.345","balChg":"96.95","billId":"2093475839131844610","ccy":"USDT","clOrdId":"",'
        '"earnAmt":"","earnApr":"","execType":"T","fee":"-3.05","fillFwdPx":"","fillIdxPx":"60995.3",'
        '"fillMarkPx":"60998.1","fillMarkVol":"","fillPxUsd":"","fillPxVol":"","fillTime":"1735689600120",'
        '"from":"","instId":"BTC-USDT-SWAP","instType":"SWAP","interest":"0","mgnMode":"cross","notes":"",'
        '"ordId":"2093475839123456000","pnl":"100","posBal":"0","posBalChg":"0","px":"61000",'
        '"subType":"5","sz":"10","tag":"","to":"","tradeId":"1502134567","ts":"1735689600123","type":"2"}'
    ),
]


def statement_number(text: str) -> str:
    """How OKX's statements write a number: zero as 0E-8, others with fixed 18 decimals."""
    if text == "":
        return ""
    value = Decimal(text)
    return "0E-8" if value == 0 else f"{value:.18f}"


def export_csv(records: list[dict[str, str]], *, style: str = "plain",
               columns: tuple[str, ...] = ARCHIVE_COLUMNS,
               extra: dict[str, str] | None = None) -> str:
    decimal_fields = {k for k, kind in BILLS.fields.items() if kind == "decimal"}
    names = list(columns) + list(extra or {})
    lines = [",".join(names)]
    for r in records:
        values = []
        for c in columns:
            v = r.get(c, "")
            values.append(statement_number(v) if style == "statement" and c in decimal_fields else v)
        values += list((extra or {}).values())
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


def write(tmp: Path, text: str, container: str) -> Path:
    if container == "zip":
        path = tmp / "export.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("bills-2026Q1.csv", text)
    elif container == "gzip":
        path = tmp / "export.csv.gz"
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path = tmp / "export.csv"
        path.write_text("\ufeff" + text, encoding="utf-8")  # with a byte-order mark
    return path


def read(path: Path) -> pa.Table:
    return pa.concat_tables(list(archive_batches(path, "acct-1")))


@pytest.mark.parametrize("container", ["zip", "gzip", "csv"])
@pytest.mark.parametrize("style", ["plain", "statement"])
def test_export_rows_equal_the_rest_rows_value_for_value(
    tmp_path: Path, container: str, style: str
) -> None:
    rest = rows_to_arrow(REST_BILLS, BILLS, {"account_uid": "acct-1"})
    exported = read(write(tmp_path, export_csv(REST_BILLS, style=style), container))
    assert exported.num_rows == 2
    assert exported.column("type").null_count == 2  # the export has no type column
    for col in map(snake, ARCHIVE_COLUMNS):
        assert exported.column(col).to_pylist() == rest.column(col).to_pylist(), col
    assert exported.schema.field("bal_chg").type == pa.decimal128(38, 18)
    assert exported.column("account_uid").to_pylist() == ["acct-1", "acct-1"]


def test_columns_matched_by_name_missing_ones_null_new_ones_kept(tmp_path: Path) -> None:
    columns = tuple(reversed([c for c in ARCHIVE_COLUMNS if c != "fillFwdPx"]))
    text = export_csv(REST_BILLS, columns=columns, extra={"newOkxField": "x"})
    table = read(write(tmp_path, text, "csv"))
    assert table.column("bill_id").to_pylist() == [b["billId"] for b in REST_BILLS]
    assert table.column("fill_fwd_px").null_count == 2
    assert table.column("new_okx_field").to_pylist() == ["x", "x"]
    assert table.column("pnl").to_pylist() == [Decimal("-0.2540832413497432"), Decimal(100)]


def test_exponent_notation_is_exact(tmp_path: Path) -> None:
    rec = dict(REST_BILLS[1], balChg="9.695E+1", fee="-3.05E0", pnl="1E+2", posBal="0E-18")
    (row,) = read(write(tmp_path, export_csv([rec]), "gzip")).to_pylist()
    assert row["bal_chg"] == Decimal("96.95") and row["fee"] == Decimal("-3.05")
    assert row["pnl"] == 100 and row["pos_bal"] == 0


def test_a_file_that_is_not_an_export_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ArchiveFormatError, match="could not be"):
        read(bad)
    no_id = write(tmp_path, "instType,ts\nSPOT,1\n", "csv")
    with pytest.raises(ArchiveFormatError, match="billId"):
        read(no_id)
    empty = write(tmp_path, "", "csv")
    assert list(archive_batches(empty, "acct-1")) == []


@pytest.mark.parametrize("container", ["zip", "gzip"])
def test_a_file_cut_short_is_an_error_not_a_short_quarter(tmp_path: Path, container: str) -> None:
    """Decompression runs beside the reader: a damaged end must fail the import, never
    look like a quarter with fewer bills."""
    rows = [dict(REST_BILLS[1], billId=str(2093475839131844610 + i)) for i in range(3000)]
    whole = write(tmp_path, export_csv(rows), container)
    data = whole.read_bytes()
    cut = tmp_path / ("cut.zip" if container == "zip" else "cut.gz")
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(ArchiveFormatError):
        read(cut)
    assert read(whole).num_rows == 3000


def test_the_files_columns_are_named_as_dlt_names_the_rest_rows() -> None:
    from sources.okx.archive import BILLS_COLUMN

    assert BILLS_COLUMN == {name: snake(name) for name in BILLS.fields}


def test_quarters_exported_from_the_first_activity_to_the_last_finished_one() -> None:
    q1_2026 = quarter_bounds(2026, 1)
    assert q1_2026 == (1767225600000, 1775001600000)
    assert quarter_of(q1_2026[1] - 1) == (2026, 1) and quarter_of(q1_2026[1]) == (2026, 2)
    now = q1_2026[1] + 5  # 2026-04-01: Q1 has just finished, Q2 is current
    assert finished_quarters(quarter_bounds(2025, 3)[0] + 10, now) == [
        (2025, 3), (2025, 4), (2026, 1)]
    # nothing before 2021-02-01 (2021Q1 is the first quarter OKX exports)
    assert finished_quarters(0, quarter_bounds(2021, 3)[0])[0] == (2021, 1)
    assert finished_quarters(now - 1, now) == []
