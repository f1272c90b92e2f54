"""The overview's SQL on both databases: local days from UTC hours, tier mix, top runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from billing import accounts
from billing.db import db_session
from billing.ledger import insert_usage
from tests.support.gateway import GatewayUnderTest
from tests.web.support import ledger_row
from web import overview_query as q


def test_daily_spend_falls_into_the_viewers_local_days(admin_gateway: GatewayUnderTest) -> None:
    with db_session(admin_gateway.db) as session:
        tenant = accounts.create_tenant(session, f"tokyo-{uuid.uuid4().hex[:6]}", timezone="Asia/Tokyo")
    window = q.Window(tz="Asia/Tokyo", now=datetime.now(UTC))
    midnight = window.today_start  # Tokyo's midnight, 15:00 UTC the day before
    insert_usage(admin_gateway.db, [
        ledger_row(tenant.id, cost_nanos=2_000_000_000, created_at=(midnight - timedelta(minutes=30)).astimezone(UTC)),
        ledger_row(tenant.id, cost_nanos=500_000_000, model_served="gpt-4o", created_at=(midnight + timedelta(minutes=30)).astimezone(UTC)),
        ledger_row(tenant.id, cost_nanos=9_000_000_000, created_at=(midnight - timedelta(days=40)).astimezone(UTC)),  # outside the chart
    ])
    chart = q.daily_spend_by_model(admin_gateway.db, tenant.id, window, 7)
    assert chart["labels"][-1] == midnight.date().isoformat() and len(chart["labels"]) == 7
    series = {s["label"]: s["data"] for s in chart["series"]}
    assert series == {"gpt-4o-mini": [0, 0, 0, 0, 0, 2.0, 0], "gpt-4o": [0, 0, 0, 0, 0, 0, 0.5]}
    assert list(series) == ["gpt-4o-mini", "gpt-4o"]  # biggest spender first


def test_tier_mix_top_runs_and_cache_rates(admin_gateway: GatewayUnderTest) -> None:
    with db_session(admin_gateway.db) as session:
        tenant = accounts.create_tenant(session, f"mix-{uuid.uuid4().hex[:6]}")
    rows = (
        [ledger_row(tenant.id, tier="local", cost_nanos=10, run_id="cheap-run") for _ in range(3)]
        + [ledger_row(tenant.id, tier="strong", cost_nanos=5_000, run_id="dear-run", cached_tokens=50) for _ in range(2)]
        + [ledger_row(tenant.id, tier="cheap", cache="hit-semantic", cost_nanos=0)]
        + [ledger_row(tenant.id, tier="", status_code=429, cost_nanos=0, prompt_tokens=0, completion_tokens=0)]
    )
    insert_usage(admin_gateway.db, rows)
    since = datetime.now(UTC) - timedelta(hours=1)
    mix = {t["tier"]: (t["calls"], t["cost_nanos"]) for t in q.tier_mix(admin_gateway.db, tenant.id, since)}
    assert mix == {"local": (3, 30), "strong": (2, 10_000), "cheap": (1, 0)}
    runs = q.top_runs(admin_gateway.db, tenant.id, since)
    assert [(r["run_id"], r["calls"], r["cost_nanos"]) for r in runs] == [("dear-run", 2, 10_000), ("cheap-run", 3, 30)]
    cache = q.cache_rates(admin_gateway.db, tenant.id, since)
    assert (cache.calls, cache.hits_semantic, cache.hits_exact, cache.cached_tokens) == (7, 1, 0, 100)
    totals = q.totals(admin_gateway.db, tenant.id, since)
    assert (totals.calls, totals.cost_nanos, totals.errors) == (7, 10_030, 1)
