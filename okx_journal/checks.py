"""Data-quality checks with great-expectations: ``okx-journal check`` and after every sync.

The suites themselves (what must hold) live beside the transforms they guard, in
``transforms/checks/suites.py``; this module only runs them. For every *frame* of a
suite (one SQL query: a table, or a small comparison computed in SQL) it reads the rows
into pandas through Arrow (exact DECIMALs), validates them with great-expectations in
an ephemeral context (nothing is written to the user's directory) and turns the results
into a ``CheckReport``: one row per suite, a short text table, and the full results as
JSON next to the database (``<db>.checks.json``).

great-expectations takes 4-7 s to import: it is imported only inside ``run_checks``,
never when this module is imported. Its progress bars, log records and warnings are
kept off stdout (``sync --json`` prints JSON there).

Usage from the CLI::

    report = run_checks(db_path)
    click.echo(report.to_table())
    report.raise_for_failures()          # DataCheckFailed, exit 5

and after a sync: ``run_checks_after_sync(db_path, mode, log=echo)`` with mode
``off``/``warn``/``fail``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.util
import io
import json
import logging
import math
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sources.okx.errors import ConfigError, DataCheckFailed

__all__ = [
    "CHECK_MODES",
    "SUITES_FILE",
    "CheckReport",
    "Expect",
    "Frame",
    "Now",
    "Outcome",
    "Query",
    "SuiteResult",
    "frame_id",
    "frame_inputs",
    "load_suites",
    "results_path",
    "run_checks",
    "run_checks_after_sync",
    "combine",
    "warm_up",
    "write_results",
]

CHECK_MODES = ("off", "warn", "fail")
SUITES_FILE = Path(__file__).resolve().parent.parent / "transforms" / "checks" / "suites.py"

_EXAMPLE_ROWS = 5
_EXAMPLE_MAX_CHARS = 240
_TABLE_CELL_CHARS = 140  # the table stays short; the full line is in the error and JSON


# ----------------------------------------------------------------------------- suite spec


@dataclass(frozen=True)
class Now:
    """Placeholder for the time the checks run (UTC), plus an offset."""

    plus: dt.timedelta = dt.timedelta(0)

    def resolve(self, now: dt.datetime) -> dt.datetime:
        return now + self.plus


@dataclass(frozen=True)
class Query:
    """SQL producing a frame's rows, usable when every table in ``requires`` exists."""

    requires: tuple[str, ...]
    sql: str


@dataclass(frozen=True)
class Expect:
    """One great-expectations expectation: its class name, kwargs, and what it means."""

    type: str
    kwargs: Mapping[str, Any]
    meaning: str
    severity: str = "critical"
    #: only the rows where ``column == value`` (a great-expectations row condition)
    where: tuple[str, Any] | None = None


@dataclass(frozen=True)
class Frame:
    """Rows to validate (the first ``Query`` whose tables exist) and their expectations."""

    name: str
    queries: tuple[Query, ...]
    expectations: tuple[Expect, ...]
    example: tuple[str, ...] = ()
    skip_without: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- results


@dataclass
class Outcome:
    """The result of one expectation on one frame (or why it could not run)."""

    suite: str
    frame: str
    expectation: str
    meaning: str
    severity: str
    status: str  # "passed", "failed", "info" (a non-critical finding), "skipped", "error"
    unexpected_count: int = 0
    element_count: int = 0
    example: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "error")

    def line(self) -> str:
        """``suite / frame: meaning: example`` on one line."""
        text = f"{self.frame}: {self.meaning}"
        return f"{text}: {self.example}" if self.example else text


@dataclass
class SuiteResult:
    """One row of the report."""

    suite: str
    expectations: int
    failed: int
    info: int
    skipped: int
    first_failure: str


@dataclass
class CheckReport:
    """What ``run_checks`` found: one ``SuiteResult`` per suite, every ``Outcome``."""

    db_path: Path
    suites: list[SuiteResult]
    outcomes: list[Outcome]
    seconds: float
    json_path: Path | None = None
    frames: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: ``frame_id → (inputs, outcomes, detail)`` of every frame (with ``inputs`` given)
    computed_from: dict[str, tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]] = field(
        default_factory=dict, repr=False
    )
    #: frames validated by great-expectations in this run (the others kept their results)
    ran: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(o.failed for o in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]

    @property
    def first_failure(self) -> Outcome | None:
        failures = self.failures
        return failures[0] if failures else None

    def to_table(self) -> str:
        """A short plain-text table: suite, expectations, failed, first failing example."""
        header = ("suite", "checks", "failed", "first failure")
        rows = [
            (s.suite, str(s.expectations), str(s.failed), _cut(s.first_failure) or "-")
            for s in self.suites
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
        lines = []
        for r in [header, *rows]:
            lines.append(
                f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip()
            )
        for o in self.outcomes:
            if o.status == "info":
                lines.append(_cut(f"info: {o.suite} {o.line()}", _TABLE_CELL_CHARS + 40))
        skipped = sorted({o.frame for o in self.outcomes if o.status == "skipped"})
        if skipped:
            lines.append(f"skipped (nothing loaded): {', '.join(skipped)}")
        verdict = "all checks passed" if self.ok else f"{len(self.failures)} check(s) failed"
        where = f"; details in {self.json_path}" if self.json_path else ""
        lines.append(f"{verdict} in {self.seconds:.1f} s{where}")
        return "\n".join(lines)

    def message(self) -> str:
        """The one line for the user when a check failed."""
        first = self.first_failure
        if first is None:
            return "all data checks passed"
        more = len(self.failures) - 1
        extra = f" (and {more} more failing check{'s' if more != 1 else ''})" if more else ""
        where = f"; details in {self.json_path}" if self.json_path else ""
        return f"data check failed: {first.suite} / {first.line()}{extra}{where}"

    def raise_for_failures(self) -> None:
        """Raises ``DataCheckFailed`` (exit 5) naming the first failing expectation."""
        if not self.ok:
            raise DataCheckFailed(self.message())

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": str(self.db_path),
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "suites": [asdict(s) for s in self.suites],
            "outcomes": [asdict(o) for o in self.outcomes],
            "frames": self.frames,
        }


def _cut(text: str, limit: int = 0) -> str:
    limit = limit or _TABLE_CELL_CHARS
    return text if len(text) <= limit else text[: limit - 3] + "..."


def results_path(db_path: Path) -> Path:
    """Where the full results go: ``<db>.checks.json`` beside the database."""
    return db_path.with_name(db_path.name + ".checks.json")


# ----------------------------------------------------------------------------- suites


def load_suites(path: Path = SUITES_FILE) -> dict[str, list[Frame]]:
    """Loads ``SUITES`` from the suites file (``transforms/`` is not a Python package)."""
    spec = importlib.util.spec_from_file_location("okx_journal_check_suites", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load the data-check suites from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    suites: dict[str, list[Frame]] = module.SUITES
    return suites


# ----------------------------------------------------------------------------- running


def frame_id(suite: str, frame: Frame) -> str:
    """``suite/frame name``: how a frame's last results are found again."""
    return f"{suite}/{frame.name}"


_TABLE_REF = re.compile(r"\b(okx_raw|journal_staging|journal_int|journal)\.\"?([a-z0-9_]+)\b")


def frame_inputs(frame: Frame, existing: set[str]) -> tuple[str, ...]:
    """The tables a frame reads: its query's ``requires`` and every table its SQL names."""
    query = next((q for q in frame.queries if all(t in existing for t in q.requires)), None)
    if query is None:
        return tuple(sorted({t for q in frame.queries for t in q.requires}))
    named = {f"{s}.{n}" for s, n in _TABLE_REF.findall(query.sql)}
    return tuple(sorted(set(query.requires) | named))


def _definition(frame: Frame) -> str:
    return hashlib.sha256(repr(frame).encode()).hexdigest()[:16]


def warm_up() -> None:
    """Imports great-expectations and creates its context (4-7 s), e.g. in a thread
    while a sync waits on OKX's rate limits, so that the checks start at once."""
    _GxRunner()


def run_checks(
    db_path: Path | Any,
    *,
    suites: Iterable[str] | None = None,
    write_json: bool = True,
    inputs: Mapping[str, str] | None = None,
    previous: Mapping[str, tuple[Mapping[str, str], Sequence[Mapping[str, Any]], Mapping[str, Any]]]
    | None = None,
) -> CheckReport:
    """Runs the data-quality suites (all, or the named ones) on the database.

    ``db_path`` is a DuckDB file or an ``okx_journal.destination.Destination`` (a
    PostgreSQL database: the same suites, translated; results beside its local folder).

    Missing tables give a failing or skipped result (see the suites file), never an
    exception; so does a query that fails. Raises ``ConfigError`` for an unknown suite.
    The full results are written to ``<db>.checks.json`` unless ``write_json`` is false.

    With ``inputs`` (``schema.table → fingerprint`` of what the frames read, see
    ``okx_journal.freshness``), every frame's inputs and results are returned in
    ``computed_from``; a frame whose inputs equal its entry in ``previous`` keeps the
    results recorded there instead of being validated again. great-expectations is
    imported only when a frame is validated.
    """
    started = time.monotonic()
    target = db_path
    db_path = Path(getattr(target, "db_path", target))
    definitions = load_suites()
    names = list(definitions) if suites is None else list(suites)
    unknown = [n for n in names if n not in definitions]
    if unknown:
        raise ConfigError(
            f"unknown data-check suite {', '.join(unknown)}: choose from {', '.join(definitions)}"
        )
    now = dt.datetime.now(dt.UTC)
    outcomes: list[Outcome] = []
    frames_json: list[dict[str, Any]] = []
    computed: dict[str, tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]] = {}
    ran: list[str] = []

    con, why_not = _connect(target)
    if con is None:
        for name in names:
            outcomes.append(_missing(name, "database", why_not))
    else:
        try:
            existing = _existing_tables(con)
            nothing_synced = not any(t.startswith("okx_raw.") for t in existing)
            runners: list[_GxRunner] = []

            def runner() -> _GxRunner:
                if not runners:
                    runners.append(_GxRunner())
                return runners[0]

            for name in names:
                for frame in definitions[name]:
                    fid = frame_id(name, frame)
                    used: dict[str, str] | None = None
                    if inputs is not None:
                        used = {t: inputs.get(t, "absent") for t in frame_inputs(frame, existing)}
                        used["definition"] = _definition(frame)
                    last = (previous or {}).get(fid)
                    if used is not None and last is not None and dict(last[0]) == used:
                        frame_outcomes = [Outcome(**o) for o in last[1]]
                        detail = {**dict(last[2]), "kept": True}
                    else:
                        frame_outcomes, detail = _run_frame(
                            runner, con, name, frame, existing, nothing_synced, now
                        )
                        ran.append(fid)
                    outcomes.extend(frame_outcomes)
                    frames_json.append(detail)
                    if used is not None:
                        computed[fid] = (
                            used,
                            [asdict(o) for o in frame_outcomes],
                            {k: v for k, v in detail.items() if k != "kept"},
                        )
        finally:
            con.close()

    report = CheckReport(
        db_path=db_path,
        suites=[_summarise(name, [o for o in outcomes if o.suite == name]) for name in names],
        outcomes=outcomes,
        seconds=time.monotonic() - started,
        frames=frames_json,
        computed_from=computed,
        ran=ran,
    )
    if write_json:
        write_results(report, now)
    return report


def write_results(report: CheckReport, now: dt.datetime | None = None) -> None:
    """Writes the full results to ``<db>.checks.json`` (and sets ``json_path``)."""
    report.json_path = results_path(report.db_path)
    payload = report.to_dict()
    payload["checked_at"] = (now or dt.datetime.now(dt.UTC)).isoformat()
    payload["json_path"] = str(report.json_path)
    report.json_path.write_text(json.dumps(payload, indent=2, default=_json_default))


def combine(reports: Sequence[CheckReport]) -> CheckReport:
    """One report of several runs over the same database (suites in the given order);
    its ``seconds`` is the longest run's (they may have run side by side)."""
    if not reports:
        raise ValueError("no report to combine")
    out = CheckReport(db_path=reports[0].db_path, suites=[], outcomes=[],
                      seconds=max(r.seconds for r in reports))
    for report in reports:
        out.suites.extend(report.suites)
        out.outcomes.extend(report.outcomes)
        out.frames.extend(report.frames)
        out.computed_from.update(report.computed_from)
        out.ran.extend(report.ran)
    return out


def run_checks_after_sync(
    db_path: Path | Any,
    mode: str,
    *,
    log: Callable[[str], None] | None = None,
    inputs: Mapping[str, str] | None = None,
    previous: Mapping[str, tuple[Mapping[str, str], Sequence[Mapping[str, Any]], Mapping[str, Any]]]
    | None = None,
    on_report: Callable[[CheckReport], None] | None = None,
    report: CheckReport | None = None,
) -> CheckReport | None:
    """The checks a sync runs at its end, by mode (``okx_journal.checks``).

    ``off``: nothing (great-expectations is not even imported), returns None. ``warn``:
    runs them and logs the table and a warning when one fails; returns the report.
    ``fail``: the same, then raises ``DataCheckFailed`` (exit 5) when one fails.
    ``inputs`` and ``previous``: as for ``run_checks`` (frames whose inputs did not
    change keep their last results). ``on_report`` receives the report before a
    failure is raised. ``report``: the checks already run (by the caller, in parts),
    reported and raised for here.
    """
    mode = mode.strip().lower()
    if mode not in CHECK_MODES:
        raise ConfigError(f"okx_journal.checks must be one of {', '.join(CHECK_MODES)}, not {mode!r}")
    if mode == "off":
        return None
    if report is None:
        report = run_checks(db_path, inputs=inputs, previous=previous)
    if on_report is not None:
        on_report(report)
    if report.ok:
        if log is not None:
            count = sum(s.expectations for s in report.suites)
            kept = len(report.frames) - len(report.ran)
            log(
                f"data checks: {count} passed in {report.seconds:.1f} s"
                + (f" ({kept} of {len(report.frames)} frames unchanged, their results kept)"
                   if kept else "")
            )
        return report
    if log is not None:
        log(report.to_table())
    if mode == "fail":
        report.raise_for_failures()
    if log is not None:
        log(f"warning: {report.message()} (okx_journal.checks = warn: the sync still succeeds)")
    return report


# ----------------------------------------------------------------------------- internals


def _connect(target: Path | Any) -> tuple[Any, str]:
    """A read-only connection, or None and why not (never creates the file)."""
    import duckdb

    if getattr(target, "is_postgres", False):
        from okx_journal.postgres import PgConnection

        pg_target: Any = target
        return PgConnection(pg_target.dsn), ""
    db_path = Path(getattr(target, "db_path", target))

    if not db_path.exists():
        return None, f"{db_path} does not exist: run `okx-journal sync` first"
    try:
        return duckdb.connect(str(db_path), read_only=True), ""
    except duckdb.ConnectionException as exc:
        # This process already holds the file open read-write (a sync that just ran).
        if "different configuration" not in str(exc):
            raise
        return duckdb.connect(str(db_path)), ""
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        return None, (
            f"{db_path} is in use by another process (a sync still running?): "
            "run the checks again when it has finished"
        )


def _existing_tables(con: Any) -> set[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _missing(suite: str, frame: str, why: str, status: str = "failed") -> Outcome:
    return Outcome(
        suite=suite,
        frame=frame,
        expectation="table exists",
        meaning="data present",
        severity="critical",
        status=status,
        example=why,
    )


def _run_frame(
    runner: Callable[[], _GxRunner],
    con: Any,
    suite: str,
    frame: Frame,
    existing: set[str],
    nothing_synced: bool,
    now: dt.datetime,
) -> tuple[list[Outcome], dict[str, Any]]:
    detail: dict[str, Any] = {"suite": suite, "frame": frame.name}
    query = next((q for q in frame.queries if all(t in existing for t in q.requires)), None)
    if query is None:
        wanted = sorted({t for q in frame.queries for t in q.requires if t not in existing})
        if nothing_synced:
            outcome = _missing(suite, frame.name, "nothing synced yet: run `okx-journal sync` first")
        elif any(t not in existing for t in frame.skip_without):
            outcome = _missing(
                suite, frame.name, f"{', '.join(wanted)} not loaded (nothing of this kind)", "skipped"
            )
        else:
            outcome = _missing(
                suite,
                frame.name,
                f"{' / '.join(wanted)} does not exist (run `okx-journal sync`, which builds it)",
            )
        detail.update(status=outcome.status, reason=outcome.example)
        return [outcome], detail

    detail["sql"] = " ".join(query.sql.split())
    import duckdb

    errors: tuple[type[BaseException], ...] = (duckdb.Error,)
    if hasattr(con, "copy_arrow"):
        from okx_journal.postgres import pg_errors

        errors = pg_errors()
    try:
        df = con.sql(query.sql).to_arrow_table().to_pandas()
    except errors as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        outcome = Outcome(
            suite, frame.name, "query runs", "the frame's SQL runs", "critical", "error",
            example=f"query failed: {first}",
        )
        detail.update(status="error", reason=outcome.example)
        return [outcome], detail

    detail["rows"] = len(df)
    example_cols = list(df.columns) if "*" in frame.example else [
        c for c in frame.example if c in df.columns
    ]
    results = runner().validate(suite, frame, df, example_cols, now)
    outcomes: list[Outcome] = []
    gx_results: list[dict[str, Any]] = []
    for expect, result in zip(frame.expectations, results, strict=True):
        outcomes.append(_outcome(suite, frame, expect, result))
        gx_results.append(result.to_json_dict())
    detail.update(status="ran", gx_results=gx_results)
    return outcomes, detail


def _outcome(suite: str, frame: Frame, expect: Expect, result: Any) -> Outcome:
    res: dict[str, Any] = dict(result.result or {})
    error = _exception_message(result.exception_info)
    base = Outcome(
        suite=suite,
        frame=frame.name,
        expectation=expect.type,
        meaning=expect.meaning,
        severity=expect.severity,
        status="passed",
        unexpected_count=int(res.get("unexpected_count") or 0),
        element_count=int(res.get("element_count") or 0),
    )
    if error is not None:
        base.status = "error"
        base.example = f"could not evaluate: {error}"
    elif not result.success:
        base.status = "failed" if expect.severity == "critical" else "info"
        base.example = _example(res)
    return base


def _exception_message(info: Any) -> str | None:
    if not isinstance(info, dict) or not info:
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception", True) and (entry.get("exception_message") or entry.get("exception_traceback")):
            text = str(entry.get("exception_message") or "")
            if not text:
                text = (str(entry.get("exception_traceback")).strip().splitlines() or [""])[-1]
            return (text.splitlines() or [""])[0][:200]
    return None


def _example(res: Mapping[str, Any]) -> str:
    count = int(res.get("unexpected_count") or 0)
    total = int(res.get("element_count") or 0)
    rows = res.get("partial_unexpected_index_list") or []
    text = ""
    if rows and isinstance(rows[0], Mapping):
        text = ", ".join(f"{k}={_show(v)}" for k, v in rows[0].items())
    elif res.get("partial_unexpected_list"):
        text = _show(res["partial_unexpected_list"][0])
    elif "observed_value" in res:
        text = f"observed {_show(res['observed_value'])}"
    if len(text) > _EXAMPLE_MAX_CHARS:
        text = text[: _EXAMPLE_MAX_CHARS - 3] + "..."
    if count:
        text = f"{text} ({count} of {total} rows)" if text else f"{count} of {total} rows"
    return text


def _show(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    if isinstance(value, float):
        return "NULL" if math.isnan(value) else f"{value:.12g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(value)


def _summarise(suite: str, outcomes: Sequence[Outcome]) -> SuiteResult:
    failed = [o for o in outcomes if o.failed]
    return SuiteResult(
        suite=suite,
        expectations=sum(1 for o in outcomes if o.status != "skipped"),
        failed=len(failed),
        info=sum(1 for o in outcomes if o.status == "info"),
        skipped=sum(1 for o in outcomes if o.status == "skipped"),
        first_failure=failed[0].line() if failed else "",
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keeps great-expectations' prints, warnings and log records off stdout."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


class _GxRunner:
    """One ephemeral great-expectations context per process, shared by every run."""

    _state: dict[str, Any] = {}
    _lock = threading.Lock()

    def __init__(self) -> None:
        state = _GxRunner._state
        with _GxRunner._lock:
            if not state:
                self._create(state)
        self.gx: Any = state["gx"]
        self.datasource: Any = state["datasource"]

    @staticmethod
    def _create(state: dict[str, Any]) -> None:
        with _quiet():
            logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            state["gx"] = gx
            state["datasource"] = context.data_sources.add_pandas("okx_journal_checks")

    def _batch_definition(self, name: str) -> Any:
        try:
            asset = self.datasource.get_asset(name)
        except LookupError:
            asset = self.datasource.add_dataframe_asset(name)
            return asset.add_batch_definition_whole_dataframe("whole")
        return asset.get_batch_definition("whole")

    def validate(
        self, suite: str, frame: Frame, df: Any, example_cols: list[str], now: dt.datetime
    ) -> list[Any]:
        """Validates ``df`` against the frame's expectations; results in the same order."""
        gx = self.gx
        asset_name = re.sub(r"[^a-z0-9_]+", "_", f"{suite}_{frame.name}".lower()).strip("_")
        expectations = []
        with _quiet():
            from great_expectations.expectations.row_conditions import Column

            for i, expect in enumerate(frame.expectations):
                kwargs = {
                    k: (v.resolve(now) if isinstance(v, Now) else v)
                    for k, v in expect.kwargs.items()
                }
                if expect.where is not None:
                    kwargs["row_condition"] = Column(expect.where[0]) == expect.where[1]
                cls = getattr(gx.expectations, expect.type)
                expectations.append(
                    cls(**kwargs, severity=expect.severity, meta={"okx_journal_check": i})
                )
            gx_suite = gx.ExpectationSuite(name=asset_name, expectations=expectations)
        result_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": _EXAMPLE_ROWS,
        }
        if example_cols:
            result_format["unexpected_index_column_names"] = example_cols
        with _quiet():
            batch = self._batch_definition(asset_name).get_batch(
                batch_parameters={"dataframe": df}
            )
            validation = batch.validate(gx_suite, result_format=result_format)
        by_index = {
            r.expectation_config.meta.get("okx_journal_check"): r for r in validation.results
        }
        return [by_index[i] for i in range(len(frame.expectations))]

