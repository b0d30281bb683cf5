"""dlt-conventional entry point: ``python pipelines/okx_pipeline.py``.

For users who orchestrate dlt themselves (Airflow, Dagster, cron). Credentials come
from dlt's configuration, as for any dlt source::

    # .dlt/secrets.toml
    [sources.okx.credentials]
    api_key = "..."
    secret = "..."
    passphrase = "..."

    # .dlt/config.toml (optional)
    [sources.okx]
    base_url = "https://www.okx.com"   # eea.okx.com / us.okx.com for those accounts
    demo_trading = false

or the environment (``SOURCES__OKX__CREDENTIALS__API_KEY`` ...). The DuckDB file is
``okx_journal.duckdb`` unless ``OKX_JOURNAL_DB`` (or the first argument) names another.

A package left by an interrupted run is loaded before new data is extracted, so a
killed run never loses or doubles a record. ``okx-journal sync`` does the same plus the
read-only key check, the lock and the journal transforms; prefer it when you can.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# every raw row carries the load that wrote it (the journal's staging models use it)
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")

import dlt  # noqa: E402

from sources.okx.source import SourceObserver, duckdb_reader, okx_source  # noqa: E402

PIPELINE_NAME = "okx_journal"
DATASET = "okx_raw"


def load_okx(db_path: str | Path = "okx_journal.duckdb") -> object:
    """Runs the OKX source into DuckDB at ``db_path`` (dataset ``okx_raw``).

    dlt's pipeline folder is ``<db>.dlt/`` beside the database (as ``okx-journal sync``
    uses), so the cursors belong to that database file.

    A big backfill comes in several load packages (see ``sources.okx.source``): the
    pipeline runs again until the last one is loaded.

    Returns:
        dlt's ``LoadInfo`` of the last package.
    """
    db = Path(db_path)
    pipelines_dir = db.with_name(db.name + ".dlt")
    pipelines_dir.mkdir(parents=True, exist_ok=True)

    def make() -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=PIPELINE_NAME,
            pipelines_dir=str(pipelines_dir),
            destination=dlt.destinations.duckdb(str(db)),
            dataset_name=DATASET,
        )

    pipeline = make()
    if pipeline.has_pending_data:
        pipeline.run()  # finish the interrupted run's package first
        pipeline = make()
    observer = SourceObserver()
    while True:
        info = pipeline.run(okx_source(reader=duckdb_reader(db, DATASET), observer=observer))
        if not observer.backfill_pending:
            return info


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OKX_JOURNAL_DB", "okx_journal.duckdb")
    print(load_okx(target))
