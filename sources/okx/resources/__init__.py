"""The resources of the OKX source, one module each, and what every module declares.

Each module declares its OKX endpoint(s) and history window at its top, then its
resource function, decorated with ``okx_resource``: the raw table (name, primary key and
column types are the ``TableSpec`` in ``sources/okx/schema.py``), the cursor and the
write disposition. ``sources.okx.source.okx_source`` binds every declared resource to
one run, in the order of its ``RESOURCES``: a new resource is a new module here and one
line there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import dlt
from dlt.common.schema.typing import TTableSchemaColumns, TWriteDispositionConfig
from dlt.extract.resource import DltResource

from sources.okx.run import _Run
from sources.okx.schema import TableSpec, column_hints
from sources.okx.walks import _Ledger

__all__ = ["MERGE", "OkxResource", "okx_resource"]

#: Every table merges on its primary key. ``delete-insert`` replaces the rows of the
#: package's keys in one statement, so the package's size bounds the load's memory.
MERGE: TWriteDispositionConfig = {"disposition": "merge", "strategy": "delete-insert"}


@dataclass(frozen=True)
class OkxResource:
    """One resource of the OKX source as its module declares it.

    Attributes:
        table: The raw table it loads: name, primary key and column types.
        extract: Yields the resource's items (Arrow tables) for one run.
        write_disposition: dlt's write disposition of the table.
        cursor: The OKX field its incremental state follows; None when every run reads
            everything (snapshots, lists).
        every_package: Extracted in every load package of a backfill (the ledgers and
            what depends on them); the others are read in the last package only.
        dedup_sort: The column whose highest value wins among rows of one key.
        ledger: The ledger walk it runs, planned once per package by the source.
        finished: Called when the resource ends, however it ends (even before this
            package is planned), to release the resources that wait for it.
    """

    table: TableSpec
    extract: Callable[[_Run], Iterator[Any]]
    write_disposition: TWriteDispositionConfig
    cursor: str | None = None
    every_package: bool = False
    dedup_sort: str | None = None
    ledger: _Ledger | None = None
    finished: Callable[[_Run], None] | None = None

    @property
    def name(self) -> str:
        """The resource's name: its table's."""
        return self.table.name

    def to_dlt(self, items: Callable[[], Iterator[Any]]) -> DltResource:
        """The dlt resource of ``items``: key, typed column hints (fresh dicts), parallel."""
        hints = column_hints(self.table)
        if self.dedup_sort is not None:
            hints[self.dedup_sort]["dedup_sort"] = "desc"
        return dlt.resource(
            items,
            name=self.table.name,
            write_disposition=self.write_disposition,
            primary_key=list(self.table.primary_key),
            columns=cast(TTableSchemaColumns, hints),
            parallelized=True,
        )


def okx_resource(
    table: TableSpec,
    *,
    write_disposition: TWriteDispositionConfig,
    cursor: str | None = None,
    every_package: bool = False,
    dedup_sort: str | None = None,
    ledger: _Ledger | None = None,
    finished: Callable[[_Run], None] | None = None,
) -> Callable[[Callable[[_Run], Iterator[Any]]], OkxResource]:
    """Declares the decorated function (one run → items) as a resource of the source.

    The arguments are ``OkxResource``'s attributes.
    """

    def declare(extract: Callable[[_Run], Iterator[Any]]) -> OkxResource:
        return OkxResource(
            table=table,
            extract=extract,
            write_disposition=write_disposition,
            cursor=cursor,
            every_package=every_package,
            dedup_sort=dedup_sort,
            ledger=ledger,
            finished=finished,
        )

    return declare
