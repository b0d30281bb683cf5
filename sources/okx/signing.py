"""Pure OKX v5 request signing: the prehash string, the HMAC and OKX timestamps.

OKX's rule (okx-api.md §1.2): ``OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp +
METHOD + requestPath + body))`` where ``requestPath`` includes ``?`` and the query string
exactly as sent and ``body`` is the exact JSON text sent (empty for GET). The secret is
used as UTF-8 text, not hex-decoded. Nothing here does I/O; the httpx auth hook in
``client.py`` feeds these functions the bytes it actually sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

__all__ = ["okx_timestamp", "prehash", "sign"]


def okx_timestamp(ms: int) -> str:
    """Formats epoch milliseconds the way ``OK-ACCESS-TIMESTAMP`` wants them.

    Args:
        ms: Milliseconds since the Unix epoch (UTC).

    Returns:
        ISO-8601 UTC with exactly three fractional digits and ``Z``, e.g.
        ``okx_timestamp(1705307400123) == "2024-01-15T08:30:00.123Z"``. Integer
        arithmetic, so no float rounding can move the milliseconds.
    """
    seconds, millis = divmod(ms, 1000)
    whole = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{millis:03d}Z"


def prehash(timestamp: str, method: str, request_path: str, body: str = "") -> str:
    """Builds the string OKX signs: ``timestamp + METHOD + requestPath + body``."""
    return f"{timestamp}{method.upper()}{request_path}{body}"


def sign(secret: str, timestamp: str, method: str, request_path: str, body: str = "") -> str:
    """Computes ``OK-ACCESS-SIGN`` for one request.

    Args:
        secret: The API secret key, used as UTF-8 text.
        timestamp: The ``OK-ACCESS-TIMESTAMP`` value sent with the request.
        method: HTTP method; upper-cased before signing.
        request_path: Path from ``/api/v5/...`` including ``?query`` exactly as sent on
            the wire (same order, same percent-encoding).
        body: Exact request body text (compact JSON for the archive POST, "" for GET).

    Returns:
        The base64 text of the HMAC-SHA256 digest.
    """
    message = prehash(timestamp, method, request_path, body).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")
