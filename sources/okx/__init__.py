"""OKX v5 source for dlt: signed client, pagination and the resources.

The dlt source itself is imported lazily so that the client (used by ``doctor`` and the
simulator tests) does not pay for importing dlt.
"""

from typing import Any

__all__ = ["okx_source"]


def __getattr__(name: str) -> Any:
    if name == "okx_source":
        from sources.okx.source import okx_source

        return okx_source
    raise AttributeError(name)
