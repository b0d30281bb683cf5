"""OkxClient, RateLimiter and OkxCredentials, against ``httpx.MockTransport``.

No real sleeping: backoff goes through an injected ``sleep``, the limiter through an
injected clock; the only real-time test uses windows of a few tens of milliseconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

from sources.okx.client import ARCHIVE_PATH, OkxClient
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import (
    ConfigError,
    OkxAuthError,
    OkxRateLimitError,
    OkxRequestError,
    OkxUnavailableError,
)
from sources.okx.ratelimit import DEFAULT_LIMIT, ENDPOINT_LIMITS, RateLimiter, limit_for
from sources.okx.signing import okx_timestamp, sign

API_KEY = "a1b2c3d4-0000-4000-8000-123456789abc"
SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
PASSPHRASE = "Test-Passphrase-1"
CREDS = OkxCredentials(API_KEY, SECRET, PASSPHRASE)
TS_MS = 1705307400123
HOST = "https://www.okx.com"

Handler = Callable[[httpx.Request], httpx.Response]


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"code": "0", "msg": "", "data": data})


def okx_error(code: str, msg: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg})


class Recorder:
    """A MockTransport handler that answers from a script and records requests."""

    def __init__(self, answers: Iterable[httpx.Response | Exception | Handler] = (), server_ms: int | None = None):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.server_ms = server_ms
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            if request.url.path == "/api/v5/public/time" and self.server_ms is not None:
                return ok([{"ts": str(self.server_ms)}])
            answer: httpx.Response | Exception | Handler = (
                self.answers.pop(0) if self.answers else ok([{"n": len(self.requests)}])
            )
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(
    recorder: Recorder,
    *,
    credentials: OkxCredentials | None = CREDS,
    sync_clock: bool = False,
    clock: Callable[[], float] = lambda: TS_MS / 1000,
    sleep: Callable[[float], None] | None = None,
    **kwargs: Any,
) -> OkxClient:
    return OkxClient(
        credentials,
        transport=httpx.MockTransport(recorder),
        rate_limits=False,
        sync_clock=sync_clock,
        clock=clock,
        sleep=Sleeps() if sleep is None else sleep,
        **kwargs,
    )


# --- parsing and signing ---------------------------------------------------------------------


def test_get_returns_okx_data_list() -> None:
    rec = Recorder([ok([{"ccy": "BTC"}, {"ccy": "ETH"}])])
    with make_client(rec) as client:
        assert client.get("/api/v5/account/balance", {"ccy": "BTC,ETH"}) == [{"ccy": "BTC"}, {"ccy": "ETH"}]


def test_data_object_is_wrapped_and_missing_data_is_empty() -> None:
    rec = Recorder([ok({"uid": "1"}), httpx.Response(200, json={"code": "0", "msg": ""})])
    with make_client(rec) as client:
        assert client.get("/api/v5/account/config") == [{"uid": "1"}]
        assert client.get("/api/v5/account/config") == []


def test_private_request_is_signed_over_the_bytes_sent() -> None:
    rec = Recorder()
    with make_client(rec) as client:
        client.get("/api/v5/account/bills", {"ccy": "BTC,ETH", "subType": "a b/c", "limit": 100, "after": None})
    request = rec.requests[0]
    raw_path = request.url.raw_path.decode()
    assert raw_path == "/api/v5/account/bills?ccy=BTC%2CETH&subType=a%20b%2Fc&limit=100"
    headers = request.headers
    assert headers["OK-ACCESS-KEY"] == API_KEY
    assert headers["OK-ACCESS-PASSPHRASE"] == PASSPHRASE
    assert headers["OK-ACCESS-TIMESTAMP"] == "2024-01-15T08:30:00.123Z"
    assert headers["OK-ACCESS-SIGN"] == sign(SECRET, headers["OK-ACCESS-TIMESTAMP"], "GET", raw_path)
    assert "x-simulated-trading" not in headers


def test_documented_vector_through_the_client() -> None:
    rec = Recorder()
    with make_client(rec) as client:
        client.get("/api/v5/trade/fills-history", {"instType": "SPOT", "after": "680800019754098688", "limit": "100"})
    assert rec.requests[0].headers["OK-ACCESS-SIGN"] == "R3cbM8gBiC1hbMqAdLDQrUmqgOk1XNoMaJhwu2pB7m0="


@pytest.mark.parametrize(
    "params",
    [
        {"ccy": "BTC,ETH,USDT"},
        {"instType": "OPTION", "instId": "BTC-USD-240329-60000-C", "begin": "1705307400000"},
        {"ccy": "BTC", "subType": "a b/c:d&e=f+g%h~é"},
    ],
)
def test_client_sends_and_signs_what_ccxt_would(params: dict[str, str]) -> None:
    ccxt = pytest.importorskip("ccxt")
    exchange = ccxt.okx({"apiKey": API_KEY, "secret": SECRET, "password": PASSPHRASE})
    exchange.nonce = lambda: TS_MS
    expected = exchange.sign("account/bills", ["private"], "GET", dict(params))

    rec = Recorder()
    with make_client(rec) as client:
        client.get("/api/v5/account/bills", params)
    sent = rec.requests[0]
    assert str(sent.url) == expected["url"]
    assert sent.headers["OK-ACCESS-SIGN"] == expected["headers"]["OK-ACCESS-SIGN"]


def test_public_paths_go_unsigned() -> None:
    rec = Recorder()
    with make_client(rec) as client:
        client.get("/api/v5/public/instruments", {"instType": "SPOT"})
        client.get("/api/v5/market/index-tickers", {"quoteCcy": "USD"})
    for request in rec.requests:
        assert not any(h.lower().startswith("ok-access") for h in request.headers)


def test_public_paths_work_without_credentials_private_ones_refuse() -> None:
    rec = Recorder()
    with make_client(rec, credentials=None) as client:
        client.get("/api/v5/public/time")
        with pytest.raises(ConfigError, match="needs an API key"):
            client.get("/api/v5/account/balance")
    assert rec.paths() == ["/api/v5/public/time"]


def test_demo_trading_sends_simulated_trading_header() -> None:
    rec = Recorder()
    with make_client(rec, demo_trading=True) as client:
        client.get("/api/v5/account/balance")
    assert rec.requests[0].headers["x-simulated-trading"] == "1"


def test_archive_apply_posts_compact_json_signed_as_sent() -> None:
    rec = Recorder([ok([{"result": "false", "ts": "1"}])])
    with make_client(rec) as client:
        assert client.apply_bills_history_archive(2024, 1) == [{"result": "false", "ts": "1"}]
    request = rec.requests[0]
    assert request.method == "POST" and request.url.path == ARCHIVE_PATH
    assert request.content == b'{"year":"2024","quarter":"Q1"}'
    assert request.headers["content-type"] == "application/json"
    assert request.headers["OK-ACCESS-SIGN"] == "AvqmT7KztLLLUs881PoowWQd6HecuTNWShzeAdIiSGo="


def test_archive_apply_rejects_bad_quarter_before_sending() -> None:
    rec = Recorder()
    with make_client(rec) as client, pytest.raises(ConfigError):
        client.apply_bills_history_archive(2024, "Q5")
    assert rec.requests == []


# --- the read-only guard and http refusal --------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v5/trade/order"),
        ("DELETE", "/api/v5/account/balance"),
        ("PUT", "/api/v5/account/bills"),
        ("POST", "/api/v5/asset/withdrawal"),
        ("GET ", "/api/v5/account/balance"),
    ],
)
def test_non_get_requests_are_refused_before_sending(method: str, path: str) -> None:
    rec = Recorder()
    with make_client(rec) as client, pytest.raises(OkxRequestError, match="only reads"):
        client._call(method, path, body='{"instId":"BTC-USDT"}')
    assert rec.requests == []


def test_guard_also_covers_the_underlying_http_client() -> None:
    rec = Recorder()
    with make_client(rec) as client:
        with pytest.raises(OkxRequestError, match="only reads"):
            client._http.post(HOST + "/api/v5/trade/order", content=b"{}")
        with pytest.raises(OkxRequestError):
            client._http.delete(HOST + "/api/v5/account/balance")
    assert rec.requests == []


@pytest.mark.parametrize("url", ["http://www.okx.com", "http://10.0.0.5:8080", "http://example.test", "ftp://www.okx.com", "www.okx.com"])
def test_plain_http_or_odd_scheme_is_refused_off_loopback(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        OkxClient(CREDS, base_url=url)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8123", "http://127.5.6.7", "http://localhost:9000/", "http://[::1]:8080", HOST, "https://eea.okx.com/"]
)
def test_loopback_http_and_https_are_allowed(url: str) -> None:
    with OkxClient(CREDS, base_url=url) as client:
        assert not client.base_url.endswith("/")


# --- clock ----------------------------------------------------------------------------------


def test_clock_is_synced_once_before_the_first_private_request() -> None:
    local = TS_MS / 1000
    rec = Recorder(server_ms=TS_MS + 90_000)  # OKX is 90 s ahead of us
    with make_client(rec, sync_clock=True, clock=lambda: local) as client:
        client.get("/api/v5/account/balance")
        client.get("/api/v5/account/positions")
        assert client.clock_offset_ms == 90_000
    assert rec.paths() == ["/api/v5/public/time", "/api/v5/account/balance", "/api/v5/account/positions"]
    assert rec.requests[1].headers["OK-ACCESS-TIMESTAMP"] == okx_timestamp(TS_MS + 90_000)


def test_clock_offset_uses_midpoint_of_the_round_trip() -> None:
    times = iter([100.0, 100.4])
    rec = Recorder(server_ms=100_700)
    with make_client(rec, sync_clock=True, clock=lambda: next(times)) as client:
        assert client.sync_clock() == 100_700 - 100_200


def test_public_requests_do_not_trigger_clock_sync() -> None:
    rec = Recorder(server_ms=TS_MS)
    with make_client(rec, sync_clock=True) as client:
        client.get("/api/v5/public/instruments", {"instType": "SWAP"})
    assert rec.paths() == ["/api/v5/public/instruments"]


def test_timestamp_expired_resyncs_once_and_retries() -> None:
    rec = Recorder([okx_error("50102", "Timestamp request expired", 401), ok([{"x": 1}])], server_ms=TS_MS)
    with make_client(rec, sync_clock=True) as client:
        assert client.get("/api/v5/account/balance") == [{"x": 1}]
    assert rec.paths() == [
        "/api/v5/public/time",
        "/api/v5/account/balance",
        "/api/v5/public/time",
        "/api/v5/account/balance",
    ]


def test_timestamp_expired_twice_raises_auth_error_with_clock_advice() -> None:
    expired = okx_error("50102", "Timestamp request expired", 401)
    rec = Recorder([expired, expired], server_ms=TS_MS)
    with make_client(rec, sync_clock=True) as client, pytest.raises(OkxAuthError, match="clock") as info:
        client.get("/api/v5/account/balance")
    assert info.value.exit_code == 3


def test_without_clock_sync_no_offset_and_50102_is_raised() -> None:
    rec = Recorder([okx_error("50102", "Timestamp request expired", 401)], server_ms=TS_MS + 120_000)
    with make_client(rec, sync_clock=False) as client:
        with pytest.raises(OkxAuthError):
            client.get("/api/v5/account/balance")
        assert client.clock_offset_ms == 0
    assert rec.paths() == ["/api/v5/account/balance"]
    assert rec.requests[0].headers["OK-ACCESS-TIMESTAMP"] == okx_timestamp(TS_MS)


# --- errors and retries ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "exc_class"),
    [
        (okx_error("50113", "Invalid Sign", 401), OkxAuthError),
        (okx_error("50105", "OK-ACCESS-PASSPHRASE incorrect", 401), OkxAuthError),
        (okx_error("50119", "API key doesn't exist", 200), OkxAuthError),
        (okx_error("50101", "APIKey does not match current environment.", 401), OkxAuthError),
        (okx_error("50110", "Your IP 198.51.100.4 is not included in your API key's IP whitelist.", 401), OkxAuthError),
        (okx_error("51000", "Parameter instType error", 400), OkxRequestError),
    ],
)
def test_error_answers_raise_mapped_exception_without_retry(answer: httpx.Response, exc_class: type[Exception]) -> None:
    rec = Recorder([answer])
    sleeps = Sleeps()
    with make_client(rec, sleep=sleeps) as client, pytest.raises(exc_class) as info:
        client.get("/api/v5/account/balance")
    assert len(rec.requests) == 1 and sleeps == []
    assert "\n" not in str(info.value)


def test_ip_error_names_the_ip_and_host_error_names_the_hosts() -> None:
    rec = Recorder([okx_error("50110", "Your IP 198.51.100.4 is not included.", 401), okx_error("50119", "API key doesn't exist")])
    with make_client(rec) as client:
        with pytest.raises(OkxAuthError, match="198.51.100.4"):
            client.get("/api/v5/account/balance")
        with pytest.raises(OkxAuthError, match="eea.okx.com"):
            client.get("/api/v5/account/balance")


def test_rate_limit_answer_is_retried_after_at_least_the_window() -> None:
    sleeps = Sleeps()
    waits: list[tuple[str, float]] = []
    rec = Recorder([okx_error("50011", "Rate limit reached"), ok([{"ok": 1}])])
    with make_client(rec, sleep=sleeps, on_wait=lambda p, s: waits.append((p, s))) as client:
        assert client.get("/api/v5/account/bills-archive") == [{"ok": 1}]
        assert client.stats.rate_limited_answers == 1
        assert client.stats.retries == 1
        assert client.stats.requests_sent == 2
    assert len(sleeps) == 1 and sleeps[0] >= ENDPOINT_LIMITS["/api/v5/account/bills-archive"][1]
    assert waits == [("/api/v5/account/bills-archive", sleeps[0])]


def test_bare_http_429_is_retried_like_50011() -> None:
    sleeps = Sleeps()
    rec = Recorder([httpx.Response(429, text="Too Many Requests"), ok([])])
    with make_client(rec, sleep=sleeps) as client:
        assert client.get("/api/v5/account/bills") == []
        assert client.stats.rate_limited_answers == 1
    assert sleeps[0] >= 1.0


def test_rate_limit_gives_up_after_max_retries_naming_the_host() -> None:
    sleeps = Sleeps()
    rec = Recorder([okx_error("50011", "Too Many Requests", 429)] * 10)
    with make_client(rec, sleep=sleeps, max_retries=3) as client, pytest.raises(OkxRateLimitError) as info:
        client.get("/api/v5/account/balance")
    assert len(rec.requests) == 4 and len(sleeps) == 3
    assert HOST in str(info.value) and "4 attempts" in str(info.value)
    assert info.value.exit_code == 4


@pytest.mark.parametrize(
    "first",
    [
        okx_error("50001", "Service temporarily unavailable", 503),
        okx_error("50004", "Endpoint request timeout", 400),
        okx_error("50013", "Systems are busy", 429),
        okx_error("50026", "System error", 500),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(500, json={"code": 500, "data": {}, "error_code": "500", "error_message": "Internal Server Error", "msg": "Internal Server Error"}),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=["50001", "50004", "50013", "50026", "502-html", "gateway-500", "read-timeout", "dropped"],
)
def test_transient_failures_are_retried(first: httpx.Response | Exception) -> None:
    sleeps = Sleeps()
    rec = Recorder([ok([]), first, ok([{"ok": 1}])])
    with make_client(rec, sleep=sleeps) as client:
        client.get("/api/v5/account/config")  # the connection has worked once
        assert client.get("/api/v5/account/balance") == [{"ok": 1}]
        assert client.stats.retries == 1
    assert len(sleeps) == 1


def test_backoff_is_exponential_with_full_jitter() -> None:
    sleeps = Sleeps()
    rec = Recorder([okx_error("50013", "busy", 503)] * 7)
    with make_client(rec, sleep=sleeps, max_retries=6, backoff_base=0.5, backoff_cap=8.0) as client:
        with pytest.raises(OkxUnavailableError, match="7 attempts"):
            client.get("/api/v5/account/balance")
    ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert len(sleeps) == 6
    assert all(0 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))


def test_timeouts_give_up_as_unavailable() -> None:
    rec = Recorder([ok([])] + [httpx.ReadTimeout("timed out")] * 3)
    with make_client(rec, max_retries=2) as client:
        client.get("/api/v5/public/time")
        with pytest.raises(OkxUnavailableError, match="did not answer") as info:
            client.get("/api/v5/account/balance")
    assert info.value.exit_code == 4 and info.value.code is None


def test_unreachable_host_fails_at_once_with_cannot_reach() -> None:
    rec = Recorder([httpx.ConnectError("[Errno 111] Connection refused")])
    sleeps = Sleeps()
    with make_client(rec, sleep=sleeps) as client, pytest.raises(OkxUnavailableError) as info:
        client.get("/api/v5/public/time")
    assert str(info.value).startswith(f"cannot reach {HOST}: check the address / network")
    assert len(rec.requests) == 1 and sleeps == []


def test_non_okx_answer_points_at_base_url() -> None:
    rec = Recorder([httpx.Response(404, text="<html>not found</html>")])
    with make_client(rec) as client, pytest.raises(OkxRequestError, match="--base-url"):
        client.get("/api/v5/account/balance")


def test_unknown_code_is_raised_with_okx_code_and_message() -> None:
    rec = Recorder([okx_error("58888", "Brand new failure")])
    with make_client(rec) as client, pytest.raises(OkxRequestError, match="58888: Brand new failure"):
        client.get("/api/v5/account/balance")


# --- secrets stay secret -------------------------------------------------------------------


def test_secrets_never_reach_logs_exceptions_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    echo = okx_error("50113", f"Invalid Sign for {SECRET} with {PASSPHRASE}", 401)
    rec = Recorder([ok([]), echo, httpx.ConnectError("refused")], server_ms=TS_MS)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with make_client(rec, sync_clock=True, max_retries=0) as client:
        client.get("/api/v5/account/balance")
        for _ in range(2):
            try:
                client.get("/api/v5/account/balance")
            except Exception as exc:  # noqa: BLE001 - collecting all text
                texts += [str(exc), repr(exc), getattr(exc, "okx_msg", "")]
        texts += [repr(client), str(CREDS), repr(CREDS), repr(client.stats)]
    texts.append(caplog.text)
    assert "GET /api/v5/account/balance -> 200" in caplog.text
    for text in texts:
        assert SECRET not in text
        assert PASSPHRASE not in text


# --- concurrency and rate limiting ---------------------------------------------------------


def test_threads_share_one_client_and_sync_the_clock_once() -> None:
    rec = Recorder(server_ms=TS_MS)
    results: list[int] = []
    with make_client(rec, sync_clock=True) as client:

        def work(path: str) -> None:
            for _ in range(5):
                results.append(len(client.get(path)))

        threads = [threading.Thread(target=work, args=(p,)) for p in ("/api/v5/account/bills", "/api/v5/trade/fills", "/api/v5/account/positions", "/api/v5/account/balance")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 20
    assert rec.paths().count("/api/v5/public/time") == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_limiter_lets_the_documented_count_through_then_waits_a_window_with_margin() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    n, window = ENDPOINT_LIMITS["/api/v5/account/bills"]
    assert [limiter.acquire("/api/v5/account/bills") for _ in range(n)] == [0.0] * n
    waited = limiter.acquire("/api/v5/account/bills?ccy=BTC")
    assert waited == pytest.approx(window * 1.01 + 0.005)


def test_limiter_counts_each_request_from_its_answer() -> None:
    """OKX counts a request on arrival, at the latest when it answers: a slow answer
    pushes the next request of a full window back by as much, whatever the jitter."""
    clock = FakeClock()
    limiter = RateLimiter({"/a": (2, 1.0), "/b": (2, 1.0)}, margin=0, margin_seconds=0,
                          clock=clock, sleep=clock.sleep)
    _, slow = limiter.reserve("/a")
    _, fast = limiter.reserve("/a")
    clock.now += 0.05
    limiter.release("/a", fast)  # answered at +0.05
    clock.now += 0.25
    limiter.release("/a", slow)  # answered at +0.3, after the one sent later
    assert limiter.acquire("/a") == pytest.approx(0.75)  # the earliest slot: +0.05 + 1 s
    assert limiter.acquire("/a") == pytest.approx(0.25)  # then +0.3 + 1 s
    # acquire alone counts from the send time, as before
    limiter.acquire("/b")
    limiter.acquire("/b")
    assert limiter.acquire("/b") == pytest.approx(1.0)


def test_limiter_windows_are_per_endpoint() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"/a": (1, 2.0), "/b": (1, 2.0)}, clock=clock, sleep=clock.sleep)
    assert limiter.acquire("/a") == 0.0
    assert limiter.acquire("/b") == 0.0
    assert limiter.acquire("/a") > 2.0


def test_limiter_sliding_window_frees_slots_as_they_age() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"/a": (2, 1.0)}, margin=0, margin_seconds=0, clock=clock, sleep=clock.sleep)
    limiter.acquire("/a")
    clock.now += 0.6
    limiter.acquire("/a")
    assert limiter.acquire("/a") == pytest.approx(0.4)


def test_unknown_endpoint_gets_conservative_default() -> None:
    assert limit_for("/api/v5/something/new") == DEFAULT_LIMIT
    assert DEFAULT_LIMIT[0] / DEFAULT_LIMIT[1] <= min(n / w for n, w in ENDPOINT_LIMITS.values() if n >= 5)
    assert limit_for("/api/v5/account/balance?ccy=BTC") == (10, 2.0)


def test_every_documented_endpoint_has_a_limit() -> None:
    for path in (
        "/api/v5/trade/fills", "/api/v5/trade/fills-history", "/api/v5/account/bills",
        "/api/v5/account/bills-archive", "/api/v5/account/bills-history-archive",
        "/api/v5/account/positions", "/api/v5/account/positions-history", "/api/v5/account/balance",
        "/api/v5/account/config", "/api/v5/public/instruments", "/api/v5/public/time",
        "/api/v5/market/history-candles", "/api/v5/asset/bills-history",
    ):
        assert path in ENDPOINT_LIMITS


def test_disabled_limiter_never_waits() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"/a": (1, 10.0)}, enabled=False, clock=clock, sleep=clock.sleep)
    assert sum(limiter.acquire("/a") for _ in range(100)) == 0.0
    assert clock.sleeps == []


def test_limiter_reports_waits_through_on_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"/a": (1, 1.0)}, clock=clock, sleep=clock.sleep)
    seen: list[tuple[str, float]] = []
    limiter.acquire("/a", on_wait=lambda p, s: seen.append((p, s)))
    limiter.acquire("/a?x=1", on_wait=lambda p, s: seen.append((p, s)))
    assert seen == [("/a", pytest.approx(1.015))]


def test_different_endpoints_proceed_in_parallel_across_threads() -> None:
    limiter = RateLimiter({"/slow": (1, 0.6), "/fast": (50, 1.0)}, margin=0, margin_seconds=0)
    limiter.acquire("/slow")
    fast_done = threading.Event()

    slow = threading.Thread(target=limiter.acquire, args=("/slow",))
    slow.start()
    time.sleep(0.02)  # the slow thread now sleeps inside its endpoint's lock

    def fast() -> None:
        for _ in range(10):
            limiter.acquire("/fast")
        fast_done.set()

    threading.Thread(target=fast).start()
    assert fast_done.wait(0.5), "a waiting endpoint blocked another endpoint"
    assert slow.is_alive(), "the slow endpoint should still be waiting for its window"
    slow.join()


def test_client_counts_limiter_waits_per_endpoint() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"/api/v5/account/bills": (1, 1.0)}, clock=clock, sleep=clock.sleep)
    waits: list[tuple[str, float]] = []
    rec = Recorder()
    with OkxClient(CREDS, transport=httpx.MockTransport(rec), rate_limiter=limiter, sync_clock=False, on_wait=lambda p, s: waits.append((p, s))) as client:
        client.get("/api/v5/account/bills")
        client.get("/api/v5/account/bills")
        assert client.stats.rate_limit_wait_seconds == pytest.approx(1.015)
        assert client.stats.rate_limit_wait_by_endpoint == {"/api/v5/account/bills": pytest.approx(1.015)}
    assert waits == [("/api/v5/account/bills", pytest.approx(1.015))]


# --- credentials ----------------------------------------------------------------------------


def test_credentials_repr_and_str_show_only_the_key_tail() -> None:
    for text in (repr(CREDS), str(CREDS), f"{CREDS}", repr([CREDS])):
        assert SECRET not in text and PASSPHRASE not in text and API_KEY not in text
        assert "9abc" in text


def test_well_formed_credentials_have_no_shape_problems() -> None:
    assert CREDS.shape_problems() == []


@pytest.mark.parametrize(
    ("creds", "needle"),
    [
        (OkxCredentials(API_KEY, SECRET[:20], PASSPHRASE), "looks truncated"),
        (OkxCredentials(API_KEY, SECRET.lower(), PASSPHRASE), "uppercase"),
        (OkxCredentials(API_KEY, SECRET + "ZZ", PASSPHRASE), "34 characters"),
        (OkxCredentials(API_KEY, "Z" * 32, PASSPHRASE), "0-9 and A-F"),
        (OkxCredentials(API_KEY, " " + SECRET, PASSPHRASE), "spaces"),
        (OkxCredentials(API_KEY, SECRET, ""), "passphrase is empty"),
        (OkxCredentials(API_KEY[:30], SECRET, PASSPHRASE), "looks truncated"),
        (OkxCredentials(API_KEY + "-extra", SECRET, PASSPHRASE), "does not look like an OKX key"),
        (OkxCredentials("", SECRET, PASSPHRASE), "API key is empty"),
    ],
)
def test_shape_problems_describe_the_mistake_without_the_secret(creds: OkxCredentials, needle: str) -> None:
    problems = creds.shape_problems()
    assert any(needle in p for p in problems), problems
    for problem in problems:
        assert SECRET not in problem and PASSPHRASE not in problem


def test_credentials_are_frozen() -> None:
    with pytest.raises(AttributeError):
        CREDS.secret = "x"  # type: ignore[misc]


def test_json_body_of_archive_apply_matches_python_compact_dump() -> None:
    rec = Recorder()
    with make_client(rec) as client:
        client.apply_bills_history_archive(2023, "q4")
    assert json.loads(rec.requests[0].content) == {"year": "2023", "quarter": "Q4"}
