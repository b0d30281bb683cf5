"""The dlt source: OKX fills, bills, positions, balances and instruments into ``okx_raw``.

| resource | endpoints (history window) | cursor | key | write disposition |
|---|---|---|---|---|
| ``fills`` | ``trade/fills`` (3 days) + ``trade/fills-history`` per instType (until OKX returns nothing older) | ``billId`` | ``account_uid, bill_id`` | merge |
| ``bills`` | ``account/bills`` (7 days) + ``account/bills-archive`` (3 months) | ``billId`` | ``account_uid, bill_id`` | merge |
| ``positions_history`` | ``account/positions-history`` (3 months) | ``uTime`` | ``account_uid, pos_id, c_time`` (newest ``u_time`` wins) | merge |
| ``positions`` | ``account/positions`` (snapshot) | none | ``account_uid, snapshot_at, pos_id`` | merge (an append that a resumed load cannot double) |
| ``balances`` | ``account/balance`` (snapshot) | none | ``account_uid, snapshot_at, ccy`` | merge (idem) |
| ``instruments`` | ``public/instruments`` per instType, OPTION per family | none | ``inst_type, inst_id`` | merge, never deleted |
| ``funding_rates`` | ``public/funding-rate-history`` per SWAP charged funding (3 months) | ``fundingTime`` | ``inst_id, funding_time`` | merge |
| ``account_config`` | ``account/config`` | none | ``uid`` | merge |
| ``snapshots`` | (one row per snapshot resource and run) | none | ``account_uid, snapshot_at, resource`` | merge |
| ``funding_bills`` | ``asset/bills`` (1 month) + ``asset/bills-history`` (since 2021-02-01) | ``ts`` | ``account_uid, bill_id`` | merge |
| ``deposits`` | ``asset/deposit-history`` (no documented limit) | ``ts`` | ``account_uid, dep_id`` | merge (re-read while not final) |
| ``withdrawals`` | ``asset/withdrawal-history`` (no documented limit) | ``ts`` | ``account_uid, wd_id`` | merge (re-read while not final) |

Incremental state lives in dlt's source state, committed with the load package (so a
run killed before its load completes leaves the previous cursors in force)::

    accounts.<uid>.fills.*           {hwm, hwm_ts, synced_at, history_scopes, backfill,
                                      returned_oldest_ts, returned_window_ms}
    accounts.<uid>.fills.<instType>  {hwm, hwm_ts}        newest fill of that type
    accounts.<uid>.bills.*           {hwm, hwm_ts, synced_at, history_scopes, backfill}
    accounts.<uid>.positions_history.*  {hwm, synced_at}  (hwm = newest uTime)
    accounts.<uid>.option_families   [BTC-USD, ...]      for public/instruments OPTION
    accounts.<uid>.funding_rates.<instId>  {hwm}         newest fundingTime loaded
    accounts.<uid>.funding_bills     {hwm_ts, oldest_ts, synced_at}  newest/oldest ts loaded
    accounts.<uid>.deposits          {hwm_ts, pending_ts, synced_at} pending_ts: oldest not final
    accounts.<uid>.withdrawals       {hwm_ts, pending_ts, synced_at}

Each ledger resource walks its recent endpoint (higher limit, short window) from the
newest record down to the checkpoint and, when the checkpoint is older than that window
(or on the first run), walks the 3-month endpoint in parallel for everything up to a
boundary inside the recent window; the two overlap by half a day and the merge
deduplicates. When the recent endpoint turns out not to reach the boundary, the gap is
walked afterwards on the long endpoint. Every walk re-reads a small overlap below the
checkpoint. The funding account's ledger walks its month-long ``asset/bills`` the same
way and hands over to ``asset/bills-history`` (since 2021-02-01) below that month.

A backfill (first sync, or a sync after a pause longer than the recent window) of more
than ``backfill_package_rows`` (50,000) ledger rows comes in several load packages: time
windows of the long endpoints, oldest first, sized from the density of the newest 100
ledger entries and then of each window loaded. ``backfill = {through, window_ms}`` is
committed with each window's package, so a sync stopped half-way keeps the windows it
loaded. Only the last package reads the recent endpoints, positions history, positions,
balances, instruments, the account config and the funding account (``funding_bills``,
``deposits``, ``withdrawals``: small, walked on ``ts`` in ``sources/okx/asset.py``; a
key without access to it skips them with a warning); ``run_sync`` runs the pipeline again while
``SourceObserver.backfill_pending`` is set. The load step merges each table of a package
in one statement, so the package's size bounds the sync's memory.

The resources are in ``sources/okx/resources/`` (one module each, declaring its
endpoints, window, table, key, cursor and write disposition), the ledger walks they
share in ``sources/okx/walks.py``, the run they share in ``sources/okx/run.py``. This
module assembles them: ``okx_source`` binds each resource of ``RESOURCES`` to one run and
plans the package when the first of them starts.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from sources.okx.client import OkxClient
from sources.okx.credentials import OkxCredentials
from sources.okx.errors import ConfigError
from sources.okx.resources import OkxResource
from sources.okx.resources.account_config import PATH as ACCOUNT_CONFIG_PATH
from sources.okx.resources.account_config import account_config
from sources.okx.resources.balances import balances, read_balances
from sources.okx.resources.bills import BILLS_LEDGER, bills
from sources.okx.resources.deposits import deposits
from sources.okx.resources.fills import fills
from sources.okx.resources.funding_bills import funding_bills
from sources.okx.resources.funding_rates import funding_rates
from sources.okx.resources.instruments import instruments
from sources.okx.resources.positions import positions, read_positions
from sources.okx.resources.positions_history import positions_history
from sources.okx.resources.snapshots import snapshots
from sources.okx.resources.withdrawals import withdrawals
from sources.okx.run import (
    BACKFILL_PACKAGE_ROWS,
    INST_TYPES,
    OkxCredentialsConfiguration,
    SourceObserver,
    TableReader,
    _as_okx_credentials,
    _Run,
    duckdb_reader,
)
from sources.okx.run import _option_family as _option_family  # imported from here by tests
from sources.okx.walks import UNLIMITED_SLICES, _ledger_plan, _probe_first_window

__all__ = [
    "DEFAULT_BASE_URL",
    "INST_TYPES",
    "RESOURCES",
    "OkxCredentialsConfiguration",
    "SourceObserver",
    "TableReader",
    "duckdb_reader",
    "okx_source",
]

DEFAULT_BASE_URL = "https://www.okx.com"

#: Every resource of the source, in the order the source lists them. A new resource is
#: its module in ``sources/okx/resources/`` and its line here (with its import).
RESOURCES: tuple[OkxResource, ...] = (
    fills,
    bills,
    positions_history,
    positions,
    balances,
    instruments,
    funding_rates,
    account_config,
    snapshots,
    funding_bills,
    deposits,
    withdrawals,
)


# ----------------------------------------------------------------------------- the source


def _plan_package(run: _Run, client: Any, obs: SourceObserver) -> None:
    """The ledgers' plans for this package; the snapshots when it is the last one.

    The first window of a new backfill is sized from the newest entries of
    ``bills-archive`` (one probe at most, shared by every ledger).
    """
    acct_state = run.account_state()
    first_window = functools.cache(lambda: _probe_first_window(run, BILLS_LEDGER))
    run.plans = {
        ledger.resource: _ledger_plan(
            run, ledger, acct_state.get(ledger.resource, {}).get("*", {}), first_window
        )
        for ledger in (resource.ledger for resource in RESOURCES)
        if ledger is not None
    }
    run.final = all(plan.final for plan in run.plans.values())
    obs.backfill_pending = not run.final
    obs.backfill_through = {
        name: (run.now_ms if plan.final else plan.window_end) for name, plan in run.plans.items()
    }
    if run.final:
        # the two snapshots are read here, once, so that every resource sees the same ones
        run.positions_rows = read_positions(client)
        run.balance_rows = read_balances(client)


def _guarded(run: _Run, items: Iterator[Any]) -> Iterator[Any]:
    """Flags the run as failed when a resource raises (so no resource waits for it)."""
    try:
        yield from items
    except BaseException:
        run.failed.set()
        raise


@dlt.source(name="okx", section="okx", max_table_nesting=0)
def okx_source(
    credentials: OkxCredentialsConfiguration | OkxCredentials = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    demo_trading: bool = False,
    rate_limits: bool = True,
    full_refresh: bool = False,
    client: Any = None,
    account_config: Any = None,
    observer: Any = None,
    reader: Any = None,
    backfill_package_rows: int = BACKFILL_PACKAGE_ROWS,
) -> Sequence[DltResource]:
    """OKX v5 account data for one API key: ledger, fills, positions, balances, instruments.

    Args:
        credentials: An ``OkxCredentials``, or resolved by dlt from
            ``sources.okx.credentials.{api_key,secret,passphrase}`` (secrets, masked).
        base_url: ``https://www.okx.com``, ``https://eea.okx.com``, ``https://us.okx.com``
            (or the simulator's loopback URL).
        demo_trading: Send ``x-simulated-trading: 1``.
        rate_limits: Pace requests to OKX's documented per-endpoint limits.
        full_refresh: Ignore the cursors and read everything OKX still has (nothing is
            deleted: the merge keeps older rows OKX no longer serves).
        client: An ``OkxClient`` to use instead of building one (``run_sync`` passes
            its own, to read its statistics).
        account_config: The ``account/config`` record if already read (saves a call).
        observer: A ``SourceObserver`` that receives row counts and warnings.
        reader: A ``TableReader`` on the destination (``duckdb_reader(db_path)``), used
            to keep ``instruments.first_seen_at`` and to skip overlap rows already loaded.
        backfill_package_rows: A backfill is loaded in packages of about this many
            ledger rows (time windows of the 3-month endpoints, oldest first); while one
            is under way, only fills and bills (and funding rates) are extracted and
            ``observer.backfill_pending`` is set: run the pipeline again. 0 loads
            everything in one package.

    Returns:
        The resources listed in the module docstring, all keyed by ``account_uid``.
    """
    if client is None:
        creds = _as_okx_credentials(credentials)
        client = OkxClient(creds, base_url=base_url, demo_trading=demo_trading,
                           rate_limits=rate_limits)
    if account_config is None:
        configs = client.get(ACCOUNT_CONFIG_PATH)
        if not configs:
            raise ConfigError("OKX returned no account configuration for this key.")
        account_config = configs[0]
    uid = str(account_config.get("uid") or "")
    if not uid:
        raise ConfigError("OKX's account/config has no uid for this key.")
    obs = observer if observer is not None else SourceObserver()
    obs.uid = uid
    # OKX's clock (the client measured the offset before its first private request)
    now_ms = int(time.time() * 1000) + int(getattr(client, "clock_offset_ms", 0) or 0)
    run = _Run(
        client=client,
        uid=uid,
        config_row=dict(account_config),
        now_ms=now_ms,
        full_refresh=full_refresh,
        observer=obs,
        reader=reader,
        package_rows=backfill_package_rows,
        # without rate limits (a simulator), long walks are split in time and run in
        # parallel; with OKX's limits one walk per endpoint already saturates them
        slices=1 if rate_limits else UNLIMITED_SLICES,
    )
    prepared: list[BaseException | None] = []
    prepare_lock = threading.Lock()

    def ready() -> None:
        """Plans this package, once, when the first resource starts.

        It reads the source state, which dlt offers only while a pipeline runs: doing it
        here (not when ``okx_source()`` is called) lets users create the source before
        their pipeline.
        """
        with prepare_lock:
            if not prepared:
                try:
                    _plan_package(run, client, obs)
                    prepared.append(None)
                except BaseException as exc:
                    prepared.append(exc)
            failure = prepared[0]
        if failure is not None:
            run.failed.set()
            raise failure

    def guarded(
        make: Callable[[_Run], Iterator[Any]], *, every_package: bool = False
    ) -> Iterator[Any]:
        """A resource's items, once this package is planned; most read only in the last."""
        ready()
        if every_package or run.final:
            yield from _guarded(run, make(run))

    def bind(resource: OkxResource) -> DltResource:
        """``resource`` as a dlt resource of this run."""

        def items() -> Iterator[Any]:
            try:
                yield from guarded(resource.extract, every_package=resource.every_package)
            finally:
                if resource.finished is not None:
                    resource.finished(run)
                if run.final or run.failed.is_set() or resource.every_package:
                    obs.mark_done(resource.name)  # the sync's ledger export waits on this

        return resource.to_dlt(items)

    return [bind(resource) for resource in RESOURCES]
