"""Filters the pages use for text a client or a tenant admin chose: run ids in links, far-off dates."""

from __future__ import annotations

from datetime import UTC, datetime

from web.formatting import local_time, run_href


def test_a_run_link_stays_one_path_segment_whatever_the_run_id() -> None:
    assert run_href("run-1") == "/runs/run-1"
    assert run_href("../keys") == "/runs/..%2Fkeys"  # a browser would have resolved /admin/runs/../keys to /admin/keys
    assert run_href("x/../../../v1/models", "ten_1") == "/runs/x%2F..%2F..%2F..%2Fv1%2Fmodels?tenant=ten_1"
    assert run_href("..") == "/runs?run=.." and run_href(".", "ten_1") == "/runs?run=.&tenant=ten_1"
    assert run_href("a&b=c?#") == "/runs/a%26b%3Dc%3F%23"


def test_a_date_at_the_calendars_edge_is_shown_not_a_500() -> None:
    edge = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    assert local_time(edge, "Asia/Tokyo") == "9999-12-31 23:00:00"  # past year 9999 in Tokyo: shown in UTC
    assert local_time(datetime(2026, 1, 1, tzinfo=UTC), "Asia/Tokyo") == "2026-01-01 09:00:00"
