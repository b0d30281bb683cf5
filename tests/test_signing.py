"""Signing: OKX's documented vectors, and agreement with ccxt and python-okx.

The vectors are okx-api.md §1.3 (verified there with stdlib, openssl, ccxt 4.5.90 and
python-okx 0.4.4). The agreement tests drive the two reference clients with a pinned
timestamp and check that ``sign`` gives the header they computed for the path they
would send.
"""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest

from sources.okx.signing import okx_timestamp, prehash, sign

API_KEY = "a1b2c3d4-0000-4000-8000-123456789abc"
SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
PASSPHRASE = "Test-Passphrase-1"
TS_MS = 1705307400123
TS = "2024-01-15T08:30:00.123Z"


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("GET", "/api/v5/account/balance?ccy=BTC", "", "mF5i5yRcfgxBlaEE5ZYbECMC6021/GCadwShwXpycaA="),
        (
            "GET",
            "/api/v5/account/bills-archive?instType=SWAP&limit=100",
            "",
            "eaPGZ/OAGNAvNy6wqDCtHu6ZzFevkjXTbLghQwQRL5o=",
        ),
        (
            "GET",
            "/api/v5/trade/fills-history?instType=SPOT&after=680800019754098688&limit=100",
            "",
            "R3cbM8gBiC1hbMqAdLDQrUmqgOk1XNoMaJhwu2pB7m0=",
        ),
        (
            "POST",
            "/api/v5/account/bills-history-archive",
            '{"year":"2024","quarter":"Q1"}',
            "AvqmT7KztLLLUs881PoowWQd6HecuTNWShzeAdIiSGo=",
        ),
        (
            "POST",
            "/api/v5/account/bills-history-archive",
            '{"year": "2024", "quarter": "Q1"}',
            "a815QsdcIcLopE2YHjpSo7vbfTBcYJJoUIgSN1RAQDs=",
        ),
    ],
    ids=["balance", "bills-archive", "fills-history", "archive-post-compact", "archive-post-spaced"],
)
def test_sign_matches_documented_vectors(method: str, path: str, body: str, expected: str) -> None:
    assert sign(SECRET, TS, method, path, body) == expected


def test_method_is_upper_cased_before_signing() -> None:
    assert sign(SECRET, TS, "get", "/api/v5/account/balance?ccy=BTC") == sign(
        SECRET, TS, "GET", "/api/v5/account/balance?ccy=BTC"
    )


def test_prehash_has_no_separators() -> None:
    assert (
        prehash(TS, "GET", "/api/v5/account/bills-archive?instType=SWAP&limit=100")
        == "2024-01-15T08:30:00.123ZGET/api/v5/account/bills-archive?instType=SWAP&limit=100"
    )


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (TS_MS, TS),
        (0, "1970-01-01T00:00:00.000Z"),
        (1705307400000, "2024-01-15T08:30:00.000Z"),
        (1705307400009, "2024-01-15T08:30:00.009Z"),
        (1709251199999, "2024-02-29T23:59:59.999Z"),
    ],
)
def test_okx_timestamp_has_three_fraction_digits_and_z(ms: int, expected: str) -> None:
    assert okx_timestamp(ms) == expected


# --- ccxt 4.5.90 -------------------------------------------------------------------------

CCXT_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "account/balance", {"ccy": "BTC"}),
    ("GET", "account/balance", {"ccy": "BTC,ETH,USDT"}),
    ("GET", "account/bills-archive", {"instType": "SWAP", "limit": "100"}),
    ("GET", "trade/fills-history", {"instType": "SPOT", "after": "680800019754098688", "limit": "100"}),
    ("GET", "trade/fills", {"instId": "BTC-USD-240329-60000-C", "begin": "1705307400000", "end": "1705393800000"}),
    ("GET", "account/positions-history", {"instType": "SWAP", "mgnMode": "cross", "type": "1,2,3"}),
    ("GET", "account/bills", {"ccy": "BTC", "subType": "a b/c:d&e=f+g%h~é"}),
    ("GET", "account/config", {}),
    ("POST", "account/bills-history-archive", {"year": "2024", "quarter": "Q1"}),
]


def _ccxt_exchange() -> Any:
    ccxt = pytest.importorskip("ccxt")
    exchange = ccxt.okx({"apiKey": API_KEY, "secret": SECRET, "password": PASSPHRASE})
    exchange.nonce = lambda: TS_MS
    return exchange


@pytest.mark.parametrize(("method", "endpoint", "params"), CCXT_REQUESTS, ids=lambda v: str(v)[:40])
def test_sign_agrees_with_ccxt(method: str, endpoint: str, params: dict[str, Any]) -> None:
    exchange = _ccxt_exchange()
    signed = exchange.sign(endpoint, ["private"], method, dict(params))
    path = signed["url"].removeprefix("https://www.okx.com")
    headers = signed["headers"]

    assert headers["OK-ACCESS-TIMESTAMP"] == TS
    assert headers["OK-ACCESS-SIGN"] == sign(SECRET, TS, method, path, signed["body"] or "")


def test_ccxt_signs_the_documented_vector() -> None:
    exchange = _ccxt_exchange()
    signed = exchange.sign("account/balance", ["private"], "GET", {"ccy": "BTC"})
    assert signed["headers"]["OK-ACCESS-SIGN"] == "mF5i5yRcfgxBlaEE5ZYbECMC6021/GCadwShwXpycaA="


# --- python-okx 0.4.4 -----------------------------------------------------------------------


class _Captured:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str], str]] = []

    def recorder(self, method: str) -> Any:
        def record(_client: Any, path: str, headers: dict[str, str], data: str = "") -> Any:
            self.calls.append((method, path, headers, data))
            return mock.Mock(json=lambda: {"code": "0", "msg": "", "data": []})

        return record


def _python_okx_capture(call: Any) -> tuple[str, str, dict[str, str], str]:
    pytest.importorskip("okx")
    import okx.Account
    import okx.okxclient
    import okx.utils

    captured = _Captured()
    with (
        mock.patch.object(okx.utils, "get_timestamp", lambda: TS),
        mock.patch.object(okx.okxclient.OkxClient, "get", captured.recorder("GET")),
        mock.patch.object(okx.okxclient.OkxClient, "post", captured.recorder("POST")),
    ):
        api = okx.Account.AccountAPI(API_KEY, SECRET, PASSPHRASE, flag="0")
        try:
            call(api)
        finally:
            api.close()
    assert len(captured.calls) == 1
    return captured.calls[0]


PYTHON_OKX_CALLS: list[tuple[str, Any]] = [
    ("balance", lambda api: api.get_account_balance(ccy="BTC")),
    ("balance-commas", lambda api: api.get_account_balance(ccy="BTC,ETH,USDT")),
    ("bills-archive", lambda api: api.get_account_bills_archive(instType="SWAP", limit="100")),
    (
        "bills-archive-window",
        lambda api: api.get_account_bills_archive(
            instType="OPTION", ccy="BTC", begin="1705307400000", end="1705393800000", limit="100"
        ),
    ),
    ("positions-history", lambda api: api.get_positions_history(instType="SWAP", type="1,2")),
    ("special-chars", lambda api: api.get_account_bills(ccy="BTC,ETH", subType="a b/c:d+é")),
    ("apply-bills", lambda api: api.apply_bills(year="2024", quarter="Q1")),
]


@pytest.mark.parametrize(("name", "call"), PYTHON_OKX_CALLS, ids=[c[0] for c in PYTHON_OKX_CALLS])
def test_sign_agrees_with_python_okx(name: str, call: Any) -> None:
    method, path, headers, body = _python_okx_capture(call)

    assert headers["OK-ACCESS-TIMESTAMP"] == TS
    python_okx_sign = headers["OK-ACCESS-SIGN"]
    if isinstance(python_okx_sign, bytes):
        python_okx_sign = python_okx_sign.decode("ascii")
    assert python_okx_sign == sign(SECRET, TS, method, path, body)


def test_python_okx_fills_history_agrees_with_documented_vector() -> None:
    pytest.importorskip("okx")
    import okx.okxclient
    import okx.Trade
    import okx.utils

    captured = _Captured()
    with (
        mock.patch.object(okx.utils, "get_timestamp", lambda: TS),
        mock.patch.object(okx.okxclient.OkxClient, "get", captured.recorder("GET")),
    ):
        api = okx.Trade.TradeAPI(API_KEY, SECRET, PASSPHRASE, flag="0")
        api.get_fills_history(instType="SPOT", after="680800019754098688", limit="100")
        api.close()
    method, path, headers, _ = captured.calls[0]
    assert path == "/api/v5/trade/fills-history?instType=SPOT&after=680800019754098688&limit=100"
    expected = "R3cbM8gBiC1hbMqAdLDQrUmqgOk1XNoMaJhwu2pB7m0="
    assert sign(SECRET, TS, method, path) == expected
    assert headers["OK-ACCESS-SIGN"] in (expected, expected.encode())


def test_python_okx_post_body_with_spaces_is_signed_as_sent() -> None:
    method, path, headers, body = _python_okx_capture(lambda api: api.apply_bills(year="2024", quarter="Q1"))
    assert json.loads(body) == {"year": "2024", "quarter": "Q1"}
    assert sign(SECRET, TS, method, path, body) == "a815QsdcIcLopE2YHjpSo7vbfTBcYJJoUIgSN1RAQDs="
