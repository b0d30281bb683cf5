"""Unit tests of the newest-first cursor walk, with fake fetchers (no HTTP)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from sources.okx.pagination import (
    Checkpoint,
    PaginationError,
    WalkReport,
    parallel_pages,
    walk_back,
)


class FakeEndpoint:
    """Serves records newest first with OKX's ``after`` semantics (strictly older)."""

    def __init__(self, rows: list[dict[str, Any]], cursor: str = "billId", group_ties: bool = False):
        self.rows = sorted(rows, key=lambda r: int(r[cursor]), reverse=True)
        self.cursor = cursor
        self.group_ties = group_ties
        self.calls: list[dict[str, str]] = []

    def __call__(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        self.calls.append(dict(params))
        limit = int(params.get("limit", "100"))
        after = params.get("after")
        rows = self.rows
        if after is not None:
            rows = [r for r in rows if int(r[self.cursor]) < int(after)]
        page = rows[:limit]
        if self.group_ties and page:
            # OKX positions-history: all rows sharing the boundary uTime come together
            last = page[-1][self.cursor]
            page = page + [r for r in rows[limit:] if r[self.cursor] == last]
        return page


def fills(n: int, start: int = 1000, ts: int | None = None) -> list[dict[str, Any]]:
    return [
        {"billId": str(start + i), "ts": str(ts if ts is not None else 1_700_000_000_000 + i)}
        for i in range(n)
    ]


def ids(pages: Iterator[list[dict[str, Any]]] | list[list[dict[str, Any]]]) -> list[int]:
    return [int(r["billId"]) for p in pages for r in p]


def test_first_walk_takes_everything_newest_first() -> None:
    ep = FakeEndpoint(fills(250))
    rep = WalkReport()
    got = ids(walk_back(ep, report=rep))
    assert got == sorted(got, reverse=True)
    assert sorted(got) == list(range(1000, 1250))
    assert rep.exhausted and not rep.reached_checkpoint
    assert rep.pages == 4  # 100 + 100 + 50 + the empty page that proves the end
    assert [c.get("after") for c in ep.calls] == [None, "1150", "1050", "1000"]
    assert all(c["limit"] == "100" for c in ep.calls)
    assert rep.newest == (1249, 1_700_000_000_249)
    assert rep.oldest == (1000, 1_700_000_000_000)


def test_walk_stops_at_checkpoint_with_overlap() -> None:
    ep = FakeEndpoint(fills(1000))
    rep = WalkReport()
    got = ids(walk_back(ep, checkpoint=Checkpoint(1800, 1_700_000_000_800), report=rep))
    assert rep.reached_checkpoint and not rep.exhausted
    assert set(range(1801, 2000)) <= set(got)
    assert 1800 in got  # the checkpoint row itself is re-read (merge deduplicates)
    assert rep.pages == 2
    # with an overlap of 150 ms the walk goes one page further
    ep2 = FakeEndpoint(fills(1000))
    got2 = ids(walk_back(ep2, checkpoint=Checkpoint(1800, 1_700_000_000_800), overlap_ms=150))
    assert min(got2) <= 1650


def test_nothing_new_costs_one_request() -> None:
    ep = FakeEndpoint(fills(500))
    rep = WalkReport()
    list(walk_back(ep, checkpoint=Checkpoint(1499, 1_700_000_000_499), report=rep))
    assert rep.pages == 1 and rep.reached_checkpoint


def test_fills_across_page_boundary_with_equal_timestamps() -> None:
    same = fills(250, start=5000, ts=1_700_000_000_000)
    ep = FakeEndpoint(fills(80, start=1000) + same + fills(30, start=9000))
    got = ids(walk_back(ep))
    assert len(got) == len(set(got)) == 360
    assert set(range(5000, 5250)) <= set(got)


def test_start_after_and_params_are_sent() -> None:
    ep = FakeEndpoint(fills(300))
    got = ids(walk_back(ep, params={"instType": "SWAP", "end": "123"}, start_after=1200))
    assert max(got) == 1199 and min(got) == 1000
    assert ep.calls[0] == {"instType": "SWAP", "end": "123", "after": "1200", "limit": "100"}


def test_time_cursor_rows_sharing_the_boundary_time_are_not_lost() -> None:
    # positions-history pages on uTime; 150 rows share one uTime across the page boundary
    rows = [{"posId": str(i), "uTime": str(10_000 + i)} for i in range(60)]
    rows += [{"posId": str(100 + i), "uTime": "5000"} for i in range(150)]
    rows += [{"posId": str(400 + i), "uTime": str(1000 + i)} for i in range(30)]
    for group in (False, True):
        ep = FakeEndpoint(rows, cursor="uTime", group_ties=group)
        pages = list(walk_back(ep, cursor_field="uTime", time_field=None, unique_cursor=False))
        seen = {r["posId"] for p in pages for r in p}
        if group:
            assert seen == {r["posId"] for r in rows}
        else:
            # without OKX's grouping rule rows of a time shared by more than a page can
            # only be read up to the page size; the walk still terminates
            assert {r["posId"] for r in rows if r["uTime"] != "5000"} <= seen


def test_time_cursor_small_ties_across_boundary_are_reread() -> None:
    rows = [{"posId": str(i), "uTime": str(10_000 - i // 3)} for i in range(400)]
    ep = FakeEndpoint(rows, cursor="uTime")
    pages = list(walk_back(ep, cursor_field="uTime", time_field=None, unique_cursor=False))
    assert {r["posId"] for p in pages for r in p} == {r["posId"] for r in rows}


def test_time_cursor_checkpoint_overlap() -> None:
    rows = [{"posId": str(i), "uTime": str(1000 + i * 10)} for i in range(1000)]
    ep = FakeEndpoint(rows, cursor="uTime")
    rep = WalkReport()
    pages = list(
        walk_back(
            ep,
            cursor_field="uTime",
            time_field=None,
            unique_cursor=False,
            checkpoint=Checkpoint(1000 + 900 * 10),
            overlap_ms=500,
            report=rep,
        )
    )
    got = {int(r["uTime"]) for p in pages for r in p}
    assert rep.reached_checkpoint
    assert min(got) <= 1000 + 900 * 10 - 500


def test_cursor_that_does_not_move_raises() -> None:
    def stuck(params: Mapping[str, str]) -> list[dict[str, Any]]:
        return [{"billId": "100", "ts": "1"}]

    with pytest.raises(PaginationError):
        list(walk_back(stuck))


def test_parallel_walks_yield_every_page_once() -> None:
    a = FakeEndpoint(fills(1000, start=10_000))
    b = FakeEndpoint(fills(700, start=50_000))
    pages = list(
        parallel_pages(
            [lambda s: walk_back(a, stop=s), lambda s: walk_back(b, stop=s)],
            max_queued_pages=2,
        )
    )
    got = ids(pages)
    assert len(got) == 1700 == len(set(got))


def test_parallel_walk_error_is_raised_and_others_stop() -> None:
    slow_calls = 0
    release = threading.Event()

    def failing(params: Mapping[str, str]) -> list[dict[str, Any]]:
        raise RuntimeError("key revoked")

    def slow(params: Mapping[str, str]) -> list[dict[str, Any]]:
        nonlocal slow_calls
        slow_calls += 1
        release.wait(0.01)
        return [{"billId": str(10_000_000 - slow_calls), "ts": "1"}]

    with pytest.raises(RuntimeError, match="key revoked"):
        list(parallel_pages([lambda s: walk_back(failing, stop=s), lambda s: walk_back(slow, stop=s)]))
    n = slow_calls
    release.wait(0.2)
    assert slow_calls <= n + 1
