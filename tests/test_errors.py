"""The exception hierarchy and the OKX error-code table."""

from __future__ import annotations

import pytest

from sources.okx.credentials import OkxCredentials
from sources.okx.errors import (
    ERROR_TABLE,
    ConfigError,
    DataCheckFailed,
    OkxAuthError,
    OkxError,
    OkxJournalError,
    OkxRateLimitError,
    OkxRequestError,
    OkxUnavailableError,
    PermissionRefused,
    SyncLocked,
    error_for,
)

HOST = "https://www.okx.com"
SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
PASSPHRASE = "Test-Passphrase-1"

REQUIRED_CODES = (
    ["50001", "50004", "50005", "50011", "50013", "50014", "50026", "50030", "50035", "50038", "50100"]
    + [str(c) for c in range(50101, 50116)]
    + ["50119", "50120", "50121", "51000", "51001", "51010"]
)


@pytest.mark.parametrize(
    ("cls", "exit_code"),
    [
        (ConfigError, 2),
        (OkxAuthError, 3),
        (OkxRateLimitError, 4),
        (OkxUnavailableError, 4),
        (OkxRequestError, 2),
        (PermissionRefused, 3),
        (DataCheckFailed, 5),
        (SyncLocked, 6),
    ],
)
def test_each_exception_carries_the_contract_exit_code(cls: type[OkxJournalError], exit_code: int) -> None:
    assert cls.exit_code == exit_code
    assert issubclass(cls, OkxJournalError)


def test_okx_errors_share_one_base_with_code_and_status() -> None:
    for cls in (OkxAuthError, OkxRateLimitError, OkxUnavailableError, OkxRequestError):
        assert issubclass(cls, OkxError)
    err = OkxAuthError("x", code="50113", http_status=401)
    assert (err.code, err.http_status) == ("50113", 401)
    assert not issubclass(PermissionRefused, OkxError)


def test_str_is_one_line_even_from_multiline_text() -> None:
    assert str(ConfigError("first\n  second\tthird")) == "first second third"


def test_table_covers_every_code_the_connector_must_handle() -> None:
    missing = [code for code in REQUIRED_CODES if code not in ERROR_TABLE]
    assert missing == []


@pytest.mark.parametrize("code", sorted(ERROR_TABLE))
def test_every_table_row_gives_a_one_line_message_and_exit_code(code: str) -> None:
    row = ERROR_TABLE[code]
    err = error_for(code, "OKX said\nsomething", 401, HOST)

    assert isinstance(err, row.exc_class)
    assert err.exit_code == row.exit_code in (2, 3, 4)
    assert err.code == code
    assert err.retryable is row.retryable
    text = str(err)
    assert text and "\n" not in text
    assert "{" not in text and "}" not in text
    assert code in text


@pytest.mark.parametrize("code", [str(c) for c in range(50100, 50116)] + ["50110", "50119", "50120", "50121", "50035"])
def test_auth_codes_exit_3(code: str) -> None:
    err = error_for(code, "", 401, HOST)
    assert isinstance(err, OkxAuthError)
    assert err.exit_code == 3
    assert not err.retryable


@pytest.mark.parametrize("code", ["50001", "50004", "50013", "50026"])
def test_busy_codes_are_retryable_unavailable(code: str) -> None:
    err = error_for(code, "", 503, HOST)
    assert isinstance(err, OkxUnavailableError)
    assert err.retryable and err.exit_code == 4


def test_rate_limit_code_is_retryable_rate_limit_error() -> None:
    err = error_for("50011", "Too Many Requests", 429, HOST)
    assert isinstance(err, OkxRateLimitError)
    assert err.retryable and err.exit_code == 4


@pytest.mark.parametrize("code", ["50014", "51000"])
def test_bad_request_codes_exit_2(code: str) -> None:
    err = error_for(code, "Parameter instType error", 400, HOST)
    assert isinstance(err, OkxRequestError)
    assert err.exit_code == 2 and not err.retryable
    assert "Parameter instType error" in str(err)


def test_passphrase_message_explains_it_is_not_the_login_password() -> None:
    text = str(error_for("50105", "OK-ACCESS-PASSPHRASE incorrect.", 401, HOST)).lower()
    assert "passphrase" in text
    assert "not your okx login password" in text
    assert "cannot recover" in text and "new" in text


def test_missing_passphrase_message() -> None:
    text = str(error_for("50104", "", 401, HOST)).lower()
    assert "passphrase" in text and "credentials set" in text


def test_invalid_signature_message_mentions_truncated_secret() -> None:
    text = str(error_for("50113", "Invalid Sign", 401, HOST))
    assert "truncated" in text and "secret" in text


def test_invalid_key_message_mentions_revoked_or_deleted() -> None:
    text = str(error_for("50111", "Invalid OK-ACCESS-KEY", 401, HOST))
    assert "revoked" in text and "deleted" in text


def test_ip_whitelist_message_names_the_ip_okx_saw() -> None:
    msg = "Your IP 203.0.113.7 is not included in your API key's IP whitelist."
    err = error_for("50110", msg, 401, HOST)
    assert "203.0.113.7" in str(err)
    assert err.exit_code == 3


def test_ip_whitelist_message_handles_ipv6_and_no_ip() -> None:
    assert "2001:db8::1" in str(error_for("50110", "Your IP 2001:db8::1 is not included.", 401, HOST))
    assert "not named by OKX" in str(error_for("50110", "", 401, HOST))


def test_wrong_region_message_names_all_three_hosts_and_the_option() -> None:
    text = str(error_for("50119", "API key doesn't exist", 200, "https://www.okx.com"))
    for needle in ("https://www.okx.com", "https://eea.okx.com", "https://us.okx.com", "my.okx.com", "app.okx.com", "--base-url"):
        assert needle in text


def test_demo_key_on_live_message_mentions_demo_trading_option() -> None:
    text = str(error_for("50101", "APIKey does not match current environment.", 401, HOST))
    assert "--demo-trading" in text


def test_clock_skew_message() -> None:
    text = str(error_for("50102", "Timestamp request expired", 401, HOST)).lower()
    assert "clock" in text and "time sync" in text


def test_unknown_code_keeps_okx_code_and_message() -> None:
    err = error_for("59999", "Something new happened", 200, HOST)
    assert isinstance(err, OkxError)
    assert err.code == "59999"
    assert "59999" in str(err) and "Something new happened" in str(err)
    assert not err.retryable


def test_unknown_code_from_gateway_5xx_is_retryable_unavailable() -> None:
    err = error_for(500, "Internal Server Error", 500, HOST)
    assert isinstance(err, OkxUnavailableError)
    assert err.retryable and err.code == "500"


def test_okx_message_is_shortened_and_one_line() -> None:
    err = error_for("51000", "x" * 1000 + "\nmore", 400, HOST)
    assert len(str(err)) < 500 and "\n" not in str(err)


def test_braces_in_okx_message_do_not_break_formatting() -> None:
    err = error_for("51000", "Parameter {instType} error", 400, HOST)
    assert "{instType}" in str(err)


def test_messages_never_contain_credentials() -> None:
    creds = OkxCredentials("a1b2c3d4-0000-4000-8000-123456789abc", SECRET, PASSPHRASE)
    for code in ERROR_TABLE:
        text = str(error_for(code, "msg", 401, HOST))
        assert creds.secret not in text and creds.passphrase not in text
