"""OKX's official hosts routed to the loopback simulator, for tests of site discovery.

``SiteRouter`` is an httpx transport: a request to ``https://www.okx.com``,
``https://eea.okx.com`` or ``https://us.okx.com`` (``sources.okx.sites.SITES``) is sent
to the simulator over loopback with its ``Host`` header kept, so the simulator answers
as that site (``SITE_HOSTS`` in ``server.py``). Every host asked is recorded in
``requested``; a request to any other host, or not over https, is refused before it
leaves the process (``httpx.ConnectError``), so a test can prove that nothing else is
ever contacted. Only tests (and whoever passes it explicitly as ``transport=``) use it:
the client never picks it up by itself.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import httpx

from sources.okx.sites import OFFICIAL_HOSTS

__all__ = ["SiteRouter"]


class SiteRouter(httpx.BaseTransport):
    """Sends OKX's official https hosts to ``simulator_url``; refuses every other host.

    Args:
        simulator_url: The simulator's ``http://127.0.0.1:PORT``.
    """

    def __init__(self, simulator_url: str) -> None:
        parts = urlsplit(simulator_url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"not a simulator URL: {simulator_url!r}")
        self._host = parts.hostname
        self._port = parts.port
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        #: ``scheme://host`` of every request, in order (refused ones included)
        self.requested: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        with self._lock:
            self.requested.append(f"{url.scheme}://{url.host}")
        if url.scheme != "https" or url.host not in OFFICIAL_HOSTS:
            raise httpx.ConnectError(f"refused: {url.scheme}://{url.host} is not an OKX host",
                                     request=request)
        target = url.copy_with(scheme="http", host=self._host, port=self._port)
        headers = [(k, v) for k, v in request.headers.raw]
        forwarded = httpx.Request(request.method, target, headers=headers,
                                  content=request.content)
        response = self._inner.handle_request(forwarded)
        response.read()
        return httpx.Response(response.status_code, headers=response.headers,
                              content=response.content, request=request)

    def close(self) -> None:
        self._inner.close()
