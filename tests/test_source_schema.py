"""Raw schema: OKX rows → typed Arrow, hints, and credentials as dlt configuration."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pytest
from conftest import ANCHOR_MS, anchor_offset
from dlt.common.configuration.container import Container
from dlt.common.pipeline import PipelineContext

from sources.okx.credentials import OkxCredentials
from sources.okx.schema import (
    BILLS,
    FILLS,
    INSTRUMENTS,
    POSITIONS,
    TABLES,
    column_hints,
    rows_to_arrow,
)
from sources.okx.source import OkxCredentialsConfiguration, _option_family

# OKX doc sample (okx-api §10.1)
SPOT_FILL = {
    "side": "buy", "fillSz": "0.00192834", "fillPx": "51858", "fillPxVol": "", "fillFwdPx": "",
    "fee": "-0.00000192834", "fillPnl": "0", "ordId": "680800019749904384", "feeRate": "-0.001",
    "instType": "SPOT", "fillPxUsd": "", "instId": "BTC-USDT", "clOrdId": "", "posSide": "net",
    "billId": "680800019754098688", "subType": "1", "fillMarkVol": "", "tag": "",
    "fillTime": "1708587373361", "execType": "T", "fillIdxPx": "", "tradeId": "744876980",
    "fillMarkPx": "", "feeCcy": "BTC", "ts": "1708587373362",
}


def test_fill_row_types_digits_and_nulls() -> None:
    table = rows_to_arrow([SPOT_FILL], FILLS, {"account_uid": "42"})
    row = table.to_pylist()[0]
    assert row["account_uid"] == "42"
    assert row["bill_id"] == "680800019754098688"
    assert row["fee"] == Decimal("-0.00000192834")
    assert row["fill_sz"] == Decimal("0.00192834")
    assert row["fill_px_vol"] is None and row["fill_mark_px"] is None and row["tag"] is None
    assert row["ts"].timestamp() * 1000 == 1708587373362
    assert table.schema.field("fee").type == pa.decimal128(38, 18)
    assert str(table.schema.field("ts").type) == "timestamp[us, tz=UTC]"
    assert not table.schema.field("bill_id").nullable
    # every documented column exists, even those absent from the record
    assert "trade_quote_ccy" in table.column_names


def test_many_digits_are_kept_exactly() -> None:
    values = ["8694.2179403378290202", "0.000000000000000001", "-99.9998177776581948",
              "9999999999.0000000000000000", "12345678901234567890.123456789012345678"]
    rows = [{**SPOT_FILL, "billId": str(i), "fillPx": v} for i, v in enumerate(values)]
    got = [r["fill_px"] for r in rows_to_arrow(rows, FILLS, {"account_uid": "1"}).to_pylist()]
    assert got == [Decimal(v) for v in values]


def test_more_than_18_decimals_is_rounded_not_failed(caplog: pytest.LogCaptureFixture) -> None:
    rows = [{**SPOT_FILL, "fillPx": "0.12345678901234567891"}]
    got = rows_to_arrow(rows, FILLS, {"account_uid": "1"}).to_pylist()[0]["fill_px"]
    assert got == Decimal("0.123456789012345679")
    assert "rounded" in caplog.text


def test_unknown_fields_are_kept_with_their_kind() -> None:
    rows = [
        {**SPOT_FILL, "newText": "abc", "newFlag": True, "newList": ["a", 1], "newNum": 5},
        {**SPOT_FILL, "billId": "2", "newText": "", "newFlag": False},
    ]
    table = rows_to_arrow(rows, FILLS, {"account_uid": "1"})
    data = table.to_pylist()
    assert [r["new_text"] for r in data] == ["abc", None]
    assert table.schema.field("new_flag").type == pa.bool_()
    assert data[0]["new_list"] == '["a",1]' and data[1]["new_list"] is None
    assert data[0]["new_num"] == "5"


def test_documented_booleans_lists_and_integers() -> None:
    inst = {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "futureSettlement": False,
            "tradeQuoteCcyList": ["USDT"], "instIdCode": 10001, "ctVal": "0.01", "expTime": ""}
    row = rows_to_arrow([inst], INSTRUMENTS, {"account_uid": "1", "first_seen_at": 5,
                                              "last_seen_at": 6}).to_pylist()[0]
    assert row["future_settlement"] is False
    assert row["trade_quote_ccy_list"] == '["USDT"]'
    assert row["inst_id_code"] == 10001
    assert row["ct_val"] == Decimal("0.01") and row["exp_time"] is None
    pos = {"posId": "1", "closeOrderAlgo": [{"algoId": "7"}], "deltaBS": "0.5"}
    prow = rows_to_arrow([pos], POSITIONS, {"account_uid": "1", "snapshot_at": 1}).to_pylist()[0]
    assert prow["close_order_algo"] == '[{"algoId":"7"}]' and prow["delta_bs"] == Decimal("0.5")


def test_hints_are_one_fresh_dict_per_column() -> None:
    for spec in TABLES.values():
        hints = column_hints(spec)
        assert len({id(h) for h in hints.values()}) == len(hints)
        assert all(h["name"] == name for name, h in hints.items())
        assert column_hints(spec)["account_uid"] is not hints["account_uid"]
    bills = column_hints(BILLS)
    assert bills["bal_chg"] == {"name": "bal_chg", "nullable": True, "data_type": "decimal",
                                "precision": 38, "scale": 18}
    assert bills["ts"]["data_type"] == "timestamp" and bills["bill_id"]["data_type"] == "text"
    assert {"from", "to", "type", "fill_time", "earn_amt"} <= set(bills)


def test_option_family() -> None:
    assert _option_family("BTC-USD-250328-100000-C") == "BTC-USD"
    assert _option_family("ETH-USD-251226-3000-P") == "ETH-USD"
    assert _option_family("BTC-USDT-SWAP") is None and _option_family("") is None


def test_credentials_configspec_takes_an_okx_credentials_and_masks_it() -> None:
    creds = OkxCredentials("a1b2c3d4-0000-4000-8000-123456789abc", "S" * 32, "pass-phrase")
    config = OkxCredentialsConfiguration()
    config.parse_native_representation(creds)
    assert config.to_okx() == creds
    assert "S" * 32 not in str(config) and "pass-phrase" not in str(config)


def test_source_reads_credentials_from_dlt_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``okx_source()`` with no arguments resolves ``sources.okx.credentials.*``."""
    from okx_journal.simulator import Simulator, generate_history
    from sources.okx.source import okx_source

    history = generate_history(seed=2, scale=60, end_ms=ANCHOR_MS)
    acc = history.accounts[0]
    monkeypatch.setenv("SOURCES__OKX__CREDENTIALS__API_KEY", acc.api_key)
    monkeypatch.setenv("SOURCES__OKX__CREDENTIALS__SECRET", acc.secret)
    monkeypatch.setenv("SOURCES__OKX__CREDENTIALS__PASSPHRASE", acc.passphrase)
    # no pipeline active (another test may have left one): the source is created first,
    # as users of dlt often do, and reads its state only when the pipeline runs it
    context = Container()[PipelineContext]
    if context.is_active():
        context.deactivate()
    with Simulator(history, rate_limits=False, clock_offset_ms=anchor_offset()) as sim:
        monkeypatch.setenv("SOURCES__OKX__RATE_LIMITS", "false")
        source: Any = okx_source(base_url=sim.url)
        assert {"fills", "bills", "positions_history", "positions", "balances", "instruments",
                "funding_rates", "account_config", "snapshots"} <= set(source.resources)
        pipeline = dlt.pipeline(
            pipeline_name="okx_first", pipelines_dir=str(tmp_path / "dlt"),
            destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")), dataset_name="okx_raw",
        )
        pipeline.run(source)
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        (fills,) = con.execute("select count(*) from okx_raw.fills").fetchone() or (0,)
    assert fills == len(acc.fills)
    assert os.environ["SOURCES__OKX__CREDENTIALS__SECRET"] == acc.secret
