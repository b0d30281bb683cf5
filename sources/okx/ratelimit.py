"""Per-endpoint sliding-window rate limiter with OKX's documented limits.

OKX counts requests per endpoint: private ones per User ID (each sub-account has its own
budget), public ones per IP (okx-api.md §2, §3.1). One ``RateLimiter`` per client is
enough for a connector that uses one key from one machine. The limit key is the endpoint
path: a new resource is paced by declaring its endpoint's limit in ``ENDPOINT_LIMITS``,
and runs beside the others (each key has its own window and lock).

OKX counts a request when it arrives, somewhere between the moment it was sent and the
moment its answer came back: network and scheduling jitter can bunch requests that left
evenly spaced. ``reserve`` / ``release`` count each request from the moment its answer
arrived (the latest it can have been counted by OKX), so a window never holds more than
its limit on OKX's side, whatever the jitter; every window is also stretched by a small
margin (1 % plus a few milliseconds). ``acquire`` counts from the send time only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

__all__ = ["DEFAULT_LIMIT", "ENDPOINT_LIMITS", "RateLimiter", "Slot", "limit_for"]

#: path -> (requests, window in seconds), from okx-api.md §3.1 (OKX docs, Nov 2025 / 2026).
#: The archive *apply* POST has its own key ("POST " + path): OKX's 2026 docs say 1 per
#: 10 s (the older 12/day quota is OKX's business, not a pacing rule).
ENDPOINT_LIMITS: dict[str, tuple[int, float]] = {
    # private, per User ID
    "/api/v5/trade/fills": (60, 2.0),
    "/api/v5/trade/fills-history": (10, 2.0),
    "/api/v5/account/bills": (5, 1.0),
    "/api/v5/account/bills-archive": (5, 2.0),
    "/api/v5/account/bills-history-archive": (10, 2.0),
    "POST /api/v5/account/bills-history-archive": (1, 10.0),
    "/api/v5/account/subtypes": (20, 2.0),
    "/api/v5/account/positions": (10, 2.0),
    "/api/v5/account/positions-history": (10, 2.0),
    "/api/v5/account/balance": (10, 2.0),
    "/api/v5/account/config": (5, 2.0),
    "/api/v5/account/instruments": (20, 2.0),
    "/api/v5/account/interest-accrued": (5, 2.0),
    "/api/v5/trade/orders-history": (40, 2.0),
    "/api/v5/trade/orders-history-archive": (20, 2.0),
    "/api/v5/asset/deposit-history": (6, 1.0),
    "/api/v5/asset/withdrawal-history": (6, 1.0),
    "/api/v5/asset/bills": (6, 1.0),
    "/api/v5/asset/bills-history": (1, 1.0),
    "/api/v5/users/subaccount/list": (20, 2.0),
    "/api/v5/account/subaccount/balances": (6, 2.0),
    "/api/v5/asset/subaccount/balances": (6, 2.0),
    "/api/v5/asset/subaccount/bills": (6, 1.0),
    # public, per IP
    "/api/v5/public/instruments": (20, 2.0),
    "/api/v5/public/time": (10, 2.0),
    "/api/v5/public/funding-rate-history": (10, 2.0),
    "/api/v5/market/candles": (40, 2.0),
    "/api/v5/market/history-candles": (20, 2.0),
    "/api/v5/market/index-candles": (20, 2.0),
    "/api/v5/market/history-index-candles": (10, 2.0),
    "/api/v5/market/mark-price-candles": (20, 2.0),
    # older docs say 10 / 2 s: take the stricter one
    "/api/v5/market/history-mark-price-candles": (10, 2.0),
    "/api/v5/market/index-tickers": (20, 2.0),
}

#: Limit for endpoints not in the table: as strict as the strictest common 2-s rule.
DEFAULT_LIMIT: tuple[int, float] = (5, 2.0)


def limit_for(path: str, limits: Mapping[str, tuple[int, float]] | None = None) -> tuple[int, float]:
    """Returns ``(requests, window_seconds)`` for a path (query string ignored)."""
    table = ENDPOINT_LIMITS if limits is None else limits
    return table.get(path.split("?", 1)[0], DEFAULT_LIMIT)


class Slot:
    """One request counted in its endpoint's window: its time is when it was sent, then
    (``RateLimiter.release``) when its answer arrived."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class _Window:
    """The last ``requests`` calls to one endpoint (``Slot``s, oldest first)."""

    def __init__(self, requests: int, window: float) -> None:
        self.requests = max(1, requests)
        self.window = window
        self.sent: deque[Slot] = deque()
        self.lock = threading.Lock()


class RateLimiter:
    """Blocks just long enough to stay inside each endpoint's documented limit.

    Sliding window: a request may go when fewer than ``requests`` were sent in the last
    ``window × (1 + margin) + margin_seconds``. Each endpoint has its own lock, so threads
    calling different endpoints never wait for each other; threads on the same endpoint
    take turns.

    Args:
        limits: ``path -> (requests, window_seconds)``; defaults to ``ENDPOINT_LIMITS``.
        default: Limit for paths not in ``limits``.
        enabled: ``False`` makes ``acquire`` a no-op (e.g. against a loopback simulator
            with its limits switched off).
        margin: Fraction added to every window.
        margin_seconds: Seconds added to every window.
        clock: Monotonic clock in seconds (injectable for tests).
        sleep: Sleep function (injectable for tests).
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]] | None = None,
        *,
        default: tuple[int, float] = DEFAULT_LIMIT,
        enabled: bool = True,
        margin: float = 0.01,
        margin_seconds: float = 0.005,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits: dict[str, tuple[int, float]] = dict(ENDPOINT_LIMITS if limits is None else limits)
        self.default = default
        self.enabled = enabled
        self.margin = margin
        self.margin_seconds = margin_seconds
        self._clock = clock
        self._sleep = sleep
        self._windows: dict[str, _Window] = {}
        self._windows_lock = threading.Lock()

    def limit_for(self, path: str) -> tuple[int, float]:
        """``(requests, window_seconds)`` this limiter applies to ``path``."""
        return self.limits.get(path.split("?", 1)[0], self.default)

    def _window_for(self, key: str) -> _Window:
        with self._windows_lock:
            window = self._windows.get(key)
            if window is None:
                requests, seconds = self.limits.get(key, self.default)
                window = _Window(requests, seconds * (1 + self.margin) + self.margin_seconds)
                self._windows[key] = window
            return window

    def acquire(self, path: str, on_wait: Callable[[str, float], None] | None = None) -> float:
        """Waits until a request to ``path`` fits the limit, then counts it as sent now.

        Args:
            path: Endpoint path (a query string is ignored); for the archive POST, the
                key ``"POST /api/v5/account/bills-history-archive"``.
            on_wait: Called with ``(path, seconds)`` before each wait, e.g. so a progress
                display can say it is waiting on OKX's limit.

        Returns:
            Seconds spent waiting (0.0 when the request could go at once or when the
            limiter is disabled).
        """
        return self.reserve(path, on_wait)[0]

    def reserve(
        self, path: str, on_wait: Callable[[str, float], None] | None = None
    ) -> tuple[float, Slot | None]:
        """``acquire``, returning also the request's slot for ``release`` (None when the
        limiter is disabled)."""
        if not self.enabled:
            return 0.0, None
        key = path.split("?", 1)[0]
        window = self._window_for(key)
        waited = 0.0
        with window.lock:
            now = self._clock()
            while True:
                while window.sent and window.sent[0].at + window.window <= now:
                    window.sent.popleft()
                if len(window.sent) < window.requests:
                    slot = Slot(now)
                    window.sent.append(slot)
                    return waited, slot
                ready_at = window.sent[0].at + window.window
                delay = ready_at - now
                if on_wait is not None:
                    on_wait(key, delay)
                self._sleep(delay)
                waited += delay
                # a sleep may end a hair early (or float sums round down): never loop on that
                now = max(self._clock(), ready_at)

    def release(self, path: str, slot: Slot | None) -> None:
        """The answer to the request of ``slot`` arrived (or it failed): it counts from
        now, the latest OKX can have counted it. Keeps the window ordered."""
        if slot is None or not self.enabled:
            return
        window = self._window_for(path.split("?", 1)[0])
        with window.lock:
            now = self._clock()
            if now <= slot.at:
                return
            slot.at = now
            # slots are kept ordered by time: move this one behind any sent after it
            try:
                window.sent.remove(slot)
            except ValueError:
                return  # already out of the window
            index = len(window.sent)
            while index > 0 and window.sent[index - 1].at > now:
                index -= 1
            window.sent.insert(index, slot)
